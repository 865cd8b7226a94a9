//! Aggregates of a query (`sum`, `avg`, `min`, `max`, `count_distinct`) on one target,
//! and merged from per-shard partial results across shards.
//!
//! Each shard computes what can be merged exactly: `SUM` and the count of non-NULL values
//! (`AVG` is their quotient, computed the same way on one database, so both agree to the
//! last bit), `MIN`/`MAX` (the least / greatest of the shards'), and for
//! `COUNT(DISTINCT x)` the distinct values themselves (merged as a set, bounded).

use grant_sharding::merge::{finish, merge_partials, Aggregate, MergeOptions, Partial, SortValue};

use crate::backend::Backend;
use crate::engine::Engine as _;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::query::QueryParts;
use crate::sql::SqlWriter;
use crate::value::ColumnType;

use super::run::{bind_slice, fetch_all_on, fetch_optional_on};
use super::scatter::{self, sort_value};
use super::sharded::{plan_query, Planned};
use super::{resolve, Access, Request, Target};

/// Numeric columns: what `SUM` adds up to (`i64` for integers, `f64` for floats).
pub trait Numeric: ColumnType {
    /// The type of the sum.
    type Sum: ColumnType + Copy + PartialOrd + std::fmt::Debug;
    /// Whether the column is a float (summed as a double).
    #[doc(hidden)]
    const FLOAT: bool;
    /// `a + b`, `None` on overflow.
    #[doc(hidden)]
    fn add(a: Self::Sum, b: Self::Sum) -> Option<Self::Sum>;
    /// The sum as a double, for averages.
    #[doc(hidden)]
    fn to_f64(sum: Self::Sum) -> f64;
}

macro_rules! numeric {
    ($($ty:ty => $sum:ty, $float:expr, |$a:ident, $b:ident| $add:expr);+ $(;)?) => {$(
        impl Numeric for $ty {
            type Sum = $sum;
            const FLOAT: bool = $float;
            #[inline]
            fn add($a: $sum, $b: $sum) -> Option<$sum> {
                $add
            }
            #[inline]
            fn to_f64(sum: $sum) -> f64 {
                sum as f64
            }
        }
    )+};
}

numeric! {
    i16 => i64, false, |a, b| a.checked_add(b);
    i32 => i64, false, |a, b| a.checked_add(b);
    i64 => i64, false, |a, b| a.checked_add(b);
    f32 => f64, true, |a, b| Some(a + b);
    f64 => f64, true, |a, b| Some(a + b);
}

/// `SELECT <select> FROM table WHERE .. [ORDER BY .. LIMIT ..]` of `parts`.
fn select_from<M: Model>(
    w: &mut SqlWriter,
    binds: &mut Vec<crate::value::Value>,
    parts: &QueryParts,
    select: impl FnOnce(&mut SqlWriter),
) {
    w.push("SELECT ");
    select(w);
    w.push(" FROM ").ident(M::META.table);
    parts.write_where(w, binds);
    parts.write_tail(w, binds, None);
}

/// The statement `write` writes (for the engine of the routed target: `w.backend()`), on
/// one target, returning the first row's two columns decoded as `A` and `B` (`None`: no
/// row).
async fn one_row<M: Model, A: ColumnType, B: ColumnType>(
    target: Target<'_>,
    op: &'static str,
    write: impl FnOnce(&mut SqlWriter, &mut Vec<crate::value::Value>),
) -> Result<Option<(A, B)>> {
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Read, op);
    pinned.apply(&mut req);
    let conn = resolve(target, &req)?;
    let mut w = SqlWriter::new(conn.backend(), 128);
    let mut binds = Vec::new();
    write(&mut w, &mut binds);
    let sql = w.finish();
    run_read!(conn, &req, M::META.name, |_| 1, |x, DB, err| {
        let args = bind_slice::<DB>(&binds)?;
        match fetch_optional_on::<DB, _>(x, &sql, args, err).await? {
            Some(row) => Ok(Some((
                DB::decode_at::<A>(&row, 0).map_err(|e| err.map(e))?,
                DB::decode_at::<B>(&row, 1).map_err(|e| err.map(e))?,
            ))),
            None => Ok(None),
        }
    })
}

