//! The work of a [`Migrator`] over many targets: choosing the targets, checking them all
//! before changing anything, then running database after database, the targets of each in
//! parallel (bounded), and gathering per-target outcomes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use grant_core::DatabaseEntry;
use tokio::sync::Semaphore;

use crate::error::{MigrateError, Result};
use crate::plan::{describe, plan_steps, statuses, Operation};
use crate::report::{Report, SkipReason, Skipped, TargetPlan, TargetReport, TargetStatus};
use crate::source::Migration;
use crate::target::{self, RunSettings, Target};
use crate::{Migrator, OnError, Resolution};

/// One database's work: its migrations and its targets.
pub(crate) struct DbPlan {
    pub migrations: Arc<Vec<Migration>>,
    pub targets: Vec<Target>,
}

/// Why a whole database is not migrated, if it is not.
pub(crate) fn skip_reason(entry: &DatabaseEntry) -> Option<SkipReason> {
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
pub(crate) fn targets_of(entry: &DatabaseEntry) -> (Vec<Target>, Vec<Skipped>) {
    let config = entry.config();
    let database = entry.name().clone();
    let backend = entry.backend();
    let mut seen: HashMap<&str, Option<String>> = HashMap::new();
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    seen.insert(config.url.as_str(), None);
    if let Ok(own) = entry.targets(None) {
        targets.push(Target {
            database: database.clone(),
            shard: None,
            backend,
            writer: own.writer().clone(),
            url: config.url.clone(),
        });
    }
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
        let Ok(pools) = entry.targets(Some(&shard)) else {
            continue;
        };
        seen.insert(shard_config.url.as_str(), Some(shard.to_string()));
        targets.push(Target {
            database: database.clone(),
            shard: Some(shard.clone()),
            backend,
            writer: pools.writer().clone(),
            url: shard_config.url.clone(),
        });
    }
    (targets, skipped)
}

impl Migrator {
    /// The databases to work on: `database`, or every registered one (sorted).
    pub(crate) fn database_names(&self, database: Option<&str>) -> Result<Vec<String>> {
        match database {
            Some(db) => {
                self.entry(db)?;
                Ok(vec![db.to_string()])
            }
            None => {
                let mut names: Vec<String> = self
                    .grant
                    .handler()
                    .database_names()
                    .iter()
                    .map(|n| n.to_string())
                    .collect();
                names.sort();
                Ok(names)
            }
        }
    }

    /// The targets of `entry`, narrowed to [`Migrator::shard`] when set.
    pub(crate) fn select(
        &self,
        entry: &DatabaseEntry,
        explicit: bool,
    ) -> Result<(Vec<Target>, Vec<Skipped>)> {
        let (mut targets, skipped) = targets_of(entry);
        if let Some(shard) = &self.shard {
            if explicit && !entry.shard_names().iter().any(|s| &**s == shard.as_str()) {
                return Err(MigrateError::UnknownShard {
                    database: entry.name().to_string(),
                    shard: shard.clone(),
                });
            }
            targets.retain(|t| t.shard.as_deref() == Some(shard.as_str()));
        }
        Ok((targets, skipped))
    }

    /// Decide what to do with each database. `explicit`: the caller named it, so a missing
    /// migrations folder is an error rather than a skip.
    pub(crate) fn plans(&self, database: Option<&str>) -> Result<(Vec<DbPlan>, Vec<Skipped>)> {
        let explicit = database.is_some();
        let mut plans = Vec::new();
        let mut skipped = Vec::new();
        for name in self.database_names(database)? {
            let entry = self.entry(&name)?;
            if let Some(reason) = skip_reason(&entry) {
                if explicit && reason == SkipReason::NoMigrations {
                    return Err(MigrateError::NoMigrationsFolder { database: name });
                }
                let s = Skipped {
                    database: name,
                    shard: None,
                    reason,
                };
                if s.reason == SkipReason::NoMigrations {
                    tracing::debug!("grant-migrate: skipping {s}");
                } else {
                    tracing::info!("grant-migrate: skipping {s}");
                }
                skipped.push(s);
                continue;
            }
            let migrations = self.migrations(&name)?;
            let (targets, skip) = self.select(&entry, explicit)?;
            for s in &skip {
                tracing::info!("grant-migrate: skipping {s}");
            }
            skipped.extend(skip);
            plans.push(DbPlan {
                migrations: Arc::new(migrations),
                targets,
            });
        }
        Ok((plans, skipped))
    }

