//! Part 3: read throughput with two replica pools against one, under 32 concurrent readers.
//!
//! The machine has one PostgreSQL standby, so "two replicas" are two pools to the same
//! standby: this measures Grant's balancing and pool scaling (twice the connections, the
//! choice per read), not extra server capacity. Each side runs one round: 32 tasks on the
//! multi-threaded runtime, each doing `PER_TASK` `find`s by primary key, all awaited. Sides
//! (pools with Grant's defaults, `max_connections = 10`, unless said otherwise):
//!
//! - `sqlx_1_replica`: hand-written sqlx on the replica pool of `grant_1_replica`;
//! - `grant_1_replica`: database with `replicas = [standby]`;
//! - `grant_2_replicas`: `replicas = [standby, standby]`, `balance = "round_robin"`;
//! - `grant_2_least_busy`: the same with `balance = "least_busy"`;
//! - `grant_1_replica_1conn`, `grant_2_replicas_1conn`: one and two replica pools of
//!   `max_connections = 1` (round-robin), where the pools, not the server, are the limit.

use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use grant::config::{Balance, ReplicationConfig};
use grant::{Config, DatabaseConfig, Grant, Model, Pool, PoolConfig, PoolKind};
use tokio::runtime::Runtime;

use crate::common::{create_table, drop_table, find_sql, key, raw_find, reads, replica_pool, Item};
use crate::pairs::{bench, Sides, Timing};

/// Concurrent readers.
pub(crate) const TASKS: u64 = 32;
/// Reads per reader per round.
pub(crate) const PER_TASK: u64 = 25;

pub(crate) struct Throughput {
    one: Grant,
    two: Grant,
    least_busy: Grant,
    one_1conn: Grant,
    two_1conn: Grant,
    pool: Pool,
    sql: Arc<str>,
}

impl Sides for Throughput {
    fn group(&self) -> &'static str {
        "postgres_throughput_32_readers"
    }
    fn names(&self) -> &'static [&'static str] {
        &[
            "sqlx_1_replica",
            "grant_1_replica",
            "grant_2_replicas",
            "grant_2_least_busy",
            "grant_1_replica_1conn",
            "grant_2_replicas_1conn",
        ]
    }
    fn pairs(&self) -> &'static [(usize, usize)] {
        &[(2, 1), (3, 1), (3, 2), (1, 0), (5, 4)]
    }
    fn ops(&self) -> u64 {
        TASKS * PER_TASK
    }
    async fn run(&self, side: usize, i: u64, _rounds: u64) {
        let mut tasks = Vec::with_capacity(TASKS as usize);
        for t in 0..TASKS {
            let base = (i * TASKS + t) * PER_TASK;
            let grant = match side {
                0 => None,
                1 => Some(self.one.clone()),
                2 => Some(self.two.clone()),
                3 => Some(self.least_busy.clone()),
                4 => Some(self.one_1conn.clone()),
                _ => Some(self.two_1conn.clone()),
            };
            let (pool, sql) = (self.pool.clone(), self.sql.clone());
            tasks.push(tokio::spawn(async move {
                for j in 0..PER_TASK {
                    let id = key(base + j);
                    let found = match &grant {
                        None => raw_find(&pool, &sql, id).await,
                        Some(g) => Item::find(g, id).await.unwrap(),
                    };
                    assert_eq!(std::hint::black_box(found).map(|r| r.id), Some(id));
                }
            }));
        }
        for task in tasks {
            task.await.expect("reader");
        }
    }
}

fn grant(url: &str, replica: &str, replicas: usize, balance: Balance, conns: u32) -> Grant {
    let mut replication = ReplicationConfig::default();
    replication.balance = balance;
    let mut config = DatabaseConfig::new(url)
        .replication(replication)
        .pool(PoolConfig {
            max_connections: conns,
            ..PoolConfig::default()
        });
    for _ in 0..replicas {
        config = config.replica(replica);
    }
    Grant::from_config(
        Config::builder()
            .database("primary", config)
            .build()
            .expect("config"),
    )
    .expect("grant")
}

impl Throughput {
    pub(crate) async fn new(url: &str, replica: &str) -> Throughput {
        let one = grant(url, replica, 1, Balance::RoundRobin, 10);
        let pool = replica_pool(&one, 0);
        create_table(&one, &pool).await;
        let fixture = Throughput {
            two: grant(url, replica, 2, Balance::RoundRobin, 10),
            least_busy: grant(url, replica, 2, Balance::LeastBusy, 10),
            one_1conn: grant(url, replica, 1, Balance::RoundRobin, 1),
            two_1conn: grant(url, replica, 2, Balance::RoundRobin, 1),
            sql: find_sql(pool.backend()).into(),
            one,
            pool,
        };
        // Warm up: every pool opens its connections and prepares the statement on each.
        for i in 0..4 {
            for side in 0..6 {
                fixture.run(side, i, 1).await;
            }
        }
        for (name, g) in [
            ("grant_2_replicas", &fixture.two),
            ("grant_2_least_busy", &fixture.least_busy),
            ("grant_2_replicas_1conn", &fixture.two_1conn),
        ] {
            let (a, b) = (
                reads(g, PoolKind::Replica(0)),
                reads(g, PoolKind::Replica(1)),
            );
            let sizes: Vec<u32> = g
                .stats()
                .iter()
                .filter(|s| matches!(s.key.kind, PoolKind::Replica(_)))
                .map(|s| s.size)
                .collect();
            println!(
                "{name}: warm-up reads per replica pool {a} / {b}, connections open {sizes:?}"
            );
            assert!(a > 0 && b > 0, "both replica pools serve reads");
            assert_eq!(reads(g, PoolKind::WriterReadOnly), 0);
        }
        fixture
    }

    pub(crate) async fn close(self) {
        drop_table(&self.one).await;
        for g in [
            &self.one,
            &self.two,
            &self.least_busy,
            &self.one_1conn,
            &self.two_1conn,
        ] {
            g.close().await;
        }
    }
}

pub(crate) fn bench_throughput(c: &mut Criterion, rt: &Runtime, url: &str, replica: &str) {
    let fixture = rt.block_on(Throughput::new(url, replica));
    let timing = Timing {
        samples: 10,
        warm_up: Duration::from_secs(1),
        measure: Duration::from_secs(4),
        flat: true,
    };
    bench(c, rt, &fixture, &timing);
    rt.block_on(fixture.close());
}
