//! The read-your-writes promise against scopes, routing and tasks, with every read API, on
//! SQLite (a writer file and stale replica copies that nothing updates; see
//! `tests/common/matrix.rs`):
//!
//! - inside a session after a write, `connected_to(Role::Reading)` reads the replica (the
//!   explicit role wins), `connected_to(Role::Writing)` the writer, and
//!   `connection().prevent_writes(true)` the writer's read-only sessions (still fresh);
//! - a write on one shard does not send the session's reads of another shard to its writer;
//! - a model with `#[connects_to(writing = "primary", reading = "primary_replica")]` (a
//!   `replica_of` entry) reads the write in the session, and `primary_replica` outside;
//! - a session restored from its token in another task, and `grant::spawn`, keep the
//!   guarantee; a plain `tokio::spawn` does not carry the session.

mod common;

use common::matrix::*;
use common::replication::{reads, set_n, RwItem, STALE};
use grant::{connected_to, connection, Model, PoolKind, Role, Session};

/// A one-replica bed, and a session that ran the `Update` write case on its first row.
async fn updated_in_a_session() -> (Bed, Session, Probe) {
    let bed = sqlite_bed(&one_replica_toml()).await;
    let s = Session::new();
    let p = s.run(write(&bed, Write::Update, 0, bed.rows[0])).await;
    assert!(s.last_write("primary", None).is_some());
    (bed, s, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_roles_and_prevent_writes_inside_a_session() {
    let (bed, s, p) = updated_in_a_session().await;
    let (id, fresh, stale) = (p.id, p.fresh, p.stale);
    s.run(async {
        let reading = assert_all_see::<RwItem>(&bed, &READS, id, stale, "Role::Reading");
        connected_to(Role::Reading, reading).await;
        let writing = assert_all_see::<RwItem>(&bed, &READS, id, fresh, "Role::Writing");
        connected_to(Role::Writing, writing).await;

        let (ro0, rep0) = (
            reads(&bed.db, PoolKind::WriterReadOnly),
            reads(&bed.db, PoolKind::Replica(0)),
        );
        let prevent = assert_all_see::<RwItem>(&bed, &READS, id, fresh, "prevent_writes");
        connection().prevent_writes(true).run(prevent).await;
        assert_eq!(
            reads(&bed.db, PoolKind::WriterReadOnly) - ro0,
            READS.len() as u64,
            "prevent_writes: the writer's read-only sessions served every read"
        );
        assert_eq!(reads(&bed.db, PoolKind::Replica(0)), rep0);
    })
    .await;
    bed.db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_shard_does_not_pin_reads_of_another() {
    let rows = WRITES.len() as i64;
    let mut text = format!("{}\n", one_replica_toml());
    let mut files = vec![];
    for name in ["", "shard_a", "shard_b"] {
        let writer = seeded_sqlite(&format!("matrix-{name}"), rows).await;
        let replica = stale_copy(&writer, &format!("matrix-{name}-replica"));
        if !name.is_empty() {
            text.push_str(&format!(
                "[databases.primary.shards.{name}]\nurl = \"{writer}\"\nreplicas = [\"{replica}\"]\n"
            ));
        }
        files.push((writer, replica));
    }
    let text = text
        .replace("{writer}", &files[0].0)
        .replace("{replica}", &files[0].1);
    let bed = Bed {
        db: grant_from_toml(&text),
        backend: grant::Backend::Sqlite,
        rows: (1..=rows).collect(),
        tag: "matrix-new".into(),
    };
    let id = bed.rows[0];
    // Shard B's writer differs from its replica: a read there shows which one served it.
    connection()
        .shard("shard_b")
        .run(set_n(&bed.db, id, 77))
        .await;

    let s = Session::new();
    let p = s
        .run(
            connection()
                .shard("shard_a")
                .run(write(&bed, Write::Update, 0, id)),
        )
        .await;
    assert!(s.last_write("primary", Some("shard_a")).is_some());
    assert!(s.last_write("primary", Some("shard_b")).is_none());
    s.run(async {
        let a = assert_all_see::<RwItem>(&bed, &READS, id, p.fresh, "shard_a (written)");
        connection().shard("shard_a").run(a).await;
        let b = assert_all_see::<RwItem>(&bed, &READS, id, Some(STALE), "shard_b (not written)");
        connection().shard("shard_b").run(b).await;
    })
    .await;
    // Outside the session both shards read their replicas.
    let a = assert_all_see::<RwItem>(&bed, &READS, id, Some(STALE), "shard_a, no session");
    connection().shard("shard_a").run(a).await;
    bed.db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_to_a_replica_of_entry() {
    let toml = format!(
        "[databases.primary]\nurl = \"{{writer}}\"\nreplica_delay = \"{DELAY}\"\n\n\
         [databases.primary_replica]\nurl = \"{{replica}}\"\nreplica_of = \"primary\"\n"
    );
    let bed = sqlite_bed(&toml).await;
    let (first, second) = (bed.rows[0], bed.rows[1]);
    let other = Session::new();
    // A write through the model itself (routed to `writing = "primary"`).
    let s = Session::new();
    s.run(async {
        let q = ReplicaItem::query().filter(ReplicaItem::ID.eq(first));
        let changed = q.update_all(&bed.db, [ReplicaItem::N.set(5)]).await;
        assert_eq!(changed.unwrap(), 1);
        assert_all_see::<ReplicaItem>(&bed, MODEL_READS, first, Some(5), "in the session").await;
    })
    .await;
    assert!(s.last_write("primary", None).is_some());
    assert_all_see::<ReplicaItem>(&bed, MODEL_READS, first, Some(STALE), "outside").await;
    let elsewhere = assert_all_see::<ReplicaItem>(&bed, MODEL_READS, first, Some(STALE), "other");
    other.run(elsewhere).await;

    // A write to `primary` through another model counts for it too.
    let s = Session::new();
    let p = s.run(write(&bed, Write::UpdateAll, 1, second)).await;
    let fresh = assert_all_see::<ReplicaItem>(&bed, MODEL_READS, second, p.fresh, "via RwItem");
    s.run(fresh).await;
    assert_all_see::<ReplicaItem>(&bed, MODEL_READS, second, p.stale, "outside").await;
    let served = bed
        .db
        .stats()
        .into_iter()
        .filter(|st| &*st.key.database == "primary_replica")
        .map(|st| st.reads)
        .sum::<u64>();
    assert!(
        served >= 3 * MODEL_READS.len() as u64,
        "primary_replica served {served}"
    );
    bed.db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_spawn_keep_the_guarantee_for_every_read_api() {
    let (bed, s, p) = updated_in_a_session().await;
    let (id, fresh, stale) = (p.id, p.fresh, p.stale);

    // grant::spawn carries the session into the task; tokio::spawn does not.
    let spawned = |want: Option<i64>, what: &'static str| {
        let bed = bed.clone();
        async move { assert_all_see::<RwItem>(&bed, &READS, id, want, what).await }
    };
    s.run(async {
        grant::spawn(spawned(fresh, "grant::spawn")).await.unwrap();
        tokio::spawn(spawned(stale, "tokio::spawn")).await.unwrap();
    })
    .await;

    // The next request: another task restores the session from its token.
    let token = s.token();
    let restored = spawned(fresh, "Session::from_token");
    tokio::spawn(async move { Session::from_token(&token).unwrap().run(restored).await })
        .await
        .unwrap();
    let fresh_session = spawned(stale, "a new session");
    tokio::spawn(grant::session(fresh_session)).await.unwrap();
    bed.db.close().await;
}
