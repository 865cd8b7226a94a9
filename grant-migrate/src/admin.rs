//! Creating and dropping the databases of the config: each database's own URL and every
//! shard database; never a replica, a `replica_of` entry or a read-only database.

use std::str::FromStr;
use std::time::Duration;

use grant_core::Backend;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use crate::error::{MigrateError, Result};
use crate::target::{sqlite_file, Target};
use crate::Migrator;

/// How long connecting to a server to create or drop a database may take.
const ADMIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What [`Migrator::create_databases`] or [`Migrator::drop_databases`] did to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseAction {
    /// The database entry of the config.
    pub database: String,
    /// The shard; `None` for the database's own URL.
    pub shard: Option<String>,
    /// The engine.
    pub backend: Backend,
    /// The server's database name, or the SQLite file.
    pub name: String,
    /// What happened.
    pub change: DatabaseChange,
}

/// What happened to one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseChange {
    /// It was created.
    Created,
    /// It existed already; nothing was done.
    AlreadyExists,
    /// It was dropped.
    Dropped,
    /// It did not exist; nothing was done.
    Absent,
    /// An in-memory SQLite database: there is nothing to create or drop.
    InMemory,
}

impl std::fmt::Display for DatabaseChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DatabaseChange::Created => "created",
            DatabaseChange::AlreadyExists => "already exists",
            DatabaseChange::Dropped => "dropped",
            DatabaseChange::Absent => "does not exist",
            DatabaseChange::InMemory => "in memory (nothing to do)",
        })
    }
}

/// The targets create and drop work on: writers of databases that are not read-only.
fn admin_targets(m: &Migrator, database: Option<&str>) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for name in m.database_names(database)? {
        let entry = m.entry(&name)?;
        if entry.readonly() || entry.config().replica_of.is_some() {
            tracing::info!(database = %name, "grant-migrate: read-only or replica_of: not created or dropped");
            continue;
        }
        let (targets, _) = m.select(&entry, database.is_some())?;
        out.extend(targets);
    }
    // Several entries may point at one database: each is created or dropped once.
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.url.clone()));
    Ok(out)
}

fn admin_err(t: &Target, action: &str, message: impl std::fmt::Display) -> MigrateError {
    MigrateError::Admin {
        database: t.database.to_string(),
        shard: t.shard_name(),
        action: action.to_string(),
        message: message.to_string(),
    }
}

/// `"name"` with inner quotes doubled (identifiers cannot be bound).
fn quote_pg(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `` `name` `` with inner backticks doubled (identifiers cannot be bound).
fn quote_my(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `url` split at its database path: everything before it, and the query string.
fn split_database(url: &str) -> (&str, Option<&str>) {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    (&base[..end], query)
}

/// `url` without its database path (keeps the query string).
fn without_database(url: &str) -> String {
    match split_database(url) {
        (server, Some(q)) => format!("{server}?{q}"),
        (server, None) => server.to_string(),
    }
}

/// `url` with its database name replaced by `name` (keeps the query string).
/// For the benchmarks and tests, which make databases of their own.
#[doc(hidden)]
pub fn url_with_database(url: &str, name: &str) -> String {
    match split_database(url) {
        (server, Some(q)) => format!("{server}/{name}?{q}"),
        (server, None) => format!("{server}/{name}"),
    }
}

async fn timed<T>(
    t: &Target,
    action: &str,
    fut: impl std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
) -> Result<T> {
    match tokio::time::timeout(ADMIN_CONNECT_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(admin_err(t, action, e)),
        Err(_) => Err(admin_err(
            t,
            action,
            format!("no answer within {ADMIN_CONNECT_TIMEOUT:?}"),
        )),
    }
}

/// Which database a server target names, and a connection to its server's maintenance
/// database.
enum Server {
    Pg(PgConnection),
    My(MySqlConnection),
}

impl Server {
    /// Run one administrative statement, given in each dialect (names quoted by the caller).
    async fn execute(&mut self, pg: String, my: String) -> std::result::Result<(), sqlx::Error> {
        match self {
            Server::Pg(c) => sqlx::Executor::execute(&mut *c, pg.as_str())
                .await
                .map(drop),
            Server::My(c) => sqlx::Executor::execute(&mut *c, my.as_str())
                .await
                .map(drop),
        }
    }
}

async fn server(t: &Target, action: &str) -> Result<(Server, String)> {
    match t.backend {
        Backend::Postgres => {
            let opts = PgConnectOptions::from_str(&t.url).map_err(|e| admin_err(t, action, e))?;
            let name = opts
                .get_database()
                .map(str::to_string)
                .ok_or_else(|| admin_err(t, action, "the URL names no database"))?;
            let admin = opts.database("postgres").disable_statement_logging();
            let conn = timed(t, action, PgConnection::connect_with(&admin)).await?;
            Ok((Server::Pg(conn), name))
        }
        Backend::MySql => {
            let opts =
                MySqlConnectOptions::from_str(&t.url).map_err(|e| admin_err(t, action, e))?;
            let name = opts
                .get_database()
                .map(str::to_string)
                .ok_or_else(|| admin_err(t, action, "the URL names no database"))?;
            let admin = MySqlConnectOptions::from_str(&without_database(&t.url))
                .map_err(|e| admin_err(t, action, e))?
                .disable_statement_logging();
            let conn = timed(t, action, MySqlConnection::connect_with(&admin)).await?;
            Ok((Server::My(conn), name))
        }
        Backend::Sqlite => Err(admin_err(t, action, "not a server database")),
    }
}

async fn exists(t: &Target, conn: &mut Server, name: &str, action: &str) -> Result<bool> {
    let n: i64 = match conn {
        Server::Pg(c) => {
            timed(
                t,
                action,
                sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                    .bind(name)
                    .fetch_one(&mut *c),
            )
            .await?
        }
        Server::My(c) => {
            timed(
                t,
                action,
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
                )
                .bind(name)
                .fetch_one(&mut *c),
            )
            .await?
        }
    };
    Ok(n > 0)
}

/// What was done, or found, for target `t`'s database `name`.
fn done(t: &Target, name: String, change: DatabaseChange) -> DatabaseAction {
    DatabaseAction {
        database: t.database.to_string(),
        shard: t.shard_name(),
        backend: t.backend,
        name,
        change,
    }
}

async fn create_one(t: &Target) -> Result<DatabaseAction> {
    let action = "create the database";
    if t.backend == Backend::Sqlite {
        let Some(path) = sqlite_file(&t.url) else {
            return Ok(done(t, ":memory:".into(), DatabaseChange::InMemory));
        };
        let shown = path.display().to_string();
        if path.exists() {
            return Ok(done(t, shown, DatabaseChange::AlreadyExists));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| admin_err(t, action, format!("{}: {e}", parent.display())))?;
        }
        // An empty file is an empty SQLite database.
        return match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => Ok(done(t, shown, DatabaseChange::Created)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok(done(t, shown, DatabaseChange::AlreadyExists))
            }
            Err(e) => Err(admin_err(t, action, format!("{shown}: {e}"))),
        };
    }
    let (mut conn, name) = server(t, action).await?;
    if exists(t, &mut conn, &name, action).await? {
        return Ok(done(t, name, DatabaseChange::AlreadyExists));
    }
    let outcome = conn
        .execute(
            format!("CREATE DATABASE {}", quote_pg(&name)),
            format!("CREATE DATABASE IF NOT EXISTS {}", quote_my(&name)),
        )
        .await;
    match outcome {
        Ok(()) => Ok(done(t, name, DatabaseChange::Created)),
        // Another runner created it between the check and here.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {
            Ok(done(t, name, DatabaseChange::AlreadyExists))
        }
        Err(e) => Err(admin_err(t, action, e)),
    }
}

