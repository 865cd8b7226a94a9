//! Configuration tests: `statement_timeout`, `connect_timeout`, `after_connect` and
//! `[databases.<name>.sqlite]`: parsing, inheritance by shards and environments, and their
//! errors (exact key and kind).

mod common;

use std::time::Duration;

use common::{assert_error, invalid, parse, parse_env, pg};
use grant_core::config::{
    Config, ConfigErrorKind, DatabaseConfig, JournalMode, PoolConfig, SqliteOptions, Synchronous,
    DEFAULT_STATEMENT_TIMEOUT,
};
use grant_core::Backend;

fn sqlite(db: &str) -> String {
    format!("[databases.{db}]\nurl = \"sqlite://{db}.db\"\n")
}

#[test]
fn defaults_when_absent() {
    let config = parse(&pg("primary")).unwrap();
    let db = config.database("primary").unwrap();
    assert_eq!(db.statement_timeout, Some(DEFAULT_STATEMENT_TIMEOUT));
    assert_eq!(db.statement_timeout, Some(Duration::from_secs(30)));
    assert_eq!(db.pool.connect_timeout, Duration::from_secs(5));
    assert_eq!(db.pool.acquire_timeout, Duration::from_secs(10));
    assert_eq!(db.sqlite, SqliteOptions::default());
    assert!(db.after_connect.is_empty());
    assert!(db.on_connect.is_none());
}

#[test]
fn every_new_key_parsed() {
    let toml = r#"
        [databases.primary]
        url = "sqlite://app.db"
        statement_timeout = "1m30s"
        after_connect = ["PRAGMA cache_size = -4000", "PRAGMA temp_store = memory"]

        [databases.primary.pool]
        connect_timeout = "750ms"

        [databases.primary.sqlite]
        journal_mode = "WAL"
        synchronous = "normal"
        busy_timeout = "2s"
        foreign_keys = false
    "#;
    let config = parse(toml).unwrap();
    let db = config.database("primary").unwrap();
    assert_eq!(db.statement_timeout, Some(Duration::from_secs(90)));
    assert_eq!(
        db.after_connect,
        ["PRAGMA cache_size = -4000", "PRAGMA temp_store = memory"]
    );
    assert_eq!(db.pool.connect_timeout, Duration::from_millis(750));
    assert_eq!(
        db.sqlite,
        SqliteOptions {
            journal_mode: Some(JournalMode::Wal),
            synchronous: Some(Synchronous::Normal),
            busy_timeout: Duration::from_secs(2),
            foreign_keys: false,
        }
    );
}

#[test]
fn every_journal_mode_and_synchronous_level() {
    for (text, mode) in [
        ("delete", JournalMode::Delete),
        ("Truncate", JournalMode::Truncate),
        ("PERSIST", JournalMode::Persist),
        ("memory", JournalMode::Memory),
        ("wal", JournalMode::Wal),
        ("off", JournalMode::Off),
    ] {
        let toml = format!(
            "{}[databases.a.sqlite]\njournal_mode = \"{text}\"\n",
            sqlite("a")
        );
        let config = parse(&toml).unwrap();
        assert_eq!(
            config.database("a").unwrap().sqlite.journal_mode,
            Some(mode)
        );
    }
    for (text, level) in [
        ("off", Synchronous::Off),
        ("NORMAL", Synchronous::Normal),
        ("full", Synchronous::Full),
        ("extra", Synchronous::Extra),
    ] {
        let toml = format!(
            "{}[databases.a.sqlite]\nsynchronous = \"{text}\"\n",
            sqlite("a")
        );
        let config = parse(&toml).unwrap();
        assert_eq!(
            config.database("a").unwrap().sqlite.synchronous,
            Some(level)
        );
    }
}

#[test]
fn statement_timeout_off_forms() {
    for off in ["\"off\"", "\"OFF\"", "\"none\"", "false"] {
        let toml = format!("{}statement_timeout = {off}\n", pg("primary"));
        let config = parse(&toml).unwrap_or_else(|e| panic!("{off}: {e}"));
        assert_eq!(config.database("primary").unwrap().statement_timeout, None);
    }
    let toml = format!("{}statement_timeout = 12\n", pg("primary"));
    let config = parse(&toml).unwrap();
    assert_eq!(
        config.database("primary").unwrap().statement_timeout,
        Some(Duration::from_secs(12))
    );
}

