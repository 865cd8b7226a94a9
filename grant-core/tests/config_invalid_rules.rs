//! Configuration tests: well-formed documents that break a rule (defaults, URLs,
//! durations, replicas, roles, pool sizes, shards, builder), one test per problem, exact
//! key and kind.

mod common;

use std::time::Duration;

use common::{assert_error, invalid, pg};
use grant_core::config::{Config, ConfigErrorKind, DatabaseConfig, PoolConfig};
use grant_core::Backend;

#[test]
fn invalid_no_databases() {
    invalid("", "databases", |k| *k == ConfigErrorKind::NoDatabases);
    invalid("[databases]\n", "databases", |k| {
        *k == ConfigErrorKind::NoDatabases
    });
}

#[test]
fn invalid_unknown_default() {
    let toml = format!("default = \"primry\"\n{}", pg("primary"));
    invalid(
        &toml,
        "default",
        |k| matches!(k, ConfigErrorKind::UnknownDefault { name, databases } if name == "primry" && databases == "`primary`"),
    );
}

#[test]
fn invalid_no_default() {
    let toml = format!("{}{}", pg("animals"), pg("orders"));
    let err = invalid(
        &toml,
        "default",
        |k| matches!(k, ConfigErrorKind::NoDefault { databases } if databases == "`animals`, `orders`"),
    );
    assert!(err.to_string().contains("default = "), "{err}");
}

#[test]
fn invalid_missing_url() {
    invalid(
        "[databases.primary]\nreadonly = true\n",
        "databases.primary.url",
        |k| *k == ConfigErrorKind::MissingUrl,
    );
}

#[test]
fn invalid_empty_url() {
    invalid(
        "[databases.primary]\nurl = \"\"\n",
        "databases.primary.url",
        |k| *k == ConfigErrorKind::EmptyUrl,
    );
}

#[test]
fn invalid_unparsable_url() {
    let err = invalid(
        "[databases.primary]\nurl = \"postgres:u:secret@host/db\"\n",
        "databases.primary.url",
        |k| matches!(k, ConfigErrorKind::InvalidUrl { .. }),
    );
    assert!(!err.to_string().contains("secret"), "{err}");
    invalid(
        "[databases.primary]\nurl = \"postgres://host:port/db\"\n",
        "databases.primary.url",
        |k| matches!(k, ConfigErrorKind::InvalidUrl { .. }),
    );
    invalid(
        "[databases.primary]\nurl = \"127.0.0.1:5432\"\n",
        "databases.primary.url",
        |k| matches!(k, ConfigErrorKind::InvalidUrl { .. }),
    );
}

#[test]
fn invalid_unknown_scheme() {
    let err = invalid(
        "[databases.primary]\nurl = \"oracle://db/app\"\n",
        "databases.primary.url",
        |k| matches!(k, ConfigErrorKind::UnknownScheme { scheme } if scheme == "oracle"),
    );
    assert!(err.to_string().contains(Backend::SCHEMES), "{err}");
}

#[test]
fn invalid_bad_duration() {
    let toml = format!(
        "{}[databases.primary.pool]\nacquire_timeout = \"5 parsecs\"\n",
        pg("primary")
    );
    invalid(
        &toml,
        "databases.primary.pool.acquire_timeout",
        |k| matches!(k, ConfigErrorKind::InvalidDuration { value } if value == "5 parsecs"),
    );
    let toml = format!(
        "{}[databases.primary.pool]\nidle_timeout = -5\n",
        pg("primary")
    );
    invalid(
        &toml,
        "databases.primary.pool.idle_timeout",
        |k| matches!(k, ConfigErrorKind::InvalidDuration { value } if value == "-5"),
    );
    let toml = format!(
        "{}[databases.primary.pool]\nmax_lifetime = 1.5\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.max_lifetime", |k| {
        matches!(
            k,
            ConfigErrorKind::WrongType {
                found: "a float",
                ..
            }
        )
    });
}

