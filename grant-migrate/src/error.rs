//! The typed errors of migrations. Each names the database, the shard and the file at fault.

use std::path::PathBuf;

use crate::report::Report;

/// A `Result` whose error is [`MigrateError`].
pub type Result<T, E = MigrateError> = std::result::Result<T, E>;

/// Everything that can go wrong while reading, applying or reverting migrations.
///
/// Errors of one target (a database, or one shard of it) name it; operations over several
/// targets return [`MigrateError::Failed`], which keeps every target's error and the
/// [`Report`] of what was done elsewhere. [`MigrateError::errors`] flattens either shape.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// The database is not registered.
    #[error("unknown database `{database}`")]
    UnknownDatabase {
        /// The name asked for.
        database: String,
    },

    /// The database has no `migrations` folder in the config.
    #[error("database `{database}` has no `migrations` folder configured")]
    NoMigrationsFolder {
        /// The database.
        database: String,
    },

    /// A revert was asked of a read-only database (`readonly = true` or `replica_of`).
    #[error("database `{database}` is read-only (readonly or replica_of); it is not migrated")]
    ReadOnly {
        /// The database.
        database: String,
    },

    /// The migrations folder could not be listed.
    #[error("database `{database}`: cannot read the migrations folder {}: {source}", .path.display())]
    ReadDir {
        /// The database.
        database: String,
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A migration file could not be read.
    #[error("database `{database}`: cannot read {}: {source}", .file.display())]
    ReadFile {
        /// The database.
        database: String,
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A migration file is not UTF-8.
    #[error("database `{database}`: {} is not valid UTF-8 (at byte {offset})", .file.display())]
    NotUtf8 {
        /// The database.
        database: String,
        /// The file.
        file: PathBuf,
        /// The offset of the first invalid byte.
        offset: usize,
    },

    /// A `.sql` file in the migrations folder is not named `<version>_<name>.sql` or
    /// `<version>_<name>.down.sql`.
    #[error("database `{database}`: bad migration file name {}: {reason}", .file.display())]
    BadFileName {
        /// The database.
        database: String,
        /// The file.
        file: PathBuf,
        /// What is wrong with the name.
        reason: String,
    },

    /// Two up files (or two down files) share a version.
    #[error("database `{database}`: {} and {} both have version {version}", .other.display(), .file.display())]
    DuplicateVersion {
        /// The database.
        database: String,
        /// The version.
        version: i64,
        /// The second file (in name order).
        file: PathBuf,
        /// The first file.
        other: PathBuf,
    },

    /// A down file without the up file of the same version and name.
    #[error(
        "database `{database}`: {} has no matching up migration `{expected}`{}",
        .file.display(),
        .found.as_ref().map(|f| format!(" (found {})", f.display())).unwrap_or_default()
    )]
    OrphanDown {
        /// The database.
        database: String,
        /// The down file.
        file: PathBuf,
        /// The up file name it needs.
        expected: String,
        /// The up file of that version with another name, if any.
        found: Option<PathBuf>,
    },

    /// An applied migration's file was edited afterwards: its checksum differs from the
    /// one recorded when it was applied.
    #[error(
        "{}: {} (version {version}) was changed after it was applied (recorded checksum {recorded}, file now {actual}); restore it, or write a new migration",
        target(.database, .shard), .file.display()
    )]
    ChecksumMismatch {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// The version.
        version: i64,
        /// The file.
        file: PathBuf,
        /// The checksum recorded in `grant_migrations`.
        recorded: String,
        /// The file's checksum now.
        actual: String,
    },

    /// A revert needs the file of an applied migration that is no longer in the folder.
    #[error("{}: migration {version} `{name}` is applied but its file is not in the migrations folder", target(.database, .shard))]
    MissingFile {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// The applied version.
        version: i64,
        /// The name recorded when it was applied.
        name: String,
    },

    /// A revert of a migration that has no down file.
    #[error("{}: cannot revert {} (version {version}): there is no down file {}", target(.database, .shard), .file.display(), .expected.display())]
    NoDownMigration {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// The version.
        version: i64,
        /// The up file.
        file: PathBuf,
        /// The down file that would revert it.
        expected: PathBuf,
    },

    /// A statement of a migration file failed. Where the migration ran in a transaction
    /// (PostgreSQL and SQLite) it was rolled back and nothing of it remains. Otherwise
    /// (MariaDB/MySQL, which commit DDL implicitly, and files marked
    /// `-- grant:no-transaction`) the statements before it may remain applied (`partial`),
    /// and the migration is recorded as DIRTY (`dirty`) with this statement and error, so
    /// that later runs and `status` say so until it is resolved
    /// ([`Migrator::resolve`](crate::Migrator::resolve)).
    #[error(
        "{}: {} failed at statement {statement} of {statements} (line {line}){}: {source}",
        target(.database, .shard), .file.display(),
        if *.dirty {
            if *.partial { "; the statements before it stay applied and the migration is marked DIRTY: fix the database by hand, then run `grant-migrate resolve`" }
            else { "; the migration is marked DIRTY: check the database, then run `grant-migrate resolve`" }
        } else if *.partial { "; the statements before it stay applied: fix the database by hand" } else { "; rolled back" }
    )]
    Statement {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// The file.
        file: PathBuf,
        /// Which statement failed (from 1).
        statement: usize,
        /// How many statements the file has.
        statements: usize,
        /// The line of the file where the statement starts.
        line: usize,
        /// Whether earlier statements of the file may remain applied.
        partial: bool,
        /// Whether the migration is recorded as dirty in `grant_migrations`.
        dirty: bool,
        /// The driver's error.
        #[source]
        source: Box<sqlx::Error>,
    },

    /// A statement of Grant's own (the `grant_migrations` table, transactions) failed.
    #[error("{}: cannot {action}: {source}", target(.database, .shard))]
    Database {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// What was being done.
        action: &'static str,
        /// The driver's error.
        #[source]
        source: Box<sqlx::Error>,
    },

    /// Another runner held the target's migration lock for longer than the lock timeout.
    #[error("{}: another grant-migrate holds the migration lock of this target; gave up after {waited:?} (raise --lock-timeout to wait longer)", target(.database, .shard))]
    Locked {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// How long the runner waited.
        waited: std::time::Duration,
    },

    /// A migration is recorded as DIRTY: it ran without a transaction (MariaDB/MySQL, or a
    /// `-- grant:no-transaction` file) and failed or was interrupted. Nothing more is
    /// applied or reverted on the target until it is resolved.
    #[error(
        "{}: migration {version} `{name}` is DIRTY ({}); fix the database by hand, then run `grant-migrate resolve --database {database}{} --version {version} --applied` (or `--rolled-back`)",
        target(.database, .shard),
        match (.statement, .error) {
            (Some(s), Some(e)) => format!("it failed at statement {s}: {e}"),
            (Some(s), None) => format!("it failed at statement {s}"),
            _ => "it was interrupted, or is running now".to_string(),
        },
        .shard.as_ref().map(|s| format!(" --shard {s}")).unwrap_or_default()
    )]
    Dirty {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// The version.
        version: i64,
        /// The name recorded.
        name: String,
        /// The statement that failed (from 1), when recorded.
        statement: Option<i64>,
        /// Its error, when recorded.
        error: Option<String>,
    },

    /// A `resolve` that does not apply: the migration is not recorded, or not dirty.
    #[error("{}: cannot resolve migration {version}: {reason}", target(.database, .shard))]
    NotDirty {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// The version asked for.
        version: i64,
        /// Why not.
        reason: String,
    },

    /// A shard named on the command line or to [`Migrator::shard`](crate::Migrator::shard)
    /// that the database does not have.
    #[error("database `{database}` has no shard `{shard}`")]
    UnknownShard {
        /// The database.
        database: String,
        /// The shard asked for.
        shard: String,
    },

    /// Creating or dropping a database, or writing a file, failed.
    #[error("{}: cannot {action}: {message}", target(.database, .shard))]
    Admin {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// What was being done.
        action: String,
        /// What went wrong.
        message: String,
    },

    /// The recorded state changed while a migration ran (another migrator at work?).
    #[error("{}: migration {version} changed state while it was being {action} (is another grant-migrate running?)", target(.database, .shard))]
    Concurrent {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// The version.
        version: i64,
        /// `applied` or `reverted`.
        action: &'static str,
    },

    /// The task migrating a target panicked or was cancelled.
    #[error("{}: the migration task failed: {message}", target(.database, .shard))]
    Task {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
        /// The panic or cancellation message.
        message: String,
    },

    /// One or more targets failed. Nothing is lost: `errors` has every target's error and
    /// `report` what was done on the others (empty when the checks before applying
    /// anything failed: then nothing was changed anywhere).
    #[error("{} of the targets failed: {}", .errors.len(), join(.errors))]
    Failed {
        /// Each failed target's error.
        errors: Vec<MigrateError>,
        /// What was applied or reverted before or beside the failures.
        report: Box<Report>,
    },
}

