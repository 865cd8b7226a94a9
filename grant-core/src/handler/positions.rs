//! Replication positions on the wire: the writer's position after a write, how far a
//! replica has replayed, and waiting for a replica to reach a position. PostgreSQL uses
//! WAL locations, MariaDB/MySQL GTIDs; SQLite has no replication and answers "unknown".

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use sqlx::mysql::{MySql, MySqlConnection};
use sqlx::postgres::{PgConnection, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnection};

use crate::session::Position;

use super::session::Session;

/// The longest single sleep while polling a PostgreSQL standby for a position.
const POLL_MAX: Duration = Duration::from_millis(20);

/// Position queries of one engine.
pub(crate) trait Positions: Session {
    /// The writer's position on this connection, right after a write committed on it
    /// (PostgreSQL `pg_current_wal_lsn()`, MariaDB `@@last_gtid`). `None`: unknown.
    fn written(conn: &mut Self::Connection) -> BoxFuture<'_, sqlx::Result<Option<Position>>>;
    /// The writer's current position (the lag monitor's reference).
    fn current(conn: &mut Self::Connection) -> BoxFuture<'_, sqlx::Result<Option<Position>>>;
    /// How far this replica has replayed. `None` when the server is not replaying anything
    /// (not a standby): its data is current.
    fn replayed(conn: &mut Self::Connection) -> BoxFuture<'_, sqlx::Result<Option<Position>>>;
    /// Wait up to `wait` for this replica to replay `need`; whether it did. A server that is
    /// not a standby has.
    fn wait_for<'c>(
        conn: &'c mut Self::Connection,
        need: &'c Position,
        wait: Duration,
    ) -> BoxFuture<'c, sqlx::Result<bool>>;
}

fn lsn(v: Option<i64>) -> Option<Position> {
    v.and_then(|n| u64::try_from(n).ok()).map(Position::Lsn)
}

fn gtid(v: Option<String>) -> Option<Position> {
    v.and_then(|s| Position::parse_gtid_list(&s).ok().flatten())
}

const PG_CURRENT: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint";
const PG_REPLAYED: &str = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint";

impl Positions for Postgres {
    fn written(conn: &mut PgConnection) -> BoxFuture<'_, sqlx::Result<Option<Position>>> {
        Self::current(conn)
    }
    fn current(conn: &mut PgConnection) -> BoxFuture<'_, sqlx::Result<Option<Position>>> {
        Box::pin(async move {
            let v: Option<i64> = sqlx::query_scalar(PG_CURRENT).fetch_one(conn).await?;
            Ok(lsn(v))
        })
    }
    fn replayed(conn: &mut PgConnection) -> BoxFuture<'_, sqlx::Result<Option<Position>>> {
        Box::pin(async move {
            let v: Option<i64> = sqlx::query_scalar(PG_REPLAYED).fetch_one(conn).await?;
            Ok(lsn(v))
        })
    }
    fn wait_for<'c>(
        conn: &'c mut PgConnection,
        need: &'c Position,
        wait: Duration,
    ) -> BoxFuture<'c, sqlx::Result<bool>> {
        Box::pin(async move {
            // PostgreSQL 15 has no server-side wait: poll, backing off from 1 ms.
            let start = Instant::now();
            let mut pause = Duration::from_millis(1);
            loop {
                match Self::replayed(conn).await? {
                    None => return Ok(true),
                    Some(have) if have.covers(need) => return Ok(true),
                    Some(_) => {}
                }
                let left = wait.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Ok(false);
                }
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(POLL_MAX);
            }
        })
    }
}

impl Positions for MySql {
    fn written(conn: &mut MySqlConnection) -> BoxFuture<'_, sqlx::Result<Option<Position>>> {
        Box::pin(async move {
            let v: Option<String> = sqlx::query_scalar("SELECT @@last_gtid")
                .fetch_one(conn)
                .await?;
            Ok(gtid(v))
        })
    }
    fn current(conn: &mut MySqlConnection) -> BoxFuture<'_, sqlx::Result<Option<Position>>> {
        Box::pin(async move {
            let v: Option<String> = sqlx::query_scalar("SELECT @@gtid_binlog_pos")
                .fetch_one(conn)
                .await?;
            Ok(gtid(v))
        })
    }
    fn replayed(conn: &mut MySqlConnection) -> BoxFuture<'_, sqlx::Result<Option<Position>>> {
        Box::pin(async move {
            let v: Option<String> = sqlx::query_scalar("SELECT @@gtid_slave_pos")
                .fetch_one(conn)
                .await?;
            // An empty slave position on a server that is not a replica: current.
            Ok(gtid(v))
        })
    }
    fn wait_for<'c>(
        conn: &'c mut MySqlConnection,
        need: &'c Position,
        wait: Duration,
    ) -> BoxFuture<'c, sqlx::Result<bool>> {
        Box::pin(async move {
            // 0: reached; -1: timed out; NULL: an error (not a replica, bad GTID).
            let v: Option<i64> = sqlx::query_scalar("SELECT MASTER_GTID_WAIT(?, ?)")
                .bind(need.to_string())
                .bind(wait.as_secs_f64())
                .fetch_one(conn)
                .await?;
            Ok(v == Some(0))
        })
    }
}

impl Positions for Sqlite {
    fn written(_: &mut SqliteConnection) -> BoxFuture<'_, sqlx::Result<Option<Position>>> {
        Box::pin(async { Ok(None) })
    }
    fn current(_: &mut SqliteConnection) -> BoxFuture<'_, sqlx::Result<Option<Position>>> {
        Box::pin(async { Ok(None) })
    }
    fn replayed(_: &mut SqliteConnection) -> BoxFuture<'_, sqlx::Result<Option<Position>>> {
        Box::pin(async { Ok(None) })
    }
    fn wait_for<'c>(
        _: &'c mut SqliteConnection,
        _: &'c Position,
        _: Duration,
    ) -> BoxFuture<'c, sqlx::Result<bool>> {
        Box::pin(async { Ok(true) })
    }
}
