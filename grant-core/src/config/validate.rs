//! Validation shared by the TOML and builder paths. Problems are reported one at a time,
//! the first in a fixed order: names, duplicates, the default, then each database in name
//! order (url, replicas, replica_of, readonly, pool, migrations, roles, shards).

use std::collections::BTreeMap;

use crate::backend::Backend;

use super::database::{DatabaseConfig, PoolConfig};
use super::error::{ConfigError, ConfigErrorKind};
use super::path::{index_path, key_path, valid_name};
use super::url::check_url;

/// Role names that come from `url` and `replicas` and cannot be declared in `roles`.
const RESERVED_ROLES: [&str; 2] = ["writing", "reading"];

/// Validates entries (in any order, possibly with duplicate names) and returns the default
/// database's name and the entries by name, each with `backend` derived from its URL.
pub(crate) fn validate(
    default: Option<String>,
    mut entries: Vec<(String, DatabaseConfig)>,
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

    let default = choose_default(default, &databases)?;

    let mut checked = BTreeMap::new();
    for (name, db) in &databases {
        let db = check_database(name, db.clone(), &databases)?;
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
) -> Result<DatabaseConfig, ConfigError> {
    let path = key_path("databases", name);
    let at = |key: &str, kind| ConfigError::new(key_path(&path, key), kind);

    db.backend = check_url(&db.url).map_err(|kind| at("url", kind))?;
    check_replicas(&db.replicas, db.backend, &key_path(&path, "replicas"))?;

    if let Some(writer) = &db.replica_of {
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
        if let Some(expected) = Backend::from_url(&target.url) {
            if expected != db.backend {
                return Err(at(
                    "url",
                    ConfigErrorKind::BackendMismatch {
                        expected,
                        found: db.backend,
                    },
                ));
            }
        }
        if !db.readonly {
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

    check_pool(&db.pool, &key_path(&path, "pool"))?;

    if let Some(migrations) = &db.migrations {
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
        if !all.contains_key(entry) {
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
        let backend = check_url(&shard.url).map_err(|kind| ConfigError::new(&url_path, kind))?;
        if backend != db.backend {
            return Err(ConfigError::new(
                url_path,
                ConfigErrorKind::BackendMismatch {
                    expected: db.backend,
                    found: backend,
                },
            ));
        }
        check_replicas(&shard.replicas, backend, &key_path(&shard_path, "replicas"))?;
    }
    Ok(db)
}

fn check_replicas(replicas: &[String], writer: Backend, path: &str) -> Result<(), ConfigError> {
    for (i, url) in replicas.iter().enumerate() {
        let at = index_path(path, i);
        let backend = check_url(url).map_err(|kind| ConfigError::new(&at, kind))?;
        if backend != writer {
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

fn check_pool(pool: &PoolConfig, path: &str) -> Result<(), ConfigError> {
    let at = |key: &str, kind| Err(ConfigError::new(key_path(path, key), kind));
    if pool.max_connections == 0 {
        return at("max_connections", ConfigErrorKind::ZeroMaxConnections);
    }
    if pool.min_connections > pool.max_connections {
        return at(
            "min_connections",
            ConfigErrorKind::MinExceedsMax {
                min: pool.min_connections,
                max: pool.max_connections,
            },
        );
    }
    if pool.acquire_timeout.is_zero() {
        return at("acquire_timeout", ConfigErrorKind::ZeroDuration);
    }
    if pool.idle_timeout.is_some_and(|d| d.is_zero()) {
        return at("idle_timeout", ConfigErrorKind::ZeroDuration);
    }
    if pool.max_lifetime.is_some_and(|d| d.is_zero()) {
        return at("max_lifetime", ConfigErrorKind::ZeroDuration);
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
