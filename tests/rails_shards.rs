//! Rails-style shards: `#[connects_to(shards(shard_one(writing = .., reading = ..), ..))]`
//! maps each shard name to database entries; the call's shard (`on_shard`) or the scope's
//! (`connection().shard(..)`) picks one, the first listed without either. On SQLite files.

mod common;

use grant::{connected_to, connection, raw, Config, DatabaseConfig, Error, Grant, Model, Role};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "items")]
#[connects_to(shards(
    shard_one(writing = "primary_shard_one", reading = "primary_shard_one_replica"),
    shard_two(writing = "primary_shard_two")
))]
struct Item {
    #[grant(primary_key, manual)]
    id: i64,
    name: String,
}

async fn count_in(db: &Grant, database: &str) -> i64 {
    let rows = raw("SELECT COUNT(*) AS n FROM items")
        .on(database)
        .fetch_all(db)
        .await
        .unwrap();
    rows[0].get::<i64>("n").unwrap()
}

#[tokio::test]
async fn shards_name_database_entries() {
    let (one, two) = (
        common::sqlite_file("rails-one"),
        common::sqlite_file("rails-two"),
    );
    let db = Grant::from_config(
        Config::builder()
            .database(
                "primary",
                DatabaseConfig::new(common::sqlite_file("rails-p")),
            )
            .database("primary_shard_one", DatabaseConfig::new(&one))
            .database("primary_shard_one_replica", {
                let mut c = DatabaseConfig::new(&one);
                c.replica_of = Some("primary_shard_one".into());
                c.readonly = true;
                c
            })
            .database("primary_shard_two", DatabaseConfig::new(&two))
            .build()
            .unwrap(),
    )
    .unwrap();
    for entry in ["primary_shard_one", "primary_shard_two"] {
        raw("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .on(entry)
            .execute(&db)
            .await
            .unwrap();
    }

    // The scope's shard, the call's shard, and the first listed by default.
    connection()
        .shard("shard_two")
        .run(
            Item {
                id: 1,
                name: "two".into(),
            }
            .insert(&db),
        )
        .await
        .unwrap();
    Item {
        id: 2,
        name: "two again".into(),
    }
    .insert(db.on_shard("shard_two"))
    .await
    .unwrap();
    Item {
        id: 3,
        name: "default".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(count_in(&db, "primary_shard_two").await, 2);
    assert_eq!(count_in(&db, "primary_shard_one").await, 1);

    // Reads of shard_one go to its reading entry; writes there in a reading scope are refused.
    let read = connection()
        .shard("shard_one")
        .run(Item::query().all(&db))
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
    let err = connected_to(
        Role::Reading,
        connection().shard("shard_one").run(
            Item {
                id: 4,
                name: "x".into(),
            }
            .insert(&db),
        ),
    )
    .await
    .unwrap_err();
    assert!(err.is_read_only(), "{err}");
    assert_eq!(
        Item::query().count(db.on_shard("shard_two")).await.unwrap(),
        2
    );

    // An unknown shard names the model and what it lists.
    match Item::query()
        .count(db.on_shard("shard_nine"))
        .await
        .unwrap_err()
    {
        Error::UnknownModelShard {
            model,
            shard,
            expected,
        } => {
            assert_eq!((model, shard.as_str()), ("Item", "shard_nine"));
            assert_eq!(expected, "shard_one, shard_two");
        }
        other => panic!("{other}"),
    }

    // A transaction on a shard's entry takes that shard's statements only.
    let mut tx = db.begin_on("primary_shard_two").await.unwrap();
    connection()
        .shard("shard_two")
        .run(
            Item {
                id: 5,
                name: "in tx".into(),
            }
            .insert(&mut tx),
        )
        .await
        .unwrap();
    let err = connection()
        .shard("shard_one")
        .run(
            Item {
                id: 6,
                name: "stray".into(),
            }
            .insert(&mut tx),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WrongTransaction { .. }), "{err}");
    tx.commit().await.unwrap();
    assert_eq!(count_in(&db, "primary_shard_two").await, 3);
    db.close().await;
}
