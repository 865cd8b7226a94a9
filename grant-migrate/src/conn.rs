//! One connection to one target, held for a whole run: the run's lock, the bookkeeping
//! table `grant_migrations` and the statements of migration files all go through it.
//!
//! The connection is taken from the target's writer pool (grant-core's concrete sqlx
//! pools), so everything a run does happens in one database session:
//!
//! * **PostgreSQL**: a session-level `pg_advisory_lock` (polled with
//!   `pg_try_advisory_lock`); advisory locks are per database, so shard databases on one
//!   server do not wait for each other.
//! * **MariaDB/MySQL**: `GET_LOCK` on a name derived from `DATABASE()` (locks are
//!   server-wide, so the name carries the database).
//! * **SQLite**: `BEGIN IMMEDIATE`, held for the whole run (the write lock of the file);
//!   each migration is a savepoint inside it.
//!
//! The statements on `grant_migrations` are in [`crate::bookkeeping`].

use std::borrow::Cow;
use std::time::{Duration, Instant};

use grant_core::{Backend, Pool, PoolSlot};
use sqlx::pool::PoolConnection;
use sqlx::{Database, MySql, Postgres, Row as _, Sqlite, TransactionManager};

use crate::source::checksum;
use crate::MIGRATIONS_TABLE;

/// How often a runner that waits for a lock asks again.
const LOCK_POLL: Duration = Duration::from_millis(50);

/// The PostgreSQL advisory lock key of grant-migrate: FNV-1a 64 of `grant_migrations`
/// (the value [`checksum`] shows in hex), as a signed 64-bit integer.
pub(crate) fn pg_lock_key() -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = MIGRATIONS_TABLE
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    hash as i64
}

/// A connection of one engine.
pub(crate) enum Conn {
    Pg(PoolConnection<Postgres>),
    My(PoolConnection<MySql>),
    Lite(PoolConnection<Sqlite>),
}

/// Run `$body` with `$c` bound to the engine's connection; the body is written once and
/// compiled per engine.
macro_rules! on_conn {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            Conn::Pg($c) => $body,
            Conn::My($c) => $body,
            Conn::Lite($c) => $body,
        }
    };
}
pub(crate) use on_conn;

/// A value bound to a bookkeeping statement.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    Bool(bool),
    OptInt(Option<i64>),
    OptText(Option<&'a str>),
}

/// Why a lock was not taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Another runner still held it when the timeout passed.
    Timeout,
    /// The database refused.
    Db(sqlx::Error),
}

impl From<sqlx::Error> for LockError {
    fn from(e: sqlx::Error) -> Self {
        LockError::Db(e)
    }
}

