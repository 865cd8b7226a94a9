//! The raw-SQL escape hatch. Statements are written in the target engine's dialect
//! (`$1` on PostgreSQL, `?` elsewhere) and still go through routing. The text is
//! classified ([`crate::classify_sql`]): `fetch_*` of a statement that only reads uses the
//! reading role (unless the scope says otherwise); `fetch_*` of anything else
//! (`INSERT .. RETURNING`, a data-modifying CTE, `SELECT .. FOR UPDATE`, `SET`, several
//! statements, ...) and every `execute` are writes: routed to the writer and refused on
//! read-only targets before any SQL is sent.

use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Column as _, Row as _};

use crate::error::{Error, Result};
use crate::exec::{self, Access, Request};
use crate::sql_str::{SqlSafeStr, SqlStr};
use crate::value::{ColumnType, Value};
use crate::Executor;

/// A raw SQL statement with bound values. Start one with [`raw`].
#[derive(Debug, Clone)]
#[must_use = "a raw query does nothing until fetched or executed"]
pub struct RawQuery {
    sql: SqlStr,
    binds: Vec<Value>,
    database: Option<String>,
}

/// A raw SQL statement, routed like any other.
///
/// The text is a string literal, or text built at runtime wrapped in
/// [`AssertSqlSafe`](crate::AssertSqlSafe) (see [`SqlSafeStr`]): nothing in it is escaped,
/// so values go through [`RawQuery::bind`].
///
/// ```no_run
/// # async fn demo(db: &grant_core::Grant) -> grant_core::Result<()> {
/// use grant_core::{raw, AssertSqlSafe};
/// let rows = raw("SELECT name FROM users WHERE id = ?").bind(1i64).fetch_all(db).await?;
/// let name: String = rows[0].get("name")?;
/// raw("DELETE FROM sessions").on("primary").execute(db).await?;
/// let table = "audit_log"; // chosen by the program, not by a user
/// raw(AssertSqlSafe(format!("DELETE FROM {table}"))).execute(db).await?;
/// # Ok(()) }
/// ```
pub fn raw(sql: impl SqlSafeStr) -> RawQuery {
    RawQuery {
        sql: sql.into_sql_str(),
        binds: Vec::new(),
        database: None,
    }
}

impl RawQuery {
    /// Bind the next placeholder's value.
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.binds.push(value.into());
        self
    }

    /// Run on database `name` (default: the config's default database).
    pub fn on(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// Every row. A read when the text only reads; otherwise a write (see the module docs).
    pub async fn fetch_all<'e>(self, executor: impl Executor<'e>) -> Result<Vec<Row>> {
        let (target, pinned) = executor.into_target().split();
        let mut req = request(&self.database, access_of(&self.sql), "raw_fetch");
        pinned.apply(&mut req);
        let conn = exec::resolve(target, &req)?;
        exec::fetch_rows(conn, &req, &self.sql, self.binds).await
    }

    /// The first row, if any; the rest are not fetched. Classified like
    /// [`RawQuery::fetch_all`].
    pub async fn fetch_optional<'e>(self, executor: impl Executor<'e>) -> Result<Option<Row>> {
        let (target, pinned) = executor.into_target().split();
        let mut req = request(&self.database, access_of(&self.sql), "raw_fetch");
        pinned.apply(&mut req);
        let conn = exec::resolve(target, &req)?;
        exec::fetch_row(conn, &req, &self.sql, self.binds).await
    }

    /// Run a statement as a write, whatever it is: routed to the writer and refused on
    /// read-only targets. Returns the number of rows affected.
    pub async fn execute<'e>(self, executor: impl Executor<'e>) -> Result<u64> {
        let (target, pinned) = executor.into_target().split();
        let mut req = request(&self.database, Access::Write, "raw_execute");
        pinned.apply(&mut req);
        let conn = exec::resolve(target, &req)?;
        Ok(exec::execute(conn, &req, &self.sql, self.binds).await?.0)
    }
}

/// A row returned by raw SQL, from any engine.
pub enum Row {
    /// A PostgreSQL row.
    Postgres(PgRow),
    /// A MariaDB/MySQL row.
    MySql(MySqlRow),
    /// A SQLite row.
    Sqlite(SqliteRow),
}

impl Row {
    /// The value of column `name`.
    pub fn get<T: ColumnType>(&self, name: &str) -> Result<T> {
        match self {
            Row::Postgres(r) => T::decode_pg(r, name),
            Row::MySql(r) => T::decode_mysql(r, crate::__private::MySqlName(name)),
            Row::Sqlite(r) => T::decode_sqlite(r, name),
        }
        .map_err(|e| decode_error(name.to_string(), e))
    }

    /// The value of the column at `index` (from 0).
    pub fn get_at<T: ColumnType>(&self, index: usize) -> Result<T> {
        match self {
            Row::Postgres(r) => T::decode_pg(r, index),
            Row::MySql(r) => T::decode_mysql(r, index),
            Row::Sqlite(r) => T::decode_sqlite(r, index),
        }
        .map_err(|e| decode_error(format!("#{index}"), e))
    }

    /// The column names, in order.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Row::Postgres(r) => r.columns().iter().map(|c| c.name()).collect(),
            Row::MySql(r) => r.columns().iter().map(|c| c.name()).collect(),
            Row::Sqlite(r) => r.columns().iter().map(|c| c.name()).collect(),
        }
    }
}

fn request<'a>(database: &'a Option<String>, access: Access, op: &'static str) -> Request<'a> {
    Request {
        model: "raw",
        database: database.as_deref(),
        shard: None,
        reading: None,
        shards: &[],
        access,
        op,
        user_sql: true,
        deadline: None,
        stopped_early: None,
    }
}

/// How user SQL is routed: a read only when it is known to only read.
pub(crate) fn access_of(sql: &str) -> Access {
    match crate::classify::classify_sql(sql) {
        crate::classify::SqlKind::Read => Access::Read,
        _ => Access::Write,
    }
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("columns", &self.columns())
            .finish()
    }
}

fn decode_error(column: String, e: sqlx::Error) -> Error {
    Error::Decode {
        model: "raw",
        column,
        source: e,
    }
}
