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
//! for the rules and the `-- grant:break` escape hatch). Each statement runs on its own
//! (unprepared, so any statement the engine accepts can be used), and a failure names its
//! file, statement number and line.
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
//! | `success`    | `BOOLEAN`     | `BOOLEAN`      | `BOOLEAN` |
//! | `failed_statement` | `BIGINT` | `BIGINT`    | `BIGINT` |
//! | `error`      | `TEXT`        | `TEXT`         | `TEXT`  |
//!
//! (A table written by an earlier version gets the last three columns added.)
//!
//! The checksum is FNV-1a 64 of the file's bytes ([`checksum`]). Editing a file after it
//! was applied makes later runs fail with [`MigrateError::ChecksumMismatch`], naming the
//! database, shard and file; [`Migrator::status_all`] shows it as `CHANGED`.
//!
//! ## Locks
//!
//! Every run takes a lock per target on one connection and holds it, on that connection,
//! for the whole run; what is applied is read only once the lock is held. A second runner
//! waits up to the lock timeout ([`Migrator::lock_timeout`], `--lock-timeout`), then finds
//! the work done and applies nothing twice, or fails with [`MigrateError::Locked`] naming
//! the target. Two deploys started together both succeed, and every migration is applied
//! exactly once per target.
//!
//! * **PostgreSQL**: a session advisory lock, polled with `pg_try_advisory_lock(key)`, where
//!   `key` is FNV-1a 64 of `grant_migrations` as a signed 64-bit integer (the hex digits
//!   of [`checksum`]`(b"grant_migrations")`). Advisory locks are per database, so shard
//!   databases on one server do not wait for each other.
//! * **MariaDB/MySQL**: `GET_LOCK('grant_migrate.<checksum of the database name>', 0)`,
//!   polled (lock names are server-wide and at most 64 characters).
//! * **SQLite**: `BEGIN IMMEDIATE`, held for the run: each migration is a savepoint inside
//!   it, and the target's migrations commit together when the run ends (or, if the process
//!   dies, none of that run's do). While a run holds it, other writers of the file wait
//!   (their busy timeout).
//!
//! A lock that cannot be taken is polled every 50 ms until the timeout; a process that
//! dies lets its locks go with its sessions.
//!
//! ## Transactions and dirty migrations
//!
//! * **PostgreSQL and SQLite** have transactional DDL: each migration (its statements and
//!   its `grant_migrations` row) commits as a whole or not at all.
//! * **MariaDB/MySQL** commit DDL implicitly. The migration's row is written first with
//!   `success = false` (dirty) and marked done after its last statement. If statement 3
//!   fails, statements 1-2 stay applied and the row stays dirty with the statement and its
//!   error: later runs stop at that target with [`MigrateError::Dirty`], and status shows
//!   `DIRTY`, until an operator fixes the database and calls [`Migrator::resolve`]
//!   (`grant-migrate resolve --database D --shard S --version V --applied|--rolled-back`).
//! * A file with a line `-- grant:no-transaction` runs without a transaction on every engine
//!   (for statements such as PostgreSQL's `CREATE INDEX CONCURRENTLY`), with the same dirty
//!   bookkeeping. All its statements run on the run's one connection (on SQLite the lock
//!   transaction is committed before it and taken again after it).
//!
//! ## Order of work and failures
//!
//! A run first reads every folder (a bad file stops everything), then checks every target
//! (reachable, nothing dirty, no checksum mismatch, down files present for a revert)
//! before changing anything anywhere; if a check fails, nothing is changed. It then works
//! database after database, the targets of each in parallel (at most
//! [`Migrator::concurrency`] at once). A target that fails stops at its failing
//! migration; with [`OnError::Fail`] (the default) the other targets stop at their next
//! migration, with [`OnError::Continue`] they go on. The error ([`MigrateError::Failed`])
//! carries every failure and the [`Report`] of what was done.
//!
//! ## The command line
//!
//! `grant-migrate [--config grant.toml] [--env NAME] [--database D] [--shard S]
//! [--lock-timeout 60s] [-v] <COMMAND>`:
//!
//! | command | what it does |
//! |---------|--------------|
//! | `new NAME --database D [--reversible]` | creates `<UTC timestamp>_<NAME>.sql` (and `.down.sql`) in D's folder |
//! | `migrate [--target V] [--dry-run] [--concurrency N] [--on-error fail\|continue] [--statement-timeout D\|off]` | applies pending migrations everywhere |
//! | `revert [--steps N \| --target V]` | reverts the latest N (default 1), or everything newer than V |
//! | `redo [--steps N]` | reverts the latest N, then applies them again |
//! | `reset --force` | reverts everything, then applies everything |
//! | `status [--short \| --json]` | every migration of every target; exit 1 on DIRTY, CHANGED or an unreadable target |
//! | `resolve --database D [--shard S] --version V --applied\|--rolled-back` | settles a DIRTY migration |
//! | `create`, `drop --force`, `prepare` | creates / drops the databases and shard databases (never a replica); create then migrate |
//! | `schema [--out DIR] [--check]` | writes each target's schema and `schema.json`; `--check` reports shards that drifted from their database's first shard |
//!
//! `revert`, `redo`, `reset` and `prepare` take the same run options as `migrate`. Exit
//! codes: 0 success, 1 failure, 2 usage error. Progress is one bar per target on a
//! terminal, plain lines otherwise; no colour when piped or with `NO_COLOR`.
//!
//! ## As a library
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

