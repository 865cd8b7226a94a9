//! `[databases.<name>.sharding]`: how the shard key of a sharded model picks one of the
//! database's shards, and how queries that span shards run.
//!
//! ```toml
//! [databases.orders]
//! url = "postgres://127.0.0.1:5432/orders"
//! shards.s0 = { url = "postgres://127.0.0.1:5432/orders_0" }
//! shards.s1 = { url = "postgres://127.0.0.1:5432/orders_1" }
//!
//! [databases.orders.sharding]
//! resolver = "hash"        # modulo | hash | range | interval | lookup | a name registered in code
//! scatter = true           # queries without the key visit every shard (false: an error)
//! concurrency = 8          # shards queried at once
//! timeout = "5s"           # one deadline for a whole scatter
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use grant_sharding::{
    Lookup, Modulo, Range, ShardError, ShardResolver, ShardValue, StableHash, TimeInterval,
};

/// Default [`ShardingConfig::concurrency`]: 8 shards at once.
pub const DEFAULT_SCATTER_CONCURRENCY: u32 = 8;

/// How a sharded database maps keys to shards and runs queries across them.
///
/// ```
/// use grant_core::config::{DatabaseConfig, ResolverConfig, ShardConfig, ShardingConfig};
///
/// let db = DatabaseConfig::new("sqlite::memory:")
///     .shard("s0", ShardConfig::new("sqlite::memory:"))
///     .shard("s1", ShardConfig::new("sqlite::memory:"))
///     .sharding(ShardingConfig::new(ResolverConfig::Modulo { shards: vec![] }).scatter(false));
/// assert!(!db.sharding.as_ref().unwrap().scatter);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ShardingConfig {
    /// The resolver: shard key value -> shard name.
    pub resolver: ResolverConfig,
    /// Whether a query that cannot be narrowed to some shards visits every shard
    /// (`true`, the default), or fails with [`crate::Error::ScatterDenied`].
    pub scatter: bool,
    /// How many shards one scatter queries at once (1 to 1024). Default 8.
    pub concurrency: u32,
    /// One deadline for a whole scatter (every shard's statement); `None` (the default):
    /// each shard's statement is bounded by its `statement_timeout` only.
    pub timeout: Option<Duration>,
}

impl ShardingConfig {
    /// Sharding by `resolver`, scatter allowed, 8 shards at once, no scatter deadline.
    pub fn new(resolver: ResolverConfig) -> Self {
        ShardingConfig {
            resolver,
            scatter: true,
            concurrency: DEFAULT_SCATTER_CONCURRENCY,
            timeout: None,
        }
    }

    /// Allow (or deny) queries that visit every shard.
    pub fn scatter(mut self, allow: bool) -> Self {
        self.scatter = allow;
        self
    }

    /// How many shards one scatter queries at once.
    pub fn concurrency(mut self, n: u32) -> Self {
        self.concurrency = n;
        self
    }

    /// One deadline for a whole scatter.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Which resolver maps a shard key to a shard (`resolver = ".."` and its parameters).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ResolverConfig {
    /// `resolver = "modulo"`: integer keys, `key mod n` over `shards` (empty: the
    /// database's shard names, sorted).
    Modulo {
        /// The shards in order (optional in TOML: `shards = ["s0", "s1"]`).
        shards: Vec<String>,
    },
    /// `resolver = "hash"`: any key, a stable hash (FNV-1a + jump consistent hash) over
    /// `shards` (empty: the database's shard names, sorted).
    Hash {
        /// The shards in order.
        shards: Vec<String>,
    },
    /// `resolver = "range"`: integer keys, `ranges = [[0, "a"], [1000, "b"]]` (start,
    /// shard) with an optional exclusive `end` of the last range.
    Range {
        /// `(start, shard)` pairs, starts strictly increasing.
        ranges: Vec<(i64, String)>,
        /// Exclusive end of the last range (`None`: open).
        end: Option<i64>,
    },
    /// `resolver = "interval"`: timestamps and dates, one shard per year
    /// (`every = "year"`, `pattern = "prices_{yyyy}"`) or month (`every = "month"`,
    /// `pattern = "events_{yyyy}_{mm}"`). The database's shards whose names the pattern
    /// produces are the known partitions; others (a staging shard) are reachable only by
    /// name.
    Interval {
        /// `true`: monthly; `false`: yearly.
        monthly: bool,
        /// The shard-name pattern.
        pattern: String,
    },
    /// `resolver = "lookup"`: an explicit table `lookup = [[42, "archive"], ["acme",
    /// "eu"]]` (key, shard), and `default = "primary"` for keys not in it.
    Lookup {
        /// `(key, shard)` pairs.
        entries: Vec<(ShardValue, String)>,
        /// The shard of keys not in the table.
        default: Option<String>,
    },
    /// `resolver = "<name>"`: a resolver registered in code with
    /// [`Grant::register_resolver`](crate::Grant::register_resolver).
    Named(String),
}

