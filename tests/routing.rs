//! Roles, scopes and read-only defences on every engine: reads go to the reading role,
//! writes to the writer; writes in reading / prevent-writes scopes and on read-only
//! databases are refused before any SQL is sent; and read-only sessions stop raw SQL too.

mod common;

use std::time::Duration;

use common::Engine;
use grant::{
    connected_to, connection, raw, while_preventing_writes, AssertSqlSafe, Backend, Config,
    DatabaseConfig, Error, Grant, Model, ReadOnlyReason, Role,
};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "routing_notes")]
struct Note {
    id: i64,
    body: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "routing_notes")]
#[connects_to(writing = "primary", reading = "primary_replica")]
struct ReplicaNote {
    id: i64,
    body: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "routing_notes", database = "archive")]
struct ArchivedNote {
    id: i64,
    body: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "routing_notes", database = "nowhere")]
struct LostNote {
    id: i64,
    body: String,
}

/// primary (+ its replica as the reading role), primary_replica (a replica_of entry),
/// archive (the writer's URL, readonly = true), and a custom role `analytics`.
fn grant_with_roles(e: &Engine) -> Option<Grant> {
    let Some(replica) = e.replica_url.clone() else {
        eprintln!("skipped: no replica URL for {}", e.backend);
        return None;
    };
    let config = Config::builder()
        .database(
            "primary",
            DatabaseConfig::new(&e.url)
                .replica(&replica)
                .role("analytics", "primary_replica"),
        )
        .database(
            "primary_replica",
            DatabaseConfig::new(&replica).replica_of("primary"),
        )
        .database("archive", DatabaseConfig::new(&e.url).readonly(true))
        .build()
        .unwrap();
    Some(Grant::from_config(config).unwrap())
}

/// Which side answered: "writer" or "reader".
async fn side(e: &Engine, db: &Grant, database: &str) -> String {
    let (sql, col) = match e.backend {
        Backend::Postgres => ("SELECT pg_is_in_recovery() OR current_setting('default_transaction_read_only') = 'on' AS ro", "ro"),
        Backend::MySql => ("SELECT CAST(@@read_only OR @@session.tx_read_only AS SIGNED) AS ro", "ro"),
        Backend::Sqlite => ("PRAGMA query_only", "query_only"),
    };
    let rows = raw(sql).on(database).fetch_all(db).await.unwrap();
    let ro = match e.backend {
        Backend::Postgres => rows[0].get::<bool>(col).unwrap(),
        _ => rows[0].get::<i64>(col).unwrap() != 0,
    };
    if ro { "reader" } else { "writer" }.to_string()
}

