//! The connection handler: the registry of pools keyed by (database, role, shard).
//!
//! Databases are entries of a [`DashMap`]; each entry holds its writer, its replicas (the
//! reading role) and its shards, each a [`PoolSlot`] whose sqlx pool is created on first
//! use. Databases can be added and removed while the application runs.

mod acquire;
mod balance;
mod health;
mod ids;
mod monitor;
mod options;
mod pool;
pub(crate) mod positions;
mod session;
mod sharding;

pub(crate) use health::is_target_failure;
pub use health::ReplicaState;
pub(crate) use pool::timeout_error;
pub use pool::{Pool, PoolKey, PoolKind, PoolSlot, PoolStats};
pub use sharding::ShardRouting;

use options::BaseOptions;
pub(crate) use options::MYSQL_READ_ONLY_SESSION;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::config::{
    Config, Consistency, DatabaseConfig, ReplicaFallback, ReplicationConfig, ShardConfig,
};
use crate::error::{Error, Result};
use crate::role::Role;
use grant_sharding::ShardResolver;

/// Resolvers registered by name.
type Resolvers = DashMap<String, Arc<dyn ShardResolver>, foldhash::fast::RandomState>;

/// The pools of one shard (or of the database itself): a writer, a read-only twin of the
/// writer, and the replicas with their health.
#[derive(Debug)]
pub struct Targets {
    writer: Arc<PoolSlot>,
    writer_read_only: Arc<PoolSlot>,
    replicas: Vec<Arc<PoolSlot>>,
    next: AtomicUsize,
    replication: ReplicationConfig,
    /// Whether writes are refused (a readonly database or shard).
    readonly: bool,
    /// Whether a monitor of positions and lag is wanted, and whether it runs.
    monitored: bool,
    monitor_started: AtomicBool,
    stop: CancellationToken,
}