impl MigrateError {
    /// The errors of single targets: the inner errors of [`MigrateError::Failed`], or
    /// this error itself.
    pub fn errors(&self) -> Vec<&MigrateError> {
        match self {
            MigrateError::Failed { errors, .. } => errors.iter().flat_map(|e| e.errors()).collect(),
            other => vec![other],
        }
    }

    /// The report of what was done despite the failure, for [`MigrateError::Failed`].
    pub fn report(&self) -> Option<&Report> {
        match self {
            MigrateError::Failed { report, .. } => Some(report),
            _ => None,
        }
    }

    /// The database the error concerns, if it names one.
    pub fn database(&self) -> Option<&str> {
        match self {
            MigrateError::UnknownDatabase { database }
            | MigrateError::NoMigrationsFolder { database }
            | MigrateError::ReadOnly { database }
            | MigrateError::ReadDir { database, .. }
            | MigrateError::ReadFile { database, .. }
            | MigrateError::NotUtf8 { database, .. }
            | MigrateError::BadFileName { database, .. }
            | MigrateError::DuplicateVersion { database, .. }
            | MigrateError::OrphanDown { database, .. }
            | MigrateError::ChecksumMismatch { database, .. }
            | MigrateError::MissingFile { database, .. }
            | MigrateError::NoDownMigration { database, .. }
            | MigrateError::Statement { database, .. }
            | MigrateError::Database { database, .. }
            | MigrateError::Concurrent { database, .. }
            | MigrateError::Locked { database, .. }
            | MigrateError::Dirty { database, .. }
            | MigrateError::NotDirty { database, .. }
            | MigrateError::UnknownShard { database, .. }
            | MigrateError::Admin { database, .. }
            | MigrateError::Task { database, .. } => Some(database),
            MigrateError::Failed { .. } => None,
        }
    }

    /// The shard the error concerns, if it names one.
    pub fn shard(&self) -> Option<&str> {
        match self {
            MigrateError::ChecksumMismatch { shard, .. }
            | MigrateError::MissingFile { shard, .. }
            | MigrateError::NoDownMigration { shard, .. }
            | MigrateError::Statement { shard, .. }
            | MigrateError::Database { shard, .. }
            | MigrateError::Concurrent { shard, .. }
            | MigrateError::Locked { shard, .. }
            | MigrateError::Dirty { shard, .. }
            | MigrateError::NotDirty { shard, .. }
            | MigrateError::Admin { shard, .. }
            | MigrateError::Task { shard, .. } => shard.as_deref(),
            MigrateError::UnknownShard { shard, .. } => Some(shard),
            _ => None,
        }
    }
}

/// `database `x`` or `database `x`, shard `y``.
pub(crate) fn target(database: &str, shard: &Option<String>) -> String {
    match shard {
        Some(shard) => format!("database `{database}`, shard `{shard}`"),
        None => format!("database `{database}`"),
    }
}

fn join(errors: &[MigrateError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
