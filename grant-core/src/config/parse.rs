//! From TOML text to typed entries: syntax, the key schema (unknown keys are errors), and
//! conversion of every value to its type. Environments are merged (`environment.rs`) and
//! interpolated (`interpolate.rs`) between the schema check and conversion.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use toml::{Table, Value};

use super::database::{DatabaseConfig, PoolConfig, ShardConfig};
use super::duration::parse_duration;
use super::error::{ConfigError, ConfigErrorKind};
use super::path::{index_path, key_path};
use super::replication::{Balance, Consistency, ReplicaFallback, ReplicationConfig};
use super::sqlite::{JournalMode, SqliteOptions, Synchronous};

/// Where a value may be a table, which keys it may hold.
enum Shape {
    /// A value whose type the conversion checks.
    Leaf,
    /// A table with these keys (sorted), described as `what` in errors.
    Table(&'static [(&'static str, Shape)], &'static str),
    /// A table with any keys, each of the given shape.
    Map(&'static Shape, &'static str),
}

use Shape::{Leaf, Map, Table as Keys};

const POOL: Shape = Keys(
    &[
        ("acquire_timeout", Leaf),
        ("connect_timeout", Leaf),
        ("idle_timeout", Leaf),
        ("max_connections", Leaf),
        ("max_lifetime", Leaf),
        ("min_connections", Leaf),
        ("test_before_acquire", Leaf),
    ],
    "a table of pool options",
);
const SQLITE: Shape = Keys(
    &[
        ("busy_timeout", Leaf),
        ("foreign_keys", Leaf),
        ("journal_mode", Leaf),
        ("synchronous", Leaf),
    ],
    "a table of SQLite options",
);
const SHARD: Shape = Keys(
    &[
        ("readonly", Leaf),
        ("replica_weights", Leaf),
        ("replicas", Leaf),
        ("url", Leaf),
    ],
    "a shard table with a `url`",
);
const SHARDING: Shape = Keys(
    &[
        ("concurrency", Leaf),
        ("default", Leaf),
        ("end", Leaf),
        ("every", Leaf),
        ("lookup", Leaf),
        ("pattern", Leaf),
        ("ranges", Leaf),
        ("resolver", Leaf),
        ("scatter", Leaf),
        ("shards", Leaf),
        ("timeout", Leaf),
    ],
    "a sharding table with a `resolver`",
);
const IDS: Shape = Keys(
    &[("epoch_ms", Leaf), ("layout", Leaf), ("worker_id", Leaf)],
    "a table of id settings",
);
const DATABASE: Shape = Keys(
    &[
        ("after_connect", Leaf),
        ("balance", Leaf),
        ("causal_wait", Leaf),
        ("consistency", Leaf),
        ("max_replication_lag", Leaf),
        ("migrations", Leaf),
        ("pool", POOL),
        ("readonly", Leaf),
        ("replica_check_interval", Leaf),
        ("replica_delay", Leaf),
        ("replica_fallback", Leaf),
        ("replica_of", Leaf),
        ("replica_weights", Leaf),
        ("replicas", Leaf),
        ("roles", Map(&Leaf, "a table of role = \"database\" pairs")),
        ("ids", IDS),
        ("sharding", SHARDING),
        ("shards", Map(&SHARD, "a table of shards")),
        ("sqlite", SQLITE),
        ("statement_timeout", Leaf),
        ("url", Leaf),
    ],
    "a database table with a `url`",
);
const DATABASES: Shape = Map(&DATABASE, "a table of databases");
const OVERRIDES: Shape = Keys(
    &[("databases", DATABASES), ("default", Leaf)],
    "a table of overrides (`[environments.<name>]`)",
);
const ROOT: Shape = Keys(
    &[
        ("databases", DATABASES),
        ("default", Leaf),
        ("environments", Map(&OVERRIDES, "a table of environments")),
    ],
    "a table",
);

/// The accepted values of `journal_mode` (SQLite's names, any case).
const JOURNAL_MODES: &str = "delete, truncate, persist, memory, wal, off";
/// The accepted values of `synchronous` (SQLite's names, any case).
const SYNCHRONOUS_LEVELS: &str = "off, normal, full, extra";