impl Conn {
    /// One connection of `slot`'s pool (bounded by the pool's acquire timeout).
    pub async fn acquire(slot: &PoolSlot) -> Result<Conn, sqlx::Error> {
        Ok(match slot.pool() {
            Pool::Postgres(p) => Conn::Pg(p.acquire().await?),
            Pool::MySql(p) => Conn::My(p.acquire().await?),
            Pool::Sqlite(p) => Conn::Lite(p.acquire().await?),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Conn::Pg(_) => Backend::Postgres,
            Conn::My(_) => Backend::MySql,
            Conn::Lite(_) => Backend::Sqlite,
        }
    }

    /// `$n` on PostgreSQL, `?` elsewhere.
    pub fn ph(&self, n: usize) -> String {
        match self {
            Conn::Pg(_) => format!("${n}"),
            _ => "?".to_string(),
        }
    }

    /// Run one statement of a migration file, unprepared (no bound values: the engine's
    /// simple / text protocol, which accepts every statement a file may hold).
    pub fn execute_raw<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            on_conn!(self, c => Ok(sqlx::Executor::execute(&mut **c, sql).await?.rows_affected()))
        })
    }

    /// Run a bookkeeping statement with bound values.
    ///
    /// Boxed as `Send` with named lifetimes: the compiler cannot prove the future `Send`
    /// through the callers' `tokio::spawn` otherwise.
    pub fn execute<'a>(
        &'a mut self,
        sql: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            on_conn!(self, c => {
                let mut q = sqlx::query(sql);
                for a in args {
                    q = bind(q, a);
                }
                Ok(q.execute(&mut **c).await?.rows_affected())
            })
        })
    }

    /// The first column of the first row, as an integer (`None` for no row or NULL).
    pub fn scalar_i64<'a>(
        &'a mut self,
        sql: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<Option<i64>, sqlx::Error>> {
        Box::pin(async move {
            on_conn!(self, c => {
                let mut q = sqlx::query(sql);
                for a in args {
                    q = bind(q, a);
                }
                match q.fetch_optional(&mut **c).await? {
                    Some(row) => row.try_get::<Option<i64>, _>(0),
                    None => Ok(None),
                }
            })
        })
    }

    /// Rows of text columns (NULL as `None`), for schema reading.
    pub fn text_rows<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Vec<Option<String>>>, sqlx::Error>> {
        Box::pin(async move {
            on_conn!(self, c => {
                let rows = sqlx::query(sql).fetch_all(&mut **c).await?;
                rows.iter()
                    .map(|row| (0..row.len()).map(|i| row.try_get::<Option<String>, _>(i)).collect())
                    .collect()
            })
        })
    }

    /// Begin a transaction, or a savepoint inside the open one.
    pub fn begin<'a>(
        &'a mut self,
        statement: Option<&'static str>,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let statement = statement.map(Cow::Borrowed);
            match self {
                Conn::Pg(c) => {
                    <Postgres as Database>::TransactionManager::begin(c, statement).await
                }
                Conn::My(c) => <MySql as Database>::TransactionManager::begin(c, statement).await,
                Conn::Lite(c) => {
                    <Sqlite as Database>::TransactionManager::begin(c, statement).await
                }
            }
        })
    }

    /// Commit the innermost transaction (or release the innermost savepoint).
    pub fn commit<'a>(&'a mut self) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match self {
                Conn::Pg(c) => <Postgres as Database>::TransactionManager::commit(c).await,
                Conn::My(c) => <MySql as Database>::TransactionManager::commit(c).await,
                Conn::Lite(c) => <Sqlite as Database>::TransactionManager::commit(c).await,
            }
        })
    }

    /// Roll back the innermost transaction (or to the innermost savepoint).
    pub fn rollback<'a>(&'a mut self) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match self {
                Conn::Pg(c) => <Postgres as Database>::TransactionManager::rollback(c).await,
                Conn::My(c) => <MySql as Database>::TransactionManager::rollback(c).await,
                Conn::Lite(c) => <Sqlite as Database>::TransactionManager::rollback(c).await,
            }
        })
    }

    /// How many transactions / savepoints are open.
    pub fn depth(&self) -> usize {
        match self {
            Conn::Pg(c) => <Postgres as Database>::TransactionManager::get_transaction_depth(c),
            Conn::My(c) => <MySql as Database>::TransactionManager::get_transaction_depth(c),
            Conn::Lite(c) => <Sqlite as Database>::TransactionManager::get_transaction_depth(c),
        }
    }

    /// The MariaDB lock name of the connection's database.
    fn mysql_lock_name<'a>(&'a mut self) -> BoxFuture<'a, Result<String, sqlx::Error>> {
        Box::pin(async move {
            let Conn::My(c) = self else {
                return Ok(String::new());
            };
            let db: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
                .fetch_one(&mut **c)
                .await?;
            // GET_LOCK names are server-wide and at most 64 characters on MySQL: hash the name.
            Ok(format!(
                "grant_migrate.{}",
                checksum(db.unwrap_or_default().as_bytes())
            ))
        })
    }

    /// Whether another session holds the migration lock of this database now (a runner
    /// is at work). Always `false` on SQLite, where only taking the lock would tell.
    pub fn lock_held<'a>(&'a mut self) -> BoxFuture<'a, Result<bool, sqlx::Error>> {
        Box::pin(async move {
            match self {
                Conn::Pg(_) => {
                    // A bigint advisory key shows in pg_locks as classid (high 32 bits),
                    // objid (low 32 bits) and objsubid 1.
                    let key = pg_lock_key() as u64;
                    let sql = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
                               AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                               AND classid::text::bigint = $1 AND objid::text::bigint = $2 AND objsubid = 1";
                    let args = [
                        Arg::Int((key >> 32) as i64),
                        Arg::Int((key & 0xffff_ffff) as i64),
                    ];
                    Ok(self.scalar_i64(sql, &args).await?.unwrap_or(0) > 0)
                }
                Conn::My(_) => {
                    let name = self.mysql_lock_name().await?;
                    let holder = self
                        .scalar_i64(
                            "SELECT CAST(IS_USED_LOCK(?) AS SIGNED)",
                            &[Arg::Text(&name)],
                        )
                        .await?;
                    Ok(holder.is_some())
                }
                Conn::Lite(_) => Ok(false),
            }
        })
    }

    /// Take the run's lock, waiting up to `timeout` for another runner to let it go.
    pub fn lock<'a>(&'a mut self, timeout: Duration) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(async move {
            let deadline = Instant::now() + timeout;
            match self {
                Conn::Pg(_) => loop {
                    let sql = "SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1::BIGINT ELSE 0::BIGINT END";
                    if self.scalar_i64(sql, &[Arg::Int(pg_lock_key())]).await? == Some(1) {
                        return Ok(());
                    }
                    wait_or_timeout(deadline).await?;
                },
                Conn::My(_) => {
                    let name = self.mysql_lock_name().await?;
                    loop {
                        let got = self
                            .scalar_i64("SELECT GET_LOCK(?, 0)", &[Arg::Text(&name)])
                            .await?;
                        if got == Some(1) {
                            return Ok(());
                        }
                        wait_or_timeout(deadline).await?;
                    }
                }
                Conn::Lite(_) => {
                    // Poll `BEGIN IMMEDIATE` with a short busy timeout, then restore the
                    // connection's own busy timeout for the run's statements.
                    let before = self
                        .scalar_i64("PRAGMA busy_timeout", &[])
                        .await?
                        .unwrap_or(5000);
                    self.execute_raw("PRAGMA busy_timeout = 20").await?;
                    let outcome = loop {
                        match self.begin(Some("BEGIN IMMEDIATE")).await {
                            Ok(()) => break Ok(()),
                            Err(e) if is_sqlite_busy(&e) => {
                                if let Err(timeout) = wait_or_timeout(deadline).await {
                                    break Err(timeout);
                                }
                            }
                            Err(e) => break Err(LockError::Db(e)),
                        }
                    };
                    self.execute_raw(&format!("PRAGMA busy_timeout = {before}"))
                        .await?;
                    outcome
                }
            }
        })
    }

    /// Let the run's lock go (SQLite: commit the run's transaction). Any transaction still
    /// open above it is rolled back first.
    pub fn unlock<'a>(&'a mut self) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            match self {
                Conn::Lite(_) => {
                    while self.depth() > 1 {
                        self.rollback().await?;
                    }
                    if self.depth() == 1 {
                        self.commit().await?;
                    }
                    Ok(())
                }
                _ => {
                    while self.depth() > 0 {
                        self.rollback().await?;
                    }
                    if let Conn::Pg(_) = self {
                        self.execute("SELECT pg_advisory_unlock($1)", &[Arg::Int(pg_lock_key())])
                            .await?;
                    } else {
                        let name = self.mysql_lock_name().await?;
                        self.execute("SELECT RELEASE_LOCK(?)", &[Arg::Text(&name)])
                            .await?;
                    }
                    Ok(())
                }
            }
        })
    }

    /// Replace the session's server-side statement timeout for a run (`None`: no limit):
    /// PostgreSQL `statement_timeout`, MariaDB `max_statement_time`; nothing on SQLite
    /// (and on MySQL, which has no such variable). Returns the statement that puts the
    /// pool's setting back, to run before the connection goes back to the pool.
    pub fn override_statement_timeout<'a>(
        &'a mut self,
        timeout: Option<Duration>,
    ) -> BoxFuture<'a, Result<Option<String>, sqlx::Error>> {
        Box::pin(async move {
            match self {
                Conn::Pg(_) => {
                    let ms = timeout.map_or(0, |t| t.as_millis().clamp(1, i32::MAX as u128));
                    self.execute_raw(&format!("SET statement_timeout = {ms}"))
                        .await?;
                    // RESET goes back to the value the pool's connections start with.
                    Ok(Some("RESET statement_timeout".to_string()))
                }
                Conn::My(_) => {
                    let before = self
                        .text_rows("SELECT CAST(@@SESSION.max_statement_time AS CHAR)")
                        .await;
                    let Ok(before) = before else {
                        return Ok(None); // MySQL: no max_statement_time
                    };
                    let before: f64 = before
                        .first()
                        .and_then(|row| row.first().cloned().flatten())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0.0);
                    let secs = timeout.map_or(0.0, |t| t.as_secs_f64().max(0.001));
                    self.execute_raw(&format!("SET SESSION max_statement_time = {secs:.3}"))
                        .await?;
                    Ok(Some(format!(
                        "SET SESSION max_statement_time = {before:.3}"
                    )))
                }
                Conn::Lite(_) => Ok(None),
            }
        })
    }

    /// Close the session instead of returning it to the pool when it is dropped: for a
    /// connection whose lock or transaction could not be ended cleanly (closing the
    /// session lets the server end both).
    pub fn discard(&mut self) {
        match self {
            Conn::Pg(c) => c.close_on_drop(),
            Conn::My(c) => c.close_on_drop(),
            Conn::Lite(c) => c.close_on_drop(),
        }
    }

    /// Roll back the transactions a run left open, keeping the lock (SQLite: the lock
    /// transaction stays).
    pub fn abandon_above_lock<'a>(&'a mut self) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let keep = usize::from(matches!(self, Conn::Lite(_)));
            while self.depth() > keep {
                if self.rollback().await.is_err() {
                    break;
                }
            }
        })
    }

    /// Roll back whatever is open, for an error path (SQLite: this lets the lock go).
    pub fn abandon<'a>(&'a mut self) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            while self.depth() > 0 {
                if self.rollback().await.is_err() {
                    break;
                }
            }
        })
    }
}

