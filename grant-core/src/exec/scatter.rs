//! Running one statement on several shards (scatter-gather) and merging the results.
//!
//! Shards are queried in parallel, at most `concurrency` at once, each statement bounded
//! by the scatter's one deadline (and its own statement timeout). Every shard statement
//! is an ordinary routed statement of that shard: replicas, sessions and failover work
//! per shard. Rows are merged with `grant_sharding::merge`: each shard is asked for
//! `LIMIT limit + offset` in the same order (text compared by code point, NULLs placed as
//! the engine places them), the rows k-way merged, and `OFFSET`/`LIMIT` applied once.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use grant_sharding::merge::{compare_rows, merge_sorted, MergeSorted, OrderBy, SortValue};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::grant::Grant;
use crate::model::Model;
use crate::query::{Direction, QueryParts, Select};
use crate::route::Scatter;
use crate::value::{ColumnType as _, Value};

use super::{ops, Access, Target};

/// How one shard of a scatter went.
#[derive(Debug)]
#[non_exhaustive]
pub struct ShardOutcome {
    /// The shard (`None`: the statement ran on one target, not a scatter).
    pub shard: Option<String>,
    /// Rows (or, for counts and writes, the number) the shard returned.
    pub rows: u64,
    /// How long its statement took.
    pub elapsed: Duration,
    /// Its error, when it failed (partial mode; strict mode fails the whole query).
    pub error: Option<Error>,
}

/// The rows of a query, and how each shard it visited went
/// ([`Query::all_with_report`](crate::Query::all_with_report)).
#[derive(Debug)]
#[non_exhaustive]
pub struct ScatterReport<T> {
    /// The merged rows (with order, offset and limit applied once).
    pub rows: Vec<T>,
    /// One outcome per shard visited, in shard-name order.
    pub shards: Vec<ShardOutcome>,
}

impl<T> ScatterReport<T> {
    /// The shards that failed, with their errors.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.shards
            .iter()
            .filter_map(|o| match (&o.shard, &o.error) {
                (Some(s), Some(e)) => Some((s.as_str(), e)),
                (None, Some(e)) => Some(("", e)),
                _ => None,
            })
    }

    /// Whether every shard answered.
    pub fn is_complete(&self) -> bool {
        self.shards.iter().all(|o| o.error.is_none())
    }
}

/// One shard's result.
pub(crate) struct Part<T> {
    pub(crate) shard: Arc<str>,
    pub(crate) result: Result<T>,
    pub(crate) elapsed: Duration,
}

/// Run `f` on every shard of `sc`, at most `sc.concurrency` at once; results in shard order.
pub(crate) async fn run_each<'g, T, F, Fut>(grant: &'g Grant, sc: &Scatter, f: F) -> Vec<Part<T>>
where
    F: Fn(Target<'g>) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = sc.timeout.map(|t| tokio::time::Instant::now() + t);
    tracing::debug!(
        database = %sc.database,
        shards = sc.shards.len(),
        concurrency = sc.concurrency,
        "grant: scatter"
    );
    // Built up front, each from an owned name (a closure over borrowed names would make
    // the future's `Send` bound higher-ranked); futures do nothing until polled.
    let mut parts = Vec::with_capacity(sc.shards.len());
    for shard in sc.shards.iter().cloned() {
        let fut = f(part_of(grant, sc, &shard, deadline));
        parts.push(async move {
            let start = Instant::now();
            let result = fut.await;
            Part {
                shard,
                result,
                elapsed: start.elapsed(),
            }
        });
    }
    futures_util::stream::iter(parts)
        .buffered(sc.concurrency.max(1))
        .collect()
        .await
}

