//! Validation shared by the TOML and builder paths. Problems are reported one at a time,
//! the first in a fixed order: names, duplicates, the default, then each database in name
//! order (url, replicas, replica_of, readonly, pool, statement_timeout, sqlite,
//! after_connect, migrations, roles, shards).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::backend::Backend;

use super::database::{DatabaseConfig, PoolConfig};
use super::error::{ConfigError, ConfigErrorKind};
use super::path::{index_path, key_path, valid_name};
use super::replication::{Balance, Consistency};
use super::sqlite::SqliteOptions;
use super::url::check_url;

/// The most connections one pool may have.
pub(crate) const MAX_CONNECTIONS: u32 = 10_000;
/// The shortest non-zero duration of any setting (the servers count in milliseconds).
pub(crate) const MIN_DURATION: Duration = Duration::from_millis(1);
/// The longest wait: `acquire_timeout`, `connect_timeout`, `statement_timeout`,
/// `busy_timeout`.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The largest replica weight.
pub(crate) const MAX_WEIGHT: u32 = 1000;
/// The longest `replica_check_interval`.
const MAX_CHECK_INTERVAL: Duration = Duration::from_secs(3600);
/// The longest age: `idle_timeout`, `max_lifetime`.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What the document says beyond the typed entries.
pub(crate) struct Written<'a> {
    /// Paths (relative to the base tables) whose values are not known: they came from
    /// `${...}` in an environment other than the selected one. Their checks are skipped.
    pub(crate) unknown: &'a BTreeSet<String>,
    /// Databases whose document has a `[databases.<name>.sqlite]` table.
    pub(crate) sqlite_tables: &'a BTreeSet<String>,
}

static NOTHING: BTreeSet<String> = BTreeSet::new();

impl Written<'static> {
    /// Entries built in code: every value is known and there are no tables.
    pub(crate) fn code() -> Self {
        Written {
            unknown: &NOTHING,
            sqlite_tables: &NOTHING,
        }
    }
}

impl Written<'_> {
    fn unknown(&self, path: &str) -> bool {
        self.unknown.contains(path)
    }
}

/// Role names that come from `url` and `replicas` and cannot be declared in `roles`.
const RESERVED_ROLES: [&str; 2] = ["writing", "reading"];

/// Validates entries (in any order, possibly with duplicate names) and returns the default
/// database's name and the entries by name, each with `backend` derived from its URL.
pub(crate) fn validate(
    default: Option<String>,
    mut entries: Vec<(String, DatabaseConfig)>,
    written: &Written<'_>,
) -> Result<(String, BTreeMap<String, DatabaseConfig>), ConfigError> {
    if entries.is_empty() {
        return Err(ConfigError::new("databases", ConfigErrorKind::NoDatabases));
    }
    // Stable sort: of two equal names, the one added first comes first.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, _) in &entries {
        if !valid_name(name) {
            return Err(invalid_name(key_path("databases", name), name));
        }
    }
    check_unique(entries.iter().map(|(name, _)| name.as_str()), "databases")?;
    let databases: BTreeMap<String, DatabaseConfig> = entries.into_iter().collect();

    let default = if written.unknown("default") {
        // Any name will do: this configuration is only checked, never used.
        choose_default(None, &databases)
            .unwrap_or_else(|_| databases.keys().next().cloned().unwrap_or_default())
    } else {
        choose_default(default, &databases)?
    };

    let mut checked = BTreeMap::new();
    for (name, db) in &databases {
        let db = check_database(name, db.clone(), &databases, written)?;
        checked.insert(name.clone(), db);
    }
    Ok((default, checked))
}

