//! The query builder: `User::query().filter(..).order_by(..).limit(..).all(&db)`.

mod expr;
pub(crate) mod group;

pub use expr::{Assignment, CmpOp, Column, Direction, Expr, Order};
pub use group::{Group, Grouped};

use crate::value::ColumnType;

use std::marker::PhantomData;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::exec::{self, Access};
use crate::model::Model;
use crate::sql::SqlWriter;
use crate::value::Value;
use crate::Executor;

/// A query over model `M`'s table. Filters added with [`Query::filter`] are joined with AND.
///
/// ```
/// # use grant_core::{Model, Query};
/// # fn demo<M: Model>(q: Query<M>) -> Query<M> {
/// q.limit(10).offset(20)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Query<M> {
    parts: QueryParts,
    /// `after(row)`: the row's values, turned into a filter on the order when the query runs.
    after: Option<Vec<Value>>,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> Default for Query<M> {
    fn default() -> Self {
        Self::new()
    }
}

/// What a SELECT reads: a built query or raw SQL.
#[derive(Debug)]
pub(crate) enum Select<'a> {
    /// A built query; `limit` overrides the query's own.
    Query(&'a QueryParts, Option<u64>),
    /// Raw SQL in the target's dialect, decoded by column name.
    Raw { sql: &'a str, binds: Vec<Value> },
}

/// The parts of a query, independent of the model type.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryParts {
    pub filters: Vec<Expr>,
    pub order: Vec<Order>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// Sharded models: refuse to visit every shard.
    pub deny_scatter: bool,
    /// Sharded models: `update_all` / `delete_all` may write to several shards.
    pub across_shards: bool,
    /// Sharded models: a failed shard does not fail the query.
    pub partial: bool,
    /// The statement of one shard of a scatter: text order columns compare by code
    /// point (binary collation), as the merge does. The model's columns.
    pub binary_order: Option<&'static [crate::model::ColumnMeta]>,
    /// Sharded models: drop rows whose primary key was already returned (a row copied
    /// onto several shards).
    pub dedupe: bool,
    /// Sharded models: the deadline of a scatter, over the database's `timeout`.
    pub timeout: Option<std::time::Duration>,
}

impl<M: Model> Query<M> {
    /// A query with no filter: every row.
    pub fn new() -> Self {
        Query {
            parts: QueryParts::default(),
            after: None,
            _model: PhantomData,
        }
    }

    /// Add a filter (AND-ed with the others).
    pub fn filter(mut self, expr: Expr) -> Self {
        self.parts.filters.push(expr);
        self
    }

    /// Add an `ORDER BY` term.
    pub fn order_by(mut self, order: Order) -> Self {
        self.parts.order.push(order);
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.parts.limit = Some(n);
        self
    }

