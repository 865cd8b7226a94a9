//! [`Snowflake`]: 64-bit, time-ordered ids from a (timestamp, shard, worker, sequence)
//! layout.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::layout::mask;
use super::{Clock, IdError, SnowflakeLayout, SnowflakeParts, SystemClock};

/// No id issued yet. Packed states use at most 63 bits, so this never collides.
const NONE_ISSUED: u64 = u64::MAX;

/// Extra real time allowed on top of the tolerance for scheduling delays while waiting.
const WAIT_GRACE: Duration = Duration::from_millis(20);

/// A Snowflake id generator: positive `i64` ids made of the milliseconds since an
/// epoch, an optional logical shard, a worker id and a per-millisecond sequence (see
/// [`SnowflakeLayout`]).
///
/// # Guarantees
///
/// - **Unique** among all generators whose `(worker id, shard)` pairs differ (and that
///   share layout and epoch): give every running generator its own worker id from
///   configuration, or its own shard.
/// - **Strictly increasing** per generator, across threads: [`next_id`](Snowflake::next_id)
///   takes `&self` and the generator is `Send + Sync`; each id is above every id this
///   generator issued before it. Ids from different generators are ordered by
///   millisecond only.
/// - **Never a duplicate or a smaller id when the clock goes backwards.** The generator
///   keeps counting from the last millisecond it issued (a logical clock) while that
///   millisecond's sequence lasts; then it waits for the clock to catch up, at most the
///   [tolerance](Snowflake::with_clock_tolerance) (5 s by default), and otherwise
///   returns [`IdError::ClockMovedBackwards`]. A millisecond whose sequence is used up
///   makes the caller wait for the next one (a few microseconds at most on a real clock).
///
/// Waiting blocks the calling thread (it sleeps or yields); with the system clock that
/// only happens past `2^sequence_bits` ids in one millisecond, or after the clock was
/// set back.
///
/// ```
/// use grant_sharding::id::{Snowflake, SnowflakeLayout};
///
/// let ids = Snowflake::new(SnowflakeLayout::TWITTER, Snowflake::DEFAULT_EPOCH_MS, 7, None)?;
/// let id = ids.next_id()?;
/// let parts = ids.decode(id)?;
/// assert_eq!(parts.worker, 7);
/// assert!(parts.timestamp_ms >= Snowflake::DEFAULT_EPOCH_MS);
/// # Ok::<(), grant_sharding::id::IdError>(())
/// ```
pub struct Snowflake<C = SystemClock> {
    layout: SnowflakeLayout,
    epoch_ms: u64,
    worker: u16,
    /// 0 when the layout has no shard bits.
    shard: u16,
    clock: C,
    tolerance: Duration,
    /// The last `(timestamp, sequence)` issued, packed as
    /// `timestamp << sequence_bits | sequence`, or [`NONE_ISSUED`].
    state: AtomicU64,
}

impl Snowflake<SystemClock> {
    /// 2024-01-01T00:00:00Z in milliseconds since the Unix epoch: with 41 timestamp
    /// bits, ids run out in 2093.
    pub const DEFAULT_EPOCH_MS: u64 = 1_704_067_200_000;

    /// The default [tolerance](Snowflake::with_clock_tolerance) for a clock that goes
    /// backwards: 5 seconds.
    pub const DEFAULT_CLOCK_TOLERANCE: Duration = Duration::from_secs(5);

