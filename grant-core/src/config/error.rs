//! The error type of the configuration layer.

use std::time::Duration;

use crate::backend::Backend;

/// Why a configuration was rejected, and where.
///
/// `key` is the dotted path of the offending value, such as
/// `databases.primary.pool.acquire_timeout` or `databases.primary.replicas[0]`. Names that
/// are not plain identifiers are quoted as in TOML (`databases."my db"`). Problems that
/// concern the whole document use `(root)` (from a string) or the file's path (from a file);
/// the choice of default database uses `default`.
///
/// ```
/// use grant_core::config::{Config, ConfigErrorKind};
///
/// let err = Config::from_toml_str_with(
///     "[databases.primary]\nurl = \"oracle://db/app\"\n",
///     "development",
///     &|_| None,
/// )
/// .unwrap_err();
/// assert_eq!(err.key, "databases.primary.url");
/// assert!(matches!(err.kind, ConfigErrorKind::UnknownScheme { .. }));
/// assert!(err.to_string().starts_with("invalid config at `databases.primary.url`: "));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid config at `{key}`: {kind}")]
pub struct ConfigError {
    /// Dotted path of the offending key, `(root)`, `default`, or a file path.
    pub key: String,
    /// What is wrong and what was expected.
    pub kind: ConfigErrorKind,
}

impl ConfigError {
    /// An error of `kind` at `key`.
    pub fn new(key: impl Into<String>, kind: ConfigErrorKind) -> Self {
        ConfigError {
            key: key.into(),
            kind,
        }
    }
}