    /// Skip the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.parts.offset = Some(n);
        self
    }

    /// Sharded models: refuse to visit every shard. A query whose filter does not
    /// narrow the shard key then fails with [`Error::ScatterDenied`] naming the model and
    /// the key, before any SQL is sent. (A database can deny scatter for every query with
    /// `scatter = false` in its `[sharding]` table.)
    pub fn deny_scatter(mut self) -> Self {
        self.parts.deny_scatter = true;
        self
    }

    /// Sharded models: allow [`Query::update_all`] / [`Query::delete_all`] to write to
    /// several shards. Each shard commits on its own (there is no cross-shard
    /// transaction); if some fail, the error ([`Error::PartialWrite`]) lists which shards
    /// committed and which failed. Without it such a write is [`Error::CrossShardWrite`]
    /// and nothing is sent.
    pub fn across_shards(mut self) -> Self {
        self.parts.across_shards = true;
        self
    }

    /// Sharded models: one deadline for this query's scatter (every shard's statement),
    /// instead of the database's `[sharding] timeout`. A shard that has not answered by
    /// then fails with [`Error::Timeout`] (wrapped in [`Error::ShardFailed`], or listed in
    /// the report with [`Query::partial`]). A query routed to one shard keeps its
    /// statement timeout.
    pub fn timeout(mut self, deadline: std::time::Duration) -> Self {
        self.parts.timeout = Some(deadline);
        self
    }

    /// Sharded models: partial results. A shard that fails (down, timed out) does not
    /// fail the query: [`Query::all`] returns the other shards' rows (the failure is logged),
    /// [`Query::all_with_report`] returns them with each shard's error, and
    /// [`Query::count`] the count of the shards that answered. The default is strict: the
    /// first failed shard fails the query with [`Error::ShardFailed`] naming it.
    pub fn partial(mut self) -> Self {
        self.parts.partial = true;
        self
    }

    /// Keyset pagination: only the rows that come after `last` in the query's order, the
    /// fast alternative to a deep `offset` (each shard, or the database, seeks straight to
    /// the position with an index on the order columns instead of reading and dropping
    /// `offset` rows).
    ///
    /// Every page must use the same total order: end it with the primary key (`after`
    /// appends the key, ascending, when it is not among the order terms, so give the first
    /// page the same order). With no order at all, the query is ordered by the key. The
    /// order columns must be NOT NULL (a nullable one is [`Error::InvalidQuery`]: NULLs
    /// have no place in a keyset). Text order columns compare by code point (byte order)
    /// on every engine, in the order and in the page predicate alike, whatever the column's
    /// collation, so pages agree on one database and across shards.
    ///
    /// ```no_run
    /// # use grant_core::{Model, Query, Column};
    /// # async fn demo<M: Model + Clone>(db: &grant_core::Grant, at: Column<M, i64>, id: Column<M, i64>) -> grant_core::Result<()> {
    /// let page = M::query().order_by(at.desc()).order_by(id.asc()).limit(50).all(db).await?;
    /// if let Some(last) = page.last() {
    ///     let next = M::query()
    ///         .order_by(at.desc())
    ///         .order_by(id.asc())
    ///         .after(last)
    ///         .limit(50)
    ///         .all(db)
    ///         .await?;
    ///     # let _ = next;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn after(mut self, last: &M) -> Self {
        self.after = Some(last.values());
        self
    }

    /// Sharded models: de-duplicate by primary key. A row present on several shards (a
    /// reference table copied everywhere, a row caught mid-migration) is returned once,
    /// the first in the query's order; limit and offset apply to the de-duplicated rows.
    pub fn dedupe(mut self) -> Self {
        self.parts.dedupe = true;
        self
    }

    /// The parts, with `after(..)` turned into its filter.
    pub(crate) fn into_query_parts(self) -> Result<QueryParts> {
        self.into_parts()
    }

    fn into_parts(self) -> Result<QueryParts> {
        let mut parts = self.parts;
        if let Some(last) = self.after {
            keyset::<M>(&mut parts, &last)?;
        }
        Ok(parts)
    }

    /// Every matching row.
    pub async fn all<'e>(self, executor: impl Executor<'e>) -> Result<Vec<M>> {
        let parts = self.into_parts()?;
        exec::fetch_models::<M>(
            executor.into_target(),
            Select::Query(&parts, None),
            Access::Read,
        )
        .await
    }

    /// Every matching row, with how each shard visited went (rows, time, error): one
    /// outcome per shard for a scatter, one outcome (shard `None` or the shard named)
    /// otherwise. Strict by default (a failed shard is an error); with
    /// [`Query::partial`] the failed shards' errors are in the report instead.
    ///
    /// ```no_run
    /// # use grant_core::{Model, Query};
    /// # async fn demo<M: Model>(db: &grant_core::Grant) -> grant_core::Result<()> {
    /// let report = M::query().partial().all_with_report(db).await?;
    /// for (shard, error) in report.errors() {
    ///     eprintln!("shard {shard} failed: {error}");
    /// }
    /// println!("{} rows", report.rows.len());
    /// # Ok(()) }
    /// ```
    pub async fn all_with_report<'e>(
        self,
        executor: impl Executor<'e>,
    ) -> Result<crate::ScatterReport<M>> {
        let parts = self.into_parts()?;
        exec::fetch_report::<M>(executor.into_target(), &parts).await
    }

    /// The first matching row (ordered by the key when no order is given).
    pub async fn first<'e>(self, executor: impl Executor<'e>) -> Result<Option<M>> {
        let mut parts = self.into_parts()?;
        if parts.order.is_empty() {
            parts.order.push(Order {
                column: M::META.key_column().name,
                direction: Direction::Asc,
            });
        }
        let rows = exec::fetch_models::<M>(
            executor.into_target(),
            Select::Query(&parts, Some(1)),
            Access::Read,
        )
        .await?;
        Ok(rows.into_iter().next())
    }

    /// How many rows match (limit and offset apply).
    pub async fn count<'e>(self, executor: impl Executor<'e>) -> Result<i64> {
        let parts = self.into_parts()?;
        exec::count::<M>(executor.into_target(), &parts).await
    }

    /// `SUM(column)` over the matching rows: `i64` for integer columns, `f64` for float
    /// columns; `None` when no non-NULL value matches. Across shards the shards' sums are
    /// added; a sum past `i64::MAX` is [`Error::AggregateOverflow`] (or the server's
    /// out-of-range error), never a wrapped value. Refuses limit and offset.
    ///
    /// ```no_run
    /// # use grant_core::{Model, Query, Column};
    /// # async fn demo<M: Model>(db: &grant_core::Grant, cents: Column<M, i64>) -> grant_core::Result<()> {
    /// let total: Option<i64> = M::query().sum(cents, db).await?;
    /// # let _ = total; Ok(()) }
    /// ```
    pub async fn sum<'e, T: crate::Numeric>(
        self,
        column: Column<M, T>,
        executor: impl Executor<'e>,
    ) -> Result<Option<T::Sum>> {
        let parts = self.into_parts()?;
        Ok(
            exec::sum::<M, T>(executor.into_target(), &parts, column.name(), "sum")
                .await?
                .0,
        )
    }

    /// `AVG(column)`: the sum of the non-NULL values divided by their count, computed the
    /// same way on one database and across shards (the shards' sums and counts are
    /// added first), so both give the same value. `None` when no non-NULL value matches.
    pub async fn avg<'e, T: crate::Numeric>(
        self,
        column: Column<M, T>,
        executor: impl Executor<'e>,
    ) -> Result<Option<f64>> {
        let parts = self.into_parts()?;
        let (sum, count) =
            exec::sum::<M, T>(executor.into_target(), &parts, column.name(), "avg").await?;
        Ok(match (sum, count) {
            (Some(s), n) if n > 0 => Some(T::to_f64(s) / n as f64),
            _ => None,
        })
    }

    /// `MIN(column)`; `None` when no non-NULL value matches. Text compares by code point
    /// (binary collation) on every engine, so the answer is the same on one database and
    /// across shards.
    pub async fn min<'e, T: ColumnType>(
        self,
        column: Column<M, T>,
        executor: impl Executor<'e>,
    ) -> Result<Option<T>> {
        let parts = self.into_parts()?;
        exec::extreme::<M, T>(executor.into_target(), &parts, column.name(), false).await
    }

    /// `MAX(column)`; see [`Query::min`].
    pub async fn max<'e, T: ColumnType>(
        self,
        column: Column<M, T>,
        executor: impl Executor<'e>,
    ) -> Result<Option<T>> {
        let parts = self.into_parts()?;
        exec::extreme::<M, T>(executor.into_target(), &parts, column.name(), true).await
    }

    /// `COUNT(DISTINCT column)`: the number of distinct non-NULL values. Across shards
    /// the shards' distinct values are merged as a set, so a value on several shards
    /// counts once (up to 1 000 000 distinct values; past that [`Error::Merge`], never a
    /// wrong count). Text compares by code point on every engine.
    pub async fn count_distinct<'e, T: ColumnType>(
        self,
        column: Column<M, T>,
        executor: impl Executor<'e>,
    ) -> Result<i64> {
        let parts = self.into_parts()?;
        exec::count_distinct::<M, T>(executor.into_target(), &parts, column.name()).await
    }

    /// Whether any row matches.
    pub async fn exists<'e>(self, executor: impl Executor<'e>) -> Result<bool> {
        let parts = self.into_parts()?;
        exec::exists::<M>(executor.into_target(), &parts).await
    }

    /// `UPDATE .. SET .. WHERE <filters>`: returns the number of rows changed. Order,
    /// limit and offset are refused (not every engine can honour them).
    pub async fn update_all<'e>(
        self,
        executor: impl Executor<'e>,
        assignments: impl IntoIterator<Item = Assignment>,
    ) -> Result<u64> {
        let assignments = non_empty::<M>(assignments)?;
        let parts = self.checked_for_bulk("update_all")?;
        exec::update_all::<M>(executor.into_target(), &parts, &assignments).await
    }

    /// [`Query::update_all`], returning the rows changed per shard: `(shard, rows)`, the
    /// shard empty for a database without shards.
    pub async fn update_all_by_shard<'e>(
        self,
        executor: impl Executor<'e>,
        assignments: impl IntoIterator<Item = Assignment>,
    ) -> Result<Vec<(String, u64)>> {
        let assignments = non_empty::<M>(assignments)?;
        let parts = self.checked_for_bulk("update_all")?;
        exec::write_all_report::<M>(executor.into_target(), &parts, Some(&assignments)).await
    }

    /// [`Query::delete_all`], returning the rows deleted per shard: `(shard, rows)`.
    pub async fn delete_all_by_shard<'e>(
        self,
        executor: impl Executor<'e>,
    ) -> Result<Vec<(String, u64)>> {
        let parts = self.checked_for_bulk("delete_all")?;
        exec::write_all_report::<M>(executor.into_target(), &parts, None).await
    }

    /// `DELETE .. WHERE <filters>`: returns the number of rows deleted. Order, limit and
    /// offset are refused.
    pub async fn delete_all<'e>(self, executor: impl Executor<'e>) -> Result<u64> {
        let parts = self.checked_for_bulk("delete_all")?;
        exec::delete_all::<M>(executor.into_target(), &parts).await
    }

    fn checked_for_bulk(self, what: &str) -> Result<QueryParts> {
        let p = &self.parts;
        if !p.order.is_empty() || p.limit.is_some() || p.offset.is_some() {
            return Err(Error::InvalidQuery {
                model: M::META.name,
                message: format!("{what} does not take order_by, limit or offset"),
            });
        }
        self.into_parts()
    }
}

