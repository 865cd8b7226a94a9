//! [`StableHash`]: FNV-1a 64 over a canonical key encoding, then jump consistent hash.

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::error::check_shard_list;
use crate::{ShardError, ShardResolver, ShardValue};

const RESOLVER: &str = "stable_hash";

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV 64-bit prime (2^40 + 2^8 + 0xb3).
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Spreads keys over shards with a hash that is the same in every process, on every
/// platform and in every version of this crate.
///
/// # Algorithm (stable; changing it would move data, so it never changes)
///
/// 1. **Canonical encoding** of the key as bytes: one type tag byte, then a payload.
///
///    | key                                   | tag    | payload                                   |
///    |---------------------------------------|--------|-------------------------------------------|
///    | `Int(n)`, or `UInt(n)` with n ≤ 2^63−1 | `0x01` | `n` as `i64`, 8 bytes big-endian (two's complement) |
///    | `UInt(n)` with n ≥ 2^63                | `0x02` | `n` as `u64`, 8 bytes big-endian          |
///    | `Text(s)`                             | `0x03` | the UTF-8 bytes of `s` (no length, no terminator) |
///    | `Uuid(b)`                             | `0x04` | the 16 bytes of `b`                        |
///    | `Timestamp(t)`                        | `0x05` | `t` as `i64`, 8 bytes big-endian           |
///    | `Date { year, month, day }`           | `0x06` | `year` as `i32` 4 bytes big-endian, `month` 1 byte, `day` 1 byte (the date must exist) |
///
///    So `Int(5)` and `UInt(5)` are the same key, while `Int(5)` and `Text("5")` are not.
/// 2. **Hash**: 64-bit FNV-1a of those bytes ([`fnv1a_64`]): start from the offset basis
///    `0xcbf29ce484222325`; for each byte, XOR it into the hash, then multiply by the
///    prime `0x100000001b3` modulo 2^64.
/// 3. **Bucket**: Lamping & Veach's jump consistent hash ([`jump_consistent_hash`]) of
///    that 64-bit hash into `n` buckets, `n` being the number of shards; the key goes to
///    `shards[bucket]`. When a shard is appended to the list, only about `1/(n+1)` of
///    the keys move, all of them to the new shard. Shards must therefore only ever be
///    *appended*: reordering or removing one moves most keys.
///
/// ```
/// use grant_sharding::{ShardResolver, ShardValue, StableHash};
///
/// let hash = StableHash::new(["shard_0", "shard_1", "shard_2", "shard_3"])?;
/// // Bytes 01 00 00 00 00 00 00 00 2a, FNV-1a 64, then jump hash into 4 buckets.
/// assert_eq!(StableHash::key_hash(&ShardValue::Int(42))?, 0x529a_16dc_8ff5_0e4a);
/// assert_eq!(hash.resolve(&ShardValue::Int(42))?, "shard_1");
/// assert_eq!(hash.resolve(&ShardValue::from("alice"))?, "shard_3");
/// // Same key, same shard, whatever the integer type.
/// assert_eq!(hash.resolve(&ShardValue::from(42_u64))?, "shard_1");
/// # Ok::<(), grant_sharding::ShardError>(())
/// ```
#[derive(Debug, Clone)]
pub struct StableHash {
    shards: Vec<String>,
    buckets: NonZeroU32,
}

impl StableHash {
    /// Builds the resolver over `shards`, in this order (append new shards at the end).
    ///
    /// Errors: [`NoShards`](ShardError::NoShards) for an empty list,
    /// [`DuplicateShard`](ShardError::DuplicateShard),
    /// [`InvalidShardName`](ShardError::InvalidShardName), and
    /// [`TooManyShards`](ShardError::TooManyShards) above 2^31−1 shards.
    ///
    /// ```
    /// use grant_sharding::{ShardError, StableHash};
    ///
    /// assert!(StableHash::new(vec!["a".to_string(), "b".to_string()]).is_ok());
    /// assert!(matches!(
    ///     StableHash::new(Vec::<String>::new()),
    ///     Err(ShardError::NoShards { resolver: "stable_hash" })
    /// ));
    /// ```
    pub fn new(shards: impl IntoIterator<Item = impl Into<String>>) -> Result<Self, ShardError> {
        let shards = check_shard_list(RESOLVER, shards)?;
        let max = i32::MAX as usize;
        let buckets = u32::try_from(shards.len())
            .ok()
            .filter(|&n| n as usize <= max)
            .and_then(NonZeroU32::new)
            .ok_or(ShardError::TooManyShards {
                resolver: RESOLVER,
                count: shards.len(),
                max,
            })?;
        Ok(StableHash { shards, buckets })
    }