#[test]
fn interpolated_new_keys() {
    let toml = r#"
        [databases.primary]
        url = "sqlite://app.db"
        statement_timeout = "${STMT:-off}"
        after_connect = ["${INIT:-PRAGMA cache_size = -2000}"]
        [databases.primary.pool]
        connect_timeout = "${CONNECT:-3s}"
        [databases.primary.sqlite]
        journal_mode = "${JOURNAL:-delete}"
        foreign_keys = "${FK:-false}"
        busy_timeout = "${BUSY:-0s}"
    "#;
    let config = parse_env(toml, "development", &[("CONNECT", "8s")]).unwrap();
    let db = config.database("primary").unwrap();
    assert_eq!(db.statement_timeout, None);
    assert_eq!(db.after_connect, ["PRAGMA cache_size = -2000"]);
    assert_eq!(db.pool.connect_timeout, Duration::from_secs(8));
    assert_eq!(db.sqlite.journal_mode, Some(JournalMode::Delete));
    assert!(!db.sqlite.foreign_keys);
    assert_eq!(db.sqlite.busy_timeout, Duration::ZERO);
}

#[test]
fn shards_and_replica_entries_share_the_database_settings() {
    let toml = r#"
        [databases.primary]
        url = "sqlite://app.db"
        statement_timeout = "5s"
        after_connect = ["PRAGMA cache_size = -2000"]
        [databases.primary.sqlite]
        journal_mode = "delete"
        [databases.primary.shards.s1]
        url = "sqlite://s1.db"
    "#;
    let config = parse(toml).unwrap();
    let db = config.database("primary").unwrap();
    // A shard is a URL (and replicas) of its database: everything else is the database's.
    assert_eq!(db.shards.len(), 1);
    assert_eq!(db.statement_timeout, Some(Duration::from_secs(5)));
    assert_eq!(db.sqlite.journal_mode, Some(JournalMode::Delete));
    // Shards have no keys of their own for these settings.
    let toml = format!("{toml}statement_timeout = \"1s\"\n");
    invalid(
        &toml,
        "databases.primary.shards.s1.statement_timeout",
        |k| matches!(k, ConfigErrorKind::UnknownKey { .. }),
    );
}

#[test]
fn environment_overrides_new_keys() {
    let toml = r#"
        [databases.primary]
        url = "sqlite://app.db"
        after_connect = ["PRAGMA cache_size = -2000"]
        [databases.primary.sqlite]
        journal_mode = "wal"
        busy_timeout = "1s"

        [environments.test.databases.primary]
        statement_timeout = "off"
        after_connect = []
        [environments.test.databases.primary.sqlite]
        busy_timeout = "9s"
    "#;
    let dev = parse(toml).unwrap();
    let dev = dev.database("primary").unwrap();
    assert_eq!(dev.statement_timeout, Some(DEFAULT_STATEMENT_TIMEOUT));
    assert_eq!(dev.sqlite.busy_timeout, Duration::from_secs(1));
    let test = parse_env(toml, "test", &[]).unwrap();
    let test = test.database("primary").unwrap();
    assert_eq!(test.statement_timeout, None);
    assert!(test.after_connect.is_empty(), "arrays are replaced");
    // Tables merge key by key.
    assert_eq!(test.sqlite.journal_mode, Some(JournalMode::Wal));
    assert_eq!(test.sqlite.busy_timeout, Duration::from_secs(9));
}

