//! The generic runners: bind values, run on any sqlx executor of any engine, record the
//! statement's span.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sqlx::mysql::MySql;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use sqlx::{Arguments as _, Executor as _};
use tracing::Instrument;

use crate::backend::Backend;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::handler::positions::Positions;
use crate::handler::{PoolKey, PoolSlot};
use crate::raw::Row;
use crate::route::{Track, TrackKind};
use crate::session::Position;
use crate::value::{BindRef, Value};

use super::{Conn, ErrCtx, Request};

/// What Grant needs of a driver beyond [`Engine`]: its engine, and how a connection of a
/// read-only session pool is made read-only again after running SQL written by the user.
pub(crate) trait Driver: Engine {
    const BACKEND: Backend;
    /// Hand `conn` back to its pool after `SET`ting its session read-only again (in the
    /// background, bounded by `limit`; a connection that fails it is closed instead).
    fn restore_read_only(conn: PoolConnection<Self>, limit: Duration);
}

macro_rules! driver {
    ($db:ty, $backend:ident, $restore:expr) => {
        impl Driver for $db {
            const BACKEND: Backend = Backend::$backend;
            fn restore_read_only(mut conn: PoolConnection<Self>, limit: Duration) {
                let restore: Option<&'static str> = $restore;
                let Some(sql) = restore else { return };
                tokio::spawn(async move {
                    if !matches!(
                        tokio::time::timeout(limit, conn.execute(sql)).await,
                        Ok(Ok(_))
                    ) {
                        conn.close_on_drop();
                    }
                });
            }
        }
    };
}

driver!(
    Postgres,
    Postgres,
    Some("SET SESSION default_transaction_read_only = on")
);
driver!(MySql, MySql, Some(crate::handler::MYSQL_READ_ONLY_SESSION));
// SQLite: the connection was opened read-only by the driver; nothing can change that.
driver!(Sqlite, Sqlite, None);

/// The end of a statement on a pooled connection: its result, or, if it outlived `limit`,
/// a [`Error::Timeout`] after closing the connection so that it is never reused.
#[inline]
pub(crate) fn finish<DB: Driver, T>(
    slot: &PoolSlot,
    mut conn: PoolConnection<DB>,
    out: Result<Result<T>, tokio::time::error::Elapsed>,
    limit: Duration,
    req: &Request<'_>,
) -> Result<T> {
    match out {
        Ok(out) => {
            let stopped = req
                .stopped_early
                .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed));
            // Dropped mid-result, a server connection would be drained (every remaining
            // row read) before reuse: close it instead. SQLite just resets the statement
            // (and closing could lose an in-memory database).
            if stopped && DB::BACKEND != Backend::Sqlite {
                conn.close_on_drop();
                return out;
            }
            if req.user_sql && slot.read_only_session() {
                DB::restore_read_only(conn, limit.min(Duration::from_secs(30)));
            }
            out
        }
        Err(_) => {
            conn.close_on_drop();
            Err(slot.timeout_error(limit))
        }
    }
}

/// How long a statement may run: the statement timeout, or less when a deadline is sooner.
#[inline]
pub(crate) fn limit(
    statement_timeout: Option<Duration>,
    deadline: Option<tokio::time::Instant>,
) -> Duration {
    let limit = statement_timeout.unwrap_or(Duration::MAX);
    match deadline {
        Some(d) => limit.min(d.saturating_duration_since(tokio::time::Instant::now())),
        None => limit,
    }
}

pub(crate) fn bind_all<'q, DB: Driver>(values: Vec<Value>) -> Result<DB::Arguments<'q>> {
    bind_each::<DB, _>(values, DB::add)
}

/// Bind borrowed values (a read that may run twice, on another target, binds again).
pub(crate) fn bind_slice<'q, DB: Driver>(values: &'q [Value]) -> Result<DB::Arguments<'q>> {
    bind_each::<DB, _>(values.iter().map(BindRef::of).collect(), DB::add_ref)
}

