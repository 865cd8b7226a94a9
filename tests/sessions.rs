//! What every new connection gets: SQLite's journal/synchronous/busy/foreign-key settings
//! (WAL for files by default), the server-side statement timeout, the config's
//! `after_connect` statements and the code `on_connect` hook, on every engine; and the
//! engine's bind-parameter limit as a typed error before anything is sent.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Engine;
use grant::config::{HookConnection, JournalMode, SqliteOptions, Synchronous};
use grant::{connected_to, raw, Backend, Config, DatabaseConfig, Error, Grant, Model, Role};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "session_items")]
struct Item {
    id: i64,
    n: i64,
}

fn grant(config: DatabaseConfig) -> Grant {
    common::primary(config)
}

async fn text(db: &Grant, sql: &'static str) -> String {
    let rows = connected_to(Role::Writing, raw(sql).fetch_all(db))
        .await
        .unwrap();
    let row = &rows[0];
    row.get::<String>(row.columns()[0])
        .or_else(|_| row.get::<i64>(row.columns()[0]).map(|n| n.to_string()))
        .or_else(|_| row.get::<f64>(row.columns()[0]).map(|n| n.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_default_to_wal_and_normal() {
    let db = grant(DatabaseConfig::new(common::sqlite_file("wal")));
    assert_eq!(text(&db, "PRAGMA journal_mode").await, "wal");
    assert_eq!(text(&db, "PRAGMA synchronous").await, "1", "NORMAL");
    assert_eq!(text(&db, "PRAGMA busy_timeout").await, "5000");
    assert_eq!(text(&db, "PRAGMA foreign_keys").await, "1");
    // The read-only twin sees the same file, opened read-only.
    raw("CREATE TABLE t (x INTEGER)")
        .execute(&db)
        .await
        .unwrap();
    let rows = raw("SELECT COUNT(*) AS n FROM t")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(rows[0].get::<i64>("n").unwrap(), 0);
    assert_eq!(
        raw("PRAGMA query_only").fetch_all(&db).await.unwrap()[0]
            .get::<i64>("query_only")
            .unwrap(),
        1
    );
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_options_from_config() {
    let options = SqliteOptions {
        journal_mode: Some(JournalMode::Truncate),
        synchronous: Some(Synchronous::Full),
        busy_timeout: Duration::from_millis(1234),
        foreign_keys: false,
    };
    let db = grant(DatabaseConfig::new(common::sqlite_file("opts")).sqlite(options));
    assert_eq!(text(&db, "PRAGMA journal_mode").await, "truncate");
    assert_eq!(text(&db, "PRAGMA synchronous").await, "2", "FULL");
    assert_eq!(text(&db, "PRAGMA busy_timeout").await, "1234");
    assert_eq!(text(&db, "PRAGMA foreign_keys").await, "0");
    db.close().await;

    // A read before any write on a new file: the writer creates the file first, so the
    // read-only twin finds an (empty) database rather than no file.
    let db = grant(DatabaseConfig::new(common::sqlite_file("read-first")));
    let rows = raw("SELECT 1 AS one").fetch_all(&db).await.unwrap();
    assert_eq!(rows[0].get::<i64>("one").unwrap(), 1);
    db.close().await;

    // The same from grant.toml.
    let path = common::sqlite_file("opts-toml");
    let toml = format!(
        r#"
        [databases.primary]
        url = "{path}"
        [databases.primary.sqlite]
        journal_mode = "delete"
        synchronous = "off"
        "#
    );
    let config = Config::from_toml_str_with(&toml, "development", &|_| None).unwrap();
    let db = Grant::from_config(config).unwrap();
    assert_eq!(text(&db, "PRAGMA journal_mode").await, "delete");
    assert_eq!(text(&db, "PRAGMA synchronous").await, "0");
    db.close().await;

    // In memory: the writer and its read-only twin share one database, whichever opens first.
    let db = grant(DatabaseConfig::new("sqlite::memory:"));
    let rows = raw("SELECT 1 AS one").fetch_all(&db).await.unwrap();
    assert_eq!(rows[0].get::<i64>("one").unwrap(), 1);
    raw("CREATE TABLE m (x INTEGER)")
        .execute(&db)
        .await
        .unwrap();
    raw("INSERT INTO m VALUES (7)").execute(&db).await.unwrap();
    let rows = raw("SELECT x FROM m").fetch_all(&db).await.unwrap();
    assert_eq!(rows[0].get::<i64>("x").unwrap(), 7);
    db.close().await;
}

/// An in-memory database read first: the writer's connection (opened by its
/// `min_connections` in the background, or by the read) is established before the
/// read-only twin opens the shared database, every time, so the database is never
/// read-only for the writer. Many fresh databases, reads and writes racing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_database_read_first_stays_writable() {
    for i in 0..200 {
        let db = grant(DatabaseConfig::new("sqlite::memory:"));
        let (read, write) = tokio::join!(
            raw("SELECT 1 AS one").fetch_all(&db),
            raw("CREATE TABLE m (x INTEGER)").execute(&db)
        );
        read.unwrap_or_else(|e| panic!("round {i}: read: {e}"));
        write.unwrap_or_else(|e| panic!("round {i}: write: {e}"));
        raw("INSERT INTO m VALUES (1)")
            .execute(&db)
            .await
            .unwrap_or_else(|e| panic!("round {i}: insert: {e}"));
        db.close().await;
    }
}

/// `after_connect` statements and the `on_connect` hook run on every new connection of
/// every pool (writer and read-only twin), after Grant's own session settings.
async fn connect_hooks(e: &Engine) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let (setting, probe): (&str, &'static str) = match e.backend {
        Backend::Postgres => (
            "SET application_name = 'grant-hook'",
            "SELECT current_setting('application_name') AS v",
        ),
        Backend::MySql => (
            "SET SESSION sql_mode = 'ANSI_QUOTES'",
            "SELECT @@session.sql_mode AS v",
        ),
        Backend::Sqlite => ("PRAGMA cache_size = -1234", "PRAGMA cache_size"),
    };
    let config = DatabaseConfig::new(&e.url)
        .after_connect(setting)
        .on_connect(move |conn| {
            let seen = seen.clone();
            Box::pin(async move {
                use sqlx::Executor as _;
                seen.fetch_add(1, Ordering::SeqCst);
                match conn {
                    HookConnection::Postgres(c) => {
                        c.execute("SET search_path TO public").await?;
                    }
                    HookConnection::MySql(c) => {
                        c.execute("SET @grant_hook = 1").await?;
                    }
                    HookConnection::Sqlite(c) => {
                        c.execute("PRAGMA temp_store = MEMORY").await?;
                    }
                    _ => {}
                }
                Ok(())
            })
        });
    let db = grant(config);
    if e.backend == Backend::Sqlite {
        raw("CREATE TABLE IF NOT EXISTS hook (x INTEGER)")
            .execute(&db)
            .await
            .unwrap();
    }
    for role in [Role::Writing, Role::Reading] {
        let rows = connected_to(role.clone(), raw(probe).fetch_all(&db))
            .await
            .unwrap();
        let row = &rows[0];
        let v = row
            .get::<String>(row.columns()[0])
            .or_else(|_| row.get::<i64>(row.columns()[0]).map(|n| n.to_string()))
            .unwrap();
        let expected = match e.backend {
            Backend::Postgres => "grant-hook",
            Backend::MySql => "ANSI_QUOTES",
            Backend::Sqlite => "-1234",
        };
        assert_eq!(v, expected, "{role}");
    }
    assert!(
        calls.load(Ordering::SeqCst) >= 2,
        "the hook ran for both pools"
    );
    db.close().await;

    // A failing hook fails the connection with a typed error.
    let bad = grant(DatabaseConfig::new(&e.url).after_connect("THIS IS NOT SQL"));
    let err = connected_to(Role::Writing, raw("SELECT 1").fetch_all(&bad))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    bad.close().await;
}
on_every_engine!(connect_hooks);

/// The server is told the statement timeout too, where that is cheap.
async fn server_side_statement_timeout(e: &Engine) {
    let db =
        grant(DatabaseConfig::new(&e.url).statement_timeout(Some(Duration::from_millis(1500))));
    match e.backend {
        Backend::Postgres => {
            assert_eq!(text(&db, "SHOW statement_timeout").await, "1500ms");
        }
        Backend::MySql => {
            assert_eq!(
                text(&db, "SELECT @@session.max_statement_time AS v").await,
                "1.5"
            );
        }
        Backend::Sqlite => {}
    }
    let off = grant(DatabaseConfig::new(&e.url).statement_timeout(None));
    if e.backend == Backend::Postgres {
        assert_eq!(text(&off, "SHOW statement_timeout").await, "0");
    }
    db.close().await;
    off.close().await;
}
on_every_engine!(server_side_statement_timeout);

/// More values than the engine binds in one statement: a typed error naming the limit,
/// and nothing is sent.
async fn bind_limit(e: &Engine) {
    let db = e.grant();
    connected_to(Role::Writing, async {
        e.reset_table(
            &db,
            "session_items",
            "CREATE TABLE session_items (id {pk}, n {i64} NOT NULL)",
        )
        .await;
    })
    .await;
    let limit = e.backend.max_bind_params();
    let values: Vec<i64> = (0..(limit as i64 + 10)).collect();
    let err = Item::query()
        .filter(Item::N.is_in(values.clone()))
        .all(&db)
        .await
        .unwrap_err();
    match &err {
        Error::TooManyParameters {
            backend,
            count,
            limit: l,
        } => {
            assert_eq!(*backend, e.backend);
            assert_eq!(*count, limit + 10);
            assert_eq!(*l, limit);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&limit.to_string()), "{err}");
    let err = Item::query()
        .filter(Item::N.is_in(values))
        .delete_all(&db)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooManyParameters { .. }), "{err:?}");
    // At the limit it runs.
    let values: Vec<i64> = (0..limit as i64).collect();
    let n = Item::query()
        .filter(Item::N.is_in(values))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(n, 0);
    db.close().await;
}
on_every_engine!(bind_limit);
