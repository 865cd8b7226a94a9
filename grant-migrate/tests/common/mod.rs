//! Helpers shared by the migration tests (`migrate_*.rs`): temp folders, migration files,
//! a `Grant` built from database entries, and the tables of a SQLite target.

// Not every test binary uses every helper.
#![allow(dead_code)]

pub mod cli;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use grant_core::config::{Config, DatabaseConfig};
use grant_core::{connection, raw, Grant, Role};

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{tag}_{}_{}_{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh folder in the temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("grant-migrate-{}", unique(tag)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A subfolder (created).
    pub fn sub(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// `sqlite://` URL of a file in this folder.
    pub fn sqlite(&self, name: &str) -> String {
        format!("sqlite://{}", self.0.join(name).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn write(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, sql).unwrap();
    p
}

/// `0001_create_users` and `0002_add_posts` in `dir`, each with its down file.
pub fn write_users_and_posts(dir: &Path) {
    write(dir, "0001_create_users.sql", CREATE_USERS);
    write(dir, "0001_create_users.down.sql", CREATE_USERS_DOWN);
    write(dir, "0002_add_posts.sql", ADD_POSTS);
    write(dir, "0002_add_posts.down.sql", ADD_POSTS_DOWN);
}

pub fn grant_of(databases: Vec<(&str, DatabaseConfig)>) -> Grant {
    let mut builder = Config::builder().environment("test");
    for (name, db) in databases {
        builder = builder.database(name, db);
    }
    Grant::from_config(builder.build().unwrap()).unwrap()
}

/// Names of the tables of the SQLite target (database, shard).
pub async fn sqlite_tables(grant: &Grant, database: &str, shard: Option<&str>) -> Vec<String> {
    let q = raw("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").on(database);
    let mut scope = connection().role(Role::Writing);
    if let Some(shard) = shard {
        scope = scope.shard(shard);
    }
    scope
        .run(q.fetch_all(grant))
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String>("name").unwrap())
        .collect()
}

pub const CREATE_USERS: &str =
    "-- users\nCREATE TABLE users (\n  id BIGINT PRIMARY KEY,\n  name VARCHAR(100) NOT NULL\n);\n";
pub const CREATE_USERS_DOWN: &str = "DROP TABLE users;\n";
pub const ADD_POSTS: &str = "CREATE TABLE posts (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL);\nCREATE INDEX posts_user ON posts (user_id);\nINSERT INTO users (id, name) VALUES (1, 'it''s; me');\n";
pub const ADD_POSTS_DOWN: &str = "DROP TABLE posts;\nDELETE FROM users WHERE id = 1;\n";

/// Run one statement on the server database of `url` (PostgreSQL or MariaDB) through
/// sqlx directly: for test set-up and checks whose text is built at runtime.
pub async fn server_exec(url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        c.execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.close().await.unwrap();
    } else {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        c.execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.close().await.unwrap();
    }
}

/// `SELECT COUNT(*) ...` (or any single integer) on the server database of `url`.
pub async fn server_count(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
        c.close().await.unwrap();
        n
    } else {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
        c.close().await.unwrap();
        n
    }
}