    /// A generator on the system clock. `epoch_ms` is the custom epoch in milliseconds
    /// since the Unix epoch (for instance [`DEFAULT_EPOCH_MS`](Snowflake::DEFAULT_EPOCH_MS));
    /// it must never change for a table's ids. `shard` is the logical shard to embed:
    /// required when the layout has shard bits, `None` otherwise.
    ///
    /// Errors: [`IdError::InvalidLayout`], [`IdError::WorkerOutOfRange`],
    /// [`IdError::ShardOutOfRange`] (a shard above the layout's maximum, or any shard
    /// with a layout without shard bits), [`IdError::MissingShard`], and
    /// [`IdError::InvalidEpoch`] when the epoch is so late that timestamps would not fit
    /// in a `u64`.
    ///
    /// ```
    /// use grant_sharding::id::{IdError, Snowflake, SnowflakeLayout};
    ///
    /// assert!(Snowflake::new(SnowflakeLayout::SHARDED, 0, 63, Some(255)).is_ok());
    /// assert!(matches!(
    ///     Snowflake::new(SnowflakeLayout::SHARDED, 0, 1, Some(256)),
    ///     Err(IdError::ShardOutOfRange { shard: 256, max: 255, .. })
    /// ));
    /// assert!(matches!(
    ///     Snowflake::new(SnowflakeLayout::SHARDED, 0, 1, None),
    ///     Err(IdError::MissingShard { bits: 8 })
    /// ));
    /// assert!(matches!(
    ///     Snowflake::new(SnowflakeLayout::TWITTER, 0, 1, Some(0)),
    ///     Err(IdError::ShardOutOfRange { bits: 0, .. })
    /// ));
    /// ```
    pub fn new(
        layout: SnowflakeLayout,
        epoch_ms: u64,
        worker_id: u16,
        shard: Option<u16>,
    ) -> Result<Self, IdError> {
        layout.validate()?;
        let max_worker = layout.max_worker();
        if worker_id > max_worker {
            return Err(IdError::WorkerOutOfRange {
                worker: worker_id,
                bits: layout.worker_bits,
                max: max_worker,
            });
        }
        let shard = match (shard, layout.max_shard()) {
            (None, None) => 0,
            (None, Some(_)) => {
                return Err(IdError::MissingShard {
                    bits: layout.shard_bits,
                })
            }
            (Some(shard), Some(max)) if shard <= max => shard,
            (Some(shard), max) => {
                return Err(IdError::ShardOutOfRange {
                    shard,
                    bits: layout.shard_bits,
                    max: max.unwrap_or(0),
                })
            }
        };
        if epoch_ms.checked_add(layout.max_timestamp()).is_none() {
            return Err(IdError::InvalidEpoch {
                epoch_ms,
                reason: format!(
                    "the epoch plus the layout's largest timestamp ({} ms) overflows a u64",
                    layout.max_timestamp()
                ),
            });
        }
        Ok(Snowflake {
            layout,
            epoch_ms,
            worker: worker_id,
            shard,
            clock: SystemClock,
            tolerance: Self::DEFAULT_CLOCK_TOLERANCE,
            state: AtomicU64::new(NONE_ISSUED),
        })
    }
}

impl<C: Clock> Snowflake<C> {
    /// The same generator reading time from `clock` (tests use an
    /// `Arc<AtomicU64>`). Ids already issued still bound the next ones.
    ///
    /// ```
    /// use std::sync::atomic::AtomicU64;
    /// use std::sync::Arc;
    /// use grant_sharding::id::{Snowflake, SnowflakeLayout};
    ///
    /// let now = Arc::new(AtomicU64::new(1_000));
    /// let ids = Snowflake::new(SnowflakeLayout::TWITTER, 0, 1, None)?.with_clock(Arc::clone(&now));
    /// assert_eq!(ids.decode(ids.next_id()?)?.timestamp_ms, 1_000);
    /// # Ok::<(), grant_sharding::id::IdError>(())
    /// ```
    pub fn with_clock<D: Clock>(self, clock: D) -> Snowflake<D> {
        Snowflake {
            layout: self.layout,
            epoch_ms: self.epoch_ms,
            worker: self.worker,
            shard: self.shard,
            clock,
            tolerance: self.tolerance,
            state: self.state,
        }
    }

    /// How far back the clock may go, and how long [`next_id`](Snowflake::next_id) may
    /// wait for it, before [`IdError::ClockMovedBackwards`]; the default is
    /// [`DEFAULT_CLOCK_TOLERANCE`](Snowflake::DEFAULT_CLOCK_TOLERANCE) (5 s). The same
    /// bound (plus a 20 ms grace for scheduling) applies to waiting for the next
    /// millisecond when one millisecond's sequence is used up
    /// ([`IdError::ClockStalled`] if the clock does not advance).
    ///
    /// ```
    /// use std::time::Duration;
    /// use grant_sharding::id::{Snowflake, SnowflakeLayout};
    ///
    /// let ids = Snowflake::new(SnowflakeLayout::TWITTER, 0, 1, None)?
    ///     .with_clock_tolerance(Duration::from_millis(100));
    /// assert_eq!(ids.clock_tolerance(), Duration::from_millis(100));
    /// # Ok::<(), grant_sharding::id::IdError>(())
    /// ```
    pub fn with_clock_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The tolerance for a clock that goes backwards.
    ///
    /// ```
    /// use grant_sharding::id::{Snowflake, SnowflakeLayout};
    ///
    /// let ids = Snowflake::new(SnowflakeLayout::TWITTER, 0, 1, None)?;
    /// assert_eq!(ids.clock_tolerance(), Snowflake::DEFAULT_CLOCK_TOLERANCE);
    /// # Ok::<(), grant_sharding::id::IdError>(())
    /// ```
    pub fn clock_tolerance(&self) -> Duration {
        self.tolerance
    }

