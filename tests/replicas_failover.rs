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

use common::replication::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::proxy::{host_port, Mode, Proxy};
use common::Engine;
use grant::config::{ReplicaFallback, ReplicationConfig};
use grant::{connected_to, raw, Backend, Error, Grant, Model, PoolKind, ReplicaState, Role};

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
