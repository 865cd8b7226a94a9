//! The typed entries of a configuration: databases, shards and pool options.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::backend::Backend;

use super::hook::ConnectHook;
use super::ids::IdConfig;
use super::replication::ReplicationConfig;
use super::sharding::ShardingConfig;
use super::sqlite::SqliteOptions;
use super::url::redact;

/// The default [`DatabaseConfig::statement_timeout`]: 30 seconds.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// One named database entry: its writer, its readers, pool options, migrations, custom
/// roles and shards.
///
/// Built in code with [`DatabaseConfig::new`] and the chained setters, or read from
/// `[databases.<name>]` in `grant.toml`. `Debug` hides passwords in every URL.
///
/// ```
/// use grant_core::config::{DatabaseConfig, PoolConfig, ShardConfig};
/// use grant_core::Backend;
///
/// let db = DatabaseConfig::new("postgres://app:secret@127.0.0.1:5432/app")
///     .replica("postgres://app:secret@127.0.0.1:5433/app")
///     .pool(PoolConfig { max_connections: 20, ..PoolConfig::default() })
///     .migrations("migrations/primary")
///     .role("analytics", "primary_analytics")
///     .shard("shard_one", ShardConfig::new("postgres://127.0.0.1:5432/shard_1"));
/// assert_eq!(db.backend, Backend::Postgres);
/// assert_eq!(db.replicas.len(), 1);
/// assert!(!format!("{db:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq)]
pub struct DatabaseConfig {
    /// URL of the writer (the writing role).
    pub url: String,
    /// The engine, derived from `url`'s scheme. Validation recomputes it from `url`, so a
    /// value set by hand is replaced; before validation an unknown scheme leaves a
    /// placeholder (`Backend::Sqlite`) and validation reports the URL.
    pub backend: Backend,
    /// URLs of the reading role. With none, reads go to the writer.
    pub replicas: Vec<String>,
    /// One weight per replica (1 to 1000) for `balance = "weighted"`; empty otherwise.
    pub replica_weights: Vec<u32>,
    /// How reads use the replicas: read-your-writes, balancing, failover, lag. Shards
    /// share it.
    pub replication: ReplicationConfig,
    /// Set when this entry is itself a replica of another named entry (Rails'
    /// `replica: true`, e.g. `primary_replica`). Such an entry is always read-only.
    pub replica_of: Option<String>,
    /// Refuse writes on this entry (always true for a `replica_of` entry).
    pub readonly: bool,
    /// Pool options for every pool of this entry (writer, replicas, shards).
    pub pool: PoolConfig,
    /// Folder of this database's migrations, as written (relative paths are relative to
    /// the process's working directory).
    pub migrations: Option<PathBuf>,
    /// Custom role name -> name of another database entry serving that role.
    /// `writing` and `reading` are reserved.
    pub roles: BTreeMap<String, String>,
    /// Shards of this database, by name.
    pub shards: BTreeMap<String, ShardConfig>,
    /// How sharded models pick a shard (`[databases.<name>.sharding]`); needs `shards`.
    pub sharding: Option<ShardingConfig>,
    /// How generated keys are made (`[databases.<name>.ids]`).
    pub ids: IdConfig,
    /// The longest any one statement (or transaction step: begin, commit, rollback) may
    /// run before Grant abandons it with [`crate::Error::Timeout`] and closes its
    /// connection. `None` (`statement_timeout = "off"`) waits as long as the server takes.
    /// Default 30 s ([`DEFAULT_STATEMENT_TIMEOUT`]); 1 ms to 1 day. The server is told too where that is
    /// cheap (PostgreSQL `statement_timeout`, MariaDB `max_statement_time`).
    pub statement_timeout: Option<Duration>,
    /// SQLite connection settings (`[databases.<name>.sqlite]`); only for `sqlite:` URLs.
    pub sqlite: SqliteOptions,
    /// SQL statements run on every new connection of this entry, in order, after Grant's
    /// own session settings (`after_connect = ["SET search_path TO app"]`); none may be
    /// blank. Shards and replicas of the entry run them too.
    pub after_connect: Vec<String>,
    /// A function run on every new connection, after `after_connect` (code only).
    pub on_connect: Option<ConnectHook>,
}

