//! Configuration tests: every numeric and duration setting is bounded and a value out of
//! bounds is a typed error naming its key, never a panic (fixed cases for each bound, then
//! property tests over random values, in TOML and in code).

mod common;

use std::time::Duration;

use common::{assert_error, invalid, parse, pg};
use grant_core::config::{Config, ConfigErrorKind, DatabaseConfig, PoolConfig, SqliteOptions};
use proptest::prelude::*;

const DAY: Duration = Duration::from_secs(86_400);
const YEAR: Duration = Duration::from_secs(365 * 86_400);
const MS: Duration = Duration::from_millis(1);

/// Each duration key: its table (`""` for the database table), the largest value allowed,
/// and whether zero is allowed.
const DURATION_KEYS: [(&str, &str, Duration, bool); 6] = [
    ("pool", "acquire_timeout", DAY, false),
    ("pool", "connect_timeout", DAY, false),
    ("pool", "idle_timeout", YEAR, false),
    ("pool", "max_lifetime", YEAR, false),
    ("", "statement_timeout", DAY, false),
    ("sqlite", "busy_timeout", DAY, true),
];

/// A SQLite database `a` with `key = value` in `table`.
fn doc(table: &str, key: &str, value: &str) -> String {
    let header = if table.is_empty() {
        String::new()
    } else {
        format!("[databases.a.{table}]\n")
    };
    format!("[databases.a]\nurl = \"sqlite://a.db\"\n{header}{key} = {value}\n")
}

fn key_of(table: &str, key: &str) -> String {
    if table.is_empty() {
        format!("databases.a.{key}")
    } else {
        format!("databases.a.{table}.{key}")
    }
}

/// `d` as a TOML duration string in milliseconds.
fn ms(d: Duration) -> String {
    format!("\"{}ms\"", d.as_millis())
}

#[test]
fn issue_values_are_errors_not_crashes() {
    let toml = format!(
        "{}[databases.primary.pool]\nacquire_timeout = 9223372036854775807\n",
        pg("primary")
    );
    let err = invalid(&toml, "databases.primary.pool.acquire_timeout", |k| {
        matches!(k, ConfigErrorKind::DurationOutOfRange { value, min, max }
            if *value == Duration::from_secs(i64::MAX as u64) && *min == MS && *max == DAY)
    });
    assert!(err.to_string().contains("expected from 1ms to 1d"), "{err}");
    let toml = format!(
        "{}[databases.primary.pool]\nmax_connections = 4294967295\n",
        pg("primary")
    );
    let err = invalid(&toml, "databases.primary.pool.max_connections", |k| {
        *k == ConfigErrorKind::IntegerOutOfRange {
            value: 4_294_967_295,
            min: 1,
            max: 10_000,
        }
    });
    assert!(err.to_string().contains("from 1 to 10000"), "{err}");
    // Above u32 too.
    let toml = format!(
        "{}[databases.primary.pool]\nmin_connections = 9223372036854775807\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.min_connections", |k| {
        matches!(k, ConfigErrorKind::IntegerOutOfRange { .. })
    });
}

#[test]
fn max_connections_bounds() {
    for (value, ok) in [("1", true), ("10000", true), ("10001", false), ("0", false)] {
        let toml = format!(
            "{}[databases.primary.pool]\nmax_connections = {value}\n",
            pg("primary")
        );
        match parse(&toml) {
            Ok(config) => {
                assert!(ok, "{value} accepted");
                let n: u32 = value.parse().unwrap();
                assert_eq!(config.database("primary").unwrap().pool.max_connections, n);
            }
            Err(err) => {
                assert!(!ok, "{value}: {err}");
                assert_eq!(err.key, "databases.primary.pool.max_connections");
            }
        }
    }
}

