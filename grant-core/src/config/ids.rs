//! `[databases.<name>.ids]`: how Grant generates the keys of models declared
//! `#[grant(primary_key, generate = "snowflake")]` on this database.
//!
//! ```toml
//! [databases.orders.ids]
//! worker_id = 7          # unique per process writing at once (0..=1023, or 0..=63 with "sharded")
//! layout = "sharded"     # "twitter" (default) or "sharded": embed the row's shard in its id
//! epoch_ms = 1704067200000
//! ```

use grant_sharding::id::{Snowflake, SnowflakeLayout};

/// Key generation settings of a database.
///
/// ```
/// use grant_core::config::IdConfig;
///
/// let ids = IdConfig::default().worker_id(7).embed_shard(true);
/// assert_eq!(ids.worker_id, 7);
/// assert!(ids.embed_shard);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdConfig {
    /// This process's worker id: processes that insert at the same time need different
    /// ones (0 to 1023 with the Twitter layout, 0 to 63 with the sharded layout). Default 0.
    pub worker_id: u16,
    /// `layout = "sharded"`: the id holds the index of the row's shard (8 bits, among the
    /// database's shards sorted by name), so `find(id)` goes straight to that shard
    /// without a scatter. Default `false` (`layout = "twitter"`).
    pub embed_shard: bool,
    /// Milliseconds since the Unix epoch that ids count from. Default
    /// [`Snowflake::DEFAULT_EPOCH_MS`].
    pub epoch_ms: u64,
}

impl Default for IdConfig {
    fn default() -> Self {
        IdConfig {
            worker_id: 0,
            embed_shard: false,
            epoch_ms: Snowflake::DEFAULT_EPOCH_MS,
        }
    }
}

impl IdConfig {
    /// Sets the worker id.
    pub fn worker_id(mut self, worker_id: u16) -> Self {
        self.worker_id = worker_id;
        self
    }

    /// Embeds the row's shard in its id (the sharded layout).
    pub fn embed_shard(mut self, embed: bool) -> Self {
        self.embed_shard = embed;
        self
    }

    /// The layout these settings use.
    pub fn layout(&self) -> SnowflakeLayout {
        if self.embed_shard {
            SnowflakeLayout::SHARDED
        } else {
            SnowflakeLayout::TWITTER
        }
    }

    /// A generator for `shard` (its index; `None` without an embedded shard).
    pub(crate) fn generator(
        &self,
        shard: Option<u16>,
    ) -> Result<Snowflake, grant_sharding::id::IdError> {
        Snowflake::new(self.layout(), self.epoch_ms, self.worker_id, shard)
    }
}

mod parse {
    use toml::Table;

    use super::IdConfig;
    use crate::config::error::{ConfigError, ConfigErrorKind};
    use crate::config::parse::Fields;
    use crate::config::path::key_path;

    impl Fields<'_> {
        /// `[databases.<name>.ids]`.
        pub(in crate::config) fn ids(
            &self,
            t: &Table,
            path: &str,
        ) -> Result<IdConfig, ConfigError> {
            let mut ids = IdConfig::default();
            if let Some(n) = self.integer_u32(t, path, "worker_id")? {
                ids.worker_id = u16::try_from(n).map_err(|_| {
                    ConfigError::new(
                        key_path(path, "worker_id"),
                        ConfigErrorKind::IntegerOutOfRange {
                            value: i64::from(n),
                            min: 0,
                            max: 1023,
                        },
                    )
                })?;
            }
            if let Some(layout) = self.choice(t, path, "layout", "twitter, sharded")? {
                ids.embed_shard = layout == "sharded";
            }
            if let Some(v) = t.get("epoch_ms") {
                match v {
                    toml::Value::Integer(n) if *n >= 0 => ids.epoch_ms = *n as u64,
                    other => {
                        return Err(crate::config::parse::wrong_type(
                            &key_path(path, "epoch_ms"),
                            "a non-negative integer (milliseconds since 1970)",
                            other,
                        ))
                    }
                }
            }
            Ok(ids)
        }
    }
}

/// Validation: the worker id fits the layout, the epoch is in the past.
pub(super) fn check(ids: &IdConfig, path: &str) -> Result<(), super::ConfigError> {
    let shard = ids.embed_shard.then_some(0);
    ids.generator(shard).map_err(|e| {
        super::ConfigError::new(
            super::path::key_path(path, "worker_id"),
            super::ConfigErrorKind::InvalidSharding {
                reason: e.to_string(),
            },
        )
    })?;
    Ok(())
}
