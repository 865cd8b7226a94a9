//! UUIDv7 ([RFC 9562](https://www.rfc-editor.org/rfc/rfc9562#section-5.7)): 48 bits of
//! Unix milliseconds followed by a counter and random bits, from the `uuid` crate.

use std::fmt;
use std::sync::Mutex;

use uuid::{ContextV7, Timestamp, Uuid};

use super::{Clock, SystemClock};

/// A UUIDv7 from the system clock: [`Uuid::now_v7`].
///
/// Ordering: every UUID this function returns in a process sorts after the ones it
/// returned before, on any thread (the `uuid` crate keeps one synchronized counter per
/// process, reseeded with random bits each millisecond and incremented within it, and
/// never lets the timestamp go backwards). UUIDs from different processes or hosts are
/// ordered by millisecond only, and only as far as their clocks agree.
///
/// ```
/// let a = grant_sharding::id::uuid_v7();
/// let b = grant_sharding::id::uuid_v7();
/// assert_eq!(a.get_version_num(), 7);
/// assert!(a < b);
/// ```
pub fn uuid_v7() -> Uuid {
    Uuid::now_v7()
}

/// A UUIDv7 generator with its own counter and clock, for when ordering should not
/// depend on process-wide state (and for tests, with a manual [`Clock`]).
///
/// Ordering: every UUID a generator returns sorts after the ones it returned before,
/// on any thread, even when its clock goes backwards (the embedded timestamp then stays
/// at the latest millisecond seen, and the counter carries on). The counter is 42 bits
/// reseeded at random each millisecond (the `uuid` crate's [`ContextV7`]), with the
/// remaining 32 bits random, so two generators, or two processes, practically never
/// collide; their UUIDs are ordered by millisecond only.
///
/// ```
/// use grant_sharding::id::UuidV7;
///
/// let ids = UuidV7::new();
/// let a = ids.next_uuid();
/// let b = ids.next_uuid();
/// assert!(a < b);
/// assert_eq!(b.get_version_num(), 7);
/// ```
pub struct UuidV7<C = SystemClock> {
    context: Mutex<ContextV7>,
    clock: C,
}

impl UuidV7<SystemClock> {
    /// A generator on the system clock.
    ///
    /// ```
    /// use grant_sharding::id::UuidV7;
    ///
    /// let uuid = UuidV7::new().next_uuid();
    /// assert_eq!(uuid.get_version_num(), 7);
    /// ```
    pub fn new() -> Self {
        UuidV7 {
            context: Mutex::new(ContextV7::new()),
            clock: SystemClock,
        }
    }
}

impl Default for UuidV7<SystemClock> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> UuidV7<C> {
    /// The same generator reading time from `clock`; UUIDs already issued still bound
    /// the next ones.
    ///
    /// ```
    /// use std::sync::atomic::AtomicU64;
    /// use std::sync::Arc;
    /// use grant_sharding::id::UuidV7;
    ///
    /// let ids = UuidV7::new().with_clock(Arc::new(AtomicU64::new(1_700_000_000_123)));
    /// let (secs, nanos) = ids.next_uuid().get_timestamp().unwrap().to_unix();
    /// assert_eq!((secs, nanos), (1_700_000_000, 123_000_000));
    /// ```
    pub fn with_clock<D: Clock>(self, clock: D) -> UuidV7<D> {
        UuidV7 {
            context: self.context,
            clock,
        }
    }

    /// The next UUIDv7: above every UUID this generator returned before.
    ///
    /// ```
    /// use grant_sharding::id::UuidV7;
    ///
    /// let ids = UuidV7::new();
    /// let mut last = ids.next_uuid();
    /// for _ in 0..1_000 {
    ///     let next = ids.next_uuid();
    ///     assert!(next > last);
    ///     last = next;
    /// }
    /// ```
    pub fn next_uuid(&self) -> Uuid {
        let now_ms = self.clock.now_ms();
        // `Mutex<ContextV7>` is a `ClockSequence`: the counter and the timestamp it keeps
        // are advanced under the lock, so UUIDs follow the order the lock is taken in.
        let timestamp = Timestamp::from_unix(
            &self.context,
            now_ms / 1_000,
            (now_ms % 1_000) as u32 * 1_000_000,
        );
        Uuid::new_v7(timestamp)
    }
}

impl<C> fmt::Debug for UuidV7<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UuidV7").finish_non_exhaustive()
    }
}
