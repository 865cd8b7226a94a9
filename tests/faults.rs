//! Faults, simulated with a TCP proxy under the test's control: a server that freezes
//! (accepts, never answers), refuses, resets, or goes away mid-load. Nothing waits forever:
//! every wait ends in a typed error naming database and role, and a server that cannot be
//! reached is a `Connect` error with the driver's cause, never a busy pool.

mod common;

use std::time::Duration;

use common::proxy::{dead_addr, host_port, Mode, Proxy};
use common::Engine;
use grant::{connected_to, raw, DatabaseConfig, Error, Grant, Model, PoolConfig, PoolKind, Role};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "fault_notes")]
struct FaultNote {
    id: i64,
    body: String,
}

/// Long enough for a loaded CI machine's DDL, short enough to keep the tests quick.
const STATEMENT_TIMEOUT: Duration = Duration::from_millis(1000);

fn quick(url: &str) -> DatabaseConfig {
    DatabaseConfig::new(url)
        .statement_timeout(Some(STATEMENT_TIMEOUT))
        .pool(PoolConfig {
            max_connections: 2,
            acquire_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_millis(1000),
            ..PoolConfig::default()
        })
}

fn grant_on(url: &str) -> Grant {
    common::primary(quick(url))
}

/// The SQLite test's timeout: its slow statement must outlive it on any machine.
const SQLITE_TIMEOUT: Duration = Duration::from_millis(200);

fn servers() -> Vec<Engine> {
    [Engine::postgres(), Engine::mariadb()]
        .into_iter()
        .flatten()
        .collect()
}

