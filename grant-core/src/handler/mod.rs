//! The connection handler: the registry of pools keyed by (database, role, shard).
//!
//! Databases are entries of a [`DashMap`]; each entry holds its writer, its replicas (the
//! reading role) and its shards, each a [`PoolSlot`] whose sqlx pool is created on first
//! use. Databases can be added and removed while the application runs.

mod acquire;
mod options;
mod pool;
mod session;

pub(crate) use pool::timeout_error;
pub use pool::{Pool, PoolKey, PoolKind, PoolSlot, PoolStats};

use options::BaseOptions;
pub(crate) use options::MYSQL_READ_ONLY_SESSION;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::backend::Backend;
use crate::config::{Config, DatabaseConfig};
use crate::error::{Error, Result};
use crate::role::Role;

/// The pools of one shard (or of the database itself): a writer, a read-only twin of the
/// writer, and the replicas.
#[derive(Debug)]
pub struct Targets {
    writer: Arc<PoolSlot>,
    writer_read_only: Arc<PoolSlot>,
    replicas: Vec<Arc<PoolSlot>>,
    next: AtomicUsize,
}

impl Targets {
    fn new(
        database: &Arc<str>,
        shard: Option<&Arc<str>>,
        url: &str,
        replicas: &[String],
        config: &DatabaseConfig,
        readonly: bool,
        key_path: &str,
    ) -> Result<Targets> {
        let key = |kind| PoolKey::new(database.clone(), shard.cloned(), kind);
        let base = BaseOptions::parse(url, &format!("{key_path}.url"))?;
        let writer = Arc::new(PoolSlot::new(
            key(PoolKind::Writer),
            &base,
            readonly,
            config,
        ));
        // A read-only database's writer is read-only already: it is its own twin.
        let writer_read_only = if readonly {
            writer.clone()
        } else {
            Arc::new(
                PoolSlot::new(key(PoolKind::WriterReadOnly), &base, true, config)
                    .opening_after(&writer),
            )
        };
        let replicas = replicas
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let base = BaseOptions::parse(url, &format!("{key_path}.replicas[{i}]"))?;
                Ok(Arc::new(PoolSlot::new(
                    key(PoolKind::Replica(i)),
                    &base,
                    true,
                    config,
                )))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Targets {
            writer,
            writer_read_only,
            replicas,
            next: AtomicUsize::new(0),
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

    /// The replicas (reading role).
    pub fn replicas(&self) -> &[Arc<PoolSlot>] {
        &self.replicas
    }

    /// The slot that serves reads for `role`: the writer for `Writing`, its read-only twin
    /// when the scope prevents writes, [`Targets::reader`] for `Reading` and custom roles.
    #[inline]
    pub fn for_reads(&self, role: &Role, prevent_writes: bool) -> &Arc<PoolSlot> {
        match role {
            Role::Writing if prevent_writes => &self.writer_read_only,
            Role::Writing => &self.writer,
            Role::Reading | Role::Custom(_) => self.reader(),
        }
    }

    /// A replica, round-robin; the writer's read-only twin when there is none.
    #[inline]
    pub fn reader(&self) -> &Arc<PoolSlot> {
        match self.replicas.len() {
            0 => &self.writer_read_only,
            1 => &self.replicas[0],
            n => &self.replicas[self.next.fetch_add(1, Ordering::Relaxed) % n],
        }
    }

    fn slots(&self) -> impl Iterator<Item = &Arc<PoolSlot>> {
        let twin =
            (!Arc::ptr_eq(&self.writer, &self.writer_read_only)).then_some(&self.writer_read_only);
        std::iter::once(&self.writer)
            .chain(twin)
            .chain(self.replicas.iter())
    }
}

/// One registered database: its config, its own targets, and its shards' targets.
#[derive(Debug)]
pub struct DatabaseEntry {
    name: Arc<str>,
    config: DatabaseConfig,
    readonly: bool,
    targets: Targets,
    shards: HashMap<Arc<str>, Targets>,
}

impl DatabaseEntry {
    fn new(name: &str, config: DatabaseConfig) -> Result<DatabaseEntry> {
        let name: Arc<str> = Arc::from(name);
        let readonly = config.readonly || config.replica_of.is_some();
        let path = format!("databases.{name}");
        let targets = Targets::new(
            &name,
            None,
            &config.url,
            &config.replicas,
            &config,
            readonly,
            &path,
        )?;
        let mut shards = HashMap::with_capacity(config.shards.len());
        for (shard_name, shard) in &config.shards {
            let shard_name: Arc<str> = Arc::from(shard_name.as_str());
            let t = Targets::new(
                &name,
                Some(&shard_name),
                &shard.url,
                &shard.replicas,
                &config,
                readonly,
                &format!("{path}.shards.{shard_name}"),
            )?;
            shards.insert(shard_name, t);
        }
        Ok(DatabaseEntry {
            name,
            config,
            readonly,
            targets,
            shards,
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

    /// The targets of `shard`, or of the database itself when `shard` is `None` or the
    /// database has no shards.
    #[inline]
    pub fn targets(&self, shard: Option<&str>) -> Result<&Targets> {
        match shard {
            Some(s) if !self.shards.is_empty() => {
                self.shards.get(s).ok_or_else(|| Error::UnknownShard {
                    database: self.name.to_string(),
                    shard: s.to_string(),
                })
            }
            _ => Ok(&self.targets),
        }
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
            .chain(self.shards.values().flat_map(Targets::slots))
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
        let entry = Arc::new(DatabaseEntry::new(name, config)?);
        match self.databases.entry(entry.name.clone()) {
            dashmap::Entry::Occupied(_) => Err(Error::DuplicateDatabase {
                database: name.to_string(),
            }),
            dashmap::Entry::Vacant(v) => {
                v.insert(entry);
                Ok(())
            }
        }
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

    /// Remove a database and close its pools. Statements already running finish first.
    pub async fn remove_database(&self, name: &str) -> Result<()> {
        let (_, entry) = self
            .databases
            .remove(name)
            .ok_or_else(|| Error::UnknownDatabase {
                database: name.to_string(),
                model: None,
            })?;
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
                .for_reads(role, prevent_writes)
                .clone());
        }
        // The database serves these roles itself: clone only the slot, under the map's
        // guard, not the entry too.
        let entry = self
            .databases
            .get(database)
            .ok_or_else(|| Error::UnknownDatabase {
                database: database.to_string(),
                model: None,
            })?;
        Ok(entry
            .targets(shard)?
            .for_reads(role, prevent_writes)
            .clone())
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
        let entries: Vec<Arc<DatabaseEntry>> =
            self.databases.iter().map(|e| e.value().clone()).collect();
        for entry in entries {
            for slot in entry.slots() {
                slot.close().await;
            }
        }
    }
}
