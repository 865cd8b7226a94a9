//! Helpers shared by the configuration tests (`config_*.rs`): a full example document,
//! parsing without the process environment, and exact-error assertions.

// Not every test binary uses every helper.
#![allow(dead_code)]

use std::collections::HashMap;

use grant_core::config::{Config, ConfigError, ConfigErrorKind};

pub const FULL: &str = r#"
default = "primary"              # optional

[databases.primary]
url = "postgres://127.0.0.1:5432/app"
replicas = ["postgres://127.0.0.1:5433/app"]
readonly = false
migrations = "migrations/primary"
roles = { analytics = "primary_analytics" }

[databases.primary.pool]
max_connections = 10
min_connections = 0
acquire_timeout = "5s"
idle_timeout = "10m"
max_lifetime = "30m"
test_before_acquire = false

[databases.primary.shards.shard_one]
url = "postgres://127.0.0.1:5432/shard_1"
replicas = ["postgres://127.0.0.1:5433/shard_1"]

[databases.primary_replica]
url = "postgres://127.0.0.1:5433/app"
replica_of = "primary"

[databases.primary_analytics]
url = "postgres://127.0.0.1:5434/analytics"

[environments.test]
default = "primary"
[environments.test.databases.primary]
url = "${DATABASE_URL:-sqlite::memory:}"
replicas = []
[environments.test.databases.primary.shards.shard_one]
url = "sqlite://shard_1.db"
replicas = []
[environments.test.databases.primary_replica]
url = "sqlite://replica.db"
[environments.test.databases.primary_analytics]
url = "sqlite://analytics.db"
"#;

pub fn no_vars(_: &str) -> Option<String> {
    None
}

pub fn parse(toml: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str_with(toml, "development", &no_vars)
}

pub fn parse_env(toml: &str, env: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_toml_str_with(toml, env, &move |name| vars.get(name).cloned())
}

/// Asserts that `result` is an error at `key` whose kind satisfies `check`, and that the
/// message names the key.
#[track_caller]
pub fn assert_error(
    result: Result<Config, ConfigError>,
    key: &str,
    check: impl FnOnce(&ConfigErrorKind) -> bool,
) -> ConfigError {
    let err = match result {
        Ok(config) => panic!("expected an error at `{key}`, got {config:?}"),
        Err(err) => err,
    };
    assert_eq!(err.key, key, "wrong key in {err:?}");
    assert!(check(&err.kind), "unexpected kind: {:?}", err.kind);
    let message = err.to_string();
    assert!(
        message.contains(&format!("`{key}`")),
        "message does not name the key: {message}"
    );
    err
}

#[track_caller]
pub fn invalid(toml: &str, key: &str, check: impl FnOnce(&ConfigErrorKind) -> bool) -> ConfigError {
    assert_error(parse(toml), key, check)
}

pub fn pg(db: &str) -> String {
    format!("[databases.{db}]\nurl = \"postgres://127.0.0.1:5432/{db}\"\n")
}