fn choose_default(
    default: Option<String>,
    databases: &BTreeMap<String, DatabaseConfig>,
) -> Result<String, ConfigError> {
    let names = || {
        databases
            .keys()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match default {
        Some(name) if databases.contains_key(&name) => Ok(name),
        Some(name) => Err(ConfigError::new(
            "default",
            ConfigErrorKind::UnknownDefault {
                name,
                databases: names(),
            },
        )),
        None if databases.len() == 1 => Ok(databases.keys().next().cloned().unwrap_or_default()),
        None if databases.contains_key("primary") => Ok("primary".to_owned()),
        None => Err(ConfigError::new(
            "default",
            ConfigErrorKind::NoDefault { databases: names() },
        )),
    }
}

fn check_database(
    name: &str,
    mut db: DatabaseConfig,
    all: &BTreeMap<String, DatabaseConfig>,
    written: &Written<'_>,
) -> Result<DatabaseConfig, ConfigError> {
    let path = key_path("databases", name);
    let at = |key: &str, kind| ConfigError::new(key_path(&path, key), kind);
    let unknown = |key: &str| written.unknown(&key_path(&path, key));

    // `None`: the URL is not known (see `Written::unknown`), so neither is the engine.
    let backend = if unknown("url") {
        None
    } else {
        Some(check_url(&db.url).map_err(|kind| at("url", kind))?)
    };
    if let Some(backend) = backend {
        db.backend = backend;
    }
    check_replicas(&db.replicas, backend, &key_path(&path, "replicas"), written)?;

    if let Some(writer) = db.replica_of.as_ref().filter(|_| !unknown("replica_of")) {
        if writer == name {
            return Err(at("replica_of", ConfigErrorKind::ReplicaOfSelf));
        }
        let Some(target) = all.get(writer) else {
            return Err(at(
                "replica_of",
                ConfigErrorKind::UnknownReplicaOf {
                    name: writer.clone(),
                },
            ));
        };
        if let Some(of) = &target.replica_of {
            return Err(at(
                "replica_of",
                ConfigErrorKind::ReplicaOfReplica {
                    name: writer.clone(),
                    of: of.clone(),
                },
            ));
        }
        // The writer's own URL problems are reported at the writer.
        let target_url = key_path(&key_path("databases", writer), "url");
        let expected = Backend::from_url(&target.url).filter(|_| !written.unknown(&target_url));
        if let (Some(expected), Some(found)) = (expected, backend) {
            if expected != found {
                return Err(at(
                    "url",
                    ConfigErrorKind::BackendMismatch { expected, found },
                ));
            }
        }
        if !db.readonly && !unknown("readonly") {
            return Err(at("readonly", ConfigErrorKind::ReplicaNotReadonly));
        }
        if !db.shards.is_empty() {
            return Err(at(
                "shards",
                ConfigErrorKind::ShardsOnReplica {
                    replica_of: writer.clone(),
                },
            ));
        }
    }

    check_pool(&db.pool, &key_path(&path, "pool"), written)?;
    if let Some(timeout) = db
        .statement_timeout
        .filter(|_| !unknown("statement_timeout"))
    {
        check_duration(timeout, MAX_TIMEOUT, false)
            .map_err(|kind| at("statement_timeout", kind))?;
    }
    check_replication(&db, backend, &path, written)?;
    check_sqlite(name, &db, backend, written)?;
    for (i, sql) in db.after_connect.iter().enumerate() {
        let item = index_path(&key_path(&path, "after_connect"), i);
        if sql.trim().is_empty() && !written.unknown(&item) {
            return Err(ConfigError::new(item, ConfigErrorKind::EmptyStatement));
        }
    }

    if let Some(migrations) = db.migrations.as_ref().filter(|_| !unknown("migrations")) {
        if migrations.as_os_str().is_empty() {
            return Err(at("migrations", ConfigErrorKind::EmptyPath));
        }
    }

    let roles_path = key_path(&path, "roles");
    for (role, entry) in &db.roles {
        let role_path = key_path(&roles_path, role);
        if !valid_name(role) {
            return Err(invalid_name(role_path, role));
        }
        if RESERVED_ROLES.iter().any(|r| r.eq_ignore_ascii_case(role)) {
            return Err(ConfigError::new(
                role_path,
                ConfigErrorKind::ReservedRole { role: role.clone() },
            ));
        }
        if !all.contains_key(entry) && !written.unknown(&role_path) {
            return Err(ConfigError::new(
                role_path,
                ConfigErrorKind::UnknownRoleTarget {
                    entry: entry.clone(),
                },
            ));
        }
    }
    check_unique(db.roles.keys().map(String::as_str), &roles_path)?;

    let shards_path = key_path(&path, "shards");
    for shard_name in db.shards.keys() {
        if !valid_name(shard_name) {
            return Err(invalid_name(key_path(&shards_path, shard_name), shard_name));
        }
    }
    check_unique(db.shards.keys().map(String::as_str), &shards_path)?;
    for (shard_name, shard) in &db.shards {
        let shard_path = key_path(&shards_path, shard_name);
        let url_path = key_path(&shard_path, "url");
        let shard_backend = if written.unknown(&url_path) {
            None
        } else {
            let found = check_url(&shard.url).map_err(|kind| ConfigError::new(&url_path, kind))?;
            if let Some(expected) = backend.filter(|b| *b != found) {
                return Err(ConfigError::new(
                    url_path,
                    ConfigErrorKind::BackendMismatch { expected, found },
                ));
            }
            Some(found)
        };
        check_replicas(
            &shard.replicas,
            shard_backend.or(backend),
            &key_path(&shard_path, "replicas"),
            written,
        )?;
    }
    super::ids::check(&db.ids, &key_path(&path, "ids"))?;
    if let Some(sharding) = &db.sharding {
        let names: Vec<&str> = db.shards.keys().map(String::as_str).collect();
        super::sharding::check(sharding, &names, &key_path(&path, "sharding"))?;
    }
    Ok(db)
}

/// SQLite options only on SQLite databases (a `[sqlite]` table, or options that differ
/// from the defaults in code), and their durations bounded.
fn check_sqlite(
    name: &str,
    db: &DatabaseConfig,
    backend: Option<Backend>,
    written: &Written<'_>,
) -> Result<(), ConfigError> {
    let sqlite_path = key_path(&key_path("databases", name), "sqlite");
    let declared = written.sqlite_tables.contains(name) || db.sqlite != SqliteOptions::default();
    if let Some(backend) = backend.filter(|b| *b != Backend::Sqlite && declared) {
        return Err(ConfigError::new(
            sqlite_path,
            ConfigErrorKind::SqliteOptionsOnOtherEngine { backend },
        ));
    }
    let busy = key_path(&sqlite_path, "busy_timeout");
    if !written.unknown(&busy) {
        check_duration(db.sqlite.busy_timeout, MAX_TIMEOUT, true)
            .map_err(|kind| ConfigError::new(busy, kind))?;
    }
    Ok(())
}

/// Each replica URL valid and of the writer's engine (when that is known).
fn check_replicas(
    replicas: &[String],
    writer: Option<Backend>,
    path: &str,
    written: &Written<'_>,
) -> Result<(), ConfigError> {
    for (i, url) in replicas.iter().enumerate() {
        let at = index_path(path, i);
        if written.unknown(&at) {
            continue;
        }
        let backend = check_url(url).map_err(|kind| ConfigError::new(&at, kind))?;
        if let Some(writer) = writer.filter(|w| *w != backend) {
            return Err(ConfigError::new(
                at,
                ConfigErrorKind::BackendMismatch {
                    expected: writer,
                    found: backend,
                },
            ));
        }
    }
    Ok(())
}

/// Every pool setting within its bounds (see the module documentation of `config`).
fn check_pool(pool: &PoolConfig, path: &str, written: &Written<'_>) -> Result<(), ConfigError> {
    let key = |name: &str| key_path(path, name);
    let unknown = |name: &str| written.unknown(&key(name));
    let at = |name: &str, kind| Err(ConfigError::new(key(name), kind));
    if !unknown("max_connections") {
        if pool.max_connections == 0 {
            return at("max_connections", ConfigErrorKind::ZeroMaxConnections);
        }
        if pool.max_connections > MAX_CONNECTIONS {
            return at(
                "max_connections",
                ConfigErrorKind::IntegerOutOfRange {
                    value: i64::from(pool.max_connections),
                    min: 1,
                    max: i64::from(MAX_CONNECTIONS),
                },
            );
        }
    }
    if pool.min_connections > pool.max_connections
        && !unknown("min_connections")
        && !unknown("max_connections")
    {
        return at(
            "min_connections",
            ConfigErrorKind::MinExceedsMax {
                min: pool.min_connections,
                max: pool.max_connections,
            },
        );
    }
    let durations = [
        ("acquire_timeout", Some(pool.acquire_timeout), MAX_TIMEOUT),
        ("connect_timeout", Some(pool.connect_timeout), MAX_TIMEOUT),
        ("idle_timeout", pool.idle_timeout, MAX_LIFETIME),
        ("max_lifetime", pool.max_lifetime, MAX_LIFETIME),
    ];
    for (name, value, max) in durations {
        if let Some(value) = value.filter(|_| !unknown(name)) {
            if let Err(kind) = check_duration(value, max, false) {
                return at(name, kind);
            }
        }
    }
    Ok(())
}

/// Replica settings: bounds, causal mode only where positions exist, weights.
fn check_replication(
    db: &DatabaseConfig,
    backend: Option<Backend>,
    path: &str,
    written: &Written<'_>,
) -> Result<(), ConfigError> {
    let r = &db.replication;
    let at = |key: &str, kind| ConfigError::new(key_path(path, key), kind);
    let known = |key: &str| !written.unknown(&key_path(path, key));
    if known("replica_delay") {
        check_duration(r.replica_delay, MAX_TIMEOUT, true).map_err(|k| at("replica_delay", k))?;
    }
    if known("causal_wait") {
        check_duration(r.causal_wait, MAX_TIMEOUT, true).map_err(|k| at("causal_wait", k))?;
    }
    if let Some(lag) = r
        .max_replication_lag
        .filter(|_| known("max_replication_lag"))
    {
        check_duration(lag, MAX_TIMEOUT, false).map_err(|k| at("max_replication_lag", k))?;
    }
    if known("replica_check_interval") {
        check_duration(r.replica_check_interval, MAX_CHECK_INTERVAL, false)
            .map_err(|k| at("replica_check_interval", k))?;
    }
    if let (Some(_), Some(Backend::Sqlite), true) =
        (r.max_replication_lag, backend, known("max_replication_lag"))
    {
        return Err(at(
            "max_replication_lag",
            ConfigErrorKind::LagUnsupported {
                backend: Backend::Sqlite,
            },
        ));
    }
    if let (Consistency::Causal, Some(Backend::Sqlite), true) =
        (r.consistency, backend, known("consistency"))
    {
        return Err(at(
            "consistency",
            ConfigErrorKind::CausalUnsupported {
                backend: Backend::Sqlite,
            },
        ));
    }
    let weighted = r.balance == Balance::Weighted;
    let check_weights = |weights: &[u32], replicas: usize, key: String| {
        if weights.is_empty() {
            return Ok(());
        }
        if !weighted {
            return Err(ConfigError::new(
                key,
                ConfigErrorKind::WeightsWithoutWeighted,
            ));
        }
        if weights.len() != replicas {
            return Err(ConfigError::new(
                key,
                ConfigErrorKind::WeightsMismatch {
                    weights: weights.len(),
                    replicas,
                },
            ));
        }
        for (i, w) in weights.iter().enumerate() {
            if *w == 0 || *w > MAX_WEIGHT {
                return Err(ConfigError::new(
                    index_path(&key, i),
                    ConfigErrorKind::IntegerOutOfRange {
                        value: i64::from(*w),
                        min: 1,
                        max: i64::from(MAX_WEIGHT),
                    },
                ));
            }
        }
        Ok(())
    };
    if known("replica_weights") {
        check_weights(
            &db.replica_weights,
            db.replicas.len(),
            key_path(path, "replica_weights"),
        )?;
    }
    for (name, shard) in &db.shards {
        let key = key_path(
            &key_path(&key_path(path, "shards"), name),
            "replica_weights",
        );
        if !written.unknown(&key) {
            check_weights(&shard.replica_weights, shard.replicas.len(), key)?;
        }
    }
    Ok(())
}

/// A duration from [`MIN_DURATION`] to `max`, or zero when `zero_allowed`.
fn check_duration(
    value: Duration,
    max: Duration,
    zero_allowed: bool,
) -> Result<(), ConfigErrorKind> {
    if value.is_zero() {
        return if zero_allowed {
            Ok(())
        } else {
            Err(ConfigErrorKind::ZeroDuration)
        };
    }
    if value < MIN_DURATION || value > max {
        return Err(ConfigErrorKind::DurationOutOfRange {
            value,
            min: MIN_DURATION,
            max,
        });
    }
    Ok(())
}

/// Reports the first name (in sorted order) equal, or equal ignoring ASCII case, to an
/// earlier one. `names` must be sorted.
fn check_unique<'a>(names: impl Iterator<Item = &'a str>, parent: &str) -> Result<(), ConfigError> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for name in names {
        if let Some(other) = seen.get(&name.to_ascii_lowercase()) {
            return Err(ConfigError::new(
                key_path(parent, name),
                ConfigErrorKind::Duplicate {
                    name: name.to_owned(),
                    other: (*other).to_owned(),
                },
            ));
        }
        seen.insert(name.to_ascii_lowercase(), name);
    }
    Ok(())
}

fn invalid_name(key: String, name: &str) -> ConfigError {
    ConfigError::new(
        key,
        ConfigErrorKind::InvalidName {
            name: name.to_owned(),
        },
    )
}