impl Targets {
    #[allow(clippy::too_many_arguments)]
    fn new(
        database: &Arc<str>,
        shard: Option<&Arc<str>>,
        url: &str,
        replicas: &[String],
        weights: &[u32],
        config: &DatabaseConfig,
        readonly: bool,
        key_path: &str,
        stop: CancellationToken,
    ) -> Result<Targets> {
        let key = |kind| PoolKey::new(database.clone(), shard.cloned(), kind);
        let base = BaseOptions::parse(url, &format!("{key_path}.url"))?;
        let writer = Arc::new(
            PoolSlot::new(key(PoolKind::Writer), &base, readonly, config).stopping_with(&stop),
        );
        // A read-only database's writer is read-only already: it is its own twin.
        let writer_read_only = if readonly {
            writer.clone()
        } else {
            Arc::new(
                PoolSlot::new(key(PoolKind::WriterReadOnly), &base, true, config)
                    .opening_after(&writer)
                    .stopping_with(&stop),
            )
        };
        let replicas = replicas
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let base = BaseOptions::parse(url, &format!("{key_path}.replicas[{i}]"))?;
                Ok(Arc::new(
                    PoolSlot::new(key(PoolKind::Replica(i)), &base, true, config)
                        .weighted(weights.get(i).copied().unwrap_or(1))
                        .stopping_with(&stop),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let r = &config.replication;
        let monitored = !replicas.is_empty()
            && base.backend() != Backend::Sqlite
            && (r.consistency == Consistency::Causal || r.max_replication_lag.is_some());
        Ok(Targets {
            writer,
            writer_read_only,
            replicas,
            next: AtomicUsize::new(0),
            replication: config.replication.clone(),
            readonly,
            monitored,
            monitor_started: AtomicBool::new(false),
            stop,
        })
    }

    /// The writer.
    pub fn writer(&self) -> &Arc<PoolSlot> {
        &self.writer
    }

    /// The writer's URL with read-only sessions: the reading role of a database without
    /// replicas, and reads in a prevent-writes scope. Never the writer's own pool (for a
    /// `readonly` database, whose writer is read-only already, it is that pool).
    pub fn writer_read_only(&self) -> &Arc<PoolSlot> {
        &self.writer_read_only
    }

    /// Whether these targets refuse writes (a `readonly` database or shard).
    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// The replicas (reading role).
    pub fn replicas(&self) -> &[Arc<PoolSlot>] {
        &self.replicas
    }

    /// The replica settings these targets follow.
    pub fn replication(&self) -> &ReplicationConfig {
        &self.replication
    }

    /// The slot that serves reads for `role`: the writer for `Writing`, its read-only twin
    /// when the scope prevents writes, [`Targets::reader`] for `Reading` and custom roles.
    #[inline]
    pub fn for_reads(&self, role: &Role, prevent_writes: bool) -> Result<&Arc<PoolSlot>> {
        match role {
            Role::Writing if prevent_writes => Ok(&self.writer_read_only),
            Role::Writing => Ok(&self.writer),
            Role::Reading | Role::Custom(_) => self.reader(),
        }
    }

    /// A replica in rotation, chosen by the database's `balance`; with no replica, the
    /// writer's read-only twin. When every replica is out (down or lagging): the twin, or
    /// [`Error::NoReplica`] with `replica_fallback = "error"`.
    #[inline]
    pub fn reader(&self) -> Result<&Arc<PoolSlot>> {
        if self.replicas.is_empty() {
            return Ok(&self.writer_read_only);
        }
        self.start_monitor();
        match self.pick() {
            Some(slot) => Ok(slot),
            None => self.all_out(),
        }
    }

    /// The read-only twin when every replica is out, or the error the config asks for.
    #[cold]
    pub(crate) fn all_out(&self) -> Result<&Arc<PoolSlot>> {
        match self.replication.replica_fallback {
            ReplicaFallback::Writer => {
                tracing::debug!(
                    database = %self.writer.key().database,
                    shard = self.writer.key().shard.as_deref(),
                    "grant: every replica is out; reading from the writer"
                );
                Ok(&self.writer_read_only)
            }
            ReplicaFallback::Error => Err(Error::NoReplica {
                database: self.writer.key().database.to_string(),
                shard: self.writer.key().shard.as_deref().map(str::to_string),
            }),
        }
    }

    /// Start the replication monitor once, when positions or lag are wanted.
    #[inline]
    fn start_monitor(&self) {
        if self.monitored && !self.monitor_started.load(Ordering::Relaxed) {
            self.spawn_monitor();
        }
    }

    #[cold]
    fn spawn_monitor(&self) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.monitor_started.swap(true, Ordering::AcqRel) {
            return;
        }
        rt.spawn(monitor::run(
            self.writer.clone(),
            self.replicas.clone(),
            self.replication.clone(),
            self.stop.clone(),
        ));
    }

    fn slots(&self) -> impl Iterator<Item = &Arc<PoolSlot>> {
        let twin =
            (!Arc::ptr_eq(&self.writer, &self.writer_read_only)).then_some(&self.writer_read_only);
        std::iter::once(&self.writer)
            .chain(twin)
            .chain(self.replicas.iter())
    }
}

/// What a rebuilt entry keeps from the one it replaces.
#[derive(Default)]
struct Kept {
    /// A resolver set in code.
    resolver: Option<Arc<dyn ShardResolver>>,
    /// The key generators (their sequences must not restart).
    ids: Option<Arc<ids::IdGenerators>>,
}

/// One registered database: its config, its own targets, and its shards' targets.
#[derive(Debug)]
pub struct DatabaseEntry {
    name: Arc<str>,
    config: DatabaseConfig,
    readonly: bool,
    targets: Arc<Targets>,
    shards: HashMap<Arc<str>, Arc<Targets>>,
    /// How sharded models route by key (`[sharding]`).
    sharding: Option<ShardRouting>,
    /// A resolver set in code for this database ([`ConnectionHandler::set_resolver`]),
    /// kept when the entry is rebuilt.
    resolver_override: Option<Arc<dyn ShardResolver>>,
    /// Key generators (`generate = "snowflake"` / `"uuid_v7"`), kept when rebuilt.
    ids: Arc<ids::IdGenerators>,
    /// Whether a `replica_of` entry names this one (its reads may be served elsewhere).
    replicated: AtomicBool,
    /// Whether read-your-writes is on (`replica_delay` > 0, or causal consistency).
    tracking: bool,
    /// Whether the database or any of its shards has replicas.
    has_replicas: bool,
    /// Stops the background tasks of this database (probes, monitors).
    stop: CancellationToken,
}

impl DatabaseEntry {
    fn new(
        name: &str,
        config: DatabaseConfig,
        stop: CancellationToken,
        resolvers: &Resolvers,
    ) -> Result<DatabaseEntry> {
        let name: Arc<str> = Arc::from(name);
        let readonly = config.readonly || config.replica_of.is_some();
        let path = format!("databases.{name}");
        let targets = Arc::new(Targets::new(
            &name,
            None,
            &config.url,
            &config.replicas,
            &config.replica_weights,
            &config,
            readonly,
            &path,
            stop.clone(),
        )?);
        let mut shards = HashMap::with_capacity(config.shards.len());
        for shard_name in config.shards.keys() {
            let t = Self::shard_targets(&name, shard_name, &config, &stop)?;
            shards.insert(Arc::from(shard_name.as_str()), t);
        }
        Self::assemble(
            name,
            config,
            targets,
            shards,
            Kept::default(),
            resolvers,
            stop,
        )
    }

