//! Sharding configuration and runtime changes, on SQLite files: every resolver from
//! `grant.toml`, read-only shards (writes refused before any SQL, reads included), range
//! pruning on an interval resolver, resolvers registered in code, a lookup replaced at
//! runtime, shards added and removed without a restart, `each_shard`, and the errors for
//! a shard scope on a database without shards.

mod common;

use grant::sharding::{Lookup, ShardResolver as _};
use grant::{
    connection, raw, Config, ConfigErrorKind, DatabaseConfig, Error, Grant, Model, ReadOnlyReason,
    ShardConfig,
};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "chats")]
#[shard_by(chat_id)]
struct Chat {
    #[grant(primary_key, manual)]
    id: i64,
    chat_id: i64,
    body: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "prices")]
#[shard_by(day)]
struct Price {
    #[grant(primary_key, manual)]
    id: i64,
    day: chrono::NaiveDate,
    cents: i64,
}

/// Unsharded model of the same database.
#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "plain")]
struct Plain {
    id: i64,
}

const CHATS: &str =
    "CREATE TABLE chats (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, body TEXT NOT NULL)";
const CHATS_IF_MISSING: &str = "CREATE TABLE IF NOT EXISTS chats (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, body TEXT NOT NULL)";
const PRICES: &str =
    "CREATE TABLE prices (id INTEGER PRIMARY KEY, day TEXT NOT NULL, cents INTEGER NOT NULL)";

fn file(tag: &str) -> String {
    common::sqlite_file(tag)
}

async fn create_everywhere(db: &Grant, database: &str, sql: &'static str) {
    for (shard, r) in db
        .each_shard(database, |_| async move { raw(sql).execute(db).await })
        .await
        .unwrap()
    {
        r.unwrap_or_else(|e| panic!("{shard}: {e}"));
    }
}

