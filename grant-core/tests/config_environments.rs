//! Configuration tests: every environment is validated at load time, problems are reported
//! at the key as written, and an unknown environment is an error naming the known ones.

mod common;

use common::{parse, parse_env, pg};
use grant_core::config::{Config, ConfigError, ConfigErrorKind};
use grant_core::Backend;

#[track_caller]
fn error_in(toml: &str, env: &str, vars: &[(&str, &str)]) -> ConfigError {
    match parse_env(toml, env, vars) {
        Ok(config) => panic!("expected an error in {env}, got {config:?}"),
        Err(err) => {
            assert!(err.to_string().contains(&format!("`{}`", err.key)), "{err}");
            err
        }
    }
}

const BAD_TEST_POOL: &str = r#"
[databases.primary]
url = "sqlite://app.db"

[environments.test.databases.primary.pool]
max_connections = 4294967295
"#;

#[test]
fn bad_value_in_another_environment_fails_in_development() {
    for env in ["development", "test"] {
        let err = error_in(BAD_TEST_POOL, env, &[]);
        assert_eq!(
            err.key, "environments.test.databases.primary.pool.max_connections",
            "selected {env}"
        );
        assert!(matches!(
            err.kind,
            ConfigErrorKind::IntegerOutOfRange {
                value: 4_294_967_295,
                ..
            }
        ));
    }
}

#[test]
fn each_kind_of_problem_reported_at_the_environment_key() {
    let base = pg("primary");
    let cases: [(&str, &str); 9] = [
        (
            "[environments.test.databases.primary.pool]\nacquire_timeout = 9223372036854775807\n",
            "environments.test.databases.primary.pool.acquire_timeout",
        ),
        (
            "[environments.test.databases.primary.pool]\nmin_connections = 11\n",
            "environments.test.databases.primary.pool.min_connections",
        ),
        (
            "[environments.test.databases.primary]\nreadonly = \"yes\"\n",
            "environments.test.databases.primary.readonly",
        ),
        (
            "[environments.test.databases.primary]\nreplicas = [\"mysql://h/app\"]\n",
            "environments.test.databases.primary.replicas[0]",
        ),
        (
            "[environments.test.databases.primary]\nurl = \"oracle://h/app\"\n",
            "environments.test.databases.primary.url",
        ),
        (
            "[environments.test]\ndefault = \"nope\"\n",
            "environments.test.default",
        ),
        (
            "[environments.test.databases.extra]\nreadonly = true\n",
            "environments.test.databases.extra.url",
        ),
        (
            "[environments.test.databases.primary_replica]\nurl = \"postgres://h/r\"\nreplica_of = \"primry\"\n",
            "environments.test.databases.primary_replica.replica_of",
        ),
        (
            "[environments.test.databases.primary]\nafter_connect = [\"\"]\n",
            "environments.test.databases.primary.after_connect[0]",
        ),
    ];
    for (overrides, key) in cases {
        let toml = format!("{base}{overrides}");
        for env in ["development", "test"] {
            let err = error_in(&toml, env, &[]);
            assert_eq!(err.key, key, "selected {env}: {err}");
        }
    }
}

#[test]
fn problems_of_base_values_stay_at_the_base_key() {
    // The base value is bad and the test environment does not touch it.
    let toml = format!(
        "{}[databases.primary.pool]\nidle_timeout = \"0s\"\n[environments.test.databases.primary]\nreadonly = false\n",
        pg("primary")
    );
    for env in ["development", "test"] {
        let err = error_in(&toml, env, &[]);
        assert_eq!(err.key, "databases.primary.pool.idle_timeout");
        assert_eq!(err.kind, ConfigErrorKind::ZeroDuration);
    }
    // The test environment repairs it, but development (the base) stays broken.
    let toml = format!(
        "{}[databases.primary.pool]\nidle_timeout = \"0s\"\n[environments.test.databases.primary.pool]\nidle_timeout = \"1m\"\n",
        pg("primary")
    );
    let err = error_in(&toml, "test", &[]);
    assert_eq!(err.key, "databases.primary.pool.idle_timeout");
}

#[test]
fn the_selected_environment_is_reported_first() {
    let toml = r#"
        [databases.primary]
        url = "sqlite://app.db"
        [environments.staging.databases.primary.pool]
        max_connections = 0
        [environments.test.databases.primary.pool]
        min_connections = 99
    "#;
    let err = error_in(toml, "test", &[]);
    assert_eq!(
        err.key,
        "environments.test.databases.primary.pool.min_connections"
    );
    let err = error_in(toml, "development", &[]);
    assert_eq!(
        err.key,
        "environments.staging.databases.primary.pool.max_connections"
    );
}

const PRODUCTION_FROM_VARIABLES: &str = r#"
[databases.primary]
url = "sqlite://dev.db"

