//! [`SnowflakeLayout`]: how the 63 usable bits of a Snowflake id are split.

use std::fmt;

use super::IdError;

/// How a Snowflake id's 63 usable bits are split, from the most significant down:
/// `timestamp | shard | worker | sequence`. The sign bit is always 0, so every id is a
/// positive `i64` that fits a `BIGINT` column.
///
/// - `timestamp_bits`: milliseconds since the generator's epoch; 41 bits last about
///   69.7 years. At least 32.
/// - `shard_bits`: the logical shard embedded in the id (0 for none), at most 16.
///   With shard bits, [`shard_of`](SnowflakeLayout::shard_of) reads a row's shard back
///   from its id, so `find(id)` can be routed without asking every shard.
/// - `worker_bits`: the worker id, unique per running generator (per process or per
///   host, from configuration), at most 16.
/// - `sequence_bits`: ids per millisecond per generator (`2^sequence_bits`).
///
/// The four must add up to exactly 63. Two presets:
///
/// | preset                                  | timestamp | shard | worker | sequence | gives                                        |
/// |-----------------------------------------|-----------|-------|--------|----------|----------------------------------------------|
/// | [`TWITTER`](SnowflakeLayout::TWITTER)   | 41        | 0     | 10     | 12       | 1024 workers × 4096 ids/ms, ~69 years        |
/// | [`SHARDED`](SnowflakeLayout::SHARDED)   | 41        | 8     | 6      | 8        | 256 logical shards × 64 workers × 256 ids/ms |
///
/// Fields are public so any split can be written down; it is checked by
/// [`validate`](SnowflakeLayout::validate), which [`Snowflake::new`](super::Snowflake::new),
/// [`decode`](SnowflakeLayout::decode) and [`shard_of`](SnowflakeLayout::shard_of) call.
///
/// ```
/// use grant_sharding::id::SnowflakeLayout;
///
/// assert!(SnowflakeLayout::TWITTER.validate().is_ok());
/// assert_eq!(SnowflakeLayout::default(), SnowflakeLayout::TWITTER);
/// let custom = SnowflakeLayout { timestamp_bits: 42, shard_bits: 4, worker_bits: 5, sequence_bits: 12 };
/// assert!(custom.validate().is_ok());
/// let too_long = SnowflakeLayout { sequence_bits: 13, ..custom };
/// assert!(too_long.validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnowflakeLayout {
    /// Bits of milliseconds since the epoch (at least 32).
    pub timestamp_bits: u8,
    /// Bits of logical shard (0 to 16; 0: the id names no shard).
    pub shard_bits: u8,
    /// Bits of worker id (0 to 16).
    pub worker_bits: u8,
    /// Bits of per-millisecond sequence.
    pub sequence_bits: u8,
}

/// The fields of a Snowflake id, as read back by [`SnowflakeLayout::decode`].
///
/// ```
/// use grant_sharding::id::{SnowflakeLayout, SnowflakeParts};
///
/// let id = (5_i64 << 22) | (3 << 12) | 7; // 5 ms after the epoch, worker 3, sequence 7
/// let parts = SnowflakeLayout::TWITTER.decode(id, 1_000)?;
/// assert_eq!(parts, SnowflakeParts { timestamp_ms: 1_005, shard: None, worker: 3, sequence: 7 });
/// # Ok::<(), grant_sharding::id::IdError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnowflakeParts {
    /// When the id was issued: milliseconds since the Unix epoch (the generator's
    /// epoch plus the id's timestamp field).
    pub timestamp_ms: u64,
    /// The logical shard, or `None` when the layout has no shard bits.
    pub shard: Option<u16>,
    /// The worker id.
    pub worker: u16,
    /// The sequence number within the millisecond.
    pub sequence: u32,
}

impl SnowflakeLayout {
    /// 41 timestamp bits, no shard, 10 worker bits, 12 sequence bits: Twitter's layout.
    ///
    /// ```
    /// use grant_sharding::id::SnowflakeLayout;
    ///
    /// assert_eq!(SnowflakeLayout::TWITTER.max_worker(), 1023);
    /// assert_eq!(SnowflakeLayout::TWITTER.max_shard(), None);
    /// ```
    pub const TWITTER: SnowflakeLayout = SnowflakeLayout {
        timestamp_bits: 41,
        shard_bits: 0,
        worker_bits: 10,
        sequence_bits: 12,
    };

