//! The setup every new connection goes through before a pool hands it out: Grant's
//! session statements (read-only sessions, the server-side statement timeout on
//! MariaDB/MySQL), the config's `after_connect` statements, then the code hook.

use crate::config::{ConnectHook, HookConnection};

/// What a new connection of each engine goes through before the pool hands it out.
pub(crate) trait Session: sqlx::Database {
    /// Run one statement of the session setup.
    fn run<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
    ) -> futures_util::future::BoxFuture<'c, Result<(), sqlx::Error>>;
    /// The connection as a hook sees it.
    fn hook_connection(conn: &mut Self::Connection) -> HookConnection<'_>;
}

macro_rules! session {
    ($db:ty, $variant:ident) => {
        impl Session for $db {
            fn run<'c>(
                conn: &'c mut Self::Connection,
                sql: &'c str,
            ) -> futures_util::future::BoxFuture<'c, Result<(), sqlx::Error>> {
                use sqlx::Executor as _;
                Box::pin(async move { conn.execute(sql).await.map(drop) })
            }
            fn hook_connection(conn: &mut Self::Connection) -> HookConnection<'_> {
                HookConnection::$variant(conn)
            }
        }
    };
}

session!(sqlx::Postgres, Postgres);
session!(sqlx::MySql, MySql);
session!(sqlx::Sqlite, Sqlite);

/// Grant's session statements, then the config's, then the code hook.
pub(crate) async fn setup<DB: Session>(
    conn: &mut DB::Connection,
    session: &[String],
    hook: Option<&ConnectHook>,
) -> Result<(), sqlx::Error> {
    for sql in session {
        match DB::run(conn, sql).await {
            Ok(()) => {}
            // MySQL has no max_statement_time: Grant's own timer remains.
            Err(e) if sql.starts_with("SET SESSION max_statement_time") => {
                tracing::debug!(error = %e, "grant: server-side statement timeout not supported");
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(hook) = hook {
        hook.call(DB::hook_connection(conn)).await?;
    }
    Ok(())
}