/// The kinds of configuration problems. Each message says what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// `GRANT_ENV` is set to something that is not valid Unicode.
    #[error("the environment name is not valid Unicode; expected a name such as `development`, `test` or `production`")]
    InvalidEnvironment,
    /// The config file could not be read.
    #[error(
        "cannot read the config file ({io_kind:?}): {message}; expected a readable UTF-8 TOML file"
    )]
    Io {
        /// The I/O error's kind.
        io_kind: std::io::ErrorKind,
        /// The I/O error's message.
        message: String,
    },
    /// The text is not valid TOML (this includes a key defined twice).
    #[error("TOML syntax error{}: {message}", at(*.line, *.column))]
    Syntax {
        /// 1-based line of the error, when toml reported a position.
        line: Option<usize>,
        /// 1-based column (in characters) of the error, when toml reported a position.
        column: Option<usize>,
        /// toml's message.
        message: String,
    },
    /// A key that Grant does not know (often a typo).
    #[error("unknown key{}; expected one of: {expected}", suggest(*.suggestion))]
    UnknownKey {
        /// The known key closest to the unknown one, if any is close.
        suggestion: Option<&'static str>,
        /// The keys allowed at this place, comma-separated.
        expected: String,
    },
    /// A value of the wrong TOML type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What was expected, e.g. `a boolean`.
        expected: &'static str,
        /// The TOML type found, e.g. `string`.
        found: &'static str,
    },
    /// A string produced by `${...}` interpolation for a non-string field did not parse.
    #[error("expected {expected}, found `{value}` after `${{...}}` interpolation")]
    InvalidInterpolatedValue {
        /// What was expected, e.g. `an integer`.
        expected: &'static str,
        /// The interpolated text.
        value: String,
    },
    /// An integer outside the range of its field.
    #[error("expected an integer from {min} to {max}, found {value}")]
    IntegerOutOfRange {
        /// The value found.
        value: i64,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// `${VAR}` names a variable that is not set, and no `:-default` was given.
    #[error("environment variable `{variable}` is not set; expected it to be set, or a default written as `${{{variable}:-default}}`")]
    MissingVariable {
        /// The variable's name.
        variable: String,
    },
    /// `${` without its closing `}`.
    #[error("unterminated `${{`; expected `${{VAR}}` or `${{VAR:-default}}` (write `$$` for a literal `$`)")]
    UnterminatedInterpolation,
    /// `${...}` whose variable name is empty or has characters other than `[A-Za-z0-9_]`.
    #[error("invalid variable name `{name}` in `${{...}}`; expected letters, digits and `_`, not starting with a digit, optionally followed by `:-default`")]
    InvalidVariableName {
        /// The text found where a name was expected.
        name: String,
    },
    /// `${A:-${B:-...}}` defaults nested deeper than `max`.
    #[error("`${{...:-default}}` defaults nest more than {max} deep; expected shallower nesting")]
    InterpolationTooDeep {
        /// The deepest nesting allowed.
        max: usize,
    },
    /// The configuration has no database at all.
    #[error("no databases are configured; expected at least one `[databases.<name>]` table with a `url`")]
    NoDatabases,
    /// Several databases, no `default` key and none named `primary`.
    #[error("cannot choose a default database among {databases}; expected `default = \"<name>\"` at the top level, or a database named `primary`")]
    NoDefault {
        /// The configured names, comma-separated.
        databases: String,
    },
    /// `default` names a database that is not configured.
    #[error("default database `{name}` is not configured; expected one of: {databases}")]
    UnknownDefault {
        /// The name given.
        name: String,
        /// The configured names, comma-separated.
        databases: String,
    },
    /// A database, shard or role name that is empty or has characters outside `[A-Za-z0-9_-]`.
    #[error(
        "invalid name `{name}`; expected one or more of the characters A-Z, a-z, 0-9, `_` and `-`"
    )]
    InvalidName {
        /// The name found.
        name: String,
    },
    /// The same name defined twice (names are compared ignoring ASCII case).
    #[error("`{name}` is defined more than once (it clashes with `{other}`); expected names that are unique ignoring case")]
    Duplicate {
        /// The name reported.
        name: String,
        /// The name it clashes with (equal, or equal ignoring case).
        other: String,
    },
    /// A database or shard without a `url`.
    #[error("missing `url`; expected a connection URL such as `postgres://host/db`, `mysql://host/db` or `sqlite://app.db`")]
    MissingUrl,
    /// An empty URL.
    #[error("the URL is empty; expected a connection URL such as `postgres://host/db` or `sqlite://app.db` (is a `${{VAR}}` empty?)")]
    EmptyUrl,
    /// A URL that cannot be parsed.
    #[error("cannot parse URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL with any password hidden.
        url: String,
        /// What is wrong and what was expected.
        reason: &'static str,
    },
    /// A URL whose scheme names no engine Grant speaks.
    #[error("unknown URL scheme `{scheme}`; expected one of: {}", Backend::SCHEMES)]
    UnknownScheme {
        /// The scheme found.
        scheme: String,
    },
    /// A replica or shard whose engine differs from the one it belongs to.
    #[error("this URL is for {found}, but it belongs to a {expected} database; expected a {expected} URL")]
    BackendMismatch {
        /// The engine of the writer (or of the database owning the shard).
        expected: Backend,
        /// The engine of this URL.
        found: Backend,
    },
    /// `replica_of` names a database that is not configured.
    #[error("`replica_of` names `{name}`, which is not configured; expected the name of another database entry")]
    UnknownReplicaOf {
        /// The name given.
        name: String,
    },
    /// `replica_of` names the entry itself.
    #[error("an entry cannot be a replica of itself; expected the name of another database entry")]
    ReplicaOfSelf,
    /// `replica_of` names an entry that is itself a replica.
    #[error("`replica_of` names `{name}`, which is itself a replica of `{of}`; expected a writer entry (perhaps `{of}`)")]
    ReplicaOfReplica {
        /// The name given.
        name: String,
        /// What that entry is a replica of.
        of: String,
    },
    /// `readonly = false` on an entry that is a replica.
    #[error("an entry with `replica_of` is always read-only; expected `readonly = true` or no `readonly` key")]
    ReplicaNotReadonly,
    /// Shards declared on an entry that is a replica.
    #[error("an entry with `replica_of = \"{replica_of}\"` cannot have shards; expected shards (and their replicas) on `{replica_of}`")]
    ShardsOnReplica {
        /// The entry this one replicates.
        replica_of: String,
    },
    /// `[sharding]` on a database without shards.
    #[error("`sharding` needs shards; expected a `[databases.<name>.shards.<shard>]` table for each shard")]
    ShardingWithoutShards,
    /// The resolver's parameters are not usable (a range out of order, a bad pattern, a
    /// shard that is not configured, ...).
    #[error("invalid sharding: {reason}")]
    InvalidSharding {
        /// What is wrong, naming the shard or parameter.
        reason: String,
    },
    /// A custom role named `writing` or `reading`.
    #[error("role name `{role}` is reserved (the writing and reading roles come from `url` and `replicas`); expected another name")]
    ReservedRole {
        /// The role name found.
        role: String,
    },
    /// A custom role served by a database that is not configured.
    #[error("role is served by `{entry}`, which is not configured; expected the name of a database entry")]
    UnknownRoleTarget {
        /// The entry named.
        entry: String,
    },
    /// `max_connections = 0`.
    #[error("a pool of zero connections can serve nothing; expected at least 1")]
    ZeroMaxConnections,
    /// `min_connections` above `max_connections`.
    #[error("min_connections ({min}) exceeds max_connections ({max}); expected at most {max}")]
    MinExceedsMax {
        /// min_connections.
        min: u32,
        /// max_connections.
        max: u32,
    },
    /// A duration that does not parse.
    #[error("invalid duration `{value}`; expected a string like \"250ms\", \"5s\", \"10m\", \"1h\" or \"1h30m\", or an integer number of seconds")]
    InvalidDuration {
        /// The text found.
        value: String,
    },
    /// `"none"`/`false` for a timeout that must exist (`acquire_timeout`).
    #[error("this timeout cannot be disabled; expected a duration such as \"30s\"")]
    CannotDisable,
    /// A zero duration.
    #[error("a zero duration is not allowed here; expected a positive duration such as \"5s\" (idle_timeout, max_lifetime and statement_timeout may be \"none\", \"off\" or false to disable them)")]
    ZeroDuration,
    /// An empty path.
    #[error("the path is empty; expected a directory such as \"migrations/primary\"")]
    EmptyPath,
    /// A duration outside the bounds of its setting (see the bounds in [`crate::config`]).
    #[error("{} is out of range; expected from {} to {}", show(*.value), show(*.min), show(*.max))]
    DurationOutOfRange {
        /// The duration found.
        value: Duration,
        /// Smallest allowed value.
        min: Duration,
        /// Largest allowed value.
        max: Duration,
    },
    /// A string that is not one of a fixed set of choices (`journal_mode`, `synchronous`).
    #[error("unknown value `{value}`; expected one of: {expected}")]
    InvalidChoice {
        /// The text found.
        value: String,
        /// The allowed values, comma-separated.
        expected: &'static str,
    },
    /// `[databases.<name>.sqlite]` (or non-default [`super::SqliteOptions`]) on a database
    /// that is not SQLite.
    #[error("SQLite options on a {backend} database; expected them only on `sqlite:` databases (remove this table)")]
    SqliteOptionsOnOtherEngine {
        /// The engine of the database's URL.
        backend: Backend,
    },
    /// `consistency = "causal"` on an engine without replication positions (SQLite).
    #[error("causal consistency needs PostgreSQL or MariaDB/MySQL replication positions; a {backend} database supports \"delay\" only")]
    CausalUnsupported {
        /// The engine of the database's URL.
        backend: Backend,
    },
    /// `max_replication_lag` on an engine without replication positions (SQLite).
    #[error("replication lag is measured from PostgreSQL or MariaDB/MySQL replication positions; a {backend} database cannot check it (remove max_replication_lag)")]
    LagUnsupported {
        /// The engine of the database's URL.
        backend: Backend,
    },
    /// `replica_weights` whose length differs from the number of replicas.
    #[error("{weights} weight(s) for {replicas} replica(s); expected one weight per replica")]
    WeightsMismatch {
        /// Weights given.
        weights: usize,
        /// Replicas declared.
        replicas: usize,
    },
    /// `replica_weights` without `balance = "weighted"`.
    #[error(
        "replica weights are only used with balance = \"weighted\"; set it or remove the weights"
    )]
    WeightsWithoutWeighted,
    /// An empty (or blank) statement in `after_connect`.
    #[error("the statement is empty; expected SQL text such as \"SET search_path TO app\"")]
    EmptyStatement,
    /// The selected environment is neither declared under `[environments]` nor `development`.
    #[error("unknown environment `{name}`; expected one of: {known} (declare `[environments.{name}]`, even empty, to use it)")]
    UnknownEnvironment {
        /// The environment asked for (`GRANT_ENV`, `--env`, or the argument).
        name: String,
        /// The known environments, comma-separated and quoted.
        known: String,
    },
}

/// A duration as a person writes it: `250ms`, `5s`, `2h`, `400d`, `1.5µs`.
fn show(d: Duration) -> String {
    const DAY: u64 = 86_400;
    let secs = d.as_secs();
    if d.subsec_nanos() == 0 && secs > 0 {
        if secs % DAY == 0 {
            return format!("{}d", secs / DAY);
        }
        if secs % 3600 == 0 {
            return format!("{}h", secs / 3600);
        }
        return format!("{secs}s");
    }
    if d.subsec_nanos() % 1_000_000 == 0 {
        return format!("{}ms", d.as_millis());
    }
    format!("{d:?}")
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

fn suggest(suggestion: Option<&'static str>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}