    /// The layout.
    ///
    /// ```
    /// use grant_sharding::id::{Snowflake, SnowflakeLayout};
    ///
    /// let ids = Snowflake::new(SnowflakeLayout::SHARDED, 0, 1, Some(2))?;
    /// assert_eq!(ids.layout(), SnowflakeLayout::SHARDED);
    /// # Ok::<(), grant_sharding::id::IdError>(())
    /// ```
    pub fn layout(&self) -> SnowflakeLayout {
        self.layout
    }

    /// The epoch, in milliseconds since the Unix epoch.
    ///
    /// ```
    /// use grant_sharding::id::{Snowflake, SnowflakeLayout};
    ///
    /// let ids = Snowflake::new(SnowflakeLayout::TWITTER, 42, 1, None)?;
    /// assert_eq!(ids.epoch_ms(), 42);
    /// # Ok::<(), grant_sharding::id::IdError>(())
    /// ```
    pub fn epoch_ms(&self) -> u64 {
        self.epoch_ms
    }

    /// The worker id.
    ///
    /// ```
    /// use grant_sharding::id::{Snowflake, SnowflakeLayout};
    ///
    /// let ids = Snowflake::new(SnowflakeLayout::TWITTER, 0, 9, None)?;
    /// assert_eq!(ids.worker_id(), 9);
    /// # Ok::<(), grant_sharding::id::IdError>(())
    /// ```
    pub fn worker_id(&self) -> u16 {
        self.worker
    }

    /// The logical shard embedded in every id, or `None` when the layout has no shard
    /// bits.
    ///
    /// ```
    /// use grant_sharding::id::{Snowflake, SnowflakeLayout};
    ///
    /// let ids = Snowflake::new(SnowflakeLayout::SHARDED, 0, 1, Some(4))?;
    /// assert_eq!(ids.shard(), Some(4));
    /// # Ok::<(), grant_sharding::id::IdError>(())
    /// ```
    pub fn shard(&self) -> Option<u16> {
        (self.layout.shard_bits > 0).then_some(self.shard)
    }

