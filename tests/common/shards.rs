//! Where sharding tests put their shards: three SQLite files, or three databases of the
//! server under test (`grant_shard_1`, `grant_shard_2`, `grant_test`), plus a fourth as the
//! one-database reference (`grant_single`, created here when missing).
#![allow(dead_code)]

use grant::{raw, Backend, DatabaseConfig};

use super::Engine;

/// The URL of database `name` on the server of `base` (its query string kept).
pub fn on_database(base: &str, name: &str) -> String {
    let (head, tail) = base.split_once('?').map_or((base, ""), |(h, t)| (h, t));
    let cut = head.rfind('/').expect("a database in the URL");
    let query = if tail.is_empty() {
        String::new()
    } else {
        format!("?{tail}")
    };
    format!("{}/{name}{query}", &head[..cut])
}

/// (three shard URLs, the reference database's URL) for `engine`; SQLite files are new.
pub async fn urls(engine: &Engine, tag: &str) -> ([String; 3], String) {
    if engine.backend == Backend::Sqlite {
        return (
            [
                super::sqlite_file(&format!("{tag}-s0")),
                super::sqlite_file(&format!("{tag}-s1")),
                super::sqlite_file(&format!("{tag}-s2")),
            ],
            super::sqlite_file(&format!("{tag}-single")),
        );
    }
    let admin = super::primary(DatabaseConfig::new(&engine.url));
    let exists = engine.backend == Backend::Postgres
        && raw("SELECT 1 FROM pg_database WHERE datname = 'grant_single'")
            .fetch_optional(&admin)
            .await
            .unwrap()
            .is_some();
    if !exists {
        let sql = match engine.backend {
            Backend::Postgres => "CREATE DATABASE grant_single",
            _ => "CREATE DATABASE IF NOT EXISTS grant_single",
        };
        // Two test binaries may race to create it: "already exists" is fine.
        if let Err(e) = raw(sql).execute(&admin).await {
            assert!(e.to_string().contains("exists"), "{e}");
        }
    }
    admin.close().await;
    (
        [
            on_database(&engine.url, "grant_shard_1"),
            on_database(&engine.url, "grant_shard_2"),
            on_database(&engine.url, "grant_test"),
        ],
        on_database(&engine.url, "grant_single"),
    )
}
