//! A shard made unreachable or frozen (a TCP proxy under the test's control) in a scatter:
//! strict mode fails with an error naming the shard; partial mode returns the other
//! shards' rows with the error; a frozen shard is bounded by the scatter's deadline. A
//! write routed by key to the dead shard fails naming it, and the other shards keep
//! working. On PostgreSQL and MariaDB (skipped with a message when not configured).

mod common;

use std::time::{Duration, Instant};

use common::proxy::{host_port, Mode, Proxy};
use common::shards::on_database;
use common::Engine;
use grant::{
    raw, AssertSqlSafe, Config, DatabaseConfig, Error, Grant, Model, ResolverConfig, ShardConfig,
    ShardingConfig,
};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "grant_shard_fault_rows")]
#[shard_by(tenant)]
struct Row {
    #[grant(primary_key, manual)]
    id: i64,
    tenant: i64,
}

async fn scenario(engine: Engine) {
    let urls = [
        on_database(&engine.url, "grant_shard_1"),
        on_database(&engine.url, "grant_shard_2"),
    ];
    let proxy = Proxy::start(&host_port(&urls[1])).await;
    let through_proxy = proxy.url(&urls[1]);
    let config = DatabaseConfig::new(&urls[0])
        .shard("a", ShardConfig::new(&urls[0]))
        .shard("b", ShardConfig::new(&through_proxy))
        .sharding(
            ShardingConfig::new(ResolverConfig::Modulo {
                shards: vec!["a".into(), "b".into()],
            })
            .timeout(Some(Duration::from_millis(1500))),
        )
        .pool(grant::PoolConfig {
            connect_timeout: Duration::from_millis(800),
            acquire_timeout: Duration::from_secs(2),
            ..Default::default()
        });
    let db = Grant::from_config(
        Config::builder()
            .database("primary", config)
            .build()
            .unwrap(),
    )
    .unwrap();
    let create = engine
        .ddl("CREATE TABLE grant_shard_fault_rows (id {i64} PRIMARY KEY, tenant {i64} NOT NULL)");
    for s in ["a", "b"] {
        raw("DROP TABLE IF EXISTS grant_shard_fault_rows")
            .execute(db.on_shard(s))
            .await
            .unwrap();
        raw(AssertSqlSafe(create.clone()))
            .execute(db.on_shard(s))
            .await
            .unwrap();
    }
    for i in 0..10 {
        Row { id: i, tenant: i }.insert(&db).await.unwrap();
    }
    assert_eq!(Row::query().count(&db).await.unwrap(), 10);

    // Down: strict fails naming the shard; partial returns the other shard's rows.
    // (The proxy drops the connections open through it.)
    proxy.set(Mode::Down);
    let err = Row::query().all(&db).await.unwrap_err();
    match &err {
        Error::ShardFailed {
            shard, database, ..
        } => {
            assert_eq!(
                (database.as_str(), shard.as_str()),
                ("primary", "b"),
                "{err}"
            );
        }
        other => panic!("expected ShardFailed, got {other}"),
    }
    assert!(err.to_string().contains("shard `b`"), "{err}");
    let report = Row::query().partial().all_with_report(&db).await.unwrap();
    assert_eq!(report.rows.len(), 5);
    assert!(report.rows.iter().all(|r| r.tenant % 2 == 0));
    let errors: Vec<_> = report.errors().map(|(s, _)| s.to_string()).collect();
    assert_eq!(errors, ["b"]);
    assert_eq!(Row::query().partial().all(&db).await.unwrap().len(), 5);
    assert_eq!(Row::query().partial().count(&db).await.unwrap(), 5);
    // Routed by key: the live shard works, the dead one fails naming it.
    assert_eq!(
        Row::query()
            .filter(Row::TENANT.eq(2))
            .count(&db)
            .await
            .unwrap(),
        1
    );
    let err = Row { id: 100, tenant: 1 }.insert(&db).await.unwrap_err();
    assert!(err.is_connect(), "{err}");
    // find by a key that is not the shard key: the hit on the live shard wins.
    assert!(Row::find(&db, 4).await.unwrap().is_some());

    // Frozen: the scatter's deadline bounds it.
    proxy.set(Mode::Forward);
    assert_eq!(Row::query().count(&db).await.unwrap(), 10);
    proxy.set(Mode::Frozen);
    let started = Instant::now();
    let err = Row::query().all(&db).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "bounded");
    assert!(
        matches!(&err, Error::ShardFailed { shard, .. } if shard == "b"),
        "{err}"
    );
    assert!(
        err.is_timeout() || err.is_connect() || matches!(err.root(), Error::PoolTimeout { .. }),
        "{err}"
    );
    // A deadline per call, on a handle whose scatters have none (the statement timeout,
    // 30 s, would be the only bound): the call's deadline ends the wait.
    let no_deadline = DatabaseConfig::new(&urls[0])
        .shard("a", ShardConfig::new(&urls[0]))
        .shard("b", ShardConfig::new(&through_proxy))
        .sharding(ShardingConfig::new(ResolverConfig::Modulo {
            shards: vec!["a".into(), "b".into()],
        }));
    let db2 = Grant::from_config(
        Config::builder()
            .database("primary", no_deadline)
            .build()
            .unwrap(),
    )
    .unwrap();
    let started = Instant::now();
    let report = Row::query()
        .timeout(Duration::from_millis(300))
        .partial()
        .all_with_report(&db2)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the call's deadline"
    );
    db2.close().await;
    assert_eq!(report.rows.len(), 5);
    let (shard, error) = report.errors().next().expect("shard b failed");
    assert_eq!(shard, "b");
    assert!(error.is_timeout(), "{error}");
    proxy.set(Mode::Forward);
    db.close().await;
}

