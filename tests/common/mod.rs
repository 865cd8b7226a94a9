//! Shared test support: the engines under test, their URLs, and DDL per dialect.
#![allow(dead_code)]

pub mod matrix;
pub mod proxy;
pub mod replication;
pub mod shards;

use grant::{Backend, Config, DatabaseConfig, Grant};

/// One engine under test.
pub struct Engine {
    pub backend: Backend,
    pub url: String,
    pub replica_url: Option<String>,
}

/// A handle whose only database, `primary`, is `config`.
pub fn primary(config: DatabaseConfig) -> Grant {
    Grant::from_config(
        Config::builder()
            .database("primary", config)
            .build()
            .unwrap(),
    )
    .unwrap()
}

static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh SQLite file in the temp dir.
pub fn sqlite_file(tag: &str) -> String {
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("grant-test-{tag}-{}-{n}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    format!("sqlite://{}", path.display())
}

impl Engine {
    /// SQLite on a fresh file; its "replica" is the same file opened read-only.
    pub fn sqlite(tag: &str) -> Engine {
        let url = sqlite_file(tag);
        Engine {
            backend: Backend::Sqlite,
            replica_url: Some(url.clone()),
            url,
        }
    }

    /// PostgreSQL from `GRANT_TEST_POSTGRES_URL` (replica: `GRANT_TEST_POSTGRES_REPLICA_URL`).
    pub fn postgres() -> Option<Engine> {
        from_env(
            Backend::Postgres,
            "GRANT_TEST_POSTGRES_URL",
            "GRANT_TEST_POSTGRES_REPLICA_URL",
        )
    }

    /// MariaDB from `GRANT_TEST_MARIADB_URL` (replica: `GRANT_TEST_MARIADB_REPLICA_URL`).
    pub fn mariadb() -> Option<Engine> {
        from_env(
            Backend::MySql,
            "GRANT_TEST_MARIADB_URL",
            "GRANT_TEST_MARIADB_REPLICA_URL",
        )
    }

    /// A handle with one database `primary` (no replicas).
    pub fn grant(&self) -> Grant {
        primary(DatabaseConfig::new(&self.url))
    }

    /// Dialect-specific DDL: `{pk}` an auto-increment key, `{text}`, `{ts}` a UTC timestamp,
    /// `{naive_ts}`, `{date}`, `{bool}`, `{i16}`, `{i32}`, `{i64}`, `{f32}`, `{f64}`,
    /// `{bytes}`, `{uuid}`, `{json}`.
    pub fn ddl(&self, sql: &str) -> String {
        let map: &[(&str, &str)] = match self.backend {
            Backend::Sqlite => &[
                ("{pk}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
                ("{text}", "TEXT"),
                ("{ts}", "TEXT"),
                ("{naive_ts}", "TEXT"),
                ("{date}", "TEXT"),
                ("{bool}", "BOOLEAN"),
                ("{i16}", "INTEGER"),
                ("{i32}", "INTEGER"),
                ("{i64}", "INTEGER"),
                ("{f32}", "REAL"),
                ("{f64}", "REAL"),
                ("{bytes}", "BLOB"),
                ("{uuid}", "BLOB"),
                ("{json}", "TEXT"),
            ],
            Backend::Postgres => &[
                ("{pk}", "BIGSERIAL PRIMARY KEY"),
                ("{text}", "TEXT"),
                ("{ts}", "TIMESTAMPTZ"),
                ("{naive_ts}", "TIMESTAMP"),
                ("{date}", "DATE"),
                ("{bool}", "BOOLEAN"),
                ("{i16}", "SMALLINT"),
                ("{i32}", "INTEGER"),
                ("{i64}", "BIGINT"),
                ("{f32}", "REAL"),
                ("{f64}", "DOUBLE PRECISION"),
                ("{bytes}", "BYTEA"),
                ("{uuid}", "UUID"),
                ("{json}", "JSONB"),
            ],
            Backend::MySql => &[
                ("{pk}", "BIGINT AUTO_INCREMENT PRIMARY KEY"),
                ("{text}", "VARCHAR(255)"),
                ("{ts}", "TIMESTAMP(6) NULL"),
                ("{naive_ts}", "DATETIME(6)"),
                ("{date}", "DATE"),
                ("{bool}", "BOOLEAN"),
                ("{i16}", "SMALLINT"),
                ("{i32}", "INT"),
                ("{i64}", "BIGINT"),
                ("{f32}", "FLOAT"),
                ("{f64}", "DOUBLE"),
                ("{bytes}", "BLOB"),
                ("{uuid}", "BINARY(16)"),
                ("{json}", "JSON"),
            ],
        };
        let mut out = sql.to_string();
        for (k, v) in map {
            out = out.replace(k, v);
        }
        out
    }

    /// Drop (if present) and create a table.
    pub async fn reset_table(&self, db: &Grant, table: &str, create: &str) {
        grant::raw(grant::AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS {table}"
        )))
        .execute(db)
        .await
        .unwrap();
        grant::raw(grant::AssertSqlSafe(self.ddl(create)))
            .execute(db)
            .await
            .unwrap();
    }

    /// Placeholder number `n` (from 1) in this dialect.
    pub fn ph(&self, n: usize) -> String {
        match self.backend {
            Backend::Postgres => format!("${n}"),
            _ => "?".to_string(),
        }
    }
}