    /// The targets of shard `shard_name` of `config`.
    fn shard_targets(
        name: &Arc<str>,
        shard_name: &str,
        config: &DatabaseConfig,
        stop: &CancellationToken,
    ) -> Result<Arc<Targets>> {
        let shard_arc: Arc<str> = Arc::from(shard_name);
        let shard = config
            .shards
            .get(shard_name)
            .ok_or_else(|| Error::UnknownShard {
                database: name.to_string(),
                shard: shard_name.to_string(),
            })?;
        let readonly = config.readonly || config.replica_of.is_some() || shard.readonly;
        Ok(Arc::new(Targets::new(
            name,
            Some(&shard_arc),
            &shard.url,
            &shard.replicas,
            &shard.replica_weights,
            config,
            readonly,
            &format!("databases.{name}.shards.{shard_name}"),
            stop.clone(),
        )?))
    }

    /// An entry from its parts; the sharding is built from the config (a named resolver
    /// from `resolvers`, an override set in code wins).
    fn assemble(
        name: Arc<str>,
        config: DatabaseConfig,
        targets: Arc<Targets>,
        shards: HashMap<Arc<str>, Arc<Targets>>,
        kept: Kept,
        resolvers: &Resolvers,
        stop: CancellationToken,
    ) -> Result<DatabaseEntry> {
        let Kept {
            resolver: resolver_override,
            ids,
        } = kept;
        let ids = match ids {
            Some(ids) if *ids.config() == config.ids => ids,
            _ => Arc::new(ids::IdGenerators::new(config.ids.clone())),
        };
        let readonly = config.readonly || config.replica_of.is_some();
        let sharding = match &config.sharding {
            Some(sc) => {
                let mut names: Vec<&str> = config.shards.keys().map(String::as_str).collect();
                names.sort_unstable();
                let registered = match &sc.resolver {
                    crate::config::ResolverConfig::Named(n) => {
                        resolvers.get(n.as_str()).map(|r| r.value().clone())
                    }
                    _ => None,
                };
                let routing = ShardRouting::new(&name, sc, &names, registered)?;
                Some(match &resolver_override {
                    Some(r) => routing.with_resolver(r.clone()),
                    None => routing,
                })
            }
            None => None,
        };
        let has_replicas =
            !targets.replicas.is_empty() || shards.values().any(|t| !t.replicas.is_empty());
        Ok(DatabaseEntry {
            name,
            readonly,
            targets,
            shards,
            sharding,
            resolver_override,
            ids,
            replicated: AtomicBool::new(false),
            tracking: !config.replication.replica_delay.is_zero()
                || config.replication.consistency == Consistency::Causal,
            has_replicas,
            config,
            stop,
        })
    }

