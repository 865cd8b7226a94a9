//! [`Lookup`]: an explicit key -> shard table with an optional default.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::error::check_shard_name;
use crate::{ShardError, ShardResolver, ShardValue};

const RESOLVER: &str = "lookup";

/// Sends each listed key to its shard, and every other key to the default shard, if
/// there is one (otherwise a [`NoShardForKey`](ShardError::NoShardForKey) error naming
/// the key).
///
/// Typical use: tenants placed by hand (`"acme" -> "shard_eu"`), with new tenants
/// landing on a default shard. Keys of any [`ShardValue`] type can be mixed;
/// `UInt(n)` and `Int(n)` are the same key.
///
/// ```
/// use std::collections::BTreeMap;
/// use grant_sharding::{Lookup, ShardError, ShardResolver, ShardValue};
///
/// let table = BTreeMap::from([("acme", "shard_eu"), ("globex", "shard_us")]);
/// let lookup = Lookup::new(table.clone(), Some("shard_shared".to_string()))?;
/// assert_eq!(lookup.resolve(&"acme".into())?, "shard_eu");
/// assert_eq!(lookup.resolve(&"initech".into())?, "shard_shared");
///
/// let strict = Lookup::new(table, None)?;
/// let err = strict.resolve(&"initech".into()).unwrap_err();
/// assert!(matches!(err, ShardError::NoShardForKey { ref key, .. } if *key == "initech".into()));
/// # Ok::<(), ShardError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Lookup {
    /// Keys are normalized: `UInt(n)` is stored as `Int(n)` when `n` fits in an `i64`.
    map: BTreeMap<ShardValue, String>,
    default: Option<String>,
}

impl Lookup {
    /// Builds the resolver from `(key, shard)` pairs (a `BTreeMap`, a `HashMap`, a
    /// `Vec` of pairs, ...) and an optional default shard.
    ///
    /// Errors: [`NoShards`](ShardError::NoShards) when the table is empty and there is
    /// no default; [`DuplicateKey`](ShardError::DuplicateKey) when a key is listed twice
    /// (including `Int(n)` next to `UInt(n)`); [`InvalidShardName`](ShardError::InvalidShardName).
    ///
    /// ```
    /// use grant_sharding::{Lookup, ShardError};
    ///
    /// assert!(Lookup::new([(1, "a"), (2, "b")], None).is_ok());
    /// assert!(matches!(
    ///     Lookup::new([(1, "a"), (1, "b")], None),
    ///     Err(ShardError::DuplicateKey { .. })
    /// ));
    /// assert!(matches!(
    ///     Lookup::new(Vec::<(i64, String)>::new(), None),
    ///     Err(ShardError::NoShards { resolver: "lookup" })
    /// ));
    /// ```
    pub fn new<K, S>(
        map: impl IntoIterator<Item = (K, S)>,
        default: Option<String>,
    ) -> Result<Self, ShardError>
    where
        K: Into<ShardValue>,
        S: Into<String>,
    {
        let mut table = BTreeMap::new();
        for (key, shard) in map {
            let key = key.into().normalized();
            let shard = shard.into();
            check_shard_name(RESOLVER, &shard)?;
            if table.contains_key(&key) {
                return Err(ShardError::DuplicateKey {
                    resolver: RESOLVER,
                    key,
                });
            }
            table.insert(key, shard);
        }
        if let Some(default) = &default {
            check_shard_name(RESOLVER, default)?;
        }
        if table.is_empty() && default.is_none() {
            return Err(ShardError::NoShards { resolver: RESOLVER });
        }
        Ok(Lookup {
            map: table,
            default,
        })
    }

    /// The default shard, if any.
    ///
    /// ```
    /// use grant_sharding::Lookup;
    ///
    /// let lookup = Lookup::new([(1, "a")], Some("b".into()))?;
    /// assert_eq!(lookup.default_shard(), Some("b"));
    /// # Ok::<(), grant_sharding::ShardError>(())
    /// ```
    pub fn default_shard(&self) -> Option<&str> {
        self.default.as_deref()
    }
}

impl ShardResolver for Lookup {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        let found = match key {
            ShardValue::UInt(_) => self.map.get(&key.clone().normalized()),
            _ => self.map.get(key),
        };
        match found.or(self.default.as_ref()) {
            Some(shard) => Ok(Cow::Borrowed(shard)),
            None => Err(ShardError::NoShardForKey {
                resolver: RESOLVER,
                key: key.clone(),
            }),
        }
    }

    /// Every distinct shard named in the table or as the default, sorted by name.
    fn shards(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .map
            .values()
            .chain(self.default.as_ref())
            .map(String::as_str)
            .collect();
        set.into_iter().collect()
    }
}
