//! [`Modulo`]: integer key modulo the number of shards.

use std::borrow::Cow;
use std::ops::Bound;

use crate::error::check_shard_list;
use crate::{ShardError, ShardResolver, ShardValue};

const RESOLVER: &str = "modulo";

/// Sends integer key `k` to `shards[k.rem_euclid(n)]`, `n` being the number of shards.
///
/// `rem_euclid` is never negative, so negative keys are fine: with 3 shards, `-1` goes
/// to shard 2. [`Int`](ShardValue::Int) and [`UInt`](ShardValue::UInt) keys are
/// accepted (compared as mathematical integers); any other key is a
/// [`WrongKeyType`](ShardError::WrongKeyType) error.
///
/// Adding a shard moves most keys; prefer [`StableHash`](crate::StableHash) when the
/// shard count will grow.
///
/// ```
/// use grant_sharding::{Modulo, ShardResolver, ShardValue};
///
/// let modulo = Modulo::new(["shard_0", "shard_1", "shard_2"])?;
/// assert_eq!(modulo.resolve(&ShardValue::Int(7))?, "shard_1");
/// assert_eq!(modulo.resolve(&ShardValue::Int(-1))?, "shard_2");
/// assert_eq!(modulo.resolve(&42_u64.into())?, "shard_0");
/// assert!(modulo.resolve(&"seven".into()).is_err());
/// # Ok::<(), grant_sharding::ShardError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Modulo {
    shards: Vec<String>,
}

impl Modulo {
    /// Builds the resolver over `shards`, in this order.
    ///
    /// Errors: [`NoShards`](ShardError::NoShards) for an empty list,
    /// [`DuplicateShard`](ShardError::DuplicateShard) and
    /// [`InvalidShardName`](ShardError::InvalidShardName).
    ///
    /// ```
    /// use grant_sharding::{Modulo, ShardError};
    ///
    /// assert!(Modulo::new(vec!["a".to_string()]).is_ok());
    /// assert!(matches!(
    ///     Modulo::new(["a", "a"]),
    ///     Err(ShardError::DuplicateShard { resolver: "modulo", .. })
    /// ));
    /// ```
    pub fn new(shards: impl IntoIterator<Item = impl Into<String>>) -> Result<Self, ShardError> {
        Ok(Modulo {
            shards: check_shard_list(RESOLVER, shards)?,
        })
    }
}

impl ShardResolver for Modulo {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        let k = key.integer_for(RESOLVER)?;
        // A Vec never holds more than isize::MAX elements, so n fits in i128 and the
        // remainder (0 <= r < n) fits back in usize.
        let n = self.shards.len() as i128;
        let index = k.rem_euclid(n) as usize;
        Ok(Cow::Borrowed(&self.shards[index]))
    }

    /// The shards of the keys in `[lower, upper]` when fewer keys than shards lie in
    /// it (`id BETWEEN 10 AND 12`); `None` (every shard) otherwise.
    fn shards_for_range(
        &self,
        lower: Bound<&ShardValue>,
        upper: Bound<&ShardValue>,
    ) -> Option<Result<Vec<Cow<'_, str>>, ShardError>> {
        let (low, high) = match ShardValue::integer_interval(RESOLVER, lower, upper) {
            Ok(interval) => interval,
            Err(err) => return Some(Err(err)),
        };
        if low > high {
            return Some(Ok(Vec::new()));
        }
        let n = self.shards.len() as i128;
        // Unbounded sides are i128::MIN / MAX: the difference may overflow.
        if high.checked_sub(low).is_none_or(|width| width >= n - 1) {
            return None;
        }
        let mut indexes: Vec<usize> = (low..=high).map(|k| k.rem_euclid(n) as usize).collect();
        indexes.sort_unstable();
        indexes.dedup();
        Some(Ok(indexes
            .into_iter()
            .map(|i| Cow::Borrowed(self.shards[i].as_str()))
            .collect()))
    }

    fn shards(&self) -> Vec<&str> {
        self.shards.iter().map(String::as_str).collect()
    }
}