fn from_env(backend: Backend, var: &str, replica_var: &str) -> Option<Engine> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(Engine {
            backend,
            url,
            replica_url: std::env::var(replica_var).ok().filter(|u| !u.is_empty()),
        }),
        _ => {
            skip_note(var);
            None
        }
    }
}

/// Server tests of one test binary share tables: they take this lock to run one at a time.
/// (SQLite tests use a file each and need no lock.)
pub static SERVER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Run `$body` (an async fn taking `&Engine`) on SQLite, PostgreSQL and MariaDB, as three tests.
#[macro_export]
macro_rules! on_every_engine {
    ($body:ident) => {
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(&$crate::common::Engine::sqlite(stringify!($body))).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(e) = $crate::common::Engine::postgres() {
                    let _serial = $crate::common::SERVER_LOCK.lock().await;
                    super::$body(&e).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                if let Some(e) = $crate::common::Engine::mariadb() {
                    let _serial = $crate::common::SERVER_LOCK.lock().await;
                    super::$body(&e).await;
                }
            }
        }
    };
}

/// Say once per test binary, past the test harness's output capture, that a suite skipped.
fn skip_note(var: &str) {
    use std::io::Write;
    use std::sync::Mutex;
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if said.iter().any(|v| v == var) {
        return;
    }
    said.push(var.to_string());
    let binary = std::env::args().next().unwrap_or_default();
    let binary = binary.rsplit('/').next().unwrap_or_default().to_string();
    let _ = writeln!(
        std::io::stderr(),
        "skipped: the {} tests of {binary}: {var} is not set (run `eval \"$(bash scripts/db-up.sh)\"` first)",
        if var.contains("POSTGRES") { "PostgreSQL" } else { "MariaDB" },
    );
}

/// Run `sql` straight on a connection of `slot`'s sqlx pool, bypassing Grant's routing and
/// classification (to test what the server itself enforces on a session).
pub async fn direct_execute(slot: &grant::PoolSlot, sql: &str) -> Result<u64, sqlx::Error> {
    use sqlx::Executor as _;
    Ok(match slot.pool() {
        grant::Pool::Postgres(p) => p.execute(sql).await?.rows_affected(),
        grant::Pool::MySql(p) => p.execute(sql).await?.rows_affected(),
        grant::Pool::Sqlite(p) => p.execute(sql).await?.rows_affected(),
    })
}
