//! From TOML text to typed entries: syntax, the key schema (unknown keys are errors),
//! environment selection and merging, and conversion of every value to its type.
//! Interpolation (in `interpolate.rs`) runs between merging and conversion.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use toml::{Table, Value};

use super::database::{DatabaseConfig, PoolConfig, ShardConfig};
use super::duration::parse_duration;
use super::error::{ConfigError, ConfigErrorKind};
use super::path::{index_path, key_path};

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
        ("idle_timeout", Leaf),
        ("max_connections", Leaf),
        ("max_lifetime", Leaf),
        ("min_connections", Leaf),
        ("test_before_acquire", Leaf),
    ],
    "a table of pool options",
);
const SHARD: Shape = Keys(
    &[("replicas", Leaf), ("url", Leaf)],
    "a shard table with a `url`",
);
const DATABASE: Shape = Keys(
    &[
        ("migrations", Leaf),
        ("pool", POOL),
        ("readonly", Leaf),
        ("replica_of", Leaf),
        ("replicas", Leaf),
        ("roles", Map(&Leaf, "a table of role = \"database\" pairs")),
        ("shards", Map(&SHARD, "a table of shards")),
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

/// Removes `environments` and deep-merges `environments.<environment>` (if present) over
/// the base tables: tables merge key by key, any other value (arrays included) replaces.
pub(crate) fn select_environment(mut root: Table, environment: &str) -> Table {
    if let Some(Value::Table(mut environments)) = root.remove("environments") {
        match environments.remove(environment) {
            Some(Value::Table(overrides)) => merge(&mut root, overrides),
            _ => tracing::debug!(
                environment,
                "grant config: no [environments.{environment}] table; using the base tables"
            ),
        }
    }
    root
}

fn merge(base: &mut Table, overrides: Table) {
    for (key, value) in overrides {
        let value = match (base.get_mut(&key), value) {
            (Some(Value::Table(base_table)), Value::Table(over_table)) => {
                merge(base_table, over_table);
                continue;
            }
            (_, value) => value,
        };
        base.insert(key, value);
    }
}

/// The typed content of a document, before validation.
pub(crate) struct Parsed {
    pub(crate) default: Option<String>,
    pub(crate) databases: Vec<(String, DatabaseConfig)>,
}

/// Converts a merged, interpolated document to typed entries. `interpolated` holds the
/// paths of strings that came from `${...}`: such strings are accepted for integer and
/// boolean fields when they parse as one.
pub(crate) fn convert(
    root: &Table,
    interpolated: &BTreeSet<String>,
) -> Result<Parsed, ConfigError> {
    let fields = Fields { interpolated };
    let default = fields.string(root, "", "default", "a string naming a database")?;
    let mut databases = Vec::new();
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
            databases.push((name.to_owned(), fields.database(entry, &path)?));
        }
    }
    Ok(Parsed { default, databases })
}

struct Fields<'a> {
    interpolated: &'a BTreeSet<String>,
}

impl Fields<'_> {
    fn database(&self, t: &Table, path: &str) -> Result<DatabaseConfig, ConfigError> {
        let url = self.required_url(t, path)?;
        let mut db = DatabaseConfig::new(url);
        db.replicas = self.urls(t, path, "replicas")?;
        db.replica_of = self.string(t, path, "replica_of", "a string naming a database")?;
        let readonly = self.boolean(t, path, "readonly")?;
        db.readonly = readonly.unwrap_or(db.replica_of.is_some());
        if let Some(pool) = self.table(t, path, "pool", "a table of pool options")? {
            db.pool = self.pool(pool, &key_path(path, "pool"))?;
        }
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
                db.shards.insert(name.to_owned(), config);
            }
        }
        Ok(db)
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

    fn required_url(&self, t: &Table, path: &str) -> Result<String, ConfigError> {
        self.string(t, path, "url", "a string (a connection URL)")?
            .ok_or_else(|| ConfigError::new(key_path(path, "url"), ConfigErrorKind::MissingUrl))
    }

    fn string(
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

    fn table<'t>(
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
        let child = key_path(path, key);
        match t.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong_type(
                        &index_path(&child, i),
                        "a string (a replica URL)",
                        other,
                    )),
                })
                .collect(),
            Some(other) => Err(wrong_type(&child, "an array of URL strings", other)),
        }
    }

    fn boolean(&self, t: &Table, path: &str, key: &str) -> Result<Option<bool>, ConfigError> {
        let child = key_path(path, key);
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

    fn integer_u32(&self, t: &Table, path: &str, key: &str) -> Result<Option<u32>, ConfigError> {
        let child = key_path(path, key);
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
    fn duration(
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

/// `"none"` (any case) or `false`: a disabled timeout.
fn is_none(value: &Value) -> bool {
    match value {
        Value::Boolean(false) => true,
        Value::String(s) => s.trim().eq_ignore_ascii_case("none"),
        _ => false,
    }
}

fn sorted_keys(table: &Table) -> Vec<&str> {
    let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn wrong_type(path: &str, expected: &'static str, found: &Value) -> ConfigError {
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
