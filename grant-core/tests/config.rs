//! Tests of the configuration layer: valid documents and builders, every kind of invalid
//! input (exact key and kind), and a deterministic garbage generator that must never panic.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use grant_core::config::{
    Config, ConfigError, ConfigErrorKind, DatabaseConfig, PoolConfig, ShardConfig,
};
use grant_core::Backend;

const FULL: &str = r#"
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

fn no_vars(_: &str) -> Option<String> {
    None
}

fn parse(toml: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str_with(toml, "development", &no_vars)
}

fn parse_env(toml: &str, env: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_toml_str_with(toml, env, &move |name| vars.get(name).cloned())
}

/// Asserts that `result` is an error at `key` whose kind satisfies `check`, and that the
/// message names the key.
#[track_caller]
fn assert_error(
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
fn invalid(toml: &str, key: &str, check: impl FnOnce(&ConfigErrorKind) -> bool) -> ConfigError {
    assert_error(parse(toml), key, check)
}

fn pg(db: &str) -> String {
    format!("[databases.{db}]\nurl = \"postgres://127.0.0.1:5432/{db}\"\n")
}

// ---------------------------------------------------------------------------------------
// Valid configurations
// ---------------------------------------------------------------------------------------

#[test]
fn full_example_development() {
    let config = parse(FULL).unwrap();
    assert_eq!(config.environment(), "development");
    assert_eq!(config.default_database(), "primary");
    let names: Vec<&str> = config.databases().map(|(n, _)| n).collect();
    assert_eq!(names, ["primary", "primary_analytics", "primary_replica"]);

    let primary = config.database("primary").unwrap();
    assert_eq!(primary.url, "postgres://127.0.0.1:5432/app");
    assert_eq!(primary.backend, Backend::Postgres);
    assert_eq!(primary.replicas, ["postgres://127.0.0.1:5433/app"]);
    assert_eq!(primary.replica_of, None);
    assert!(!primary.readonly);
    assert_eq!(
        primary.migrations,
        Some(PathBuf::from("migrations/primary"))
    );
    assert_eq!(primary.roles.get("analytics").unwrap(), "primary_analytics");
    assert_eq!(
        primary.pool,
        PoolConfig {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            test_before_acquire: false,
        }
    );
    assert_eq!(
        primary.shards.get("shard_one").unwrap(),
        &ShardConfig::new("postgres://127.0.0.1:5432/shard_1")
            .replica("postgres://127.0.0.1:5433/shard_1")
    );

    let replica = config.database("primary_replica").unwrap();
    assert_eq!(replica.replica_of.as_deref(), Some("primary"));
    assert!(replica.readonly, "a replica_of entry is read-only");
    assert_eq!(replica.pool, PoolConfig::default());
    assert!(config.database("missing").is_none());
}

#[test]
fn full_example_test_environment_with_default_and_variable() {
    let config = parse_env(FULL, "test", &[]).unwrap();
    assert_eq!(config.environment(), "test");
    let primary = config.database("primary").unwrap();
    assert_eq!(primary.url, "sqlite::memory:");
    assert_eq!(primary.backend, Backend::Sqlite);
    assert!(
        primary.replicas.is_empty(),
        "arrays are replaced, not merged"
    );
    // Untouched keys come from the base tables.
    assert_eq!(primary.pool.acquire_timeout, Duration::from_secs(5));
    assert_eq!(primary.roles.len(), 1);

    let config = parse_env(FULL, "test", &[("DATABASE_URL", "sqlite://ci.db")]).unwrap();
    assert_eq!(config.database("primary").unwrap().url, "sqlite://ci.db");

    // An environment without a table uses the base tables.
    let config = parse_env(FULL, "production", &[]).unwrap();
    assert_eq!(config.environment(), "production");
    assert_eq!(
        config.database("primary").unwrap().backend,
        Backend::Postgres
    );
}

#[test]
fn interpolation_forms() {
    let toml = r#"
        [databases.primary]
        url = "postgres://${DB_USER:-app}:${DB_PASS}@${DB_HOST:-localhost}:${DB_PORT:-5432}/app"
        migrations = "$$HOME/${MIGRATIONS:-${FALLBACK:-db/migrate}}"
        replicas = ["${REPLICA_URL:-postgres://replica/app}"]
        [databases.primary.pool]
        max_connections = "${POOL_SIZE:-7}"
        test_before_acquire = "${PING:-true}"
        acquire_timeout = "${ACQUIRE:-1m30s}"
    "#;
    let config = parse_env(toml, "development", &[("DB_PASS", "p$w"), ("DB_HOST", "")]).unwrap();
    let primary = config.database("primary").unwrap();
    assert_eq!(primary.url, "postgres://app:p$w@localhost:5432/app");
    assert_eq!(primary.migrations, Some(PathBuf::from("$HOME/db/migrate")));
    assert_eq!(primary.replicas, ["postgres://replica/app"]);
    assert_eq!(primary.pool.max_connections, 7);
    assert!(primary.pool.test_before_acquire);
    assert_eq!(primary.pool.acquire_timeout, Duration::from_secs(90));
    assert!(
        !format!("{config:?}").contains("p$w"),
        "Debug hides passwords"
    );
}

#[test]
fn duration_forms() {
    let cases: [(&str, Option<Duration>); 9] = [
        ("\"250ms\"", Some(Duration::from_millis(250))),
        ("\"5s\"", Some(Duration::from_secs(5))),
        ("\"10m\"", Some(Duration::from_secs(600))),
        ("\"1h\"", Some(Duration::from_secs(3600))),
        ("\"1h30m\"", Some(Duration::from_secs(5400))),
        ("\"2m30s500ms\"", Some(Duration::from_millis(150_500))),
        ("45", Some(Duration::from_secs(45))),
        ("\"none\"", None),
        ("false", None),
    ];
    for (text, expected) in cases {
        let toml = format!(
            "{}[databases.db.pool]\nidle_timeout = {text}\nmax_lifetime = {text}\n",
            pg("db")
        );
        let config = parse(&toml).unwrap_or_else(|e| panic!("{text}: {e}"));
        let pool = &config.database("db").unwrap().pool;
        assert_eq!(pool.idle_timeout, expected, "{text}");
        assert_eq!(pool.max_lifetime, expected, "{text}");
    }
    let toml = format!("{}[databases.db.pool]\nacquire_timeout = 3\n", pg("db"));
    let config = parse(&toml).unwrap();
    assert_eq!(
        config.database("db").unwrap().pool.acquire_timeout,
        Duration::from_secs(3)
    );
}

#[test]
fn single_database() {
    let config = Config::single("sqlite://app.db").unwrap();
    assert_eq!(config.default_database(), "primary");
    let primary = config.database("primary").unwrap();
    assert_eq!(primary, &DatabaseConfig::new("sqlite://app.db"));
    assert_eq!(primary.backend, Backend::Sqlite);
    assert!(primary.replicas.is_empty());
    assert_eq!(config.databases().count(), 1);

    let err = Config::single("").unwrap_err();
    assert_eq!(err.key, "databases.primary.url");
    assert_eq!(err.kind, ConfigErrorKind::EmptyUrl);
}

#[test]
fn builder() {
    let config = Config::builder()
        .database(
            "primary",
            DatabaseConfig::new("postgres://u:secret@127.0.0.1:5432/app")
                .replica("postgresql://u:secret@127.0.0.1:5433/app")
                .migrations("migrations/primary")
                .role("analytics", "analytics")
                .shard(
                    "shard_one",
                    ShardConfig::new("postgres://127.0.0.1/s1").replica("postgres://r/s1"),
                )
                .pool(PoolConfig {
                    max_connections: 4,
                    min_connections: 4,
                    ..PoolConfig::default()
                }),
        )
        .database(
            "analytics",
            DatabaseConfig::new("mysql://127.0.0.1/analytics"),
        )
        .database(
            "primary_replica",
            DatabaseConfig::new("postgres://127.0.0.1:5433/app").replica_of("primary"),
        )
        .environment("staging")
        .build()
        .unwrap();
    assert_eq!(config.default_database(), "primary");
    assert_eq!(config.environment(), "staging");
    assert_eq!(
        config.database("analytics").unwrap().backend,
        Backend::MySql
    );
    assert!(config.database("primary_replica").unwrap().readonly);
    let cloned = config.clone();
    assert_eq!(cloned, config);
    let debug = format!("{config:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(debug.contains("u:***@127.0.0.1"), "{debug}");

    // The explicit default wins; with neither one entry nor `primary`, one is required.
    let config = Config::builder()
        .database("a", DatabaseConfig::new("sqlite::memory:"))
        .database("b", DatabaseConfig::new("sqlite::memory:"))
        .default_database("b")
        .build()
        .unwrap();
    assert_eq!(config.default_database(), "b");

    // A backend set by hand is replaced by the one derived from the URL.
    let mut db = DatabaseConfig::new("sqlite::memory:");
    db.backend = Backend::Postgres;
    let config = Config::builder().database("x", db).build().unwrap();
    assert_eq!(config.database("x").unwrap().backend, Backend::Sqlite);
}

#[test]
fn default_rules() {
    let one = parse(&pg("main")).unwrap();
    assert_eq!(one.default_database(), "main");
    let two = parse(&format!("{}{}", pg("primary"), pg("other"))).unwrap();
    assert_eq!(two.default_database(), "primary");
}

#[test]
fn from_file_and_from_toml_str() {
    let dir = std::env::temp_dir().join(format!("grant-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("grant.toml");
    std::fs::write(&path, pg("primary")).unwrap();
    let expected_env = std::env::var("GRANT_ENV")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "development".to_string());

    let config = Config::from_file(&path).unwrap();
    assert_eq!(config.environment(), expected_env.trim());
    assert_eq!(config.default_database(), "primary");

    let config = Config::from_toml_str(&pg("primary")).unwrap();
    assert_eq!(
        config.database("primary").unwrap().backend,
        Backend::Postgres
    );

    std::fs::write(&path, "[databases.primary\nurl = 1").unwrap();
    let err = Config::from_file(&path).unwrap_err();
    assert_eq!(err.key, path.display().to_string());
    assert!(matches!(
        err.kind,
        ConfigErrorKind::Syntax { line: Some(1), .. }
    ));

    let missing = dir.join("missing.toml");
    let err = Config::from_file(&missing).unwrap_err();
    assert_eq!(err.key, missing.display().to_string());
    assert!(matches!(
        err.kind,
        ConfigErrorKind::Io {
            io_kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
    assert!(err.to_string().contains("missing.toml"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn redacted_url() {
    assert_eq!(
        Config::redacted_url("postgres://u:p@h/db"),
        "postgres://u:***@h/db"
    );
    assert_eq!(
        Config::redacted_url("mysql://root:s3cr3t@db:3306/app?ssl-mode=required"),
        "mysql://root:***@db:3306/app?ssl-mode=required"
    );
    assert_eq!(
        Config::redacted_url("postgres://h/db?user=u&password=p"),
        "postgres://h/db?user=u&password=***"
    );
    assert_eq!(
        Config::redacted_url("postgres://u@h/db"),
        "postgres://u@h/db"
    );
    assert_eq!(Config::redacted_url("sqlite::memory:"), "sqlite::memory:");
}

// ---------------------------------------------------------------------------------------
// Invalid configurations: one test per problem, exact key and kind.
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_syntax() {
    let err = invalid("[databases.primary]\nurl = \n", "(root)", |k| {
        matches!(k, ConfigErrorKind::Syntax { line: Some(2), .. })
    });
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn invalid_duplicate_toml_key() {
    let toml = "[databases.primary]\nurl = \"sqlite::memory:\"\nurl = \"sqlite://x.db\"\n";
    invalid(
        toml,
        "(root)",
        |k| matches!(k, ConfigErrorKind::Syntax { line: Some(3), message, .. } if message.contains("duplicate")),
    );
}

#[test]
fn invalid_unknown_top_level_key() {
    let toml = format!("databse = 1\n{}", pg("primary"));
    invalid(
        &toml,
        "databse",
        |k| matches!(k, ConfigErrorKind::UnknownKey { suggestion: Some("databases"), expected } if expected.contains("environments")),
    );
}

#[test]
fn invalid_unknown_database_key_typo() {
    let toml = format!("{}replicass = []\n", pg("primary"));
    let err = invalid(&toml, "databases.primary.replicass", |k| {
        matches!(
            k,
            ConfigErrorKind::UnknownKey {
                suggestion: Some("replicas"),
                ..
            }
        )
    });
    assert!(err.to_string().contains("did you mean `replicas`"), "{err}");
}

#[test]
fn invalid_unknown_pool_key() {
    let toml = format!(
        "{}[databases.primary.pool]\nmax_conections = 5\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.max_conections", |k| {
        matches!(
            k,
            ConfigErrorKind::UnknownKey {
                suggestion: Some("max_connections"),
                ..
            }
        )
    });
}

#[test]
fn invalid_typo_in_other_environment() {
    let toml = format!(
        "{}[environments.production.databases.primary]\nurll = \"x\"\n",
        pg("primary")
    );
    invalid(
        &toml,
        "environments.production.databases.primary.urll",
        |k| {
            matches!(
                k,
                ConfigErrorKind::UnknownKey {
                    suggestion: Some("url"),
                    ..
                }
            )
        },
    );
}

#[test]
fn invalid_wrong_type_readonly() {
    let toml = format!("{}readonly = \"yes\"\n", pg("primary"));
    let err = invalid(&toml, "databases.primary.readonly", |k| {
        *k == ConfigErrorKind::WrongType {
            expected: "a boolean (true or false)",
            found: "a string",
        }
    });
    assert!(err.to_string().contains("expected a boolean"), "{err}");
}

#[test]
fn invalid_wrong_type_replica_element() {
    let toml = format!("{}replicas = [\"sqlite::memory:\", 5]\n", pg("primary"));
    invalid(&toml, "databases.primary.replicas[1]", |k| {
        matches!(
            k,
            ConfigErrorKind::WrongType {
                found: "an integer",
                ..
            }
        )
    });
}

#[test]
fn invalid_wrong_type_pool_not_table() {
    let toml = "[databases.primary]\nurl = \"sqlite::memory:\"\npool = 5\n";
    invalid(toml, "databases.primary.pool", |k| {
        matches!(
            k,
            ConfigErrorKind::WrongType {
                expected: "a table of pool options",
                found: "an integer"
            }
        )
    });
}

#[test]
fn invalid_environment_not_table() {
    let toml = format!(
        "environments = {{ test = \"sqlite::memory:\" }}\n{}",
        pg("primary")
    );
    invalid(&toml, "environments.test", |k| {
        matches!(
            k,
            ConfigErrorKind::WrongType {
                found: "a string",
                ..
            }
        )
    });
}

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
fn invalid_names() {
    invalid(
        "[databases.\"my db\"]\nurl = \"sqlite::memory:\"\n",
        "databases.\"my db\"",
        |k| matches!(k, ConfigErrorKind::InvalidName { name } if name == "my db"),
    );
    invalid(
        "[databases.\"\"]\nurl = \"sqlite::memory:\"\n",
        "databases.\"\"",
        |k| matches!(k, ConfigErrorKind::InvalidName { name } if name.is_empty()),
    );
    let toml = format!(
        "{}[databases.primary.shards.\"shard.1\"]\nurl = \"postgres://h/s\"\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.shards.\"shard.1\"", |k| {
        matches!(k, ConfigErrorKind::InvalidName { .. })
    });
    let toml = format!(
        "{}roles = {{ \"bad role\" = \"primary\" }}\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.roles.\"bad role\"", |k| {
        matches!(k, ConfigErrorKind::InvalidName { .. })
    });
}

#[test]
fn invalid_missing_variable() {
    let err = invalid(
        "[databases.primary]\nurl = \"${DATABASE_URL}\"\n",
        "databases.primary.url",
        |k| matches!(k, ConfigErrorKind::MissingVariable { variable } if variable == "DATABASE_URL"),
    );
    assert!(err.to_string().contains("DATABASE_URL"), "{err}");
}

#[test]
fn invalid_unterminated_interpolation() {
    invalid(
        "[databases.primary]\nurl = \"${DATABASE_URL:-sqlite::memory:\"\n",
        "databases.primary.url",
        |k| *k == ConfigErrorKind::UnterminatedInterpolation,
    );
}

#[test]
fn invalid_variable_name() {
    invalid(
        "[databases.primary]\nurl = \"sqlite::memory:\"\nreplicas = [\"${1BAD}\"]\n",
        "databases.primary.replicas[0]",
        |k| matches!(k, ConfigErrorKind::InvalidVariableName { name } if name == "1BAD"),
    );
}

#[test]
fn invalid_interpolated_integer() {
    let toml = format!(
        "{}[databases.primary.pool]\nmax_connections = \"${{POOL}}\"\n",
        pg("primary")
    );
    assert_error(
        parse_env(&toml, "development", &[("POOL", "ten")]),
        "databases.primary.pool.max_connections",
        |k| matches!(k, ConfigErrorKind::InvalidInterpolatedValue { value, .. } if value == "ten"),
    );
    // A literal string (no `${...}`) for an integer is a type error.
    let toml = format!(
        "{}[databases.primary.pool]\nmax_connections = \"10\"\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.max_connections", |k| {
        matches!(
            k,
            ConfigErrorKind::WrongType {
                found: "a string",
                ..
            }
        )
    });
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

// ---------------------------------------------------------------------------------------
// Garbage in, no panic out.
// ---------------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so the test needs no `rand`.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "\"",
    "'",
    "=",
    "\n",
    ".",
    ",",
    "{",
    "}",
    "$",
    "${",
    "${X",
    ":-",
    "$$",
    "#",
    "\\",
    "\\u",
    "0",
    "-1",
    "1e999",
    "true",
    "\u{0}",
    "é",
    "\u{1F600}",
    "databases",
    "primary",
    "url",
    "replica_of",
    "roles",
    "shards",
    "pool",
    "environments",
    "\"\"\"",
    "inf",
    "nan",
    "1979-05-27T07:32:00Z",
    "[databases.x]",
    "url = \"sqlite::memory:\"\n",
];

const KEYS: &[&str] = &[
    "replicas",
    "replica_of",
    "readonly",
    "migrations",
    "roles",
    "shards",
];
const POOL_KEYS: &[&str] = &[
    "max_connections",
    "min_connections",
    "acquire_timeout",
    "idle_timeout",
    "max_lifetime",
    "test_before_acquire",
];
const VALUES: &[&str] = &[
    "\"sqlite::memory:\"",
    "\"postgres://h/db\"",
    "\"mysql://u:p@h:3306/db\"",
    "\"oracle://x\"",
    "\"\"",
    "\"${V}\"",
    "\"${V:-5s}\"",
    "\"${\"",
    "\"$$\"",
    "0",
    "-1",
    "10",
    "99999999999",
    "true",
    "false",
    "\"none\"",
    "\"1h30m\"",
    "\"5 parsecs\"",
    "1.5",
    "[]",
    "[\"postgres://r/db\"]",
    "[1, 2]",
    "{ a = \"primary\" }",
    "{ reading = \"primary\" }",
    "{ s1 = { url = \"postgres://h/s1\" } }",
    "{}",
    "\"primary\"",
    "\"a\"",
    "1979-05-27",
];
/// Mostly plausible values for `key`, and now and then anything.
fn value_for<'a>(g: &mut Gen, key: &str) -> &'a str {
    if g.below(6) == 0 {
        return g.pick(VALUES);
    }
    let url = "\"sqlite::memory:\"";
    match key {
        "url" => g.pick(&[
            url,
            "\"postgres://u:p@h/db\"",
            "\"${V}\"",
            "\"${NOPE:-sqlite://a.db}\"",
        ]),
        "replicas" => g.pick(&["[]", "[\"sqlite://r.db\"]", "[\"postgres://r/db\"]"]),
        "replica_of" | "default" => g.pick(&["\"primary\"", "\"a\"", "\"b-2\"", "\"nope\""]),
        "readonly" | "test_before_acquire" => g.pick(&["true", "false"]),
        "migrations" => g.pick(&["\"db/migrate\"", "\"\""]),
        "roles" => g.pick(&["{ analytics = \"a\" }", "{ reading = \"a\" }", "{}"]),
        "shards" => g.pick(&["{ s1 = { url = \"sqlite://s1.db\" } }", "{ s1 = {} }", "{}"]),
        "max_connections" | "min_connections" => g.pick(&["0", "1", "5", "20", "\"${V:-3}\""]),
        _ => g.pick(&["\"5s\"", "\"0s\"", "\"none\"", "30", "false", "\"1h30m\""]),
    }
}

const NAMES: &[&str] = &[
    "primary",
    "a",
    "Primary",
    "my db",
    "",
    "b-2",
    "primary_replica",
];

/// `count` distinct items of `items`, in random order.
fn distinct<'a>(g: &mut Gen, items: &[&'a str], count: usize) -> Vec<&'a str> {
    let mut pool = items.to_vec();
    let mut out = Vec::new();
    while out.len() < count && !pool.is_empty() {
        out.push(pool.swap_remove(g.below(pool.len())));
    }
    out
}

/// A syntactically valid document built from pieces (distinct keys and tables), to reach
/// conversion and validation.
fn random_document(g: &mut Gen) -> String {
    let mut out = String::new();
    if g.below(3) == 0 {
        out.push_str(&format!("default = {}\n", value_for(g, "default")));
    }
    let prefixes = ["", "", "environments.test.", "environments.prod."];
    let mut tables = Vec::new();
    for prefix in prefixes {
        let count = g.below(3);
        for name in distinct(g, NAMES, count) {
            tables.push((prefix, name));
        }
    }
    for (prefix, name) in tables {
        out.push_str(&format!("[{prefix}databases.\"{name}\"]\n"));
        let count = g.below(5);
        let mut keys = distinct(g, KEYS, count);
        if g.below(6) != 0 {
            keys.push("url");
        }
        if g.below(10) == 0 {
            keys.push(g.pick(&["bogus", "default"]));
        }
        for key in keys {
            out.push_str(&format!("{key} = {}\n", value_for(g, key)));
        }
        if g.below(2) == 0 {
            out.push_str(&format!("[{prefix}databases.\"{name}\".pool]\n"));
            let count = g.below(4);
            for key in distinct(g, POOL_KEYS, count) {
                out.push_str(&format!("{key} = {}\n", value_for(g, key)));
            }
        }
    }
    out
}

/// `base` with a few random byte-level edits, made valid UTF-8 again lossily.
fn mutate(g: &mut Gen, base: &str) -> String {
    let mut bytes = base.as_bytes().to_vec();
    for _ in 0..1 + g.below(6) {
        let at = g.below(bytes.len() + 1);
        match g.below(5) {
            0 if !bytes.is_empty() => {
                let end = (at + 1 + g.below(20)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => {
                let fragment = g.pick(FRAGMENTS).as_bytes().to_vec();
                bytes.splice(at..at, fragment);
            }
            2 if at < bytes.len() => bytes[at] = (g.next() & 0xff) as u8,
            3 => bytes.truncate(at),
            _ => {
                let len = g.below(40);
                let start = g.below(bytes.len() + 1);
                let end = (start + len).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn garbage_never_panics() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let vars = |name: &str| match name {
        "V" => Some("sqlite::memory:".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let mut inputs: Vec<String> = vec![
        String::new(),
        "\u{0}".to_string(),
        "[".repeat(10_000),
        "a = ".to_string() + &"[".repeat(10_000),
        format!("[databases.p]\nurl = \"{}\"\n", "${A:-".repeat(5_000)),
        "[databases.p]\nurl = \"$\"\n".to_string(),
    ];
    for i in 0..240 {
        let input = match i % 3 {
            0 => mutate(&mut g, FULL),
            1 => random_document(&mut g),
            _ => {
                let doc = random_document(&mut g);
                mutate(&mut g, &doc)
            }
        };
        inputs.push(input);
    }
    let mut ok = 0;
    for input in &inputs {
        for env in ["development", "test", "prod", ""] {
            match Config::from_toml_str_with(input, env, &vars) {
                Ok(config) => {
                    ok += 1;
                    assert!(config.database(config.default_database()).is_some());
                    for (_, db) in config.databases() {
                        let _ = Config::redacted_url(&db.url);
                        let _ = format!("{db:?}");
                    }
                }
                Err(err) => {
                    let message = err.to_string();
                    assert!(message.contains(&format!("`{}`", err.key)), "{message}");
                }
            }
        }
        let _ = Config::redacted_url(input);
        let _ = Config::single(input);
    }
    // The generator must reach past the parser now and then.
    assert!(ok > 0, "no generated document was valid");
}