/// A boxed `Send` future.
pub(crate) type BoxFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Bind one value.
fn bind<'q, DB: Database>(
    q: sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
    a: &Arg<'q>,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    match *a {
        Arg::Int(v) => q.bind(v),
        Arg::Text(v) => q.bind(v),
        Arg::Bool(v) => q.bind(v),
        Arg::OptInt(v) => q.bind(v),
        Arg::OptText(v) => q.bind(v),
    }
}

/// Sleep a poll interval, or give up when `deadline` has passed.
async fn wait_or_timeout(deadline: Instant) -> Result<(), LockError> {
    let now = Instant::now();
    if now >= deadline {
        return Err(LockError::Timeout);
    }
    tokio::time::sleep(LOCK_POLL.min(deadline - now)).await;
    Ok(())
}

/// SQLITE_BUSY (5) and its extended codes, or SQLITE_LOCKED (6).
pub(crate) fn is_sqlite_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
            matches!(code & 0xff, 5 | 6) || db.message().contains("database is locked")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_key_is_the_checksum_of_the_table_name() {
        let hex = crate::checksum(crate::MIGRATIONS_TABLE.as_bytes());
        assert_eq!(
            super::pg_lock_key(),
            u64::from_str_radix(&hex, 16).unwrap() as i64
        );
    }
}
