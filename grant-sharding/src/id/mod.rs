//! Ids unique across shards: [`Snowflake`] (64-bit, time-ordered, optionally naming
//! the row's logical shard) and UUIDv7 ([`UuidV7`], [`uuid_v7`]).
//!
//! A sharded table cannot use a per-database auto-increment for its key: two shards
//! would hand out the same numbers. These generators need no coordination between
//! processes beyond a distinct worker id per running [`Snowflake`] generator (from
//! configuration), and both kinds of id sort by creation time.
//!
//! | generator      | id                | unique across processes by              | ordered                                         |
//! |----------------|-------------------|-----------------------------------------|-------------------------------------------------|
//! | [`Snowflake`]  | positive `i64`    | worker id (and shard) bits              | strictly increasing per generator; by ms overall |
//! | [`UuidV7`]     | [`uuid::Uuid`]    | 74 random / counter bits                | strictly increasing per generator; by ms overall |
//! | [`uuid_v7`]    | [`uuid::Uuid`]    | 74 random / counter bits                | strictly increasing within the process          |
//!
//! Time comes from a [`Clock`] ([`SystemClock`] unless another is given), so tests can
//! drive it by hand.
//!
//! ```
//! use grant_sharding::id::{Snowflake, SnowflakeLayout};
//!
//! // Logical shard 3, worker 1, ids counted from 2024-01-01T00:00:00Z.
//! let ids = Snowflake::new(SnowflakeLayout::SHARDED, Snowflake::DEFAULT_EPOCH_MS, 1, Some(3))?;
//! let a = ids.next_id()?;
//! let b = ids.next_id()?;
//! assert!(0 < a && a < b);
//! assert_eq!(ids.shard_of(b), Some(3));
//! # Ok::<(), grant_sharding::id::IdError>(())
//! ```

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod layout;
mod snowflake;
mod uuid_v7;

pub use layout::{SnowflakeLayout, SnowflakeParts};
pub use snowflake::Snowflake;
pub use uuid_v7::{uuid_v7, UuidV7};

/// Why an id generator could not be built or could not issue an id.
///
/// ```
/// use grant_sharding::id::{IdError, Snowflake, SnowflakeLayout};
///
/// let err = Snowflake::new(SnowflakeLayout::TWITTER, 0, 1024, None).unwrap_err();
/// assert!(matches!(err, IdError::WorkerOutOfRange { worker: 1024, max: 1023, .. }));
/// assert_eq!(
///     err.to_string(),
///     "worker id 1024 does not fit the layout's 10 worker bits (at most 1023)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The [`SnowflakeLayout`] is unusable.
    #[error("invalid Snowflake layout {layout}: {reason}")]
    InvalidLayout {
        /// The layout as given.
        layout: SnowflakeLayout,
        /// What is wrong with it.
        reason: String,
    },

    /// The worker id does not fit the layout's worker bits.
    #[error("worker id {worker} does not fit the layout's {bits} worker bits (at most {max})")]
    WorkerOutOfRange {
        /// The worker id given.
        worker: u16,
        /// The layout's worker bits.
        bits: u8,
        /// The largest worker id the layout holds.
        max: u16,
    },

    /// The logical shard does not fit the layout's shard bits (or the layout has none).
    #[error("shard {shard} does not fit the layout's {bits} shard bits (at most {max})")]
    ShardOutOfRange {
        /// The shard given.
        shard: u16,
        /// The layout's shard bits.
        bits: u8,
        /// The largest shard the layout holds (0 when it has no shard bits).
        max: u16,
    },

    /// The layout has shard bits but no shard was given.
    #[error(
        "the layout has {bits} shard bits: give the logical shard this generator issues ids for"
    )]
    MissingShard {
        /// The layout's shard bits.
        bits: u8,
    },

    /// The epoch is unusable.
    #[error("invalid Snowflake epoch {epoch_ms} ms: {reason}")]
    InvalidEpoch {
        /// The epoch given, in milliseconds since the Unix epoch.
        epoch_ms: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// The clock reads a time before the generator's epoch.
    #[error("the clock reads {now_ms} ms, before the Snowflake epoch {epoch_ms} ms")]
    ClockBeforeEpoch {
        /// The clock's reading, in milliseconds since the Unix epoch.
        now_ms: u64,
        /// The generator's epoch.
        epoch_ms: u64,
    },

    /// The layout's timestamp bits are used up: the clock is too far past the epoch.
    #[error(
        "the clock is {elapsed_ms} ms past the Snowflake epoch, the layout's timestamp holds at most {max_ms} ms"
    )]
    TimestampOverflow {
        /// Milliseconds since the epoch.
        elapsed_ms: u64,
        /// The largest timestamp the layout holds.
        max_ms: u64,
    },

    /// The clock went backwards further than the generator can absorb: the sequence of
    /// the last millisecond issued is used up and the clock did not catch up within the
    /// tolerance.
    #[error(
        "the clock moved backwards by {by:?}: beyond the tolerance of {tolerance:?}, no id issued"
    )]
    ClockMovedBackwards {
        /// How far the clock is behind the last millisecond issued.
        by: Duration,
        /// The generator's tolerance.
        tolerance: Duration,
    },

    /// The sequence of a millisecond is used up and the clock did not reach the next
    /// millisecond within the tolerance (a clock that does not advance).
    #[error("the clock stayed at {at_ms} ms for {waited:?}: the millisecond's sequence is used up, no id issued")]
    ClockStalled {
        /// The clock's reading, in milliseconds since the Unix epoch.
        at_ms: u64,
        /// How long the generator waited.
        waited: Duration,
    },

    /// A negative number is not a Snowflake id.
    #[error("{id} is not a Snowflake id: Snowflake ids are never negative")]
    NegativeId {
        /// The number given.
        id: i64,
    },
}

/// A source of wall-clock time in milliseconds since the Unix epoch.
///
/// [`SystemClock`] reads the system clock. [`AtomicU64`] (and `Arc<AtomicU64>`,
/// `&C`, `Arc<C>`, `Box<C>` of any clock) is a clock too, reading the number it holds:
/// tests set it by hand to make time stand still or go backwards.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use grant_sharding::id::Clock;
///
/// let manual = Arc::new(AtomicU64::new(1_000));
/// let clock = Arc::clone(&manual);
/// assert_eq!(clock.now_ms(), 1_000);
/// manual.store(900, Ordering::SeqCst); // the clock goes backwards
/// assert_eq!(clock.now_ms(), 900);
/// ```
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock ([`SystemTime::now`]); a time before 1970 reads as 0.
///
/// ```
/// use grant_sharding::id::{Clock, SystemClock};
///
/// assert!(SystemClock.now_ms() > 1_700_000_000_000); // after November 2023
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl Clock for AtomicU64 {
    fn now_ms(&self) -> u64 {
        self.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}
