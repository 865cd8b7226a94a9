//! Configuration tests for the replica settings: `replica_delay`, `consistency`,
//! `causal_wait`, `balance`, `replica_weights`, `max_replication_lag`, `replica_fallback`,
//! `replica_check_interval`: defaults, parsing, the builder, and each error (exact key).

mod common;

use std::time::Duration;

use common::{invalid, parse};
use grant_core::config::{
    Balance, Config, ConfigErrorKind, Consistency, DatabaseConfig, ReplicaFallback,
    ReplicationConfig, ShardConfig,
};
use grant_core::Backend;

const PG: &str = "[databases.primary]\nurl = \"postgres://127.0.0.1:5432/app\"\nreplicas = [\"postgres://127.0.0.1:5433/app\", \"postgres://127.0.0.1:5434/app\"]\n";

#[test]
fn defaults() {
    let config = parse(PG).unwrap();
    let r = &config.database("primary").unwrap().replication;
    assert_eq!(*r, ReplicationConfig::default());
    assert_eq!(r.replica_delay, Duration::from_secs(2));
    assert_eq!(r.consistency, Consistency::Delay);
    assert_eq!(r.causal_wait, Duration::from_millis(200));
    assert_eq!(r.balance, Balance::RoundRobin);
    assert_eq!(r.max_replication_lag, None);
    assert_eq!(r.replica_fallback, ReplicaFallback::Writer);
    assert_eq!(r.replica_check_interval, Duration::from_secs(1));
}

#[test]
fn every_key_parsed() {
    let toml = format!(
        "{PG}replica_delay = \"500ms\"\nconsistency = \"CAUSAL\"\ncausal_wait = \"0\"\n\
         balance = \"weighted\"\nreplica_weights = [3, 1]\nmax_replication_lag = \"5s\"\n\
         replica_fallback = \"error\"\nreplica_check_interval = \"250ms\"\n\
         [databases.primary.shards.one]\nurl = \"postgres://127.0.0.1:5432/one\"\n\
         replicas = [\"postgres://127.0.0.1:5433/one\"]\nreplica_weights = [7]\n"
    );
    let config = parse(&toml).unwrap();
    let db = config.database("primary").unwrap();
    let r = &db.replication;
    assert_eq!(r.replica_delay, Duration::from_millis(500));
    assert_eq!(r.consistency, Consistency::Causal);
    assert_eq!(r.causal_wait, Duration::ZERO);
    assert_eq!(r.balance, Balance::Weighted);
    assert_eq!(db.replica_weights, [3, 1]);
    assert_eq!(db.shards["one"].replica_weights, [7]);
    assert_eq!(r.max_replication_lag, Some(Duration::from_secs(5)));
    assert_eq!(r.replica_fallback, ReplicaFallback::Error);
    assert_eq!(r.replica_check_interval, Duration::from_millis(250));
}

#[test]
fn off_values() {
    let toml = format!("{PG}replica_delay = \"off\"\nmax_replication_lag = \"off\"\n");
    let config = parse(&toml).unwrap();
    let r = &config.database("primary").unwrap().replication;
    assert_eq!(r.replica_delay, Duration::ZERO);
    assert_eq!(r.max_replication_lag, None);
    let toml = format!("{PG}replica_delay = 0\n");
    let config = parse(&toml).unwrap();
    assert!(config
        .database("primary")
        .unwrap()
        .replication
        .replica_delay
        .is_zero());
}

