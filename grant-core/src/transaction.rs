//! Transactions, pinned to one connection of one target.
//!
//! Grant runs `BEGIN` / `COMMIT` / `ROLLBACK` itself on a pooled connection it holds, so
//! that every step is bounded by the statement timeout and a connection that stopped
//! answering is closed instead of going back to the pool.

use std::time::Duration;

use sqlx::mysql::MySql;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use sqlx::Executor as _;

use crate::backend::Backend;
use crate::context::Context;
use crate::error::{Error, ReadOnlyReason, Result};
use crate::exec::{record_write, Access, ErrCtx, Request};
use crate::handler::{timeout_error, Pool, PoolKey, PoolSlot};
use crate::role::Role;
use crate::route::Track;

/// The pooled connection of a transaction, per engine.
#[derive(Debug)]
pub(crate) enum TxConn {
    Postgres(PoolConnection<Postgres>),
    MySql(PoolConnection<MySql>),
    Sqlite(PoolConnection<Sqlite>),
}

/// A transaction's connection and state.
#[derive(Debug)]
pub(crate) struct TxInner {
    /// `None` once the transaction is over: committed or rolled back (the connection went
    /// back to its pool), or aborted after a timeout (the connection was closed).
    conn: Option<TxConn>,
    key: PoolKey,
    backend: Backend,
    timeout: Option<Duration>,
    /// Whether a write succeeded in it (a session records it on commit).
    wrote: bool,
}

impl TxInner {
    /// Begin a transaction on a connection of `slot`; `read_only` begins it read-only.
    pub(crate) async fn begin(slot: &PoolSlot, read_only: bool) -> Result<TxInner> {
        let conn = match slot.pool() {
            Pool::Postgres(p) => TxConn::Postgres(slot.acquire(p).await?),
            Pool::MySql(p) => TxConn::MySql(slot.acquire(p).await?),
            Pool::Sqlite(p) => TxConn::Sqlite(slot.acquire(p).await?),
        };
        let sql = match (slot.backend(), read_only) {
            (Backend::Postgres, true) => "BEGIN READ ONLY",
            (Backend::MySql, true) => "START TRANSACTION READ ONLY",
            (Backend::MySql, false) => "START TRANSACTION",
            // SQLite: a read-only transaction runs on a connection opened read-only.
            _ => "BEGIN",
        };
        let mut inner = TxInner {
            conn: Some(conn),
            key: slot.key().clone(),
            backend: slot.backend(),
            timeout: slot.statement_timeout(),
            wrote: false,
        };
        if let Err(e) = inner.step(sql).await {
            inner.close();
            return Err(e);
        }
        Ok(inner)
    }

    /// COMMIT; then, when the transaction wrote and `track` says so, record the write in
    /// the session (causal mode: with the writer's position, read on this connection).
    pub(crate) async fn commit_tracked(mut self, track: Option<&Track>) -> Result<()> {
        self.check_open()?;
        self.step("COMMIT").await?;
        if let (Some(track), true) = (track, self.wrote) {
            let limit = self.timeout.unwrap_or(DROP_ROLLBACK_LIMIT);
            match self.conn.as_mut() {
                Some(TxConn::Postgres(c)) => record_write::<Postgres>(c, track, limit).await,
                Some(TxConn::MySql(c)) => record_write::<MySql>(c, track, limit).await,
                Some(TxConn::Sqlite(c)) => record_write::<Sqlite>(c, track, limit).await,
                None => {}
            }
        }
        drop(self.conn.take());
        Ok(())
    }

    /// A write succeeded in this transaction.
    pub(crate) fn wrote(&mut self) {
        self.wrote = true;
    }

    async fn rollback(self) -> Result<()> {
        self.end("ROLLBACK").await
    }

    /// COMMIT or ROLLBACK; the connection then goes back to its pool. (If the step fails
    /// without a timeout, dropping `self` still rolls back before that.)
    async fn end(mut self, sql: &'static str) -> Result<()> {
        self.check_open()?;
        self.step(sql).await?;
        drop(self.conn.take());
        Ok(())
    }