#[test]
fn invalid_acquire_timeout_disabled() {
    let toml = format!(
        "{}[databases.primary.pool]\nacquire_timeout = \"none\"\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.acquire_timeout", |k| {
        *k == ConfigErrorKind::CannotDisable
    });
}

#[test]
fn invalid_zero_acquire_timeout() {
    let toml = format!(
        "{}[databases.primary.pool]\nacquire_timeout = \"0s\"\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.acquire_timeout", |k| {
        *k == ConfigErrorKind::ZeroDuration
    });
}

#[test]
fn invalid_replica_of_other_engine() {
    let toml = format!("{}replicas = [\"mysql://127.0.0.1/app\"]\n", pg("primary"));
    invalid(&toml, "databases.primary.replicas[0]", |k| {
        *k == ConfigErrorKind::BackendMismatch {
            expected: Backend::Postgres,
            found: Backend::MySql,
        }
    });
}

#[test]
fn invalid_replica_of_entry_other_engine() {
    let toml = format!(
        "{}[databases.primary_replica]\nurl = \"sqlite://r.db\"\nreplica_of = \"primary\"\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary_replica.url", |k| {
        *k == ConfigErrorKind::BackendMismatch {
            expected: Backend::Postgres,
            found: Backend::Sqlite,
        }
    });
}

#[test]
fn invalid_replica_of_unknown() {
    let toml = format!("{}replica_of = \"primay\"\n", pg("replica"));
    invalid(
        &toml,
        "databases.replica.replica_of",
        |k| matches!(k, ConfigErrorKind::UnknownReplicaOf { name } if name == "primay"),
    );
}

#[test]
fn invalid_replica_of_self() {
    let toml = format!("{}replica_of = \"primary\"\n", pg("primary"));
    invalid(&toml, "databases.primary.replica_of", |k| {
        *k == ConfigErrorKind::ReplicaOfSelf
    });
}

#[test]
fn invalid_replica_of_a_replica() {
    let toml = format!(
        "{}{}replica_of = \"primary\"\n{}replica_of = \"r1\"\n",
        pg("primary"),
        pg("r1"),
        pg("r2")
    );
    invalid(
        &toml,
        "databases.r2.replica_of",
        |k| matches!(k, ConfigErrorKind::ReplicaOfReplica { name, of } if name == "r1" && of == "primary"),
    );
}

#[test]
fn invalid_replica_of_not_readonly() {
    let toml = format!(
        "{}{}replica_of = \"primary\"\nreadonly = false\n",
        pg("primary"),
        pg("primary_replica")
    );
    invalid(&toml, "databases.primary_replica.readonly", |k| {
        *k == ConfigErrorKind::ReplicaNotReadonly
    });
}

#[test]
fn invalid_role_unknown_entry() {
    let toml = format!("{}roles = {{ analytics = \"warehouse\" }}\n", pg("primary"));
    invalid(
        &toml,
        "databases.primary.roles.analytics",
        |k| matches!(k, ConfigErrorKind::UnknownRoleTarget { entry } if entry == "warehouse"),
    );
}

#[test]
fn invalid_reserved_role() {
    let toml = format!(
        "{}{}roles = {{ reading = \"other\" }}\n",
        pg("other"),
        pg("primary")
    );
    invalid(
        &toml,
        "databases.primary.roles.reading",
        |k| matches!(k, ConfigErrorKind::ReservedRole { role } if role == "reading"),
    );
    let toml = format!(
        "{}{}roles = {{ Writing = \"other\" }}\n",
        pg("other"),
        pg("primary")
    );
    invalid(&toml, "databases.primary.roles.Writing", |k| {
        matches!(k, ConfigErrorKind::ReservedRole { .. })
    });
}