#[test]
fn builder_sets_new_fields() {
    let config = Config::builder()
        .database(
            "primary",
            DatabaseConfig::new("sqlite::memory:")
                .statement_timeout(None)
                .after_connect("PRAGMA cache_size = -2000")
                .sqlite(SqliteOptions {
                    journal_mode: Some(JournalMode::Memory),
                    ..SqliteOptions::default()
                })
                .pool(PoolConfig {
                    connect_timeout: Duration::from_secs(2),
                    ..PoolConfig::default()
                }),
        )
        .build()
        .unwrap();
    let db = config.database("primary").unwrap();
    assert_eq!(db.statement_timeout, None);
    assert_eq!(db.after_connect, ["PRAGMA cache_size = -2000"]);
    assert_eq!(db.pool.connect_timeout, Duration::from_secs(2));
    assert_eq!(db.backend, Backend::Sqlite);
}

#[test]
fn invalid_unknown_new_keys_suggest() {
    let toml = format!("{}statment_timeout = \"5s\"\n", pg("primary"));
    invalid(&toml, "databases.primary.statment_timeout", |k| {
        matches!(
            k,
            ConfigErrorKind::UnknownKey {
                suggestion: Some("statement_timeout"),
                ..
            }
        )
    });
    let toml = format!("{}after_conect = []\n", pg("primary"));
    invalid(&toml, "databases.primary.after_conect", |k| {
        matches!(
            k,
            ConfigErrorKind::UnknownKey {
                suggestion: Some("after_connect"),
                ..
            }
        )
    });
    let toml = format!(
        "{}[databases.a.pool]\nconect_timeout = \"5s\"\n",
        sqlite("a")
    );
    invalid(&toml, "databases.a.pool.conect_timeout", |k| {
        matches!(
            k,
            ConfigErrorKind::UnknownKey {
                suggestion: Some("connect_timeout"),
                ..
            }
        )
    });
    let toml = format!(
        "{}[databases.a.sqlite]\njournalmode = \"wal\"\n",
        sqlite("a")
    );
    invalid(&toml, "databases.a.sqlite.journalmode", |k| {
        matches!(k, ConfigErrorKind::UnknownKey { suggestion: Some("journal_mode"), expected }
            if expected == "busy_timeout, foreign_keys, journal_mode, synchronous")
    });
    let toml = format!(
        "{}[environments.test.databases.a.sqlite]\nbusy_timout = 1\n",
        sqlite("a")
    );
    invalid(
        &toml,
        "environments.test.databases.a.sqlite.busy_timout",
        |k| {
            matches!(
                k,
                ConfigErrorKind::UnknownKey {
                    suggestion: Some("busy_timeout"),
                    ..
                }
            )
        },
    );
}

#[test]
fn invalid_types_of_new_keys() {
    let cases: [(&str, &str, &str); 8] = [
        (
            "statement_timeout = 1.5",
            "databases.a.statement_timeout",
            "a float",
        ),
        (
            "statement_timeout = []",
            "databases.a.statement_timeout",
            "an array",
        ),
        (
            "after_connect = \"PRAGMA x\"",
            "databases.a.after_connect",
            "a string",
        ),
        (
            "after_connect = [\"PRAGMA x\", 3]",
            "databases.a.after_connect[1]",
            "an integer",
        ),
        ("sqlite = 5", "databases.a.sqlite", "an integer"),
        (
            "sqlite = { journal_mode = 1 }",
            "databases.a.sqlite.journal_mode",
            "an integer",
        ),
        (
            "sqlite = { foreign_keys = \"yes\" }",
            "databases.a.sqlite.foreign_keys",
            "a string",
        ),
        (
            "pool = { connect_timeout = true }",
            "databases.a.pool.connect_timeout",
            "a boolean",
        ),
    ];
    for (line, key, found) in cases {
        let toml = format!("{}{line}\n", sqlite("a"));
        let kind = common::parse(&toml).unwrap_err().kind;
        match found {
            "a boolean" => assert!(
                matches!(&kind, ConfigErrorKind::InvalidDuration { value } if value == "true"),
                "{line}: {kind:?}"
            ),
            _ => assert!(
                matches!(&kind, ConfigErrorKind::WrongType { found: f, .. } if *f == found),
                "{line}: {kind:?}"
            ),
        }
        invalid(&toml, key, |_| true);
    }
}