#[test]
fn errors_name_the_key() {
    let at = |extra: &str, key: &str, check: fn(&ConfigErrorKind) -> bool| {
        invalid(&format!("{PG}{extra}\n"), key, check);
    };
    at(
        "consistency = \"eventual\"",
        "databases.primary.consistency",
        |k| matches!(k, ConfigErrorKind::InvalidChoice { .. }),
    );
    at("balance = \"fastest\"", "databases.primary.balance", |k| {
        matches!(k, ConfigErrorKind::InvalidChoice { .. })
    });
    at(
        "replica_fallback = \"panic\"",
        "databases.primary.replica_fallback",
        |k| matches!(k, ConfigErrorKind::InvalidChoice { .. }),
    );
    at(
        "replica_delay = \"soon\"",
        "databases.primary.replica_delay",
        |k| matches!(k, ConfigErrorKind::InvalidDuration { .. }),
    );
    at(
        "replica_delay = \"48h\"",
        "databases.primary.replica_delay",
        |k| matches!(k, ConfigErrorKind::DurationOutOfRange { .. }),
    );
    at(
        "max_replication_lag = \"0\"",
        "databases.primary.max_replication_lag",
        |k| matches!(k, ConfigErrorKind::ZeroDuration),
    );
    at(
        "replica_check_interval = \"off\"",
        "databases.primary.replica_check_interval",
        |k| matches!(k, ConfigErrorKind::CannotDisable),
    );
    at(
        "replica_check_interval = \"2h\"",
        "databases.primary.replica_check_interval",
        |k| matches!(k, ConfigErrorKind::DurationOutOfRange { .. }),
    );
    at(
        "replica_weights = [1, 2]",
        "databases.primary.replica_weights",
        |k| matches!(k, ConfigErrorKind::WeightsWithoutWeighted),
    );
    at(
        "balance = \"weighted\"\nreplica_weights = [1]",
        "databases.primary.replica_weights",
        |k| {
            matches!(
                k,
                ConfigErrorKind::WeightsMismatch {
                    weights: 1,
                    replicas: 2
                }
            )
        },
    );
    at(
        "balance = \"weighted\"\nreplica_weights = [1, 0]",
        "databases.primary.replica_weights[1]",
        |k| matches!(k, ConfigErrorKind::IntegerOutOfRange { .. }),
    );
    at(
        "balance = \"weighted\"\nreplica_weights = [1, -3]",
        "databases.primary.replica_weights[1]",
        |k| matches!(k, ConfigErrorKind::IntegerOutOfRange { .. }),
    );
    at(
        "balance = \"weighted\"\nreplica_weights = [1, \"x\"]",
        "databases.primary.replica_weights[1]",
        |k| matches!(k, ConfigErrorKind::WrongType { .. }),
    );
    at(
        "replica_weights = 3",
        "databases.primary.replica_weights",
        |k| matches!(k, ConfigErrorKind::WrongType { .. }),
    );
}

#[test]
fn causal_needs_positions() {
    let e = invalid(
        "[databases.primary]\nurl = \"sqlite://app.db\"\nconsistency = \"causal\"\n",
        "databases.primary.consistency",
        |k| {
            matches!(
                k,
                ConfigErrorKind::CausalUnsupported {
                    backend: Backend::Sqlite
                }
            )
        },
    );
    assert!(e.to_string().contains("delay"), "{e}");
}

#[test]
fn lag_needs_positions() {
    invalid(
        "[databases.primary]\nurl = \"sqlite://app.db\"\nmax_replication_lag = \"1s\"\n",
        "databases.primary.max_replication_lag",
        |k| matches!(k, ConfigErrorKind::LagUnsupported { .. }),
    );
}

#[test]
fn shard_weights_checked() {
    let toml =
        "[databases.primary]\nurl = \"postgres://127.0.0.1:5432/app\"\nbalance = \"weighted\"\n\
                [databases.primary.shards.one]\nurl = \"postgres://127.0.0.1:5432/one\"\n\
                replicas = [\"postgres://127.0.0.1:5433/one\"]\nreplica_weights = [1, 2]\n";
    invalid(toml, "databases.primary.shards.one.replica_weights", |k| {
        matches!(k, ConfigErrorKind::WeightsMismatch { .. })
    });
}

#[test]
fn builder_is_validated_too() {
    let mut r = ReplicationConfig::default();
    r.consistency = Consistency::Causal;
    let e = Config::builder()
        .database(
            "primary",
            DatabaseConfig::new("sqlite::memory:").replication(r),
        )
        .build()
        .unwrap_err();
    assert_eq!(e.key, "databases.primary.consistency");

    let mut r = ReplicationConfig::default();
    r.balance = Balance::Weighted;
    let ok = Config::builder()
        .database(
            "primary",
            DatabaseConfig::new("postgres://127.0.0.1/app")
                .weighted_replica("postgres://127.0.0.1:5433/app", 3)
                .weighted_replica("postgres://127.0.0.1:5434/app", 1)
                .shard(
                    "one",
                    ShardConfig::new("postgres://127.0.0.1/one")
                        .weighted_replica("postgres://127.0.0.1:5433/one", 2),
                )
                .replication(r),
        )
        .build()
        .unwrap();
    assert_eq!(ok.database("primary").unwrap().replica_weights, [3, 1]);
}
