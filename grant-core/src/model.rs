//! The [`Model`] trait that `#[derive(Model)]` implements, and the static description of a
//! model's table that SQL is generated from.

use std::sync::OnceLock;

use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::query::{Query, Select};
use crate::sql::{MultiInsert, MultiInsertCache, Statements};
use crate::value::{ColumnType, SqlType, Value};
use crate::Executor;

/// One column of a model's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnMeta {
    /// The column's name in SQL.
    pub name: &'static str,
    /// The Rust field it maps to.
    pub field: &'static str,
    /// Its SQL type.
    pub sql_type: SqlType,
    /// Whether it may be `NULL`.
    pub nullable: bool,
}

/// A model's table, key, columns and routing, as the derive writes them down.
#[derive(Debug)]
pub struct ModelMeta {
    /// The Rust type's name, used in errors.
    pub name: &'static str,
    /// The table.
    pub table: &'static str,
    /// The columns, in field order (skipped fields are absent).
    pub columns: &'static [ColumnMeta],
    /// Index of the primary key in `columns`.
    pub primary_key: usize,
    /// Whether the database generates the key (auto-increment).
    pub auto_increment: bool,
    /// Indexes in `columns` of the shard key (`#[shard_by(..)]`); empty for a model that
    /// is not sharded.
    pub shard_key: &'static [usize],
    /// How Grant generates the key (`#[grant(primary_key, generate = "..")]`).
    pub generate: Option<Generate>,
    /// Rails-style shards (`#[connects_to(shards(..))]`): each shard a database entry,
    /// chosen by the scope's or the call's shard (the first when none is named).
    pub shards: &'static [ShardEntry],
    /// The database that serves the writing role (`None`: the config's default).
    pub database: Option<&'static str>,
    /// A database entry that serves the reading role (`None`: the writer's replicas).
    pub reading: Option<&'static str>,
    /// Whether the model declares automatic timestamps to fill (`#[grant(timestamps)]`,
    /// `#[grant(created_at)]`, `#[grant(updated_at)]`).
    pub timestamps: bool,
    /// The fixed statements, built once per engine on first use.
    pub statements: &'static StatementCache,
}

impl ModelMeta {
    /// The key column.
    pub fn key_column(&self) -> &'static ColumnMeta {
        &self.columns[self.primary_key]
    }

    /// The fixed statements for `backend`, built on first use and kept.
    #[inline]
    pub fn statements(&self, backend: Backend) -> &Statements {
        self.statements.get(self, backend)
    }

    /// The multi-row INSERT text (without `RETURNING`) for at least `rows` rows.
    pub(crate) fn multi_insert(&self, backend: Backend, rows: usize) -> MultiInsert {
        self.statements.multi[slot(backend)].get(self, backend, rows)
    }
}

fn slot(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 0,
        Backend::MySql => 1,
        Backend::Sqlite => 2,
    }
}

/// One shard of `#[connects_to(shards(name(writing = "..", reading = "..")))]`: the
/// database entries that serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardEntry {
    /// The shard's name, as scopes and `on_shard` name it.
    pub name: &'static str,
    /// The entry that serves writes (and reads, unless `reading` is given).
    pub writing: &'static str,
    /// The entry that serves reads.
    pub reading: Option<&'static str>,
}

/// How Grant generates a model's key on insert (`#[grant(primary_key, generate = "..")]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Generate {
    /// A Snowflake id (`i64`): time-ordered, unique across processes with distinct
    /// `worker_id`s (`[databases.<name>.ids]`), and, with `layout = "sharded"`, carrying
    /// the row's shard so `find(id)` needs no scatter.
    Snowflake,
    /// A UUIDv7 (`uuid::Uuid`): time-ordered, random, unique without coordination.
    UuidV7,
}

/// Where a model keeps its fixed statements: one slot per engine, filled once.
#[derive(Debug)]
pub struct StatementCache {
    slots: [OnceLock<Statements>; 3],
    multi: [MultiInsertCache; 3],
}

impl StatementCache {
    /// An empty cache (a `static` in derived code).
    pub const fn new() -> Self {
        StatementCache {
            slots: [OnceLock::new(), OnceLock::new(), OnceLock::new()],
            multi: [
                MultiInsertCache::new(),
                MultiInsertCache::new(),
                MultiInsertCache::new(),
            ],
        }
    }

    #[inline]
    fn get(&self, meta: &ModelMeta, backend: Backend) -> &Statements {
        self.slots[slot(backend)].get_or_init(|| Statements::build(meta, backend))
    }
}

impl Default for StatementCache {
    fn default() -> Self {
        Self::new()
    }
}

