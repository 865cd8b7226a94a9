//! # grant-migrate
//!
//! Per-database migrations for [Grant](https://docs.rs/grant), and the `grant-migrate`
//! command-line tool.
//!
//! Every database entry of `grant.toml` with a `migrations` folder is migrated on its own;
//! a sharded database is migrated on its own URL and on every shard, the shards in
//! parallel. Read-only databases (`readonly = true`) and `replica_of` entries are skipped
//! with a note (their writer is migrated instead).
//!
//! ## Files
//!
//! A migrations folder holds `<version>_<name>.sql` files and, optionally, a
//! `<version>_<name>.down.sql` beside each to revert it:
//!
//! ```text
//! migrations/primary/
//!   20261124090000_create_users.sql
//!   20261124090000_create_users.down.sql
//!   20261125120000_add_email_index.sql
//! ```
//!
//! The version is the digits before the first `_` (`0001` and `1` are both version 1, so
//! they clash); the name is letters, digits, `_` and `-`. Migrations run in version order.
//! A badly named `.sql` file, two files with one version, or a down file without its up
//! file is a typed [`MigrateError`] naming the file; other files are ignored.
//!
//! A file is split into statements at a `;` that ends a line (see [`split_statements`]
//! for the rules and the `-- grant:break` escape hatch), because Grant runs prepared
//! statements, which hold one statement each.
//!
//! ## Bookkeeping
//!
//! Each target records its applied migrations in a table `grant_migrations`
//! ([`MIGRATIONS_TABLE`]), created when missing:
//!
//! | column       | PostgreSQL    | MariaDB/MySQL  | SQLite  |
//! |--------------|---------------|----------------|---------|
//! | `version`    | `BIGINT` (key)| `BIGINT` (key) | `BIGINT` (key) |
//! | `name`       | `TEXT`        | `VARCHAR(255)` | `TEXT`  |
//! | `checksum`   | `VARCHAR(64)` | `VARCHAR(64)`  | `TEXT`  |
//! | `applied_at` | `TIMESTAMP` (UTC) | `TIMESTAMP` | `TEXT` (UTC) |
//!
//! The checksum is FNV-1a 64 of the file's bytes ([`checksum`]). Editing a file after it
//! was applied makes later runs fail with [`MigrateError::ChecksumMismatch`], naming the
//! database, shard and file; [`Migrator::status_all`] shows it as `CHANGED`.
//!
//! ## Transactions
//!
//! * **PostgreSQL and SQLite** have transactional DDL: each migration (its statements and
//!   its `grant_migrations` row) commits as a whole or not at all.
//! * **MariaDB/MySQL** commit DDL implicitly. A migration still runs on one connection
//!   (inside a transaction, which only keeps DML between DDL statements together), statement
//!   by statement; if statement 3 fails, statements 1-2 stay applied, the migration is not
//!   recorded, and the error says so (`partial`). Keep MariaDB migrations to one DDL
//!   statement each where you can.
//! * A file with a line `-- grant:no-transaction` runs without a transaction on every engine
//!   (for statements such as PostgreSQL's `CREATE INDEX CONCURRENTLY`).
//!
//! ## Order of work and failures
//!
//! [`Migrator::migrate_all`] first reads every folder (a bad file stops everything), then
//! checks every target (reachable, no checksum mismatch) before applying anything
//! anywhere; if a check fails, nothing is changed. It then migrates the databases one after
//! the other, the targets of each in parallel. A target that fails stops at its failing
//! migration; the other targets and databases go on, and the error
//! ([`MigrateError::Failed`]) carries every failure and the [`Report`] of what was done.
//! Two migrators running at once on one target are not coordinated (no lock): on
//! PostgreSQL and SQLite the loser's transaction fails and rolls back; on MariaDB, run one
//! at a time.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use grant_core::Grant;
//! use grant_migrate::Migrator;
//!
//! let grant = Grant::from_file("grant.toml")?;
//! let migrator = Migrator::new(&grant);
//! let report = migrator.migrate_all().await?;
//! for target in &report.targets {
//!     for step in &target.applied {
//!         println!("{} {:?}: applied {} in {:?}", target.database, target.shard, step.name, step.elapsed);
//!     }
//! }
//! for status in migrator.status_all().await? {
//!     println!("{} {:?}: {} pending", status.database, status.shard, status.pending().len());
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
// `MigrateError` is 128 bytes (its largest variant names database, shard, version, file and
// two checksums; driver errors are boxed). It is returned once per operation, off any hot
// path, and boxing whole variants would make matching on them clumsy for callers.
#![allow(clippy::result_large_err)]