    /// The database's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Its config.
    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.targets.writer.backend()
    }

    /// Whether it refuses writes (`readonly = true` or a `replica_of` entry).
    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// The targets of `shard`, or of the database itself when `shard` is `None`. A shard
    /// the database does not have is [`Error::UnknownShard`]; any shard of a database
    /// without shards is [`Error::NotSharded`].
    #[inline]
    pub fn targets(&self, shard: Option<&str>) -> Result<&Targets> {
        match shard {
            None => Ok(&self.targets),
            Some(s) => match self.shards.get(s) {
                Some(t) => Ok(t),
                None if self.shards.is_empty() => Err(Error::NotSharded {
                    database: self.name.to_string(),
                    shard: s.to_string(),
                    model: None,
                }),
                None => Err(Error::UnknownShard {
                    database: self.name.to_string(),
                    shard: s.to_string(),
                }),
            },
        }
    }

    /// How sharded models route on this database (`None`: no `[sharding]`).
    #[inline]
    pub fn sharding(&self) -> Option<&ShardRouting> {
        self.sharding.as_ref()
    }

    /// Its key generators.
    #[inline]
    pub(crate) fn ids(&self) -> &ids::IdGenerators {
        &self.ids
    }

    /// Whether the database has shards.
    #[inline]
    pub fn is_sharded(&self) -> bool {
        !self.shards.is_empty()
    }

    /// Whether a session's writes to this database must be recorded: reads may be served
    /// by replicas (its own, or a `replica_of` entry) and read-your-writes is on.
    #[inline]
    pub(crate) fn tracks_writes(&self) -> bool {
        self.tracking && (self.has_replicas || self.replicated.load(Ordering::Relaxed))
    }

    /// Whether writes record the writer's position (causal mode).
    #[inline]
    pub(crate) fn causal(&self) -> bool {
        self.config.replication.consistency == Consistency::Causal
    }

    /// The stored name of shard `name` (shared, no allocation), if the database has it.
    #[inline]
    pub(crate) fn shard_arc(&self, name: &str) -> Option<Arc<str>> {
        self.shards.get_key_value(name).map(|(k, _)| k.clone())
    }

    /// The shard names, sorted.
    pub fn shard_names(&self) -> Vec<Arc<str>> {
        let mut v: Vec<_> = self.shards.keys().cloned().collect();
        v.sort();
        v
    }

    /// The entry that serves custom role `role`, by name.
    pub fn role_entry(&self, role: &str) -> Option<&str> {
        self.config.roles.get(role).map(String::as_str)
    }

    fn slots(&self) -> impl Iterator<Item = &Arc<PoolSlot>> {
        self.targets
            .slots()
            .chain(self.shards.values().flat_map(|t| t.slots()))
    }
}

/// The registry of pools: databases by name, each with its roles and shards.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use grant_core::{Config, ConnectionHandler, Role};
/// let handler = ConnectionHandler::from_config(&Config::single("sqlite::memory:").unwrap()).unwrap();
/// let slot = handler.pool("primary", &Role::Writing, None).unwrap();
/// assert_eq!(slot.backend(), grant_core::Backend::Sqlite);
/// assert!(handler.pool("nope", &Role::Writing, None).is_err());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct ConnectionHandler {
    /// Keyed by name, hashed with foldhash (a lookup per statement; SipHash cost more than
    /// the rest of the lookup).
    databases: DashMap<Arc<str>, Arc<DatabaseEntry>, foldhash::fast::RandomState>,
    /// Resolvers registered in code by name (`resolver = "<name>"` in config).
    resolvers: Resolvers,
    /// Stops every background task (replica probes and monitors) on close or drop.
    stop: CancellationToken,
}

