//! Running statements: resolve the target (routing or a transaction), bind the values,
//! run on the concrete sqlx pool or connection, decode, and record a tracing span.
//!
//! This module holds the targets and their resolution; `run` the generic per-engine
//! runners, `ops` the model operations built on them, `errors` the mapping of driver errors.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::grant::Grant;
use crate::handler::{is_target_failure, PoolKey};
use crate::model::ModelMeta;
use crate::route::{Again, Routed, TrackKind};
use crate::transaction::{Transaction, TxInner};
use std::sync::Arc;

/// Whether a statement reads or writes; writes are refused on read-only targets before
/// any SQL is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A read: routed to the reading role unless the scope says otherwise.
    Read,
    /// A write: routed to the writer; refused in reading / prevent-writes scopes and on
    /// read-only databases.
    Write,
}

/// Where a statement runs: routed through a [`Grant`], on a named shard, or inside a
/// [`Transaction`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Target<'e> {
    /// Route by model, scope and config.
    Grant(&'e Grant),
    /// Run inside this transaction (its database's writer).
    Tx(&'e mut Transaction),
    /// Route like [`Target::Grant`], on this shard of the model's database
    /// ([`Grant::on_shard`](crate::Grant::on_shard)).
    Shard(&'e Grant, Arc<str>),
    /// Route like [`Target::Grant`], on a named database and/or shard with a deadline
    /// ([`Grant::on_database`](crate::Grant::on_database), one shard of a scatter).
    #[doc(hidden)]
    At(&'e Grant, Pinned),
}

/// What a target fixes beyond the routing: a database, a shard, a deadline.
#[doc(hidden)]
#[derive(Debug, Default, Clone)]
pub struct Pinned {
    pub(crate) database: Option<Arc<str>>,
    pub(crate) shard: Option<Arc<str>>,
    pub(crate) deadline: Option<tokio::time::Instant>,
}

impl Pinned {
    /// Set the database, shard and deadline of `req`.
    #[inline]
    pub(crate) fn apply<'a>(&'a self, req: &mut Request<'a>) {
        if let Some(d) = &self.database {
            req.database = Some(d);
            // A database named on the call is the model's entry for this statement: its
            // `connects_to(reading = ..)` and Rails shards do not apply.
            req.reading = None;
            req.shards = &[];
        }
        if let Some(s) = &self.shard {
            req.shard = Some(s);
        }
        if self.deadline.is_some() {
            req.deadline = self.deadline;
        }
    }
}

impl<'e> Target<'e> {
    /// The target to route on, and what it pins.
    #[inline]
    pub(crate) fn split(self) -> (Target<'e>, Pinned) {
        match self {
            Target::Shard(g, shard) => (
                Target::Grant(g),
                Pinned {
                    shard: Some(shard),
                    ..Pinned::default()
                },
            ),
            Target::At(g, pinned) => (Target::Grant(g), pinned),
            other => (other, Pinned::default()),
        }
    }
}

/// Something statements can run on: `&Grant` (routed) or `&mut Transaction` (pinned).
pub trait Executor<'e>: Send + 'e {
    /// The target.
    fn into_target(self) -> Target<'e>;
}

impl<'e> Executor<'e> for &'e Grant {
    #[inline]
    fn into_target(self) -> Target<'e> {
        Target::Grant(self)
    }
}

impl<'e> Executor<'e> for &'e mut Transaction {
    #[inline]
    fn into_target(self) -> Target<'e> {
        Target::Tx(self)
    }
}

