//! Pruning: the shards a query has to visit, from what its filter says about the
//! shard key.
//!
//! grant-core turns a query's conditions on the shard key into a [`KeyFilter`] (a
//! neutral form, independent of SQL) and asks [`prune`] which shards can hold matching
//! rows. `key = v`, `key IN (..)`, `OR`s of those, and ranges on a key whose resolver
//! can answer ranges ([`Range`](crate::Range), [`TimeInterval`](crate::TimeInterval),
//! narrow ranges on [`Modulo`](crate::Modulo)) go to the shards that can hold rows; a
//! filter that says nothing about the key goes to every shard ([`ShardSet::All`]).
//!
//! ```
//! use grant_sharding::prune::{prune, KeyFilter, ShardSet};
//! use grant_sharding::{Modulo, ShardValue};
//!
//! let resolver = Modulo::new(["s0", "s1", "s2"])?;
//! // WHERE id IN (3, 4) OR id = 7
//! let filter = KeyFilter::Or(vec![
//!     KeyFilter::In(vec![ShardValue::Int(3), ShardValue::Int(4)]),
//!     KeyFilter::Eq(ShardValue::Int(7)),
//! ]);
//! assert_eq!(prune(&resolver, &filter)?, ShardSet::only(["s0", "s1"]));
//! // WHERE name = 'x': nothing on the key, every shard.
//! assert_eq!(prune(&resolver, &KeyFilter::Any)?, ShardSet::All);
//! # Ok::<(), grant_sharding::ShardError>(())
//! ```

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Bound;

use crate::{ShardError, ShardResolver, ShardValue};

/// What a query's filter says about the shard key.
///
/// Build it from the query's conditions on the shard key; a condition on other columns
/// is [`Any`](KeyFilter::Any). It must be implied by the query's filter (every row the
/// query matches satisfies it), so leaving out conditions is always safe: it only
/// widens the set of shards.
///
/// ```
/// use std::ops::Bound;
/// use grant_sharding::prune::KeyFilter;
/// use grant_sharding::ShardValue;
///
/// // WHERE id >= 100 AND id < 200 AND status = 'open'
/// let filter = KeyFilter::And(vec![
///     KeyFilter::Range {
///         lower: Bound::Included(ShardValue::Int(100)),
///         upper: Bound::Excluded(ShardValue::Int(200)),
///     },
///     KeyFilter::Any,
/// ]);
/// assert_ne!(filter, KeyFilter::range(100..200)); // same shards, different filter
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFilter {
    /// `key = value`.
    Eq(ShardValue),
    /// `key IN (values)`; an empty list matches nothing.
    In(Vec<ShardValue>),
    /// `lower <= key <= upper`, each side included, excluded or open.
    Range {
        /// The lower bound.
        lower: Bound<ShardValue>,
        /// The upper bound.
        upper: Bound<ShardValue>,
    },
    /// Every filter holds; an empty list holds for every key.
    And(Vec<KeyFilter>),
    /// At least one filter holds; an empty list holds for no key.
    Or(Vec<KeyFilter>),
    /// The filter says nothing about the key.
    Any,
}

impl KeyFilter {
    /// A [`KeyFilter::Range`] from a Rust range of anything convertible to a
    /// [`ShardValue`]: `10..20`, `10..=20`, `10..`, `..20`.
    ///
    /// ```
    /// use std::ops::Bound;
    /// use grant_sharding::prune::KeyFilter;
    /// use grant_sharding::ShardValue;
    ///
    /// assert_eq!(
    ///     KeyFilter::range(10..=20),
    ///     KeyFilter::Range {
    ///         lower: Bound::Included(ShardValue::Int(10)),
    ///         upper: Bound::Included(ShardValue::Int(20)),
    ///     }
    /// );
    /// assert!(matches!(
    ///     KeyFilter::range(5_u64..),
    ///     KeyFilter::Range { upper: Bound::Unbounded, .. }
    /// ));
    /// ```
    pub fn range<V, R>(range: R) -> Self
    where
        V: Into<ShardValue> + Clone,
        R: std::ops::RangeBounds<V>,
    {
        let convert = |bound: Bound<&V>| bound.map(|v| v.clone().into());
        KeyFilter::Range {
            lower: convert(range.start_bound()),
            upper: convert(range.end_bound()),
        }
    }
}