mod error;
mod report;
mod source;
mod target;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use grant_core::{DatabaseEntry, Grant};

pub use error::{MigrateError, Result};
pub use report::{
    MigrationState, MigrationStatus, Report, SkipReason, Skipped, Step, TargetReport, TargetStatus,
};
pub use source::{
    checksum, load_migrations, split_statements, DownMigration, Migration, Statement, BREAK_MARKER,
    MAX_NAME_LEN, NO_TRANSACTION_MARKER,
};

use target::Target;

/// The table, on every target, that records applied migrations.
pub const MIGRATIONS_TABLE: &str = "grant_migrations";

/// Applies, reverts and reports migrations of the databases of a [`Grant`] handle.
///
/// Cheap to create; it holds a clone of the handle (and so shares its pools).
///
/// ```no_run
/// # async fn demo(grant: &grant_core::Grant) -> grant_migrate::Result<()> {
/// use grant_migrate::Migrator;
///
/// let migrator = Migrator::new(grant);
/// let report = migrator.migrate("primary").await?;
/// println!("applied {} migration(s)", report.applied_count());
/// let report = migrator.revert_last("primary").await?;
/// println!("reverted {} migration(s)", report.reverted_count());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Migrator {
    grant: Grant,
}

/// One database's work: its migrations and its targets.
struct DbPlan {
    migrations: Arc<Vec<Migration>>,
    targets: Vec<Target>,
    skipped: Vec<Skipped>,
}

enum Plan {
    Skip(Skipped),
    Run(DbPlan),
}

impl Migrator {
    /// A migrator for every database of `grant`.
    pub fn new(grant: &Grant) -> Migrator {
        Migrator {
            grant: grant.clone(),
        }
    }

    /// The migrations of `database`, read and validated from its folder, in version order.
    pub fn migrations(&self, database: &str) -> Result<Vec<Migration>> {
        let entry = self.entry(database)?;
        let dir =
            entry
                .config()
                .migrations
                .as_ref()
                .ok_or_else(|| MigrateError::NoMigrationsFolder {
                    database: database.to_string(),
                })?;
        load_migrations(database, dir)
    }

    /// What [`Migrator::migrate_all`] leaves alone, and why: read-only databases,
    /// `replica_of` entries, databases without a `migrations` folder, and targets that
    /// share a URL with another target of their database.
    pub fn skipped(&self) -> Vec<Skipped> {
        let mut out = Vec::new();
        for name in self.grant.handler().database_names() {
            let Ok(entry) = self.grant.handler().database(&name) else {
                continue;
            };
            match skip_reason(&entry) {
                Some(reason) => out.push(Skipped {
                    database: name.to_string(),
                    shard: None,
                    reason,
                }),
                None => out.extend(targets_of(&entry).1),
            }
        }
        out
    }

    /// Apply every pending migration of every database that has a `migrations` folder, on
    /// every target. See the [crate docs](crate) for the order of work and what happens on
    /// failure.
    pub async fn migrate_all(&self) -> Result<Report> {
        let mut plans = Vec::new();
        for name in self.grant.handler().database_names() {
            plans.push(self.plan(&name, false)?);
        }
        self.migrate_plans(plans).await
    }

