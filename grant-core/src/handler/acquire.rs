//! Handing out a connection, bounded in time, and telling a busy pool from a server that
//! cannot be reached.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::Error;

use super::pool::PoolSlot;
use super::session::{setup, Session};

/// How long a diagnostic connection may take to name the cause of a failure.
const DIAGNOSE_LIMIT: Duration = Duration::from_secs(1);

/// How long a cold pool's first connection may take before Grant checks whether the
/// server refuses outright (a local server connects in a few milliseconds).
const EARLY_CHECK: Duration = Duration::from_millis(250);

/// A pending `sqlx::Pool::acquire`.
pub(crate) trait Acquiring<DB: sqlx::Database>:
    Future<Output = Result<sqlx::pool::PoolConnection<DB>, sqlx::Error>> + Send
{
}

impl<DB: sqlx::Database, F> Acquiring<DB> for F where
    F: Future<Output = Result<sqlx::pool::PoolConnection<DB>, sqlx::Error>> + Send
{
}

/// An attempt that ran out of time (a frozen or slow server), as opposed to a definite
/// refusal, reset, DNS, TLS or authentication failure.
fn is_timed_out(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

impl PoolSlot {
    /// A connection of `pool` (this slot's pool), bounded in time:
    ///
    /// - A pool with no open connection must connect: that is bounded by `connect_timeout`
    ///   (and `acquire_timeout`). A failure is [`Error::Connect`] with the driver's cause
    ///   (refused, reset, DNS, TLS, authentication, or a handshake that never completes).
    /// - While the server keeps failing, a caller with no idle connection to take first
    ///   tries one direct connection, so a refused server is reported at once instead of
    ///   after a timeout; callers already waiting are woken by the failure and do the same.
    /// - A busy pool (every connection in use, the server answering) waits up to
    ///   `acquire_timeout`, then fails with [`Error::PoolTimeout`]. Whether a wait that
    ///   ran out was a busy pool or an unreachable server is decided by one direct,
    ///   bounded connection attempt.
    ///
    /// The common case, an idle connection and no `test_before_acquire`, is sqlx's own
    /// `acquire` polled once (every check of sqlx's, no timer of Grant's, no waiter
    /// registered); only when that cannot hand one out at once does the bounded wait below
    /// start, continuing the same acquire so that its place in the queue is kept.
    #[inline]
    pub(crate) async fn acquire<DB: Session>(
        &self,
        pool: &sqlx::Pool<DB>,
    ) -> Result<sqlx::pool::PoolConnection<DB>, Error> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(self.closed_error());
        }
        if pool.num_idle() == 0 || self.pool_config.test_before_acquire {
            return Box::pin(self.acquire_slow(pool, None)).await;
        }
        let mut first = std::pin::pin!(pool.acquire());
        let polled = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(first.as_mut(), cx))
        })
        .await;
        match polled {
            std::task::Poll::Ready(Ok(conn)) => {
                if self.failed_at.load(Ordering::Relaxed) != 0 {
                    self.failed_at.store(0, Ordering::Relaxed);
                }
                Ok(conn)
            }
            std::task::Poll::Ready(Err(sqlx::Error::PoolClosed)) => Err(self.closed_error()),
            // Failures are reported, timed out and diagnosed by the slow path.
            std::task::Poll::Ready(Err(_)) => Box::pin(self.acquire_slow(pool, None)).await,
            std::task::Poll::Pending => Box::pin(self.acquire_slow(pool, Some(first))).await,
        }
    }

    /// The bounded wait for a connection (see [`PoolSlot::acquire`]); `started` is an
    /// acquire already polled once, continued rather than started again.
    async fn acquire_slow<DB: Session>(
        &self,
        pool: &sqlx::Pool<DB>,
        started: Option<Pin<&mut (dyn Acquiring<DB> + '_)>>,
    ) -> Result<sqlx::pool::PoolConnection<DB>, Error> {
        if let Some(writer) = &self.opens_after {
            if pool.size() == 0 {
                writer.open_first().await?;
            }
        }
        if pool.num_idle() == 0 && self.recently_failed() {
            self.probe(pool).await?;
        }
        let c = &self.pool_config;
        let cold = pool.size() == 0;
        let limit = if cold {
            c.connect_timeout.min(c.acquire_timeout)
        } else {
            c.acquire_timeout
        };
        let mut fresh = None;
        let acquiring: Pin<&mut (dyn Acquiring<DB> + '_)> = match started {
            Some(started) => started,
            None => {
                let fresh: Pin<&mut _> = fresh.insert(Box::pin(pool.acquire())).as_mut();
                fresh
            }
        };
        let waiting = tokio::time::timeout(limit, acquiring);
        tokio::pin!(waiting);
        // sqlx retries a refused connection until the deadline; a cold pool that has not
        // connected after a moment checks once whether the server refuses outright.
        let mut early = cold.then(|| Box::pin(tokio::time::sleep(EARLY_CHECK)));
        let out = loop {
            let failed = self.failure.notified();
            // `biased`: an idle connection is taken on the first poll, before any waiter is
            // registered (nothing but the acquire itself on the hot path).
            tokio::select! {
                biased;
                out = &mut waiting => break out,
                // Another caller found the server unreachable: check for ourselves.
                () = failed => self.probe(pool).await?,
                () = async {
                    match early.as_mut() {
                        Some(sleep) => sleep.await,
                        None => std::future::pending().await,
                    }
                }, if early.is_some() => {
                    early = None;
                    if let Some(cause) = self.diagnose(pool, limit).await {
                        if !is_timed_out(&cause) {
                            return Err(self.connect_error(cause));
                        }
                    }
                }
            }
        };
        match out {
            Ok(Ok(conn)) => {
                if self.failed_at.load(Ordering::Relaxed) != 0 {
                    self.failed_at.store(0, Ordering::Relaxed);
                }
                Ok(conn)
            }
            Ok(Err(sqlx::Error::PoolClosed)) => Err(self.closed_error()),
            Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => match self.diagnose(pool, limit).await {
                Some(cause) => Err(self.connect_error(cause)),
                None => {
                    self.timeouts.fetch_add(1, Ordering::Relaxed);
                    Err(Error::PoolTimeout {
                        database: self.key.database.to_string(),
                        role: self.key.role.clone(),
                        shard: self.key.shard.as_deref().map(str::to_string),
                    })
                }
            },
            Ok(Err(e)) => Err(self.connect_error(e)),
        }
    }

    /// Make sure this (SQLite) pool has had a connection established; see
    /// [`PoolSlot::opening_after`]. A connection still being opened (the pool's size counts
    /// it, e.g. the in-memory writer's `min_connections`) is waited for, so that the twin
    /// never opens the database first.
    async fn open_first(&self) -> Result<(), Error> {
        if let crate::handler::Pool::Sqlite(p) = self.pool() {
            if !self.established.load(Ordering::Acquire) {
                match tokio::time::timeout(self.pool_config.connect_timeout, p.acquire()).await {
                    Ok(Ok(conn)) => drop(conn),
                    Ok(Err(e)) => return Err(self.connect_error(e)),
                    Err(_) => {
                        return Err(self.connect_error(no_answer(self.pool_config.connect_timeout)))
                    }
                }
            }
        }
        Ok(())
    }

    fn closed_error(&self) -> Error {
        Error::PoolClosed {
            database: self.key.database.to_string(),
            role: self.key.role.clone(),
        }
    }

    /// One direct connection attempt while the server is known to be failing.
    async fn probe<DB: Session>(&self, pool: &sqlx::Pool<DB>) -> Result<(), Error> {
        let limit = self.pool_config.connect_timeout;
        match self.connect_directly(pool, limit, limit).await {
            Ok(()) => {
                self.failed_at.store(0, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(self.connect_error(e)),
        }
    }

    /// Whether one direct connection (with the session setup) succeeds within
    /// `connect_timeout`: the probe of a replica that is out of rotation.
    pub(super) async fn try_connect<DB: Session>(&self, pool: &sqlx::Pool<DB>) -> bool {
        let limit = self.pool_config.connect_timeout;
        self.connect_directly(pool, limit, limit).await.is_ok()
    }

    /// Why a wait for a connection ran out: one direct attempt, bounded. `None` when it
    /// connects (the server answers: the pool was busy); otherwise the driver's error, or
    /// an I/O `TimedOut` when the attempt does not finish.
    async fn diagnose<DB: Session>(
        &self,
        pool: &sqlx::Pool<DB>,
        waited: Duration,
    ) -> Option<sqlx::Error> {
        // A busy pool under load times many callers out at once: one answer from the
        // server in the last second covers them all, without a connection each.
        let answered = self.answered_at.load(Ordering::Relaxed);
        if answered != 0 && now_ms().saturating_sub(answered) < 1000 {
            return None;
        }
        match self.connect_directly(pool, DIAGNOSE_LIMIT, waited).await {
            Ok(()) => {
                self.answered_at.store(now_ms(), Ordering::Relaxed);
                None
            }
            Err(e) => Some(e),
        }
    }

    /// One connection outside the pool, with the pool's session setup, closed again:
    /// the driver's error, or an I/O `TimedOut` (naming `waited`) after `limit`.
    async fn connect_directly<DB: Session>(
        &self,
        pool: &sqlx::Pool<DB>,
        limit: Duration,
        waited: Duration,
    ) -> Result<(), sqlx::Error> {
        use sqlx::ConnectOptions as _;
        let options = pool.connect_options();
        let attempt = async {
            let mut conn = options.connect().await?;
            setup::<DB>(&mut conn, &self.session, self.on_connect.as_ref()).await
        };
        tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| Err(no_answer(waited)))
    }

    fn connect_error(&self, source: sqlx::Error) -> Error {
        self.connect_errors.fetch_add(1, Ordering::Relaxed);
        self.answered_at.store(0, Ordering::Relaxed);
        self.failed_at.store(now_ms().max(1), Ordering::Relaxed);
        self.failure.notify_waiters();
        tracing::warn!(
            database = %self.key.database,
            role = %self.key.role,
            shard = self.key.shard.as_deref(),
            pool = %self.key.kind,
            error = %source,
            "grant: cannot connect"
        );
        Error::Connect {
            database: self.key.database.to_string(),
            role: self.key.role.clone(),
            shard: self.key.shard.as_deref().map(str::to_string),
            source,
        }
    }

    pub(super) fn recently_failed(&self) -> bool {
        let at = self.failed_at.load(Ordering::Relaxed);
        at != 0
            && now_ms().saturating_sub(at)
                < self.pool_config.connect_timeout.as_millis().max(1000) as u64
    }
}

fn no_answer(waited: Duration) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no connection could be opened within {waited:?} (connect_timeout)"),
    ))
}

/// Milliseconds since the first call in this process.
fn now_ms() -> u64 {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1
}
