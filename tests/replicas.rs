//! Tests on the real replicas: PostgreSQL (a streaming standby) and MariaDB (a GTID
//! replica), from `GRANT_TEST_{POSTGRES,MARIADB}_URL` and `.._REPLICA_URL` (bring them up
//! with `eval "$(bash scripts/db-up.sh)"`). An engine whose URLs are unset is skipped, with
//! a note on stderr.
//!
//! Replication is made visible by pausing replay on the replica (PostgreSQL
//! `pg_wal_replay_pause()`, MariaDB `STOP SLAVE SQL_THREAD` as root): writes then stay on
//! the writer, and a read that returns the new value provably did not come from the
//! replica. Replay is always resumed, also when a test fails (the [`Replay`] guard). Tests
//! that touch the shared servers run one at a time (`common::SERVER_LOCK`).
//!
//! 1. Read-your-writes with replay paused, delay and causal mode: 1,000 write-then-read
//!    cycles in one session see every write (model and raw reads), while another session
//!    and reads outside sessions see the stale replica; the stats say which pool served.
//! 2. Causal mode with replay running: the replica serves the session's reads, fresh; the
//!    session's position never goes back.
//! 3. Session tokens and `grant::spawn` carry read-your-writes to other tasks.
//! 4. Failover: a replica behind a proxy goes down (connections reset) or freezes under
//!    load: no read fails, the replica is out of rotation, then back once it answers. With
//!    `replica_fallback = "error"` and no replica left: `Error::NoReplica`.
//! 5. Lag: beyond `max_replication_lag` a replica is out (reads go to the writer, fresh)
//!    until it catches up.
//! 6. A write through the reading role is refused by Grant, and by the replica itself.
//!    (`tests/read_only.rs` covers every write API in every read-only place.)
//!
//! Data: rows of the table `replicas_rw_items`, which no other suite uses; each test
//! inserts its own row (tagged with the process id), waits until the replica has it, and
//! deletes it at the end.
//!
//! The SQLite side (separate replica files, balancing, config errors) is in
//! `tests/replicas_sqlite.rs`.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::proxy::{host_port, Mode, Proxy};
use common::Engine;
use grant::config::{Consistency, ReplicaFallback, ReplicationConfig};
use grant::{
    connected_to, raw, AssertSqlSafe, Backend, Config, DatabaseConfig, Error, Grant, Model,
    PoolConfig, PoolKind, PoolStats, Position, ReplicaState, Role, Session,
};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "replicas_rw_items")]
struct RwItem {
    id: i64,
    tag: String,
    n: i64,
}

/// Write-then-read cycles of test 1 (per engine and mode).
const CYCLES: i64 = 1000;
/// Cycles of test 2 (per engine).
const CAUSAL_CYCLES: i64 = 300;
/// The value of a test's row on the replica while replay is paused.
const STALE: i64 = -1;

// ------------------------------------------------------------------ engines ---

/// The engines whose writer and replica URLs are both set. An engine without a replica URL
/// is skipped with a note (once per test binary, past the harness's output capture, like
/// `common`'s note for an unset writer URL).
fn engines() -> Vec<Engine> {
    use std::io::Write as _;
    static SAID: std::sync::Once = std::sync::Once::new();
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for e in [Engine::postgres(), Engine::mariadb()]
        .into_iter()
        .flatten()
    {
        if e.replica_url.is_some() {
            out.push(e);
        } else if e.backend == Backend::Postgres {
            skipped.push("PostgreSQL: GRANT_TEST_POSTGRES_REPLICA_URL");
        } else {
            skipped.push("MariaDB: GRANT_TEST_MARIADB_REPLICA_URL");
        }
    }
    if !skipped.is_empty() {
        SAID.call_once(|| {
            for what in &skipped {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: the replica tests of {what} is not set (run `eval \"$(bash scripts/db-up.sh)\"` first)"
                );
            }
        });
    }
    out
}

/// A second `Engine` value for the same servers.
fn same_engine(e: &Engine) -> Engine {
    Engine {
        backend: e.backend,
        url: e.url.clone(),
        replica_url: e.replica_url.clone(),
    }
}

fn replica_url(e: &Engine) -> String {
    e.replica_url
        .clone()
        .expect("engines() keeps engines with a replica")
}

/// Run `test` on every engine with a replica, one test at a time on the shared servers,
/// bounded by a generous timeout (a safety net against hangs, not a timing assertion).
async fn on_each<F, Fut>(test: F)
where
    F: Fn(Engine) -> Fut,
    Fut: Future<Output = ()>,
{
    let _serial = common::SERVER_LOCK.lock().await;
    for e in engines() {
        let backend = e.backend;
        tokio::time::timeout(Duration::from_secs(300), test(e))
            .await
            .unwrap_or_else(|_| panic!("{backend}: the test did not finish within 300 s"));
    }
}

// ------------------------------------------------------- pausing replay ---