    /// 41 timestamp bits, 8 shard bits (256 logical shards), 6 worker bits (64 workers),
    /// 8 sequence bits (256 ids per millisecond per generator).
    ///
    /// A process runs one generator per logical shard it writes to, all with the same
    /// worker id; the shard bits keep their ids apart.
    ///
    /// ```
    /// use grant_sharding::id::SnowflakeLayout;
    ///
    /// assert_eq!(SnowflakeLayout::SHARDED.max_shard(), Some(255));
    /// assert_eq!(SnowflakeLayout::SHARDED.max_worker(), 63);
    /// assert_eq!(SnowflakeLayout::SHARDED.max_sequence(), 255);
    /// ```
    pub const SHARDED: SnowflakeLayout = SnowflakeLayout {
        timestamp_bits: 41,
        shard_bits: 8,
        worker_bits: 6,
        sequence_bits: 8,
    };

    /// Checks the split: the fields add up to 63, `timestamp_bits >= 32`,
    /// `shard_bits <= 16`, `worker_bits <= 16`.
    ///
    /// Errors: [`IdError::InvalidLayout`] naming the layout and what is wrong.
    ///
    /// ```
    /// use grant_sharding::id::{IdError, SnowflakeLayout};
    ///
    /// let layout = SnowflakeLayout { timestamp_bits: 41, shard_bits: 0, worker_bits: 20, sequence_bits: 2 };
    /// let err = layout.validate().unwrap_err();
    /// assert!(matches!(err, IdError::InvalidLayout { .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid Snowflake layout 41/0/20/2 (timestamp/shard/worker/sequence bits): \
    ///      worker_bits is 20, at most 16 are supported (worker ids are u16)"
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), IdError> {
        let total = u32::from(self.timestamp_bits)
            + u32::from(self.shard_bits)
            + u32::from(self.worker_bits)
            + u32::from(self.sequence_bits);
        let reason = if total != 63 {
            format!("the bits add up to {total}, they must add up to 63")
        } else if self.timestamp_bits < 32 {
            format!(
                "timestamp_bits is {}, at least 32 are needed",
                self.timestamp_bits
            )
        } else if self.shard_bits > 16 {
            format!(
                "shard_bits is {}, at most 16 are supported (shards are u16)",
                self.shard_bits
            )
        } else if self.worker_bits > 16 {
            format!(
                "worker_bits is {}, at most 16 are supported (worker ids are u16)",
                self.worker_bits
            )
        } else {
            return Ok(());
        };
        Err(IdError::InvalidLayout {
            layout: *self,
            reason,
        })
    }

    /// The largest timestamp field: `2^timestamp_bits - 1` milliseconds after the epoch.
    ///
    /// ```
    /// use grant_sharding::id::SnowflakeLayout;
    ///
    /// // About 69.7 years.
    /// assert_eq!(SnowflakeLayout::TWITTER.max_timestamp(), 2_199_023_255_551);
    /// ```
    pub fn max_timestamp(&self) -> u64 {
        mask(self.timestamp_bits)
    }

    /// The largest logical shard, or `None` when the layout has no shard bits.
    ///
    /// ```
    /// use grant_sharding::id::SnowflakeLayout;
    ///
    /// assert_eq!(SnowflakeLayout::SHARDED.max_shard(), Some(255));
    /// ```
    pub fn max_shard(&self) -> Option<u16> {
        (self.shard_bits > 0).then(|| mask(self.shard_bits.min(16)) as u16)
    }

    /// The largest worker id (`2^worker_bits - 1`; 0 with no worker bits).
    ///
    /// ```
    /// use grant_sharding::id::SnowflakeLayout;
    ///
    /// assert_eq!(SnowflakeLayout::TWITTER.max_worker(), 1023);
    /// ```
    pub fn max_worker(&self) -> u16 {
        mask(self.worker_bits.min(16)) as u16
    }

    /// The largest sequence number: a generator issues `max_sequence() + 1` ids per
    /// millisecond.
    ///
    /// ```
    /// use grant_sharding::id::SnowflakeLayout;
    ///
    /// assert_eq!(SnowflakeLayout::TWITTER.max_sequence(), 4095);
    /// ```
    pub fn max_sequence(&self) -> u32 {
        mask(self.sequence_bits.min(31)) as u32
    }

    /// Splits `id` into its fields; `epoch_ms` is the generator's epoch (milliseconds
    /// since the Unix epoch), added back to the timestamp field.
    ///
    /// Errors: [`IdError::InvalidLayout`], [`IdError::NegativeId`] (no Snowflake id is
    /// negative), [`IdError::InvalidEpoch`] when `epoch_ms` plus the timestamp does not
    /// fit in a `u64`.
    ///
    /// ```
    /// use grant_sharding::id::{IdError, SnowflakeLayout};
    ///
    /// let id = (9_i64 << 22) | (42 << 14) | (5 << 8) | 1; // 9 ms, shard 42, worker 5, sequence 1
    /// let parts = SnowflakeLayout::SHARDED.decode(id, 0)?;
    /// assert_eq!((parts.timestamp_ms, parts.shard, parts.worker, parts.sequence), (9, Some(42), 5, 1));
    /// assert!(matches!(SnowflakeLayout::SHARDED.decode(-1, 0), Err(IdError::NegativeId { id: -1 })));
    /// # Ok::<(), IdError>(())
    /// ```
    pub fn decode(&self, id: i64, epoch_ms: u64) -> Result<SnowflakeParts, IdError> {
        self.validate()?;
        let raw = u64::try_from(id).map_err(|_| IdError::NegativeId { id })?;
        let (timestamp, shard, worker, sequence) = self.split(raw);
        let timestamp_ms =
            epoch_ms
                .checked_add(timestamp)
                .ok_or_else(|| IdError::InvalidEpoch {
                    epoch_ms,
                    reason: format!("adding the id's timestamp {timestamp} ms overflows a u64"),
                })?;
        Ok(SnowflakeParts {
            timestamp_ms,
            shard: (self.shard_bits > 0).then_some(shard as u16),
            worker: worker as u16,
            sequence: sequence as u32,
        })
    }

    /// The logical shard embedded in `id`, so a lookup by id can go straight to that
    /// shard instead of asking every shard.
    ///
    /// `None` when the layout has no shard bits, is invalid, or `id` is negative (not an
    /// id this layout produced): the caller then has to ask every shard.
    ///
    /// ```
    /// use grant_sharding::id::SnowflakeLayout;
    ///
    /// let id = (9_i64 << 22) | (42 << 14) | (5 << 8) | 1;
    /// assert_eq!(SnowflakeLayout::SHARDED.shard_of(id), Some(42));
    /// assert_eq!(SnowflakeLayout::TWITTER.shard_of(id), None);
    /// assert_eq!(SnowflakeLayout::SHARDED.shard_of(-5), None);
    /// ```
    pub fn shard_of(&self, id: i64) -> Option<u16> {
        if self.shard_bits == 0 || self.validate().is_err() {
            return None;
        }
        let raw = u64::try_from(id).ok()?;
        Some(self.split(raw).1 as u16)
    }

    /// Builds an id from its fields, each already checked to fit its bits.
    pub(crate) fn compose(&self, timestamp: u64, shard: u16, worker: u16, sequence: u64) -> i64 {
        let worker_shift = self.sequence_bits;
        let shard_shift = worker_shift + self.worker_bits;
        let timestamp_shift = shard_shift + self.shard_bits;
        let raw = (timestamp << timestamp_shift)
            | (u64::from(shard) << shard_shift)
            | (u64::from(worker) << worker_shift)
            | sequence;
        // timestamp < 2^timestamp_bits and the bits add up to 63: bit 63 is clear.
        raw as i64
    }

    /// `(timestamp, shard, worker, sequence)` of a non-negative id; the layout is valid.
    fn split(&self, raw: u64) -> (u64, u64, u64, u64) {
        let sequence = raw & mask(self.sequence_bits);
        let raw = raw >> self.sequence_bits;
        let worker = raw & mask(self.worker_bits);
        let raw = raw >> self.worker_bits;
        let shard = raw & mask(self.shard_bits);
        let timestamp = raw >> self.shard_bits;
        (timestamp, shard, worker, sequence)
    }
}

impl Default for SnowflakeLayout {
    /// [`SnowflakeLayout::TWITTER`].
    fn default() -> Self {
        SnowflakeLayout::TWITTER
    }
}

impl fmt::Display for SnowflakeLayout {
    /// `41/0/10/12 (timestamp/shard/worker/sequence bits)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{} (timestamp/shard/worker/sequence bits)",
            self.timestamp_bits, self.shard_bits, self.worker_bits, self.sequence_bits
        )
    }
}

/// `2^bits - 1` for `bits <= 64`.
pub(crate) fn mask(bits: u8) -> u64 {
    match bits {
        0 => 0,
        b if b >= 64 => u64::MAX,
        b => u64::MAX >> (64 - b),
    }
}
