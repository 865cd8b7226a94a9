//! The connection handler: lazy pools, stats, runtime registration, pool timeouts, a server
//! that is down, graceful close.

mod common;

use std::time::Duration;

use common::Engine;
use grant::{
    raw, AssertSqlSafe, Config, DatabaseConfig, Error, Grant, Model, PoolConfig, PoolKind, Role,
};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "handler_items", database = "tenant_a")]
struct TenantItem {
    id: i64,
    label: String,
}

fn tight_pool() -> PoolConfig {
    PoolConfig {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(300),
        ..PoolConfig::default()
    }
}

async fn lazy_pools_and_stats(e: &Engine) {
    let db = e.grant();
    let stats = db.stats();
    // The writer, and its read-only twin that serves reads (no replicas here).
    assert_eq!(stats.len(), 2);
    assert!(stats.iter().all(|s| !s.created), "pools open on first use");
    assert_eq!(stats[0].key.kind, PoolKind::Writer);
    assert_eq!(stats[0].key.role, Role::Writing);
    assert!(!stats[0].read_only);
    assert_eq!(stats[1].key.kind, PoolKind::WriterReadOnly);
    assert_eq!(stats[1].key.role, Role::Reading);
    assert!(stats[1].read_only);
    // Write first (a SQLite file must exist before a read-only connection can open it).
    raw("CREATE TABLE IF NOT EXISTS lazy (id INTEGER)")
        .execute(&db)
        .await
        .unwrap();
    raw("SELECT 1").fetch_all(&db).await.unwrap();
    let stats = db.stats();
    assert!(stats.iter().all(|s| s.created && s.size >= 1), "{stats:?}");
    // Connections return to the pool asynchronously (SQLite's run on a worker thread).
    for _ in 0..100 {
        if db.stats().iter().all(|s| s.in_use == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(db.stats().iter().all(|s| s.in_use == 0));
    assert_eq!(&*stats[0].key.database, "primary");
    raw("DROP TABLE lazy").execute(&db).await.unwrap();
    db.close().await;
}
on_every_engine!(lazy_pools_and_stats);

async fn runtime_registration(e: &Engine) {
    let db = e.grant();
    let err = TenantItem::find(&db, 1).await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownDatabase { database, .. } if database == "tenant_a"),
        "{err}"
    );

    let url = match e.backend {
        grant::Backend::Sqlite => common::sqlite_file("tenant"),
        _ => e.url.clone(),
    };
    db.handler()
        .add_database("tenant_a", DatabaseConfig::new(&url))
        .unwrap();
    let err = db
        .handler()
        .add_database("tenant_a", DatabaseConfig::new(&url))
        .unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateDatabase { database } if database == "tenant_a"),
        "{err}"
    );
    let err = db
        .handler()
        .add_database("tenant_b", DatabaseConfig::new("oracle://x"))
        .unwrap_err();
    assert!(err.to_string().contains("tenant_b"), "{err}");

    grant::connected_to(Role::Writing, async {
        raw("DROP TABLE IF EXISTS handler_items")
            .on("tenant_a")
            .execute(&db)
            .await
            .unwrap();
        raw(AssertSqlSafe(e.ddl(
            "CREATE TABLE handler_items (id {pk}, label {text} NOT NULL)",
        )))
        .on("tenant_a")
        .execute(&db)
        .await
        .unwrap();
    })
    .await;
    let mut item = TenantItem {
        id: 0,
        label: "x".into(),
    };
    item.insert(&db).await.unwrap();
    assert_eq!(TenantItem::get(&db, item.id).await.unwrap(), item);
    assert!(db
        .handler()
        .database_names()
        .iter()
        .any(|n| &**n == "tenant_a"));

    db.handler().remove_database("tenant_a").await.unwrap();
    let err = TenantItem::find(&db, item.id).await.unwrap_err();
    assert!(matches!(err, Error::UnknownDatabase { .. }), "{err}");
    assert!(db.handler().remove_database("tenant_a").await.is_err());
}
on_every_engine!(runtime_registration);

async fn pool_timeout(e: &Engine) {
    let db = common::primary(DatabaseConfig::new(&e.url).pool(tight_pool()));
    let tx = db.begin().await.unwrap(); // holds the only connection
    let err = grant::connected_to(Role::Writing, raw("SELECT 1").fetch_all(&db))
        .await
        .unwrap_err();
    match &err {
        Error::PoolTimeout { database, role, .. } => {
            assert_eq!(database, "primary");
            assert_eq!(*role, Role::Writing);
        }
        other => panic!("expected PoolTimeout, got {other:?}"),
    }
    assert!(err.to_string().contains("primary"));
    assert_eq!(db.stats()[0].acquire_timeouts, 1);
    assert_eq!(db.stats()[0].in_use, 1);
    tx.rollback().await.unwrap();
    raw("SELECT 1").fetch_all(&db).await.unwrap();
}
on_every_engine!(pool_timeout);

#[tokio::test]
async fn server_down_is_a_typed_error() {
    for url in [
        "postgres://postgres@127.0.0.1:1/nothing",
        "mysql://root@127.0.0.1:1/nothing",
    ] {
        let config = Config::builder()
            .database("primary", DatabaseConfig::new(url).pool(tight_pool()))
            .build()
            .unwrap();
        let db = Grant::from_config(config).unwrap();
        let err = raw("SELECT 1").fetch_all(&db).await.unwrap_err();
        assert!(
            matches!(&err, Error::Connect { database, .. } if database == "primary"),
            "{url}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("cannot connect to database `primary`"),
            "{err}"
        );
        assert_eq!(db.stats()[0].size, 0);
    }
    let err = Grant::connect("sqlite:///nonexistent-dir/x/y.db")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Connect { .. } | Error::Database { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn closed_pools_refuse() {
    let db = Grant::connect("sqlite::memory:").await.unwrap();
    db.close().await;
    let err = raw("SELECT 1").fetch_all(&db).await.unwrap_err();
    assert!(matches!(err, Error::PoolClosed { .. }), "{err:?}");
}