#[test]
fn every_duration_bound_in_toml() {
    for (table, key, max, zero_ok) in DURATION_KEYS {
        let path = key_of(table, key);
        // The largest value is allowed, one millisecond more is not.
        parse(&doc(table, key, &ms(max))).unwrap_or_else(|e| panic!("{path}: {e}"));
        let err = parse(&doc(table, key, &ms(max + MS))).unwrap_err();
        assert_eq!(err.key, path);
        assert_eq!(
            err.kind,
            ConfigErrorKind::DurationOutOfRange {
                value: max + MS,
                min: MS,
                max
            }
        );
        // The smallest, and zero.
        parse(&doc(table, key, "\"1ms\"")).unwrap_or_else(|e| panic!("{path}: {e}"));
        let zero = parse(&doc(table, key, "\"0s\""));
        if zero_ok {
            zero.unwrap_or_else(|e| panic!("{path}: {e}"));
        } else {
            assert_error(zero, &path, |k| *k == ConfigErrorKind::ZeroDuration);
        }
        // Huge integers and strings that overflow while parsing.
        let err = parse(&doc(table, key, "9223372036854775807")).unwrap_err();
        assert_eq!(err.key, path);
        assert!(matches!(
            err.kind,
            ConfigErrorKind::DurationOutOfRange { .. }
        ));
        let err = parse(&doc(table, key, "\"18446744073709551615h\"")).unwrap_err();
        assert_eq!(err.key, path);
        assert!(matches!(err.kind, ConfigErrorKind::InvalidDuration { .. }));
    }
}

/// Every duration field of a database entry set to `d` (one at a time), in code.
fn with_duration(field: usize, d: Duration) -> (DatabaseConfig, &'static str) {
    let mut db = DatabaseConfig::new("sqlite::memory:");
    let mut pool = PoolConfig::default();
    let key = match field {
        0 => {
            pool.acquire_timeout = d;
            "databases.a.pool.acquire_timeout"
        }
        1 => {
            pool.connect_timeout = d;
            "databases.a.pool.connect_timeout"
        }
        2 => {
            pool.idle_timeout = Some(d);
            "databases.a.pool.idle_timeout"
        }
        3 => {
            pool.max_lifetime = Some(d);
            "databases.a.pool.max_lifetime"
        }
        4 => {
            db = db.statement_timeout(Some(d));
            "databases.a.statement_timeout"
        }
        _ => {
            db = db.sqlite(SqliteOptions {
                busy_timeout: d,
                ..SqliteOptions::default()
            });
            "databases.a.sqlite.busy_timeout"
        }
    };
    (db.pool(pool), key)
}

#[test]
fn builder_bounds() {
    for field in 0..6 {
        for d in [
            Duration::MAX,
            Duration::from_nanos(1),
            Duration::from_micros(999),
        ] {
            let (db, key) = with_duration(field, d);
            let result = Config::builder().database("a", db).build();
            assert_error(
                result,
                key,
                |k| matches!(k, ConfigErrorKind::DurationOutOfRange { value, .. } if *value == d),
            );
        }
        let (db, _) = with_duration(field, Duration::from_secs(60));
        Config::builder().database("a", db).build().unwrap();
    }
    let result = Config::builder()
        .database(
            "a",
            DatabaseConfig::new("sqlite::memory:").pool(PoolConfig {
                max_connections: u32::MAX,
                min_connections: u32::MAX,
                ..PoolConfig::default()
            }),
        )
        .build();
    assert_error(
        result,
        "databases.a.pool.max_connections",
        |k| matches!(k, ConfigErrorKind::IntegerOutOfRange { value, .. } if *value == i64::from(u32::MAX)),
    );
}

/// Is `d` allowed for a setting whose largest value is `max`?
fn allowed(d: Duration, max: Duration, zero_ok: bool) -> bool {
    (d.is_zero() && zero_ok) || (d >= MS && d <= max)
}