/// Run `f` on the shards of `sc` until one returns `Some`; the shards still running are
/// dropped then. An error of a shard fails the call only if no shard has the row.
pub(crate) async fn first_hit<'g, T, F, Fut>(
    grant: &'g Grant,
    sc: &Scatter,
    f: F,
) -> Result<Option<T>>
where
    F: Fn(Target<'g>) -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = sc.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut parts = Vec::with_capacity(sc.shards.len());
    for shard in sc.shards.iter().cloned() {
        let fut = f(part_of(grant, sc, &shard, deadline));
        parts.push(async move { (shard, fut.await) });
    }
    let mut running = futures_util::stream::iter(parts).buffer_unordered(sc.concurrency.max(1));
    let mut failed: Option<Error> = None;
    while let Some((shard, result)) = running.next().await {
        match result {
            Ok(Some(v)) => return Ok(Some(v)),
            Ok(None) => {}
            Err(e) => {
                if failed.is_none() {
                    failed = Some(shard_failed(&sc.database, &shard, e));
                }
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// The target of one shard of a scatter: its database, the shard, the deadline.
pub(crate) fn part_of<'g>(
    grant: &'g Grant,
    sc: &Scatter,
    shard: &Arc<str>,
    deadline: Option<tokio::time::Instant>,
) -> Target<'g> {
    Target::At(
        grant,
        super::Pinned {
            database: Some(sc.database.clone()),
            shard: Some(shard.clone()),
            deadline,
        },
    )
}

/// A shard's error, naming the shard.
pub(crate) fn shard_failed(database: &str, shard: &str, e: Error) -> Error {
    match e {
        already @ Error::ShardFailed { .. } => already,
        e => Error::ShardFailed {
            database: database.to_string(),
            shard: shard.to_string(),
            source: Box::new(e),
        },
    }
}

/// Split parts into values and outcomes: strict (`partial` false) fails with the first
/// failed shard's error (in shard order); partial keeps the errors in the outcomes.
pub(crate) fn gather<T>(
    database: &str,
    parts: Vec<Part<T>>,
    partial: bool,
    count: impl Fn(&T) -> u64,
) -> Result<(Vec<T>, Vec<ShardOutcome>)> {
    let mut values = Vec::with_capacity(parts.len());
    let mut outcomes = Vec::with_capacity(parts.len());
    for part in parts {
        match part.result {
            Ok(v) => {
                outcomes.push(ShardOutcome {
                    shard: Some(part.shard.to_string()),
                    rows: count(&v),
                    elapsed: part.elapsed,
                    error: None,
                });
                values.push(v);
            }
            Err(e) if !partial => return Err(shard_failed(database, &part.shard, e)),
            Err(e) => {
                tracing::warn!(
                    database,
                    shard = %part.shard,
                    error = %e,
                    "grant: shard failed; partial results returned"
                );
                outcomes.push(ShardOutcome {
                    shard: Some(part.shard.to_string()),
                    rows: 0,
                    elapsed: part.elapsed,
                    error: Some(e),
                });
            }
        }
    }
    Ok((values, outcomes))
}

/// Rows of `M` from every shard of `sc`, merged: `ORDER BY`, then `OFFSET`/`LIMIT` once.
pub(crate) async fn fetch_models<M: Model>(
    grant: &Grant,
    sc: &Scatter,
    parts: &QueryParts,
    limit: Option<u64>,
) -> Result<ScatterReport<M>> {
    let limit = match (limit, parts.limit) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let offset = parts.offset.unwrap_or(0);
    let mut per_shard = parts.clone();
    per_shard.offset = None;
    per_shard.limit = limit.map(|l| l.saturating_add(offset));
    per_shard.binary_order = Some(M::META.columns);
    let ran = run_each(grant, sc, |t| {
        ops::fetch_models::<M>(t, Select::Query(&per_shard, None), Access::Read)
    })
    .await;
    let (shards, outcomes) = gather(&sc.database, ran, parts.partial, |v| v.len() as u64)?;
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let limit = limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut seen = std::collections::HashSet::new();
    let mut fresh = |m: &M| !parts.dedupe || seen.insert(key_bytes(&m.key().to_value()));
    let rows = if parts.order.is_empty() {
        shards
            .into_iter()
            .flatten()
            .filter(|m| fresh(m))
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    } else {
        let backend = grant
            .handler()
            .with_entry(&sc.database, |e| Ok(e.backend()))?;
        let (indexes, order) = order_keys::<M>(parts, backend)?;
        let keyed: Vec<Vec<(Vec<SortValue>, M)>> = shards
            .into_iter()
            .map(|rows| {
                rows.into_iter()
                    .map(|m| (sort_key(&m, &indexes), m))
                    .collect()
            })
            .collect();
        let cmp = compare_rows(&order);
        if parts.dedupe {
            MergeSorted::new(keyed, |a: &(Vec<SortValue>, M), b: &(Vec<SortValue>, M)| {
                cmp(&a.0, &b.0)
            })
            .map(|(_, m)| m)
            .filter(|m| fresh(m))
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect()
        } else {
            merge_sorted(keyed, |a, b| cmp(&a.0, &b.0), offset, limit)
                .into_iter()
                .map(|(_, m)| m)
                .collect()
        }
    };
    Ok(ScatterReport {
        rows,
        shards: outcomes,
    })
}

/// The column indexes of the query's order terms, and the merge's order over key rows
/// (NULLs where `backend` puts them: last ascending on PostgreSQL, first on the others).
fn order_keys<M: Model>(
    parts: &QueryParts,
    backend: Backend,
) -> Result<(Vec<usize>, Vec<OrderBy>)> {
    let mut indexes = Vec::with_capacity(parts.order.len());
    let mut order = Vec::with_capacity(parts.order.len());
    for (k, o) in parts.order.iter().enumerate() {
        let i = M::META
            .columns
            .iter()
            .position(|c| c.name == o.column)
            .ok_or_else(|| Error::InvalidQuery {
                model: M::META.name,
                message: format!("cannot order by `{}`: not a column of the model", o.column),
            })?;
        indexes.push(i);
        let term = match o.direction {
            Direction::Asc => OrderBy::asc(k),
            Direction::Desc => OrderBy::desc(k),
        };
        order.push(match (backend, o.direction) {
            (Backend::Postgres, _) => term,
            (_, Direction::Asc) => term.nulls_first(),
            (_, Direction::Desc) => term.nulls_last(),
        });
    }
    Ok((indexes, order))
}

fn sort_key<M: Model>(m: &M, indexes: &[usize]) -> Vec<SortValue> {
    let values = m.values();
    indexes.iter().map(|&i| sort_value(&values[i])).collect()
}

/// A value as the merge compares it.
pub(crate) fn sort_value(v: &Value) -> SortValue {
    match v {
        Value::Null(_) => SortValue::Null,
        Value::Bool(b) => SortValue::Bool(*b),
        Value::I16(n) => SortValue::Int(i64::from(*n)),
        Value::I32(n) => SortValue::Int(i64::from(*n)),
        Value::I64(n) => SortValue::Int(*n),
        Value::F32(f) => SortValue::Float(f64::from(*f)),
        Value::F64(f) => SortValue::Float(*f),
        Value::Text(s) => SortValue::Text(s.clone()),
        Value::Bytes(b) => SortValue::Bytes(b.clone()),
        Value::DateTimeUtc(t) => SortValue::Timestamp(t.timestamp_micros()),
        Value::NaiveDateTime(t) => SortValue::Timestamp(t.and_utc().timestamp_micros()),
        Value::NaiveDate(d) => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
            SortValue::Date(i32::try_from((*d - epoch).num_days()).unwrap_or(i32::MAX))
        }
        Value::Uuid(u) => SortValue::Uuid(u.into_bytes()),
        Value::Json(j) => SortValue::Text(j.to_string()),
    }
}

/// A primary key as bytes that are equal exactly when the keys are (for de-duplication).
pub(crate) fn key_bytes(v: &Value) -> Vec<u8> {
    let tagged = |tag: u8, bytes: &[u8]| {
        let mut out = Vec::with_capacity(bytes.len() + 1);
        out.push(tag);
        out.extend_from_slice(bytes);
        out
    };
    match v {
        Value::I16(n) => tagged(0, &i64::from(*n).to_le_bytes()),
        Value::I32(n) => tagged(0, &i64::from(*n).to_le_bytes()),
        Value::I64(n) => tagged(0, &n.to_le_bytes()),
        Value::Text(s) => tagged(1, s.as_bytes()),
        Value::Bytes(b) => tagged(2, b),
        Value::Uuid(u) => tagged(3, u.as_bytes()),
        other => tagged(9, format!("{other:?}").as_bytes()),
    }
}
