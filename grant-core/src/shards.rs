//! The sharding surface of [`Grant`]: a statement on a named shard ([`Grant::on_shard`]),
//! every shard in turn ([`Grant::each_shard`]), the shard of a row, resolvers registered
//! in code, and shards added or removed while the application runs.

use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt as _;
use grant_sharding::ShardResolver;

use crate::config::ShardConfig;
use crate::error::{Error, Result};
use crate::exec::{Executor, Target};
use crate::grant::Grant;
use crate::model::Model;
use crate::transaction::Transaction;

/// An executor that runs statements on one named shard: the explicit source, which wins
/// over the shard key and the scope ([`Grant::on_shard`]).
///
/// ```no_run
/// # use grant_core::{Grant, Model};
/// # async fn demo<Order: Model<Key = i64>>(db: &Grant) -> grant_core::Result<()> {
/// let order = Order::find(db.on_shard("shard_two"), 42).await?;
/// let n = Order::query().count(db.on_shard("shard_two")).await?;
/// # let _ = (order, n); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OnShard<'g> {
    grant: &'g Grant,
    shard: Arc<str>,
}

impl<'g> Executor<'g> for OnShard<'g> {
    #[inline]
    fn into_target(self) -> Target<'g> {
        Target::Shard(self.grant, self.shard)
    }
}

impl OnShard<'_> {
    /// The shard.
    pub fn shard(&self) -> &str {
        &self.shard
    }

    /// Begin a transaction on this shard of the default database. It is pinned to the
    /// shard: a statement in it whose key belongs on another shard is
    /// [`Error::WrongShard`], and nothing is sent.
    pub async fn begin(&self) -> Result<Transaction> {
        self.begin_on(self.grant.default_database()).await
    }

    /// Begin a transaction on this shard of `database` (see [`OnShard::begin`]).
    pub async fn begin_on(&self, database: &str) -> Result<Transaction> {
        self.grant.begin_at(database, Some(&self.shard)).await
    }
}

/// An executor that runs statements on a named database (and optionally one of its
/// shards) instead of the model's: the explicit source ([`Grant::on_database`]). A model
/// sharded by key is still routed by its key among that database's shards.
///
/// ```no_run
/// # use grant_core::{Grant, Model};
/// # async fn demo<Chat: Model<Key = i64>>(db: &Grant, mut chat: Chat) -> grant_core::Result<()> {
/// chat.insert(db.on_database("archive")).await?;               // the archive, not the model's database
/// let old = Chat::query().all(db.on_database("archive")).await?;
/// let one = Chat::find(db.on_database("archive").shard("s1"), 7).await?;
/// # let _ = (old, one); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OnDatabase<'g> {
    grant: &'g Grant,
    database: Arc<str>,
    shard: Option<Arc<str>>,
}

impl<'g> Executor<'g> for OnDatabase<'g> {
    #[inline]
    fn into_target(self) -> Target<'g> {
        Target::At(
            self.grant,
            crate::exec::Pinned {
                database: Some(self.database),
                shard: self.shard,
                deadline: None,
            },
        )
    }
}

impl OnDatabase<'_> {
    /// On shard `shard` of that database.
    pub fn shard(mut self, shard: impl AsRef<str>) -> Self {
        self.shard = Some(Arc::from(shard.as_ref()));
        self
    }

    /// Begin a transaction on that database (and shard, if named).
    pub async fn begin(&self) -> Result<Transaction> {
        self.grant
            .begin_at(&self.database, self.shard.as_deref())
            .await
    }
}