[environments.test.databases.primary]
url = "sqlite::memory:"

[environments.production.databases.primary]
url = "${DATABASE_URL}"
replicas = ["${REPLICA_URL}", "postgres://replica-2/app"]
[environments.production.databases.primary.pool]
max_connections = "${POOL_SIZE}"
min_connections = 5
"#;

#[test]
fn values_from_variables_are_checked_only_in_the_selected_environment() {
    // Development: production's variables are unset here, and production's URL is not
    // known, so neither its engine (the literal postgres replica is not a mismatch) nor its
    // pool size (min_connections = 5 is not compared with an unknown maximum).
    let config = parse_env(PRODUCTION_FROM_VARIABLES, "development", &[]).unwrap();
    assert_eq!(config.database("primary").unwrap().url, "sqlite://dev.db");
    // Set for development's process, they do not make production fail either.
    parse_env(
        PRODUCTION_FROM_VARIABLES,
        "test",
        &[("DATABASE_URL", "mysql://h/app"), ("POOL_SIZE", "2")],
    )
    .unwrap();

    // Selected, production's values are checked, at production's keys.
    let vars = [
        ("POOL_SIZE", "20"),
        ("REPLICA_URL", "postgres://replica-1/app"),
    ];
    let err = error_in(PRODUCTION_FROM_VARIABLES, "production", &vars);
    assert_eq!(err.key, "environments.production.databases.primary.url");
    assert!(
        matches!(&err.kind, ConfigErrorKind::MissingVariable { variable } if variable == "DATABASE_URL")
    );
    let vars = [
        ("DATABASE_URL", "postgres://db/app"),
        ("REPLICA_URL", "postgres://replica-1/app"),
        ("POOL_SIZE", "20000"),
    ];
    let err = error_in(PRODUCTION_FROM_VARIABLES, "production", &vars);
    assert_eq!(
        err.key,
        "environments.production.databases.primary.pool.max_connections"
    );
    let vars = [
        ("DATABASE_URL", "postgres://db/app"),
        ("REPLICA_URL", "mysql://replica-1/app"),
        ("POOL_SIZE", "20"),
    ];
    let err = error_in(PRODUCTION_FROM_VARIABLES, "production", &vars);
    assert_eq!(
        err.key,
        "environments.production.databases.primary.replicas[0]"
    );
    let vars = [
        ("DATABASE_URL", "postgres://db/app"),
        ("REPLICA_URL", "postgres://replica-1/app"),
        ("POOL_SIZE", "20"),
    ];
    let config = parse_env(PRODUCTION_FROM_VARIABLES, "production", &vars).unwrap();
    let primary = config.database("primary").unwrap();
    assert_eq!(primary.backend, Backend::Postgres);
    assert_eq!(primary.pool.max_connections, 20);
    assert_eq!(primary.pool.min_connections, 5);
}

#[test]
fn interpolation_syntax_is_checked_in_every_environment() {
    let toml = format!(
        "{}[environments.production.databases.primary]\nurl = \"${{DATABASE_URL\"\n",
        pg("primary")
    );
    let err = error_in(&toml, "development", &[]);
    assert_eq!(err.key, "environments.production.databases.primary.url");
    assert_eq!(err.kind, ConfigErrorKind::UnterminatedInterpolation);
}

#[test]
fn unknown_environment_names_the_known_ones() {
    let toml = format!(
        "{}[environments.test]\n[environments.production.databases.primary]\nreadonly = false\n",
        pg("primary")
    );
    for name in ["producton", "Production", "prod", "", " test"] {
        let err = error_in(&toml, name, &[]);
        assert_eq!(
            err.kind,
            ConfigErrorKind::UnknownEnvironment {
                name: name.to_owned(),
                known: "`development`, `production`, `test`".to_owned(),
            }
        );
        assert!(err.key.starts_with("environments."), "{}", err.key);
        assert!(err.to_string().contains("`production`"), "{err}");
    }
    // Known: the declared ones (even empty) and development, with or without a table.
    for name in ["development", "test", "production"] {
        assert_eq!(parse_env(&toml, name, &[]).unwrap().environment(), name);
    }
    // Without any [environments], only development.
    let err = error_in(&pg("primary"), "test", &[]);
    assert_eq!(err.key, "environments.test");
    assert!(
        matches!(&err.kind, ConfigErrorKind::UnknownEnvironment { known, .. } if known == "`development`")
    );
    assert!(parse(&pg("primary")).is_ok());
}

#[test]
fn environments_in_code_are_free() {
    // A configuration built in code has no [environments] to check a name against.
    let config = Config::builder()
        .database(
            "primary",
            grant_core::config::DatabaseConfig::new("sqlite::memory:"),
        )
        .environment("anything")
        .build()
        .unwrap();
    assert_eq!(config.environment(), "anything");
}