/// Causal read: wait (bounded by `causal_wait`, then the statement timeout) for the
/// replica behind `conn` to replay `need`. [`Error::ReplicaBehind`] when it did not in
/// time (the connection goes back to the pool); a failure closes the connection.
pub(crate) async fn caught_up<DB: Positions>(
    slot: &PoolSlot,
    conn: &mut PoolConnection<DB>,
    need: &Position,
    wait: Duration,
    limit: Duration,
) -> Result<()> {
    let bound = limit.saturating_add(wait);
    match tokio::time::timeout(bound, DB::wait_for(&mut **conn, need, wait)).await {
        Ok(Ok(true)) => {
            slot.health.reached(need);
            Ok(())
        }
        Ok(Ok(false)) => Err(Error::ReplicaBehind),
        Ok(Err(e)) => {
            conn.close_on_drop();
            Err(ErrCtx {
                key: slot.key(),
                model: "replication",
            }
            .map(e))
        }
        Err(_) => {
            conn.close_on_drop();
            Err(slot.timeout_error(bound))
        }
    }
}

/// After a write in a session: record it (causal mode: with the writer's position, read
/// on the same connection). A position that cannot be read is logged; the write is still
/// recorded by time, so the session reads from the writer for `replica_delay`.
pub(crate) async fn record_write<DB: Positions>(
    conn: &mut PoolConnection<DB>,
    track: &Track,
    limit: Duration,
) {
    let TrackKind::Write { causal } = track.kind else {
        return;
    };
    let at = if causal {
        match tokio::time::timeout(limit, DB::written(&mut **conn)).await {
            Ok(Ok(at)) => at,
            other => {
                if other.is_err() {
                    conn.close_on_drop();
                }
                tracing::warn!(
                    database = %track.database,
                    "grant: could not read the writer's position after a write; \
                     the session reads from the writer for replica_delay"
                );
                None
            }
        }
    } else {
        None
    };
    track
        .session
        .record_write(&track.database, track.shard.as_deref(), at);
}

/// [`bind_all`] for values borrowed from the models (batch inserts).
pub(crate) fn bind_refs<'q, DB: Driver>(values: Vec<BindRef<'q>>) -> Result<DB::Arguments<'q>> {
    bind_each::<DB, _>(values, DB::add_ref)
}

/// Bind every value with `add`, after checking the engine's bind-parameter limit (nothing
/// is sent past it).
#[inline]
fn bind_each<'q, DB: Driver, V>(
    values: Vec<V>,
    add: impl Fn(&mut DB::Arguments<'q>, V) -> std::result::Result<(), sqlx::error::BoxDynError>,
) -> Result<DB::Arguments<'q>> {
    let limit = DB::BACKEND.max_bind_params();
    if values.len() > limit {
        return Err(Error::TooManyParameters {
            backend: DB::BACKEND,
            count: values.len(),
            limit,
        });
    }
    let mut args = DB::Arguments::default();
    args.reserve(values.len(), values.len() * 8);
    for (i, v) in values.into_iter().enumerate() {
        add(&mut args, v).map_err(|e| Error::Bind {
            column: format!("parameter {}", i + 1),
            message: e.to_string(),
        })?;
    }
    Ok(args)
}

/// A span for one statement, when a subscriber is interested in DEBUG spans of target
/// `grant::statement` (the callsite's interest is cached by `tracing`, so without one this
/// is a couple of loads); fields `rows` and `elapsed_us` are filled when it ends.
#[inline]
pub(crate) fn span(key: &PoolKey, req: &Request<'_>) -> Option<tracing::Span> {
    if !tracing::span_enabled!(target: "grant::statement", tracing::Level::DEBUG) {
        return None;
    }
    Some(statement_span(key, req))
}

#[cold]
fn statement_span(key: &PoolKey, req: &Request<'_>) -> tracing::Span {
    tracing::debug_span!(
        target: "grant::statement",
        "statement",
        database = %key.database,
        role = %key.role,
        shard = key.shard.as_deref(),
        pool = %key.kind,
        model = req.model,
        op = req.op,
        rows = tracing::field::Empty,
        elapsed_us = tracing::field::Empty,
    )
}

/// Run `fut` inside `span`, then record its row count and time.
pub(crate) async fn traced<T>(
    span: tracing::Span,
    fut: impl std::future::Future<Output = Result<T>>,
    rows: impl FnOnce(&T) -> u64,
) -> Result<T> {
    let start = (!span.is_disabled()).then(Instant::now);
    let out = fut.instrument(span.clone()).await;
    if let Some(start) = start {
        if let Ok(v) = &out {
            span.record("rows", rows(v));
        }
        span.record("elapsed_us", start.elapsed().as_micros() as u64);
    }
    out
}

