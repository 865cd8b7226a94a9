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

use std::time::Duration;

use common::Engine;
use grant::config::Consistency;
use grant::{Model, PoolKind, Position, ReplicaState, Session};

// ------------------------------------------- 1. read-your-writes, paused ---

/// With replay paused, a session that writes reads its writes (model and raw), every one
/// of [`CYCLES`]; a session that did not write, and a read outside any session, read the
/// stale replica. Delay mode reads from the writer for `replica_delay`; causal mode waits
/// `causal_wait` for the replica (which never catches up) and then reads the writer.
async fn read_your_writes_paused(e: Engine, consistency: Consistency) {
    let (fx, db, mut replay) = paused(&e, "ryw", consistency).await;
    let id = fx.id;
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
    let (fx, db, mut replay) = paused(&e, "token", consistency).await;
    let (id, backend) = (fx.id, e.backend);
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
    on_each_mode(token_and_spawn).await;
}

/// With replay paused: a transaction that wrote records the write in the session on
/// commit (causal mode: with the writer's position), so the session's next read is fresh;
/// one that rolled back records nothing and the session keeps reading the replica.
async fn transactions(e: Engine, consistency: Consistency) {
    let (fx, db, mut replay) = paused(&e, "tx", consistency).await;
    let id = fx.id;
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
    on_each_mode(transactions).await;
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
