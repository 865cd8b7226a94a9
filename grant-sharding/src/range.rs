//! [`Range`]: contiguous integer ranges, each owned by one shard.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Bound;

use crate::error::check_shard_name;
use crate::{ShardError, ShardResolver, ShardValue};

const RESOLVER: &str = "range";

/// Sends integer keys to shards by contiguous ranges.
///
/// Built from `(start, shard)` pairs sorted by `start`: each range runs from its
/// `start` (inclusive) up to the next range's `start` (exclusive). The last range runs
/// up to `end` (exclusive) if one is given, or has no upper bound if `end` is `None`.
/// There are no gaps; a key below the first start, or at/after `end`, is a
/// [`KeyOutOfRange`](ShardError::KeyOutOfRange) error naming the key. A shard may own
/// several ranges.
///
/// [`Int`](ShardValue::Int) and [`UInt`](ShardValue::UInt) keys are accepted; any
/// other key is a [`WrongKeyType`](ShardError::WrongKeyType) error.
///
/// ```
/// use grant_sharding::{Range, ShardError, ShardResolver, ShardValue};
///
/// let range = Range::new([(0, "shard_a"), (1_000, "shard_b"), (5_000, "shard_c")], None)?;
/// assert_eq!(range.resolve(&ShardValue::Int(0))?, "shard_a");
/// assert_eq!(range.resolve(&ShardValue::Int(999))?, "shard_a");
/// assert_eq!(range.resolve(&ShardValue::Int(1_000))?, "shard_b");
/// assert_eq!(range.resolve(&ShardValue::Int(i64::MAX))?, "shard_c");
/// assert!(matches!(
///     range.resolve(&ShardValue::Int(-1)),
///     Err(ShardError::KeyOutOfRange { .. })
/// ));
///
/// // With an end, the last range is closed.
/// let closed = Range::new([(0, "shard_a"), (1_000, "shard_b")], Some(2_000))?;
/// assert!(closed.resolve(&ShardValue::Int(2_000)).is_err());
/// # Ok::<(), ShardError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Range {
    /// Strictly increasing.
    starts: Vec<i64>,
    /// `shards[i]` owns `starts[i]..starts[i + 1]`.
    shards: Vec<String>,
    /// Exclusive end of the last range; `None` for no upper bound.
    end: Option<i64>,
}

impl Range {
    /// Builds the resolver from `(start, shard)` pairs and an optional exclusive `end`
    /// of the last range (`None`: the last range has no upper bound).
    ///
    /// Errors: [`InvalidRanges`](ShardError::InvalidRanges) when there is no range,
    /// when the starts are not strictly increasing (unsorted or duplicated), or when
    /// `end` is not above the last start; [`InvalidShardName`](ShardError::InvalidShardName)
    /// for an unusable shard name.
    ///
    /// ```
    /// use grant_sharding::{Range, ShardError};
    ///
    /// let err = Range::new([(100, "b"), (0, "a")], None).unwrap_err();
    /// assert!(matches!(err, ShardError::InvalidRanges { .. }));
    /// assert!(Range::new(Vec::<(i64, String)>::new(), None).is_err());
    /// ```
    pub fn new<S: Into<String>>(
        ranges: impl IntoIterator<Item = (i64, S)>,
        end: Option<i64>,
    ) -> Result<Self, ShardError> {
        let (starts, shards): (Vec<i64>, Vec<String>) =
            ranges.into_iter().map(|(s, n)| (s, n.into())).unzip();
        let invalid = |reason: String| Err(ShardError::InvalidRanges { reason });
        if starts.is_empty() {
            return invalid("no ranges given".to_owned());
        }
        for shard in &shards {
            check_shard_name(RESOLVER, shard)?;
        }
        for i in 1..starts.len() {
            let (prev, cur) = (starts[i - 1], starts[i]);
            if cur == prev {
                return invalid(format!(
                    "start {cur} is given twice (shards {:?} and {:?})",
                    shards[i - 1],
                    shards[i]
                ));
            }
            if cur < prev {
                return invalid(format!(
                    "ranges are not sorted: start {cur} (shard {:?}) comes after start {prev} (shard {:?})",
                    shards[i],
                    shards[i - 1]
                ));
            }
        }
        let last = starts[starts.len() - 1];
        if let Some(end) = end {
            if end <= last {
                return invalid(format!(
                    "end {end} is not greater than the last start {last} (shard {:?})",
                    shards[shards.len() - 1]
                ));
            }
        }
        Ok(Range {
            starts,
            shards,
            end,
        })
    }

    fn shards_between(
        &self,
        lower: Bound<&ShardValue>,
        upper: Bound<&ShardValue>,
    ) -> Result<Vec<Cow<'_, str>>, ShardError> {
        let (low, high) = ShardValue::integer_interval(RESOLVER, lower, upper)?;
        let low = low.max(i128::from(self.starts[0]));
        let high = match self.end {
            Some(end) => high.min(i128::from(end) - 1),
            None => high,
        };
        if low > high {
            return Ok(Vec::new());
        }
        // Both are covered, so at least one start is <= each of them.
        let owner = |k: i128| self.starts.partition_point(|&s| i128::from(s) <= k) - 1;
        let mut seen = BTreeSet::new();
        Ok(self.shards[owner(low)..=owner(high)]
            .iter()
            .map(String::as_str)
            .filter(|shard| seen.insert(*shard))
            .map(Cow::Borrowed)
            .collect())
    }

    fn covered(&self) -> String {
        match self.end {
            Some(end) => format!("[{}, {end})", self.starts[0]),
            None => format!("[{}, +inf)", self.starts[0]),
        }
    }
}

impl ShardResolver for Range {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        let k = key.integer_for(RESOLVER)?;
        let above_end = self.end.is_some_and(|end| k >= i128::from(end));
        if k < i128::from(self.starts[0]) || above_end {
            return Err(ShardError::KeyOutOfRange {
                resolver: RESOLVER,
                key: key.clone(),
                covered: self.covered(),
            });
        }
        // Number of starts <= k; at least 1 since starts[0] <= k.
        let owners = self.starts.partition_point(|&s| i128::from(s) <= k);
        Ok(Cow::Borrowed(&self.shards[owners - 1]))
    }

    /// The shards owning the ranges that overlap `[lower, upper]`, each once; keys
    /// outside the covered range add nothing.
    fn shards_for_range(
        &self,
        lower: Bound<&ShardValue>,
        upper: Bound<&ShardValue>,
    ) -> Option<Result<Vec<Cow<'_, str>>, ShardError>> {
        Some(self.shards_between(lower, upper))
    }

    fn shards(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.shards
            .iter()
            .map(String::as_str)
            .filter(|shard| seen.insert(*shard))
            .collect()
    }
}