mod admin;
mod bookkeeping;
mod conn;
mod error;
mod newfile;
mod ops;
mod plan;
mod report;
mod schema;
mod source;
mod target;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use grant_core::{DatabaseEntry, Grant};

pub use admin::{url_with_database, DatabaseAction, DatabaseChange};
pub use error::{MigrateError, Result};
pub use newfile::new_migration;
pub use plan::Operation;
pub use report::{
    Direction, MigrationState, MigrationStatus, PlannedStep, Progress, Report, SkipReason, Skipped,
    Step, TargetPlan, TargetReport, TargetStatus,
};
pub use schema::{drift, ColumnSchema, Drift, TableSchema, TargetSchema};
pub use source::{
    checksum, load_migrations, split_statements, DownMigration, Migration, Statement, BREAK_MARKER,
    MAX_NAME_LEN, NO_TRANSACTION_MARKER,
};

/// The table, on every target, that records applied migrations.
pub const MIGRATIONS_TABLE: &str = "grant_migrations";

/// The default of [`Migrator::lock_timeout`].
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// The default of [`Migrator::concurrency`]: targets of one database worked on at once.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// A progress callback (see [`Migrator::on_progress`]).
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// What the other targets do when one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop every target at its next migration (the default).
    #[default]
    Fail,
    /// Let the other targets finish.
    Continue,
}

/// How an operator resolves a DIRTY migration (see [`Migrator::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The database was fixed by hand so that the migration is fully applied: mark it done.
    Applied,
    /// The database was put back as it was before the migration: forget the migration, so
    /// that the next run applies it again.
    RolledBack,
}

