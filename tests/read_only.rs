//! Read-only is a guarantee: no statement sent through any Grant API can write through a
//! reading scope, a prevent-writes scope, a `readonly` database or a `replica_of` entry,
//! with and without replicas, on every engine; the data is unchanged afterwards, and every
//! read-only pool's connection still refuses writes at the server for the next caller.

mod common;

use std::time::Duration;

use common::Engine;
use grant::{
    connected_to, raw, while_preventing_writes, Backend, Config, DatabaseConfig, Error, Grant,
    Model, PoolConfig, Role,
};

/// One model per database entry under test, all on the same table.
macro_rules! note_model {
    ($name:ident, $database:literal) => {
        #[derive(Model, Debug, Clone, PartialEq)]
        #[grant(table = "ro_notes", database = $database)]
        struct $name {
            id: i64,
            body: String,
        }

        impl Note for $name {
            fn new(body: &str) -> Self {
                $name {
                    id: 0,
                    body: body.to_string(),
                }
            }
            fn body_col() -> grant::Column<Self, String> {
                $name::BODY
            }
            fn id_col() -> grant::Column<Self, i64> {
                $name::ID
            }
        }
    };
}

trait Note: Model<Key = i64> + Clone + std::fmt::Debug {
    fn new(body: &str) -> Self;
    fn body_col() -> grant::Column<Self, String>;
    fn id_col() -> grant::Column<Self, i64>;
}

note_model!(OnPrimary, "primary");
note_model!(OnSolo, "solo");
note_model!(OnArchive, "archive");
note_model!(OnArchiveReplicated, "archive_replicated");
note_model!(OnReplicaEntry, "primary_replica");

/// primary (+replica), solo (no replica), archive (readonly, no replica),
/// archive_replicated (readonly, +replica), primary_replica (a replica_of entry).
/// One connection per pool, so "the next caller" gets the very connection a refused
/// attempt would have used.
fn grant(e: &Engine) -> Option<Grant> {
    let Some(replica) = e.replica_url.clone() else {
        eprintln!("skipped: no replica URL for {}", e.backend);
        return None;
    };
    let pool = PoolConfig {
        max_connections: 1,
        ..PoolConfig::default()
    };
    let db = |url: &str| DatabaseConfig::new(url).pool(pool.clone());
    let config = Config::builder()
        .database("primary", db(&e.url).replica(&replica))
        .database("solo", db(&e.url))
        .database("archive", db(&e.url).readonly(true))
        .database(
            "archive_replicated",
            db(&e.url).replica(&replica).readonly(true),
        )
        .database("primary_replica", db(&replica).replica_of("primary"))
        .build()
        .unwrap();
    Some(Grant::from_config(config).unwrap())
}

async fn setup(e: &Engine, db: &Grant) {
    connected_to(Role::Writing, async {
        raw("DROP TABLE IF EXISTS ro_scratch")
            .execute(db)
            .await
            .unwrap();
        e.reset_table(
            db,
            "ro_notes",
            "CREATE TABLE ro_notes (id {pk}, body {text} NOT NULL)",
        )
        .await;
        let mut rows = vec![OnSolo::new("one"), OnSolo::new("two")];
        OnSolo::insert_all(db, &mut rows).await.unwrap();
    })
    .await;
    // Wait until the rows have reached the replica.
    for _ in 0..200 {
        let n = raw("SELECT COUNT(*) AS n FROM ro_notes")
            .on("primary_replica")
            .fetch_all(db)
            .await
            .ok()
            .and_then(|r| r[0].get::<i64>("n").ok());
        if n == Some(2) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("ro_notes never reached the replica");
}

/// The writer's rows, read in a writing scope on the `solo` entry.
async fn snapshot(db: &Grant) -> Vec<(i64, String)> {
    let rows = connected_to(
        Role::Writing,
        OnSolo::query().order_by(OnSolo::ID.asc()).all(db),
    )
    .await
    .unwrap();
    rows.into_iter().map(|r| (r.id, r.body)).collect()
}

/// Statements that lift a session's read-only setting, per engine.
fn session_bypasses(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Postgres => &[
            "SET default_transaction_read_only = off",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
            "SELECT set_config('default_transaction_read_only', 'off', false)",
            "BEGIN READ WRITE",
            "RESET ALL",
            "DISCARD ALL",
        ],
        Backend::MySql => &[
            "SET SESSION TRANSACTION READ WRITE",
            "SET SESSION tx_read_only = 0",
            "SET @@session.tx_read_only = OFF",
            "START TRANSACTION READ WRITE",
            "/*!50000 SET SESSION TRANSACTION READ WRITE */",
        ],
        Backend::Sqlite => &[
            "PRAGMA query_only = 0",
            "PRAGMA query_only(0)",
            "PRAGMA query_only = 0; INSERT INTO ro_notes (body) VALUES ('x')",
            "PRAGMA journal_mode = DELETE",
        ],
    }
}

