//! Configuration tests: valid documents and builders, file loading, URL redaction.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{parse, parse_env, pg, FULL};
use grant_core::config::{Config, ConfigErrorKind, DatabaseConfig, PoolConfig, ShardConfig};
use grant_core::Backend;

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
            connect_timeout: Duration::from_secs(5),
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

    // An environment declared with an empty table uses the base tables.
    let toml = format!("{FULL}\n[environments.production]\n");
    let config = parse_env(&toml, "production", &[]).unwrap();
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

    // Relative migrations folders are resolved against the file's folder; absolute ones kept.
    std::fs::write(
        &path,
        format!(
            "{}migrations = \"db/primary\"\n{}migrations = \"/abs/other\"\n",
            pg("primary"),
            pg("other")
        ),
    )
    .unwrap();
    let config = Config::from_file(&path).unwrap();
    assert_eq!(
        config.database("primary").unwrap().migrations.as_deref(),
        Some(dir.join("db/primary").as_path())
    );
    assert_eq!(
        config.database("other").unwrap().migrations.as_deref(),
        Some(std::path::Path::new("/abs/other"))
    );
    std::fs::write(&path, pg("primary")).unwrap();

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
