//! Transactions, pinned to one database's writer.

use std::sync::Arc;

use sqlx::mysql::MySql;
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;

use crate::backend::Backend;
use crate::context::Context;
use crate::error::{Error, ReadOnlyReason, Result};
use crate::exec::{Access, ErrCtx, Request};
use crate::handler::{Pool, PoolKey, PoolSlot};

/// The driver's transaction of one engine.
#[derive(Debug)]
pub(crate) enum TxInner {
    Postgres(sqlx::Transaction<'static, Postgres>),
    MySql(sqlx::Transaction<'static, MySql>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

impl TxInner {
    pub(crate) async fn begin(slot: &PoolSlot) -> Result<TxInner, sqlx::Error> {
        Ok(match slot.pool() {
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await?),
            Pool::MySql(p) => TxInner::MySql(p.begin().await?),
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin().await?),
        })
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            TxInner::Postgres(t) => t.commit().await,
            TxInner::MySql(t) => t.commit().await,
            TxInner::Sqlite(t) => t.commit().await,
        }
    }

    async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            TxInner::Postgres(t) => t.rollback().await,
            TxInner::MySql(t) => t.rollback().await,
            TxInner::Sqlite(t) => t.rollback().await,
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            TxInner::Postgres(_) => Backend::Postgres,
            TxInner::MySql(_) => Backend::MySql,
            TxInner::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// A transaction on one database's writer (of the current shard). Pass `&mut tx` where a
/// statement takes an executor; every statement then runs inside it, reads included.
/// Dropped without [`Transaction::commit`], it rolls back.
///
/// Writes inside a reading or prevent-writes scope are refused, as everywhere.
#[derive(Debug)]
pub struct Transaction {
    key: PoolKey,
    default_database: Arc<str>,
    readonly: bool,
    inner: TxInner,
}

impl Transaction {
    pub(crate) async fn begin(
        slot: &PoolSlot,
        default_database: Arc<str>,
        readonly: bool,
    ) -> Result<Transaction> {
        let inner = TxInner::begin(slot).await.map_err(|e| {
            ErrCtx {
                key: slot.key(),
                slot: Some(slot),
                model: "transaction",
            }
            .map(e)
        })?;
        tracing::debug!(database = %slot.key().database, shard = slot.key().shard.as_deref(), "grant: transaction begun");
        Ok(Transaction {
            key: slot.key().clone(),
            default_database,
            readonly,
            inner,
        })
    }

    /// The database the transaction runs on.
    pub fn database(&self) -> &str {
        &self.key.database
    }

    /// The shard, if any.
    pub fn shard(&self) -> Option<&str> {
        self.key.shard.as_deref()
    }

    /// Commit.
    pub async fn commit(self) -> Result<()> {
        let key = self.key;
        self.inner.commit().await.map_err(|e| {
            ErrCtx {
                key: &key,
                slot: None,
                model: "transaction",
            }
            .map(e)
        })
    }

    /// Roll back.
    pub async fn rollback(self) -> Result<()> {
        let key = self.key;
        self.inner.rollback().await.map_err(|e| {
            ErrCtx {
                key: &key,
                slot: None,
                model: "transaction",
            }
            .map(e)
        })
    }

    pub(crate) fn check(&self, req: &Request<'_>) -> Result<()> {
        let database = req.database.unwrap_or(&self.default_database);
        if database != &*self.key.database {
            return Err(Error::WrongTransaction {
                model: req.model,
                model_database: database.to_string(),
                transaction_database: self.key.database.to_string(),
            });
        }
        if req.access == Access::Write {
            let role = Context::current().check_write(&self.key.database)?;
            if self.readonly {
                return Err(Error::ReadOnly {
                    database: self.key.database.to_string(),
                    role,
                    reason: ReadOnlyReason::ReadonlyDatabase,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn parts(&mut self) -> (&PoolKey, &mut TxInner) {
        (&self.key, &mut self.inner)
    }
}