impl Drop for ConnectionHandler {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl ConnectionHandler {
    /// A handler with every database of `config` registered (pools open on first use).
    pub fn from_config(config: &Config) -> Result<ConnectionHandler> {
        let handler = ConnectionHandler::default();
        for (name, db) in config.databases() {
            handler.insert(name, db.clone())?;
        }
        Ok(handler)
    }

    fn insert(&self, name: &str, config: DatabaseConfig) -> Result<()> {
        let entry = Arc::new(DatabaseEntry::new(
            name,
            config,
            self.stop.child_token(),
            &self.resolvers,
        )?);
        let replica_of = entry.config.replica_of.clone();
        match self.databases.entry(entry.name.clone()) {
            dashmap::Entry::Occupied(_) => {
                return Err(Error::DuplicateDatabase {
                    database: name.to_string(),
                })
            }
            dashmap::Entry::Vacant(v) => {
                v.insert(entry);
            }
        }
        if let Some(writer) = replica_of.and_then(|w| self.databases.get(w.as_str())) {
            writer.replicated.store(true, Ordering::Relaxed);
        }
        // An entry registered before the `replica_of` entry that names it.
        let named = self
            .databases
            .iter()
            .any(|e| e.config.replica_of.as_deref() == Some(name));
        if named {
            if let Some(e) = self.databases.get(name) {
                e.replicated.store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Register a database at runtime (a new tenant, say). Its config is validated like a
    /// config file's entry; an existing name is [`Error::DuplicateDatabase`].
    pub fn add_database(&self, name: &str, config: DatabaseConfig) -> Result<()> {
        let checked = Config::builder().database(name, config).build()?;
        let config = checked
            .database(name)
            .cloned()
            .ok_or_else(|| Error::UnknownDatabase {
                database: name.to_string(),
                model: None,
            })?;
        tracing::info!(database = name, "grant: database registered");
        self.insert(name, config)
    }

    /// Register resolver `name` for databases whose `[sharding]` says `resolver = "<name>"`.
    /// Replaces a resolver registered under that name before; statements already routed
    /// are unaffected.
    pub fn register_resolver(&self, name: &str, resolver: Arc<dyn ShardResolver>) -> Result<()> {
        self.resolvers.insert(name.to_string(), resolver);
        let names: Vec<Arc<str>> = self
            .databases
            .iter()
            .filter(|e| {
                matches!(
                    e.config.sharding.as_ref().map(|s| &s.resolver),
                    Some(crate::config::ResolverConfig::Named(n)) if n == name
                )
            })
            .map(|e| e.key().clone())
            .collect();
        for database in names {
            self.rebuild(&database, |config| Ok(config.clone()), None)?;
        }
        tracing::info!(resolver = name, "grant: resolver registered");
        Ok(())
    }

    /// Route the sharded models of `database` with `resolver` from now on (a lookup
    /// table updated at runtime, say), whatever its config says. A database without a
    /// `[sharding]` table gets the default scatter settings.
    pub fn set_resolver(&self, database: &str, resolver: Arc<dyn ShardResolver>) -> Result<()> {
        self.rebuild(
            database,
            |config| {
                let mut config = config.clone();
                if config.sharding.is_none() {
                    config.sharding = Some(crate::config::ShardingConfig::new(
                        crate::config::ResolverConfig::Named("code".into()),
                    ));
                }
                Ok(config)
            },
            Some(resolver),
        )?;
        tracing::info!(database, "grant: resolver replaced");
        Ok(())
    }

    /// Add shard `name` to `database` at runtime (a new tenant, a new year). The shard's
    /// config is validated like a config file's; its pools open on first use. Statements
    /// already running are unaffected.
    pub fn add_shard(&self, database: &str, name: &str, shard: ShardConfig) -> Result<()> {
        self.rebuild(
            database,
            |config| {
                if config.shards.contains_key(name) {
                    return Err(Error::DuplicateShard {
                        database: database.to_string(),
                        shard: name.to_string(),
                    });
                }
                let mut config = config.clone();
                config.shards.insert(name.to_string(), shard);
                Ok(config)
            },
            None,
        )?;
        tracing::info!(database, shard = name, "grant: shard added");
        Ok(())
    }

    /// Remove shard `name` from `database` and close its pools (statements running on it
    /// finish first). A resolver that still names it (a lookup, a range) makes this an
    /// error and nothing changes: update the resolver first.
    pub async fn remove_shard(&self, database: &str, name: &str) -> Result<()> {
        let removed = self.rebuild(
            database,
            |config| {
                if !config.shards.contains_key(name) {
                    return Err(Error::UnknownShard {
                        database: database.to_string(),
                        shard: name.to_string(),
                    });
                }
                let mut config = config.clone();
                config.shards.remove(name);
                Ok(config)
            },
            None,
        )?;
        if let Some(targets) = removed.and_then(|old| old.shards.get(name).cloned()) {
            for slot in targets.slots() {
                slot.close().await;
            }
        }
        tracing::info!(database, shard = name, "grant: shard removed");
        Ok(())
    }

    /// Replace the entry of `database` by one built from `change(config)`: targets of
    /// shards that stay are kept (their pools too), new shards get new targets. Done
    /// under the map's lock of that entry, so concurrent changes do not lose each other.
    /// Returns the old entry.
    fn rebuild(
        &self,
        database: &str,
        change: impl FnOnce(&DatabaseConfig) -> Result<DatabaseConfig>,
        resolver: Option<Arc<dyn ShardResolver>>,
    ) -> Result<Option<Arc<DatabaseEntry>>> {
        let mut slot = self
            .databases
            .get_mut(database)
            .ok_or_else(|| Error::UnknownDatabase {
                database: database.to_string(),
                model: None,
            })?;
        let old = slot.value().clone();
        let config = change(&old.config)?;
        // Validate the entry alone (its roles and `replica_of` name other entries).
        let mut alone = config.clone();
        alone.roles.clear();
        alone.replica_of = None;
        Config::builder().database(database, alone).build()?;
        let mut shards = HashMap::with_capacity(config.shards.len());
        for shard_name in config.shards.keys() {
            let t = match old.shards.get_key_value(shard_name.as_str()) {
                Some((k, t))
                    if old.config.shards.get(shard_name) == config.shards.get(shard_name) =>
                {
                    shards.insert(k.clone(), t.clone());
                    continue;
                }
                _ => DatabaseEntry::shard_targets(&old.name, shard_name, &config, &old.stop)?,
            };
            shards.insert(Arc::from(shard_name.as_str()), t);
        }
        let entry = DatabaseEntry::assemble(
            old.name.clone(),
            config,
            old.targets.clone(),
            shards,
            Kept {
                resolver: resolver.or_else(|| old.resolver_override.clone()),
                ids: Some(old.ids.clone()),
            },
            &self.resolvers,
            old.stop.clone(),
        )?;
        entry
            .replicated
            .store(old.replicated.load(Ordering::Relaxed), Ordering::Relaxed);
        *slot.value_mut() = Arc::new(entry);
        Ok(Some(old))
    }

    /// Remove a database and close its pools. Statements already running finish first.
    pub async fn remove_database(&self, name: &str) -> Result<()> {
        let (_, entry) = self
            .databases
            .remove(name)
            .ok_or_else(|| Error::UnknownDatabase {
                database: name.to_string(),
                model: None,
            })?;
        entry.stop.cancel();
        for slot in entry.slots() {
            slot.close().await;
        }
        tracing::info!(database = name, "grant: database removed");
        Ok(())
    }

    /// The entry of database `name`.
    #[inline]
    pub fn database(&self, name: &str) -> Result<Arc<DatabaseEntry>> {
        self.databases
            .get(name)
            .map(|e| Arc::clone(e.value()))
            .ok_or_else(|| Error::UnknownDatabase {
                database: name.to_string(),
                model: None,
            })
    }

    /// Whether database `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.databases.contains_key(name)
    }

    /// The registered database names, sorted.
    pub fn database_names(&self) -> Vec<Arc<str>> {
        let mut v: Vec<_> = self.databases.iter().map(|e| e.key().clone()).collect();
        v.sort();
        v
    }

    /// The entry that serves `role` for `database`: the database itself for `Writing` and
    /// `Reading`, the entry named by its `roles` table for a custom role.
    pub fn role_entry(&self, database: &str, role: &Role) -> Result<Arc<DatabaseEntry>> {
        let entry = self.database(database)?;
        match role {
            Role::Custom(name) => {
                let target = entry.role_entry(name).ok_or_else(|| Error::UnknownRole {
                    database: database.to_string(),
                    role: role.clone(),
                })?;
                self.database(target)
            }
            Role::Writing | Role::Reading => Ok(entry),
        }
    }

    /// The pool slot of (database, role, shard): `Writing` is the writer; `Reading` a
    /// replica (round-robin; with none, the writer's read-only twin); a custom role a
    /// replica (or the read-only twin of the writer) of the entry the database's `roles`
    /// table names.
    pub fn pool(&self, database: &str, role: &Role, shard: Option<&str>) -> Result<Arc<PoolSlot>> {
        self.read_slot(database, role, shard, false)
    }

    /// The slot that serves reads for `role` in a scope that does (or does not) prevent
    /// writes; see [`Targets::for_reads`].
    pub(crate) fn read_slot(
        &self,
        database: &str,
        role: &Role,
        shard: Option<&str>,
        prevent_writes: bool,
    ) -> Result<Arc<PoolSlot>> {
        if let Role::Custom(_) = role {
            let entry = self.role_entry(database, role)?;
            return Ok(entry
                .targets(shard)?
                .for_reads(role, prevent_writes)?
                .clone());
        }
        // The database serves these roles itself: clone only the slot, under the map's
        // guard, not the entry too.
        self.with_entry(database, |entry| {
            Ok(entry
                .targets(shard)?
                .for_reads(role, prevent_writes)?
                .clone())
        })
    }

    /// `f` of the entry of `database`, under the map's guard (no clone of the entry).
    #[inline]
    pub(crate) fn with_entry<R>(
        &self,
        database: &str,
        f: impl FnOnce(&DatabaseEntry) -> Result<R>,
    ) -> Result<R> {
        let entry = self
            .databases
            .get(database)
            .ok_or_else(|| Error::UnknownDatabase {
                database: database.to_string(),
                model: None,
            })?;
        f(&entry)
    }

    /// Statistics of every pool, created or not.
    pub fn stats(&self) -> Vec<PoolStats> {
        let mut out: Vec<PoolStats> = self
            .databases
            .iter()
            .flat_map(|e| e.value().slots().map(|s| s.stats()).collect::<Vec<_>>())
            .collect();
        out.sort_by(|a, b| {
            (&a.key.database, a.key.shard.as_deref(), a.key.kind).cmp(&(
                &b.key.database,
                b.key.shard.as_deref(),
                b.key.kind,
            ))
        });
        out
    }

    /// Close every pool gracefully: new acquires fail, connections in use finish and close.
    pub async fn close(&self) {
        self.stop.cancel();
        let entries: Vec<Arc<DatabaseEntry>> =
            self.databases.iter().map(|e| e.value().clone()).collect();
        for entry in entries {
            for slot in entry.slots() {
                slot.close().await;
            }
        }
    }
}