/// `SELECT DISTINCT column FROM table WHERE ..` on one target, as merge values.
async fn distinct_values<M: Model, T: ColumnType>(
    target: Target<'_>,
    parts: &QueryParts,
    column: &'static str,
) -> Result<Vec<SortValue>> {
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Read, "count_distinct");
    pinned.apply(&mut req);
    let conn = resolve(target, &req)?;
    let text = T::SQL_TYPE == crate::value::SqlType::Text;
    let mut w = SqlWriter::new(conn.backend(), 128);
    let mut binds = Vec::new();
    if text && conn.backend() == Backend::MySql {
        // Distinct by bytes, each value returned as itself (not as a binary string).
        w.push("SELECT MIN(")
            .ident(column)
            .push(") FROM ")
            .ident(M::META.table);
        parts.write_where(&mut w, &mut binds);
        w.push(" GROUP BY ");
        binary(&mut w, column, true);
    } else {
        w.push("SELECT DISTINCT ");
        binary(&mut w, column, text);
        w.push(" FROM ").ident(M::META.table);
        parts.write_where(&mut w, &mut binds);
    }
    let sql = w.finish();
    run_read!(
        conn,
        &req,
        M::META.name,
        |v| v.len() as u64,
        |x, DB, err| {
            let args = bind_slice::<DB>(&binds)?;
            fetch_all_on::<DB, _, SortValue>(x, &sql, args, err, |row| {
                DB::decode_at::<Option<T>>(&row, 0)
                    .map(|v| sort_value(&v.to_value()))
                    .map_err(|e| err.map(e))
            })
            .await
        }
    )
}

/// A text column compared by code point (as the merge compares), on every engine.
pub(crate) fn binary(w: &mut SqlWriter, column: &'static str, text: bool) {
    match (text, w.backend()) {
        (true, Backend::Postgres) => {
            w.ident(column).push(" COLLATE \"C\"");
        }
        (true, Backend::MySql) => {
            w.push("CAST(").ident(column).push(" AS BINARY)");
        }
        _ => {
            w.ident(column);
        }
    }
}

pub(crate) fn sum_expr(w: &mut SqlWriter, column: &'static str, float: bool) {
    let cast = match (w.backend(), float) {
        (Backend::Postgres, false) => Some("BIGINT"),
        (Backend::Postgres, true) => Some("DOUBLE PRECISION"),
        (Backend::MySql, false) => Some("SIGNED"),
        (Backend::MySql, true) => Some("DOUBLE"),
        (Backend::Sqlite, true) => Some("REAL"),
        (Backend::Sqlite, false) => None,
    };
    match cast {
        Some(t) => {
            w.push("CAST(SUM(")
                .ident(column)
                .push(") AS ")
                .push(t)
                .push(")");
        }
        None => {
            w.push("SUM(").ident(column).push(")");
        }
    }
}

/// Aggregates refuse a limit and an offset (they summarise every match); an order is
/// dropped (it changes nothing). Returns the parts to send.
fn check_parts(model: &'static str, parts: &QueryParts, op: &str) -> Result<QueryParts> {
    if parts.limit.is_some() || parts.offset.is_some() {
        return Err(Error::InvalidQuery {
            model,
            message: format!(
                "{op} does not take limit or offset (it summarises every matching row)"
            ),
        });
    }
    let mut base = parts.clone();
    base.order.clear();
    Ok(base)
}

/// `(SUM(column), COUNT(column))`: the sum is `None` when no non-NULL value matched.
pub(crate) async fn sum<M: Model, T: Numeric>(
    target: Target<'_>,
    parts: &QueryParts,
    column: &'static str,
    op: &'static str,
) -> Result<(Option<T::Sum>, i64)> {
    let parts = &check_parts(M::META.name, parts, op)?;
    let one = |t| async move {
        Ok(one_row::<M, Option<T::Sum>, i64>(t, op, |w, binds| {
            select_from::<M>(w, binds, parts, |w| {
                sum_expr(w, column, T::FLOAT);
                w.push(", COUNT(").ident(column).push(")");
            })
        })
        .await?
        .unwrap_or((None, 0)))
    };
    match plan_query(target, M::META, parts)? {
        Planned::One(t) => one(t).await,
        Planned::Scatter(g, sc) => {
            let ran = scatter::run_each(g, &sc, one).await;
            let (parts_, _) = scatter::gather(&sc.database, ran, parts.partial, |_| 1)?;
            let mut total: Option<T::Sum> = None;
            let mut count = 0i64;
            for (s, n) in parts_ {
                count = count.checked_add(n).ok_or(Error::AggregateOverflow {
                    model: M::META.name,
                    op,
                    column,
                })?;
                total = match (total, s) {
                    (Some(a), Some(b)) => Some(T::add(a, b).ok_or(Error::AggregateOverflow {
                        model: M::META.name,
                        op,
                        column,
                    })?),
                    (a, b) => a.or(b),
                };
            }
            Ok((total, count))
        }
    }
}