/// Pauses replay on an engine's replica; resumes it on `resume` or, whatever happens
/// (a failed assertion included), when dropped.
struct Replay {
    backend: Backend,
    /// Where to connect as a user allowed to pause replay, tried in turn.
    control_urls: Vec<String>,
    paused: bool,
}

/// The socket of the MariaDB replica that `scripts/db-up.sh` sets up.
const MARIADB_REPLICA_SOCKET: &str = "/run/mysqld/mysqld-replica.sock";

impl Replay {
    fn new(e: &Engine) -> Replay {
        let replica = replica_url(e);
        let control_urls = match e.backend {
            // The replica URL's user is the superuser `postgres`.
            Backend::Postgres => vec![replica],
            // STOP/START SLAVE needs root (the application user `grant` lacks SUPER): over
            // TCP if root may log in that way, else over the replica's socket (db-up.sh
            // builds the replica with root authenticated by unix_socket only).
            _ => {
                let db = replica.rsplit('/').next().unwrap_or("grant_test");
                let db = db.split('?').next().unwrap_or(db);
                let mut urls: Vec<String> = std::env::var("GRANT_TEST_MARIADB_REPLICA_ROOT_URL")
                    .ok()
                    .filter(|u| !u.is_empty())
                    .into_iter()
                    .collect();
                urls.push(format!("mysql://root@{}/{db}", host_port(&replica)));
                if std::path::Path::new(MARIADB_REPLICA_SOCKET).exists() {
                    urls.push(format!(
                        "mysql://root@localhost/{db}?socket={MARIADB_REPLICA_SOCKET}"
                    ));
                }
                urls
            }
        };
        Replay {
            backend: e.backend,
            control_urls,
            paused: false,
        }
    }

    async fn pause(&mut self) {
        // Set first: whatever happens from here, the guard resumes.
        self.paused = true;
        replay_control(self.backend, &self.control_urls, true)
            .await
            .unwrap_or_else(|err| panic!("{}: cannot pause replay: {err}", self.backend));
    }

    async fn resume(&mut self) {
        if self.paused {
            replay_control(self.backend, &self.control_urls, false)
                .await
                .unwrap_or_else(|err| panic!("{}: cannot resume replay: {err}", self.backend));
            self.paused = false;
        }
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        if !self.paused {
            return;
        }
        // Maybe inside a runtime worker (a panicking test): resume on a thread of its own.
        let (backend, urls) = (self.backend, self.control_urls.clone());
        let resumed = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to resume replay");
            rt.block_on(async {
                let mut last = None;
                for _ in 0..10 {
                    match replay_control(backend, &urls, false).await {
                        Ok(()) => return Ok(()),
                        Err(e) => last = Some(e),
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(last.unwrap())
            })
        })
        .join();
        if !matches!(resumed, Ok(Ok(()))) {
            eprintln!(
                "WARNING: could not resume replay on the {backend} replica: {resumed:?}; \
                 run scripts/db-up.sh"
            );
        }
    }
}

/// Pause or resume replay, connecting to the first of `urls` that accepts the login.
async fn replay_control(backend: Backend, urls: &[String], pause: bool) -> Result<(), String> {
    use sqlx::{Connection as _, Executor as _};
    let mut refused = Vec::new();
    for url in urls {
        let done = match backend {
            Backend::Postgres => match sqlx::PgConnection::connect(url).await {
                Ok(mut c) => {
                    let sql = if pause {
                        "SELECT pg_wal_replay_pause()"
                    } else {
                        "SELECT pg_wal_replay_resume()"
                    };
                    let r = c.execute(sql).await.map(drop);
                    let _ = c.close().await;
                    r
                }
                Err(e) => {
                    refused.push(format!("{url}: {e}"));
                    continue;
                }
            },
            _ => match sqlx::MySqlConnection::connect(url).await {
                Ok(mut c) => {
                    let sql = if pause {
                        "STOP SLAVE SQL_THREAD"
                    } else {
                        "START SLAVE SQL_THREAD"
                    };
                    let r = c.execute(sql).await.map(drop);
                    let _ = c.close().await;
                    r
                }
                Err(e) => {
                    refused.push(format!("{url}: {e}"));
                    continue;
                }
            },
        };
        return done.map_err(|e| format!("{url}: {e}"));
    }
    Err(format!("no control connection: {}", refused.join("; ")))
}

// ------------------------------------------------------------- fixtures ---

/// A connection pool straight to the replica (no Grant in between).
enum Direct {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
}

impl Direct {
    async fn connect(e: &Engine) -> Direct {
        let url = replica_url(e);
        match e.backend {
            Backend::Postgres => Direct::Pg(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .unwrap(),
            ),
            _ => Direct::My(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .unwrap(),
            ),
        }
    }

