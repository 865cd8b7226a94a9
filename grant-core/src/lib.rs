//! # grant-core
//!
//! The runtime of [Grant](https://docs.rs/grant), an async ORM for applications that have
//! outgrown one database: the config ([`Config`]), the registry of pools
//! ([`ConnectionHandler`]), roles and the task-local routing context ([`connected_to`]),
//! query building ([`Query`]), the [`Model`] trait and typed [`Error`]s.
//!
//! Applications depend on the `grant` facade crate, which re-exports this one together
//! with the derive macros.

#![warn(missing_docs)]

mod backend;
mod classify;
pub mod config;
mod context;
mod engine;
mod error;
mod exec;
mod fan_out;
mod grant;
mod handler;
#[cfg(feature = "tower")]
pub mod http;
mod keys;
mod model;
pub mod query;
mod raw;
mod role;
mod route;
mod session;
mod shards;
mod sql;
mod sql_str;
mod transaction;
mod value;

pub use backend::Backend;
pub use classify::{classify_sql, SqlKind};
pub use config::{
    Config, ConfigError, ConfigErrorKind, DatabaseConfig, PoolConfig, ResolverConfig, ShardConfig,
    ShardingConfig,
};
pub use context::{connected_to, connection, spawn, while_preventing_writes, ConnectedTo, Context};
pub use error::{Error, ReadOnlyReason, Result};
pub use exec::{Executor, Numeric, ScatterReport, ShardOutcome, Target};
pub use fan_out::{DatabaseOutcome, FanOut, FanOutReport};
pub use grant::Grant;
pub use handler::{
    ConnectionHandler, DatabaseEntry, Pool, PoolKey, PoolKind, PoolSlot, PoolStats, ReplicaState,
    Targets,
};
pub use model::{ColumnMeta, Generate, Model, ModelMeta, ShardEntry, StatementCache};
pub use query::{Column, Expr, Order, Query};
pub use raw::{raw, RawQuery, Row};
pub use role::Role;
pub use session::{
    session, Gtid, Position, PositionParseError, Session, TokenError, MAX_TOKEN_LEN,
};
pub use shards::{OnDatabase, OnShard};
pub use sql::{SqlWriter, Statements};
pub use sql_str::{AssertSqlSafe, SqlSafeStr, SqlStr};
pub use transaction::Transaction;
pub use value::{BindRef, ColumnType, SqlType, Timestamp, Value};

/// Re-exports used by code that `#[derive(Model)]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use chrono;
    pub use sqlx;
    pub use uuid;

    use crate::error::Error;

    /// A column of a MariaDB/MySQL row found by name.
    ///
    /// sqlx looks names up in the metadata of the *prepared* statement, and MariaDB
    /// prepares `INSERT .. RETURNING` / `DELETE .. RETURNING` with no result columns (they
    /// arrive only on execution), so a name lookup of sqlx alone fails with
    /// `ColumnNotFound` on those rows although the row has the column. This falls back to
    /// the row's own columns.
    #[derive(Debug, Clone, Copy)]
    pub struct MySqlName<'a>(pub &'a str);

    impl sqlx::ColumnIndex<sqlx::mysql::MySqlRow> for MySqlName<'_> {
        fn index(&self, row: &sqlx::mysql::MySqlRow) -> Result<usize, sqlx::Error> {
            use sqlx::{Column as _, Row as _};
            self.0.index(row).or_else(|e| {
                row.columns()
                    .iter()
                    .position(|c| c.name() == self.0)
                    .ok_or(e)
            })
        }
    }

    /// Wrap a decode failure of `column` of `model`.
    pub fn decode_error(model: &'static str, column: &'static str, e: sqlx::Error) -> Error {
        let source = match e {
            sqlx::Error::ColumnDecode { source, .. } => sqlx::Error::Decode(source),
            other => other,
        };
        Error::Decode {
            model,
            column: column.to_string(),
            source,
        }
    }

    /// Convert a generated integer key into the model's key type.
    pub fn generated_key<K: TryFrom<i128>>(
        model: &'static str,
        column: &'static str,
        value: i128,
    ) -> Result<K, Error> {
        K::try_from(value).map_err(|_| Error::KeyOverflow {
            model,
            column,
            value,
        })
    }
}