    /// Run one transaction-control statement, bounded by the statement timeout.
    async fn step(&mut self, sql: &'static str) -> Result<()> {
        let limit = self.check_open()?.unwrap_or(Duration::MAX);
        let r = match self.conn.as_mut() {
            Some(TxConn::Postgres(c)) => tokio::time::timeout(limit, c.execute(sql))
                .await
                .map(|r| r.map(drop)),
            Some(TxConn::MySql(c)) => tokio::time::timeout(limit, c.execute(sql))
                .await
                .map(|r| r.map(drop)),
            Some(TxConn::Sqlite(c)) => tokio::time::timeout(limit, c.execute(sql))
                .await
                .map(|r| r.map(drop)),
            None => return Err(self.aborted()),
        };
        match r {
            Ok(r) => r.map_err(|e| {
                ErrCtx {
                    key: &self.key,
                    model: "transaction",
                }
                .map(e)
            }),
            Err(_) => Err(self.timed_out(limit)),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// The statement timeout, or an error when a previous step timed out.
    pub(crate) fn check_open(&self) -> Result<Option<Duration>> {
        if self.conn.is_none() {
            return Err(self.aborted());
        }
        Ok(self.timeout)
    }

    /// The error for a statement sent to a transaction that is over.
    pub(crate) fn aborted(&self) -> Error {
        Error::TransactionAborted {
            database: self.key.database.to_string(),
            shard: self.key.shard.as_deref().map(str::to_string),
        }
    }

    /// The connection; `None` once the transaction is over (see [`TxInner::check_open`]).
    pub(crate) fn conn_mut(&mut self) -> Option<&mut TxConn> {
        self.conn.as_mut()
    }

    /// Close the connection (the server rolls the transaction back); the transaction is over.
    pub(crate) fn close(&mut self) {
        match self.conn.take() {
            Some(TxConn::Postgres(mut c)) => c.close_on_drop(),
            Some(TxConn::MySql(mut c)) => c.close_on_drop(),
            Some(TxConn::Sqlite(mut c)) => c.close_on_drop(),
            None => {}
        }
    }

    /// The error for a statement of this transaction that timed out; closes the connection.
    pub(crate) fn timed_out(&mut self, after: Duration) -> Error {
        self.close();
        timeout_error(&self.key, after)
    }
}

impl Drop for TxInner {
    /// A transaction dropped while open is rolled back before its connection returns to
    /// the pool (in the background, bounded by the statement timeout); without a runtime,
    /// or if the rollback fails or times out, the connection is closed instead.
    fn drop(&mut self) {
        if self.conn.is_none() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.close();
            return;
        };
        let limit = self.timeout.unwrap_or(DROP_ROLLBACK_LIMIT);
        macro_rules! rollback_in_background {
            ($c:expr) => {{
                let mut c = $c;
                handle.spawn(async move {
                    if !matches!(
                        tokio::time::timeout(limit, c.execute("ROLLBACK")).await,
                        Ok(Ok(_))
                    ) {
                        c.close_on_drop();
                    }
                });
            }};
        }
        match self.conn.take() {
            Some(TxConn::Postgres(c)) => rollback_in_background!(c),
            Some(TxConn::MySql(c)) => rollback_in_background!(c),
            Some(TxConn::Sqlite(c)) => rollback_in_background!(c),
            None => {}
        }
    }
}

/// How long the rollback of a dropped transaction may take without a statement timeout.
const DROP_ROLLBACK_LIMIT: Duration = Duration::from_secs(30);

/// A transaction on one target (a database's writer, or a read-only target). Pass
/// `&mut tx` where a statement takes an executor; every statement then runs inside it,
/// reads included. Dropped without [`Transaction::commit`], it rolls back.
///
/// A transaction begun in a reading scope, a prevent-writes scope or on a read-only
/// database is a **read-only transaction**: it runs on the read-only target the scope
/// reads from (a replica, or the writer's read-only sessions), begins with `BEGIN READ
/// ONLY` (`START TRANSACTION READ ONLY` on MariaDB/MySQL; SQLite's connection is opened
/// read-only), and every write in it is refused with [`Error::ReadOnly`] before any SQL is
/// sent.
///
/// Every step (begin, each statement, commit, rollback) is bounded by the database's
/// `statement_timeout`; after a timeout the connection is closed (the server rolls back)
/// and later statements fail with [`Error::TransactionAborted`].
#[derive(Debug)]
pub struct Transaction {
    key: PoolKey,
    /// The handle that began it (routing of sharded models, the default database).
    grant: crate::Grant,
    read_only: Option<(Role, ReadOnlyReason)>,
    /// Records the transaction's writes in the session that began it, on commit.
    track: Option<Track>,
    inner: TxInner,
}

impl Transaction {
    pub(crate) async fn begin(
        slot: &PoolSlot,
        grant: crate::Grant,
        read_only: Option<(Role, ReadOnlyReason)>,
        track: Option<Track>,
    ) -> Result<Transaction> {
        let inner = TxInner::begin(slot, read_only.is_some()).await?;
        tracing::debug!(
            database = %slot.key().database,
            shard = slot.key().shard.as_deref(),
            pool = %slot.key().kind,
            read_only = read_only.is_some(),
            "grant: transaction begun"
        );
        Ok(Transaction {
            key: slot.key().clone(),
            grant,
            read_only,
            track,
            inner,
        })
    }

