//! Mapping driver errors to Grant's typed errors, naming the database, role and shard.

use std::sync::Arc;

use crate::error::Error;
use crate::handler::{PoolKey, PoolSlot};

use super::Conn;

/// Maps driver errors of a statement to Grant's, naming the target.
#[derive(Clone, Copy)]
pub(crate) struct ErrCtx<'a> {
    pub key: &'a PoolKey,
    pub model: &'static str,
}

impl ErrCtx<'_> {
    pub(crate) fn map(&self, e: sqlx::Error) -> Error {
        let database = self.key.database.to_string();
        let role = self.key.role.clone();
        let shard = self.key.shard.as_deref().map(str::to_string);
        match e {
            sqlx::Error::PoolTimedOut => Error::PoolTimeout {
                database,
                role,
                shard,
            },
            sqlx::Error::PoolClosed => Error::PoolClosed { database, role },
            e @ (sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Configuration(_)) => {
                Error::Connect {
                    database,
                    role,
                    shard,
                    source: e,
                }
            }
            sqlx::Error::ColumnDecode { index, source } => Error::Decode {
                model: self.model,
                column: index,
                source: sqlx::Error::Decode(source),
            },
            e => Error::Database {
                database,
                role,
                source: e,
            },
        }
    }
}

/// What error mapping needs of a connection source, held apart from it so the source
/// itself can be moved into the statement.
pub(crate) struct ErrSource<'a> {
    origin: Origin<'a>,
    model: &'static str,
}

enum Origin<'a> {
    /// A pool: its key, and its timeout counter.
    Slot(Arc<PoolSlot>),
    /// A transaction's key.
    Tx(&'a PoolKey),
}

impl<'a> ErrSource<'a> {
    pub(crate) fn of(conn: &Conn<'a>, model: &'static str) -> Self {
        let origin = match conn {
            Conn::Pool(routed) => Origin::Slot(routed.slot.clone()),
            Conn::Tx { key, .. } => Origin::Tx(key),
        };
        ErrSource { origin, model }
    }

    pub(crate) fn ctx(&self) -> ErrCtx<'_> {
        match &self.origin {
            Origin::Slot(slot) => ErrCtx {
                key: slot.key(),
                model: self.model,
            },
            Origin::Tx(key) => ErrCtx {
                key,
                model: self.model,
            },
        }
    }
}
