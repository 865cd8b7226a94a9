//! What a migration run did ([`Report`]) and where each target stands ([`TargetStatus`]).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use grant_core::Backend;

use crate::error::MigrateError;

/// What [`Migrator::migrate_all`](crate::Migrator::migrate_all),
/// [`Migrator::migrate`](crate::Migrator::migrate) or
/// [`Migrator::revert_last`](crate::Migrator::revert_last) did: one entry per target
/// (database, shard), and the databases or targets skipped, with the reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Every target worked on, in database order; within a database the database's own
    /// URL first, then its shards by name.
    pub targets: Vec<TargetReport>,
    /// What was skipped, and why.
    pub skipped: Vec<Skipped>,
}

impl Report {
    /// How many migrations were applied, over all targets.
    pub fn applied_count(&self) -> usize {
        self.targets.iter().map(|t| t.applied.len()).sum()
    }

    /// How many migrations were reverted, over all targets.
    pub fn reverted_count(&self) -> usize {
        self.targets.iter().map(|t| t.reverted.len()).sum()
    }

    /// The report of one target (`shard: None` for the database's own URL).
    pub fn target(&self, database: &str, shard: Option<&str>) -> Option<&TargetReport> {
        self.targets
            .iter()
            .find(|t| t.database == database && t.shard.as_deref() == shard)
    }
}

/// What was done on one target: a database, or one shard of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetReport {
    /// The database.
    pub database: String,
    /// The shard; `None` for the database's own URL.
    pub shard: Option<String>,
    /// The engine.
    pub backend: Backend,
    /// Migrations applied, in order.
    pub applied: Vec<Step>,
    /// Migrations reverted, in order.
    pub reverted: Vec<Step>,
    /// Time spent on this target, checks included.
    pub elapsed: Duration,
}

/// One migration applied or reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// The file that ran (the down file for a revert).
    pub file: PathBuf,
    /// How many statements ran.
    pub statements: usize,
    /// How long it took, bookkeeping and commit included.
    pub elapsed: Duration,
}

/// A database or target left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The database.
    pub database: String,
    /// The shard, when only one target of the database was skipped.
    pub shard: Option<String>,
    /// Why.
    pub reason: SkipReason,
}

/// Why a database or target was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The database is `readonly = true`.
    Readonly,
    /// The database is a replica of the named entry; its writer is migrated instead.
    ReplicaOf(String),
    /// The database has no `migrations` folder.
    NoMigrations,
    /// The target has the same URL as another target of the database (`None`: the
    /// database's own URL), which is migrated instead.
    SameUrlAs(Option<String>),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Readonly => f.write_str("read-only database"),
            SkipReason::ReplicaOf(of) => write!(f, "replica of `{of}` (migrate `{of}` instead)"),
            SkipReason::NoMigrations => f.write_str("no migrations folder configured"),
            SkipReason::SameUrlAs(None) => f.write_str("same URL as the database itself"),
            SkipReason::SameUrlAs(Some(shard)) => write!(f, "same URL as shard `{shard}`"),
        }
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shard {
            Some(shard) => write!(
                f,
                "database `{}`, shard `{shard}`: {}",
                self.database, self.reason
            ),
            None => write!(f, "database `{}`: {}", self.database, self.reason),
        }
    }
}

/// Where one target (database, shard) stands: every migration known from the folder or
/// from `grant_migrations`, in version order.
#[derive(Debug)]
pub struct TargetStatus {
    /// The database.
    pub database: String,
    /// The shard; `None` for the database's own URL.
    pub shard: Option<String>,
    /// The engine.
    pub backend: Backend,
    /// Every migration, in version order.
    pub migrations: Vec<MigrationStatus>,
    /// Set when the target could not be read (unreachable, say); `migrations` is then
    /// empty.
    pub error: Option<MigrateError>,
    /// True when the target's database does not exist yet (a SQLite file not created):
    /// every migration is pending, and `status` created nothing.
    pub missing_database: bool,
    /// True when a migration is recorded as dirty while another runner holds the target's
    /// lock: it is running now, not failed (PostgreSQL and MariaDB; SQLite cannot tell
    /// without taking the lock, so this is always `false` there).
    pub running: bool,
}

impl TargetStatus {
    /// Migrations applied with an unchanged file.
    pub fn applied(&self) -> Vec<&MigrationStatus> {
        self.with(|s| matches!(s, MigrationState::Applied))
    }

    /// Migrations not applied yet.
    pub fn pending(&self) -> Vec<&MigrationStatus> {
        self.with(|s| matches!(s, MigrationState::Pending))
    }

