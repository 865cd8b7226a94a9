//! Part 2: a causal read (in a session that wrote, on a replica known to have replayed the
//! write) against a plain replica read, on a real streaming replica.
//!
//! Database `primary`: the writer and one replica (the PostgreSQL standby, or the MariaDB
//! replica), `consistency = "causal"`, other settings default (so the monitor reads each
//! replica's position every second). In a session, one `update` records the writer's
//! position; the first `find` in the session waits until the replica replayed it (checked:
//! it sees the update), which also raises the replica's known position. Sides, all `find`
//! by primary key on the replica's pool:
//!
//! - `sqlx`: hand-written sqlx on the very pool (`handler().pool("primary", Reading)`);
//! - `grant`: `Item::find` outside any session (a plain replica read);
//! - `causal`: `find` in that session: the replica's known position covers the session's,
//!   so no wait query is sent.
//!
//! Each side runs blocks of 8 statements; the causal side runs its block inside the session
//! (`session.run(..)` around the 8 `find`s), as a request handler runs inside its session.

use std::time::{Duration, Instant};

use criterion::Criterion;
use grant::config::{Consistency, ReplicationConfig};
use grant::{Config, DatabaseConfig, Grant, Model, Pool, PoolConfig, PoolKind, Session};
use tokio::runtime::Runtime;

use crate::common::{
    create_table, drop_table, find_sql, grant_finds, raw_finds, reads, replica_pool, Item,
};
use crate::pairs::{bench, Sides, Timing, SESSION_BLOCK};

pub(crate) struct Causal {
    group: &'static str,
    grant: Grant,
    pool: Pool,
    sql: String,
    session: Session,
}

impl Sides for Causal {
    fn group(&self) -> &'static str {
        self.group
    }
    fn names(&self) -> &'static [&'static str] {
        &["sqlx", "grant", "causal"]
    }
    fn pairs(&self) -> &'static [(usize, usize)] {
        &[(2, 1), (1, 0), (2, 0)]
    }
    fn block(&self) -> u64 {
        SESSION_BLOCK
    }
    async fn run(&self, side: usize, first: u64, count: u64) {
        match side {
            0 => raw_finds(&self.pool, &self.sql, first, count).await,
            1 => self.finds(first, count).await,
            _ => self.session.run(self.finds(first, count)).await,
        }
    }
}

impl Causal {
    /// `count` Grant `find`s in a row.
    async fn finds(&self, first: u64, count: u64) {
        grant_finds(&self.grant, first, count).await
    }
}

impl Causal {
    pub(crate) async fn new(group: &'static str, url: &str, replica: &str) -> Causal {
        let mut replication = ReplicationConfig::default();
        replication.consistency = Consistency::Causal;
        let config = DatabaseConfig::new(url)
            .replica(replica)
            .replication(replication)
            .pool(PoolConfig {
                min_connections: 2,
                ..PoolConfig::default()
            });
        let grant = Grant::from_config(
            Config::builder()
                .database("primary", config)
                .build()
                .expect("config"),
        )
        .expect("grant");
        let pool = replica_pool(&grant, 0);
        create_table(&grant, &pool).await;

        // One write in the session: it records the writer's position.
        let session = Session::new();
        let mut row = Item::find(&grant, 1).await.unwrap().expect("row 1");
        row.score += 1_000_000;
        session.run(row.update(&grant)).await.expect("update");
        let need = session
            .position("primary", None)
            .expect("a recorded position");
        // The first causal read waits for the replica to replay it, and sees the write.
        let (twin, replica) = (
            reads(&grant, PoolKind::WriterReadOnly),
            reads(&grant, PoolKind::Replica(0)),
        );
        let start = Instant::now();
        let seen = session.run(Item::find(&grant, 1)).await.unwrap();
        let first = start.elapsed();
        assert_eq!(seen.map(|r| r.score), Some(row.score), "read your write");
        assert_eq!(
            (
                reads(&grant, PoolKind::WriterReadOnly),
                reads(&grant, PoolKind::Replica(0))
            ),
            (twin, replica + 1),
            "the causal read was served by the replica, not the writer"
        );
        println!(
            "{group}: session wrote at {need}; first causal read (waits for the replica) took {:.0} µs",
            first.as_secs_f64() * 1e6
        );

        let fixture = Causal {
            group,
            sql: find_sql(pool.backend()),
            grant,
            pool,
            session,
        };
        // Warm up (statements prepared on both connections); every side on the replica.
        let twin = reads(&fixture.grant, PoolKind::WriterReadOnly);
        for side in 0..3 {
            fixture.run(side, 0, 64).await;
        }
        assert_eq!(reads(&fixture.grant, PoolKind::WriterReadOnly), twin);
        fixture
    }

    pub(crate) async fn close(self) {
        drop_table(&self.grant).await;
        self.grant.close().await;
    }
}

pub(crate) fn bench_causal(
    c: &mut Criterion,
    rt: &Runtime,
    group: &'static str,
    urls: (&str, &str),
) {
    let fixture = rt.block_on(Causal::new(group, urls.0, urls.1));
    let timing = Timing {
        samples: 30,
        warm_up: Duration::from_secs(1),
        measure: Duration::from_secs(2),
        flat: false,
    };
    bench(c, rt, &fixture, &timing);
    rt.block_on(fixture.close());
}