impl QueryParts {
    /// ` WHERE ..` when there are filters.
    pub(crate) fn write_where(&self, w: &mut SqlWriter, binds: &mut Vec<Value>) {
        match self.filters.len() {
            0 => {}
            1 => {
                w.push(" WHERE ");
                self.filters[0].write(w, binds);
            }
            _ => {
                w.push(" WHERE ");
                for (i, f) in self.filters.iter().enumerate() {
                    if i > 0 {
                        w.push(" AND ");
                    }
                    f.write(w, binds);
                }
            }
        }
    }

    /// ` ORDER BY .. LIMIT .. OFFSET ..`, limits bound as parameters.
    pub(crate) fn write_tail(&self, w: &mut SqlWriter, binds: &mut Vec<Value>, limit: Option<u64>) {
        if !self.order.is_empty() {
            w.push(" ORDER BY ");
            for (i, o) in self.order.iter().enumerate() {
                if i > 0 {
                    w.push(", ");
                }
                let text = self.binary_order.is_some_and(|columns| {
                    columns
                        .iter()
                        .any(|c| c.name == o.column && c.sql_type == crate::value::SqlType::Text)
                });
                match (text, w.backend()) {
                    (false, _) => {
                        w.ident(o.column);
                    }
                    // Code point order, as the merge compares text.
                    (true, Backend::Postgres) => {
                        w.ident(o.column).push(" COLLATE \"C\"");
                    }
                    (true, Backend::MySql) => {
                        w.push("CAST(").ident(o.column).push(" AS BINARY)");
                    }
                    (true, Backend::Sqlite) => {
                        w.ident(o.column).push(" COLLATE BINARY");
                    }
                }
                w.push(match o.direction {
                    Direction::Asc => " ASC",
                    Direction::Desc => " DESC",
                });
            }
        }
        let limit = match (limit, self.limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(n) = limit {
            w.push(" LIMIT ").param();
            binds.push(Value::I64(clamp(n)));
        }
        if let Some(n) = self.offset {
            if limit.is_none() {
                match w.backend() {
                    Backend::MySql => {
                        w.push(" LIMIT 18446744073709551615");
                    }
                    Backend::Sqlite => {
                        w.push(" LIMIT -1");
                    }
                    Backend::Postgres => {}
                }
            }
            w.push(" OFFSET ").param();
            binds.push(Value::I64(clamp(n)));
        }
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The assignments of an `update_all`, at least one.
fn non_empty<M: Model>(
    assignments: impl IntoIterator<Item = Assignment>,
) -> Result<Vec<Assignment>> {
    let assignments: Vec<Assignment> = assignments.into_iter().collect();
    if assignments.is_empty() {
        return Err(Error::InvalidQuery {
            model: M::META.name,
            message: "update_all needs at least one assignment".into(),
        });
    }
    Ok(assignments)
}

/// Turn `after(last)` into a filter: with order terms `c1 .. ck` (the key appended), the
/// rows where `(c1, .., ck)` comes after `last`'s values in that order:
/// `c1 > v1 OR (c1 = v1 AND c2 > v2) OR ..` (`<` for descending terms).
fn keyset<M: Model>(parts: &mut QueryParts, last: &[Value]) -> Result<()> {
    let key = M::META.key_column().name;
    if !parts.order.iter().any(|o| o.column == key) {
        parts.order.push(Order {
            column: key,
            direction: Direction::Asc,
        });
    }
    let mut terms = Vec::with_capacity(parts.order.len());
    for o in &parts.order {
        let i = M::META
            .columns
            .iter()
            .position(|c| c.name == o.column)
            .ok_or_else(|| Error::InvalidQuery {
                model: M::META.name,
                message: format!("after(): `{}` is not a column of the model", o.column),
            })?;
        if M::META.columns[i].nullable {
            return Err(Error::InvalidQuery {
                model: M::META.name,
                message: format!(
                    "after(): order column `{}` is nullable; keyset pagination needs NOT NULL order columns",
                    o.column
                ),
            });
        }
        terms.push((o.column, o.direction, last[i].clone()));
    }
    let mut any = Vec::with_capacity(terms.len());
    for i in 0..terms.len() {
        let mut all: Vec<Expr> = terms[..i]
            .iter()
            .map(|(column, _, value)| Expr::CmpBinary {
                column,
                op: CmpOp::Eq,
                value: value.clone(),
            })
            .collect();
        let (column, direction, value) = &terms[i];
        all.push(Expr::CmpBinary {
            column,
            op: match direction {
                Direction::Asc => CmpOp::Gt,
                Direction::Desc => CmpOp::Lt,
            },
            value: value.clone(),
        });
        any.push(if all.len() == 1 {
            all.pop().expect("one term")
        } else {
            Expr::And(all)
        });
    }
    parts.filters.push(Expr::Or(any));
    // Text order columns by code point, as the predicate compares them (and as a scatter
    // merges), on one database too.
    parts.binary_order = Some(M::META.columns);
    Ok(())
}