impl DatabaseConfig {
    /// An entry whose writer is `url`, with no replicas, default pool options and no shards.
    /// `backend` is set from the scheme when it is known.
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        DatabaseConfig {
            backend: Backend::from_url(&url).unwrap_or(Backend::Sqlite),
            url,
            replicas: Vec::new(),
            replica_weights: Vec::new(),
            replication: ReplicationConfig::default(),
            replica_of: None,
            readonly: false,
            pool: PoolConfig::default(),
            migrations: None,
            roles: BTreeMap::new(),
            shards: BTreeMap::new(),
            sharding: None,
            ids: IdConfig::default(),
            statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
            sqlite: SqliteOptions::default(),
            after_connect: Vec::new(),
            on_connect: None,
        }
    }

    /// Sets the statement timeout (`None`: no limit); see [`DatabaseConfig::statement_timeout`].
    pub fn statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Sets the SQLite connection settings.
    pub fn sqlite(mut self, options: SqliteOptions) -> Self {
        self.sqlite = options;
        self
    }

    /// Adds a statement run on every new connection.
    pub fn after_connect(mut self, sql: impl Into<String>) -> Self {
        self.after_connect.push(sql.into());
        self
    }

    /// Sets a function run on every new connection (after the `after_connect` statements).
    ///
    /// ```
    /// use grant_core::config::{DatabaseConfig, HookConnection};
    /// use grant_core::__private::sqlx::Executor as _;
    ///
    /// let db = DatabaseConfig::new("sqlite::memory:").on_connect(|conn| {
    ///     Box::pin(async move {
    ///         if let HookConnection::Sqlite(c) = conn {
    ///             c.execute("PRAGMA cache_size = -4000").await?;
    ///         }
    ///         Ok(())
    ///     })
    /// });
    /// assert!(db.on_connect.is_some());
    /// ```
    pub fn on_connect<F>(mut self, hook: F) -> Self
    where
        F: for<'c> Fn(super::hook::HookConnection<'c>) -> super::hook::HookFuture<'c>
            + Send
            + Sync
            + 'static,
    {
        self.on_connect = Some(ConnectHook::new(hook));
        self
    }

    /// Adds a replica URL (reading role).
    pub fn replica(mut self, url: impl Into<String>) -> Self {
        self.replicas.push(url.into());
        self
    }

    /// Adds a replica URL with a weight for `balance = "weighted"`.
    pub fn weighted_replica(mut self, url: impl Into<String>, weight: u32) -> Self {
        self.replicas.push(url.into());
        self.replica_weights.push(weight);
        self
    }

    /// Sets the replica settings (read-your-writes, balancing, failover, lag).
    pub fn replication(mut self, replication: ReplicationConfig) -> Self {
        self.replication = replication;
        self
    }

    /// Marks this entry as a replica of the entry named `name`; this also makes it read-only.
    pub fn replica_of(mut self, name: impl Into<String>) -> Self {
        self.replica_of = Some(name.into());
        self.readonly = true;
        self
    }

    /// Sets the read-only flag.
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// Sets the pool options.
    pub fn pool(mut self, pool: PoolConfig) -> Self {
        self.pool = pool;
        self
    }

    /// Sets the migrations folder.
    pub fn migrations(mut self, path: impl Into<PathBuf>) -> Self {
        self.migrations = Some(path.into());
        self
    }

    /// Declares that the custom role `role` is served by the database entry named `entry`.
    pub fn role(mut self, role: impl Into<String>, entry: impl Into<String>) -> Self {
        self.roles.insert(role.into(), entry.into());
        self
    }

    /// Adds (or replaces) the shard `name`.
    pub fn shard(mut self, name: impl Into<String>, shard: ShardConfig) -> Self {
        self.shards.insert(name.into(), shard);
        self
    }

    /// Sets how generated keys are made.
    pub fn ids(mut self, ids: IdConfig) -> Self {
        self.ids = ids;
        self
    }

    /// Sets how sharded models pick a shard.
    pub fn sharding(mut self, sharding: ShardingConfig) -> Self {
        self.sharding = Some(sharding);
        self
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact(&self.url))
            .field("backend", &self.backend)
            .field("replicas", &redact_all(&self.replicas))
            .field("replica_weights", &self.replica_weights)
            .field("replication", &self.replication)
            .field("replica_of", &self.replica_of)
            .field("readonly", &self.readonly)
            .field("pool", &self.pool)
            .field("migrations", &self.migrations)
            .field("roles", &self.roles)
            .field("shards", &self.shards)
            .field("sharding", &self.sharding)
            .field("ids", &self.ids)
            .field("statement_timeout", &self.statement_timeout)
            .field("sqlite", &self.sqlite)
            .field("after_connect", &self.after_connect)
            .field("on_connect", &self.on_connect)
            .finish()
    }
}