proptest! {
    // Deterministic enough for CI, and no regression files written into the source tree.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any integer for any integer or duration key: a config within bounds, or an error at
    /// that key. Never a panic.
    #[test]
    fn random_integers_never_panic(n in any::<i64>(), which in 0usize..8) {
        let (table, key) = match which {
            0 => ("pool", "max_connections"),
            1 => ("pool", "min_connections"),
            i => (DURATION_KEYS[i - 2].0, DURATION_KEYS[i - 2].1),
        };
        let result = parse(&doc(table, key, &n.to_string()));
        match result {
            Ok(config) => {
                let db = config.database("a").unwrap();
                match which {
                    0 => prop_assert!((1..=10_000).contains(&n) && i64::from(db.pool.max_connections) == n),
                    1 => prop_assert!((0..=10).contains(&n)),
                    i => {
                        let (_, _, max, zero_ok) = DURATION_KEYS[i - 2];
                        prop_assert!(n >= 0 && allowed(Duration::from_secs(n as u64), max, zero_ok));
                    }
                }
            }
            Err(err) => {
                prop_assert_eq!(&err.key, &key_of(table, key));
                let named = format!("`{}`", err.key);
                prop_assert!(err.to_string().contains(&named));
            }
        }
    }

    /// Any duration text (units in any order, huge numbers) for any duration key.
    #[test]
    fn random_duration_strings_never_panic(
        parts in proptest::collection::vec((any::<u64>(), prop_oneof!["h", "m", "s", "ms", "d", ""]), 1..4),
        which in 0usize..6,
    ) {
        let text: String = parts.iter().map(|(n, unit)| format!("{}{unit}", n % 100_000_000_000)).collect();
        let (table, key, max, zero_ok) = DURATION_KEYS[which];
        match parse(&doc(table, key, &format!("\"{text}\""))) {
            Ok(config) => {
                let db = config.database("a").unwrap();
                let d = match which {
                    0 => db.pool.acquire_timeout,
                    1 => db.pool.connect_timeout,
                    2 => db.pool.idle_timeout.unwrap(),
                    3 => db.pool.max_lifetime.unwrap(),
                    4 => db.statement_timeout.unwrap(),
                    _ => db.sqlite.busy_timeout,
                };
                prop_assert!(allowed(d, max, zero_ok), "{text} -> {d:?}");
            }
            Err(err) => {
                prop_assert_eq!(&err.key, &key_of(table, key));
                prop_assert!(matches!(
                    err.kind,
                    ConfigErrorKind::InvalidDuration { .. }
                        | ConfigErrorKind::DurationOutOfRange { .. }
                        | ConfigErrorKind::ZeroDuration
                ), "{:?}", err.kind);
            }
        }
    }

    /// Any `Duration` in any duration field, and any pool sizes, in code.
    #[test]
    fn random_builder_values_never_panic(
        secs in any::<u64>(),
        nanos in 0u32..1_000_000_000,
        field in 0usize..6,
        max_connections in any::<u32>(),
        min_connections in any::<u32>(),
    ) {
        let d = Duration::new(secs, nanos);
        let (db, key) = with_duration(field, d);
        let (_, _, max, zero_ok) = DURATION_KEYS[field];
        match Config::builder().database("a", db).build() {
            Ok(_) => prop_assert!(allowed(d, max, zero_ok)),
            Err(err) => {
                prop_assert!(!allowed(d, max, zero_ok));
                prop_assert_eq!(err.key.as_str(), key);
            }
        }
        let pool = PoolConfig { max_connections, min_connections, ..PoolConfig::default() };
        let result = Config::builder()
            .database("a", DatabaseConfig::new("sqlite::memory:").pool(pool))
            .build();
        let ok = (1..=10_000).contains(&max_connections) && min_connections <= max_connections;
        prop_assert_eq!(result.is_ok(), ok);
        if let Err(err) = result {
            prop_assert!(err.key.starts_with("databases.a.pool."), "{}", err.key);
        }
    }
}