/// A struct stored in a table. Derive it with `#[derive(Model)]`; the methods with bodies
/// are the API (`find`, `query`, `insert`, `update`, `delete`, ...).
///
/// Every method takes an [`Executor`]: `&Grant` routes the statement (database, role,
/// shard), `&mut Transaction` pins it to that transaction's writer.
pub trait Model: Sized + Send + Sync + Unpin + 'static {
    /// The primary key's type.
    type Key: ColumnType + Clone + std::fmt::Debug;

    /// The model's table, columns and routing.
    const META: &'static ModelMeta;

    /// The primary key's value.
    fn key(&self) -> Self::Key;

    /// Append every column's value, in the order of `META.columns`; the key's only when
    /// `with_key` is true.
    fn push_values(&self, out: &mut Vec<Value>, with_key: bool);

    /// Like [`Model::push_values`], with text and bytes borrowed from `self`
    /// ([`ColumnType::to_bind_ref`](crate::ColumnType::to_bind_ref)): what batch inserts
    /// bind. The derive generates it; the default copies through `push_values`.
    fn push_bind_refs<'a>(&'a self, out: &mut Vec<crate::value::BindRef<'a>>, with_key: bool) {
        let mut owned = Vec::with_capacity(Self::META.columns.len());
        self.push_values(&mut owned, with_key);
        out.extend(owned.into_iter().map(crate::value::BindRef::Owned));
    }

    /// Every column's value, in the order of `META.columns`.
    fn values(&self) -> Vec<Value> {
        let mut out = Vec::with_capacity(Self::META.columns.len());
        self.push_values(&mut out, true);
        out
    }

    /// Store the key the database returned (RETURNING).
    fn set_key(&mut self, key: Self::Key);

    /// Store a key generated by the database as an integer (last-insert-id, or a
    /// `RETURNING` value wider than the key type); a key that does not fit the key type is
    /// [`Error::KeyOverflow`] naming the model and key column.
    fn set_generated_key(&mut self, key: i128) -> Result<()>;

    /// Store a UUID Grant generated (`generate = "uuid_v7"`); the derive implements it for
    /// such models, the default refuses.
    fn set_generated_uuid(&mut self, id: uuid::Uuid) -> Result<()> {
        let _ = id;
        Err(Error::InvalidQuery {
            model: Self::META.name,
            message: "the key is not a generated UUID".into(),
        })
    }

    /// Fill the automatic timestamps the model declares with `now`: the `created_at` one
    /// when `inserting`, the `updated_at` one always.
    fn touch(&mut self, now: chrono::DateTime<chrono::Utc>, inserting: bool);

    /// Decode from a PostgreSQL row: by position when `by_name` is false (Grant's own
    /// statements select the columns in `META` order), by column name otherwise.
    fn from_pg_row(row: &PgRow, by_name: bool) -> Result<Self>;
    /// Decode from a MariaDB/MySQL row (see [`Model::from_pg_row`]).
    fn from_mysql_row(row: &MySqlRow, by_name: bool) -> Result<Self>;
    /// Decode from a SQLite row (see [`Model::from_pg_row`]).
    fn from_sqlite_row(row: &SqliteRow, by_name: bool) -> Result<Self>;

    /// The row with this primary key, if any.
    fn find<'e>(
        executor: impl Executor<'e>,
        key: impl Into<Self::Key> + Send + 'e,
    ) -> impl std::future::Future<Output = Result<Option<Self>>> + Send + 'e
    where
        Self: 'e,
    {
        let key = key.into();
        async move { crate::exec::find::<Self>(executor.into_target(), key.to_value()).await }
    }

    /// The row with this primary key, or [`Error::NotFound`] naming the model and key.
    fn get<'e>(
        executor: impl Executor<'e>,
        key: impl Into<Self::Key> + Send + 'e,
    ) -> impl std::future::Future<Output = Result<Self>> + Send + 'e
    where
        Self: 'e,
    {
        let key = key.into();
        async move {
            let value = key.to_value();
            match crate::exec::find::<Self>(executor.into_target(), value.clone()).await? {
                Some(row) => Ok(row),
                None => Err(Error::NotFound {
                    model: Self::META.name,
                    column: Self::META.key_column().name,
                    key: value.to_string(),
                }),
            }
        }
    }

    /// A query over this model's table.
    fn query() -> Query<Self> {
        Query::new()
    }

    /// The first row matching `filter` (a shorthand for `query().filter(..).first(..)`).
    fn find_by<'e>(
        executor: impl Executor<'e>,
        filter: crate::query::Expr,
    ) -> impl std::future::Future<Output = Result<Option<Self>>> + Send + 'e
    where
        Self: 'e,
    {
        async move { Self::query().filter(filter).first(executor).await }
    }

    /// Insert this row. Fills the automatic timestamps the model declares
    /// (`#[grant(timestamps)]`, `#[grant(created_at)]`, `#[grant(updated_at)]`), and the key
    /// when the database generates it (RETURNING on PostgreSQL and SQLite, last-insert-id on
    /// MariaDB/MySQL).
    ///
    /// A generated key that does not fit the key type (an `i32` key behind a `BIGSERIAL`
    /// column past `i32::MAX`, a MariaDB `BIGINT UNSIGNED` past `i64::MAX`) is
    /// [`Error::KeyOverflow`] naming the model and key column (a key column wider than the
    /// key type is fine while its values fit), and the row is **deleted
    /// again by its key** before the error is returned, so a retry does not duplicate it.
    /// Grant chose this compensating delete over a transaction around every insert: the
    /// common path (a key that fits) costs no extra round trip. Outside a transaction
    /// another session may see the row in between; inside one, nobody else does. Should
    /// the delete fail too, its error is returned instead (and logged with the key).
    fn insert<'e>(
        &'e mut self,
        executor: impl Executor<'e>,
    ) -> impl std::future::Future<Output = Result<()>> + Send + 'e {
        async move { crate::exec::insert(executor.into_target(), self).await }
    }

    /// Insert many rows as multi-row INSERTs, chunked under each engine's bind-parameter
    /// limit; fills automatic timestamps and generated keys. Returns the number of rows
    /// inserted. Several statements run in one transaction, so a failure leaves nothing
    /// behind.
    ///
    /// Keys come back through RETURNING on PostgreSQL and SQLite. On MariaDB/MySQL they are
    /// the first key plus the session's `auto_increment_increment`, read on the same
    /// connection inside a transaction (one extra round trip per call, plus BEGIN/COMMIT for
    /// a single statement); under `innodb_autoinc_lock_mode = 2`, where the keys of one
    /// statement need not be consecutive (MySQL 8's default), each row is inserted by its
    /// own statement; use [`Model::insert_all_without_keys`] for bulk loads there. A key
    /// that does not fit is handled as in [`Model::insert`]: no row of the call is left
    /// behind. After an error, the key fields of `rows` are unspecified.
    fn insert_all<'e>(
        executor: impl Executor<'e>,
        rows: &'e mut [Self],
    ) -> impl std::future::Future<Output = Result<u64>> + Send + 'e {
        async move { crate::exec::insert_all(executor.into_target(), rows, true).await }
    }

    /// Insert many rows like [`Model::insert_all`], without reading generated keys back:
    /// no `RETURNING` on PostgreSQL and SQLite, no increment lookup on MariaDB/MySQL. The
    /// keys of the rows are left as they were. For bulk loads. Returns the number of rows
    /// inserted.
    ///
    /// ```no_run
    /// # use grant_core::Model;
    /// # async fn demo<Item: Model>(db: &grant_core::Grant, mut items: Vec<Item>) -> grant_core::Result<()> {
    /// let n = Item::insert_all_without_keys(db, &mut items).await?;
    /// assert_eq!(n as usize, items.len());
    /// # Ok(()) }
    /// ```
    fn insert_all_without_keys<'e>(
        executor: impl Executor<'e>,
        rows: &'e mut [Self],
    ) -> impl std::future::Future<Output = Result<u64>> + Send + 'e {
        async move { crate::exec::insert_all(executor.into_target(), rows, false).await }
    }

    /// Write every column of this row back, by primary key; sets the model's automatic
    /// `updated_at` timestamp, if it declares one.
    /// Returns whether a row was updated.
    fn update<'e>(
        &'e mut self,
        executor: impl Executor<'e>,
    ) -> impl std::future::Future<Output = Result<bool>> + Send + 'e {
        async move { crate::exec::update(executor.into_target(), self).await }
    }

    /// Delete this row by primary key. Returns whether a row was deleted.
    fn delete<'e>(
        &'e self,
        executor: impl Executor<'e>,
    ) -> impl std::future::Future<Output = Result<bool>> + Send + 'e {
        async move { crate::exec::delete::<Self>(executor.into_target(), self).await }
    }

    /// Rows from a raw SQL statement (written in the target engine's dialect), decoded by
    /// column name and routed like any read of this model.
    ///
    /// `sql` is a string literal, or text built at runtime wrapped in
    /// [`AssertSqlSafe`](crate::AssertSqlSafe) (see [`SqlSafeStr`](crate::SqlSafeStr));
    /// values go in `binds`, never into the text.
    ///
    /// ```no_run
    /// # use grant_core::{Model, Value};
    /// # async fn demo<User: Model>(db: &grant_core::Grant) -> grant_core::Result<()> {
    /// let adults = User::find_by_sql(db, "SELECT * FROM users WHERE age >= ?", vec![Value::I64(18)]).await?;
    /// # let _ = adults; Ok(()) }
    /// ```
    fn find_by_sql<'e>(
        executor: impl Executor<'e>,
        sql: impl crate::SqlSafeStr,
        binds: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<Vec<Self>>> + Send + 'e {
        let sql = sql.into_sql_str();
        async move {
            crate::exec::fetch_models::<Self>(
                executor.into_target(),
                Select::Raw {
                    sql: sql.as_str(),
                    binds,
                },
                crate::exec::Access::Read,
            )
            .await
        }
    }
}