#[tokio::test]
async fn lookup_with_default_and_readonly_archive() {
    let (primary, archive, test) = (file("chat-p"), file("chat-a"), file("chat-t"));
    let toml = format!(
        r#"
        [databases.chats]
        url = "{primary}"
        shards.primary = {{ url = "{primary}" }}
        shards.archive = {{ url = "{archive}", readonly = true }}
        shards.test = {{ url = "{test}" }}

        [databases.chats.sharding]
        resolver = "lookup"
        lookup = [[1, "archive"], [2, "archive"], [99, "test"]]
        default = "primary"
        "#
    );
    let db = Grant::from_config(Config::from_toml_str(&toml).unwrap()).unwrap();
    // The archive is read-only: create its table through a writable handle.
    let setup = common::primary(DatabaseConfig::new(&archive));
    raw(CHATS).execute(&setup).await.unwrap();
    raw("INSERT INTO chats VALUES (1, 1, 'old one'), (2, 2, 'old two')")
        .execute(&setup)
        .await
        .unwrap();
    setup.close().await;
    for s in ["primary", "test"] {
        raw(CHATS)
            .on("chats")
            .execute(db.on_shard(s))
            .await
            .unwrap();
    }

    // Mapping, then default.
    Chat {
        id: 10,
        chat_id: 99,
        body: "test chat".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    Chat {
        id: 11,
        chat_id: 7,
        body: "live chat".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(Chat::query().count(db.on_shard("test")).await.unwrap(), 1);
    assert_eq!(
        Chat::query().count(db.on_shard("primary")).await.unwrap(),
        1
    );
    // A write to an archived chat: refused naming the archive, before any SQL.
    let err = Chat {
        id: 12,
        chat_id: 1,
        body: "late".into(),
    }
    .insert(&db)
    .await
    .unwrap_err();
    match &err {
        Error::ReadOnly { shard, reason, .. } => {
            assert_eq!(shard.as_deref(), Some("archive"));
            assert_eq!(*reason, ReadOnlyReason::ReadonlyShard);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("archive"), "{err}");
    assert_eq!(
        Chat::query().count(db.on_shard("archive")).await.unwrap(),
        2
    );
    // Explicit source wins over the mapping: chat 99 written to primary on purpose.
    Chat {
        id: 13,
        chat_id: 99,
        body: "moved by hand".into(),
    }
    .insert(db.on_shard("primary"))
    .await
    .unwrap();
    // Reads include the archive; every chat across sources, no duplicates.
    let all = Chat::query()
        .order_by(Chat::ID.asc())
        .all(&db)
        .await
        .unwrap();
    let ids: Vec<i64> = all.iter().map(|c| c.id).collect();
    assert_eq!(ids, [1, 2, 10, 11, 13]);
    // A lookup updated at runtime: chat 7 archived from now on.
    db.set_resolver(
        "chats",
        Lookup::new(
            [(1, "archive"), (2, "archive"), (7, "archive"), (99, "test")],
            Some("primary".into()),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(Chat::query()
        .filter(Chat::CHAT_ID.eq(7))
        .all(&db)
        .await
        .unwrap()
        .is_empty());
    db.close().await;
}

#[tokio::test]
async fn interval_by_year_prunes_ranges_and_refuses_past_years() {
    let (y2023, y2024, staging) = (file("y23"), file("y24"), file("stage"));
    let setup = common::primary(DatabaseConfig::new(&y2023));
    raw(PRICES).execute(&setup).await.unwrap();
    setup.close().await;
    let toml = format!(
        r#"
        [databases.prices]
        url = "{y2024}"
        shards.prices_2023 = {{ url = "{y2023}", readonly = true }}
        shards.prices_2024 = {{ url = "{y2024}" }}
        shards.staging = {{ url = "{staging}" }}

        [databases.prices.sharding]
        resolver = "interval"
        every = "year"
        pattern = "prices_{{yyyy}}"
        "#
    );
    let db = Grant::from_config(Config::from_toml_str(&toml).unwrap()).unwrap();
    for s in ["prices_2024", "staging"] {
        raw(PRICES)
            .on("prices")
            .execute(db.on_shard(s))
            .await
            .unwrap();
    }
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    Price {
        id: 1,
        day: day(2024, 3, 1),
        cents: 5,
    }
    .insert(&db)
    .await
    .unwrap();
    let err = Price {
        id: 2,
        day: day(2023, 3, 1),
        cents: 5,
    }
    .insert(&db)
    .await
    .unwrap_err();
    assert!(err.is_read_only(), "{err}");
    let err = Price {
        id: 3,
        day: day(2025, 1, 1),
        cents: 5,
    }
    .insert(&db)
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Shard { .. }), "{err}");
    // A range of dates in 2024 visits one shard; the staging shard is never scattered to.
    let report = Price::query()
        .filter(Price::DAY.ge(day(2024, 1, 1)))
        .all_with_report(&db)
        .await
        .unwrap();
    let visited: Vec<_> = report
        .shards
        .iter()
        .map(|o| o.shard.clone().unwrap())
        .collect();
    assert_eq!(visited, ["prices_2024"]);
    let report = Price::query().all_with_report(&db).await.unwrap();
    let visited: Vec<_> = report
        .shards
        .iter()
        .map(|o| o.shard.clone().unwrap())
        .collect();
    assert_eq!(visited, ["prices_2023", "prices_2024"]);
    // A new year, added without a restart.
    let y2025 = file("y25");
    db.add_shard("prices", "prices_2025", ShardConfig::new(&y2025))
        .unwrap();
    raw(PRICES)
        .on("prices")
        .execute(db.on_shard("prices_2025"))
        .await
        .unwrap();
    Price {
        id: 3,
        day: day(2025, 1, 1),
        cents: 7,
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(Price::query().count(&db).await.unwrap(), 2);
    assert!(matches!(
        db.add_shard("prices", "prices_2025", ShardConfig::new(&y2025))
            .unwrap_err(),
        Error::DuplicateShard { .. }
    ));
    db.remove_shard("prices", "prices_2025").await.unwrap();
    assert_eq!(Price::query().count(&db).await.unwrap(), 1);
    assert!(matches!(
        Price::query()
            .count(db.on_shard("prices_2025"))
            .await
            .unwrap_err(),
        Error::UnknownShard { .. }
    ));
    db.close().await;
}

#[tokio::test]
async fn resolvers_from_config_and_code() {
    let urls: Vec<String> = (0..3).map(|i| file(&format!("cfg{i}"))).collect();
    let shards = format!(
        "shards.a = {{ url = \"{}\" }}\nshards.b = {{ url = \"{}\" }}\nshards.c = {{ url = \"{}\" }}",
        urls[0], urls[1], urls[2]
    );
    for (resolver_name, extra) in [
        ("modulo", ""),
        ("hash", ""),
        ("range", "ranges = [[0, \"a\"], [100, \"b\"], [200, \"c\"]]"),
        ("lookup", "lookup = [[1, \"b\"]]\ndefault = \"c\""),
    ] {
        let toml = format!(
            "[databases.primary]\nurl = \"{}\"\n{shards}\n[databases.primary.sharding]\nresolver = \"{resolver_name}\"\n{extra}\n",
            urls[0]
        );
        let db = Grant::from_config(Config::from_toml_str(&toml).unwrap()).unwrap();
        create_everywhere(&db, "primary", CHATS_IF_MISSING).await;
        raw("DELETE FROM chats")
            .execute(db.on_shard("a"))
            .await
            .unwrap();
        raw("DELETE FROM chats")
            .execute(db.on_shard("b"))
            .await
            .unwrap();
        raw("DELETE FROM chats")
            .execute(db.on_shard("c"))
            .await
            .unwrap();
        for i in 0..30 {
            Chat {
                id: i,
                chat_id: i * 10,
                body: "x".into(),
            }
            .insert(&db)
            .await
            .unwrap();
        }
        // Each row is found by its key on the shard the resolver names.
        let routing = db.handler().database("primary").unwrap();
        let resolver = routing
            .sharding()
            .unwrap()
            .resolver("primary")
            .unwrap()
            .clone();
        for i in 0..30 {
            let shard = resolver.resolve(&(i * 10).into()).unwrap().to_string();
            let found = Chat::query()
                .filter(Chat::CHAT_ID.eq(i * 10))
                .all(db.on_shard(&shard))
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "{resolver:?} key {}", i * 10);
        }
        assert_eq!(Chat::query().count(&db).await.unwrap(), 30, "{resolver:?}");
        if matches!(resolver_name, "range") {
            // A range of keys visits only the shards whose ranges it overlaps.
            let report = Chat::query()
                .filter(Chat::CHAT_ID.ge(100).and(Chat::CHAT_ID.lt(200)))
                .all_with_report(&db)
                .await
                .unwrap();
            let visited: Vec<_> = report
                .shards
                .iter()
                .map(|o| o.shard.clone().unwrap())
                .collect();
            assert_eq!(visited, ["b"]);
            assert_eq!(report.rows.len(), 10);
        }
        db.close().await;
    }

    // A resolver registered in code by name.
    let toml = format!(
        "[databases.primary]\nurl = \"{}\"\n{shards}\n[databases.primary.sharding]\nresolver = \"by_parity\"\n",
        urls[0]
    );
    let db = Grant::from_config(Config::from_toml_str(&toml).unwrap()).unwrap();
    let err = Chat {
        id: 1,
        chat_id: 1,
        body: "x".into(),
    }
    .insert(&db)
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownResolver { resolver, .. } if resolver == "by_parity"),
        "{err}"
    );
    db.register_resolver(
        "by_parity",
        Lookup::new(Vec::<(i64, String)>::new(), Some("b".into())).unwrap(),
    )
    .unwrap();
    Chat {
        id: 1000,
        chat_id: 1,
        body: "x".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    assert!(Chat::find(db.on_shard("b"), 1000).await.unwrap().is_some());
    db.close().await;
}

#[tokio::test]
async fn config_errors_name_the_key() {
    let url = file("bad");
    let cases = [
        (
            format!("[databases.primary]\nurl = \"{url}\"\n[databases.primary.sharding]\nresolver = \"hash\"\n"),
            "databases.primary.sharding",
        ),
        (
            format!("[databases.primary]\nurl = \"{url}\"\nshards.a = {{ url = \"{url}\" }}\n[databases.primary.sharding]\nresolver = \"lookup\"\nlookup = [[1, \"zz\"]]\n"),
            "databases.primary.sharding.resolver",
        ),
        (
            format!("[databases.primary]\nurl = \"{url}\"\nshards.a = {{ url = \"{url}\" }}\n[databases.primary.sharding]\nresolver = \"range\"\nranges = [[10, \"a\"], [5, \"a\"]]\n"),
            "databases.primary.sharding.resolver",
        ),
        (
            format!("[databases.primary]\nurl = \"{url}\"\nshards.a = {{ url = \"{url}\" }}\n[databases.primary.sharding]\nresolver = \"hash\"\npattern = \"x_{{yyyy}}\"\n"),
            "databases.primary.sharding.pattern",
        ),
        (
            format!("[databases.primary]\nurl = \"{url}\"\nshards.a = {{ url = \"{url}\" }}\n[databases.primary.sharding]\nresolver = \"hash\"\nconcurrency = 0\n"),
            "databases.primary.sharding.concurrency",
        ),
        (
            format!("[databases.primary]\nurl = \"{url}\"\nshards.a = {{ url = \"{url}\" }}\n[databases.primary.sharding]\nresolverr = \"hash\"\n"),
            "databases.primary.sharding.resolverr",
        ),
    ];
    for (toml, key) in cases {
        let err = Config::from_toml_str(&toml).unwrap_err();
        assert_eq!(err.key, key, "{err}");
        assert!(
            matches!(
                err.kind,
                ConfigErrorKind::InvalidSharding { .. }
                    | ConfigErrorKind::ShardingWithoutShards
                    | ConfigErrorKind::IntegerOutOfRange { .. }
                    | ConfigErrorKind::UnknownKey { .. }
            ),
            "{err}"
        );
    }
}

#[tokio::test]
async fn shard_scope_on_a_database_without_shards_is_an_error() {
    let db = common::primary(DatabaseConfig::new(file("plain")));
    raw("CREATE TABLE plain (id INTEGER PRIMARY KEY)")
        .execute(&db)
        .await
        .unwrap();
    let err = connection()
        .shard("s1")
        .run(Plain::query().count(&db))
        .await
        .unwrap_err();
    match &err {
        Error::NotSharded {
            database,
            shard,
            model,
        } => {
            assert_eq!((database.as_str(), shard.as_str()), ("primary", "s1"));
            assert_eq!(*model, Some("Plain"));
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        Plain::find(db.on_shard("s1"), 1).await.unwrap_err(),
        Error::NotSharded { .. }
    ));
    assert!(matches!(
        db.each_shard("primary", |_| async {}).await.unwrap_err(),
        Error::NotSharded { .. }
    ));
    // A sharded model on a database without `[sharding]`.
    let err = Chat {
        id: 1,
        chat_id: 1,
        body: "x".into(),
    }
    .insert(&db)
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::NoResolver { model: "Chat", .. }),
        "{err}"
    );
    db.close().await;
}

