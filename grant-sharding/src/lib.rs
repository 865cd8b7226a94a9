//! Shard resolution for Grant: map a model's shard-key value to the name of the shard
//! that holds it.
//!
//! A sharded model names its shard key; a [`ShardResolver`] turns a key value
//! ([`ShardValue`]) into a shard name, and lists its candidate shards so a query that
//! cannot be pinned to one shard can be sent to all of them. Everything here is pure
//! computation: no I/O, no global state, no randomness.
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
//! resolution errors name the resolver and the key.
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
use std::sync::Arc;

mod error;
mod hash;
mod lookup;
mod modulo;
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
}

impl<T: ShardResolver + ?Sized> ShardResolver for &T {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        (**self).resolve(key)
    }

    fn shards(&self) -> Vec<&str> {
        (**self).shards()
    }
}

impl<T: ShardResolver + ?Sized> ShardResolver for Box<T> {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        (**self).resolve(key)
    }

    fn shards(&self) -> Vec<&str> {
        (**self).shards()
    }
}

impl<T: ShardResolver + ?Sized> ShardResolver for Arc<T> {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        (**self).resolve(key)
    }

    fn shards(&self) -> Vec<&str> {
        (**self).shards()
    }
}