pub(crate) async fn fetch_all_on<'c, DB, X, T>(
    x: X,
    sql: &'c str,
    args: DB::Arguments<'c>,
    err: ErrCtx<'_>,
    mut f: impl FnMut(DB::Row) -> Result<T>,
) -> Result<Vec<T>>
where
    DB: Engine,
    X: sqlx::Executor<'c, Database = DB>,
    DB::Arguments<'c>: sqlx::IntoArguments<'c, DB>,
{
    let mut stream = sqlx::query_with::<DB, _>(sql, args).fetch(x);
    let mut out = Vec::new();
    while let Some(row) = stream.try_next().await.map_err(|e| err.map(e))? {
        out.push(f(row)?);
    }
    Ok(out)
}

pub(crate) async fn fetch_optional_on<'c, DB, X>(
    x: X,
    sql: &'c str,
    args: DB::Arguments<'c>,
    err: ErrCtx<'_>,
) -> Result<Option<DB::Row>>
where
    DB: Engine,
    X: sqlx::Executor<'c, Database = DB>,
    DB::Arguments<'c>: sqlx::IntoArguments<'c, DB>,
{
    sqlx::query_with::<DB, _>(sql, args)
        .fetch_optional(x)
        .await
        .map_err(|e| err.map(e))
}

pub(crate) async fn execute_on<'c, DB, X>(
    x: X,
    sql: &'c str,
    args: DB::Arguments<'c>,
    err: ErrCtx<'_>,
) -> Result<DB::QueryResult>
where
    DB: Engine,
    X: sqlx::Executor<'c, Database = DB>,
    DB::Arguments<'c>: sqlx::IntoArguments<'c, DB>,
{
    sqlx::query_with::<DB, _>(sql, args)
        .execute(x)
        .await
        .map_err(|e| err.map(e))
}

/// Run a statement that returns no rows; returns (rows affected, last insert id).
pub(crate) async fn execute(
    conn: Conn<'_>,
    req: &Request<'_>,
    sql: &str,
    binds: Vec<Value>,
) -> Result<(u64, Option<i64>)> {
    run_statement!(conn, req, req.model, |v| v.0, |x, DB, err| {
        let args = bind_all::<DB>(binds)?;
        let r = execute_on::<DB, _>(x, sql, args, err).await?;
        Ok((DB::rows_affected(&r), DB::last_insert_id(&r)))
    })
}

/// Raw rows for raw SQL.
pub(crate) async fn fetch_rows(
    conn: Conn<'_>,
    req: &Request<'_>,
    sql: &str,
    binds: Vec<Value>,
) -> Result<Vec<Row>> {
    run_read!(conn, req, req.model, |v| v.len() as u64, |x, DB, err| {
        let args = bind_slice::<DB>(&binds)?;
        fetch_all_on::<DB, _, Row>(x, sql, args, err, |row| Ok(DB::wrap_row(row))).await
    })
}

/// The first raw row for raw SQL, if any (the rest are not fetched).
pub(crate) async fn fetch_row(
    conn: Conn<'_>,
    req: &Request<'_>,
    sql: &str,
    binds: Vec<Value>,
) -> Result<Option<Row>> {
    run_read!(
        conn,
        req,
        req.model,
        |v| v.is_some() as u64,
        |x, DB, err| {
            let args = bind_slice::<DB>(&binds)?;
            Ok(fetch_optional_on::<DB, _>(x, sql, args, err)
                .await?
                .map(DB::wrap_row))
        }
    )
}

/// Raw rows for a fan-out: at most `cap` rows are kept (the rest are not read: the result
/// is dropped after the row past the cap); `true` when rows were left unread.
pub(crate) async fn fetch_rows_capped(
    conn: Conn<'_>,
    req: &Request<'_>,
    sql: &str,
    binds: Vec<Value>,
    cap: Option<usize>,
) -> Result<(Vec<Row>, bool)> {
    run_read!(conn, req, req.model, |v| v.0.len() as u64, |x, DB, err| {
        let args = bind_slice::<DB>(&binds)?;
        let mut stream = sqlx::query_with::<DB, _>(sql, args).fetch(x);
        let mut out = Vec::new();
        let mut truncated = false;
        while let Some(row) = stream.try_next().await.map_err(|e| err.map(e))? {
            if cap.is_some_and(|cap| out.len() >= cap) {
                truncated = true;
                if let Some(flag) = req.stopped_early {
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                break;
            }
            out.push(DB::wrap_row(row));
        }
        Ok((out, truncated))
    })
}
