//! Sharding for Grant, as pure computation: map a model's shard-key value to the name of
//! the shard that holds it, narrow a query down to the shards it has to visit, and
//! generate ids that are unique across shards.
//!
//! A sharded model names its shard key; a [`ShardResolver`] turns a key value
//! ([`ShardValue`]) into a shard name, and lists its candidate shards so a query that
//! cannot be pinned to one shard can be sent to all of them. Everything here is pure
//! computation: no I/O and no global state; the only randomness and clock readings are
//! in the id generators ([`id`]), whose clock can be replaced.
//!
//! | module / item     | what it does                                                                       |
//! |-------------------|------------------------------------------------------------------------------------|
//! | resolvers (below) | key value -> shard name ([`ShardResolver`])                                        |
//! | [`prune`]         | a query's filter on the key ([`prune::KeyFilter`]) -> the shards it must visit     |
//! | [`id`]            | ids unique across shards: [`id::Snowflake`] (optionally naming the shard), UUIDv7  |
//!
//! ## Resolvers
//!
//! | resolver          | keys                | picks the shard by                                        |
//! |-------------------|---------------------|-----------------------------------------------------------|
//! | [`Modulo`]        | integers            | `key.rem_euclid(n)`                                       |
//! | [`StableHash`]    | any                 | FNV-1a 64 + jump consistent hash (specified, stable)     |
//! | [`Range`]         | integers            | contiguous `[start, next start)` ranges                   |
//! | [`TimeInterval`]  | timestamps, dates   | yearly / monthly partition named by a pattern             |
//! | [`Lookup`]        | any                 | an explicit table, with an optional default               |
//! | your own          | any                 | anything: implement [`ShardResolver`]                     |
//!
//! Constructors validate their input and return [`ShardError`] instead of panicking;
//! resolution errors name the resolver and the key. [`Range`], [`TimeInterval`] and
//! [`Modulo`] also answer ranges of keys
//! ([`shards_for_range`](ShardResolver::shards_for_range)), which [`prune`] uses.
//!
//! ```
//! use grant_sharding::{ShardResolver, ShardValue, StableHash};
//!
//! let resolver = StableHash::new(["shard_one", "shard_two"])?;
//! let shard = resolver.resolve(&ShardValue::from(42_i64))?;
//! assert!(resolver.shards().contains(&shard.as_ref()));
//! # Ok::<(), grant_sharding::ShardError>(())
//! ```
//!
//! [`merge`] holds the pure halves of scatter-gather: a stable k-way merge of sorted
//! shard results with `OFFSET` / `LIMIT` applied once, order keys with explicit NULL
//! placement, aggregates merged from per-shard partial states (`AVG` from sums and
//! counts, `COUNT(DISTINCT)` from the distinct values), `GROUP BY`, keyset pagination and
//! de-duplication by primary key.
#![warn(missing_docs)]

use std::borrow::Cow;
use std::fmt::Debug;
use std::ops::Bound;
use std::sync::Arc;

mod error;
mod hash;
pub mod id;
mod lookup;
mod modulo;
pub mod prune;
mod range;
mod time;
mod value;

pub mod merge;

pub use error::ShardError;
pub use hash::{fnv1a_64, jump_consistent_hash, StableHash};
pub use lookup::Lookup;
pub use modulo::Modulo;
pub use range::Range;
pub use time::TimeInterval;
pub use value::ShardValue;

