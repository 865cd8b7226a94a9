//! Support for the replica suites (`tests/replicas.rs`, `tests/replicas_failover.rs`):
//! engines with a replica, pausing replay, a test's own row, pools and stats helpers.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use super::proxy::host_port;
use super::Engine;
use grant::config::{Consistency, ReplicationConfig};
use grant::{
    raw, AssertSqlSafe, Backend, DatabaseConfig, Error, Grant, Model, PoolConfig, PoolKind,
    PoolStats,
};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "replicas_rw_items")]
pub struct RwItem {
    pub id: i64,
    pub tag: String,
    pub n: i64,
}

/// Write-then-read cycles of test 1 (per engine and mode).
pub const CYCLES: i64 = 1000;
/// Cycles of test 2 (per engine).
pub const CAUSAL_CYCLES: i64 = 300;
/// The value of a test's row on the replica while replay is paused.
pub const STALE: i64 = -1;

// ------------------------------------------------------------------ engines ---

/// The engines whose writer and replica URLs are both set. An engine without a replica URL
/// is skipped with a note (once per test binary, past the harness's output capture, like
/// `common`'s note for an unset writer URL).
pub fn engines() -> Vec<Engine> {
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
pub fn same_engine(e: &Engine) -> Engine {
    Engine {
        backend: e.backend,
        url: e.url.clone(),
        replica_url: e.replica_url.clone(),
    }
}

pub fn replica_url(e: &Engine) -> String {
    e.replica_url
        .clone()
        .expect("engines() keeps engines with a replica")
}

/// Run `test` on every engine with a replica, one test at a time on the shared servers,
/// bounded by a generous timeout (a safety net against hangs, not a timing assertion).
pub async fn on_each<F, Fut>(test: F)
where
    F: Fn(Engine) -> Fut,
    Fut: Future<Output = ()>,
{
    let _serial = super::SERVER_LOCK.lock().await;
    for e in engines() {
        let backend = e.backend;
        tokio::time::timeout(Duration::from_secs(300), test(e))
            .await
            .unwrap_or_else(|_| panic!("{backend}: the test did not finish within 300 s"));
    }
}

/// [`on_each`], running `test` in delay mode, then in causal mode, on every engine.
pub async fn on_each_mode<F, Fut>(test: F)
where
    F: Fn(Engine, Consistency) -> Fut,
    Fut: Future<Output = ()>,
{
    let test = &test;
    on_each(|e| async move {
        let e2 = same_engine(&e);
        test(e, Consistency::Delay).await;
        test(e2, Consistency::Causal).await;
    })
    .await;
}

// ------------------------------------------------------- pausing replay ---

/// Pauses replay on an engine's replica; resumes it on `resume` or, whatever happens
/// (a failed assertion included), when dropped.
pub struct Replay {
    pub backend: Backend,
    /// Where to connect as a user allowed to pause replay, tried in turn.
    pub control_urls: Vec<String>,
    pub paused: bool,
}

/// The socket of the MariaDB replica that `scripts/db-up.sh` sets up.
pub const MARIADB_REPLICA_SOCKET: &str = "/run/mysqld/mysqld-replica.sock";

impl Replay {
    pub fn new(e: &Engine) -> Replay {
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

    pub async fn pause(&mut self) {
        // Set first: whatever happens from here, the guard resumes.
        self.paused = true;
        replay_control(self.backend, &self.control_urls, true)
            .await
            .unwrap_or_else(|err| panic!("{}: cannot pause replay: {err}", self.backend));
    }

    pub async fn resume(&mut self) {
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
pub async fn replay_control(backend: Backend, urls: &[String], pause: bool) -> Result<(), String> {
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
pub enum Direct {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
}

impl Direct {
    pub async fn connect(e: &Engine) -> Direct {
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
    pub async fn value(&self, id: i64) -> Option<i64> {
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
    pub async fn wait_for(&self, id: i64, n: i64) {
        for _ in 0..2000 {
            if self.value(id).await == Some(n) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("row {id} never reached n = {n} on the replica");
    }

    pub async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        use sqlx::Executor as _;
        Ok(match self {
            Direct::Pg(p) => p.execute(sql).await?.rows_affected(),
            Direct::My(p) => p.execute(sql).await?.rows_affected(),
        })
    }

    pub async fn close(&self) {
        match self {
            Direct::Pg(p) => p.close().await,
            Direct::My(p) => p.close().await,
        }
    }
}

/// A test's own row (n = [`STALE`]), present on the replica.
pub struct Fixture {
    pub id: i64,
    /// A plain handle on the writer (no replicas) for setup and cleanup.
    pub setup: Grant,
    pub replica: Direct,
}

pub async fn fixture(e: &Engine, test: &str) -> Fixture {
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
    pub async fn finish(self, db: Grant) {
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

pub fn replication(consistency: Consistency) -> ReplicationConfig {
    let mut r = ReplicationConfig::default();
    r.consistency = consistency;
    r
}

pub fn build(config: DatabaseConfig) -> Grant {
    super::primary(config)
}

/// `primary` on the engine's writer with `replicas` and `r`.
pub fn replicated(e: &Engine, replicas: &[String], r: ReplicationConfig) -> DatabaseConfig {
    replicas
        .iter()
        .fold(DatabaseConfig::new(&e.url), |c, u| c.replica(u))
        .replication(r)
}

/// Pools for the failover tests: quick to give up on a replica that does not answer.
pub fn quick_pools(config: DatabaseConfig, statement_timeout: Duration) -> DatabaseConfig {
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

/// A test's row (stale on the replica from now on), a handle on `primary` with the real
/// replica in `consistency` mode (`causal_wait` 2 ms: the paused replica never catches up),
/// and replay paused (resumed when the guard is dropped).
pub async fn paused(e: &Engine, tag: &str, consistency: Consistency) -> (Fixture, Grant, Replay) {
    let fx = fixture(e, tag).await;
    let mut r = replication(consistency);
    r.causal_wait = Duration::from_millis(2);
    let db = build(replicated(e, &[replica_url(e)], r));
    assert_eq!(model_n(&db, fx.id).await.unwrap(), STALE);
    let mut replay = Replay::new(e);
    replay.pause().await;
    (fx, db, replay)
}

/// Row `id`'s `n`, read through the model API (in the current scope and session).
pub async fn model_n(db: &Grant, id: i64) -> Result<i64, Error> {
    Ok(RwItem::find(db, id).await?.expect("the row exists").n)
}

/// The same through raw SQL.
pub async fn raw_n(backend: Backend, db: &Grant, id: i64) -> Result<i64, Error> {
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
pub async fn set_n(db: &Grant, id: i64, n: i64) {
    let changed = RwItem::query()
        .filter(RwItem::ID.eq(id))
        .update_all(db, [RwItem::N.set(n)])
        .await
        .unwrap();
    assert_eq!(changed, 1);
}

pub fn stat(db: &Grant, kind: PoolKind) -> PoolStats {
    db.stats()
        .into_iter()
        .find(|s| s.key.kind == kind)
        .unwrap_or_else(|| panic!("no pool {kind}"))
}

pub fn reads(db: &Grant, kind: PoolKind) -> u64 {
    stat(db, kind).reads
}

/// Poll (bounded by `secs`) until replica `n`'s stats satisfy `ok`.
pub async fn wait_stat(
    db: &Grant,
    n: usize,
    secs: u64,
    what: &str,
    ok: impl Fn(&PoolStats) -> bool,
) {
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