async fn setup(e: &Engine, db: &Grant) {
    connected_to(Role::Writing, async {
        e.reset_table(
            db,
            "routing_notes",
            "CREATE TABLE routing_notes (id {pk}, body {text} NOT NULL)",
        )
        .await;
    })
    .await;
    // Wait until the table has reached the replica.
    for _ in 0..100 {
        if raw("SELECT COUNT(*) AS n FROM routing_notes")
            .fetch_all(db)
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("routing_notes never reached the replica");
}

async fn roles_route(e: &Engine) {
    let Some(db) = grant_with_roles(e) else {
        return;
    };
    setup(e, &db).await;
    assert_eq!(
        side(e, &db, "primary").await,
        "reader",
        "reads default to the reading role"
    );
    connected_to(Role::Writing, async {
        assert_eq!(side(e, &db, "primary").await, "writer");
        connected_to(Role::Reading, async {
            assert_eq!(side(e, &db, "primary").await, "reader", "nested scope");
        })
        .await;
        assert_eq!(
            side(e, &db, "primary").await,
            "writer",
            "outer scope restored"
        );
    })
    .await;
    assert_eq!(side(e, &db, "primary_replica").await, "reader");
    connected_to(Role::Writing, async {
        assert_eq!(
            side(e, &db, "archive").await,
            "reader",
            "readonly databases open read-only sessions"
        );
    })
    .await;
    connected_to(Role::custom("analytics"), async {
        assert_eq!(
            side(e, &db, "primary").await,
            "reader",
            "custom role -> primary_replica"
        );
    })
    .await;

    // Writes go to the writer and show up on the reading side (after replication).
    let mut n = Note {
        id: 0,
        body: "hello".into(),
    };
    n.insert(&db).await.unwrap();
    let mut seen = None;
    for _ in 0..100 {
        seen = ReplicaNote::find(&db, n.id).await.unwrap();
        if seen.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.map(|r| r.body), Some("hello".to_string()));
    let on_writer = connected_to(Role::Writing, Note::find(&db, n.id))
        .await
        .unwrap();
    assert_eq!(on_writer, Some(n.clone()));

    // The readonly archive database reads the same table.
    let mut archived = None;
    for _ in 0..100 {
        archived = ArchivedNote::find(&db, n.id).await.unwrap();
        if archived.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(archived.map(|a| a.body), Some("hello".to_string()));
}
on_every_engine!(roles_route);

async fn count_on_writer(db: &Grant) -> i64 {
    connected_to(Role::Writing, Note::query().count(db))
        .await
        .unwrap()
}

fn assert_refused(err: Error, database: &str, reason: ReadOnlyReason) {
    match &err {
        Error::ReadOnly {
            database: d,
            reason: r,
            ..
        } => {
            assert_eq!(d, database, "{err}");
            assert_eq!(*r, reason, "{err}");
            assert!(err.to_string().contains(database), "{err}");
        }
        other => panic!("expected ReadOnly, got {other:?}"),
    }
}

async fn writes_refused(e: &Engine) {
    let Some(db) = grant_with_roles(e) else {
        return;
    };
    setup(e, &db).await;
    let mut n = Note {
        id: 0,
        body: "kept".into(),
    };
    n.insert(&db).await.unwrap();
    let before = count_on_writer(&db).await;

    connected_to(Role::Reading, async {
        let mut fresh = Note {
            id: 0,
            body: "no".into(),
        };
        assert_refused(
            fresh.insert(&db).await.unwrap_err(),
            "primary",
            ReadOnlyReason::ReadingRole,
        );
        let mut m = n.clone();
        m.body = "changed".into();
        assert_refused(
            m.update(&db).await.unwrap_err(),
            "primary",
            ReadOnlyReason::ReadingRole,
        );
        assert_refused(
            n.delete(&db).await.unwrap_err(),
            "primary",
            ReadOnlyReason::ReadingRole,
        );
        assert_refused(
            Note::query().delete_all(&db).await.unwrap_err(),
            "primary",
            ReadOnlyReason::ReadingRole,
        );
        assert_refused(
            Note::query()
                .update_all(&db, [Note::BODY.set("x")])
                .await
                .unwrap_err(),
            "primary",
            ReadOnlyReason::ReadingRole,
        );
        assert_refused(
            Note::insert_all(
                &db,
                &mut [Note {
                    id: 0,
                    body: "a".into(),
                }],
            )
            .await
            .unwrap_err(),
            "primary",
            ReadOnlyReason::ReadingRole,
        );
        assert_refused(
            raw("DELETE FROM routing_notes")
                .execute(&db)
                .await
                .unwrap_err(),
            "primary",
            ReadOnlyReason::ReadingRole,
        );
    })
    .await;

    connection()
        .role(Role::Writing)
        .prevent_writes(true)
        .run(async {
            let mut fresh = Note {
                id: 0,
                body: "no".into(),
            };
            assert_refused(
                fresh.insert(&db).await.unwrap_err(),
                "primary",
                ReadOnlyReason::PreventWrites,
            );
            // Reads still work, on the writer.
            assert!(Note::find(&db, n.id).await.unwrap().is_some());
            // An inner scope may allow writes again explicitly.
            let allowed = connection()
                .prevent_writes(false)
                .run(
                    Note::query()
                        .filter(Note::BODY.eq("nothing"))
                        .delete_all(&db),
                )
                .await;
            assert_eq!(allowed.unwrap(), 0);
        })
        .await;

    while_preventing_writes(async {
        assert_refused(
            raw("DELETE FROM routing_notes")
                .execute(&db)
                .await
                .unwrap_err(),
            "primary",
            ReadOnlyReason::PreventWrites,
        );
        // A spawned task carries the scope.
        let db2 = db.clone();
        let refused = grant::spawn(async move {
            let mut fresh = Note {
                id: 0,
                body: "no".into(),
            };
            fresh.insert(&db2).await
        })
        .await
        .unwrap();
        assert_refused(
            refused.unwrap_err(),
            "primary",
            ReadOnlyReason::PreventWrites,
        );
    })
    .await;

    let mut fresh = ArchivedNote {
        id: 0,
        body: "no".into(),
    };
    assert_refused(
        fresh.insert(&db).await.unwrap_err(),
        "archive",
        ReadOnlyReason::ReadonlyDatabase,
    );
    let mut fresh = Note {
        id: 0,
        body: "no".into(),
    };
    let replica_write = connected_to(Role::custom("analytics"), fresh.insert(&db)).await;
    assert_refused(
        replica_write.unwrap_err(),
        "primary_replica",
        ReadOnlyReason::ReadonlyDatabase,
    );

    assert_eq!(count_on_writer(&db).await, before, "nothing was written");
}
on_every_engine!(writes_refused);

/// The second line of defence: every read-only pool's sessions refuse writes at the
/// server (or, on SQLite, the driver opened them read-only), even for SQL that reaches them
/// without Grant's classification (here sent straight through the sqlx pool).
async fn sessions_read_only(e: &Engine) {
    let Some(db) = grant_with_roles(e) else {
        return;
    };
    setup(e, &db).await;
    let insert = "INSERT INTO routing_notes (body) VALUES ('sneaky')";
    let before = count_on_writer(&db).await;
    let handler = db.handler();
    let mut slots = Vec::new();
    for database in ["primary", "primary_replica", "archive"] {
        let entry = handler.database(database).unwrap();
        let targets = entry.targets(None).unwrap();
        slots.push(targets.writer_read_only().clone());
        slots.extend(targets.replicas().iter().cloned());
        if entry.readonly() {
            slots.push(targets.writer().clone());
        }
    }
    for slot in slots {
        assert!(slot.read_only_session(), "{:?}", slot.key());
        let err = common::direct_execute(&slot, insert).await.unwrap_err();
        let msg = err.to_string().to_lowercase();
        assert!(
            msg.contains("read") && msg.contains("only"),
            "{:?}: {msg}",
            slot.key()
        );
    }
    assert_eq!(count_on_writer(&db).await, before);
}
on_every_engine!(sessions_read_only);

async fn unknown_targets(e: &Engine) {
    let Some(db) = grant_with_roles(e) else {
        return;
    };
    match LostNote::find(&db, 1).await.unwrap_err() {
        Error::UnknownDatabase { database, model } => {
            assert_eq!(database, "nowhere");
            assert_eq!(model, Some("LostNote"));
        }
        other => panic!("{other:?}"),
    }
    let err = raw("SELECT 1")
        .on("missing")
        .fetch_all(&db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    let err = connected_to(Role::custom("olap"), Note::find(&db, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownRole { database, .. } if database == "primary"),
        "{err}"
    );
    assert!(err.to_string().contains("olap"), "{err}");
    assert!(db.begin_on("missing").await.is_err());
}
on_every_engine!(unknown_targets);

async fn transactions(e: &Engine) {
    let Some(db) = grant_with_roles(e) else {
        return;
    };
    setup(e, &db).await;
    let before = count_on_writer(&db).await;

    let mut tx = db.begin().await.unwrap();
    let mut a = Note {
        id: 0,
        body: "in tx".into(),
    };
    a.insert(&mut tx).await.unwrap();
    // Reads inside the transaction see its own writes (they run on the writer).
    assert_eq!(Note::find(&mut tx, a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(Note::query().count(&mut tx).await.unwrap(), before + 1);
    // Other database's models are refused.
    let err = ArchivedNote::find(&mut tx, 1).await.unwrap_err();
    assert!(matches!(err, Error::WrongTransaction { .. }), "{err}");
    tx.rollback().await.unwrap();
    assert_eq!(count_on_writer(&db).await, before, "rolled back");

    let mut tx = db.begin().await.unwrap();
    let mut b = Note {
        id: 0,
        body: "committed".into(),
    };
    b.insert(&mut tx).await.unwrap();
    raw(AssertSqlSafe(format!(
        "UPDATE routing_notes SET body = 'raw in tx' WHERE id = {}",
        e.ph(1)
    )))
    .bind(b.id)
    .execute(&mut tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let got = connected_to(Role::Writing, Note::find(&db, b.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.body, "raw in tx");

    // Dropped without commit: rolled back.
    {
        let mut tx = db.begin().await.unwrap();
        let mut c = Note {
            id: 0,
            body: "dropped".into(),
        };
        c.insert(&mut tx).await.unwrap();
    }
    assert_eq!(count_on_writer(&db).await, before + 1);

    // A write inside a reading scope is refused even in a transaction.
    let mut tx = db.begin().await.unwrap();
    let refused = connected_to(Role::Reading, async {
        let mut d = Note {
            id: 0,
            body: "no".into(),
        };
        d.insert(&mut tx).await
    })
    .await;
    assert_refused(refused.unwrap_err(), "primary", ReadOnlyReason::ReadingRole);
    tx.rollback().await.unwrap();
}
on_every_engine!(transactions);