/// Maps a shard-key value to a shard name.
///
/// Resolvers are immutable once built and shared between tasks (`Send + Sync`), so
/// `resolve` must be a pure function of the key. [`resolve`](ShardResolver::resolve)
/// returns a [`Cow`]: borrowed from the resolver when the name is stored in it, owned
/// when it is computed (as [`TimeInterval`] does for open-ended partitions).
///
/// # Writing your own
///
/// ```
/// use std::borrow::Cow;
/// use grant_sharding::{ShardError, ShardResolver, ShardValue};
///
/// /// Tenants whose slug starts with `eu-` live in Europe, the rest in the US.
/// #[derive(Debug)]
/// struct ByRegion;
///
/// impl ShardResolver for ByRegion {
///     fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
///         match key {
///             ShardValue::Text(slug) if slug.starts_with("eu-") => Ok("shard_eu".into()),
///             ShardValue::Text(_) => Ok("shard_us".into()),
///             other => Err(ShardError::WrongKeyType {
///                 resolver: "by_region",
///                 expected: "a text",
///                 found: other.kind(),
///                 key: other.clone(),
///             }),
///         }
///     }
///
///     fn shards(&self) -> Vec<&str> {
///         vec!["shard_eu", "shard_us"]
///     }
/// }
///
/// let resolver: Box<dyn ShardResolver> = Box::new(ByRegion);
/// assert_eq!(resolver.resolve(&"eu-acme".into())?, "shard_eu");
/// assert_eq!(resolver.resolve(&"globex".into())?, "shard_us");
/// assert!(resolver.resolve(&7.into()).is_err());
/// # Ok::<(), ShardError>(())
/// ```
pub trait ShardResolver: Send + Sync + Debug {
    /// The shard that holds `key`.
    ///
    /// Errors are [`ShardError`]s naming the resolver and the key: a key of the wrong
    /// type, outside the covered range, without a mapping, ...
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError>;

    /// The candidate shards, each once, for queries that must visit every shard.
    ///
    /// An empty list means the resolver cannot enumerate its shards (an open-ended
    /// [`TimeInterval`]); the caller must then take the list from elsewhere (the
    /// database configuration).
    fn shards(&self) -> Vec<&str>;

    /// The shards that can hold keys between `lower` and `upper`, each once, or `None`
    /// when the resolver cannot tell (the default): the caller must then visit every
    /// shard. [`prune`](crate::prune::prune) calls it for
    /// [`KeyFilter::Range`](crate::prune::KeyFilter::Range).
    ///
    /// The answer may name more shards than strictly needed, never fewer: every key in
    /// the range that [`resolve`](ShardResolver::resolve) places must land on a listed
    /// shard. Keys in the range that no shard can hold (outside a [`Range`]'s ranges)
    /// add nothing. Implemented by [`Range`], [`TimeInterval`] and [`Modulo`] (for a
    /// range narrower than its shard count); bounds of the wrong type are a
    /// [`ShardError::WrongKeyType`].
    ///
    /// ```
    /// use std::ops::Bound::{Excluded, Included};
    /// use grant_sharding::{Range, ShardResolver, ShardValue, StableHash};
    ///
    /// let range = Range::new([(0, "a"), (100, "b"), (200, "c")], None)?;
    /// let (low, high) = (ShardValue::Int(50), ShardValue::Int(200));
    /// let shards = range.shards_for_range(Included(&low), Excluded(&high)).unwrap()?;
    /// assert_eq!(shards, ["a", "b"]);
    ///
    /// // A hash cannot answer ranges: every shard.
    /// let hash = StableHash::new(["a", "b"])?;
    /// assert!(hash.shards_for_range(Included(&low), Excluded(&high)).is_none());
    /// # Ok::<(), grant_sharding::ShardError>(())
    /// ```
    fn shards_for_range(
        &self,
        lower: Bound<&ShardValue>,
        upper: Bound<&ShardValue>,
    ) -> Option<Result<Vec<Cow<'_, str>>, ShardError>> {
        let _ = (lower, upper);
        None
    }
}

/// A reference, box or `Arc` of a resolver is a resolver (every method forwarded, so a
/// wrapped resolver still prunes ranges).
macro_rules! forward_resolver {
    ($($wrapper:ty),+) => {$(
        impl<T: ShardResolver + ?Sized> ShardResolver for $wrapper {
            fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
                (**self).resolve(key)
            }

            fn shards(&self) -> Vec<&str> {
                (**self).shards()
            }

            fn shards_for_range(
                &self,
                lower: Bound<&ShardValue>,
                upper: Bound<&ShardValue>,
            ) -> Option<Result<Vec<Cow<'_, str>>, ShardError>> {
                (**self).shards_for_range(lower, upper)
            }
        }
    )+};
}

forward_resolver!(&T, Box<T>, Arc<T>);