/// What a statement is for, and against which database.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    /// The model's name, for errors (`raw` for raw SQL).
    pub model: &'static str,
    /// The database (`None`: the default).
    pub database: Option<&'a str>,
    /// The shard, when the statement names it (`on_shard`) or its key resolved to it;
    /// `None`: the scope's shard, if any.
    pub shard: Option<&'a str>,
    /// An entry that serves reads (`#[connects_to(reading = ..)]`).
    pub reading: Option<&'a str>,
    /// Rails-style shards of the model (`#[connects_to(shards(..))]`): the shard names
    /// database entries.
    pub shards: &'static [crate::model::ShardEntry],
    pub access: Access,
    /// A short name of the operation, for the span.
    pub op: &'static str,
    /// SQL text written by the user (raw SQL, `find_by_sql`), not by Grant: on a read-only
    /// session its connection is made read-only again before it returns to the pool.
    pub user_sql: bool,
    /// A deadline for the statement, sooner than the statement timeout (a fan-out's
    /// `timeout`): the statement is bounded by whichever comes first.
    pub deadline: Option<tokio::time::Instant>,
    /// Set by a statement that stopped reading its result early (a fan-out's row cap): its
    /// PostgreSQL/MariaDB connection is closed rather than drained on its way back to the
    /// pool.
    pub stopped_early: Option<&'a std::sync::atomic::AtomicBool>,
}

impl<'a> Request<'a> {
    pub(crate) fn model(meta: &'a ModelMeta, access: Access, op: &'static str) -> Self {
        Request {
            model: meta.name,
            database: meta.database,
            shard: None,
            reading: meta.reading,
            shards: meta.shards,
            access,
            op,
            user_sql: false,
            deadline: None,
            stopped_early: None,
        }
    }
}

/// A resolved connection source.
pub(crate) enum Conn<'e> {
    Pool(Routed<'e>),
    Tx {
        key: &'e PoolKey,
        inner: &'e mut TxInner,
    },
}

impl Conn<'_> {
    fn key(&self) -> &PoolKey {
        match self {
            Conn::Pool(routed) => routed.slot.key(),
            Conn::Tx { key, .. } => key,
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Conn::Pool(routed) => routed.slot.backend(),
            Conn::Tx { inner, .. } => inner.backend(),
        }
    }
}

/// Resolve `target` for `req`.
pub(crate) fn resolve<'e>(target: Target<'e>, req: &Request<'_>) -> Result<Conn<'e>> {
    match target {
        Target::Grant(grant) => grant.route(req).map(Conn::Pool),
        Target::Tx(tx) => {
            tx.check(req)?;
            let (key, inner) = tx.parts();
            Ok(Conn::Tx { key, inner })
        }
        Target::Shard(grant, _) | Target::At(grant, _) => grant.route(req).map(Conn::Pool),
    }
}

/// After one attempt of a read: count it and record it in the session, or route it again
/// (a replica that failed, or one that did not catch up with the session in time). `None`:
/// `conn` now holds the new route; run again.
pub(crate) fn after_read<T>(
    conn: &mut Conn<'_>,
    req: &Request<'_>,
    out: Result<T>,
    failovers: &mut u8,
) -> Option<Result<T>> {
    use std::sync::atomic::Ordering::Relaxed;
    let Conn::Pool(routed) = conn else {
        return Some(out);
    };
    match &out {
        Ok(_) if req.access == Access::Write => Some(out),
        Ok(_) => {
            routed.slot.health.reads.fetch_add(1, Relaxed);
            if let Some(track) = &routed.track {
                if track.kind == TrackKind::Read {
                    routed.slot.health.with_position(|at| {
                        if let Some(at) = at {
                            track
                                .session
                                .record_read(&track.database, track.shard.as_deref(), at);
                        }
                    });
                }
            }
            Some(out)
        }
        Err(Error::ReplicaBehind) => {
            // Causal routes always carry their handle; without one, read the writer's
            // read-only sessions directly rather than loop.
            let Some(grant) = routed.grant else {
                routed.wait_for = None;
                return None;
            };
            let failed = routed.slot.clone();
            tracing::debug!(
                database = %failed.key().database,
                pool = %failed.key().kind,
                "grant: replica behind the session after causal_wait; reading from the writer"
            );
            match grant.reroute(req, &failed, Again::Behind) {
                Ok(next) => {
                    *routed = next;
                    None
                }
                Err(e) => Some(Err(e)),
            }
        }
        Err(e) if is_target_failure(e) => {
            let failed = routed.slot.clone();
            failed.failed(e);
            let grant = match routed.grant {
                Some(g) if *failovers == 0 && failed.is_replica() => g,
                _ => return Some(out),
            };
            *failovers += 1;
            match grant.reroute(req, &failed, Again::Failed) {
                Ok(next) => {
                    // Counted only when the read is retried elsewhere (with
                    // `replica_fallback = "error"` and no replica left it is not).
                    failed.health.fallbacks.fetch_add(1, Relaxed);
                    tracing::info!(
                        database = %failed.key().database,
                        shard = failed.key().shard.as_deref(),
                        from = %failed.key().kind,
                        to = %next.slot.key().kind,
                        error = %e,
                        "grant: read failed over"
                    );
                    *routed = next;
                    None
                }
                Err(_) => Some(out),
            }
        }
        Err(_) => Some(out),
    }
}