impl Grant {
    /// Run statements on database `database` instead of the model's (its shard by key for
    /// a sharded model, or the one named with [`OnDatabase::shard`]). An unknown name is
    /// [`Error::UnknownDatabase`].
    pub fn on_database(&self, database: impl AsRef<str>) -> OnDatabase<'_> {
        OnDatabase {
            grant: self,
            database: Arc::from(database.as_ref()),
            shard: None,
        }
    }

    /// Run statements on shard `shard` (of the model's database): `Model::find(db.on_shard("s1"), id)`.
    /// The shard must exist ([`Error::UnknownShard`]); naming a shard of a database
    /// without shards is [`Error::NotSharded`].
    pub fn on_shard(&self, shard: impl AsRef<str>) -> OnShard<'_> {
        OnShard {
            grant: self,
            shard: Arc::from(shard.as_ref()),
        }
    }

    /// Run `f` once per shard of `database`, inside a scope on that shard
    /// (`connection().shard(..)`), at most the database's `[sharding] concurrency` (default
    /// 8) at once. Rails' `connected_to_all_shards`, in parallel. Returns `(shard, result)`
    /// in shard-name order. A database without shards is [`Error::NotSharded`].
    ///
    /// ```no_run
    /// # use grant_core::{Grant, Model, raw};
    /// # async fn demo(db: &Grant) -> grant_core::Result<()> {
    /// let created = db
    ///     .each_shard("primary", |shard| async move {
    ///         raw("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)").execute(db).await
    ///     })
    ///     .await?;
    /// for (shard, result) in created {
    ///     result?;
    ///     println!("{shard}: ready");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn each_shard<F, Fut, T>(&self, database: &str, f: F) -> Result<Vec<(String, T)>>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = T>,
    {
        let (shards, concurrency) = self.handler().with_entry(database, |e| {
            let shards = e.shard_names();
            if shards.is_empty() {
                return Err(Error::NotSharded {
                    database: database.to_string(),
                    shard: "(every shard)".to_string(),
                    model: None,
                });
            }
            let n = e
                .sharding()
                .map_or(crate::config::DEFAULT_SCATTER_CONCURRENCY as usize, |s| {
                    s.concurrency()
                });
            Ok((shards, n))
        })?;
        let mut runs = Vec::with_capacity(shards.len());
        for shard in shards {
            let name = shard.to_string();
            let fut = f(name.clone());
            runs.push(async move {
                let out = crate::context::connection().shard(&*shard).run(fut).await;
                (name, out)
            });
        }
        Ok(futures_util::stream::iter(runs)
            .buffered(concurrency)
            .collect()
            .await)
    }

    /// The shard that holds `row`: its shard key through its database's resolver. `None`
    /// for a model without `#[shard_by]`. A NULL key is [`Error::ShardKeyMissing`].
    pub fn shard_of<M: Model>(&self, row: &M) -> Result<Option<String>> {
        Ok(self
            .shard_of_row(M::META, &row.values())?
            .map(|s| s.to_string()))
    }

    /// Register a resolver by name, for databases whose `[sharding]` table says
    /// `resolver = "<name>"` ([`ConnectionHandler::register_resolver`](crate::ConnectionHandler::register_resolver)).
    pub fn register_resolver(
        &self,
        name: &str,
        resolver: impl ShardResolver + 'static,
    ) -> Result<()> {
        self.handler().register_resolver(name, Arc::new(resolver))
    }

    /// Replace the resolver of `database` (a lookup table updated at runtime), without a
    /// restart; statements already routed are unaffected.
    pub fn set_resolver(
        &self,
        database: &str,
        resolver: impl ShardResolver + 'static,
    ) -> Result<()> {
        self.handler().set_resolver(database, Arc::new(resolver))
    }

    /// Route `database`'s sharded models by a lookup table read from a database: `sql`
    /// runs (as a read) on database `from` and returns two columns, the key (an integer or
    /// a text) and the shard name; keys not in it go to `default` (or are an error without
    /// one). The resolver is replaced at once, without a restart; call it again when the
    /// table changes. Returns how many keys were loaded. A key listed twice, a shard name
    /// that is not usable, or an empty table without a default is [`Error::Shard`].
    ///
    /// ```no_run
    /// # async fn demo(db: &grant_core::Grant) -> grant_core::Result<()> {
    /// let n = db
    ///     .load_lookup("chats", "meta", "SELECT chat_id, source FROM chat_sources", Some("primary"))
    ///     .await?;
    /// println!("{n} chats mapped");
    /// # Ok(()) }
    /// ```
    pub async fn load_lookup(
        &self,
        database: &str,
        from: &str,
        sql: impl crate::SqlSafeStr,
        default: Option<&str>,
    ) -> Result<usize> {
        let rows = crate::raw::raw(sql).on(from).fetch_all(self).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let key = match row.get_at::<i64>(0) {
                Ok(n) => grant_sharding::ShardValue::Int(n),
                Err(_) => grant_sharding::ShardValue::Text(row.get_at::<String>(0)?),
            };
            entries.push((key, row.get_at::<String>(1)?));
        }
        let n = entries.len();
        let lookup =
            grant_sharding::Lookup::new(entries, default.map(str::to_string)).map_err(|e| {
                Error::Shard {
                    database: database.to_string(),
                    source: Box::new(e),
                }
            })?;
        self.set_resolver(database, lookup)?;
        Ok(n)
    }

    /// Add a shard to `database` at runtime ([`ConnectionHandler::add_shard`](crate::ConnectionHandler::add_shard)).
    pub fn add_shard(&self, database: &str, name: &str, shard: ShardConfig) -> Result<()> {
        self.handler().add_shard(database, name, shard)
    }

    /// Remove a shard of `database` at runtime ([`ConnectionHandler::remove_shard`](crate::ConnectionHandler::remove_shard)).
    pub async fn remove_shard(&self, database: &str, name: &str) -> Result<()> {
        self.handler().remove_shard(database, name).await
    }
}
