//! Chats in three sources: `primary` (read-write), `archive` (read-only) and `test`
//! (read-write), shards of one `chats` database. A chat id picks its source through a
//! lookup table with a default; an explicit source beats the mapping, the mapping beats
//! the default. A write to an archived chat is refused naming `archive`. "Every message of
//! a user" reads all sources at once, without duplicates (a chat copied into `test` as a
//! fixture is counted once).
//!
//! `cargo run --example chat_archive`

use grant::sharding::Lookup;
use grant::{raw, Config, Error, Grant, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "messages")]
#[shard_by(chat_id)]
struct Message {
    #[grant(primary_key, manual)]
    id: i64,
    chat_id: i64,
    user_id: i64,
    body: String,
}

const CREATE: &str = "CREATE TABLE messages (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, user_id INTEGER NOT NULL, body TEXT NOT NULL)";

fn msg(id: i64, chat_id: i64, user_id: i64, body: &str) -> Message {
    Message {
        id,
        chat_id,
        user_id,
        body: body.into(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("grant-chat-archive");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let file = |name: &str| format!("sqlite://{}/{name}.db", dir.display());

    // The archive was filled before it was frozen.
    {
        let archive = Grant::connect(&file("archive")).await?;
        raw(CREATE).execute(&archive).await?;
        raw("INSERT INTO messages VALUES (1, 10, 7, 'hello from 2019'), (2, 10, 8, 'hi'), (3, 11, 7, 'old news')")
            .execute(&archive)
            .await?;
        archive.close().await;
    }

    let toml = format!(
        r#"
        [databases.chats]
        url = "{primary}"
        shards.primary = {{ url = "{primary}" }}
        shards.archive = {{ url = "{archive}", readonly = true }}
        shards.test = {{ url = "{test}" }}

        [databases.chats.sharding]
        resolver = "lookup"
        lookup = [[10, "archive"], [11, "archive"], [900, "test"]]
        default = "primary"
        "#,
        primary = file("primary"),
        archive = file("archive"),
        test = file("test"),
    );
    let db = Grant::from_config(Config::from_toml_str(&toml)?)?;
    raw(CREATE).execute(db.on_shard("primary")).await?;
    raw(CREATE).execute(db.on_shard("test")).await?;

    // Default: chat 20 is in no table, so it lives in `primary`.
    msg(100, 20, 7, "new chat").insert(&db).await?;
    // Mapping: chat 900 is a test chat.
    msg(101, 900, 7, "test fixture").insert(&db).await?;
    // Explicit source beats the mapping: a copy of archived chat 10 as a test fixture.
    msg(1, 10, 7, "hello from 2019")
        .insert(db.on_shard("test"))
        .await?;
    for source in ["primary", "archive", "test"] {
        let n = Message::query().count(db.on_shard(source)).await?;
        println!("{source}: {n} messages");
    }

    // A write to an archived chat: refused naming the archive, nothing sent.
    match msg(102, 10, 7, "late reply").insert(&db).await {
        Err(e @ Error::ReadOnly { .. }) => {
            assert!(e.to_string().contains("archive"));
            println!("refused: {e}");
        }
        other => return Err(format!("expected a read-only error, got {other:?}").into()),
    }

    // Every message of user 7, from every source, once each.
    let mine = Message::query()
        .filter(Message::USER_ID.eq(7))
        .order_by(Message::ID.asc())
        .dedupe()
        .all(&db)
        .await?;
    let ids: Vec<i64> = mine.iter().map(|m| m.id).collect();
    println!("user 7: {} messages {ids:?}", mine.len());
    assert_eq!(ids, [1, 3, 100, 101]);
    let with_copies = Message::query()
        .filter(Message::USER_ID.eq(7))
        .count(&db)
        .await?;
    println!("(without dedupe the fixture copy counts twice: {with_copies})");

    // One chat by its key reads one source only.
    let report = Message::query()
        .filter(Message::CHAT_ID.eq(10))
        .all_with_report(&db)
        .await?;
    let visited: Vec<_> = report
        .shards
        .iter()
        .filter_map(|o| o.shard.clone())
        .collect();
    println!("chat 10 read from {visited:?}");
    assert_eq!(visited, ["archive"]);

    // Chat 20 is archived at runtime: the lookup is replaced, no restart.
    db.set_resolver(
        "chats",
        Lookup::new(
            [
                (10, "archive"),
                (11, "archive"),
                (20, "archive"),
                (900, "test"),
            ],
            Some("primary".to_string()),
        )?,
    )?;
    let after = Message::query()
        .filter(Message::CHAT_ID.eq(20))
        .count(&db)
        .await?;
    println!("chat 20 after it was mapped to the archive (not copied yet): {after} messages");

    db.close().await;
    Ok(())
}
