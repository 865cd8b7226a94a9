//! A sharded database's routing state: its resolver and its scatter policy.

use std::sync::Arc;
use std::time::Duration;

use grant_sharding::ShardResolver;

use crate::config::{ResolverConfig, ShardingConfig};
use crate::error::{Error, Result};

/// How a sharded database routes by key, as the handler holds it. Immutable: a new
/// resolver (a lookup updated at runtime) replaces the whole database entry.
#[derive(Debug, Clone)]
pub struct ShardRouting {
    /// `None`: the config names a resolver that is not registered yet.
    resolver: Option<Arc<dyn ShardResolver>>,
    /// The resolver's name in the config (`"hash"`, or a registered name).
    name: Arc<str>,
    scatter: bool,
    concurrency: usize,
    timeout: Option<Duration>,
}

impl ShardRouting {
    /// The routing `config` describes over `shard_names`, with `registered` resolving a
    /// named resolver.
    pub(crate) fn new(
        database: &str,
        config: &ShardingConfig,
        shard_names: &[&str],
        registered: Option<Arc<dyn ShardResolver>>,
    ) -> Result<ShardRouting> {
        let (resolver, name) = match &config.resolver {
            ResolverConfig::Named(name) => (registered, Arc::from(name.as_str())),
            other => {
                let built = other.build(shard_names).map_err(|e| Error::Shard {
                    database: database.to_string(),
                    source: Box::new(e),
                })?;
                (built, Arc::from(resolver_name(other)))
            }
        };
        Ok(ShardRouting {
            resolver,
            name,
            scatter: config.scatter,
            concurrency: config.concurrency.max(1) as usize,
            timeout: config.timeout,
        })
    }

    /// The same routing with another resolver.
    pub(crate) fn with_resolver(&self, resolver: Arc<dyn ShardResolver>) -> ShardRouting {
        ShardRouting {
            resolver: Some(resolver),
            ..self.clone()
        }
    }

    /// The resolver, or [`Error::UnknownResolver`] for a named one not registered.
    pub fn resolver(&self, database: &str) -> Result<&Arc<dyn ShardResolver>> {
        self.resolver
            .as_ref()
            .ok_or_else(|| Error::UnknownResolver {
                database: database.to_string(),
                resolver: self.name.to_string(),
            })
    }

    /// The resolver's name in the config.
    pub fn resolver_name(&self) -> &str {
        &self.name
    }

    /// Whether queries without the key may visit every shard.
    pub fn scatter(&self) -> bool {
        self.scatter
    }

    /// Shards queried at once by one scatter.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The deadline of one scatter.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

fn resolver_name(config: &ResolverConfig) -> &'static str {
    match config {
        ResolverConfig::Modulo { .. } => "modulo",
        ResolverConfig::Hash { .. } => "hash",
        ResolverConfig::Range { .. } => "range",
        ResolverConfig::Interval { .. } => "interval",
        ResolverConfig::Lookup { .. } => "lookup",
        ResolverConfig::Named(_) => "named",
    }
}