#[test]
fn invalid_choices() {
    let toml = format!(
        "{}[databases.a.sqlite]\njournal_mode = \"wall\"\n",
        sqlite("a")
    );
    let err = invalid(&toml, "databases.a.sqlite.journal_mode", |k| {
        matches!(k, ConfigErrorKind::InvalidChoice { value, expected }
            if value == "wall" && expected.contains("wal"))
    });
    assert!(err.to_string().contains("delete, truncate"), "{err}");
    let toml = format!(
        "{}[databases.a.sqlite]\nsynchronous = \"${{SYNC:-sometimes}}\"\n",
        sqlite("a")
    );
    invalid(
        &toml,
        "databases.a.sqlite.synchronous",
        |k| matches!(k, ConfigErrorKind::InvalidChoice { value, .. } if value == "sometimes"),
    );
}

#[test]
fn invalid_connect_timeout_disabled() {
    let toml = format!(
        "{}[databases.primary.pool]\nconnect_timeout = \"off\"\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.connect_timeout", |k| {
        *k == ConfigErrorKind::CannotDisable
    });
    let toml = format!(
        "{}[databases.a.sqlite]\nbusy_timeout = false\n",
        sqlite("a")
    );
    invalid(&toml, "databases.a.sqlite.busy_timeout", |k| {
        *k == ConfigErrorKind::CannotDisable
    });
}

#[test]
fn invalid_sqlite_options_on_other_engines() {
    let toml = format!(
        "{}[databases.primary.sqlite]\njournal_mode = \"wal\"\n",
        pg("primary")
    );
    let err = invalid(&toml, "databases.primary.sqlite", |k| {
        *k == ConfigErrorKind::SqliteOptionsOnOtherEngine {
            backend: Backend::Postgres,
        }
    });
    assert!(err.to_string().contains("sqlite:"), "{err}");
    // Even an empty table, and on MariaDB.
    let toml = "[databases.m]\nurl = \"mysql://127.0.0.1/m\"\n[databases.m.sqlite]\n";
    invalid(toml, "databases.m.sqlite", |k| {
        *k == ConfigErrorKind::SqliteOptionsOnOtherEngine {
            backend: Backend::MySql,
        }
    });
    // Written in an environment: reported there.
    let toml = format!(
        "{}[environments.test.databases.primary.sqlite]\nforeign_keys = true\n",
        pg("primary")
    );
    invalid(&toml, "environments.test.databases.primary.sqlite", |k| {
        matches!(k, ConfigErrorKind::SqliteOptionsOnOtherEngine { .. })
    });
    // In code: options other than the defaults.
    let result = Config::builder()
        .database(
            "primary",
            DatabaseConfig::new("postgres://127.0.0.1/app").sqlite(SqliteOptions {
                foreign_keys: false,
                ..SqliteOptions::default()
            }),
        )
        .build();
    assert_error(result, "databases.primary.sqlite", |k| {
        matches!(k, ConfigErrorKind::SqliteOptionsOnOtherEngine { .. })
    });
    // The defaults themselves are fine on any engine.
    Config::builder()
        .database("primary", DatabaseConfig::new("postgres://127.0.0.1/app"))
        .build()
        .unwrap();
}

#[test]
fn invalid_blank_after_connect() {
    for blank in ["\"\"", "\"   \"", "\"\\n\\t\""] {
        let toml = format!(
            "{}after_connect = [\"SET search_path TO app\", {blank}]\n",
            pg("primary")
        );
        invalid(&toml, "databases.primary.after_connect[1]", |k| {
            *k == ConfigErrorKind::EmptyStatement
        });
    }
    let toml = format!("{}after_connect = [\"${{INIT}}\"]\n", pg("primary"));
    let err = parse_env(&toml, "development", &[("INIT", "")]).unwrap_err();
    assert_eq!(err.key, "databases.primary.after_connect[0]");
    assert_eq!(err.kind, ConfigErrorKind::EmptyStatement);
    let result = Config::builder()
        .database(
            "primary",
            DatabaseConfig::new("sqlite::memory:").after_connect(" "),
        )
        .build();
    assert_error(result, "databases.primary.after_connect[0]", |k| {
        *k == ConfigErrorKind::EmptyStatement
    });
}