    /// The 64-bit FNV-1a hash of the key's canonical encoding (steps 1 and 2 above).
    ///
    /// Errors: [`InvalidKey`](ShardError::InvalidKey) for a
    /// [`Date`](ShardValue::Date) that does not exist.
    ///
    /// ```
    /// use grant_sharding::{fnv1a_64, ShardValue, StableHash};
    ///
    /// // Text keys hash as the tag byte 0x03 followed by their UTF-8 bytes.
    /// assert_eq!(StableHash::key_hash(&ShardValue::from("a"))?, fnv1a_64(b"\x03a"));
    /// # Ok::<(), grant_sharding::ShardError>(())
    /// ```
    pub fn key_hash(key: &ShardValue) -> Result<u64, ShardError> {
        let mut h = Fnv1a::new();
        match key {
            ShardValue::Int(v) => h.write(&[0x01]).write(&v.to_be_bytes()),
            ShardValue::UInt(v) => match i64::try_from(*v) {
                Ok(i) => h.write(&[0x01]).write(&i.to_be_bytes()),
                Err(_) => h.write(&[0x02]).write(&v.to_be_bytes()),
            },
            ShardValue::Text(s) => h.write(&[0x03]).write(s.as_bytes()),
            ShardValue::Uuid(b) => h.write(&[0x04]).write(b),
            ShardValue::Timestamp(t) => h.write(&[0x05]).write(&t.to_be_bytes()),
            ShardValue::Date { year, month, day } => {
                key.check_date_for(RESOLVER, *year, *month, *day)?;
                // check_date guarantees month <= 12 and day <= 31: one byte each.
                h.write(&[0x06])
                    .write(&year.to_be_bytes())
                    .write(&[*month as u8, *day as u8])
            }
        };
        Ok(h.finish())
    }
}

impl ShardResolver for StableHash {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        let bucket = jump_consistent_hash(Self::key_hash(key)?, self.buckets);
        Ok(Cow::Borrowed(&self.shards[bucket as usize]))
    }

    fn shards(&self) -> Vec<&str> {
        self.shards.iter().map(String::as_str).collect()
    }
}

/// Incremental FNV-1a 64: feeding bytes in pieces equals hashing their concatenation.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(FNV_OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) -> &mut Self {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
        self
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// 64-bit FNV-1a of `bytes`, as specified by Fowler, Noll and Vo (IETF draft
/// `draft-eastlake-fnv`): offset basis `0xcbf29ce484222325`, prime `0x100000001b3`,
/// XOR each byte in, then multiply (wrapping).
///
/// ```
/// use grant_sharding::fnv1a_64;
///
/// assert_eq!(fnv1a_64(b""), 0xcbf29ce484222325);
/// assert_eq!(fnv1a_64(b"a"), 0xaf63dc4c8601ec8c);
/// assert_eq!(fnv1a_64(b"foobar"), 0x85944171f73967e8);
/// ```
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    Fnv1a::new().write(bytes).finish()
}

/// Lamping & Veach's jump consistent hash ("A Fast, Minimal Memory, Consistent Hash
/// Algorithm", 2014): maps `key` to a bucket in `0..buckets`.
///
/// This is the paper's reference code, step for step, including its IEEE-754 `f64`
/// arithmetic, so it returns the same buckets as the other implementations of it (for
/// `buckets` up to 2^31−1, the reference's `int32` range):
///
/// ```text
/// b = -1; j = 0
/// while j < buckets:
///     b = j
///     key = key * 2862933555777941757 + 1            (mod 2^64)
///     j = trunc((b + 1) * (2^31 / ((key >> 33) + 1)))  (f64 arithmetic)
/// return b
/// ```
///
/// ```
/// use std::num::NonZeroU32;
/// use grant_sharding::jump_consistent_hash;
///
/// let n = |n| NonZeroU32::new(n).unwrap();
/// assert_eq!(jump_consistent_hash(256, n(1024)), 520);
/// assert_eq!(jump_consistent_hash(0xDEAD10CC, n(666)), 361);
/// ```
pub fn jump_consistent_hash(mut key: u64, buckets: NonZeroU32) -> u32 {
    let n = i64::from(buckets.get());
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < n {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // Same operation order as the reference: (b + 1) * (2^31 / ((key >> 33) + 1)).
        // Every integer here is below 2^53, so the int -> f64 conversions are exact.
        let step = (1_u64 << 31) as f64 / ((key >> 33) + 1) as f64;
        j = ((b + 1) as f64 * step) as i64;
    }
    // 0 <= b < buckets <= u32::MAX.
    b as u32
}