impl ResolverConfig {
    /// The accepted built-in names.
    pub(crate) const BUILT_IN: &'static str = "modulo, hash, range, interval, lookup";

    /// Builds the resolver over the database's shards (`shard_names`, sorted). `Ok(None)`
    /// for a named resolver (registered in code, not known here).
    pub(crate) fn build(
        &self,
        shard_names: &[&str],
    ) -> Result<Option<Arc<dyn ShardResolver>>, ShardError> {
        let order = |shards: &[String]| -> Vec<String> {
            if shards.is_empty() {
                shard_names.iter().map(|s| s.to_string()).collect()
            } else {
                shards.to_vec()
            }
        };
        Ok(Some(match self {
            ResolverConfig::Modulo { shards } => Arc::new(Modulo::new(order(shards))?),
            ResolverConfig::Hash { shards } => Arc::new(StableHash::new(order(shards))?),
            ResolverConfig::Range { ranges, end } => {
                Arc::new(Range::new(ranges.iter().cloned(), *end)?)
            }
            ResolverConfig::Interval { monthly, pattern } => {
                let base = if *monthly {
                    TimeInterval::monthly(pattern)?
                } else {
                    TimeInterval::yearly(pattern)?
                };
                let known: Vec<&str> = shard_names
                    .iter()
                    .copied()
                    .filter(|s| base.produces(s))
                    .collect();
                if known.is_empty() {
                    return Err(ShardError::NoShards {
                        resolver: "interval",
                    });
                }
                Arc::new(base.with_shards(known)?)
            }
            ResolverConfig::Lookup { entries, default } => {
                Arc::new(Lookup::new(entries.iter().cloned(), default.clone())?)
            }
            ResolverConfig::Named(_) => return Ok(None),
        }))
    }

    /// The shard names this config mentions, to check each is a configured shard.
    pub(crate) fn named_shards(&self) -> BTreeSet<&str> {
        match self {
            ResolverConfig::Modulo { shards } | ResolverConfig::Hash { shards } => {
                shards.iter().map(String::as_str).collect()
            }
            ResolverConfig::Range { ranges, .. } => {
                ranges.iter().map(|(_, s)| s.as_str()).collect()
            }
            ResolverConfig::Lookup { entries, default } => entries
                .iter()
                .map(|(_, s)| s.as_str())
                .chain(default.as_deref())
                .collect(),
            ResolverConfig::Interval { .. } | ResolverConfig::Named(_) => BTreeSet::new(),
        }
    }
}

mod parse {
    use toml::{Table, Value};

    use super::{ResolverConfig, ShardingConfig};
    use crate::config::error::{ConfigError, ConfigErrorKind};
    use crate::config::parse::{wrong_type, Fields};
    use crate::config::path::key_path;
    use grant_sharding::ShardValue;