    /// Applied migrations whose file was edited afterwards.
    pub fn mismatched(&self) -> Vec<&MigrationStatus> {
        self.with(|s| matches!(s, MigrationState::ChecksumMismatch { .. }))
    }

    /// Applied migrations whose file is gone.
    pub fn missing(&self) -> Vec<&MigrationStatus> {
        self.with(|s| matches!(s, MigrationState::MissingFile))
    }

    /// Migrations recorded as DIRTY (failed or interrupted without a transaction).
    pub fn dirty(&self) -> Vec<&MigrationStatus> {
        self.with(|s| matches!(s, MigrationState::Dirty { .. }))
    }

    /// The highest version recorded on the target (applied, changed, missing its file or
    /// dirty); `None` when nothing is.
    pub fn current_version(&self) -> Option<i64> {
        self.migrations
            .iter()
            .filter(|m| !matches!(m.state, MigrationState::Pending))
            .map(|m| m.version)
            .max()
    }

    /// True when readable, with nothing pending, no mismatch and nothing dirty (a
    /// migration running now counts as not up to date).
    pub fn is_up_to_date(&self) -> bool {
        self.error.is_none()
            && self.pending().is_empty()
            && self.mismatched().is_empty()
            && self.dirty().is_empty()
    }

    fn with(&self, f: impl Fn(&MigrationState) -> bool) -> Vec<&MigrationStatus> {
        self.migrations.iter().filter(|m| f(&m.state)).collect()
    }
}

/// One migration on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The version.
    pub version: i64,
    /// The name (from the file, or as recorded when the file is missing).
    pub name: String,
    /// The up file, when it exists.
    pub file: Option<PathBuf>,
    /// Where it stands.
    pub state: MigrationState,
    /// When it was applied, as the database renders its timestamp (UTC on PostgreSQL and
    /// SQLite, the session's time zone on MariaDB).
    pub applied_at: Option<String>,
}

/// Where one migration stands on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationState {
    /// Applied, and the file is unchanged.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but the file changed since.
    ChecksumMismatch {
        /// The checksum recorded when it was applied.
        recorded: String,
        /// The file's checksum now.
        actual: String,
    },
    /// Applied, but its file is not in the folder any more.
    MissingFile,
    /// Started without a transaction and not finished: it failed at `statement` with
    /// `error`, or was interrupted (both `None`). See
    /// [`Migrator::resolve`](crate::Migrator::resolve).
    Dirty {
        /// The statement that failed (from 1), when recorded.
        statement: Option<i64>,
        /// Its error, when recorded.
        error: Option<String>,
    },
}

impl fmt::Display for MigrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MigrationState::Applied => "applied",
            MigrationState::Pending => "pending",
            MigrationState::ChecksumMismatch { .. } => "CHANGED",
            MigrationState::MissingFile => "NO FILE",
            MigrationState::Dirty { .. } => "DIRTY",
        })
    }
}

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Its up file is applied.
    Up,
    /// Its down file reverts it.
    Down,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Up => "apply",
            Direction::Down => "revert",
        })
    }
}

/// One migration a run would apply or revert on a target (see
/// [`Migrator::plan`](crate::Migrator::plan)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    /// Apply or revert.
    pub direction: Direction,
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// The file that would run (the down file for a revert).
    pub file: PathBuf,
    /// How many statements it has.
    pub statements: usize,
}

/// What a run would do on one target, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPlan {
    /// The database.
    pub database: String,
    /// The shard; `None` for the database's own URL.
    pub shard: Option<String>,
    /// The engine.
    pub backend: Backend,
    /// The steps, in the order they would run.
    pub steps: Vec<PlannedStep>,
}

/// A progress event of a run, passed to the callback of
/// [`Migrator::on_progress`](crate::Migrator::on_progress). Events of different targets
/// interleave; the events of one target come in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Progress {
    /// The target's lock is held and its work is known.
    Started {
        /// The database.
        database: String,
        /// The shard.
        shard: Option<String>,
        /// How many migrations will run.
        steps: usize,
    },
    /// One migration ran.
    Step {
        /// The database.
        database: String,
        /// The shard.
        shard: Option<String>,
        /// Applied or reverted.
        direction: Direction,
        /// What ran.
        step: Step,
    },
    /// The target is done (`error`: the message of the error that stopped it).
    Finished {
        /// The database.
        database: String,
        /// The shard.
        shard: Option<String>,
        /// The error, if the target failed.
        error: Option<String>,
    },
}