    fn settings(&self) -> RunSettings {
        RunSettings {
            lock_timeout: self.lock_timeout,
            statement_timeout: self.statement_timeout,
            stop: Arc::new(AtomicBool::new(false)),
            stop_on_error: self.on_error == OnError::Fail,
            progress: self.progress.clone(),
        }
    }
}

/// Check every target (read without the lock, plan): the plans, or every error.
///
/// `check_files`: also fail a SQLite target whose file is missing and cannot be created
/// (a run would fail there after changing other targets).
async fn check_all(
    m: &Migrator,
    plans: &[DbPlan],
    op: Operation,
    check_files: bool,
) -> std::result::Result<Vec<TargetPlan>, Vec<MigrateError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for plan in plans {
        let migrations = plan.migrations.clone();
        let wait = m.lock_timeout;
        let checked = parallel(&plan.targets, m.concurrency, move |t| {
            let migrations = migrations.clone();
            async move {
                if check_files {
                    t.check_creatable()?;
                }
                let (mut applied, locked) = t.read_with_lock(wait).await?;
                if locked {
                    // Dirty rows under another runner's lock are migrations running now:
                    // counted as applied here; the run reads them again under the lock.
                    for a in applied.iter_mut() {
                        a.success = true;
                    }
                }
                let steps = plan_steps(&t, op, &migrations, &applied)?;
                Ok(TargetPlan {
                    database: t.database.to_string(),
                    shard: t.shard_name(),
                    backend: t.backend,
                    steps: describe(&steps),
                })
            }
        })
        .await;
        for (_, result) in checked {
            match result {
                Ok(p) => out.push(p),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

pub(crate) async fn plan(
    m: &Migrator,
    database: Option<&str>,
    op: Operation,
) -> Result<Vec<TargetPlan>> {
    let (plans, skipped) = m.plans(database)?;
    check_all(m, &plans, op, false)
        .await
        .map_err(|errors| MigrateError::Failed {
            errors,
            report: Box::new(Report {
                targets: Vec::new(),
                skipped,
            }),
        })
}

pub(crate) async fn run(m: &Migrator, database: Option<&str>, op: Operation) -> Result<Report> {
    if let (Some(db), false) = (database, matches!(op, Operation::Migrate { .. })) {
        if skip_reason(&*m.entry(db)?).is_some_and(|r| r != SkipReason::NoMigrations) {
            return Err(MigrateError::ReadOnly {
                database: db.to_string(),
            });
        }
    }
    let (mut plans, skipped) = m.plans(database)?;
    let mut report = Report {
        targets: Vec::new(),
        skipped,
    };
    // 1. Check every target before changing anything anywhere.
    let checked = match check_all(m, &plans, op, true).await {
        Ok(checked) => checked,
        Err(errors) => {
            return Err(MigrateError::Failed {
                errors,
                report: Box::new(report),
            })
        }
    };
    // A SQLite file that does not exist and has nothing to do is left uncreated.
    for plan in plans.iter_mut() {
        plan.targets.retain(|t| {
            let idle = checked.iter().any(|p| {
                p.database == *t.database
                    && p.shard.as_deref() == t.shard.as_deref()
                    && p.steps.is_empty()
            });
            !(idle && t.is_missing())
        });
    }
    // 2. Work: database after database, the targets of each in parallel, each under its
    //    lock (what is applied is read again there).
    let settings = m.settings();
    let mut errors = Vec::new();
    for plan in &plans {
        let migrations = plan.migrations.clone();
        let settings = settings.clone();
        let done = parallel(&plan.targets, m.concurrency, move |t| {
            let migrations = migrations.clone();
            let settings = settings.clone();
            async move { Ok(target::run(t, op, migrations, settings).await) }
        })
        .await;
        collect(done, &mut report, &mut errors);
        if !errors.is_empty() && m.on_error == OnError::Fail {
            break;
        }
    }
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(MigrateError::Failed {
            errors,
            report: Box::new(report),
        })
    }
}

pub(crate) async fn status(m: &Migrator, database: Option<&str>) -> Result<Vec<TargetStatus>> {
    let (plans, _) = m.plans(database)?;
    let mut out = Vec::new();
    for plan in plans {
        let wait = m.lock_timeout;
        let read = parallel(&plan.targets, m.concurrency, move |t| async move {
            t.read_with_lock(wait).await
        })
        .await;
        for (t, result) in read {
            let (migrations, error, running) = match result {
                Ok((applied, locked)) => (statuses(&plan.migrations, &applied), None, locked),
                Err(e) => (Vec::new(), Some(e), false),
            };
            out.push(TargetStatus {
                database: t.database.to_string(),
                shard: t.shard_name(),
                backend: t.backend,
                migrations,
                error,
                missing_database: t.is_missing(),
                running,
            });
        }
    }
    Ok(out)
}

pub(crate) async fn resolve(
    m: &Migrator,
    database: &str,
    shard: Option<&str>,
    version: i64,
    resolution: Resolution,
) -> Result<()> {
    let entry = m.entry(database)?;
    let (targets, _) = targets_of(&entry);
    let t = targets
        .into_iter()
        .find(|t| t.shard.as_deref() == shard)
        .ok_or_else(|| MigrateError::UnknownShard {
            database: database.to_string(),
            shard: shard.unwrap_or("-").to_string(),
        })?;
    let not_dirty = |reason: &str| MigrateError::NotDirty {
        database: database.to_string(),
        shard: shard.map(str::to_string),
        version,
        reason: reason.to_string(),
    };
    if t.is_missing() {
        return Err(not_dirty("the database does not exist"));
    }
    let migrations = match &entry.config().migrations {
        Some(_) => m.migrations(database)?,
        None => Vec::new(),
    };
    let mut conn = t.connect_within(m.lock_timeout).await?;
    target::lock(&t, &mut conn, m.lock_timeout).await?;
    let outcome = async {
        let applied = conn
            .read_applied()
            .await
            .map_err(t.sql_err("read grant_migrations"))?;
        let row = applied
            .iter()
            .find(|a| a.version == version)
            .ok_or_else(|| not_dirty("it is not recorded in grant_migrations"))?;
        if row.success {
            return Err(not_dirty("it is not dirty (it is applied)"));
        }
        match resolution {
            Resolution::Applied => {
                conn.set_state(version, true, None)
                    .await
                    .map_err(t.sql_err("update grant_migrations"))?;
                // The operator finished it by hand, from the file as it is now (often
                // fixed since the failure): record that file's checksum.
                if let Some(m) = migrations.iter().find(|m| m.version == version) {
                    conn.set_checksum(version, &m.checksum)
                        .await
                        .map_err(t.sql_err("update grant_migrations"))?;
                }
            }
            Resolution::RolledBack => {
                conn.delete_row(version)
                    .await
                    .map_err(t.sql_err("update grant_migrations"))?;
            }
        }
        tracing::info!(
            database,
            shard,
            version,
            ?resolution,
            "grant-migrate: resolved"
        );
        Ok(())
    }
    .await;
    if outcome.is_err() {
        conn.abandon().await;
    }
    let unlocked = conn
        .unlock()
        .await
        .map_err(t.sql_err("release the migration lock"));
    outcome.and(unlocked)
}

/// Run `f` on every target, at most `limit` at once (one tokio task each), and collect the
/// results in target order. A task that panics becomes [`MigrateError::Task`].
pub(crate) async fn parallel<T, F, Fut>(
    targets: &[Target],
    limit: usize,
    f: F,
) -> Vec<(Target, Result<T>)>
where
    F: Fn(Target) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let started = Instant::now();
    let semaphore = Arc::new(Semaphore::new(limit.max(1)));
    let handles: Vec<_> = targets
        .iter()
        .map(|t| {
            let fut = f(t.clone());
            let semaphore = semaphore.clone();
            let handle = tokio::spawn(async move {
                // The semaphore is never closed, so acquiring cannot fail.
                let _permit = semaphore.acquire_owned().await;
                fut.await
            });
            (t.clone(), handle)
        })
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
