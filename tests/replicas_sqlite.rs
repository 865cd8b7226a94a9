//! Replicas on SQLite (no server needed: these always run): a writer file and SEPARATE
//! replica files with the same schema. Nothing copies the writer's changes to them, so a
//! replica is stale for ever and every read says which file served it (the `tag` column).
//!
//! Read-your-writes in delay mode (a session's reads after its write go to the writer for
//! `replica_delay`, other sessions keep reading replicas), `replica_delay = "0"`, the end of
//! the window, transactions (recorded on commit, not on rollback), session tokens and
//! `grant::spawn`, the four balancing strategies, and the config errors of the replica keys.
//! The same behaviour on PostgreSQL and MariaDB with real streaming replicas is in
//! `tests/replicas.rs`.

mod common;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use grant::config::ConfigErrorKind;
use grant::{raw, session, Config, ConfigError, Grant, Model, PoolKind, Session};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Executor as _};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "replicas_rw_items")]
struct RwItem {
    id: i64,
    tag: String,
    n: i64,
}

const CREATE: &str =
    "CREATE TABLE replicas_rw_items (id INTEGER PRIMARY KEY, tag TEXT NOT NULL, n INTEGER NOT NULL)";

/// The row every test reads (id 1): `tag` names the file, `n` starts at 0 everywhere.
const ID: i64 = 1;

/// A replica file: the schema and row 1 tagged `tag` (rollback journal, so that a read-only
/// connection needs no `-shm` file).
async fn replica_file(tag: &str) -> String {
    let url = common::sqlite_file(&format!("replica-{tag}"));
    let mut conn = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    conn.execute(CREATE).await.unwrap();
    conn.execute(
        sqlx::query("INSERT INTO replicas_rw_items (id, tag, n) VALUES (1, ?, 0)").bind(tag),
    )
    .await
    .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    url
}

/// A handle on `toml` (its `{writer}` and `{rN}` placeholders filled in), with the writer
/// file's schema and row 1 tagged `writer`.
async fn grant(toml: &str, replicas: &[&str]) -> Grant {
    let writer = common::sqlite_file("writer");
    let mut text = toml.replace("{writer}", &writer);
    for (i, tag) in replicas.iter().enumerate() {
        text = text.replace(&format!("{{r{i}}}"), &replica_file(tag).await);
    }
    let config = Config::from_toml_str_with(&text, "development", &|_| None).unwrap();
    let db = Grant::from_config(config).unwrap();
    raw(CREATE).execute(&db).await.unwrap();
    raw("INSERT INTO replicas_rw_items (id, tag, n) VALUES (1, 'writer', 0)")
        .execute(&db)
        .await
        .unwrap();
    db
}

const ONE_REPLICA: &str = r#"
[databases.primary]
url = "{writer}"
replicas = ["{r0}"]
"#;

/// Which file served a read of row 1, through the model API.
async fn served_by(db: &Grant) -> (String, i64) {
    let item = RwItem::find(db, ID).await.unwrap().expect("row 1");
    (item.tag, item.n)
}

/// The same through raw SQL.
async fn served_by_raw(db: &Grant) -> (String, i64) {
    let row = raw("SELECT tag, n FROM replicas_rw_items WHERE id = ?")
        .bind(ID)
        .fetch_optional(db)
        .await
        .unwrap()
        .expect("row 1");
    (
        row.get::<String>("tag").unwrap(),
        row.get::<i64>("n").unwrap(),
    )
}

/// Set row 1's `n` on the writer (a write through the model API).
async fn write(db: &Grant, n: i64) {
    let mut item = RwItem {
        id: ID,
        tag: "writer".into(),
        n,
    };
    assert!(item.update(db).await.unwrap());
}

/// Reads served per pool kind.
fn reads(db: &Grant) -> HashMap<PoolKind, u64> {
    db.stats()
        .into_iter()
        .map(|s| (s.key.kind, s.reads))
        .collect()
}

fn fresh(n: i64) -> (String, i64) {
    ("writer".to_string(), n)
}

fn stale(tag: &str) -> (String, i64) {
    (tag.to_string(), 0)
}