    /// The next id: positive, unique, above every id this generator issued before.
    ///
    /// Errors: [`IdError::ClockBeforeEpoch`], [`IdError::TimestampOverflow`] (the layout
    /// ran out of timestamps), [`IdError::ClockMovedBackwards`] and
    /// [`IdError::ClockStalled`] (see [`Snowflake`]'s guarantees). An error issues
    /// nothing; a later call may succeed.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use grant_sharding::id::{IdError, Snowflake, SnowflakeLayout};
    ///
    /// let now = Arc::new(AtomicU64::new(10_000));
    /// let ids = Snowflake::new(SnowflakeLayout::TWITTER, 0, 1, None)?
    ///     .with_clock(Arc::clone(&now))
    ///     .with_clock_tolerance(Duration::from_millis(5));
    /// let first = ids.next_id()?;
    /// now.store(9_000, Ordering::SeqCst); // the clock goes back one second
    /// let second = ids.next_id()?; // still counting within millisecond 10_000
    /// assert!(second > first);
    /// // Once that millisecond's 4096 ids are used up, the clock is too far behind.
    /// let err = (0..5_000).map(|_| ids.next_id()).find_map(Result::err).unwrap();
    /// assert!(matches!(err, IdError::ClockMovedBackwards { .. }));
    /// # Ok::<(), IdError>(())
    /// ```
    pub fn next_id(&self) -> Result<i64, IdError> {
        let sequence_bits = self.layout.sequence_bits;
        let max_sequence = mask(sequence_bits);
        let max_timestamp = self.layout.max_timestamp();
        let mut wait_started: Option<Instant> = None;
        loop {
            let now_ms = self.clock.now_ms();
            // Signed: a clock set back before the epoch is a clock behind the last id.
            let now = i128::from(now_ms) - i128::from(self.epoch_ms);
            if now > i128::from(max_timestamp) {
                return Err(IdError::TimestampOverflow {
                    elapsed_ms: now as u64,
                    max_ms: max_timestamp,
                });
            }
            let state = self.state.load(Ordering::Acquire);
            let (timestamp, sequence) = if state == NONE_ISSUED {
                if now < 0 {
                    return Err(IdError::ClockBeforeEpoch {
                        now_ms,
                        epoch_ms: self.epoch_ms,
                    });
                }
                (now as u64, 0)
            } else {
                let last = state >> sequence_bits;
                let last_sequence = state & max_sequence;
                if now > i128::from(last) {
                    (now as u64, 0)
                } else if last_sequence < max_sequence {
                    // Same millisecond, or the clock went back: count on from the last.
                    (last, last_sequence + 1)
                } else {
                    self.wait(last, now, now_ms, &mut wait_started)?;
                    continue;
                }
            };
            let next = (timestamp << sequence_bits) | sequence;
            if self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(self
                    .layout
                    .compose(timestamp, self.shard, self.worker, sequence));
            }
        }
    }

    /// The sequence of millisecond `last` is used up and the clock reads `now <= last`
    /// (relative to the epoch): wait a little for it to pass `last`, or fail.
    fn wait(
        &self,
        last: u64,
        now: i128,
        now_ms: u64,
        started: &mut Option<Instant>,
    ) -> Result<(), IdError> {
        let behind = u64::try_from(i128::from(last) - now).unwrap_or(u64::MAX);
        let by = Duration::from_millis(behind);
        let backwards = || IdError::ClockMovedBackwards {
            by,
            tolerance: self.tolerance,
        };
        if by > self.tolerance {
            // Waiting up to the tolerance cannot bring the clock past `last`.
            return Err(backwards());
        }
        let started = *started.get_or_insert_with(Instant::now);
        let waited = started.elapsed();
        if waited > self.tolerance.saturating_add(WAIT_GRACE) {
            return Err(if behind > 0 {
                backwards()
            } else {
                IdError::ClockStalled {
                    at_ms: now_ms,
                    waited,
                }
            });
        }
        if behind >= 2 {
            std::thread::sleep(Duration::from_millis(1));
        } else {
            std::thread::yield_now();
        }
        Ok(())
    }

    /// Splits an id into its fields (see [`SnowflakeLayout::decode`]), with this
    /// generator's layout and epoch.
    ///
    /// Errors: [`IdError::NegativeId`].
    ///
    /// ```
    /// use grant_sharding::id::{Snowflake, SnowflakeLayout};
    ///
    /// let ids = Snowflake::new(SnowflakeLayout::SHARDED, Snowflake::DEFAULT_EPOCH_MS, 5, Some(200))?;
    /// let parts = ids.decode(ids.next_id()?)?;
    /// assert_eq!((parts.shard, parts.worker, parts.sequence), (Some(200), 5, 0));
    /// # Ok::<(), grant_sharding::id::IdError>(())
    /// ```
    pub fn decode(&self, id: i64) -> Result<SnowflakeParts, IdError> {
        self.layout.decode(id, self.epoch_ms)
    }

    /// The logical shard embedded in `id` (see [`SnowflakeLayout::shard_of`]): `None`
    /// when the layout has no shard bits or `id` is negative.
    ///
    /// ```
    /// use grant_sharding::id::{Snowflake, SnowflakeLayout};
    /// use grant_sharding::{Modulo, ShardResolver, ShardValue};
    ///
    /// let ids = Snowflake::new(SnowflakeLayout::SHARDED, Snowflake::DEFAULT_EPOCH_MS, 1, Some(3))?;
    /// let id = ids.next_id()?;
    /// // Route by the embedded logical shard: 256 logical shards over 2 databases.
    /// let resolver = Modulo::new(["shard_one", "shard_two"])?;
    /// let logical = ids.shard_of(id).unwrap();
    /// assert_eq!(resolver.resolve(&ShardValue::from(logical))?, "shard_two");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shard_of(&self, id: i64) -> Option<u16> {
        self.layout.shard_of(id)
    }
}

impl<C> fmt::Debug for Snowflake<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snowflake")
            .field("layout", &self.layout)
            .field("epoch_ms", &self.epoch_ms)
            .field("worker", &self.worker)
            .field("shard", &(self.layout.shard_bits > 0).then_some(self.shard))
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}
