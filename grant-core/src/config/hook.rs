//! The code hook run on every new connection ([`super::DatabaseConfig::on_connect`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;

/// The new connection handed to an [`on_connect`](super::DatabaseConfig::on_connect) hook,
/// as the driver's own connection type.
#[non_exhaustive]
pub enum HookConnection<'c> {
    /// A PostgreSQL connection.
    Postgres(&'c mut PgConnection),
    /// A MariaDB/MySQL connection.
    MySql(&'c mut MySqlConnection),
    /// A SQLite connection.
    Sqlite(&'c mut SqliteConnection),
}

/// What a connect hook returns.
pub type HookFuture<'c> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

type HookFn = dyn for<'c> Fn(HookConnection<'c>) -> HookFuture<'c> + Send + Sync;

/// A function run on every new connection; an error fails that connection attempt.
/// Two hooks are equal when they are the same function value (cloned from one another).
#[derive(Clone)]
pub struct ConnectHook(Arc<HookFn>);

impl ConnectHook {
    /// Wrap a hook function.
    pub fn new<F>(hook: F) -> Self
    where
        F: for<'c> Fn(HookConnection<'c>) -> HookFuture<'c> + Send + Sync + 'static,
    {
        ConnectHook(Arc::new(hook))
    }

    /// Run the hook on `conn`.
    pub fn call<'c>(&self, conn: HookConnection<'c>) -> HookFuture<'c> {
        (self.0)(conn)
    }
}

impl PartialEq for ConnectHook {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for ConnectHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectHook(..)")
    }
}