#[tokio::test]
async fn raw_sql_needs_one_shard_and_shards_read_their_replicas() {
    let (a, b) = (file("rep-a"), file("rep-b"));
    let toml = format!(
        r#"
        [databases.primary]
        url = "{a}"
        shards.a = {{ url = "{a}", replicas = ["{a}"] }}
        shards.b = {{ url = "{b}", replicas = ["{b}"] }}
        [databases.primary.sharding]
        resolver = "modulo"
        "#
    );
    let db = Grant::from_config(Config::from_toml_str(&toml).unwrap()).unwrap();
    create_everywhere(&db, "primary", CHATS).await;
    for i in 0..6 {
        Chat {
            id: i,
            chat_id: i,
            body: "x".into(),
        }
        .insert(&db)
        .await
        .unwrap();
    }
    // A scatter reads each shard's replica.
    assert_eq!(Chat::query().count(&db).await.unwrap(), 6);
    let replica_reads: u64 = db
        .stats()
        .iter()
        .filter(|s| s.key.shard.is_some() && matches!(s.key.kind, grant::PoolKind::Replica(_)))
        .map(|s| s.reads)
        .sum();
    assert!(replica_reads >= 2, "{replica_reads}");

    // Raw SQL cannot be merged: without a shard it is refused; on a shard it runs.
    let err = Chat::find_by_sql(&db, "SELECT * FROM chats", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ScatterDenied { model: "Chat", .. }),
        "{err}"
    );
    let on_a = Chat::find_by_sql(db.on_shard("a"), "SELECT * FROM chats", vec![])
        .await
        .unwrap();
    assert_eq!(on_a.len(), 3);
    let scoped = connection()
        .shard("b")
        .run(Chat::find_by_sql(&db, "SELECT * FROM chats", vec![]))
        .await
        .unwrap();
    assert_eq!(scoped.len(), 3);

    // update_all cannot move rows between shards.
    let err = Chat::query()
        .across_shards()
        .update_all(&db, [Chat::CHAT_ID.set(1)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidQuery { .. }), "{err}");
    db.close().await;
}

