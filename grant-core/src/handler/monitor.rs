//! The replication monitor of one (database, shard): every `replica_check_interval` it
//! reads the writer's position and each replica's replayed position, keeps each replica's
//! known position (so a causal read of a caught-up replica needs no extra round trip) and
//! its lag, and takes replicas beyond `max_replication_lag` out of rotation.
//!
//! Lag is measured from positions, the same way on every engine: the writer's position is
//! sampled each interval; a replica's lag is the age of the oldest sample it has not yet
//! replayed (zero when it has replayed them all). It needs no privilege beyond reading
//! server variables (MariaDB's `Seconds_Behind_Master` needs `SLAVE MONITOR`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::mysql::MySql;
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use tokio_util::sync::CancellationToken;

use crate::config::ReplicationConfig;
use crate::error::Error;
use crate::session::Position;

use super::health::ReplicaState;
use super::pool::{Pool, PoolSlot};
use super::positions::Positions;

/// Writer samples kept (beyond this, lag reads as at least the oldest sample's age).
const MAX_SAMPLES: usize = 1024;

#[derive(Clone, Copy)]
enum Which {
    Current,
    Replayed,
}

/// Run the monitor until `stop` is cancelled.
pub(super) async fn run(
    writer: Arc<PoolSlot>,
    replicas: Vec<Arc<PoolSlot>>,
    config: ReplicationConfig,
    stop: CancellationToken,
) {
    let interval = config.replica_check_interval;
    let limit = interval.max(Duration::from_millis(500));
    let mut samples: VecDeque<(Instant, Position)> = VecDeque::new();
    loop {
        let now = Instant::now();
        if let Ok(Some(at)) = position_of(&writer, Which::Current, limit).await {
            if samples.back().is_none_or(|(_, last)| *last != at) {
                samples.push_back((now, at));
                if samples.len() > MAX_SAMPLES {
                    samples.pop_front();
                }
            }
        }
        let mut oldest_needed = samples.len();
        for replica in &replicas {
            if replica.health.state() == ReplicaState::Down {
                oldest_needed = 0;
                continue;
            }
            match position_of(replica, Which::Replayed, limit).await {
                Ok(Some(at)) => {
                    replica.health.reached(&at);
                    let behind = samples.iter().position(|(_, w)| !at.covers(w));
                    let lag = behind.map_or(Duration::ZERO, |i| now - samples[i].0);
                    oldest_needed = oldest_needed.min(behind.unwrap_or(samples.len()));
                    replica.health.set_lag(lag, config.max_replication_lag);
                }
                // Not replaying anything (not a standby): its data is current.
                Ok(None) => replica
                    .health
                    .set_lag(Duration::ZERO, config.max_replication_lag),
                Err(e) => {
                    oldest_needed = 0;
                    replica.failed(&e);
                }
            }
        }
        // Samples every replica has replayed are not needed again (keep the newest).
        let drop = oldest_needed.min(samples.len().saturating_sub(1));
        samples.drain(..drop);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

async fn position_of(
    slot: &PoolSlot,
    which: Which,
    limit: Duration,
) -> Result<Option<Position>, Error> {
    match slot.pool() {
        Pool::Postgres(p) => on::<Postgres>(slot, p, which, limit).await,
        Pool::MySql(p) => on::<MySql>(slot, p, which, limit).await,
        Pool::Sqlite(p) => on::<Sqlite>(slot, p, which, limit).await,
    }
}

async fn on<DB: Positions>(
    slot: &PoolSlot,
    pool: &sqlx::Pool<DB>,
    which: Which,
    limit: Duration,
) -> Result<Option<Position>, Error> {
    let mut conn = slot.acquire(pool).await?;
    let query = match which {
        Which::Current => DB::current(&mut conn),
        Which::Replayed => DB::replayed(&mut conn),
    };
    match tokio::time::timeout(limit, query).await {
        Ok(Ok(at)) => Ok(at),
        Ok(Err(e)) => {
            conn.close_on_drop();
            Err(Error::Database {
                database: slot.key().database.to_string(),
                role: slot.key().role.clone(),
                source: e,
            })
        }
        Err(_) => {
            conn.close_on_drop();
            Err(slot.timeout_error(limit))
        }
    }
}
