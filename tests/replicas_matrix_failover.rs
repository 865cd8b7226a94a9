//! Failover across the read API matrix: a replica that cannot be reached, and every read
//! API still succeeds (served by the other replica or the writer's read-only sessions);
//! with `replica_fallback = "error"` and that single replica, every read API after the
//! first failure is `Error::NoReplica`.
//!
//! SQLite: a replica whose file cannot be opened (a path in a folder that does not exist,
//! or a file that is not a database). PostgreSQL and MariaDB: the replica behind a proxy
//! in `Mode::Down` (see `tests/common/proxy.rs`).

mod common;

use std::time::Duration;

use common::matrix::*;
use common::proxy::{host_port, Mode, Proxy};
use common::replication::*;
use grant::config::ReplicationConfig;
use grant::{Error, PoolKind, ReplicaState, Session};

/// Replica URLs that cannot serve: a path in a missing folder, a file that is no database.
fn broken_replicas() -> Vec<(&'static str, String)> {
    let missing = std::env::temp_dir()
        .join(format!("grant-no-such-dir-{}", std::process::id()))
        .join("replica.db");
    let not_db = sqlite_path(&common::sqlite_file("matrix-not-a-db")).to_string();
    std::fs::write(
        &not_db,
        "this is not a SQLite database, just some text\n".repeat(200),
    )
    .unwrap();
    vec![
        ("missing folder", format!("sqlite://{}", missing.display())),
        ("not a database", format!("sqlite://{not_db}")),
    ]
}

fn config(replicas: &str, extra: &str) -> String {
    format!(
        "[databases.primary]\nurl = \"{{writer}}\"\nreplicas = [{replicas}]\n\
         replica_delay = \"{DELAY}\"\n{extra}\n[databases.primary.pool]\nconnect_timeout = \"1s\"\n"
    )
}

/// Every read API succeeds with a broken replica first in rotation, alone or beside a
/// good one, in and out of a session; the broken one is `Down` with errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_read_api_survives_a_broken_replica() {
    for (what, bad) in broken_replicas() {
        for replicas in [format!("\"{bad}\", \"{{replica}}\""), format!("\"{bad}\"")] {
            let bed = sqlite_bed(&config(&replicas, "")).await;
            let place = format!("{what}, replicas [{replicas}]");
            let id = bed.rows[0];
            assert_all_see::<RwItem>(&bed, &READS, id, Some(STALE), &place).await;
            let s = Session::new();
            let p = s.run(write(&bed, Write::Update, 0, id)).await;
            s.run(assert_all_see::<RwItem>(&bed, &READS, id, p.fresh, &place))
                .await;
            let r0 = stat(&bed.db, PoolKind::Replica(0));
            assert_eq!(r0.state, ReplicaState::Down, "{place}: {r0:?}");
            assert!(r0.errors >= 1 && r0.fallbacks >= 1, "{place}: {r0:?}");
            bed.db.close().await;
        }
    }
}

/// `replica_fallback = "error"`, the broken replica alone: the first read fails with the
/// replica's own error, every read API after it is `Error::NoReplica`; a session that
/// wrote still reads the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_fallback_error_is_no_replica_for_every_read_api() {
    for (what, bad) in broken_replicas() {
        let toml = config(&format!("\"{bad}\""), "replica_fallback = \"error\"\n");
        let bed = sqlite_bed(&toml).await;
        let id = bed.rows[0];
        let first = sees::<RwItem>(&bed.db, bed.backend, Read::Find, id, Some(STALE)).await;
        assert!(
            matches!(first, Err(Error::Connect { .. } | Error::Database { .. })),
            "{what}: the failing read's own error: {first:?}"
        );
        for api in READS {
            match sees::<RwItem>(&bed.db, bed.backend, api, id, Some(STALE)).await {
                Err(Error::NoReplica { database, shard }) => {
                    assert_eq!((database.as_str(), shard), ("primary", None));
                }
                other => panic!("{what}: {api:?}: expected NoReplica, got {other:?}"),
            }
        }
        let s = Session::new();
        let p = s.run(write(&bed, Write::Update, 0, id)).await;
        s.run(assert_all_see::<RwItem>(&bed, &READS, id, p.fresh, what))
            .await;
        bed.db.close().await;
    }
}

/// PostgreSQL and MariaDB: the only replica is down (its proxy resets every connection):
/// every read API succeeds, once each, served by the writer's read-only sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_every_read_api_survives_a_replica_that_is_down() {
    on_each(|e| async move {
        let fx = fixture(&e, "matrix-down").await;
        let proxy = Proxy::start(&host_port(&replica_url(&e))).await;
        proxy.set(Mode::Down);
        let urls = [proxy.url(&replica_url(&e))];
        let replicas = replicated(&e, &urls, ReplicationConfig::default());
        let bed = Bed {
            db: build(quick_pools(replicas, Duration::from_millis(1000))),
            backend: e.backend,
            rows: vec![fx.id],
            tag: String::new(),
        };
        assert_all_see::<RwItem>(&bed, &READS, fx.id, Some(STALE), "replica down").await;
        let r0 = stat(&bed.db, PoolKind::Replica(0));
        assert_eq!(r0.state, ReplicaState::Down, "{r0:?}");
        assert!(r0.errors >= 1, "{r0:?}");
        assert!(reads(&bed.db, PoolKind::WriterReadOnly) >= READS.len() as u64);
        fx.finish(bed.db).await;
    })
    .await;
}