fn assert_timeout(err: &Error, role: Role) {
    match err {
        Error::Timeout {
            database,
            role: r,
            shard,
            after,
        } => {
            assert_eq!(database, "primary");
            assert_eq!(*r, role);
            assert_eq!(*shard, None);
            assert!(
                *after == STATEMENT_TIMEOUT || *after == SQLITE_TIMEOUT,
                "{after:?}"
            );
        }
        other => panic!("expected a statement timeout, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("primary") && msg.contains("statement_timeout"),
        "{msg}"
    );
}

/// A proxy to `e`'s server, a handle through it, and an empty `fault_notes` table.
async fn proxied_with_table(e: &Engine) -> (Proxy, Grant) {
    let proxy = Proxy::start(&host_port(&e.url)).await;
    let db = grant_on(&proxy.url(&e.url));
    connected_to(
        Role::Writing,
        e.reset_table(
            &db,
            "fault_notes",
            "CREATE TABLE fault_notes (id {pk}, body {text} NOT NULL)",
        ),
    )
    .await;
    (proxy, db)
}

/// Wait until the writer has an idle connection (sqlx hands a released connection back to
/// the pool in the background, after a ping).
async fn idle_writer(db: &Grant) {
    for _ in 0..200 {
        let stats = db.stats();
        let writer = stats
            .iter()
            .find(|s| s.key.kind == PoolKind::Writer)
            .unwrap();
        if writer.idle >= 1 && writer.in_use == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the writer's connection never came back to the pool");
}

fn assert_connect(err: &Error, cause: &[&str]) {
    match err {
        Error::Connect {
            database, source, ..
        } => {
            assert_eq!(database, "primary");
            let s = source.to_string().to_lowercase();
            assert!(
                cause.iter().any(|c| s.contains(c)),
                "cause {s:?} should mention one of {cause:?}"
            );
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}

/// A frozen server: statements on warm connections and transaction steps end in
/// `Timeout`; a cold pool's connect ends in `Connect` (timed out); after the thaw, new
/// connections work (the timed-out ones were closed, never reused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_server() {
    let _serial = common::SERVER_LOCK.lock().await;
    for e in servers() {
        let (proxy, db) = proxied_with_table(&e).await;
        connected_to(Role::Writing, async {
            let mut n = FaultNote {
                id: 0,
                body: "before".into(),
            };
            n.insert(&db).await.unwrap();
            // Warm: the writer pool holds an open, idle connection.
            let tx = db.begin().await.unwrap();
            tx.commit().await.unwrap();
            idle_writer(&db).await;

            proxy.set(Mode::Frozen);
            let err = raw("SELECT 1").fetch_all(&db).await.unwrap_err();
            assert_timeout(&err, Role::Writing);
            let err = FaultNote::find(&db, n.id).await.unwrap_err();
            assert!(err.is_timeout() || err.is_connect(), "{err:?}");
            let err = db.begin().await.unwrap_err();
            assert!(err.is_timeout() || err.is_connect(), "{err:?}");
        })
        .await;
        // The reading role's pool was never used: a cold pool connecting to a frozen
        // server is a connect error (timed out), not a hang and not a busy pool.
        let err = FaultNote::find(&db, 1).await.unwrap_err();
        assert_connect(&err, &["timed out", "within"]);
        let stats = db.stats();
        let writer = stats
            .iter()
            .find(|s| s.key.kind == PoolKind::Writer)
            .unwrap();
        assert!(writer.statement_timeouts >= 1, "{writer:?}");
        assert_eq!(writer.acquire_timeouts, 0, "{writer:?}");

        proxy.set(Mode::Forward);
        let got = connected_to(Role::Writing, FaultNote::query().count(&db))
            .await
            .unwrap();
        assert_eq!(got, 1, "works again after the thaw, on fresh connections");
        // (not `close()`: it would wait for the timed-out connections' bounded close)
    }
}

/// A transaction whose statement times out is over: the connection is closed (the server
/// rolls back) and later statements in it are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_transaction() {
    let _serial = common::SERVER_LOCK.lock().await;
    for e in servers() {
        let (proxy, db) = proxied_with_table(&e).await;
        connected_to(Role::Writing, async {
            let mut tx = db.begin().await.unwrap();
            let mut n = FaultNote {
                id: 0,
                body: "in tx".into(),
            };
            n.insert(&mut tx).await.unwrap();
            proxy.set(Mode::Frozen);
            let mut m = FaultNote {
                id: 0,
                body: "frozen".into(),
            };
            assert_timeout(&m.insert(&mut tx).await.unwrap_err(), Role::Writing);
            let after = FaultNote::query().count(&mut tx).await.unwrap_err();
            assert!(
                matches!(after, Error::TransactionAborted { ref database, .. } if database == "primary"),
                "{after:?}"
            );
            assert!(tx.commit().await.is_err());
            proxy.set(Mode::Forward);
            // Nothing of the aborted transaction was committed.
            assert_eq!(FaultNote::query().count(&db).await.unwrap(), 0);

            // COMMIT itself is bounded too. (Whether a commit the server received before it
            // froze took effect is unknowable from the client, as with any lost reply.)
            let tx = db.begin().await.unwrap();
            proxy.set(Mode::Frozen);
            assert_timeout(&tx.commit().await.unwrap_err(), Role::Writing);
            proxy.set(Mode::Forward);
        })
        .await;
    }
}

/// Nothing listens: `Connect` with the driver's cause (refused), counted as a connect
/// error, not as a busy pool; the second attempt is refused at once as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_server() {
    for e in servers() {
        let dead = dead_addr().await;
        let url = e.url.replacen(&host_port(&e.url), &dead.to_string(), 1);
        let db = grant_on(&url);
        for _ in 0..2 {
            let err = raw("SELECT 1").fetch_all(&db).await.unwrap_err();
            assert_connect(&err, &["refused"]);
        }
        let stats = db.stats();
        assert!(stats.iter().all(|s| s.acquire_timeouts == 0), "{stats:?}");
        assert!(stats.iter().any(|s| s.connect_errors >= 2), "{stats:?}");
        let err = Grant::connect(&url).await.unwrap_err();
        assert_connect(&err, &["refused"]);
    }
}

/// A server that resets every connection: `Connect` with the driver's cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resetting_server() {
    for e in servers() {
        let proxy = Proxy::start(&host_port(&e.url)).await;
        proxy.set(Mode::Reset);
        let db = grant_on(&proxy.url(&e.url));
        let err = raw("SELECT 1").fetch_all(&db).await.unwrap_err();
        assert_connect(&err, &["reset", "eof", "closed", "broken", "timed out"]);
    }
}