/// Delay mode (the default): after its write, a session reads the writer (model and raw
/// reads alike); a session that did not write, and a read outside any session, read the
/// stale replica. The stats count each read on the pool that served it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_mode_reads_your_writes() {
    let db = grant(ONE_REPLICA, &["r0"]).await;
    let writer = Session::new();
    let other = Session::new();
    let before = reads(&db);
    for i in 1..=50 {
        writer
            .run(async {
                write(&db, i).await;
                assert_eq!(served_by(&db).await, fresh(i));
                assert_eq!(served_by_raw(&db).await, fresh(i));
            })
            .await;
        assert_eq!(other.run(served_by(&db)).await, stale("r0"));
        assert_eq!(served_by(&db).await, stale("r0"));
        assert_eq!(session(served_by_raw(&db)).await, stale("r0"));
    }
    assert!(writer.last_write("primary", None).is_some());
    assert!(other.is_empty(), "a session that only read records nothing");
    let after = reads(&db);
    let delta = |k| after[&k] - before.get(&k).copied().unwrap_or(0);
    assert_eq!(delta(PoolKind::WriterReadOnly), 100, "{after:?}");
    assert_eq!(delta(PoolKind::Replica(0)), 150, "{after:?}");
    assert_eq!(
        delta(PoolKind::Writer),
        0,
        "writes are not reads: {after:?}"
    );
    db.close().await;
}

/// `replica_delay = "0"` turns read-your-writes off: the session's reads after its write go
/// to the replica (stale).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_replica_delay_turns_it_off() {
    let toml = format!("{ONE_REPLICA}replica_delay = \"0\"\n");
    let db = grant(&toml, &["r0"]).await;
    session(async {
        write(&db, 7).await;
        assert_eq!(served_by(&db).await, stale("r0"));
        assert_eq!(served_by_raw(&db).await, stale("r0"));
    })
    .await;
    // The write did happen (on the writer).
    let fresh_row = grant::connected_to(grant::Role::Writing, served_by(&db)).await;
    assert_eq!(fresh_row, fresh(7));
    db.close().await;
}

/// The window ends: after `replica_delay` has passed, the session reads the replica again.
/// (No timing assertion: the read right after the write is checked only when it was routed
/// inside the window, which it is on any machine that is not stalled for 200 ms.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_expires() {
    let delay = Duration::from_millis(200);
    let toml = format!("{ONE_REPLICA}replica_delay = \"200ms\"\n");
    let db = grant(&toml, &["r0"]).await;
    let s = Session::new();
    s.run(async {
        write(&db, 3).await;
        let written = Instant::now();
        let got = served_by(&db).await;
        if written.elapsed() + Duration::from_millis(5) < delay {
            assert_eq!(got, fresh(3));
        }
        tokio::time::sleep(delay * 2).await;
        assert_eq!(served_by(&db).await, stale("r0"));
        assert_eq!(served_by_raw(&db).await, stale("r0"));
    })
    .await;
    // A new write opens a new window.
    s.run(async {
        write(&db, 4).await;
        let written = Instant::now();
        let got = served_by_raw(&db).await;
        if written.elapsed() + Duration::from_millis(5) < delay {
            assert_eq!(got, fresh(4));
        }
    })
    .await;
    db.close().await;
}

/// A transaction that wrote records the write on commit; one that rolled back, or that
/// only read, records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_record_on_commit() {
    let db = grant(ONE_REPLICA, &["r0"]).await;

    let committed = Session::new();
    committed
        .run(async {
            let mut tx = db.begin().await.unwrap();
            let mut item = RwItem::find(&mut tx, ID).await.unwrap().unwrap();
            item.n = 11;
            assert!(item.update(&mut tx).await.unwrap());
            // Not recorded before the commit.
            assert!(Session::current().unwrap().is_empty());
            tx.commit().await.unwrap();
            assert!(Session::current()
                .unwrap()
                .last_write("primary", None)
                .is_some());
            assert_eq!(served_by(&db).await, fresh(11));
            assert_eq!(served_by_raw(&db).await, fresh(11));
        })
        .await;

    let rolled_back = Session::new();
    rolled_back
        .run(async {
            let mut tx = db.begin().await.unwrap();
            let mut item = RwItem::find(&mut tx, ID).await.unwrap().unwrap();
            item.n = 12;
            assert!(item.update(&mut tx).await.unwrap());
            tx.rollback().await.unwrap();
            assert_eq!(served_by(&db).await, stale("r0"));
        })
        .await;
    assert!(rolled_back.is_empty(), "a rollback records nothing");

    let read_only = Session::new();
    read_only
        .run(async {
            let mut tx = db.begin().await.unwrap();
            assert_eq!(RwItem::find(&mut tx, ID).await.unwrap().unwrap().n, 11);
            tx.commit().await.unwrap();
            assert_eq!(served_by(&db).await, stale("r0"));
        })
        .await;
    assert!(
        read_only.is_empty(),
        "a transaction that only read records nothing"
    );

    // A transaction dropped without commit (rolled back) records nothing either.
    let dropped = Session::new();
    dropped
        .run(async {
            let mut tx = db.begin().await.unwrap();
            write_in(&mut tx, 13).await;
            drop(tx);
        })
        .await;
    assert!(dropped.is_empty());
    db.close().await;
}