async fn drop_one(t: &Target) -> Result<DatabaseAction> {
    let action = "drop the database";
    // Our own connections to it would keep it open.
    if let Some(pool) = t.writer.created() {
        pool.close().await;
    }
    if t.backend == Backend::Sqlite {
        let Some(path) = sqlite_file(&t.url) else {
            return Ok(done(t, ":memory:".into(), DatabaseChange::InMemory));
        };
        let shown = path.display().to_string();
        if !path.exists() {
            return Ok(done(t, shown, DatabaseChange::Absent));
        }
        std::fs::remove_file(&path).map_err(|e| admin_err(t, action, format!("{shown}: {e}")))?;
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut extra = path.clone().into_os_string();
            extra.push(suffix);
            let _ = std::fs::remove_file(extra);
        }
        return Ok(done(t, shown, DatabaseChange::Dropped));
    }
    let (mut conn, name) = server(t, action).await?;
    if !exists(t, &mut conn, &name, action).await? {
        return Ok(done(t, name, DatabaseChange::Absent));
    }
    let outcome = conn
        .execute(
            format!("DROP DATABASE IF EXISTS {}", quote_pg(&name)),
            format!("DROP DATABASE IF EXISTS {}", quote_my(&name)),
        )
        .await;
    outcome.map_err(|e| admin_err(t, action, e))?;
    Ok(done(t, name, DatabaseChange::Dropped))
}

pub(crate) async fn create_all(
    m: &Migrator,
    database: Option<&str>,
) -> Result<Vec<DatabaseAction>> {
    let mut out = Vec::new();
    for t in admin_targets(m, database)? {
        out.push(logged(create_one(&t).await?));
    }
    Ok(out)
}

pub(crate) async fn drop_all(m: &Migrator, database: Option<&str>) -> Result<Vec<DatabaseAction>> {
    let mut out = Vec::new();
    for t in admin_targets(m, database)? {
        out.push(logged(drop_one(&t).await?));
    }
    Ok(out)
}

fn logged(a: DatabaseAction) -> DatabaseAction {
    tracing::info!(database = %a.database, shard = a.shard.as_deref(), name = %a.name, "grant-migrate: {}", a.change);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_quoting() {
        assert_eq!(
            without_database("mysql://u@h:3306/db?ssl-mode=disabled"),
            "mysql://u@h:3306?ssl-mode=disabled"
        );
        assert_eq!(without_database("mysql://u@h/db"), "mysql://u@h");
        assert_eq!(
            url_with_database("mysql://u@h/db?x=1", "y"),
            "mysql://u@h/y?x=1"
        );
        assert_eq!(quote_pg("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_my("a`b"), "`a``b`");
    }
}