    /// Apply every pending migration of `database` on each of its targets (its own URL and
    /// every shard, in parallel). A read-only or `replica_of` database is skipped (see
    /// [`Report::skipped`]); one without a `migrations` folder is an error.
    pub async fn migrate(&self, database: &str) -> Result<Report> {
        let plan = self.plan(database, true)?;
        self.migrate_plans(vec![plan]).await
    }

    /// Where every target of every database with a `migrations` folder stands: applied,
    /// pending, changed (checksum mismatch) and missing files. A target that cannot be
    /// read has [`TargetStatus::error`] set; folder problems fail the whole call.
    pub async fn status_all(&self) -> Result<Vec<TargetStatus>> {
        let mut plans = Vec::new();
        for name in self.grant.handler().database_names() {
            plans.push(self.plan(&name, false)?);
        }
        Ok(self.status_plans(plans).await)
    }

    /// Where every target of `database` stands (empty for a read-only database).
    pub async fn status(&self, database: &str) -> Result<Vec<TargetStatus>> {
        let plan = self.plan(database, true)?;
        Ok(self.status_plans(vec![plan]).await)
    }

    /// Revert the latest applied migration of `database`, on each of its targets (in
    /// parallel), with its `.down.sql` file; each target reverts its own latest one.
    ///
    /// Every target is checked first, and nothing is reverted anywhere if one of them
    /// fails a check: its latest migration has no down file
    /// ([`MigrateError::NoDownMigration`]), its file is gone or changed, or it is
    /// unreachable. A target with nothing applied is left alone.
    pub async fn revert_last(&self, database: &str) -> Result<Report> {
        let plan = match self.plan(database, true)? {
            Plan::Run(plan) => plan,
            Plan::Skip(_) => {
                return Err(MigrateError::ReadOnly {
                    database: database.to_string(),
                })
            }
        };
        let mut report = Report {
            targets: Vec::new(),
            skipped: plan.skipped.clone(),
        };
        let checks = parallel(&self.grant, &plan.targets, {
            let migrations = plan.migrations.clone();
            move |grant, t| {
                let migrations = migrations.clone();
                async move { choose_revert(grant, t, migrations).await }
            }
        })
        .await;
        let mut todo = Vec::new();
        let mut errors = Vec::new();
        for (t, result) in checks {
            match result {
                Ok(Some(m)) => todo.push((t, m)),
                Ok(None) => {
                    tracing::info!(database = %t.database, shard = t.shard.as_deref(), "grant-migrate: nothing to revert");
                    report.targets.push(t.empty_report());
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            report.targets.clear();
            return Err(MigrateError::Failed {
                errors,
                report: Box::new(report),
            });
        }
        let targets: Vec<Target> = todo.iter().map(|(t, _)| t.clone()).collect();
        let chosen: HashMap<Option<Arc<str>>, Migration> = todo
            .into_iter()
            .map(|(t, m)| (t.shard.clone(), m))
            .collect();
        let chosen = Arc::new(chosen);
        let done = parallel(&self.grant, &targets, move |grant, t| {
            let chosen = chosen.clone();
            async move {
                let m = chosen.get(&t.shard).cloned();
                match m {
                    Some(m) => Ok(target::revert(grant, t, m).await),
                    None => Ok((t.empty_report(), None)),
                }
            }
        })
        .await;
        collect(done, &mut report, &mut errors);
        sort_targets(&mut report.targets);
        finish(report, errors)
    }

    fn entry(&self, database: &str) -> Result<Arc<DatabaseEntry>> {
        self.grant
            .handler()
            .database(database)
            .map_err(|_| MigrateError::UnknownDatabase {
                database: database.to_string(),
            })
    }

    /// Decide what to do with `database`; `explicit`: the caller named it, so a missing
    /// migrations folder is an error rather than a skip.
    fn plan(&self, database: &str, explicit: bool) -> Result<Plan> {
        let entry = self.entry(database)?;
        if let Some(reason) = skip_reason(&entry) {
            if explicit && reason == SkipReason::NoMigrations {
                return Err(MigrateError::NoMigrationsFolder {
                    database: database.to_string(),
                });
            }
            let skipped = Skipped {
                database: database.to_string(),
                shard: None,
                reason,
            };
            if skipped.reason == SkipReason::NoMigrations {
                tracing::debug!("grant-migrate: skipping {skipped}");
            } else {
                tracing::info!("grant-migrate: skipping {skipped}");
            }
            return Ok(Plan::Skip(skipped));
        }
        let migrations = self.migrations(database)?;
        let (targets, skipped) = targets_of(&entry);
        for s in &skipped {
            tracing::info!("grant-migrate: skipping {s}");
        }
        Ok(Plan::Run(DbPlan {
            migrations: Arc::new(migrations),
            targets,
            skipped,
        }))
    }

    async fn migrate_plans(&self, plans: Vec<Plan>) -> Result<Report> {
        let mut report = Report::default();
        let mut runs = Vec::new();
        for plan in plans {
            match plan {
                Plan::Skip(s) => report.skipped.push(s),
                Plan::Run(run) => {
                    report.skipped.extend(run.skipped.iter().cloned());
                    runs.push(run);
                }
            }
        }

        // 1. Check every target before changing anything anywhere.
        let mut errors = Vec::new();
        for run in &runs {
            let migrations = run.migrations.clone();
            let checks = parallel(&self.grant, &run.targets, move |grant, t| {
                target::check(grant, t, migrations.clone())
            })
            .await;
            errors.extend(checks.into_iter().filter_map(|(_, r)| r.err()));
        }
        if !errors.is_empty() {
            return Err(MigrateError::Failed {
                errors,
                report: Box::new(report),
            });
        }

        // 2. Apply: database after database, the targets of each in parallel.
        for run in &runs {
            let migrations = run.migrations.clone();
            let done = parallel(&self.grant, &run.targets, move |grant, t| {
                let migrations = migrations.clone();
                async move { Ok(target::apply(grant, t, migrations).await) }
            })
            .await;
            collect(done, &mut report, &mut errors);
        }
        finish(report, errors)
    }

    async fn status_plans(&self, plans: Vec<Plan>) -> Vec<TargetStatus> {
        let mut out = Vec::new();
        for plan in plans {
            let Plan::Run(run) = plan else { continue };
            let migrations = run.migrations.clone();
            let read = parallel(&self.grant, &run.targets, |grant, t| async move {
                t.clone().scope(target::read_applied(&grant, &t)).await
            })
            .await;
            for (t, result) in read {
                let (migrations, error) = match result {
                    Ok(applied) => (target::statuses(&migrations, &applied), None),
                    Err(e) => (Vec::new(), Some(e)),
                };
                out.push(TargetStatus {
                    database: t.database.to_string(),
                    shard: t.shard_name(),
                    backend: t.backend,
                    migrations,
                    error,
                });
            }
        }
        out
    }
}

/// The latest applied migration of `t` if it can be reverted; `None` if nothing is applied.
async fn choose_revert(
    grant: Grant,
    t: Target,
    migrations: Arc<Vec<Migration>>,
) -> Result<Option<Migration>> {
    let applied = t.clone().scope(target::read_applied(&grant, &t)).await?;
    let Some(last) = applied.iter().max_by_key(|a| a.version) else {
        return Ok(None);
    };
    let Some(m) = migrations.iter().find(|m| m.version == last.version) else {
        return Err(MigrateError::MissingFile {
            database: t.database.to_string(),
            shard: t.shard_name(),
            version: last.version,
            name: last.name.clone(),
        });
    };
    if m.checksum != last.checksum {
        return Err(MigrateError::ChecksumMismatch {
            database: t.database.to_string(),
            shard: t.shard_name(),
            version: m.version,
            file: m.path.clone(),
            recorded: last.checksum.clone(),
            actual: m.checksum.clone(),
        });
    }
    if m.down.is_none() {
        return Err(MigrateError::NoDownMigration {
            database: t.database.to_string(),
            shard: t.shard_name(),
            version: m.version,
            file: m.path.clone(),
            expected: target::down_path(&m.path),
        });
    }
    Ok(Some(m.clone()))
}

/// Why a whole database is not migrated, if it is not.
fn skip_reason(entry: &DatabaseEntry) -> Option<SkipReason> {
    let config = entry.config();
    if let Some(of) = &config.replica_of {
        return Some(SkipReason::ReplicaOf(of.clone()));
    }
    if entry.readonly() {
        return Some(SkipReason::Readonly);
    }
    if config.migrations.is_none() {
        return Some(SkipReason::NoMigrations);
    }
    None
}

/// The targets of a database: its own URL, then its shards by name; a target whose URL
/// another one already has is skipped.
fn targets_of(entry: &DatabaseEntry) -> (Vec<Target>, Vec<Skipped>) {
    let config = entry.config();
    let database = entry.name().clone();
    let backend = entry.backend();
    let mut seen: HashMap<&str, Option<String>> = HashMap::new();
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    seen.insert(config.url.as_str(), None);
    targets.push(Target {
        database: database.clone(),
        shard: None,
        backend,
    });
    for shard in entry.shard_names() {
        let Some(shard_config) = config.shards.get(&*shard) else {
            continue;
        };
        if let Some(first) = seen.get(shard_config.url.as_str()) {
            skipped.push(Skipped {
                database: database.to_string(),
                shard: Some(shard.to_string()),
                reason: SkipReason::SameUrlAs(first.clone()),
            });
            continue;
        }
        seen.insert(shard_config.url.as_str(), Some(shard.to_string()));
        targets.push(Target {
            database: database.clone(),
            shard: Some(shard),
            backend,
        });
    }
    (targets, skipped)
}

/// Run `f` on every target at once (one tokio task each) and collect the results in
/// target order. A task that panics becomes [`MigrateError::Task`].
async fn parallel<T, F, Fut>(grant: &Grant, targets: &[Target], f: F) -> Vec<(Target, Result<T>)>
where
    F: Fn(Grant, Target) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let started = Instant::now();
    let handles: Vec<_> = targets
        .iter()
        .map(|t| (t.clone(), tokio::spawn(f(grant.clone(), t.clone()))))
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for (t, handle) in handles {
        let result = match handle.await {
            Ok(result) => result,
            Err(e) => Err(MigrateError::Task {
                database: t.database.to_string(),
                shard: t.shard_name(),
                message: e.to_string(),
            }),
        };
        out.push((t, result));
    }
    tracing::debug!(
        targets = out.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "grant-migrate: parallel run done"
    );
    out
}

/// What one target's run gave: its report and the error that stopped it, if any.
type Outcome = (TargetReport, Option<MigrateError>);

/// Gather per-target outcomes into the report and the list of errors.
fn collect(
    done: Vec<(Target, Result<Outcome>)>,
    report: &mut Report,
    errors: &mut Vec<MigrateError>,
) {
    for (t, result) in done {
        match result {
            Ok((target_report, error)) => {
                report.targets.push(target_report);
                errors.extend(error);
            }
            Err(e) => {
                report.targets.push(t.empty_report());
                errors.push(e);
            }
        }
    }
}

fn sort_targets(targets: &mut [TargetReport]) {
    targets.sort_by(|a, b| (&a.database, &a.shard).cmp(&(&b.database, &b.shard)));
}

fn finish(report: Report, errors: Vec<MigrateError>) -> Result<Report> {
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(MigrateError::Failed {
            errors,
            report: Box::new(report),
        })
    }
}