    /// The engine it runs on.
    pub fn backend(&self) -> Backend {
        self.inner.backend()
    }

    /// The handle that began it.
    pub(crate) fn grant(&self) -> &crate::Grant {
        &self.grant
    }

    /// The database the transaction runs on.
    pub fn database(&self) -> &str {
        &self.key.database
    }

    /// The shard, if any.
    pub fn shard(&self) -> Option<&str> {
        self.key.shard.as_deref()
    }

    /// Whether the transaction is read-only (begun in a reading or prevent-writes scope, or
    /// on a read-only database).
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// Commit. Begun inside a [`crate::Session`], a transaction that wrote records the
    /// write there once it has committed (read-your-writes).
    pub async fn commit(self) -> Result<()> {
        self.inner.commit_tracked(self.track.as_ref()).await
    }

    /// Roll back.
    pub async fn rollback(self) -> Result<()> {
        self.inner.rollback().await
    }

    pub(crate) fn check(&self, req: &Request<'_>) -> Result<()> {
        let mapped;
        let req = if req.shards.is_empty() {
            req
        } else {
            mapped = Context::with_current(|ctx| crate::route::mapped(req, ctx))?;
            &mapped
        };
        let database = req.database.unwrap_or(self.grant.default_database());
        if database != &*self.key.database {
            return Err(Error::WrongTransaction {
                model: req.model,
                model_database: database.to_string(),
                transaction_database: self.key.database.to_string(),
            });
        }
        if let Some(shard) = req.shard {
            if Some(shard) != self.key.shard.as_deref() {
                return Err(Error::WrongShard {
                    model: req.model,
                    transaction: self.key.shard.as_deref().map(str::to_string),
                    statement: shard.to_string(),
                });
            }
        }
        if req.access == Access::Write {
            if let Some((role, reason)) = &self.read_only {
                return Err(Error::ReadOnly {
                    database: self.key.database.to_string(),
                    shard: self.key.shard.as_deref().map(str::to_string),
                    role: role.clone(),
                    reason: *reason,
                });
            }
            Context::current().check_write(&self.key.database)?;
        }
        Ok(())
    }

    pub(crate) fn parts(&mut self) -> (&PoolKey, &mut TxInner) {
        (&self.key, &mut self.inner)
    }
}
