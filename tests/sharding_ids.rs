//! Generated keys: Snowflake ids (worker id from config, unique and increasing, the row's
//! shard embedded with `layout = "sharded"` so `find(id)` goes straight to it, and still
//! correct after the shards are renumbered) and UUIDv7 keys, on SQLite files.

mod common;

use std::collections::BTreeSet;

use grant::sharding::id::{Snowflake, SnowflakeLayout};
use grant::{raw, Config, ConfigErrorKind, DatabaseConfig, Grant, Model, ShardConfig};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "events")]
#[shard_by(tenant)]
struct Event {
    #[grant(primary_key, generate = "snowflake")]
    id: i64,
    tenant: i64,
    body: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "notes")]
struct Note {
    #[grant(primary_key, generate = "uuid_v7")]
    id: uuid::Uuid,
    body: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "logs")]
struct Log {
    #[grant(primary_key, generate = "snowflake")]
    id: i64,
    line: String,
}

fn sharded_db(layout: &str) -> (Grant, Vec<String>) {
    let urls: Vec<String> = (0..3)
        .map(|i| common::sqlite_file(&format!("ids{i}")))
        .collect();
    let toml = format!(
        r#"
        [databases.primary]
        url = "{u0}"
        shards.s0 = {{ url = "{u0}" }}
        shards.s1 = {{ url = "{u1}" }}
        shards.s2 = {{ url = "{u2}" }}
        [databases.primary.sharding]
        resolver = "modulo"
        [databases.primary.ids]
        worker_id = 3
        layout = "{layout}"
        "#,
        u0 = urls[0],
        u1 = urls[1],
        u2 = urls[2],
    );
    (
        Grant::from_config(Config::from_toml_str(&toml).unwrap()).unwrap(),
        urls,
    )
}

async fn create(db: &Grant) {
    for (shard, r) in db
        .each_shard("primary", |_| async {
            raw("CREATE TABLE events (id INTEGER PRIMARY KEY, tenant INTEGER NOT NULL, body TEXT NOT NULL)")
                .execute(db)
                .await
        })
        .await
        .unwrap()
    {
        r.unwrap_or_else(|e| panic!("{shard}: {e}"));
    }
}

#[tokio::test]
async fn snowflake_ids_embed_the_shard() {
    let (db, _) = sharded_db("sharded");
    create(&db).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let mut e = Event {
            id: 0,
            tenant: i % 7,
            body: format!("event {i}"),
        };
        e.insert(&db).await.unwrap();
        assert!(e.id > 0);
        ids.push((e.id, e.tenant));
    }
    // Unique and increasing per generator.
    let unique: BTreeSet<i64> = ids.iter().map(|(id, _)| *id).collect();
    assert_eq!(unique.len(), 30);
    for (id, tenant) in &ids {
        // The shard index in the id is the row's shard (modulo over s0, s1, s2).
        let index = SnowflakeLayout::SHARDED.shard_of(*id).unwrap();
        assert_eq!(i64::from(index), tenant % 3);
        let parts = SnowflakeLayout::SHARDED
            .decode(*id, Snowflake::DEFAULT_EPOCH_MS)
            .unwrap();
        assert_eq!(parts.worker, 3);
        // find by id alone: straight to the shard.
        let found = Event::find(&db, *id).await.unwrap().unwrap();
        assert_eq!(found.tenant, *tenant);
        let shard = format!("s{}", tenant % 3);
        assert!(Event::find(db.on_shard(&shard), *id)
            .await
            .unwrap()
            .is_some());
    }
    // insert_all generates every key.
    let mut batch = vec![
        Event {
            id: 0,
            tenant: 1,
            body: "a".into(),
        },
        Event {
            id: 0,
            tenant: 4,
            body: "b".into(),
        },
    ];
    Event::insert_all(&db, &mut batch).await.unwrap();
    assert!(batch.iter().all(|e| e.id > 0) && batch[0].id != batch[1].id);

    // A shard whose name sorts first renumbers the shards: older ids are still found.
    db.add_shard(
        "primary",
        "a_first",
        ShardConfig::new(common::sqlite_file("ids-a")),
    )
    .unwrap();
    raw(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, tenant INTEGER NOT NULL, body TEXT NOT NULL)",
    )
    .execute(db.on_shard("a_first"))
    .await
    .unwrap();
    for (id, tenant) in &ids {
        assert_eq!(Event::get(&db, *id).await.unwrap().tenant, *tenant);
    }
    db.close().await;
}