async fn write_in(tx: &mut grant::Transaction, n: i64) {
    let mut item = RwItem {
        id: ID,
        tag: "writer".into(),
        n,
    };
    assert!(item.update(tx).await.unwrap());
}

/// The session travels: as a token to another task (another request), and with
/// `grant::spawn`; a plain `tokio::spawn` or a new session does not carry it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_spawn_carry_the_session() {
    let db = grant(ONE_REPLICA, &["r0"]).await;
    let a = Session::new();
    let token = a
        .run(async {
            write(&db, 21).await;
            // grant::spawn carries the session; tokio::spawn does not.
            let db2 = db.clone();
            let carried = grant::spawn(async move { served_by(&db2).await });
            assert_eq!(carried.await.unwrap(), fresh(21));
            let db2 = db.clone();
            let plain = tokio::spawn(async move { served_by(&db2).await });
            assert_eq!(plain.await.unwrap(), stale("r0"));
            Session::current().unwrap().token()
        })
        .await;
    assert_eq!(token, a.token());

    // The next "request": a fresh task restores the session from the token.
    let db2 = db.clone();
    let t = token.clone();
    let next = tokio::spawn(async move {
        let s = Session::from_token(&t).unwrap();
        assert!(s.last_write("primary", None).is_some());
        s.run(async { (served_by(&db2).await, served_by_raw(&db2).await) })
            .await
    });
    assert_eq!(next.await.unwrap(), (fresh(21), fresh(21)));

    // Without the token (or with a broken one) the same task reads the replica.
    let db2 = db.clone();
    let without = tokio::spawn(async move {
        let s = Session::from_token_or_new(Some("g1.not-a-token"));
        s.run(served_by(&db2)).await
    });
    assert_eq!(without.await.unwrap(), stale("r0"));
    db.close().await;
}

/// Reads outside sessions, by file, over `n` reads.
async fn spread(db: &Grant, n: usize) -> (Vec<String>, HashMap<String, usize>) {
    let mut order = Vec::with_capacity(n);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..n {
        let (tag, _) = served_by(db).await;
        *counts.entry(tag.clone()).or_default() += 1;
        order.push(tag);
    }
    (order, counts)
}

const TWO_REPLICAS: &str = r#"
[databases.primary]
url = "{writer}"
replicas = ["{r0}", "{r1}"]
"#;

const THREE_REPLICAS: &str = r#"
[databases.primary]
url = "{writer}"
replicas = ["{r0}", "{r1}", "{r2}"]
"#;

/// Round robin (the default) alternates exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_round_robin() {
    let db = grant(TWO_REPLICAS, &["r0", "r1"]).await;
    let (order, counts) = spread(&db, 100).await;
    for pair in order.windows(2) {
        assert_ne!(pair[0], pair[1], "round robin alternates: {order:?}");
    }
    assert_eq!(counts["r0"], 50);
    assert_eq!(counts["r1"], 50);
    let r = reads(&db);
    assert_eq!(
        (r[&PoolKind::Replica(0)], r[&PoolKind::Replica(1)]),
        (50, 50)
    );
    // Explicitly configured, three replicas: in turn, each a third.
    let toml = format!("{THREE_REPLICAS}balance = \"round_robin\"\n");
    let db3 = grant(&toml, &["r0", "r1", "r2"]).await;
    let (order, counts) = spread(&db3, 99).await;
    for w in order.windows(3) {
        assert!(w[0] != w[1] && w[1] != w[2] && w[0] != w[2], "{order:?}");
    }
    assert!(counts.values().all(|&c| c == 33), "{counts:?}");
    db.close().await;
    db3.close().await;
}

