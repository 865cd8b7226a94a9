//! Part 1: what session tracking adds to read routing, per statement, on SQLite.
//!
//! Database `primary` is a SQLite file (WAL) whose replica is the same file (a read-only
//! pool of its own), so reads go to `Replica(0)`; database `other` is a second file with a
//! replica too (so its writes are recorded in sessions). Delay mode, the default
//! `replica_delay` (2 s). Sides, all `find` by primary key on the replica's pool:
//!
//! - `sqlx`: hand-written sqlx on the very pool (`handler().pool("primary", Reading)`);
//! - `grant`: `Item::find` outside any session;
//! - `session_other_db`: inside a session that wrote to `other` (its list has an entry, not
//!   for this database);
//! - `session_long_ago`: inside a session that wrote to `primary` more than `replica_delay`
//!   ago (the entry is found and its time compared with the clock).
//!
//! Each side runs blocks of 8 statements; a session side runs its block inside the session
//! (`session.run(..)` around the 8 `find`s), as a request handler runs inside its session:
//! the session's task-local is set on every poll, and entered once per block.

use std::time::{Duration, Instant};

use criterion::Criterion;
use grant::{Config, DatabaseConfig, Grant, Model, Pool, PoolConfig, PoolKind, Session};
use tokio::runtime::Runtime;

use crate::common::{create_table, find_sql, grant_finds, raw_finds, reads, replica_pool, Item};
use crate::pairs::{bench, Sides, Timing, SESSION_BLOCK};

pub(crate) struct SqliteRouting {
    grant: Grant,
    pool: Pool,
    sql: String,
    other_db: Session,
    long_ago: Session,
}

impl Sides for SqliteRouting {
    fn group(&self) -> &'static str {
        "sqlite_routing"
    }
    fn names(&self) -> &'static [&'static str] {
        &["sqlx", "grant", "session_other_db", "session_long_ago"]
    }
    fn pairs(&self) -> &'static [(usize, usize)] {
        &[(1, 0), (2, 1), (3, 1), (2, 0), (3, 0)]
    }
    fn block(&self) -> u64 {
        SESSION_BLOCK
    }
    async fn run(&self, side: usize, first: u64, count: u64) {
        match side {
            0 => raw_finds(&self.pool, &self.sql, first, count).await,
            1 => self.finds(first, count).await,
            2 => self.other_db.run(self.finds(first, count)).await,
            _ => self.long_ago.run(self.finds(first, count)).await,
        }
    }
}

impl SqliteRouting {
    /// `count` Grant `find`s in a row.
    async fn finds(&self, first: u64, count: u64) {
        grant_finds(&self.grant, first, count).await
    }
}

pub(crate) fn paths() -> [std::path::PathBuf; 2] {
    let pid = std::process::id();
    ["primary", "other"]
        .map(|n| std::env::temp_dir().join(format!("grant-bench-replicas-{n}-{pid}.db")))
}

pub(crate) fn remove_files() {
    for path in paths() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

impl SqliteRouting {
    pub(crate) async fn new() -> SqliteRouting {
        remove_files();
        let [primary, other] = paths().map(|p| format!("sqlite://{}", p.display()));
        let pool = PoolConfig {
            min_connections: 2,
            ..PoolConfig::default()
        };
        let db = |url: &str| {
            DatabaseConfig::new(url)
                .replica(url.to_string())
                .pool(pool.clone())
        };
        let grant = Grant::from_config(
            Config::builder()
                .database("primary", db(&primary))
                .database("other", db(&other))
                .build()
                .expect("config"),
        )
        .expect("grant");
        // The writer creates both files (and sets WAL) before any replica pool opens them.
        grant::raw("CREATE TABLE bench_replica_other (id INTEGER PRIMARY KEY, n INTEGER)")
            .on("other")
            .execute(&grant)
            .await
            .expect("other table");
        grant::raw("INSERT INTO bench_replica_other (id, n) VALUES (1, 0)")
            .on("other")
            .execute(&grant)
            .await
            .expect("other row");
        let pool = replica_pool(&grant, 0);
        create_table(&grant, &pool).await;
        println!(
            "sqlite_routing: the future of Item::find(&grant, id) is {} bytes",
            std::mem::size_of_val(&Item::find(&grant, 1))
        );

        // A session that wrote to `other` only.
        let other_db = Session::new();
        other_db
            .run(
                grant::raw("UPDATE bench_replica_other SET n = n + 1 WHERE id = 1")
                    .on("other")
                    .execute(&grant),
            )
            .await
            .expect("write to other");
        assert!(other_db.last_write("other", None).is_some());
        assert!(other_db.last_write("primary", None).is_none());

        // A session that wrote to `primary`: its reads go to the writer's read-only twin
        // for replica_delay (checked), then to the replica again.
        let long_ago = Session::new();
        let mut row = Item::find(&grant, 1).await.unwrap().expect("row 1");
        row.score += 1;
        let wrote = Instant::now();
        long_ago
            .run(row.update(&grant))
            .await
            .expect("write to primary");
        let twin = reads(&grant, PoolKind::WriterReadOnly);
        long_ago.run(Item::find(&grant, 1)).await.unwrap();
        assert_eq!(
            reads(&grant, PoolKind::WriterReadOnly),
            twin + 1,
            "a session's read right after its write goes to the writer"
        );
        let delay = grant
            .config()
            .database("primary")
            .unwrap()
            .replication
            .replica_delay;
        let left = (delay + Duration::from_millis(100)).saturating_sub(wrote.elapsed());
        tokio::time::sleep(left).await;

        let fixture = SqliteRouting {
            sql: find_sql(pool.backend()),
            grant,
            pool,
            other_db,
            long_ago,
        };
        // Warm up (statements prepared on both connections), and check every side reads
        // the replica: the twin serves none of it.
        let (twin, replica) = (
            reads(&fixture.grant, PoolKind::WriterReadOnly),
            reads(&fixture.grant, PoolKind::Replica(0)),
        );
        for side in 0..4 {
            fixture.run(side, 0, 64).await;
        }
        assert_eq!(reads(&fixture.grant, PoolKind::WriterReadOnly), twin);
        assert_eq!(
            reads(&fixture.grant, PoolKind::Replica(0)),
            replica + 3 * 64
        );
        fixture
    }

    pub(crate) async fn close(self) {
        self.grant.close().await;
        remove_files();
    }
}

pub(crate) fn bench_sqlite(c: &mut Criterion, rt: &Runtime) {
    let fixture = rt.block_on(SqliteRouting::new());
    let timing = Timing {
        samples: 30,
        warm_up: Duration::from_secs(1),
        measure: Duration::from_secs(2),
        flat: false,
    };
    bench(c, rt, &fixture, &timing);
    rt.block_on(fixture.close());
}