#[test]
fn invalid_builder_duplicate() {
    let result = Config::builder()
        .database("primary", DatabaseConfig::new("sqlite::memory:"))
        .database("primary", DatabaseConfig::new("sqlite://other.db"))
        .build();
    assert_error(
        result,
        "databases.primary",
        |k| matches!(k, ConfigErrorKind::Duplicate { name, other } if name == "primary" && other == "primary"),
    );
}

#[test]
fn invalid_database_names_differing_in_case() {
    let toml = format!("{}{}", pg("Primary"), pg("primary"));
    invalid(
        &toml,
        "databases.primary",
        |k| matches!(k, ConfigErrorKind::Duplicate { name, other } if name == "primary" && other == "Primary"),
    );
}

#[test]
fn invalid_zero_max_connections() {
    let toml = format!(
        "{}[databases.primary.pool]\nmax_connections = 0\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.max_connections", |k| {
        *k == ConfigErrorKind::ZeroMaxConnections
    });
}

#[test]
fn invalid_negative_max_connections() {
    let toml = format!(
        "{}[databases.primary.pool]\nmax_connections = -3\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.max_connections", |k| {
        matches!(k, ConfigErrorKind::IntegerOutOfRange { value: -3, .. })
    });
}

#[test]
fn invalid_min_exceeds_max() {
    let toml = format!(
        "{}[databases.primary.pool]\nmax_connections = 5\nmin_connections = 6\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.min_connections", |k| {
        *k == ConfigErrorKind::MinExceedsMax { min: 6, max: 5 }
    });
}

#[test]
fn invalid_shard_missing_url() {
    let toml = format!(
        "{}[databases.primary.shards.shard_one]\nreplicas = []\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.shards.shard_one.url", |k| {
        *k == ConfigErrorKind::MissingUrl
    });
}

#[test]
fn invalid_shard_other_engine() {
    let toml = format!(
        "{}[databases.primary.shards.s1]\nurl = \"mysql://127.0.0.1/s1\"\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.shards.s1.url", |k| {
        matches!(
            k,
            ConfigErrorKind::BackendMismatch {
                found: Backend::MySql,
                ..
            }
        )
    });
}

#[test]
fn invalid_shard_on_replica_entry() {
    let toml = format!(
        "{}{}replica_of = \"primary\"\n[databases.primary_replica.shards.s1]\nurl = \"postgres://h/s1\"\n",
        pg("primary"),
        pg("primary_replica")
    );
    invalid(
        &toml,
        "databases.primary_replica.shards",
        |k| matches!(k, ConfigErrorKind::ShardsOnReplica { replica_of } if replica_of == "primary"),
    );
}

#[test]
fn invalid_empty_migrations_path() {
    let toml = format!("{}migrations = \"\"\n", pg("primary"));
    invalid(&toml, "databases.primary.migrations", |k| {
        *k == ConfigErrorKind::EmptyPath
    });
}

#[test]
fn invalid_builder_uses_same_rules() {
    let result = Config::builder()
        .database(
            "primary",
            DatabaseConfig::new("sqlite::memory:").pool(PoolConfig {
                acquire_timeout: Duration::ZERO,
                ..PoolConfig::default()
            }),
        )
        .build();
    assert_error(result, "databases.primary.pool.acquire_timeout", |k| {
        *k == ConfigErrorKind::ZeroDuration
    });
    let result = Config::builder().build();
    assert_error(result, "databases", |k| *k == ConfigErrorKind::NoDatabases);
    let result = Config::builder()
        .database("primary", DatabaseConfig::new("sqlite::memory:"))
        .default_database("nope")
        .build();
    assert_error(result, "default", |k| {
        matches!(k, ConfigErrorKind::UnknownDefault { .. })
    });
}

#[test]
fn first_problem_in_sorted_order() {
    // Both `a` and `b` are invalid; `a` is reported, whatever the order in the file.
    let toml = "default = \"a\"\n[databases.b]\nurl = \"oracle://x\"\n[databases.a]\nurl = \"\"\n";
    invalid(toml, "databases.a.url", |k| *k == ConfigErrorKind::EmptyUrl);
}