#[tokio::test]
async fn twitter_layout_and_uuid_v7() {
    let url = common::sqlite_file("ids-plain");
    let db = common::primary(
        DatabaseConfig::new(&url).ids(grant::config::IdConfig::default().worker_id(9)),
    );
    raw("CREATE TABLE logs (id INTEGER PRIMARY KEY, line TEXT NOT NULL)")
        .execute(&db)
        .await
        .unwrap();
    raw("CREATE TABLE notes (id BLOB PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&db)
        .await
        .unwrap();
    let mut last = 0;
    for i in 0..50 {
        let mut l = Log {
            id: 0,
            line: format!("line {i}"),
        };
        l.insert(&db).await.unwrap();
        assert!(l.id > last, "increasing");
        last = l.id;
        let parts = SnowflakeLayout::TWITTER
            .decode(l.id, Snowflake::DEFAULT_EPOCH_MS)
            .unwrap();
        assert_eq!(parts.worker, 9);
    }
    assert_eq!(Log::query().count(&db).await.unwrap(), 50);

    let mut notes = vec![
        Note {
            id: uuid::Uuid::nil(),
            body: "a".into(),
        },
        Note {
            id: uuid::Uuid::nil(),
            body: "b".into(),
        },
    ];
    Note::insert_all(&db, &mut notes).await.unwrap();
    assert!(notes.iter().all(|n| n.id.get_version_num() == 7));
    assert!(notes[0].id < notes[1].id);
    let mut one = Note {
        id: uuid::Uuid::nil(),
        body: "c".into(),
    };
    one.insert(&db).await.unwrap();
    assert_eq!(Note::get(&db, one.id).await.unwrap(), one);
    db.close().await;
}

#[test]
fn id_config_errors_name_the_key() {
    let url = common::sqlite_file("ids-bad");
    let toml = format!(
        "[databases.primary]\nurl = \"{url}\"\n[databases.primary.ids]\nworker_id = 64\nlayout = \"sharded\"\n"
    );
    let err = Config::from_toml_str(&toml).unwrap_err();
    assert_eq!(err.key, "databases.primary.ids.worker_id", "{err}");
    let toml = format!(
        "[databases.primary]\nurl = \"{url}\"\n[databases.primary.ids]\nlayout = \"odd\"\n"
    );
    let err = Config::from_toml_str(&toml).unwrap_err();
    assert_eq!(err.key, "databases.primary.ids.layout", "{err}");
    assert!(
        matches!(err.kind, ConfigErrorKind::InvalidChoice { .. }),
        "{err}"
    );
}

/// Generated keys on the server engines: Snowflake ids in a BIGINT key, UUIDv7 in the
/// engine's UUID column, each read back by its key.
async fn generated_keys_on(engine: common::Engine) {
    let db = common::primary(DatabaseConfig::new(&engine.url));
    for (table, ddl) in [
        (
            "logs",
            "CREATE TABLE logs (id {i64} PRIMARY KEY, line {text} NOT NULL)",
        ),
        (
            "notes",
            "CREATE TABLE notes (id {uuid} PRIMARY KEY, body {text} NOT NULL)",
        ),
    ] {
        engine.reset_table(&db, table, ddl).await;
    }
    let mut logs = vec![
        Log {
            id: 0,
            line: "a".into(),
        },
        Log {
            id: 0,
            line: "b".into(),
        },
    ];
    Log::insert_all(&db, &mut logs).await.unwrap();
    let mut one = Log {
        id: 0,
        line: "c".into(),
    };
    one.insert(&db).await.unwrap();
    assert!(logs[0].id > 0 && logs[0].id < logs[1].id && logs[1].id < one.id);
    assert_eq!(Log::get(&db, one.id).await.unwrap(), one);
    let mut note = Note {
        id: uuid::Uuid::nil(),
        body: "n".into(),
    };
    note.insert(&db).await.unwrap();
    assert_eq!(note.id.get_version_num(), 7);
    assert_eq!(Note::get(&db, note.id).await.unwrap(), note);
    db.close().await;
}

#[tokio::test]
async fn generated_keys_on_postgres() {
    let Some(engine) = common::Engine::postgres() else {
        eprintln!("skipped: GRANT_TEST_POSTGRES_URL is not set");
        return;
    };
    generated_keys_on(engine).await;
}

#[tokio::test]
async fn generated_keys_on_mariadb() {
    let Some(engine) = common::Engine::mariadb() else {
        eprintln!("skipped: GRANT_TEST_MARIADB_URL is not set");
        return;
    };
    generated_keys_on(engine).await;
}