    /// `n` of row `id` on the replica (`None`: not there, or the table is not there yet).
    async fn value(&self, id: i64) -> Option<i64> {
        match self {
            Direct::Pg(p) => sqlx::query_scalar("SELECT n FROM replicas_rw_items WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await
                .ok()
                .flatten(),
            Direct::My(p) => sqlx::query_scalar("SELECT n FROM replicas_rw_items WHERE id = ?")
                .bind(id)
                .fetch_optional(p)
                .await
                .ok()
                .flatten(),
        }
    }

    /// Wait (bounded) until row `id` has `n` on the replica.
    async fn wait_for(&self, id: i64, n: i64) {
        for _ in 0..2000 {
            if self.value(id).await == Some(n) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("row {id} never reached n = {n} on the replica");
    }

    async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        use sqlx::Executor as _;
        Ok(match self {
            Direct::Pg(p) => p.execute(sql).await?.rows_affected(),
            Direct::My(p) => p.execute(sql).await?.rows_affected(),
        })
    }

    async fn close(&self) {
        match self {
            Direct::Pg(p) => p.close().await,
            Direct::My(p) => p.close().await,
        }
    }
}

/// A test's own row (n = [`STALE`]), present on the replica.
struct Fixture {
    id: i64,
    /// A plain handle on the writer (no replicas) for setup and cleanup.
    setup: Grant,
    replica: Direct,
}

async fn fixture(e: &Engine, test: &str) -> Fixture {
    let setup = e.grant();
    let create = e.ddl(
        "CREATE TABLE IF NOT EXISTS replicas_rw_items \
         (id {pk}, tag {text} NOT NULL, n {i64} NOT NULL)",
    );
    raw(AssertSqlSafe(create)).execute(&setup).await.unwrap();
    let mut row = RwItem {
        id: 0,
        tag: format!("{test}-{}", std::process::id()),
        n: STALE,
    };
    row.insert(&setup).await.unwrap();
    let replica = Direct::connect(e).await;
    replica.wait_for(row.id, STALE).await;
    Fixture {
        id: row.id,
        setup,
        replica,
    }
}

impl Fixture {
    async fn finish(self, db: Grant) {
        db.close().await;
        RwItem::query()
            .filter(RwItem::ID.eq(self.id))
            .delete_all(&self.setup)
            .await
            .unwrap();
        self.setup.close().await;
        self.replica.close().await;
    }
}

fn replication(consistency: Consistency) -> ReplicationConfig {
    let mut r = ReplicationConfig::default();
    r.consistency = consistency;
    r
}

fn build(config: DatabaseConfig) -> Grant {
    Grant::from_config(
        Config::builder()
            .database("primary", config)
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// `primary` on the engine's writer with `replicas` and `r`.
fn replicated(e: &Engine, replicas: &[String], r: ReplicationConfig) -> DatabaseConfig {
    replicas
        .iter()
        .fold(DatabaseConfig::new(&e.url), |c, u| c.replica(u))
        .replication(r)
}

/// Pools for the failover tests: quick to give up on a replica that does not answer.
fn quick_pools(config: DatabaseConfig, statement_timeout: Duration) -> DatabaseConfig {
    config
        .statement_timeout(Some(statement_timeout))
        .pool(PoolConfig {
            max_connections: 4,
            connect_timeout: Duration::from_millis(300),
            acquire_timeout: Duration::from_millis(1000),
            ..PoolConfig::default()
        })
}

// ------------------------------------------------------ reads and writes ---

/// Row `id`'s `n`, read through the model API (in the current scope and session).
async fn model_n(db: &Grant, id: i64) -> Result<i64, Error> {
    Ok(RwItem::find(db, id).await?.expect("the row exists").n)
}

/// The same through raw SQL.
async fn raw_n(backend: Backend, db: &Grant, id: i64) -> Result<i64, Error> {
    let ph = if backend == Backend::Postgres {
        "$1"
    } else {
        "?"
    };
    let sql = format!("SELECT n FROM replicas_rw_items WHERE id = {ph}");
    let row = raw(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?
        .expect("the row exists");
    row.get::<i64>("n")
}

/// Set row `id`'s `n` on the writer (a model write).
async fn set_n(db: &Grant, id: i64, n: i64) {
    let changed = RwItem::query()
        .filter(RwItem::ID.eq(id))
        .update_all(db, [RwItem::N.set(n)])
        .await
        .unwrap();
    assert_eq!(changed, 1);
}

fn stat(db: &Grant, kind: PoolKind) -> PoolStats {
    db.stats()
        .into_iter()
        .find(|s| s.key.kind == kind)
        .unwrap_or_else(|| panic!("no pool {kind}"))
}

fn reads(db: &Grant, kind: PoolKind) -> u64 {
    stat(db, kind).reads
}

/// Poll (bounded by `secs`) until replica `n`'s stats satisfy `ok`.
async fn wait_stat(db: &Grant, n: usize, secs: u64, what: &str, ok: impl Fn(&PoolStats) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let s = stat(db, PoolKind::Replica(n));
        if ok(&s) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("replica {n} never became {what} within {secs} s: {s:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ------------------------------------------- 1. read-your-writes, paused ---

/// With replay paused, a session that writes reads its writes (model and raw), every one
/// of [`CYCLES`]; a session that did not write, and a read outside any session, read the
/// stale replica. Delay mode reads from the writer for `replica_delay`; causal mode waits
/// `causal_wait` for the replica (which never catches up) and then reads the writer.
async fn read_your_writes_paused(e: Engine, consistency: Consistency) {
    let fx = fixture(&e, "ryw").await;
    let mut r = replication(consistency);
    r.causal_wait = Duration::from_millis(2);
    let db = build(replicated(&e, &[replica_url(&e)], r));
    let id = fx.id;
    assert_eq!(model_n(&db, id).await.unwrap(), STALE);

    let mut replay = Replay::new(&e);
    replay.pause().await;
    let writer = Session::new();
    let other = Session::new();
    let (ro0, rep0, w0) = (
        reads(&db, PoolKind::WriterReadOnly),
        reads(&db, PoolKind::Replica(0)),
        reads(&db, PoolKind::Writer),
    );
    let mut last: Option<Position> = None;
    for i in 0..CYCLES {
        writer
            .run(async {
                set_n(&db, id, i).await;
                assert_eq!(model_n(&db, id).await.unwrap(), i, "cycle {i}: model read");
                assert_eq!(
                    raw_n(e.backend, &db, id).await.unwrap(),
                    i,
                    "cycle {i}: raw read"
                );
            })
            .await;
        assert_eq!(
            other.run(model_n(&db, id)).await.unwrap(),
            STALE,
            "cycle {i}: a session that did not write reads the replica"
        );
        assert_eq!(
            raw_n(e.backend, &db, id).await.unwrap(),
            STALE,
            "cycle {i}: a read outside sessions reads the replica"
        );
        if consistency == Consistency::Causal {
            let at = writer
                .position("primary", None)
                .expect("causal mode records the writer's position");
            if let Some(prev) = &last {
                assert!(at.covers(prev), "cycle {i}: {at} went back from {prev}");
                assert_ne!(&at, prev, "cycle {i}: the write did not move the position");
            }
            last = Some(at);
        }
    }
    // Replay really was paused the whole time.
    assert_eq!(fx.replica.value(id).await, Some(STALE));
    replay.resume().await;

    let ro = reads(&db, PoolKind::WriterReadOnly) - ro0;
    let rep = reads(&db, PoolKind::Replica(0)) - rep0;
    eprintln!(
        "{} {consistency:?}: {CYCLES} write-then-read cycles; reads served: writer (read-only) {ro}, replica {rep}",
        e.backend
    );
    assert_eq!(ro, 2 * CYCLES as u64, "the session's reads, on the writer");
    assert_eq!(rep, 2 * CYCLES as u64, "the other reads, on the replica");
    assert_eq!(reads(&db, PoolKind::Writer), w0, "writes are not reads");
    assert_eq!(stat(&db, PoolKind::Replica(0)).state, ReplicaState::Up);

    // Resumed: the replica catches up.
    fx.replica.wait_for(id, CYCLES - 1).await;
    fx.finish(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_with_replay_paused_delay() {
    on_each(|e| read_your_writes_paused(e, Consistency::Delay)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_with_replay_paused_causal() {
    on_each(|e| read_your_writes_paused(e, Consistency::Causal)).await;
}

// ------------------------------------------ 2. causal, replay running ---

/// Causal mode, replay running: the session's reads after its writes are fresh and served
/// by the replica (after it replayed the write's position), not the writer; the session's
/// position never goes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn causal_reads_are_served_by_the_replica() {
    on_each(|e| async move {
        let fx = fixture(&e, "causal").await;
        let mut r = replication(Consistency::Causal);
        // Generous: a replica that has not replayed a local write in 5 s is broken.
        r.causal_wait = Duration::from_secs(5);
        let db = build(replicated(&e, &[replica_url(&e)], r));
        let id = fx.id;
        assert_eq!(model_n(&db, id).await.unwrap(), STALE);

        let s = Session::new();
        let (ro0, rep0) = (
            reads(&db, PoolKind::WriterReadOnly),
            reads(&db, PoolKind::Replica(0)),
        );
        let mut last: Option<Position> = None;
        for i in 0..CAUSAL_CYCLES {
            s.run(async {
                set_n(&db, id, i).await;
                let written = Session::current()
                    .unwrap()
                    .position("primary", None)
                    .expect("a position after the write");
                assert_eq!(model_n(&db, id).await.unwrap(), i, "cycle {i}: model read");
                assert_eq!(raw_n(e.backend, &db, id).await.unwrap(), i, "cycle {i}: raw read");
                let read_at = Session::current().unwrap().position("primary", None).unwrap();
                assert!(read_at.covers(&written), "cycle {i}: {read_at} < {written}");
            })
            .await;
            let at = s.position("primary", None).unwrap();
            if let Some(prev) = &last {
                assert!(at.covers(prev), "cycle {i}: {at} went back from {prev}");
            }
            last = Some(at);
        }
        // Monotonic: without a new write, the session keeps seeing its last value.
        for _ in 0..20 {
            assert_eq!(s.run(model_n(&db, id)).await.unwrap(), CAUSAL_CYCLES - 1);
        }
        let ro = reads(&db, PoolKind::WriterReadOnly) - ro0;
        let rep = reads(&db, PoolKind::Replica(0)) - rep0;
        eprintln!(
            "{} causal, replay running: {CAUSAL_CYCLES} cycles; reads served: replica {rep}, writer (read-only) {ro}",
            e.backend
        );
        let total = 2 * CAUSAL_CYCLES as u64 + 20;
        assert_eq!(ro + rep, total);
        assert!(ro * 100 <= total, "at most 1% from the writer: {ro} of {total}");
        fx.finish(db).await;
    })
    .await;
}

// --------------------------------------------------------------- 3. token ---

/// With replay paused: a session's token restores read-your-writes in a fresh task (the
/// next request); `grant::spawn` carries the session into a task, `tokio::spawn` does not.
async fn token_and_spawn(e: Engine, consistency: Consistency) {
    let fx = fixture(&e, "token").await;
    let mut r = replication(consistency);
    r.causal_wait = Duration::from_millis(2);
    let db = build(replicated(&e, &[replica_url(&e)], r));
    let (id, backend) = (fx.id, e.backend);
    assert_eq!(model_n(&db, id).await.unwrap(), STALE);

    let mut replay = Replay::new(&e);
    replay.pause().await;
    let a = Session::new();
    a.run(async {
        set_n(&db, id, 42).await;
        assert_eq!(model_n(&db, id).await.unwrap(), 42);
        let d = db.clone();
        let carried = grant::spawn(async move { model_n(&d, id).await.unwrap() });
        assert_eq!(
            carried.await.unwrap(),
            42,
            "grant::spawn carries the session"
        );
        let d = db.clone();
        let plain = tokio::spawn(async move { model_n(&d, id).await.unwrap() });
        assert_eq!(plain.await.unwrap(), STALE, "tokio::spawn does not");
    })
    .await;
    let token = a.token();

    let (d, t) = (db.clone(), token.clone());
    let next_request = tokio::spawn(async move {
        let s = Session::from_token(&t).unwrap();
        s.run(async {
            (
                model_n(&d, id).await.unwrap(),
                raw_n(backend, &d, id).await.unwrap(),
            )
        })
        .await
    });
    assert_eq!(next_request.await.unwrap(), (42, 42));
    let d = db.clone();
    let no_token = tokio::spawn(async move { grant::session(model_n(&d, id)).await.unwrap() });
    assert_eq!(no_token.await.unwrap(), STALE);

    let restored = Session::from_token(&token).unwrap();
    assert_eq!(
        restored.position("primary", None),
        a.position("primary", None)
    );
    assert_eq!(
        restored.position("primary", None).is_some(),
        consistency == Consistency::Causal
    );
    assert_eq!(fx.replica.value(id).await, Some(STALE));
    replay.resume().await;
    fx.replica.wait_for(id, 42).await;
    fx.finish(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_spawn_carry_the_session() {
    on_each(|e| async move {
        let e2 = same_engine(&e);
        token_and_spawn(e, Consistency::Delay).await;
        token_and_spawn(e2, Consistency::Causal).await;
    })
    .await;
}

/// With replay paused: a transaction that wrote records the write in the session on
/// commit (causal mode: with the writer's position), so the session's next read is fresh;
/// one that rolled back records nothing and the session keeps reading the replica.
async fn transactions(e: Engine, consistency: Consistency) {
    let fx = fixture(&e, "tx").await;
    let mut r = replication(consistency);
    r.causal_wait = Duration::from_millis(2);
    let db = build(replicated(&e, &[replica_url(&e)], r));
    let id = fx.id;
    assert_eq!(model_n(&db, id).await.unwrap(), STALE);

    let mut replay = Replay::new(&e);
    replay.pause().await;
    let committed = Session::new();
    committed
        .run(async {
            let mut tx = db.begin().await.unwrap();
            let mut row = RwItem::find(&mut tx, id).await.unwrap().unwrap();
            row.n = 55;
            assert!(row.update(&mut tx).await.unwrap());
            assert!(
                Session::current().unwrap().is_empty(),
                "not before the commit"
            );
            tx.commit().await.unwrap();
            assert_eq!(model_n(&db, id).await.unwrap(), 55);
            assert_eq!(raw_n(e.backend, &db, id).await.unwrap(), 55);
        })
        .await;
    assert!(committed.last_write("primary", None).is_some());
    assert_eq!(
        committed.position("primary", None).is_some(),
        consistency == Consistency::Causal
    );

    let rolled_back = Session::new();
    rolled_back
        .run(async {
            let mut tx = db.begin().await.unwrap();
            let mut row = RwItem::find(&mut tx, id).await.unwrap().unwrap();
            row.n = 66;
            assert!(row.update(&mut tx).await.unwrap());
            tx.rollback().await.unwrap();
            assert_eq!(model_n(&db, id).await.unwrap(), STALE, "reads the replica");
        })
        .await;
    assert!(rolled_back.last_write("primary", None).is_none());
    assert_eq!(fx.replica.value(id).await, Some(STALE));
    replay.resume().await;
    fx.replica.wait_for(id, 55).await;
    fx.finish(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_record_on_commit() {
    on_each(|e| async move {
        let e2 = same_engine(&e);
        transactions(e, Consistency::Delay).await;
        transactions(e2, Consistency::Causal).await;
    })
    .await;
}

/// The safety net itself: a test that panics while replay is paused leaves replication
/// running (the guard resumes it while unwinding).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_is_resumed_when_a_test_panics() {
    on_each(|e| async move {
        let fx = fixture(&e, "guard").await;
        let e2 = same_engine(&e);
        let failing = tokio::spawn(async move {
            let mut replay = Replay::new(&e2);
            replay.pause().await;
            panic!("expected panic: checking that the Replay guard resumes replay");
        });
        assert!(failing.await.unwrap_err().is_panic());
        set_n(&fx.setup, fx.id, 9).await;
        fx.replica.wait_for(fx.id, 9).await;
        fx.finish(e.grant()).await;
    })
    .await;
}

// ------------------------------------------------------------ 4. failover ---

/// Readers that loop `per_task` reads each (model and raw in turn) outside sessions; the
/// reads done so far are counted in `done`. Each returns the errors it saw.
fn readers(
    db: &Grant,
    backend: Backend,
    id: i64,
    tasks: usize,
    per_task: usize,
    done: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Vec<String>>> {
    (0..tasks)
        .map(|_| {
            let (db, done) = (db.clone(), done.clone());
            tokio::spawn(async move {
                let mut errors = Vec::new();
                for k in 0..per_task {
                    let got = if k % 2 == 0 {
                        model_n(&db, id).await
                    } else {
                        raw_n(backend, &db, id).await
                    };
                    match got {
                        Ok(n) if n == STALE => {}
                        other => errors.push(format!("{other:?}")),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                errors
            })
        })
        .collect()
}

/// Two replicas, each behind a proxy. Under load (4 readers x 200 reads), proxy 1 goes
/// `mode` (down: connections reset; frozen: accepted, never answered): every read
/// succeeds, replica 0 is out of rotation with errors and fallbacks counted. Back to
/// forwarding, its probe re-admits it and it serves reads again.
async fn failover(e: Engine, mode: Mode) {
    let fx = fixture(&e, "failover").await;
    let upstream = host_port(&replica_url(&e));
    let (p1, p2) = (Proxy::start(&upstream).await, Proxy::start(&upstream).await);
    let mut r = ReplicationConfig::default();
    r.replica_check_interval = Duration::from_millis(100);
    let urls = [p1.url(&replica_url(&e)), p2.url(&replica_url(&e))];
    let db = build(quick_pools(
        replicated(&e, &urls, r),
        Duration::from_millis(300),
    ));
    let id = fx.id;
    for _ in 0..4 {
        assert_eq!(model_n(&db, id).await.unwrap(), STALE);
    }
    assert!(reads(&db, PoolKind::Replica(0)) > 0 && reads(&db, PoolKind::Replica(1)) > 0);
    let served = |db: &Grant| {
        db.stats()
            .iter()
            .filter(|s| s.key.kind != PoolKind::Writer)
            .map(|s| s.reads)
            .sum::<u64>()
    };
    let served0 = served(&db);

    let done = Arc::new(AtomicUsize::new(0));
    let tasks = readers(&db, e.backend, id, 4, 200, &done);
    for _ in 0..30_000 {
        if done.load(Ordering::Relaxed) >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    p1.set(mode);
    let at = done.load(Ordering::Relaxed);
    let mut errors = Vec::new();
    for t in tasks {
        errors.extend(t.await.unwrap());
    }
    assert!(errors.is_empty(), "{mode:?}: reads failed: {errors:?}");
    let r0 = stat(&db, PoolKind::Replica(0));
    let r1 = stat(&db, PoolKind::Replica(1));
    let ro = stat(&db, PoolKind::WriterReadOnly);
    eprintln!(
        "{} {mode:?} at read {at} of 800: replica 0 {:?} reads {} errors {} fallbacks {} statement timeouts {} connect errors {}; replica 1 reads {}; writer (read-only) reads {}",
        e.backend, r0.state, r0.reads, r0.errors, r0.fallbacks, r0.statement_timeouts, r0.connect_errors, r1.reads, ro.reads
    );
    assert_eq!(r0.state, ReplicaState::Down, "{r0:?}");
    assert!(r0.errors > 0 && r0.fallbacks > 0, "{r0:?}");
    if mode == Mode::Frozen {
        assert!(r0.statement_timeouts + r0.connect_errors > 0, "{r0:?}");
    }
    assert_eq!(r1.state, ReplicaState::Up, "{r1:?}");
    assert_eq!(r1.errors, 0, "{r1:?}");
    // Every read was served exactly once, somewhere.
    assert_eq!(served(&db) - served0, 800);

    // Back: the probe re-admits it and it takes reads again.
    p1.set(Mode::Forward);
    wait_stat(&db, 0, 10, "up", |s| s.state == ReplicaState::Up).await;
    let before = reads(&db, PoolKind::Replica(0));
    for _ in 0..200 {
        assert_eq!(model_n(&db, id).await.unwrap(), STALE);
        if reads(&db, PoolKind::Replica(0)) > before {
            break;
        }
    }
    assert!(
        reads(&db, PoolKind::Replica(0)) > before,
        "re-admitted replica 0 served no read"
    );
    fx.finish(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_replica_down_under_load_and_back() {
    on_each(|e| failover(e, Mode::Down)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_replica_frozen_under_load_and_back() {
    on_each(|e| failover(e, Mode::Frozen)).await;
}

/// One replica, behind a proxy, goes down.
///
/// `replica_fallback = "writer"` (the default): the failed read is retried on the writer
/// (read-only sessions), and so are later reads while the replica is out.
///
/// `replica_fallback = "error"`: the read that fails is retried nowhere (no replica left,
/// and the writer is not allowed): its own error reaches the caller; later reads fail at
/// once with `Error::NoReplica`, until the probe re-admits the replica. A session that just
/// wrote still reads the writer (read-your-writes needs no replica).
async fn single_replica(e: Engine, fallback: ReplicaFallback) {
    let fx = fixture(&e, "single").await;
    let proxy = Proxy::start(&host_port(&replica_url(&e))).await;
    let mut r = ReplicationConfig::default();
    r.replica_check_interval = Duration::from_millis(100);
    r.replica_fallback = fallback;
    let db = build(quick_pools(
        replicated(&e, &[proxy.url(&replica_url(&e))], r),
        Duration::from_millis(1000),
    ));
    let id = fx.id;
    assert_eq!(model_n(&db, id).await.unwrap(), STALE);
    let ro0 = reads(&db, PoolKind::WriterReadOnly);

    proxy.set(Mode::Down);
    match fallback {
        ReplicaFallback::Writer => {
            for _ in 0..5 {
                assert_eq!(model_n(&db, id).await.unwrap(), STALE);
                assert_eq!(raw_n(e.backend, &db, id).await.unwrap(), STALE);
            }
            let r0 = stat(&db, PoolKind::Replica(0));
            assert_eq!(r0.state, ReplicaState::Down, "{r0:?}");
            assert!(r0.errors >= 1, "{r0:?}");
            assert_eq!(r0.fallbacks, 1, "only the read that failed there: {r0:?}");
            assert_eq!(reads(&db, PoolKind::WriterReadOnly) - ro0, 10);
        }
        _ => {
            let first = model_n(&db, id).await.unwrap_err();
            assert!(
                matches!(
                    first,
                    Error::Connect { .. } | Error::Database { .. } | Error::Timeout { .. }
                ),
                "the failing read's own error: {first:?}"
            );
            let r0 = stat(&db, PoolKind::Replica(0));
            assert_eq!(r0.state, ReplicaState::Down, "{r0:?}");
            assert!(r0.errors >= 1, "{r0:?}");
            assert_eq!(r0.fallbacks, 0, "retried nowhere: {r0:?}");
            for _ in 0..3 {
                for err in [
                    model_n(&db, id).await.unwrap_err(),
                    raw_n(e.backend, &db, id).await.unwrap_err(),
                ] {
                    match err {
                        Error::NoReplica { database, shard } => {
                            assert_eq!(database, "primary");
                            assert_eq!(shard, None);
                        }
                        other => panic!("expected NoReplica, got {other:?}"),
                    }
                }
            }
            assert_eq!(
                reads(&db, PoolKind::WriterReadOnly),
                ro0,
                "nothing read the writer"
            );
            // A session that just wrote reads the writer.
            grant::session(async {
                set_n(&db, id, 7).await;
                assert_eq!(model_n(&db, id).await.unwrap(), 7);
                set_n(&db, id, STALE).await;
                assert_eq!(model_n(&db, id).await.unwrap(), STALE);
            })
            .await;
        }
    }
    proxy.set(Mode::Forward);
    wait_stat(&db, 0, 10, "up", |s| s.state == ReplicaState::Up).await;
    let before = reads(&db, PoolKind::Replica(0));
    for _ in 0..50 {
        assert_eq!(model_n(&db, id).await.unwrap(), STALE);
        if reads(&db, PoolKind::Replica(0)) > before {
            break;
        }
    }
    assert!(
        reads(&db, PoolKind::Replica(0)) > before,
        "re-admitted, it serves"
    );
    fx.finish(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_replica_down_falls_back_to_the_writer() {
    on_each(|e| single_replica(e, ReplicaFallback::Writer)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_replica_down_with_fallback_error_is_no_replica() {
    on_each(|e| single_replica(e, ReplicaFallback::Error)).await;
}

// ----------------------------------------------------------------- 5. lag ---

/// `max_replication_lag = "200ms"`: with replay paused and a write, the replica falls
/// behind and is taken out (Lagging); reads, even outside sessions, go to the writer and
/// are fresh. Resumed, it catches up and is back in rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_replica_is_taken_out_until_it_catches_up() {
    on_each(|e| async move {
        let fx = fixture(&e, "lag").await;
        let mut r = ReplicationConfig::default();
        r.max_replication_lag = Some(Duration::from_millis(200));
        r.replica_check_interval = Duration::from_millis(50);
        let db = build(replicated(&e, &[replica_url(&e)], r));
        let id = fx.id;
        // The first read starts the monitor.
        assert_eq!(model_n(&db, id).await.unwrap(), STALE);
        wait_stat(&db, 0, 10, "measured", |s| {
            s.state == ReplicaState::Up && s.lag.is_some()
        })
        .await;

        let mut replay = Replay::new(&e);
        replay.pause().await;
        for k in 1..=3 {
            set_n(&db, id, 100 + k).await;
        }
        wait_stat(&db, 0, 10, "lagging", |s| s.state == ReplicaState::Lagging).await;
        let lag = stat(&db, PoolKind::Replica(0)).lag.unwrap();
        assert!(lag > Duration::from_millis(200), "{lag:?}");

        let (ro0, rep0) = (
            reads(&db, PoolKind::WriterReadOnly),
            reads(&db, PoolKind::Replica(0)),
        );
        for _ in 0..20 {
            assert_eq!(
                model_n(&db, id).await.unwrap(),
                103,
                "fresh, from the writer"
            );
            assert_eq!(raw_n(e.backend, &db, id).await.unwrap(), 103);
        }
        assert_eq!(reads(&db, PoolKind::WriterReadOnly) - ro0, 40);
        assert_eq!(
            reads(&db, PoolKind::Replica(0)),
            rep0,
            "the lagging replica serves nothing"
        );
        assert_eq!(fx.replica.value(id).await, Some(STALE));
        eprintln!(
            "{} lag: replica Lagging at {lag:?}; 40 reads served by the writer (read-only)",
            e.backend
        );

        replay.resume().await;
        wait_stat(&db, 0, 10, "up again", |s| s.state == ReplicaState::Up).await;
        fx.replica.wait_for(id, 103).await;
        let rep1 = reads(&db, PoolKind::Replica(0));
        assert_eq!(model_n(&db, id).await.unwrap(), 103);
        assert_eq!(
            reads(&db, PoolKind::Replica(0)),
            rep1 + 1,
            "back in rotation"
        );
        fx.finish(db).await;
    })
    .await;
}

// --------------------------------------------------------- 6. read-only ---

/// A write through the reading role is refused by Grant before any SQL is sent; the same
/// write sent straight to the replica is refused by the server. (`tests/read_only.rs`
/// covers every write API in every read-only place, and that each read-only pool's
/// connections refuse writes at the server.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_the_reading_role_are_refused() {
    on_each(|e| async move {
        let fx = fixture(&e, "readonly").await;
        let db = build(replicated(
            &e,
            &[replica_url(&e)],
            ReplicationConfig::default(),
        ));
        let id = fx.id;
        let mut row = RwItem::find(&db, id).await.unwrap().unwrap();
        row.n = 5;
        let refused = [
            connected_to(Role::Reading, row.update(&db))
                .await
                .map(|_| ()),
            connected_to(
                Role::Reading,
                RwItem::query()
                    .filter(RwItem::ID.eq(id))
                    .update_all(&db, [RwItem::N.set(6)]),
            )
            .await
            .map(|_| ()),
            connected_to(
                Role::Reading,
                raw("UPDATE replicas_rw_items SET n = 7").execute(&db),
            )
            .await
            .map(|_| ()),
        ];
        for r in refused {
            match r {
                Err(Error::ReadOnly { database, role, .. }) => {
                    assert_eq!(database, "primary");
                    assert_eq!(role, Role::Reading);
                }
                other => panic!("expected ReadOnly, got {other:?}"),
            }
        }
        // Straight to the replica, bypassing Grant: the server refuses.
        let err = fx
            .replica
            .execute("INSERT INTO replicas_rw_items (tag, n) VALUES ('leak', 0)")
            .await
            .expect_err("the replica accepted a write");
        let msg = err.to_string().to_lowercase();
        assert!(
            msg.contains("read-only") || msg.contains("read only"),
            "{msg}"
        );
        // Nothing changed, on the writer or the replica.
        let on_writer = connected_to(Role::Writing, model_n(&db, id)).await.unwrap();
        assert_eq!(on_writer, STALE);
        assert_eq!(fx.replica.value(id).await, Some(STALE));
        fx.finish(db).await;
    })
    .await;
}
