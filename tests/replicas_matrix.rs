//! The read-your-writes promise across the API matrix: every API that writes records the
//! write in the session, and every API that reads honours it, on every engine.
//!
//! For each write API (`insert`, `insert_all` in one and in several chunks,
//! `insert_all_without_keys` likewise, `update`, `delete`, `update_all`, `delete_all`,
//! `raw(..).execute`, `INSERT .. RETURNING` through `raw(..).fetch_all`, `DELETE ..
//! RETURNING` through `raw(..).fetch_optional`, a committed and a rolled-back transaction)
//! a session of its own writes; then every read API (`find`, `get`, `find_by`, `all`,
//! `first`, `count`, `exists`, `find_by_sql`, `raw(..).fetch_all`, `raw(..).fetch_optional`)
//! must see the write in that session, and the replica outside sessions and in another
//! session. The replica is stale for the whole test: on SQLite a copy of the writer's file
//! that nothing updates, on PostgreSQL and MariaDB a replica with replay paused (delay and
//! causal mode). The harness is in `tests/common/matrix.rs`.

mod common;

use std::time::Duration;

use common::matrix::*;
use common::replication::*;
use common::Engine;
use grant::config::Consistency;
use grant::{Model, Session};

/// SQLite, one replica file that never catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_write_api_is_seen_by_every_read_api() {
    let bed = sqlite_bed(&one_replica_toml()).await;
    let cells = write_read_matrix(&bed).await;
    eprintln!("sqlite: {cells} write x read cells");
    bed.db.close().await;
}

/// A bed on a server: the fixture's table, one row per write case (on the writer and,
/// once replicated, on the replica), and a handle with the replica.
async fn server_bed(e: &Engine, consistency: Consistency) -> (Bed, Fixture) {
    let fx = fixture(e, "matrix").await;
    let tag = format!("matrix-{}", std::process::id());
    let mut rows: Vec<RwItem> = WRITES
        .iter()
        .map(|_| RwItem {
            id: 0,
            tag: tag.clone(),
            n: STALE,
        })
        .collect();
    RwItem::insert_all(&fx.setup, &mut rows).await.unwrap();
    fx.replica.wait_for(rows[rows.len() - 1].id, STALE).await;
    let mut r = replication(consistency);
    r.replica_delay = Duration::from_secs(60);
    r.causal_wait = Duration::from_millis(2);
    let bed = Bed {
        db: build(replicated(e, &[replica_url(e)], r)),
        backend: e.backend,
        rows: rows.iter().map(|m| m.id).collect(),
        tag: format!("{tag}-new"),
    };
    (bed, fx)
}

/// PostgreSQL and MariaDB, replay paused, delay and causal mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_every_write_api_is_seen_by_every_read_api() {
    on_each_mode(|e, consistency| async move {
        let (bed, fx) = server_bed(&e, consistency).await;
        let mut replay = Replay::new(&e);
        replay.pause().await;
        let cells = write_read_matrix(&bed).await;
        // Replay really was paused: the replica still has the first row's old value.
        assert_eq!(fx.replica.value(bed.rows[0]).await, Some(STALE));
        replay.resume().await;
        eprintln!("{} {consistency:?}: {cells} write x read cells", e.backend);
        let mine = RwItem::TAG.like(format!("matrix-{}%", std::process::id()));
        RwItem::query()
            .filter(mine)
            .delete_all(&fx.setup)
            .await
            .unwrap();
        assert!(Session::current().is_none());
        fx.finish(bed.db).await;
    })
    .await;
}