/// Random: every replica serves, roughly a third each (generous bounds: expected 1000 of
/// 3000, standard deviation about 26).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_random() {
    let toml = format!("{THREE_REPLICAS}balance = \"random\"\n");
    let db = grant(&toml, &["r0", "r1", "r2"]).await;
    let (order, counts) = spread(&db, 3000).await;
    for tag in ["r0", "r1", "r2"] {
        let c = counts.get(tag).copied().unwrap_or(0);
        assert!((700..=1300).contains(&c), "{tag}: {counts:?}");
    }
    // Not round robin in disguise: some read repeats the previous one's replica.
    assert!(order.windows(2).any(|w| w[0] == w[1]));
    db.close().await;
}

/// Weighted [3, 1]: about three reads in four on the first replica (expected 3000 of 4000,
/// standard deviation about 27; the bounds allow a ratio from 2 to 4.5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_weighted() {
    let toml = format!("{TWO_REPLICAS}balance = \"weighted\"\nreplica_weights = [3, 1]\n");
    let db = grant(&toml, &["r0", "r1"]).await;
    let (_, counts) = spread(&db, 4000).await;
    let (a, b) = (counts["r0"] as f64, counts["r1"] as f64);
    assert!(a + b == 4000.0);
    let ratio = a / b;
    assert!((2.0..=4.5).contains(&ratio), "ratio {ratio}: {counts:?}");
    let r = reads(&db);
    assert_eq!(
        r[&PoolKind::Replica(0)] as usize + r[&PoolKind::Replica(1)] as usize,
        4000
    );
    db.close().await;
}

/// Least busy: while four connections of the first replica are held (in use), every read
/// goes to the second (none in use when the read is routed); once released, both serve
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_least_busy() {
    let toml = format!("{TWO_REPLICAS}balance = \"least_busy\"\n");
    let db = grant(&toml, &["r0", "r1"]).await;
    let (_, counts) = spread(&db, 20).await;
    assert_eq!(counts.len(), 2, "idle replicas share the reads: {counts:?}");

    let slot = db
        .handler()
        .database("primary")
        .unwrap()
        .targets(None)
        .unwrap()
        .replicas()[0]
        .clone();
    let grant::Pool::Sqlite(pool) = slot.pool() else {
        panic!("a SQLite pool")
    };
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.acquire().await.unwrap());
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..50 {
        // sqlx hands a released connection back in the background (after a ping), and
        // counts it in use until then: wait until the second replica's last one is back,
        // so that the comparison is 4 in use against 0.
        idle_replica(&db, 1).await;
        let (tag, _) = served_by(&db).await;
        *counts.entry(tag).or_default() += 1;
    }
    assert_eq!(counts.get("r1"), Some(&50), "{counts:?}");
    drop(held);

    // Released (sqlx returns them in the background): the first replica serves again.
    let mut served_again = false;
    for _ in 0..100 {
        let (_, counts) = spread(&db, 10).await;
        if counts.contains_key("r0") {
            served_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        served_again,
        "r0 never served again after its connections were released"
    );
    db.close().await;
}