/// The shards a query has to visit: every shard, or only these.
///
/// `Only` holds shard names sorted and each once (it is a [`BTreeSet`]); an empty set
/// means no shard can hold a matching row, so the query needs no round trip at all.
/// Names are borrowed from the resolver where it stores them.
///
/// ```
/// use grant_sharding::prune::ShardSet;
///
/// let some = ShardSet::only(["b", "a", "b"]);
/// assert_eq!(some.names(), Some(vec!["a", "b"]));
/// assert!(some.contains("a") && !some.contains("c"));
/// assert!(ShardSet::All.contains("c"));
/// assert!(ShardSet::only(Vec::<&str>::new()).is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardSet<'a> {
    /// Every shard: the filter does not narrow the key down.
    All,
    /// Only these shards (possibly none).
    Only(BTreeSet<Cow<'a, str>>),
}

impl<'a> ShardSet<'a> {
    /// [`ShardSet::Only`] these names.
    ///
    /// ```
    /// use grant_sharding::prune::ShardSet;
    ///
    /// assert_eq!(ShardSet::only(["a"]).names(), Some(vec!["a"]));
    /// ```
    pub fn only<S: Into<Cow<'a, str>>>(names: impl IntoIterator<Item = S>) -> Self {
        ShardSet::Only(names.into_iter().map(Into::into).collect())
    }

    /// Whether this is [`ShardSet::All`].
    ///
    /// ```
    /// use grant_sharding::prune::ShardSet;
    ///
    /// assert!(ShardSet::All.is_all());
    /// assert!(!ShardSet::only(["a"]).is_all());
    /// ```
    pub fn is_all(&self) -> bool {
        matches!(self, ShardSet::All)
    }

    /// Whether no shard is needed (an empty [`ShardSet::Only`]).
    ///
    /// ```
    /// use grant_sharding::prune::ShardSet;
    ///
    /// assert!(ShardSet::only(Vec::<String>::new()).is_empty());
    /// assert!(!ShardSet::All.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, ShardSet::Only(set) if set.is_empty())
    }

    /// Whether `shard` has to be visited.
    ///
    /// ```
    /// use grant_sharding::prune::ShardSet;
    ///
    /// assert!(ShardSet::only(["a"]).contains("a"));
    /// assert!(!ShardSet::only(["a"]).contains("b"));
    /// ```
    pub fn contains(&self, shard: &str) -> bool {
        match self {
            ShardSet::All => true,
            ShardSet::Only(set) => set.contains(shard),
        }
    }

    /// The names in order, or `None` for [`ShardSet::All`].
    ///
    /// ```
    /// use grant_sharding::prune::ShardSet;
    ///
    /// assert_eq!(ShardSet::only(["z", "a"]).names(), Some(vec!["a", "z"]));
    /// assert_eq!(ShardSet::All.names(), None);
    /// ```
    pub fn names(&self) -> Option<Vec<&str>> {
        match self {
            ShardSet::All => None,
            ShardSet::Only(set) => Some(set.iter().map(AsRef::as_ref).collect()),
        }
    }

    /// The same set, owning its names (no longer borrowing the resolver).
    ///
    /// ```
    /// use grant_sharding::prune::ShardSet;
    ///
    /// let owned: ShardSet<'static> = ShardSet::only(["a"]).into_owned();
    /// assert!(owned.contains("a"));
    /// ```
    pub fn into_owned(self) -> ShardSet<'static> {
        match self {
            ShardSet::All => ShardSet::All,
            ShardSet::Only(set) => ShardSet::Only(
                set.into_iter()
                    .map(|s| Cow::Owned(s.into_owned()))
                    .collect(),
            ),
        }
    }

    /// Shards in either set.
    ///
    /// ```
    /// use grant_sharding::prune::ShardSet;
    ///
    /// assert_eq!(ShardSet::only(["a"]).union(ShardSet::only(["b"])), ShardSet::only(["a", "b"]));
    /// assert_eq!(ShardSet::only(["a"]).union(ShardSet::All), ShardSet::All);
    /// ```
    pub fn union(self, other: ShardSet<'a>) -> ShardSet<'a> {
        match (self, other) {
            (ShardSet::Only(mut a), ShardSet::Only(b)) => {
                a.extend(b);
                ShardSet::Only(a)
            }
            _ => ShardSet::All,
        }
    }

    /// Shards in both sets.
    ///
    /// ```
    /// use grant_sharding::prune::ShardSet;
    ///
    /// let ab = ShardSet::only(["a", "b"]);
    /// assert_eq!(ab.clone().intersection(ShardSet::only(["b", "c"])), ShardSet::only(["b"]));
    /// assert_eq!(ab.clone().intersection(ShardSet::All), ab);
    /// ```
    pub fn intersection(self, other: ShardSet<'a>) -> ShardSet<'a> {
        match (self, other) {
            (ShardSet::All, set) | (set, ShardSet::All) => set,
            (ShardSet::Only(mut a), ShardSet::Only(b)) => {
                a.retain(|shard| b.contains(shard));
                ShardSet::Only(a)
            }
        }
    }
}

/// The shards that can hold rows whose key satisfies `filter`.
///
/// - [`Eq`](KeyFilter::Eq): the shard the resolver gives; [`In`](KeyFilter::In) and
///   [`Or`](KeyFilter::Or): the union (an [`Any`](KeyFilter::Any) inside an `Or` makes
///   it [`ShardSet::All`]); [`And`](KeyFilter::And): the intersection (`Any` changes
///   nothing; disjoint parts give the empty set).
/// - [`Range`](KeyFilter::Range): [`ShardResolver::shards_for_range`], or
///   [`ShardSet::All`] when the resolver cannot answer ranges.
/// - A key no shard can hold ([`KeyOutOfRange`](ShardError::KeyOutOfRange),
///   [`NoShardForKey`](ShardError::NoShardForKey), [`UnknownShard`](ShardError::UnknownShard)
///   from the resolver) adds no shard: no row with that key can exist.
///
/// The result is sound: every key satisfying the filter that the resolver places lands
/// on a shard of the set. It can be wider than necessary (ranges round to whole
/// partitions), never narrower.
///
/// Errors: a key the resolver rejects as malformed ([`WrongKeyType`](ShardError::WrongKeyType),
/// [`InvalidKey`](ShardError::InvalidKey), a user resolver's [`Custom`](ShardError::Custom)
/// error, ...): the query compares the key with a value it can never hold, which is a
/// bug worth reporting rather than an empty result. Every part of the filter is
/// checked: an `Any` or an empty intersection elsewhere does not hide a malformed key.
///
/// ```
/// use grant_sharding::prune::{prune, KeyFilter, ShardSet};
/// use grant_sharding::{Range, ShardValue};
///
/// let resolver = Range::new([(0, "a"), (100, "b"), (200, "c")], None)?;
/// // WHERE id >= 150 AND (id = 170 OR id = 250)
/// let filter = KeyFilter::And(vec![
///     KeyFilter::range(150..),
///     KeyFilter::Or(vec![KeyFilter::Eq(170.into()), KeyFilter::Eq(250.into())]),
/// ]);
/// assert_eq!(prune(&resolver, &filter)?, ShardSet::only(["b", "c"]));
/// // id = -5 is outside every range: no shard to visit.
/// assert!(prune(&resolver, &KeyFilter::Eq(ShardValue::Int(-5)))?.is_empty());
/// // A text key on an integer resolver is a bug in the query.
/// assert!(prune(&resolver, &KeyFilter::Eq("x".into())).is_err());
/// # Ok::<(), grant_sharding::ShardError>(())
/// ```
pub fn prune<'r>(
    resolver: &'r dyn ShardResolver,
    filter: &KeyFilter,
) -> Result<ShardSet<'r>, ShardError> {
    match filter {
        KeyFilter::Any => Ok(ShardSet::All),
        KeyFilter::Eq(key) => resolve(resolver, key),
        KeyFilter::In(keys) => keys
            .iter()
            .try_fold(ShardSet::only(None::<&str>), |set, key| {
                Ok(set.union(resolve(resolver, key)?))
            }),
        KeyFilter::Range { lower, upper } => {
            match resolver.shards_for_range(lower.as_ref(), upper.as_ref()) {
                None => Ok(ShardSet::All),
                Some(shards) => Ok(ShardSet::Only(shards?.into_iter().collect())),
            }
        }
        KeyFilter::Or(parts) => parts
            .iter()
            .try_fold(ShardSet::only(None::<&str>), |set, part| {
                Ok(set.union(prune(resolver, part)?))
            }),
        KeyFilter::And(parts) => parts.iter().try_fold(ShardSet::All, |set, part| {
            Ok(set.intersection(prune(resolver, part)?))
        }),
    }
}

/// The shard of one key: none when no shard can hold it.
fn resolve<'r>(
    resolver: &'r dyn ShardResolver,
    key: &ShardValue,
) -> Result<ShardSet<'r>, ShardError> {
    match resolver.resolve(key) {
        Ok(shard) => Ok(ShardSet::only([shard])),
        Err(
            ShardError::KeyOutOfRange { .. }
            | ShardError::NoShardForKey { .. }
            | ShardError::UnknownShard { .. },
        ) => Ok(ShardSet::only(None::<&str>)),
        Err(err) => Err(err),
    }
}