/// The outage of issue 5 item 3: a server on a dead port under 30 concurrent readers with
/// a pool of 10: every error is `Connect` (never `PoolTimeout`), the stats count connect
/// errors, not acquire timeouts; a server that goes away mid-load likewise. A replica on a
/// dead port is taken out of rotation and its reads fail over to the writer (no error
/// reaches the caller; see tests/replicas.rs), still counted as connect errors, not
/// acquire timeouts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_is_not_pool_exhaustion() {
    let _serial = common::SERVER_LOCK.lock().await;
    for e in servers() {
        let dead = dead_addr().await;
        let dead_url = e.url.replacen(&host_port(&e.url), &dead.to_string(), 1);
        let pool = PoolConfig {
            max_connections: 10,
            connect_timeout: Duration::from_millis(500),
            ..PoolConfig::default()
        };
        // The writer is down: reads in a writing scope have nowhere else to go.
        let db = common::primary(DatabaseConfig::new(&dead_url).pool(pool.clone()));
        let mut tasks = Vec::new();
        for _ in 0..30 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                connected_to(Role::Writing, raw("SELECT 1").fetch_all(&db))
                    .await
                    .unwrap_err()
            }));
        }
        for t in tasks {
            let err = t.await.unwrap();
            assert_connect(&err, &["refused"]);
        }
        let stats = db.stats();
        let writer = stats
            .iter()
            .find(|s| s.key.kind == PoolKind::Writer)
            .unwrap();
        assert_eq!(writer.acquire_timeouts, 0, "{writer:?}");
        assert!(writer.connect_errors >= 30, "{writer:?}");

        // A replica is down: it is taken out, its reads served by the writer.
        let db = common::primary(DatabaseConfig::new(&e.url).replica(&dead_url).pool(pool));
        let mut tasks = Vec::new();
        for _ in 0..30 {
            let db = db.clone();
            tasks.push(tokio::spawn(
                async move { raw("SELECT 1").fetch_all(&db).await },
            ));
        }
        for t in tasks {
            let rows = t.await.unwrap().unwrap();
            assert_eq!(rows.len(), 1);
        }
        let stats = db.stats();
        let replica = stats
            .iter()
            .find(|s| s.key.kind == PoolKind::Replica(0))
            .unwrap();
        assert_eq!(replica.acquire_timeouts, 0, "{replica:?}");
        assert!(replica.connect_errors >= 1, "{replica:?}");
        assert_eq!(replica.state, grant::ReplicaState::Down, "{replica:?}");
        assert!(replica.fallbacks >= 1, "{replica:?}");

        // Mid-load: the server goes away while connections are open and in use.
        let proxy = Proxy::start(&host_port(&e.url)).await;
        let db = grant_on(&proxy.url(&e.url));
        connected_to(Role::Writing, raw("SELECT 1").fetch_all(&db))
            .await
            .unwrap();
        proxy.set(Mode::Killed);
        let mut errors = Vec::new();
        for _ in 0..5 {
            match connected_to(Role::Writing, raw("SELECT 1").fetch_all(&db)).await {
                Ok(_) => panic!("a killed server answered"),
                Err(e) => errors.push(e),
            }
        }
        for err in &errors {
            assert!(
                matches!(err, Error::Connect { .. } | Error::Database { .. }),
                "{err:?}"
            );
            assert!(!matches!(err, Error::PoolTimeout { .. }), "{err:?}");
        }
        // Once the pool has noticed, the cause is the refusal.
        assert_connect(errors.last().unwrap(), &["refused"]);
    }
}

/// SQLite: a statement that runs too long ends in `Timeout` and the pool keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_statement_timeout() {
    let url = common::sqlite_file("fault-timeout");
    let db = common::primary(quick(&url).statement_timeout(Some(SQLITE_TIMEOUT)));
    raw("CREATE TABLE t (x INTEGER)")
        .execute(&db)
        .await
        .unwrap();
    let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
                SELECT COUNT(*) FROM c";
    let err = connected_to(Role::Writing, raw(slow).fetch_all(&db))
        .await
        .unwrap_err();
    assert_timeout(&err, Role::Writing);
    let rows = raw("SELECT COUNT(*) AS n FROM t")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(rows[0].get::<i64>("n").unwrap(), 0);
}
