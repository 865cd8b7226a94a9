//! Replica health: whether a replica is in rotation (up, down after a failure, lagging),
//! what it has served, and the background probe that re-admits a failed replica.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::Error;
use crate::session::Position;

use super::pool::{Pool, PoolKind, PoolSlot};

/// The longest pause between two probes of a replica that is down.
const PROBE_MAX: Duration = Duration::from_secs(30);

/// Whether a replica takes reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplicaState {
    /// In rotation (writers and read-only twins are always up).
    Up,
    /// Out after a connect error, I/O error, acquire timeout or statement timeout; a
    /// background probe re-admits it once it answers.
    Down,
    /// Out because it is further behind than `max_replication_lag`; back once it catches up.
    Lagging,
}

impl std::fmt::Display for ReplicaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReplicaState::Up => "up",
            ReplicaState::Down => "down",
            ReplicaState::Lagging => "lagging",
        })
    }
}

const UP: u8 = 0;
const DOWN: u8 = 1;
const LAGGING: u8 = 2;

/// The health and counters of one pool.
#[derive(Debug)]
pub(crate) struct Health {
    state: AtomicU8,
    /// Reads served.
    pub(crate) reads: AtomicU64,
    /// Reads that failed here and were served elsewhere.
    pub(crate) fallbacks: AtomicU64,
    /// Failures that took it out of rotation (or would have, for a writer).
    pub(crate) errors: AtomicU64,
    /// The last measured replication lag in ms (`u64::MAX`: unknown).
    lag_ms: AtomicU64,
    /// The last known replayed position (a lower bound).
    position: Mutex<Option<Position>>,
    probing: AtomicBool,
    /// Weight for `balance = "weighted"`.
    pub(crate) weight: u32,
}

impl Health {
    pub(crate) fn new(weight: u32) -> Health {
        Health {
            state: AtomicU8::new(UP),
            reads: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            lag_ms: AtomicU64::new(u64::MAX),
            position: Mutex::new(None),
            probing: AtomicBool::new(false),
            weight,
        }
    }

    #[inline]
    pub(crate) fn is_up(&self) -> bool {
        self.state.load(Ordering::Relaxed) == UP
    }

    pub(crate) fn state(&self) -> ReplicaState {
        match self.state.load(Ordering::Relaxed) {
            DOWN => ReplicaState::Down,
            LAGGING => ReplicaState::Lagging,
            _ => ReplicaState::Up,
        }
    }

    pub(crate) fn lag(&self) -> Option<Duration> {
        match self.lag_ms.load(Ordering::Relaxed) {
            u64::MAX => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// Record a measured lag and, when `max` is set, take the replica out (or back in).
    /// A replica that is down stays down: only its probe re-admits it.
    pub(crate) fn set_lag(&self, lag: Duration, max: Option<Duration>) {
        self.lag_ms.store(
            lag.as_millis().min(u64::MAX as u128 - 1) as u64,
            Ordering::Relaxed,
        );
        let Some(max) = max else { return };
        let want = if lag > max { LAGGING } else { UP };
        let _ = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                (s != DOWN && s != want).then_some(want)
            });
    }

    /// `f` of the last known replayed position, read in place.
    pub(crate) fn with_position<R>(&self, f: impl FnOnce(Option<&Position>) -> R) -> R {
        f(self
            .position
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref())
    }

    /// Whether the known position covers `need` (no round trip needed).
    #[inline]
    pub(crate) fn covers(&self, need: &Position) -> bool {
        self.position
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|have| have.covers(need))
    }

    /// Raise the known position to `at`.
    pub(crate) fn reached(&self, at: &Position) {
        let mut p = self.position.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *p {
            Some(have) => have.merge(at),
            None => *p = Some(at.clone()),
        }
    }
}

/// The pause before the next probe of a replica that is still down: doubling from
/// `replica_check_interval`, at most 30 s (or the interval, if it is longer).
fn next_pause(pause: Duration, interval: Duration) -> Duration {
    pause.saturating_mul(2).min(PROBE_MAX.max(interval))
}

/// Whether `e` means the target failed (as opposed to the statement being wrong): a read
/// that fails this way on a replica is retried elsewhere.
pub(crate) fn is_target_failure(e: &Error) -> bool {
    match e {
        Error::Connect { .. } | Error::PoolTimeout { .. } | Error::Timeout { .. } => true,
        Error::Database { source, .. } => matches!(
            source,
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed
        ),
        _ => false,
    }
}

impl PoolSlot {
    /// Whether this slot is a replica (it can be taken out of rotation).
    pub(crate) fn is_replica(&self) -> bool {
        matches!(self.key.kind, PoolKind::Replica(_))
    }

    /// The target failed a statement with `e`: count it and, for a replica, take it out of
    /// rotation, drop its idle connections (they are likely broken too) and start a probe
    /// that re-admits it once it answers (first after `interval`, then backing off).
    pub(crate) fn failed(self: &Arc<Self>, e: &Error) {
        let interval = self.probe_interval;
        self.health.errors.fetch_add(1, Ordering::Relaxed);
        if !self.is_replica() {
            return;
        }
        let was = self.health.state.swap(DOWN, Ordering::Relaxed);
        if was != DOWN {
            tracing::warn!(
                database = %self.key.database,
                shard = self.key.shard.as_deref(),
                pool = %self.key.kind,
                error = %e,
                "grant: replica out of rotation"
            );
        }
        self.drain_idle();
        if self.health.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.health.probing.store(false, Ordering::Release);
            return;
        };
        let slot = Arc::clone(self);
        let stop = self.stop.clone();
        rt.spawn(async move {
            let mut pause = interval;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
                if slot.answers().await {
                    // Connections that went back to the pool after the failure was noticed
                    // were opened before it: do not hand them out again.
                    slot.drain_idle();
                    slot.health.state.store(UP, Ordering::Relaxed);
                    tracing::info!(
                        database = %slot.key.database,
                        shard = slot.key.shard.as_deref(),
                        pool = %slot.key.kind,
                        "grant: replica back in rotation"
                    );
                    break;
                }
                pause = next_pause(pause, interval);
            }
            slot.health.probing.store(false, Ordering::Release);
        });
    }

    /// Close the idle connections of this pool (taken without waiting).
    fn drain_idle(&self) {
        macro_rules! drain {
            ($p:expr) => {{
                for _ in 0..$p.num_idle() {
                    match $p.try_acquire() {
                        Some(mut c) => c.close_on_drop(),
                        None => break,
                    }
                }
            }};
        }
        match self.created() {
            Some(Pool::Postgres(p)) => drain!(p),
            Some(Pool::MySql(p)) => drain!(p),
            Some(Pool::Sqlite(p)) => drain!(p),
            None => {}
        }
    }

    /// One direct connection (with the session setup), bounded by `connect_timeout`.
    async fn answers(&self) -> bool {
        match self.pool() {
            Pool::Postgres(p) => self.try_connect(p).await,
            Pool::MySql(p) => self.try_connect(p).await,
            Pool::Sqlite(p) => self.try_connect(p).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_back_off_to_30_seconds() {
        let interval = Duration::from_secs(1);
        let mut pause = interval;
        let mut seen = vec![pause];
        for _ in 0..7 {
            pause = next_pause(pause, interval);
            seen.push(pause);
        }
        let secs: Vec<u64> = seen.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
        // An interval longer than the cap is kept.
        let long = Duration::from_secs(60);
        assert_eq!(next_pause(long, long), long);
    }
}