/// `MIN(column)` (`max` false) or `MAX(column)`.
pub(crate) async fn extreme<M: Model, T: ColumnType>(
    target: Target<'_>,
    parts: &QueryParts,
    column: &'static str,
    max: bool,
) -> Result<Option<T>> {
    let op = if max { "max" } else { "min" };
    let parts = &check_parts(M::META.name, parts, op)?;
    let text = T::SQL_TYPE == crate::value::SqlType::Text;
    // MariaDB/MySQL text: the first row in byte order (MIN(CAST(x AS BINARY)) would
    // return a binary string, not the value).
    let mut ordered = parts.clone();
    ordered.filters.push(crate::query::Expr::IsNull {
        column,
        null: false,
    });
    ordered.order.push(crate::query::Order {
        column,
        direction: if max {
            crate::query::Direction::Desc
        } else {
            crate::query::Direction::Asc
        },
    });
    ordered.limit = Some(1);
    ordered.binary_order = Some(M::META.columns);
    let ordered = &ordered;
    let one = |t| async move {
        let row = one_row::<M, Option<T>, i64>(t, op, |w, binds| {
            if text && w.backend() == Backend::MySql {
                select_from::<M>(w, binds, ordered, |w| {
                    w.ident(column).push(", 1");
                });
            } else {
                select_from::<M>(w, binds, parts, |w| {
                    w.push(if max { "MAX(" } else { "MIN(" });
                    binary(w, column, text);
                    w.push("), COUNT(*)");
                });
            }
        })
        .await?;
        Ok(row.and_then(|(v, _)| v))
    };
    match plan_query(target, M::META, parts)? {
        Planned::One(t) => one(t).await,
        Planned::Scatter(g, sc) => {
            let ran = scatter::run_each(g, &sc, one).await;
            let (values, _) = scatter::gather(&sc.database, ran, parts.partial, |_| 1)?;
            let mut best: Option<(SortValue, T)> = None;
            for v in values {
                let Some(v) = v else { continue };
                let key = sort_value(&v.to_value());
                let better = match &best {
                    None => true,
                    Some((b, _)) => {
                        let o = grant_sharding::merge::OrderBy::asc(0).compare(&key, b);
                        if max {
                            o.is_gt()
                        } else {
                            o.is_lt()
                        }
                    }
                };
                if better {
                    best = Some((key, v));
                }
            }
            Ok(best.map(|(_, v)| v))
        }
    }
}

/// `COUNT(DISTINCT column)`; across shards the distinct values are merged as a set (at
/// most 1 000 000, past which it is an error rather than a wrong count). Values compare
/// as the merge compares them (text by code point).
pub(crate) async fn count_distinct<M: Model, T: ColumnType>(
    target: Target<'_>,
    parts: &QueryParts,
    column: &'static str,
) -> Result<i64> {
    let parts = &check_parts(M::META.name, parts, "count_distinct")?;
    let text = T::SQL_TYPE == crate::value::SqlType::Text;
    match plan_query(target, M::META, parts)? {
        Planned::One(t) => Ok(one_row::<M, i64, i64>(t, "count_distinct", |w, binds| {
            select_from::<M>(w, binds, parts, |w| {
                w.push("COUNT(DISTINCT ");
                binary(w, column, text);
                w.push("), COUNT(*)");
            })
        })
        .await?
        .map_or(0, |(n, _)| n)),
        Planned::Scatter(g, sc) => {
            let ran =
                scatter::run_each(g, &sc, |t| distinct_values::<M, T>(t, parts, column)).await;
            let (values, _) =
                scatter::gather(&sc.database, ran, parts.partial, |v| v.len() as u64)?;
            let merge = |e| Error::Merge {
                model: M::META.name,
                source: Box::new(e),
            };
            let partial = merge_partials(
                Aggregate::CountDistinct,
                values.into_iter().map(Partial::distinct),
                &MergeOptions::default(),
            )
            .map_err(merge)?;
            match finish(Aggregate::CountDistinct, partial).map_err(merge)? {
                SortValue::Int(n) => Ok(n),
                other => Err(Error::InvalidQuery {
                    model: M::META.name,
                    message: format!("count_distinct merged to {}", other.kind()),
                }),
            }
        }
    }
}