/// Wait (bounded) until replica `n` has no connection in use.
async fn idle_replica(db: &Grant, n: usize) {
    for _ in 0..500 {
        let stats = db.stats();
        let s = stats
            .iter()
            .find(|s| s.key.kind == PoolKind::Replica(n))
            .unwrap();
        if s.in_use == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("replica {n} kept a connection in use");
}

fn config_err(toml: &str) -> ConfigError {
    Config::from_toml_str_with(toml, "development", &|_| None)
        .expect_err("the config must be refused")
}

/// The replica keys' errors name the key.
#[test]
fn config_errors_name_the_key() {
    let base = "[databases.primary]\nurl = \"sqlite://w.db\"\nreplicas = [\"sqlite://r0.db\", \"sqlite://r1.db\"]\n";

    let err = config_err(&format!("{base}consistency = \"causal\"\n"));
    assert_eq!(err.key, "databases.primary.consistency");
    assert!(
        matches!(err.kind, ConfigErrorKind::CausalUnsupported { .. }),
        "{err:?}"
    );
    // The builder refuses it too.
    let mut r = grant::config::ReplicationConfig::default();
    r.consistency = grant::config::Consistency::Causal;
    let err = Config::builder()
        .database(
            "primary",
            grant::DatabaseConfig::new("sqlite://w.db")
                .replica("sqlite://r0.db")
                .replication(r),
        )
        .build()
        .unwrap_err();
    assert_eq!(err.key, "databases.primary.consistency");

    let err = config_err(&format!(
        "{base}balance = \"weighted\"\nreplica_weights = [3]\n"
    ));
    assert_eq!(err.key, "databases.primary.replica_weights");
    assert!(
        matches!(
            err.kind,
            ConfigErrorKind::WeightsMismatch {
                weights: 1,
                replicas: 2
            }
        ),
        "{err:?}"
    );

    let err = config_err(&format!("{base}replica_weights = [3, 1]\n"));
    assert_eq!(err.key, "databases.primary.replica_weights");
    assert!(
        matches!(err.kind, ConfigErrorKind::WeightsWithoutWeighted),
        "{err:?}"
    );
    let err = config_err(&format!(
        "{base}balance = \"round_robin\"\nreplica_weights = [3, 1]\n"
    ));
    assert_eq!(err.key, "databases.primary.replica_weights");

    let err = config_err(&format!(
        "{base}balance = \"weighted\"\nreplica_weights = [0, 1]\n"
    ));
    assert_eq!(err.key, "databases.primary.replica_weights[0]");
    assert!(
        matches!(
            err.kind,
            ConfigErrorKind::IntegerOutOfRange { value: 0, .. }
        ),
        "{err:?}"
    );

    let err = config_err(&format!("{base}balance = \"fastest\"\n"));
    assert_eq!(err.key, "databases.primary.balance");
    assert!(err.to_string().contains("round_robin"), "{err}");

    for (key, value) in [
        ("consistency", "\"eventual\""),
        ("replica_fallback", "\"nowhere\""),
        ("replica_delay", "\"soon\""),
        ("causal_wait", "\"-1s\""),
        ("max_replication_lag", "\"0\""),
        ("replica_check_interval", "\"0\""),
    ] {
        let err = config_err(&format!("{base}{key} = {value}\n"));
        assert_eq!(err.key, format!("databases.primary.{key}"), "{err}");
    }

    // And the valid spellings load.
    let ok = format!(
        "{base}balance = \"weighted\"\nreplica_weights = [3, 1]\nreplica_delay = \"0\"\n\
         replica_fallback = \"error\"\ncausal_wait = \"0\"\n\
         replica_check_interval = \"50ms\"\n"
    );
    let config = Config::from_toml_str_with(&ok, "development", &|_| None).unwrap();
    let r = &config.database("primary").unwrap().replication;
    assert_eq!(r.replica_delay, Duration::ZERO);
    assert_eq!(r.balance, grant::config::Balance::Weighted);
    assert_eq!(r.replica_fallback, grant::config::ReplicaFallback::Error);
    assert_eq!(r.replica_check_interval, Duration::from_millis(50));

    // Lag is measured from replication positions, which SQLite does not have.
    let err = config_err(&format!("{base}max_replication_lag = \"5s\"\n"));
    assert_eq!(err.key, "databases.primary.max_replication_lag", "{err}");
}

/// A busy replica (its only connection held, the wait for another runs out) is taken out
/// like one that failed: the read is served by the writer's read-only sessions, with no
/// error, and the stats say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_replica_fails_over() {
    let toml = r#"
[databases.primary]
url = "{writer}"
replicas = ["{r0}"]
[databases.primary.pool]
max_connections = 1
acquire_timeout = "200ms"
"#;
    let db = grant(toml, &["r0"]).await;
    // A transaction in a reading scope is read-only on the replica and holds its only
    // connection.
    let tx = grant::connected_to(grant::Role::Reading, db.begin())
        .await
        .unwrap();
    assert!(tx.is_read_only());
    assert_eq!(served_by(&db).await.0, "writer");
    let replica = db
        .stats()
        .into_iter()
        .find(|s| s.key.kind == PoolKind::Replica(0))
        .unwrap();
    assert_eq!(replica.state, grant::ReplicaState::Down, "{replica:?}");
    assert!(replica.acquire_timeouts >= 1, "{replica:?}");
    assert_eq!(replica.fallbacks, 1, "{replica:?}");
    assert_eq!(replica.errors, 1, "{replica:?}");
    tx.rollback().await.unwrap();
}