#[tokio::test]
async fn unreachable_shard_on_postgres() {
    let Some(engine) = Engine::postgres() else {
        eprintln!("skipped: GRANT_TEST_POSTGRES_URL is not set");
        return;
    };
    scenario(engine).await;
}

#[tokio::test]
async fn unreachable_shard_on_mariadb() {
    let Some(engine) = Engine::mariadb() else {
        eprintln!("skipped: GRANT_TEST_MARIADB_URL is not set");
        return;
    };
    scenario(engine).await;
}

/// Shards added and removed while statements run: a statement in flight on a shard that
/// is removed, or on another one while shards change, finishes normally.
#[tokio::test]
async fn statements_in_flight_survive_shard_changes() {
    let Some(engine) = Engine::postgres() else {
        eprintln!("skipped: GRANT_TEST_POSTGRES_URL is not set");
        return;
    };
    let (u1, u2) = (
        on_database(&engine.url, "grant_shard_1"),
        on_database(&engine.url, "grant_shard_2"),
    );
    let config = DatabaseConfig::new(&u1)
        .shard("a", ShardConfig::new(&u1))
        .shard("b", ShardConfig::new(&u2))
        .sharding(ShardingConfig::new(ResolverConfig::Lookup {
            entries: vec![],
            default: Some("a".into()),
        }));
    let db = Grant::from_config(
        Config::builder()
            .database("primary", config)
            .build()
            .unwrap(),
    )
    .unwrap();
    let slow = |shard: &'static str| {
        let db = db.clone();
        tokio::spawn(async move {
            raw("SELECT pg_sleep(0.4)")
                .fetch_all(db.on_shard(shard))
                .await
                .map(|rows| rows.len())
        })
    };
    let on_a = slow("a");
    let on_b = slow("b");
    tokio::time::sleep(Duration::from_millis(100)).await;
    db.add_shard("primary", "c", ShardConfig::new(&u2)).unwrap();
    db.remove_shard("primary", "b").await.unwrap();
    assert_eq!(on_a.await.unwrap().unwrap(), 1);
    assert_eq!(on_b.await.unwrap().unwrap(), 1);
    // After the change: `b` is gone, `c` answers.
    assert!(matches!(
        raw("SELECT 1")
            .fetch_all(db.on_shard("b"))
            .await
            .unwrap_err(),
        Error::UnknownShard { .. }
    ));
    assert_eq!(
        raw("SELECT 1")
            .fetch_all(db.on_shard("c"))
            .await
            .unwrap()
            .len(),
        1
    );
    db.close().await;
}