/// Parses TOML text into a table; a syntax error (including a duplicate key) is reported
/// at `key` with toml's message and position.
pub(crate) fn parse_toml(text: &str, key: &str) -> Result<Table, ConfigError> {
    toml::from_str::<Table>(text).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (l, c) = line_column(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ConfigError::new(
            key,
            ConfigErrorKind::Syntax {
                line,
                column,
                message: e.message().trim().to_owned(),
            },
        )
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Checks every key of the whole document (every environment included, so a typo in
/// `[environments.production]` is caught in development too), in sorted order.
pub(crate) fn check_schema(root: &Table) -> Result<(), ConfigError> {
    check_table(root, &ROOT, "")
}

fn check_value(value: &Value, shape: &Shape, path: &str) -> Result<(), ConfigError> {
    match (shape, value) {
        (Leaf, _) => Ok(()),
        (Keys(..) | Map(..), Value::Table(table)) => check_table(table, shape, path),
        (Keys(_, what) | Map(_, what), other) => Err(wrong_type(path, what, other)),
    }
}

fn check_table(table: &Table, shape: &Shape, path: &str) -> Result<(), ConfigError> {
    for key in sorted_keys(table) {
        let child = key_path(path, key);
        let value = &table[key];
        match shape {
            Leaf => {}
            Map(inner, _) => check_value(value, inner, &child)?,
            Keys(keys, _) => match keys.iter().find(|(name, _)| *name == key) {
                Some((_, inner)) => check_value(value, inner, &child)?,
                None => {
                    let names: Vec<&'static str> = keys.iter().map(|(name, _)| *name).collect();
                    return Err(ConfigError::new(
                        child,
                        ConfigErrorKind::UnknownKey {
                            suggestion: closest(key, &names),
                            expected: names.join(", "),
                        },
                    ));
                }
            },
        }
    }
    Ok(())
}

/// The known name closest to `key`, if it is within a small edit distance.
fn closest(key: &str, names: &[&'static str]) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    names
        .iter()
        .map(|name| (edit_distance(&key, name), *name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 4))
        .min()
        .map(|(_, name)| name)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The typed content of a document, before validation.
pub(crate) struct Parsed {
    pub(crate) default: Option<String>,
    pub(crate) databases: Vec<(String, DatabaseConfig)>,
    /// Names of the databases that have a `[databases.<name>.sqlite]` table.
    pub(crate) sqlite_tables: BTreeSet<String>,
}

/// Converts a merged, interpolated document to typed entries. `interpolated` holds the
/// paths of strings that came from `${...}`: such strings are accepted for integer, boolean
/// and duration fields when they parse as one. When `unknown_interpolated` is set (an
/// environment other than the selected one, whose variables are not known), such values
/// are not converted: typed fields keep their defaults and strings are kept as they are,
/// and validation skips them.
pub(crate) fn convert(
    root: &Table,
    interpolated: &BTreeSet<String>,
    unknown_interpolated: bool,
) -> Result<Parsed, ConfigError> {
    let fields = Fields {
        interpolated,
        unknown_interpolated,
    };
    let default = fields.string(root, "", "default", "a string naming a database")?;
    let mut databases = Vec::new();
    let mut sqlite_tables = BTreeSet::new();
    if let Some(table) = fields.table(root, "", "databases", "a table of databases")? {
        for name in sorted_keys(table) {
            let path = key_path("databases", name);
            let Value::Table(entry) = &table[name] else {
                return Err(wrong_type(
                    &path,
                    "a database table with a `url`",
                    &table[name],
                ));
            };
            if entry.contains_key("sqlite") {
                sqlite_tables.insert(name.to_owned());
            }
            databases.push((name.to_owned(), fields.database(entry, &path)?));
        }
    }
    Ok(Parsed {
        default,
        databases,
        sqlite_tables,
    })
}

pub(super) struct Fields<'a> {
    interpolated: &'a BTreeSet<String>,
    unknown_interpolated: bool,
}

impl Fields<'_> {
    fn database(&self, t: &Table, path: &str) -> Result<DatabaseConfig, ConfigError> {
        let url = self.required_url(t, path)?;
        let mut db = DatabaseConfig::new(url);
        db.replicas = self.urls(t, path, "replicas")?;
        db.replica_weights = self.weights(t, path)?;
        self.replication(t, path, &mut db.replication)?;
        db.replica_of = self.string(t, path, "replica_of", "a string naming a database")?;
        let readonly = self.boolean(t, path, "readonly")?;
        db.readonly = readonly.unwrap_or(db.replica_of.is_some());
        if let Some(pool) = self.table(t, path, "pool", "a table of pool options")? {
            db.pool = self.pool(pool, &key_path(path, "pool"))?;
        }
        if let Some(d) = self.duration(t, path, "statement_timeout", true)? {
            db.statement_timeout = d;
        }
        if let Some(sqlite) = self.table(t, path, "sqlite", "a table of SQLite options")? {
            db.sqlite = self.sqlite(sqlite, &key_path(path, "sqlite"))?;
        }
        db.after_connect = self.strings(
            t,
            path,
            "after_connect",
            "an array of SQL strings",
            "a string (an SQL statement)",
        )?;
        db.migrations = self
            .string(t, path, "migrations", "a string (a folder path)")?
            .map(PathBuf::from);
        if let Some(roles) = self.table(t, path, "roles", "a table of role = \"database\" pairs")? {
            let roles_path = key_path(path, "roles");
            for role in sorted_keys(roles) {
                if let Some(entry) =
                    self.string(roles, &roles_path, role, "a string naming a database")?
                {
                    db.roles.insert(role.to_owned(), entry);
                }
            }
        }
        if let Some(shards) = self.table(t, path, "shards", "a table of shards")? {
            let shards_path = key_path(path, "shards");
            for name in sorted_keys(shards) {
                let shard_path = key_path(&shards_path, name);
                let Value::Table(shard) = &shards[name] else {
                    return Err(wrong_type(
                        &shard_path,
                        "a shard table with a `url`",
                        &shards[name],
                    ));
                };
                let mut config = ShardConfig::new(self.required_url(shard, &shard_path)?);
                config.replicas = self.urls(shard, &shard_path, "replicas")?;
                config.replica_weights = self.weights(shard, &shard_path)?;
                config.readonly = self
                    .boolean(shard, &shard_path, "readonly")?
                    .unwrap_or(false);
                db.shards.insert(name.to_owned(), config);
            }
        }
        if let Some(sharding) =
            self.table(t, path, "sharding", "a sharding table with a `resolver`")?
        {
            db.sharding = Some(self.sharding(sharding, &key_path(path, "sharding"))?);
        }
        if let Some(ids) = self.table(t, path, "ids", "a table of id settings")? {
            db.ids = self.ids(ids, &key_path(path, "ids"))?;
        }
        Ok(db)
    }

    fn replication(
        &self,
        t: &Table,
        path: &str,
        r: &mut ReplicationConfig,
    ) -> Result<(), ConfigError> {
        if let Some(d) = self.duration(t, path, "replica_delay", true)? {
            r.replica_delay = d.unwrap_or(Duration::ZERO);
        }
        if let Some(c) = self.choice(t, path, "consistency", Consistency::CHOICES)? {
            r.consistency = Consistency::parse(&c);
        }
        if let Some(d) = self.duration(t, path, "causal_wait", true)? {
            r.causal_wait = d.unwrap_or(Duration::ZERO);
        }
        if let Some(b) = self.choice(t, path, "balance", Balance::CHOICES)? {
            r.balance = Balance::parse(&b);
        }
        if let Some(d) = self.duration(t, path, "max_replication_lag", true)? {
            r.max_replication_lag = d;
        }
        if let Some(f) = self.choice(t, path, "replica_fallback", ReplicaFallback::CHOICES)? {
            r.replica_fallback = ReplicaFallback::parse(&f);
        }
        if let Some(d) = self.duration(t, path, "replica_check_interval", false)? {
            r.replica_check_interval = d.unwrap_or(r.replica_check_interval);
        }
        Ok(())
    }

    /// `replica_weights`: an array of integers (each checked by validation).
    fn weights(&self, t: &Table, path: &str) -> Result<Vec<u32>, ConfigError> {
        self.array(
            t,
            path,
            "replica_weights",
            "an array of integers",
            |item, at| match item {
                Value::Integer(n) => u32::try_from(*n).map_err(|_| {
                    ConfigError::new(
                        at,
                        ConfigErrorKind::IntegerOutOfRange {
                            value: *n,
                            min: 1,
                            max: i64::from(super::validate::MAX_WEIGHT),
                        },
                    )
                }),
                other => Err(wrong_type(&at, "an integer", other)),
            },
        )
    }

    fn pool(&self, t: &Table, path: &str) -> Result<PoolConfig, ConfigError> {
        let mut pool = PoolConfig::default();
        if let Some(n) = self.integer_u32(t, path, "max_connections")? {
            pool.max_connections = n;
        }
        if let Some(n) = self.integer_u32(t, path, "min_connections")? {
            pool.min_connections = n;
        }
        if let Some(d) = self.duration(t, path, "acquire_timeout", false)? {
            // `allow_none = false` never yields `Some(None)`.
            pool.acquire_timeout = d.unwrap_or(pool.acquire_timeout);
        }
        if let Some(d) = self.duration(t, path, "connect_timeout", false)? {
            pool.connect_timeout = d.unwrap_or(pool.connect_timeout);
        }
        if let Some(d) = self.duration(t, path, "idle_timeout", true)? {
            pool.idle_timeout = d;
        }
        if let Some(d) = self.duration(t, path, "max_lifetime", true)? {
            pool.max_lifetime = d;
        }
        if let Some(b) = self.boolean(t, path, "test_before_acquire")? {
            pool.test_before_acquire = b;
        }
        Ok(pool)
    }

    fn sqlite(&self, t: &Table, path: &str) -> Result<SqliteOptions, ConfigError> {
        let mut options = SqliteOptions::default();
        if let Some(mode) = self.choice(t, path, "journal_mode", JOURNAL_MODES)? {
            options.journal_mode = JournalMode::parse(&mode);
        }
        if let Some(level) = self.choice(t, path, "synchronous", SYNCHRONOUS_LEVELS)? {
            options.synchronous = Synchronous::parse(&level);
        }
        if let Some(d) = self.duration(t, path, "busy_timeout", false)? {
            options.busy_timeout = d.unwrap_or(options.busy_timeout);
        }
        if let Some(b) = self.boolean(t, path, "foreign_keys")? {
            options.foreign_keys = b;
        }
        Ok(options)
    }

    /// Whether the value at `path` came from `${...}` in an environment whose variables
    /// are not known (see [`convert`]).
    fn unknown(&self, path: &str) -> bool {
        self.unknown_interpolated && self.interpolated.contains(path)
    }

    /// A string that must be one of `expected` (comma-separated, lower case), compared
    /// ignoring ASCII case; returned in lower case.
    pub(super) fn choice(
        &self,
        t: &Table,
        path: &str,
        key: &str,
        expected: &'static str,
    ) -> Result<Option<String>, ConfigError> {
        let child = key_path(path, key);
        if self.unknown(&child) {
            return Ok(None);
        }
        let Some(text) = self.string(t, path, key, "a string")? else {
            return Ok(None);
        };
        let lower = text.trim().to_ascii_lowercase();
        if expected.split(", ").any(|choice| choice == lower) {
            Ok(Some(lower))
        } else {
            Err(ConfigError::new(
                child,
                ConfigErrorKind::InvalidChoice {
                    value: text,
                    expected,
                },
            ))
        }
    }

    fn required_url(&self, t: &Table, path: &str) -> Result<String, ConfigError> {
        self.string(t, path, "url", "a string (a connection URL)")?
            .ok_or_else(|| ConfigError::new(key_path(path, "url"), ConfigErrorKind::MissingUrl))
    }

    pub(super) fn string(
        &self,
        t: &Table,
        path: &str,
        key: &str,
        expected: &'static str,
    ) -> Result<Option<String>, ConfigError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(wrong_type(&key_path(path, key), expected, other)),
        }
    }

    pub(super) fn table<'t>(
        &self,
        t: &'t Table,
        path: &str,
        key: &str,
        expected: &'static str,
    ) -> Result<Option<&'t Table>, ConfigError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Table(table)) => Ok(Some(table)),
            Some(other) => Err(wrong_type(&key_path(path, key), expected, other)),
        }
    }

    fn urls(&self, t: &Table, path: &str, key: &str) -> Result<Vec<String>, ConfigError> {
        self.strings(
            t,
            path,
            key,
            "an array of URL strings",
            "a string (a replica URL)",
        )
    }

    pub(super) fn strings(
        &self,
        t: &Table,
        path: &str,
        key: &str,
        expected: &'static str,
        expected_item: &'static str,
    ) -> Result<Vec<String>, ConfigError> {
        self.array(t, path, key, expected, |item, at| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(wrong_type(&at, expected_item, other)),
        })
    }

    /// An array at `key` (absent: empty), each item converted by `item` with its key path.
    pub(super) fn array<T>(
        &self,
        t: &Table,
        path: &str,
        key: &str,
        expected: &'static str,
        item: impl Fn(&Value, String) -> Result<T, ConfigError>,
    ) -> Result<Vec<T>, ConfigError> {
        let child = key_path(path, key);
        match t.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| item(v, index_path(&child, i)))
                .collect(),
            Some(other) => Err(wrong_type(&child, expected, other)),
        }
    }
    pub(super) fn boolean(
        &self,
        t: &Table,
        path: &str,
        key: &str,
    ) -> Result<Option<bool>, ConfigError> {
        let child = key_path(path, key);
        if self.unknown(&child) {
            return Ok(None);
        }
        match t.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if self.interpolated.contains(&child) => match s.trim() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(ConfigError::new(
                    child,
                    ConfigErrorKind::InvalidInterpolatedValue {
                        expected: "a boolean (true or false)",
                        value: s.clone(),
                    },
                )),
            },
            Some(other) => Err(wrong_type(&child, "a boolean (true or false)", other)),
        }
    }

    pub(super) fn integer_u32(
        &self,
        t: &Table,
        path: &str,
        key: &str,
    ) -> Result<Option<u32>, ConfigError> {
        let child = key_path(path, key);
        if self.unknown(&child) {
            return Ok(None);
        }
        let n = match t.get(key) {
            None => return Ok(None),
            Some(Value::Integer(n)) => *n,
            Some(Value::String(s)) if self.interpolated.contains(&child) => {
                s.trim().parse::<i64>().map_err(|_| {
                    ConfigError::new(
                        child.clone(),
                        ConfigErrorKind::InvalidInterpolatedValue {
                            expected: "an integer",
                            value: s.clone(),
                        },
                    )
                })?
            }
            Some(other) => return Err(wrong_type(&child, "an integer", other)),
        };
        u32::try_from(n).map(Some).map_err(|_| {
            ConfigError::new(
                child,
                ConfigErrorKind::IntegerOutOfRange {
                    value: n,
                    min: 0,
                    max: i64::from(u32::MAX),
                },
            )
        })
    }

    /// `Some(None)` when disabled (`"none"` or `false`, only if `allow_none`).
    pub(super) fn duration(
        &self,
        t: &Table,
        path: &str,
        key: &str,
        allow_none: bool,
    ) -> Result<Option<Option<Duration>>, ConfigError> {
        let child = key_path(path, key);
        let error = |kind| Err(ConfigError::new(child.clone(), kind));
        let invalid = |value: String| error(ConfigErrorKind::InvalidDuration { value });
        let Some(value) = t.get(key) else {
            return Ok(None);
        };
        if self.unknown(&child) {
            return Ok(None);
        }
        if is_none(value) {
            return if allow_none {
                Ok(Some(None))
            } else {
                error(ConfigErrorKind::CannotDisable)
            };
        }
        match value {
            Value::Integer(n) => match u64::try_from(*n) {
                Ok(secs) => Ok(Some(Some(Duration::from_secs(secs)))),
                Err(_) => invalid(n.to_string()),
            },
            Value::Boolean(b) => invalid(b.to_string()),
            Value::String(s) => match parse_duration(s) {
                Some(d) => Ok(Some(Some(d))),
                None => invalid(s.clone()),
            },
            other => Err(wrong_type(
                &child,
                "a duration such as \"5s\" or an integer number of seconds",
                other,
            )),
        }
    }
}

/// `"none"` or `"off"` (any case), or `false`: a disabled timeout.
fn is_none(value: &Value) -> bool {
    match value {
        Value::Boolean(false) => true,
        Value::String(s) => {
            let s = s.trim();
            s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("off")
        }
        _ => false,
    }
}

fn sorted_keys(table: &Table) -> Vec<&str> {
    let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

pub(super) fn wrong_type(path: &str, expected: &'static str, found: &Value) -> ConfigError {
    let found = match found {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    };
    ConfigError::new(path, ConfigErrorKind::WrongType { expected, found })
}