#[tokio::test]
async fn lookup_read_from_a_table() {
    let (meta, one, two) = (file("lk-meta"), file("lk-one"), file("lk-two"));
    let toml = format!(
        r#"
        default = "chats"

        [databases.meta]
        url = "{meta}"

        [databases.chats]
        url = "{one}"
        shards.one = {{ url = "{one}" }}
        shards.two = {{ url = "{two}" }}
        [databases.chats.sharding]
        resolver = "lookup"
        default = "one"
        "#
    );
    let db = Grant::from_config(Config::from_toml_str(&toml).unwrap()).unwrap();
    raw("CREATE TABLE chat_sources (chat_id INTEGER PRIMARY KEY, source TEXT NOT NULL)")
        .on("meta")
        .execute(&db)
        .await
        .unwrap();
    raw("INSERT INTO chat_sources VALUES (5, 'two'), (6, 'two')")
        .on("meta")
        .execute(&db)
        .await
        .unwrap();
    for s in ["one", "two"] {
        raw(CHATS)
            .on("chats")
            .execute(db.on_shard(s))
            .await
            .unwrap();
    }
    let n = db
        .load_lookup(
            "chats",
            "meta",
            "SELECT chat_id, source FROM chat_sources",
            Some("one"),
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    #[derive(Model, Debug, Clone, PartialEq)]
    #[grant(table = "chats", database = "chats")]
    #[shard_by(chat_id)]
    struct ChatIn {
        #[grant(primary_key, manual)]
        id: i64,
        chat_id: i64,
        body: String,
    }
    ChatIn {
        id: 1,
        chat_id: 5,
        body: "x".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    ChatIn {
        id: 2,
        chat_id: 7,
        body: "y".into(),
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(ChatIn::query().count(db.on_shard("two")).await.unwrap(), 1);
    assert_eq!(ChatIn::query().count(db.on_shard("one")).await.unwrap(), 1);
    // The table changes: load again, no restart.
    raw("INSERT INTO chat_sources VALUES (7, 'two')")
        .on("meta")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        db.load_lookup(
            "chats",
            "meta",
            "SELECT chat_id, source FROM chat_sources",
            Some("one")
        )
        .await
        .unwrap(),
        3
    );
    assert!(ChatIn::query()
        .filter(ChatIn::CHAT_ID.eq(7))
        .all(&db)
        .await
        .unwrap()
        .is_empty());
    // A duplicate key in the table is an error, and the old resolver stays.
    raw("CREATE TABLE dup (k INTEGER, s TEXT)")
        .on("meta")
        .execute(&db)
        .await
        .unwrap();
    raw("INSERT INTO dup VALUES (1, 'one'), (1, 'two')")
        .on("meta")
        .execute(&db)
        .await
        .unwrap();
    let err = db
        .load_lookup("chats", "meta", "SELECT k, s FROM dup", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Shard { .. }), "{err}");
    db.close().await;
}

#[tokio::test]
async fn an_explicit_database_wins_over_the_model_database() {
    let (live, archive, o1, o2) = (
        file("ed-live"),
        file("ed-arch"),
        file("ed-o1"),
        file("ed-o2"),
    );
    let toml = format!(
        r#"
        default = "primary"
        [databases.primary]
        url = "{live}"
        [databases.archive]
        url = "{archive}"
        [databases.other]
        url = "{o1}"
        shards.x = {{ url = "{o1}" }}
        shards.y = {{ url = "{o2}" }}
        [databases.other.sharding]
        resolver = "modulo"
        "#
    );
    let db = Grant::from_config(Config::from_toml_str(&toml).unwrap()).unwrap();
    for database in ["primary", "archive"] {
        raw("CREATE TABLE plain (id INTEGER PRIMARY KEY)")
            .on(database)
            .execute(&db)
            .await
            .unwrap();
    }
    for s in ["x", "y"] {
        raw(CHATS)
            .on("other")
            .execute(db.on_shard(s))
            .await
            .unwrap();
    }
    // An unsharded model written to and read from another database.
    Plain { id: 1 }
        .insert(db.on_database("archive"))
        .await
        .unwrap();
    assert_eq!(Plain::query().count(&db).await.unwrap(), 0);
    assert_eq!(
        Plain::query()
            .count(db.on_database("archive"))
            .await
            .unwrap(),
        1
    );
    assert!(Plain::find(db.on_database("archive"), 1)
        .await
        .unwrap()
        .is_some());
    assert!(matches!(
        Plain::query()
            .count(db.on_database("nope"))
            .await
            .unwrap_err(),
        Error::UnknownDatabase { .. }
    ));
    // A sharded model on another sharded database: still routed by key there.
    for i in 0..4 {
        Chat {
            id: i,
            chat_id: i,
            body: "x".into(),
        }
        .insert(db.on_database("other"))
        .await
        .unwrap();
    }
    assert_eq!(
        Chat::query()
            .count(db.on_database("other").shard("x"))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        Chat::query().count(db.on_database("other")).await.unwrap(),
        4
    );
    assert_eq!(
        Chat::query()
            .filter(Chat::CHAT_ID.eq(1))
            .all_with_report(db.on_database("other"))
            .await
            .unwrap()
            .shards[0]
            .shard
            .as_deref(),
        Some("y")
    );
    // insert_all too: routed by key among that database's shards.
    let mut batch = vec![
        Chat {
            id: 10,
            chat_id: 10,
            body: "x".into(),
        },
        Chat {
            id: 12,
            chat_id: 12,
            body: "x".into(),
        },
    ];
    Chat::insert_all(db.on_database("other"), &mut batch)
        .await
        .unwrap();
    assert_eq!(
        Chat::query()
            .count(db.on_database("other").shard("x"))
            .await
            .unwrap(),
        4
    );
    let mut mixed = vec![
        Chat {
            id: 20,
            chat_id: 20,
            body: "x".into(),
        },
        Chat {
            id: 21,
            chat_id: 21,
            body: "x".into(),
        },
    ];
    assert!(matches!(
        Chat::insert_all(db.on_database("other"), &mut mixed)
            .await
            .unwrap_err(),
        Error::CrossShardWrite { .. }
    ));
    db.close().await;
}

/// Shards with replicas behave as databases with replicas do: a scatter reads each shard's
/// replica, a session that wrote to a shard reads that shard's writer (read-your-writes per
/// shard), and a shard whose replica cannot be reached fails over to its writer.
#[tokio::test]
async fn shard_replicas_in_a_scatter_read_your_writes_and_fail_over() {
    let (wa, wb) = (file("rw-a"), file("rw-b"));
    let setup = Grant::from_config(
        Config::builder()
            .database("a", DatabaseConfig::new(&wa))
            .database("b", DatabaseConfig::new(&wb))
            .default_database("a")
            .build()
            .unwrap(),
    )
    .unwrap();
    for database in ["a", "b"] {
        raw(CHATS).on(database).execute(&setup).await.unwrap();
    }
    setup.close().await;
    // Replicas: copies taken now, so they stay empty (stale) from here on.
    let (ra, rb) = (
        common::matrix::stale_copy(&wa, "rw-a-replica"),
        common::matrix::stale_copy(&wb, "rw-b-replica"),
    );
    let toml = |b_replica: &str| {
        format!(
            r#"
            [databases.primary]
            url = "{wa}"
            replica_delay = "60s"
            shards.a = {{ url = "{wa}", replicas = ["{ra}"] }}
            shards.b = {{ url = "{wb}", replicas = ["{b_replica}"] }}
            [databases.primary.sharding]
            resolver = "modulo"
            "#
        )
    };
    let db = Grant::from_config(Config::from_toml_str(&toml(&rb)).unwrap()).unwrap();
    for i in 0..4 {
        Chat {
            id: i,
            chat_id: i,
            body: "x".into(),
        }
        .insert(&db)
        .await
        .unwrap();
    }
    // Outside a session every shard is read from its (stale) replica.
    assert_eq!(Chat::query().count(&db).await.unwrap(), 0);
    // A session that writes to shard a reads a's writer; b still from its replica.
    let session = grant::Session::new();
    let seen = session
        .run(async {
            Chat {
                id: 10,
                chat_id: 10,
                body: "mine".into(),
            }
            .insert(&db)
            .await
            .unwrap();
            Chat::query().all(&db).await.unwrap()
        })
        .await;
    let mut ids: Vec<i64> = seen.iter().map(|c| c.id).collect();
    ids.sort();
    assert_eq!(
        ids,
        [0, 2, 10],
        "shard a (even keys) from its writer, b from its replica"
    );
    db.close().await;

    // Shard b's replica cannot be opened: its reads fail over to b's writer.
    let dead = "sqlite:///grant-no-such-dir/replica.db?mode=ro";
    let db = Grant::from_config(Config::from_toml_str(&toml(dead)).unwrap()).unwrap();
    let rows = Chat::query()
        .order_by(Chat::ID.asc())
        .all(&db)
        .await
        .unwrap();
    let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [1, 3],
        "a from its stale replica, b failed over to its writer"
    );
    let fallbacks: u64 = db
        .stats()
        .iter()
        .filter(|s| s.key.shard.as_deref() == Some("b"))
        .map(|s| s.fallbacks)
        .sum();
    assert!(fallbacks >= 1, "{fallbacks}");
    db.close().await;
}