/// One shard of a database: its writer and replicas. Every other setting is the
/// database's: pool options, `statement_timeout`, SQLite options, `after_connect` and
/// `on_connect`.
///
/// ```
/// use grant_core::config::ShardConfig;
///
/// let shard = ShardConfig::new("postgres://127.0.0.1:5432/shard_1")
///     .replica("postgres://127.0.0.1:5433/shard_1");
/// assert_eq!(shard.replicas, ["postgres://127.0.0.1:5433/shard_1"]);
/// ```
#[derive(Clone, PartialEq)]
pub struct ShardConfig {
    /// URL of the shard's writer. Must use the same engine as its database.
    pub url: String,
    /// URLs of the shard's replicas.
    pub replicas: Vec<String>,
    /// One weight per replica for `balance = "weighted"`; empty otherwise.
    pub replica_weights: Vec<u32>,
    /// Refuse writes on this shard (an archive, a past year); reads still reach it. Every
    /// shard of a `readonly` database is read-only.
    pub readonly: bool,
}

impl ShardConfig {
    /// A shard whose writer is `url`, with no replicas.
    pub fn new(url: impl Into<String>) -> Self {
        ShardConfig {
            url: url.into(),
            replicas: Vec::new(),
            replica_weights: Vec::new(),
            readonly: false,
        }
    }

    /// Refuse (or allow) writes on this shard.
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// Adds a replica URL.
    pub fn replica(mut self, url: impl Into<String>) -> Self {
        self.replicas.push(url.into());
        self
    }

    /// Adds a replica URL with a weight for `balance = "weighted"`.
    pub fn weighted_replica(mut self, url: impl Into<String>, weight: u32) -> Self {
        self.replicas.push(url.into());
        self.replica_weights.push(weight);
        self
    }
}

impl fmt::Debug for ShardConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardConfig")
            .field("url", &redact(&self.url))
            .field("replicas", &redact_all(&self.replicas))
            .field("replica_weights", &self.replica_weights)
            .field("readonly", &self.readonly)
            .finish()
    }
}

fn redact_all(urls: &[String]) -> Vec<String> {
    urls.iter().map(|u| redact(u)).collect()
}

/// Options of the connection pools of one database entry (handed to sqlx's pool).
///
/// `test_before_acquire` defaults to `false`, unlike sqlx's `true`: pinging costs one extra
/// round trip before every statement on server databases. With `false`, a connection that
/// broke while idle surfaces as an error on its first use and is then discarded by the pool;
/// `idle_timeout` and `max_lifetime` keep such connections rare.
///
/// ```
/// use std::time::Duration;
/// use grant_core::config::PoolConfig;
///
/// let pool = PoolConfig::default();
/// assert_eq!(pool.max_connections, 10);
/// assert_eq!(pool.min_connections, 0);
/// assert_eq!(pool.acquire_timeout, Duration::from_secs(10));
/// assert_eq!(pool.connect_timeout, Duration::from_secs(5));
/// assert_eq!(pool.idle_timeout, Some(Duration::from_secs(600)));
/// assert_eq!(pool.max_lifetime, Some(Duration::from_secs(1800)));
/// assert!(!pool.test_before_acquire);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// Most connections per pool (1 to 10 000). Default 10.
    pub max_connections: u32,
    /// Connections kept open even when idle (at most `max_connections`). Default 0.
    pub min_connections: u32,
    /// How long to wait for a free connection of a busy pool before failing with
    /// [`crate::Error::PoolTimeout`] (1 ms to 1 day). Default 10 s.
    pub acquire_timeout: Duration,
    /// How long opening one connection may take before the server counts as unreachable
    /// ([`crate::Error::Connect`] with the driver's cause); 1 ms to 1 day. Default 5 s.
    pub connect_timeout: Duration,
    /// Close connections idle this long (1 ms to 365 days); `None` keeps them. Default 10 min.
    pub idle_timeout: Option<Duration>,
    /// Close connections this old (1 ms to 365 days); `None` keeps them. Default 30 min.
    pub max_lifetime: Option<Duration>,
    /// Ping a connection before handing it out. Default `false` (see the type's docs).
    pub test_before_acquire: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            test_before_acquire: false,
        }
    }
}