/// Runs `$body` with `$x` bound to the concrete sqlx connection and `$db` to its database
/// type, bounded by the statement timeout. `$conn` is a `&mut Conn`. A pooled connection is
/// acquired explicitly (bounded by the pool's connect and acquire timeouts) and, if the
/// statement times out, closed instead of going back to the pool; a transaction whose
/// statement times out is aborted. Around the statement: a causal read first waits for the
/// replica to replay the session's position; a write in a session records itself.
macro_rules! dispatch {
    ($conn:expr, $req:expr, |$x:ident, $db:ident| $body:expr) => {
        'dispatch: {
            match $conn {
                $crate::exec::Conn::Pool(routed) => {
                    let limit = $crate::exec::run::limit(
                        routed.slot.statement_timeout(),
                        $req.deadline,
                    );
                    match routed.slot.pool() {
                        $crate::handler::Pool::Postgres(p) => pooled_arm!('dispatch, routed, p, limit, $req, ::sqlx::postgres::Postgres, |$x, $db| $body),
                        $crate::handler::Pool::MySql(p) => pooled_arm!('dispatch, routed, p, limit, $req, ::sqlx::mysql::MySql, |$x, $db| $body),
                        $crate::handler::Pool::Sqlite(p) => pooled_arm!('dispatch, routed, p, limit, $req, ::sqlx::sqlite::Sqlite, |$x, $db| $body),
                    }
                }
                $crate::exec::Conn::Tx { inner, .. } => {
                    let limit = match inner.check_open() {
                        Ok(limit) => limit.unwrap_or(std::time::Duration::MAX),
                        Err(e) => break 'dispatch Err(e),
                    };
                    let r = match inner.conn_mut() {
                        Some($crate::transaction::TxConn::Postgres(c)) => tx_arm!(c, limit, ::sqlx::postgres::Postgres, |$x, $db| $body),
                        Some($crate::transaction::TxConn::MySql(c)) => tx_arm!(c, limit, ::sqlx::mysql::MySql, |$x, $db| $body),
                        Some($crate::transaction::TxConn::Sqlite(c)) => tx_arm!(c, limit, ::sqlx::sqlite::Sqlite, |$x, $db| $body),
                        None => Ok(Err(inner.aborted())),
                    };
                    match r {
                        Ok(r) => {
                            if r.is_ok() && $req.access == $crate::exec::Access::Write {
                                inner.wrote();
                            }
                            r
                        }
                        Err(_) => Err(inner.timed_out(limit)),
                    }
                }
            }
        }
    };
}

/// One engine's arm of [`dispatch!`] on a pool: acquire (bounded), wait for the replica
/// to catch up (causal reads), run `$body` bounded by the statement timeout, record a
/// session's write, hand the connection back (or close it after a timeout).
macro_rules! pooled_arm {
    ($label:lifetime, $routed:ident, $pool:ident, $limit:ident, $req:expr, $engine:ty, |$x:ident, $db:ident| $body:expr) => {{
        type $db = $engine;
        let slot = &$routed.slot;
        // A deadline (a scatter's, a fan-out's) bounds the wait for a connection too.
        // (Boxed: the timer would otherwise grow every statement's future, deadline or not.)
        let acquired = match $req.deadline {
            Some(deadline) => {
                match Box::pin(tokio::time::timeout_at(deadline, slot.acquire($pool))).await {
                    Ok(acquired) => acquired,
                    Err(_) => Err(slot.timeout_error($limit)),
                }
            }
            None => slot.acquire($pool).await,
        };
        let mut pc = match acquired {
            Ok(pc) => pc,
            Err(e) => break $label Err(e),
        };
        if let Some((need, wait)) = &$routed.wait_for {
            if let Err(e) = $crate::exec::run::caught_up::<$engine>(slot, &mut pc, need, *wait, $limit).await {
                break $label Err(e);
            }
        }
        let r = tokio::time::timeout($limit, async {
            let $x = &mut *pc;
            $body
        })
        .await;
        if let (Ok(Ok(_)), Some(track)) = (&r, &$routed.track) {
            $crate::exec::run::record_write::<$engine>(&mut pc, track, $limit).await;
        }
        $crate::exec::run::finish(slot, pc, r, $limit, $req)
    }};
}

/// One engine's arm of [`dispatch!`] in a transaction: `$body` bounded by the timeout.
macro_rules! tx_arm {
    ($c:ident, $limit:ident, $engine:ty, |$x:ident, $db:ident| $body:expr) => {{
        type $db = $engine;
        tokio::time::timeout($limit, async {
            let $x = &mut **$c;
            $body
        })
        .await
    }};
}

/// Runs one statement on `$conn` (a `&mut Conn`): a span for it, error mapping naming its
/// target, and `$body` with `$x` the concrete connection, `$db` its database type and
/// `$err` the mapper. `$rows` counts the rows of the result for the span.
///
/// The span exists only when a subscriber is interested in it ([`run::span`]); without one
/// the statement runs inline, with no span and no extra future around it.
macro_rules! run_on {
    ($conn:expr, $req:expr, $model:expr, $rows:expr, |$x:ident, $db:ident, $err:ident| $body:expr) => {{
        let conn: &mut $crate::exec::Conn<'_> = $conn;
        let req: &$crate::exec::Request<'_> = $req;
        let src = $crate::exec::ErrSource::of(conn, $model);
        let $err = src.ctx();
        match $crate::exec::run::span(conn.key(), req) {
            None => dispatch!(conn, req, |$x, $db| $body),
            Some(span) => {
                $crate::exec::run::traced(
                    span,
                    async { dispatch!(conn, req, |$x, $db| $body) },
                    $rows,
                )
                .await
            }
        }
    }};
}

/// [`run_on!`] for a statement that runs once (writes): `$conn` is a `Conn`.
macro_rules! run_statement {
    ($conn:expr, $req:expr, $model:expr, $rows:expr, |$x:ident, $db:ident, $err:ident| $body:expr) => {{
        let mut conn = $conn;
        run_on!(&mut conn, $req, $model, $rows, |$x, $db, $err| $body)
    }};
}

/// [`run_on!`] for a read, which may run again elsewhere ([`after_read`]): a replica that
/// failed (once, before any row was returned: rows are returned only once all are read),
/// or one that did not catch up with the session. `$body` must be able to run twice
/// (bind borrowed values).
macro_rules! run_read {
    ($conn:expr, $req:expr, $model:expr, $rows:expr, |$x:ident, $db:ident, $err:ident| $body:expr) => {{
        let mut conn = $conn;
        let req: &$crate::exec::Request<'_> = $req;
        let mut failovers = 0u8;
        loop {
            let out = run_on!(&mut conn, req, $model, $rows, |$x, $db, $err| $body);
            if let Some(out) = $crate::exec::after_read(&mut conn, req, out, &mut failovers) {
                break out;
            }
        }
    }};
}

mod aggregate;
mod errors;
mod group;
mod ops;
mod run;
mod scatter;
mod sharded;

pub use aggregate::Numeric;
pub(crate) use aggregate::{count_distinct, extreme, sum};
pub(crate) use errors::{ErrCtx, ErrSource};
pub(crate) use group::group;
pub(crate) use ops::select_text;
pub(crate) use run::{execute, fetch_row, fetch_rows, fetch_rows_capped, record_write};
pub use scatter::{ScatterReport, ShardOutcome};
pub(crate) use sharded::{
    count, delete, delete_all, exists, fetch_models, fetch_report, find, insert, insert_all,
    update, update_all, write_all_report,
};
