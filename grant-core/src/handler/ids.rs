//! A database's key generators: one Snowflake generator per logical shard (or one), and a
//! UUIDv7 generator. Kept across runtime changes of the database (adding a shard), so a
//! generator's sequence never restarts within a millisecond.

use std::sync::OnceLock;

use grant_sharding::id::{IdError, Snowflake, UuidV7};

use crate::config::IdConfig;

/// The key generators of one database.
#[derive(Debug)]
pub(crate) struct IdGenerators {
    config: IdConfig,
    /// Index 0 without an embedded shard; the shard's index with one.
    snowflakes: Vec<OnceLock<Result<Snowflake, IdError>>>,
    uuid: UuidV7,
}

impl IdGenerators {
    pub(crate) fn new(config: IdConfig) -> IdGenerators {
        let slots = match config.layout().max_shard() {
            Some(max) if config.embed_shard => usize::from(max) + 1,
            _ => 1,
        };
        IdGenerators {
            config,
            snowflakes: (0..slots).map(|_| OnceLock::new()).collect(),
            uuid: UuidV7::new(),
        }
    }

    /// The settings these generators follow.
    pub(crate) fn config(&self) -> &IdConfig {
        &self.config
    }

    /// Whether ids carry their shard's index.
    pub(crate) fn embeds_shard(&self) -> bool {
        self.config.embed_shard
    }

    /// A fresh Snowflake id, for the shard of index `shard` when ids embed it.
    pub(crate) fn snowflake(&self, shard: Option<u16>) -> Result<i64, IdError> {
        let (slot, shard) = match (self.config.embed_shard, shard) {
            (true, Some(s)) => (usize::from(s), Some(s)),
            (true, None) => {
                return Err(IdError::MissingShard {
                    bits: self.config.layout().shard_bits,
                })
            }
            (false, _) => (0, None),
        };
        let Some(cell) = self.snowflakes.get(slot) else {
            return self.config.generator(shard).and_then(|g| g.next_id());
        };
        match cell.get_or_init(|| self.config.generator(shard)) {
            Ok(g) => g.next_id(),
            Err(e) => Err(e.clone()),
        }
    }

    /// A fresh UUIDv7.
    pub(crate) fn uuid(&self) -> uuid::Uuid {
        self.uuid.next_uuid()
    }

    /// The shard index an id carries, when ids embed it.
    pub(crate) fn shard_of(&self, id: i64) -> Option<u16> {
        if !self.config.embed_shard {
            return None;
        }
        self.config.layout().shard_of(id)
    }
}