/// Applies, reverts and reports migrations of the databases of a [`Grant`] handle, with a
/// lock per target (see the [crate docs](crate)).
///
/// Cheap to create; it holds a clone of the handle (and so shares its pools).
///
/// ```no_run
/// # async fn demo(grant: &grant_core::Grant) -> grant_migrate::Result<()> {
/// use std::time::Duration;
/// use grant_migrate::{Migrator, OnError};
///
/// let migrator = Migrator::new(grant)
///     .lock_timeout(Duration::from_secs(30))
///     .concurrency(8)
///     .on_error(OnError::Continue);
/// let report = migrator.migrate("primary").await?;
/// println!("applied {} migration(s)", report.applied_count());
/// let report = migrator.revert_last("primary").await?;
/// println!("reverted {} migration(s)", report.reverted_count());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Migrator {
    grant: Grant,
    lock_timeout: Duration,
    statement_timeout: Option<Option<Duration>>,
    concurrency: usize,
    on_error: OnError,
    shard: Option<String>,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for Migrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migrator")
            .field("databases", &self.grant.handler().database_names())
            .field("lock_timeout", &self.lock_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("concurrency", &self.concurrency)
            .field("on_error", &self.on_error)
            .field("shard", &self.shard)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Migrator {
    /// A migrator for every database of `grant`.
    pub fn new(grant: &Grant) -> Migrator {
        Migrator {
            grant: grant.clone(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            statement_timeout: None,
            concurrency: DEFAULT_CONCURRENCY,
            on_error: OnError::Fail,
            shard: None,
            progress: None,
        }
    }

    /// How long a run waits for another runner's lock on a target before it fails with
    /// [`MigrateError::Locked`] (default [`DEFAULT_LOCK_TIMEOUT`]). `Duration::ZERO` fails
    /// at once.
    pub fn lock_timeout(mut self, timeout: Duration) -> Migrator {
        self.lock_timeout = timeout;
        self
    }

    /// The server-side limit of one migration statement for this migrator's runs
    /// (`None`: no limit), in place of the database's `statement_timeout` (30 s unless
    /// configured), which migration statements otherwise keep: a `CREATE INDEX` on a big
    /// table may need more. PostgreSQL `statement_timeout` and MariaDB
    /// `max_statement_time`, set on the run's connection and put back after the run;
    /// nothing changes on SQLite or MySQL.
    pub fn statement_timeout(mut self, timeout: Option<Duration>) -> Migrator {
        self.statement_timeout = Some(timeout);
        self
    }

    /// How many targets of one database are worked on at once (default
    /// [`DEFAULT_CONCURRENCY`]; 0 counts as 1).
    pub fn concurrency(mut self, n: usize) -> Migrator {
        self.concurrency = n.max(1);
        self
    }

    /// What the other targets do when one fails (default [`OnError::Fail`]).
    pub fn on_error(mut self, on_error: OnError) -> Migrator {
        self.on_error = on_error;
        self
    }

    /// Work only on the shard `shard` of each database (the databases' own URLs and other
    /// shards are left alone). Naming a database that has no such shard is
    /// [`MigrateError::UnknownShard`].
    pub fn shard(mut self, shard: impl Into<String>) -> Migrator {
        self.shard = Some(shard.into());
        self
    }

    /// Call `f` with each [`Progress`] event of a run (from the targets' tasks).
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Migrator {
        self.progress = Some(Arc::new(f));
        self
    }

    /// The handle this migrator works with.
    pub fn grant(&self) -> &Grant {
        &self.grant
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

    /// What a run leaves alone, and why: read-only databases, `replica_of` entries,
    /// databases without a `migrations` folder, and targets that share a URL with another
    /// target of their database.
    pub fn skipped(&self) -> Vec<Skipped> {
        let mut out = Vec::new();
        for name in self.grant.handler().database_names() {
            let Ok(entry) = self.grant.handler().database(&name) else {
                continue;
            };
            match ops::skip_reason(&entry) {
                Some(reason) => out.push(Skipped {
                    database: name.to_string(),
                    shard: None,
                    reason,
                }),
                None => out.extend(ops::targets_of(&entry).1),
            }
        }
        out
    }

    /// Apply every pending migration of every database that has a `migrations` folder, on
    /// every target. See the [crate docs](crate) for the order of work and what happens on
    /// failure.
    pub async fn migrate_all(&self) -> Result<Report> {
        self.run(None, Operation::Migrate { to: None }).await
    }

    /// Apply every pending migration of `database` on each of its targets (its own URL and
    /// every shard, in parallel). A read-only or `replica_of` database is skipped (see
    /// [`Report::skipped`]); one without a `migrations` folder is an error.
    pub async fn migrate(&self, database: &str) -> Result<Report> {
        self.run(Some(database), Operation::Migrate { to: None })
            .await
    }

    /// Revert the latest applied migration of `database`, on each of its targets (in
    /// parallel), with its `.down.sql` file; each target reverts its own latest one.
    ///
    /// Every target is checked first, and nothing is reverted anywhere if one of them
    /// fails a check: its latest migration has no down file
    /// ([`MigrateError::NoDownMigration`]), its file is gone or changed, or it is
    /// unreachable. A target with nothing applied is left alone.
    pub async fn revert_last(&self, database: &str) -> Result<Report> {
        self.run(Some(database), Operation::RevertSteps(1)).await
    }

    /// Run `op` on every target of `database` (every database with a `migrations` folder
    /// when `None`): check every target first (nothing is changed if one check fails),
    /// then work under each target's lock. A revert of a read-only database is
    /// [`MigrateError::ReadOnly`].
    pub async fn run(&self, database: Option<&str>, op: Operation) -> Result<Report> {
        ops::run(self, database, op).await
    }

    /// What [`Migrator::run`] would do, per target, without changing anything (no lock is
    /// taken, no table or SQLite file is created). Fails like the run's checks would.
    pub async fn plan(&self, database: Option<&str>, op: Operation) -> Result<Vec<TargetPlan>> {
        ops::plan(self, database, op).await
    }

    /// Where every target of every database with a `migrations` folder stands: applied,
    /// pending, changed (checksum mismatch), dirty and missing files. A target that cannot
    /// be read has [`TargetStatus::error`] set; folder problems fail the whole call.
    /// Nothing is changed: a SQLite file that does not exist is reported
    /// ([`TargetStatus::missing_database`]), not created.
    pub async fn status_all(&self) -> Result<Vec<TargetStatus>> {
        ops::status(self, None).await
    }

    /// Where every target of `database` stands (empty for a read-only database).
    pub async fn status(&self, database: &str) -> Result<Vec<TargetStatus>> {
        ops::status(self, Some(database)).await
    }

    /// Resolve a DIRTY migration of one target after an operator fixed the database by
    /// hand: mark it applied (recording the checksum of its file as it is now, since the
    /// file is often fixed after a failure), or forget it ([`Resolution::RolledBack`]) so
    /// that the next run applies it again. Runs under the target's lock. A migration that is not
    /// recorded, or not dirty, is [`MigrateError::NotDirty`].
    pub async fn resolve(
        &self,
        database: &str,
        shard: Option<&str>,
        version: i64,
        resolution: Resolution,
    ) -> Result<()> {
        ops::resolve(self, database, shard, version, resolution).await
    }

    /// Create the databases of the config that do not exist yet: every database with a
    /// `migrations` folder or not, and every shard database, never a replica, a
    /// `replica_of` entry or a read-only database (PostgreSQL `CREATE DATABASE`, MariaDB
    /// `CREATE DATABASE`, SQLite: the file and its folder).
    pub async fn create_databases(&self, database: Option<&str>) -> Result<Vec<DatabaseAction>> {
        admin::create_all(self, database).await
    }

    /// Drop the databases of the config (and every shard database), never a replica, a
    /// `replica_of` entry or a read-only database. The pools of `grant` to them are
    /// closed first. Irreversible: the CLI asks for `--force`.
    pub async fn drop_databases(&self, database: Option<&str>) -> Result<Vec<DatabaseAction>> {
        admin::drop_all(self, database).await
    }

    /// Create the databases that are missing, then migrate (Rails' `db:prepare`).
    pub async fn prepare(&self, database: Option<&str>) -> Result<(Vec<DatabaseAction>, Report)> {
        let created = self.create_databases(database).await?;
        let report = self.run(database, Operation::Migrate { to: None }).await?;
        Ok((created, report))
    }

    /// The schema of every target (tables, columns, indexes), read in a stable order. A
    /// SQLite file that does not exist is not created (it reads as no tables).
    pub async fn schema(&self, database: Option<&str>) -> Result<Vec<TargetSchema>> {
        schema::read_all(self, database).await
    }

    fn entry(&self, database: &str) -> Result<Arc<DatabaseEntry>> {
        self.grant
            .handler()
            .database(database)
            .map_err(|_| MigrateError::UnknownDatabase {
                database: database.to_string(),
            })
    }
}