    impl Fields<'_> {
        /// `[databases.<name>.sharding]`.
        pub(in crate::config) fn sharding(
            &self,
            t: &Table,
            path: &str,
        ) -> Result<ShardingConfig, ConfigError> {
            let at = |key: &str, kind| ConfigError::new(key_path(path, key), kind);
            let name = self
                .string(t, path, "resolver", "a string naming a resolver")?
                .ok_or_else(|| {
                    at(
                        "resolver",
                        ConfigErrorKind::InvalidSharding {
                            reason: format!(
                                "missing `resolver`; expected one of: {}, or a name registered in code",
                                ResolverConfig::BUILT_IN
                            ),
                        },
                    )
                })?;
            let shards = || {
                self.strings(
                    t,
                    path,
                    "shards",
                    "an array of shard names",
                    "a string (a shard name)",
                )
            };
            let resolver = match name.trim() {
                "modulo" => ResolverConfig::Modulo { shards: shards()? },
                "hash" => ResolverConfig::Hash { shards: shards()? },
                "range" => {
                    let ranges = self.array(
                        t,
                        path,
                        "ranges",
                        "an array of [start, \"shard\"] pairs",
                        |item, at| match item.as_array().map(Vec::as_slice) {
                            Some([Value::Integer(start), Value::String(shard)]) => {
                                Ok((*start, shard.clone()))
                            }
                            _ => Err(wrong_type(&at, "a [start, \"shard\"] pair", item)),
                        },
                    )?;
                    let end = match t.get("end") {
                        None => None,
                        Some(Value::Integer(n)) => Some(*n),
                        Some(other) => {
                            return Err(wrong_type(&key_path(path, "end"), "an integer", other))
                        }
                    };
                    ResolverConfig::Range { ranges, end }
                }
                "interval" => {
                    let every = self
                        .choice(t, path, "every", "year, month")?
                        .unwrap_or_else(|| "year".into());
                    let pattern = self
                        .string(t, path, "pattern", "a string such as \"prices_{yyyy}\"")?
                        .ok_or_else(|| {
                            at(
                                "pattern",
                                ConfigErrorKind::InvalidSharding {
                                    reason: "missing `pattern`; expected a shard-name pattern such as \"prices_{yyyy}\"".into(),
                                },
                            )
                        })?;
                    ResolverConfig::Interval {
                        monthly: every == "month",
                        pattern,
                    }
                }
                "lookup" => {
                    let entries = self.array(
                        t,
                        path,
                        "lookup",
                        "an array of [key, \"shard\"] pairs",
                        |item, at| match item.as_array().map(Vec::as_slice) {
                            Some([Value::Integer(k), Value::String(shard)]) => {
                                Ok((ShardValue::Int(*k), shard.clone()))
                            }
                            Some([Value::String(k), Value::String(shard)]) => {
                                Ok((ShardValue::Text(k.clone()), shard.clone()))
                            }
                            _ => Err(wrong_type(
                                &at,
                                "a [key, \"shard\"] pair (an integer or string key)",
                                item,
                            )),
                        },
                    )?;
                    let default = self.string(t, path, "default", "a string naming a shard")?;
                    ResolverConfig::Lookup { entries, default }
                }
                other => ResolverConfig::Named(other.to_owned()),
            };
            // Parameters of another resolver are mistakes, not ignored.
            let allowed: &[&str] = match &resolver {
                ResolverConfig::Modulo { .. } | ResolverConfig::Hash { .. } => &["shards"],
                ResolverConfig::Range { .. } => &["ranges", "end"],
                ResolverConfig::Interval { .. } => &["every", "pattern"],
                ResolverConfig::Lookup { .. } => &["lookup", "default"],
                ResolverConfig::Named(_) => &[],
            };
            for key in [
                "shards", "ranges", "end", "every", "pattern", "lookup", "default",
            ] {
                if t.contains_key(key) && !allowed.contains(&key) {
                    return Err(at(
                        key,
                        ConfigErrorKind::InvalidSharding {
                            reason: format!("`{key}` does not apply to resolver `{}`", name.trim()),
                        },
                    ));
                }
            }
            let mut config = ShardingConfig::new(resolver);
            if let Some(b) = self.boolean(t, path, "scatter")? {
                config.scatter = b;
            }
            if let Some(n) = self.integer_u32(t, path, "concurrency")? {
                config.concurrency = n;
            }
            if let Some(d) = self.duration(t, path, "timeout", true)? {
                config.timeout = d;
            }
            Ok(config)
        }
    }
}

/// Validation of a database's sharding against its shards.
pub(super) fn check(
    sharding: &ShardingConfig,
    shard_names: &[&str],
    path: &str,
) -> Result<(), super::ConfigError> {
    use super::error::{ConfigError, ConfigErrorKind};
    use super::path::key_path;
    let at = |key: &str, kind| ConfigError::new(key_path(path, key), kind);
    if shard_names.is_empty() {
        return Err(ConfigError::new(
            path.to_owned(),
            ConfigErrorKind::ShardingWithoutShards,
        ));
    }
    if !(1..=1024).contains(&sharding.concurrency) {
        return Err(at(
            "concurrency",
            ConfigErrorKind::IntegerOutOfRange {
                value: i64::from(sharding.concurrency),
                min: 1,
                max: 1024,
            },
        ));
    }
    for shard in sharding.resolver.named_shards() {
        if !shard_names.contains(&shard) {
            return Err(at(
                "resolver",
                ConfigErrorKind::InvalidSharding {
                    reason: format!(
                        "shard `{shard}` is not configured; expected one of: {}",
                        shard_names.join(", ")
                    ),
                },
            ));
        }
    }
    if let ResolverConfig::Named(name) = &sharding.resolver {
        if name.is_empty() {
            return Err(at(
                "resolver",
                ConfigErrorKind::InvalidSharding {
                    reason: format!(
                        "empty resolver name; expected one of: {}, or a name registered in code",
                        ResolverConfig::BUILT_IN
                    ),
                },
            ));
        }
    }
    sharding.resolver.build(shard_names).map_err(|e| {
        at(
            "resolver",
            ConfigErrorKind::InvalidSharding {
                reason: e.to_string(),
            },
        )
    })?;
    Ok(())
}
