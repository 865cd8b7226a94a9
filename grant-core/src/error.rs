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

    /// A shard scope or an explicit shard on a database that has no shards (a shard is
    /// never ignored).
    #[error("database `{database}` has no shards, but shard `{shard}` was asked for{}", for_model(.model))]
    NotSharded {
        /// The database.
        database: String,
        /// The shard asked for.
        shard: String,
        /// The model, if a model's statement asked.
        model: Option<&'static str>,
    },

    /// A model declares a shard key (`#[shard_by(..)]`) but its database has no
    /// `[sharding]` resolver.
    #[error("model `{model}` is sharded by `{key}`, but database `{database}` has no sharding resolver; expected `[databases.{database}.sharding]` with a `resolver`")]
    NoResolver {
        /// The model.
        model: &'static str,
        /// Its shard key column(s).
        key: String,
        /// The database.
        database: String,
    },

    /// The database's config names a resolver (`resolver = "<name>"`) that was not
    /// registered with [`crate::Grant::register_resolver`].
    #[error("database `{database}` routes by resolver `{resolver}`, which is not registered; expected `Grant::register_resolver(\"{resolver}\", ..)` before the first statement")]
    UnknownResolver {
        /// The database.
        database: String,
        /// The resolver name.
        resolver: String,
    },

    /// The resolver could not place a key (a key of the wrong type, outside every
    /// range, without a lookup entry, ...).
    #[error("database `{database}`: {source}")]
    Shard {
        /// The database.
        database: String,
        /// The resolver's error, naming the resolver and the key.
        #[source]
        source: Box<grant_sharding::ShardError>,
    },

    /// A write of a sharded model whose shard key is NULL or missing: Grant cannot tell
    /// which shard holds the row. Nothing was sent.
    #[error("model `{model}`: shard key `{key}` is missing (NULL); the row's shard cannot be chosen and nothing was sent")]
    ShardKeyMissing {
        /// The model.
        model: &'static str,
        /// The shard key column.
        key: &'static str,
    },

    /// An `update` that changes a row's shard key so that it belongs on another shard:
    /// a move would be a cross-shard write. Nothing was changed. Delete the row and insert
    /// it again instead.
    #[error("model `{model}` row {primary_key}: changing shard key `{key}` moves it from shard `{from}` to shard `{to}`; nothing was changed (delete and insert instead)")]
    ShardKeyChanged {
        /// The model.
        model: &'static str,
        /// The shard key column(s).
        key: String,
        /// The row's primary key.
        primary_key: String,
        /// The shard that holds the row.
        from: std::sync::Arc<str>,
        /// The shard the new key belongs to.
        to: std::sync::Arc<str>,
    },

    /// A statement in a transaction resolved to another shard than the transaction's.
    /// Nothing was sent; a transaction never spans shards.
    #[error("model `{model}`: the statement belongs on shard `{statement}` but the transaction is pinned to {}; nothing was sent", shard_or_none(.transaction))]
    WrongShard {
        /// The model.
        model: &'static str,
        /// The transaction's shard (`None`: the database itself).
        transaction: Option<String>,
        /// The shard(s) the statement resolved to.
        statement: String,
    },

    /// A query of a sharded model that would visit every shard, where scatter is denied
    /// (for the database or the call), or a write that needs the shard key without it.
    #[error("model `{model}`: the query does not say which shard (no `{key}` in its filter) and scatter is denied; filter on `{key}`, name a shard, or allow scatter")]
    ScatterDenied {
        /// The model.
        model: &'static str,
        /// The shard key column(s).
        key: String,
    },

    /// `update_all` / `delete_all` of a sharded model that would change rows on more than
    /// one shard without `across_shards()`. Nothing was sent.
    #[error("model `{model}`: `{op}` would write to {shards} shards; call `.across_shards()` to allow it (nothing was sent)")]
    CrossShardWrite {
        /// The model.
        model: &'static str,
        /// `update_all` or `delete_all`.
        op: &'static str,
        /// How many shards it would reach.
        shards: usize,
    },

    /// `update_all` / `delete_all` across shards where some shards failed: the shards in
    /// `written` committed their change (each shard is its own transaction), the shards in
    /// `failed` did not. Nothing is hidden: retry the failed shards, or repair.
    #[error("model `{model}`: `{op}` failed on {} of {} shards ({}); committed on: {}", .failed.len(), .failed.len() + .written.len(), failed_list(.failed), written_list(.written))]
    PartialWrite {
        /// The model.
        model: &'static str,
        /// `update_all` or `delete_all`.
        op: &'static str,
        /// `(shard, rows changed)` of the shards that committed.
        written: Vec<(String, u64)>,
        /// `(shard, error)` of the shards that failed.
        failed: Vec<(String, Error)>,
    },

    /// One shard of a scatter failed; in strict mode (the default) the whole query fails
    /// with it.
    #[error("shard `{shard}` of database `{database}` failed: {source}")]
    ShardFailed {
        /// The database.
        database: String,
        /// The shard.
        shard: String,
        /// What went wrong there.
        #[source]
        source: Box<Error>,
    },

    /// An aggregate whose result does not fit its type (a `sum` of `i64` values past
    /// `i64::MAX`), rather than a wrapped-around value.
    #[error("model `{model}`: `{op}` of column `{column}` overflows its type")]
    AggregateOverflow {
        /// The model.
        model: &'static str,
        /// `sum`, `avg`.
        op: &'static str,
        /// The column.
        column: &'static str,
    },

    /// Merging shards' results failed (too many distinct values for `count_distinct`, an
    /// overflow), rather than returning a wrong value.
    #[error("model `{model}`: cannot merge the shards' results: {source}")]
    Merge {
        /// The model.
        model: &'static str,
        /// Why.
        #[source]
        source: Box<grant_sharding::merge::MergeError>,
    },

    /// A key could not be generated (a clock far behind, a worker id or shard index the
    /// id layout cannot hold).
    #[error("model `{model}`: cannot generate a key: {source}")]
    Id {
        /// The model.
        model: &'static str,
        /// Why.
        #[source]
        source: Box<grant_sharding::id::IdError>,
    },

    /// A shard that a model's `#[connects_to(shards(..))]` does not list.
    #[error(
        "model `{model}` has no shard `{shard}`; its connects_to(shards(..)) lists: {expected}"
    )]
    UnknownModelShard {
        /// The model.
        model: &'static str,
        /// The shard asked for.
        shard: String,
        /// The shards it lists, comma-separated.
        expected: String,
    },

    /// A shard added twice at runtime.
    #[error("database `{database}` already has shard `{shard}`")]
    DuplicateShard {
        /// The database.
        database: String,
        /// The shard.
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
    #[error("write refused on database `{database}`{} (role `{role}`): {reason}", shard_suffix(.shard))]
    ReadOnly {
        /// The database.
        database: String,
        /// The shard, when the statement was routed to one.
        shard: Option<String>,
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
    /// The shard is configured `readonly = true` (an archive, a past year).
    ReadonlyShard,
}

impl std::fmt::Display for ReadOnlyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadOnlyReason::ReadingRole => "the current scope uses the reading role",
            ReadOnlyReason::PreventWrites => "the current scope prevents writes",
            ReadOnlyReason::ReadonlyDatabase => "the database is read-only",
            ReadOnlyReason::ReadOnlyTransaction => "the transaction is read-only",
            ReadOnlyReason::ReadonlyShard => "the shard is read-only; nothing was sent",
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

fn failed_list(failed: &[(String, Error)]) -> String {
    failed
        .iter()
        .map(|(s, e)| format!("`{s}`: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn written_list(written: &[(String, u64)]) -> String {
    if written.is_empty() {
        return "none".to_string();
    }
    written
        .iter()
        .map(|(s, n)| format!("`{s}` ({n} rows)"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shard_or_none(shard: &Option<String>) -> String {
    match shard {
        Some(s) => format!("shard `{s}`"),
        None => "the database itself (no shard)".to_string(),
    }
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
        matches!(self.root(), Error::ReadOnly { .. })
    }

    /// The error itself, or for [`Error::ShardFailed`] the shard's error.
    pub fn root(&self) -> &Error {
        match self {
            Error::ShardFailed { source, .. } => source.root(),
            other => other,
        }
    }

    /// True when the error is a statement timeout ([`Error::Timeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self.root(), Error::Timeout { .. })
    }

    /// True when the server could not be reached ([`Error::Connect`]).
    pub fn is_connect(&self) -> bool {
        matches!(self.root(), Error::Connect { .. })
    }
}

#[cfg(test)]
mod size {
    /// `Result<T, Error>` is returned everywhere: the error stays small (clippy's
    /// `result_large_err` bound), large payloads are boxed.
    #[test]
    fn error_stays_under_128_bytes() {
        let size = std::mem::size_of::<super::Error>();
        assert!(size < 128, "Error is {size} bytes");
    }
}