/// The outcomes of [`attempts`], as a boxed future.
type Attempts<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Vec<(String, Result<(), Error>)>> + Send + 'a>,
>;

/// Every write API against `database` (whose model is `M`), in the current scope.
/// Returns (what, outcome) for each attempt. Boxed: the writes of every API in one
/// function make a large future, and the test composes eleven of them (a debug build
/// would otherwise copy them across a test thread's 2 MiB stack).
fn attempts<'a, M: Note + 'a>(e: &'a Engine, db: &'a Grant, database: &'a str) -> Attempts<'a> {
    Box::pin(attempts_inner::<M>(e, db, database))
}

async fn attempts_inner<M: Note>(
    e: &Engine,
    db: &Grant,
    database: &str,
) -> Vec<(String, Result<(), Error>)> {
    let mut out: Vec<(String, Result<(), Error>)> = Vec::new();
    macro_rules! attempt {
        ($what:expr, $fut:expr) => {
            out.push(($what.to_string(), $fut.await.map(|_| ())));
        };
    }
    let existing = M::query().order_by(M::id_col().asc()).first(db).await;
    let mut existing = match existing {
        Ok(Some(row)) => row,
        other => panic!("{database}: reads must work here: {other:?}"),
    };
    let mut fresh = M::new("new");
    attempt!("model insert", fresh.insert(db));
    let mut many = vec![M::new("a"), M::new("b")];
    attempt!("model insert_all", M::insert_all(db, &mut many));
    attempt!(
        "model insert_all_without_keys",
        M::insert_all_without_keys(db, &mut many)
    );
    attempt!("model update", existing.update(db));
    attempt!("model delete", existing.delete(db));
    attempt!(
        "model update_all",
        M::query()
            .filter(M::id_col().gt(0i64))
            .update_all(db, [M::body_col().set("changed")])
    );
    attempt!("model delete_all", M::query().delete_all(db));
    let returning = format!(
        "INSERT INTO ro_notes (body) VALUES ({}) RETURNING id, body",
        e.ph(1)
    );
    attempt!(
        "find_by_sql INSERT .. RETURNING",
        M::find_by_sql(
            db,
            grant::AssertSqlSafe(returning.clone()),
            vec!["x".into()]
        )
    );

    let raw_on = |sql: &str| raw(grant::AssertSqlSafe(sql.to_string())).on(database);
    attempt!(
        "raw execute INSERT",
        raw_on("INSERT INTO ro_notes (body) VALUES ('x')").execute(db)
    );
    let update_returning = match e.backend {
        // MariaDB has INSERT/DELETE .. RETURNING but no UPDATE .. RETURNING.
        Backend::MySql => "UPDATE ro_notes SET body = 'x'",
        _ => "UPDATE ro_notes SET body = 'x' RETURNING id",
    };
    let mut fetched = vec![
        "INSERT INTO ro_notes (body) VALUES ('x') RETURNING id",
        update_returning,
        "DELETE FROM ro_notes RETURNING id",
        "CREATE TABLE ro_scratch (id INTEGER)",
        "DROP TABLE ro_notes",
        "TRUNCATE ro_notes",
        "SELECT id FROM ro_notes FOR UPDATE",
    ];
    if e.backend == Backend::Postgres {
        fetched.push("WITH d AS (DELETE FROM ro_notes RETURNING id) SELECT id FROM d");
        fetched.push("SELECT id FROM ro_notes FOR SHARE");
    }
    for sql in fetched {
        attempt!(format!("raw fetch_all {sql}"), raw_on(sql).fetch_all(db));
        attempt!(
            format!("raw fetch_optional {sql}"),
            raw_on(sql).fetch_optional(db)
        );
    }
    for sql in session_bypasses(e.backend) {
        attempt!(format!("raw fetch_all {sql}"), raw_on(sql).fetch_all(db));
        attempt!(format!("raw execute {sql}"), raw_on(sql).execute(db));
    }

    // A transaction begun here is read-only: writes in it are refused before any SQL.
    match db.begin_on(database).await {
        Ok(mut tx) => {
            assert!(
                tx.is_read_only(),
                "{database}: a transaction here is read-only"
            );
            let mut in_tx = M::new("in tx");
            attempt!("transaction model insert", in_tx.insert(&mut tx));
            attempt!(
                "transaction raw execute",
                raw_on("DELETE FROM ro_notes").execute(&mut tx)
            );
            attempt!(
                "transaction raw fetch INSERT .. RETURNING",
                raw_on("INSERT INTO ro_notes (body) VALUES ('x') RETURNING id").fetch_all(&mut tx)
            );
            // Reads work in it.
            assert!(M::query().count(&mut tx).await.unwrap() >= 2);
            tx.commit().await.unwrap();
        }
        Err(err) => out.push(("begin".to_string(), Err(err))),
    }
    out
}

/// Every attempt was refused as a write on a read-only target; nothing changed; and every
/// read-only pool of `database` still refuses a write at the server for the next caller.
async fn check(
    db: &Grant,
    database: &str,
    scope: &str,
    before: &[(i64, String)],
    results: Vec<(String, Result<(), Error>)>,
) {
    let mut wrong = Vec::new();
    for (what, r) in &results {
        match r {
            Err(e) if e.is_read_only() => {}
            other => wrong.push(format!("{what}: {other:?}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{database} in {scope}: not refused as read-only:\n{}",
        wrong.join("\n")
    );
    assert_eq!(
        snapshot(db).await,
        before,
        "{database} in {scope}: data changed"
    );
    let handler = db.handler();
    let entry = handler.database(database).unwrap();
    let targets = entry.targets(None).unwrap();
    let mut slots = vec![targets.writer_read_only().clone()];
    slots.extend(targets.replicas().iter().cloned());
    if entry.readonly() {
        slots.push(targets.writer().clone());
    }
    for slot in slots {
        if slot.created().is_none() {
            continue;
        }
        let err = common::direct_execute(&slot, "INSERT INTO ro_notes (body) VALUES ('leak')")
            .await
            .expect_err("a read-only pool's connection accepted a write");
        let msg = err.to_string().to_lowercase();
        assert!(
            msg.contains("read") && msg.contains("only"),
            "{database} {:?}: {msg}",
            slot.key()
        );
    }
}

async fn nothing_writes_through_read_only_targets(e: &Engine) {
    let Some(db) = grant(e) else { return };
    setup(e, &db).await;
    let before = snapshot(&db).await;
    assert_eq!(before.len(), 2);

    // Scopes, on a database with replicas and on one without.
    let r = connected_to(Role::Reading, attempts::<OnPrimary>(e, &db, "primary")).await;
    check(&db, "primary", "a reading scope", &before, r).await;
    let r = while_preventing_writes(attempts::<OnPrimary>(e, &db, "primary")).await;
    check(&db, "primary", "a prevent-writes scope", &before, r).await;
    let r = connected_to(Role::Reading, attempts::<OnSolo>(e, &db, "solo")).await;
    check(&db, "solo", "a reading scope", &before, r).await;
    let r = while_preventing_writes(attempts::<OnSolo>(e, &db, "solo")).await;
    check(&db, "solo", "a prevent-writes scope", &before, r).await;
    let r = grant::connection()
        .role(Role::Writing)
        .prevent_writes(true)
        .run(attempts::<OnSolo>(e, &db, "solo"))
        .await;
    check(&db, "solo", "a writing, prevent-writes scope", &before, r).await;

    // Read-only databases, with and without replicas, and a replica_of entry: in no scope
    // and in an explicit writing scope.
    let r = attempts::<OnArchive>(e, &db, "archive").await;
    check(&db, "archive", "no scope", &before, r).await;
    let r = connected_to(Role::Writing, attempts::<OnArchive>(e, &db, "archive")).await;
    check(&db, "archive", "a writing scope", &before, r).await;
    let r = attempts::<OnArchiveReplicated>(e, &db, "archive_replicated").await;
    check(&db, "archive_replicated", "no scope", &before, r).await;
    let r = connected_to(
        Role::Writing,
        attempts::<OnArchiveReplicated>(e, &db, "archive_replicated"),
    )
    .await;
    check(&db, "archive_replicated", "a writing scope", &before, r).await;
    let r = attempts::<OnReplicaEntry>(e, &db, "primary_replica").await;
    check(&db, "primary_replica", "no scope", &before, r).await;
    let r = connected_to(
        Role::Writing,
        attempts::<OnReplicaEntry>(e, &db, "primary_replica"),
    )
    .await;
    check(&db, "primary_replica", "a writing scope", &before, r).await;

    // The same writes are allowed where writing is allowed (the refusals above are not
    // blanket refusals of the SQL).
    connected_to(Role::Writing, async {
        let rows = raw("INSERT INTO ro_notes (body) VALUES ('ok') RETURNING id")
            .on("solo")
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
    })
    .await;
    // And a default-scope fetch of a write goes to the writer, not a replica.
    let rows = raw("DELETE FROM ro_notes WHERE body = 'ok' RETURNING id")
        .on("primary")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(snapshot(&db).await, before);
    db.close().await;
}
on_every_engine!(nothing_writes_through_read_only_targets);

/// Reads keep working in every read-only place, including `find_by_sql` and raw reads, and
/// raw reads that merely mention a setting are not mistaken for writes.
async fn reads_still_work(e: &Engine) {
    let Some(db) = grant(e) else { return };
    setup(e, &db).await;
    let probe = match e.backend {
        Backend::Postgres => "SELECT current_setting('default_transaction_read_only') AS v",
        Backend::MySql => "SELECT @@session.tx_read_only AS v",
        Backend::Sqlite => "PRAGMA query_only",
    };
    for database in [
        "primary",
        "solo",
        "archive",
        "archive_replicated",
        "primary_replica",
    ] {
        for scope in ["reading", "prevent"] {
            let fut = async {
                let rows = raw("SELECT COUNT(*) AS n FROM ro_notes")
                    .on(database)
                    .fetch_all(&db)
                    .await
                    .unwrap();
                assert_eq!(rows[0].get::<i64>("n").unwrap(), 2, "{database}");
                raw(probe).on(database).fetch_optional(&db).await.unwrap();
            };
            match scope {
                "reading" => connected_to(Role::Reading, fut).await,
                _ => while_preventing_writes(fut).await,
            }
        }
    }
    let sql = "SELECT id, body FROM ro_notes ORDER BY id";
    let rows = connected_to(Role::Reading, OnPrimary::find_by_sql(&db, sql, vec![]))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    db.close().await;
}
on_every_engine!(reads_still_work);

/// What the classifier cannot see: a PostgreSQL function, called from a `SELECT` (a read),
/// that lifts the session's read-only setting. The read runs on a read-only session; before
/// its connection serves anyone else it is made read-only again, so the next caller (on the
/// same, only connection) cannot write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifted_session_is_read_only_again_for_the_next_caller() {
    let Some(e) = Engine::postgres() else { return };
    let _serial = common::SERVER_LOCK.lock().await;
    let Some(db) = grant(&e) else { return };
    setup(&e, &db).await;
    connected_to(
        Role::Writing,
        raw(
            "CREATE OR REPLACE FUNCTION grant_lift_read_only() RETURNS text LANGUAGE sql AS \
             $$ SELECT set_config('default_transaction_read_only', 'off', false) $$",
        )
        .on("solo")
        .execute(&db),
    )
    .await
    .unwrap();
    let rows = connected_to(
        Role::Reading,
        raw("SELECT grant_lift_read_only() AS v")
            .on("solo")
            .fetch_all(&db),
    )
    .await
    .unwrap();
    assert_eq!(
        rows[0].get::<String>("v").unwrap(),
        "off",
        "the function did lift it"
    );
    let twin = db
        .handler()
        .database("solo")
        .unwrap()
        .targets(None)
        .unwrap()
        .writer_read_only()
        .clone();
    let err = common::direct_execute(&twin, "INSERT INTO ro_notes (body) VALUES ('leak')")
        .await
        .expect_err("the lifted connection went back to the pool writable");
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(snapshot(&db).await.len(), 2);
    connected_to(
        Role::Writing,
        raw("DROP FUNCTION grant_lift_read_only()")
            .on("solo")
            .execute(&db),
    )
    .await
    .unwrap();
    db.close().await;
}
