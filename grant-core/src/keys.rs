//! Keys Grant generates on insert (`#[grant(primary_key, generate = "snowflake")]` or
//! `"uuid_v7"`), from the generators of the model's database, and the shard a Snowflake
//! id carries (`layout = "sharded"`), which lets `find(id)` skip the scatter.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::exec::Target;
use crate::grant::Grant;
use crate::model::{Generate, Model};
use crate::value::Value;

impl Grant {
    /// Give `m` a generated key, if its model declares one.
    pub(crate) fn assign_key<M: Model>(&self, m: &mut M) -> Result<()> {
        let Some(how) = M::META.generate else {
            return Ok(());
        };
        let database = M::META.database.unwrap_or(self.default_database());
        let id_err = |e| Error::Id {
            model: M::META.name,
            source: Box::new(e),
        };
        match how {
            Generate::UuidV7 => {
                let id = self
                    .handler()
                    .with_entry(database, |e| Ok(e.ids().uuid()))?;
                m.set_generated_uuid(id)
            }
            Generate::Snowflake => {
                let embeds = self
                    .handler()
                    .with_entry(database, |e| Ok(e.ids().embeds_shard()))?;
                // The row's shard first (its shard key through the resolver), then the id.
                let shard = if embeds {
                    if M::META.shard_key.is_empty() || M::META.shard_key == [M::META.primary_key] {
                        return Err(Error::InvalidQuery {
                            model: M::META.name,
                            message: "ids that embed their shard need a shard key other than the id (#[shard_by(..)] on another field)".into(),
                        });
                    }
                    self.shard_of_row(M::META, &m.values())?
                } else {
                    None
                };
                let id = self.handler().with_entry(database, |e| {
                    let index = match &shard {
                        Some(name) => {
                            let names = e.shard_names();
                            let i = names.iter().position(|n| n == name).ok_or_else(|| {
                                Error::UnknownShard {
                                    database: database.to_string(),
                                    shard: name.to_string(),
                                }
                            })?;
                            Some(u16::try_from(i).map_err(|_| {
                                id_err(grant_sharding::id::IdError::ShardOutOfRange {
                                    shard: u16::MAX,
                                    bits: 8,
                                    max: 255,
                                })
                            })?)
                        }
                        None => None,
                    };
                    e.ids().snowflake(index).map_err(id_err)
                })?;
                m.set_generated_key(i128::from(id))
            }
        }
    }

    /// The shard a Snowflake id of `M` names (`layout = "sharded"`): a hint for `find`,
    /// checked by the lookup itself (a shard renumbered since the id was made only costs
    /// a scatter).
    pub(crate) fn id_shard<M: Model>(&self, key: &Value) -> Option<Arc<str>> {
        if M::META.generate != Some(Generate::Snowflake) {
            return None;
        }
        let Value::I64(id) = key else { return None };
        let database = M::META.database.unwrap_or(self.default_database());
        self.handler()
            .with_entry(database, |e| {
                let index = e.ids().shard_of(*id);
                Ok(index.and_then(|i| e.shard_names().into_iter().nth(usize::from(i))))
            })
            .ok()
            .flatten()
    }
}

/// The handle behind a target (a transaction's: the handle that began it).
pub(crate) fn grant_of(target: &Target<'_>) -> Grant {
    match target {
        Target::Grant(g) | Target::Shard(g, _) | Target::At(g, _) => (*g).clone(),
        Target::Tx(tx) => tx.grant().clone(),
    }
}
