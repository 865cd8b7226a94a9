//! `GROUP BY` on one target, and merged by group key across shards: counts and sums are
//! added, averages recomputed from the added sums and counts, minimums and maximums
//! compared. Groups are ordered by key the same way in both cases.

use std::cmp::Ordering;
use std::collections::HashMap;

use grant_sharding::merge::{compare_rows, OrderBy, SortValue};

use crate::backend::Backend;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::query::group::{Group, GroupAgg};
use crate::query::QueryParts;
use crate::sql::SqlWriter;
use crate::value::{ColumnType as _, SqlType, Value};

use super::run::{bind_slice, fetch_all_on};
use super::scatter::{self, key_bytes, sort_value};
use super::sharded::{plan_query, Planned};
use super::{resolve, Access, Request, Target};

/// One aggregate of one group, as a shard computed it.
#[derive(Debug, Clone)]
enum Part {
    Count(i64),
    Sum(Value),
    Avg(Value, i64),
    Extreme(Value),
}

type Partial = (Vec<Value>, Vec<Part>);

/// The grouped query on `target`: merged across shards when it scatters.
pub(crate) async fn group<M: Model>(
    target: Target<'_>,
    parts: &QueryParts,
    keys: &[(&'static str, SqlType)],
    aggs: &[GroupAgg],
) -> Result<Vec<Group>> {
    let mut base = parts.clone();
    base.order.clear();
    let base = &base;
    let planned = plan_query(target, M::META, parts)?;
    match planned {
        Planned::One(t) => {
            let rows = group_one::<M>(t, base, keys, aggs).await?;
            rows.into_iter().map(finish).collect()
        }
        Planned::Scatter(g, sc) => {
            let backend = g.handler().with_entry(&sc.database, |e| Ok(e.backend()))?;
            let ran = scatter::run_each(g, &sc, |t| group_one::<M>(t, base, keys, aggs)).await;
            let (shards, _) =
                scatter::gather(&sc.database, ran, parts.partial, |v| v.len() as u64)?;
            let mut merged: HashMap<Vec<u8>, Partial> = HashMap::new();
            for (key, values) in shards.into_iter().flatten() {
                let id: Vec<u8> = key.iter().flat_map(key_bytes).collect();
                match merged.get_mut(&id) {
                    None => {
                        merged.insert(id, (key, values));
                    }
                    Some((_, acc)) => {
                        for ((a, v), agg) in acc.iter_mut().zip(values).zip(aggs) {
                            combine::<M>(a, v, agg)?;
                        }
                    }
                }
            }
            let order: Vec<OrderBy> = (0..keys.len())
                .map(|i| match backend {
                    Backend::Postgres => OrderBy::asc(i),
                    _ => OrderBy::asc(i).nulls_first(),
                })
                .collect();
            let cmp = compare_rows(&order);
            let mut groups: Vec<(Vec<SortValue>, Partial)> = merged
                .into_values()
                .map(|p| (p.0.iter().map(sort_value).collect(), p))
                .collect();
            groups.sort_by(|a, b| cmp(&a.0, &b.0));
            groups.into_iter().map(|(_, p)| finish(p)).collect()
        }
    }
}

/// Add shard partial `v` into `a`.
fn combine<M: Model>(a: &mut Part, v: Part, agg: &GroupAgg) -> Result<()> {
    let overflow = || Error::AggregateOverflow {
        model: M::META.name,
        op: "group_by",
        column: "(group)",
    };
    match (a, v) {
        (Part::Count(a), Part::Count(b)) => *a = a.checked_add(b).ok_or_else(overflow)?,
        (Part::Sum(a), Part::Sum(b)) => *a = add(a, &b).ok_or_else(overflow)?,
        (Part::Avg(sa, na), Part::Avg(sb, nb)) => {
            *sa = add(sa, &sb).ok_or_else(overflow)?;
            *na = na.checked_add(nb).ok_or_else(overflow)?;
        }
        (Part::Extreme(a), Part::Extreme(b)) => {
            if better(a, &b, matches!(agg, GroupAgg::Max { .. })) {
                *a = b;
            }
        }
        _ => unreachable!("shards return the same aggregates"),
    }
    Ok(())
}

/// Sums of two shards: NULL is "no value".
fn add(a: &Value, b: &Value) -> Option<Value> {
    Some(match (a, b) {
        (Value::Null(_), other) | (other, Value::Null(_)) => other.clone(),
        (Value::I64(x), Value::I64(y)) => Value::I64(x.checked_add(*y)?),
        (Value::F64(x), Value::F64(y)) => Value::F64(x + y),
        _ => return None,
    })
}

/// The finished group: averages divided out.
fn finish((key, parts): Partial) -> Result<Group> {
    let values = parts
        .into_iter()
        .map(|p| match p {
            Part::Count(n) => Value::I64(n),
            Part::Sum(v) | Part::Extreme(v) => v,
            Part::Avg(sum, n) => match (sum, n) {
                (Value::I64(s), n) if n > 0 => Value::F64(s as f64 / n as f64),
                (Value::F64(s), n) if n > 0 => Value::F64(s / n as f64),
                _ => Value::Null(SqlType::F64),
            },
        })
        .collect();
    Ok(Group { key, values })
}

/// The grouped query on one target.
async fn group_one<M: Model>(
    target: Target<'_>,
    parts: &QueryParts,
    keys: &[(&'static str, SqlType)],
    aggs: &[GroupAgg],
) -> Result<Vec<Partial>> {
    let (target, pinned) = target.split();
    let mut req = Request::model(M::META, Access::Read, "group_by");
    pinned.apply(&mut req);
    let conn = resolve(target, &req)?;
    let backend = conn.backend();
    let mut w = SqlWriter::new(backend, 256);
    let mut binds = Vec::new();
    // MariaDB/MySQL text keys group by bytes (not the collation), each returned as itself.
    let bytes_key = |ty: SqlType| ty == SqlType::Text && backend == Backend::MySql;
    w.push("SELECT ");
    for (i, (column, ty)) in keys.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        if bytes_key(*ty) {
            w.push("MIN(").ident(column).push(")");
        } else {
            w.ident(column);
        }
    }
    for a in aggs {
        w.push(", ");
        match a {
            GroupAgg::Count => {
                w.push("COUNT(*)");
            }
            GroupAgg::Sum { column, float } => super::aggregate::sum_expr(&mut w, column, *float),
            GroupAgg::Avg { column, float } => {
                super::aggregate::sum_expr(&mut w, column, *float);
                w.push(", COUNT(").ident(column).push(")");
            }
            GroupAgg::Min { column, .. } => {
                w.push("MIN(").ident(column).push(")");
            }
            GroupAgg::Max { column, .. } => {
                w.push("MAX(").ident(column).push(")");
            }
        }
    }
    w.push(" FROM ").ident(M::META.table);
    parts.write_where(&mut w, &mut binds);
    w.push(" GROUP BY ");
    for (i, (column, ty)) in keys.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        // PostgreSQL and SQLite compare text for equality by bytes already.
        super::aggregate::binary(&mut w, column, bytes_key(*ty));
    }
    w.push(" ORDER BY ");
    for (i, (column, ty)) in keys.iter().enumerate() {
        if i > 0 {
            w.push(", ");
        }
        super::aggregate::binary(&mut w, column, *ty == SqlType::Text);
    }
    let sql = w.finish();
    let width = keys.len();
    run_read!(
        conn,
        &req,
        M::META.name,
        |v| v.len() as u64,
        |x, DB, err| {
            let args = bind_slice::<DB>(&binds)?;
            fetch_all_on::<DB, _, Partial>(x, &sql, args, err, |row| {
                let mut key = Vec::with_capacity(width);
                for (i, (_, ty)) in keys.iter().enumerate() {
                    key.push(decode_value::<DB>(&row, i, *ty).map_err(|e| err.map(e))?);
                }
                let mut i = width;
                let mut values = Vec::with_capacity(aggs.len());
                for a in aggs {
                    let at = |i: usize, ty: SqlType| decode_value::<DB>(&row, i, ty);
                    let part = match a {
                        GroupAgg::Count => {
                            Part::Count(DB::decode_at::<i64>(&row, i).map_err(|e| err.map(e))?)
                        }
                        GroupAgg::Sum { float, .. } => Part::Sum(
                            at(i, if *float { SqlType::F64 } else { SqlType::I64 })
                                .map_err(|e| err.map(e))?,
                        ),
                        GroupAgg::Avg { float, .. } => {
                            let sum = at(i, if *float { SqlType::F64 } else { SqlType::I64 })
                                .map_err(|e| err.map(e))?;
                            i += 1;
                            Part::Avg(sum, DB::decode_at::<i64>(&row, i).map_err(|e| err.map(e))?)
                        }
                        GroupAgg::Min { ty, .. } | GroupAgg::Max { ty, .. } => {
                            Part::Extreme(at(i, *ty).map_err(|e| err.map(e))?)
                        }
                    };
                    i += 1;
                    values.push(part);
                }
                Ok((key, values))
            })
            .await
        }
    )
}

/// Merge one shard's min/max into the running one.
fn better(current: &Value, candidate: &Value, max: bool) -> bool {
    if matches!(candidate, Value::Null(_)) {
        return false;
    }
    if matches!(current, Value::Null(_)) {
        return true;
    }
    let o = OrderBy::asc(0).compare(&sort_value(candidate), &sort_value(current));
    if max {
        o == Ordering::Greater
    } else {
        o == Ordering::Less
    }
}

/// A column of type `ty` at `i`, as a [`Value`] (`NULL` typed).
fn decode_value<DB: Engine>(row: &DB::Row, i: usize, ty: SqlType) -> Result<Value, sqlx::Error> {
    fn get<DB: Engine, T: crate::ColumnType>(
        row: &DB::Row,
        i: usize,
    ) -> Result<Value, sqlx::Error> {
        DB::decode_at::<Option<T>>(row, i).map(|v| v.to_value())
    }
    match ty {
        SqlType::Bool => get::<DB, bool>(row, i),
        SqlType::I16 => get::<DB, i16>(row, i),
        SqlType::I32 => get::<DB, i32>(row, i),
        SqlType::I64 => get::<DB, i64>(row, i),
        SqlType::F32 => get::<DB, f32>(row, i),
        SqlType::F64 => get::<DB, f64>(row, i),
        SqlType::Text => get::<DB, String>(row, i),
        SqlType::Bytes => get::<DB, Vec<u8>>(row, i),
        SqlType::DateTimeUtc => get::<DB, chrono::DateTime<chrono::Utc>>(row, i),
        SqlType::NaiveDateTime => get::<DB, chrono::NaiveDateTime>(row, i),
        SqlType::NaiveDate => get::<DB, chrono::NaiveDate>(row, i),
        SqlType::Uuid => get::<DB, uuid::Uuid>(row, i),
        SqlType::Json => get::<DB, serde_json::Value>(row, i),
    }
}
