//! Grant's typed errors. Every variant names the thing at fault: the database, role,
//! shard, model or column.

use crate::config::ConfigError;
use crate::role::Role;

/// A `Result` whose error is Grant's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Grant, each naming what it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; the inner error names the key path.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// A session token ([`crate::Session::from_token`]) that is too long, of an unknown
    /// version, malformed, or altered.
    #[error("invalid session token: {reason}")]
    InvalidSessionToken {
        /// Why it was refused.
        reason: crate::session::TokenError,
    },

    /// Every replica of a database is out of rotation (down or lagging) and the database's
    /// `replica_fallback` is `"error"`: the read is refused instead of going to the writer.
    #[error("no replica of database `{database}` can serve reads (all are down or lagging){}", shard_suffix(.shard))]
    NoReplica {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
    },

    /// Internal: a causal read's replica did not replay the session's position within
    /// `causal_wait`; the read is routed to the writer. Never returned to callers.
    #[doc(hidden)]
    #[error("internal: replica behind the session (read again on the writer)")]
    ReplicaBehind,

    /// A database name that is not registered.
    #[error("unknown database `{database}`{}", for_model(.model))]
    UnknownDatabase {
        /// The name asked for.
        database: String,
        /// The model whose routing named it, if any.
        model: Option<&'static str>,
    },

    /// A role the database does not define.
    #[error("database `{database}` has no role `{role}`")]
    UnknownRole {
        /// The database.
        database: String,
        /// The role asked for.
        role: Role,
    },

    /// A shard the database does not define.
    #[error("database `{database}` has no shard `{shard}`")]
    UnknownShard {
        /// The database.
        database: String,
        /// The shard asked for.
        shard: String,
    },

    /// A database registered twice at runtime.
    #[error("database `{database}` is already registered")]
    DuplicateDatabase {
        /// The name.
        database: String,
    },

    /// A fan-out ([`crate::FanOut`]) was given SQL for a database it does not run on:
    /// `sql_for` named a database missing from the list passed to [`crate::Grant::fan_out`].
    /// Nothing was sent.
    #[error("`sql_for(\"{database}\", ..)` names a database that is not in the fan-out; nothing was sent")]
    NotInFanOut {
        /// The name given to `sql_for`.
        database: String,
    },

    /// A write was refused before any SQL was sent: the target reads only.
    #[error("write refused on database `{database}` (role `{role}`): {reason}")]
    ReadOnly {
        /// The database.
        database: String,
        /// The role the write would have used.
        role: Role,
        /// Why the target is read-only.
        reason: ReadOnlyReason,
    },

    /// No connection became free within the pool's acquire timeout: every connection of
    /// the pool was in use (a busy pool, not a server that is down: see [`Error::Connect`]).
    #[error("timed out waiting for a free connection to database `{database}` (role `{role}`{}): all connections of the pool are in use", shard_suffix(.shard))]
    PoolTimeout {
        /// The database.
        database: String,
        /// The role.
        role: Role,
        /// The shard, if any.
        shard: Option<String>,
    },

    /// The server could not be reached, refused or reset the connection, or did not
    /// complete the handshake within the pool's `connect_timeout`. `source` is the driver's
    /// cause (refused, reset, DNS, TLS, authentication, or an I/O `TimedOut`).
    #[error("cannot connect to database `{database}` (role `{role}`{}): {source}", shard_suffix(.shard))]
    Connect {
        /// The database.
        database: String,
        /// The role.
        role: Role,
        /// The shard, if any.
        shard: Option<String>,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// A statement (or a transaction's begin, commit or rollback) did not finish within the
    /// database's `statement_timeout` (or, in a fan-out, its `timeout`). Grant stopped waiting and closed the connection, so
    /// it is never reused; a transaction it belonged to is rolled back by the server.
    #[error("statement on database `{database}` (role `{role}`{}) did not finish within {after:?} (statement_timeout, or a fan-out's timeout); its connection was closed", shard_suffix(.shard))]
    Timeout {
        /// The database.
        database: String,
        /// The role.
        role: Role,
        /// The shard, if any.
        shard: Option<String>,
        /// The timeout that elapsed.
        after: std::time::Duration,
    },

    /// A statement was sent to a transaction that is over: a previous step timed out and
    /// its connection was closed (the server rolled it back).
    #[error("the transaction on database `{database}`{} was aborted after a statement timeout; begin a new one", shard_suffix(.shard))]
    TransactionAborted {
        /// The database.
        database: String,
        /// The shard, if any.
        shard: Option<String>,
    },

    /// The pool was closed (see [`crate::Grant::close`]).
    #[error("the pool of database `{database}` (role `{role}`) is closed")]
    PoolClosed {
        /// The database.
        database: String,
        /// The role.
        role: Role,
    },

    /// The server rejected a statement.
    #[error("database `{database}` (role `{role}`) rejected the statement: {source}")]
    Database {
        /// The database.
        database: String,
        /// The role.
        role: Role,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// A row could not be decoded into a model's field.
    #[error("cannot decode column `{column}` of model `{model}`: {source}")]
    Decode {
        /// The model.
        model: &'static str,
        /// The column.
        column: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// A value could not be bound as a parameter.
    #[error("cannot bind a value for `{column}`: {message}")]
    Bind {
        /// The column or parameter.
        column: String,
        /// What went wrong.
        message: String,
    },

    /// A statement would carry more bound values than the engine accepts in one statement
    /// (PostgreSQL and MariaDB 65,535, SQLite 32,766). Nothing was sent: split the work
    /// (for example an `is_in` list) into several statements.
    #[error("{count} bound values exceed {backend}'s limit of {limit} per statement; nothing was sent (split the list, e.g. `is_in` in chunks)")]
    TooManyParameters {
        /// The engine.
        backend: crate::backend::Backend,
        /// How many values the statement had.
        count: usize,
        /// The engine's limit.
        limit: usize,
    },

    /// `find` or `first` found nothing where a row was required.
    #[error("no `{model}` with {column} = {key}")]
    NotFound {
        /// The model.
        model: &'static str,
        /// The key column.
        column: &'static str,
        /// The key, formatted.
        key: String,
    },

    /// A statement used with a transaction of another database.
    #[error("model `{model}` lives in database `{model_database}`, but the transaction is on `{transaction_database}`")]
    WrongTransaction {
        /// The model.
        model: &'static str,
        /// The model's database.
        model_database: String,
        /// The transaction's database.
        transaction_database: String,
    },

    /// A query that cannot be expressed: the message says what and why.
    #[error("invalid query on `{model}`: {message}")]
    InvalidQuery {
        /// The model (or `raw`).
        model: &'static str,
        /// What is wrong.
        message: String,
    },

    /// A generated key did not fit the model's key type.
    #[error("generated key {value} does not fit the key `{column}` of model `{model}`")]
    KeyOverflow {
        /// The model.
        model: &'static str,
        /// The key column.
        column: &'static str,
        /// The value the database generated (`i128` holds every signed and unsigned
        /// 64-bit key, e.g. a MariaDB `BIGINT UNSIGNED` above `i64::MAX`).
        value: i128,
    },
}

/// Why a target refuses writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadOnlyReason {
    /// The current scope uses the reading role.
    ReadingRole,
    /// The current scope prevents writes (`prevent_writes(true)` / `while_preventing_writes`).
    PreventWrites,
    /// The database is configured `readonly = true`, or is a `replica_of` entry.
    ReadonlyDatabase,
    /// The transaction was begun read-only (in a reading or prevent-writes scope, or on a
    /// read-only database).
    ReadOnlyTransaction,
    /// A fan-out ([`crate::FanOut`]) reads only unless `allow_writes()` was called.
    FanOut,
}

impl std::fmt::Display for ReadOnlyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadOnlyReason::ReadingRole => "the current scope uses the reading role",
            ReadOnlyReason::PreventWrites => "the current scope prevents writes",
            ReadOnlyReason::ReadonlyDatabase => "the database is read-only",
            ReadOnlyReason::ReadOnlyTransaction => "the transaction is read-only",
            ReadOnlyReason::FanOut => {
                "a fan-out reads only unless `allow_writes()` is called; nothing was sent"
            }
        })
    }
}

fn for_model(model: &Option<&'static str>) -> String {
    model
        .map(|m| format!(" (routing of model `{m}`)"))
        .unwrap_or_default()
}

fn shard_suffix(shard: &Option<String>) -> String {
    shard
        .as_deref()
        .map(|s| format!(", shard `{s}`"))
        .unwrap_or_default()
}

impl Error {
    /// True when the error is a refused write ([`Error::ReadOnly`]).
    pub fn is_read_only(&self) -> bool {
        matches!(self, Error::ReadOnly { .. })
    }

    /// True when the error is a statement timeout ([`Error::Timeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True when the server could not be reached ([`Error::Connect`]).
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }
}
