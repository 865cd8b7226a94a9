//! Configuration: the named databases of an application, their replicas, shards, pools and
//! migrations (the role Rails' `database.yml` plays), read from `grant.toml` or built in code.
//!
//! ```toml
//! default = "primary"              # optional (see below)
//!
//! [databases.primary]
//! url = "postgres://127.0.0.1:5432/app"
//! replicas = ["postgres://127.0.0.1:5433/app"]
//! readonly = false
//! migrations = "migrations/primary"
//! roles = { analytics = "primary_analytics" }
//! statement_timeout = "30s"        # default 30s; "off" (or "none", false) for no limit
//! after_connect = ["SET search_path TO app"]   # run on every new connection
//!
//! [databases.primary.pool]
//! max_connections = 10
//! min_connections = 0
//! acquire_timeout = "10s"          # "250ms", "5s", "10m", "1h", "1h30m", or integer seconds
//! connect_timeout = "5s"
//! idle_timeout = "10m"             # or "none" / "off" / false to disable
//! max_lifetime = "30m"
//! test_before_acquire = false
//!
//! [databases.primary.shards.shard_one]   # shards share the database's settings
//! url = "postgres://127.0.0.1:5432/shard_1"
//! replicas = ["postgres://127.0.0.1:5433/shard_1"]
//! readonly = false                 # a read-only shard (an archive) refuses writes
//!
//! [databases.primary.sharding]     # how #[shard_by] models pick a shard (see ShardingConfig)
//! resolver = "hash"                # modulo, hash, range, interval, lookup, or a registered name
//! scatter = true
//! concurrency = 8
//! timeout = "5s"
//!
//! [databases.primary.ids]          # generate = "snowflake" keys (see IdConfig)
//! worker_id = 0
//! layout = "twitter"               # or "sharded"
//!
//! [databases.primary_replica]
//! url = "postgres://127.0.0.1:5433/app"
//! replica_of = "primary"
//!
//! [databases.primary_analytics]
//! url = "postgres://127.0.0.1:5434/analytics"
//!
//! [databases.cache]
//! url = "sqlite://db/cache.sqlite3"      # relative to this file's folder (Config::from_file)
//!
//! [databases.cache.sqlite]               # SQLite databases only
//! journal_mode = "wal"             # delete, truncate, persist, memory, wal, off (default: wal for files)
//! synchronous = "normal"           # off, normal, full, extra (default: normal under wal, else full)
//! busy_timeout = "5s"
//! foreign_keys = true
//!
//! [environments.test]              # chosen by GRANT_ENV=test
//! [environments.test.databases.primary]
//! url = "${DATABASE_URL:-sqlite::memory:}"
//!
//! [environments.production]        # declared, even empty, so GRANT_ENV=production is known
//! ```
//!
//! How a document becomes a [`Config`]:
//!
//! 1. TOML syntax (a key defined twice is a syntax error).
//! 2. Every key of the document is checked, every environment included, so a typo such as
//!    `replicass` in `[environments.production]` fails in development too.
//! 3. The environment (`GRANT_ENV`, default `development`) is chosen. It must be known:
//!    declared as a table under `[environments]`, or `development`; any other name is
//!    [`ConfigErrorKind::UnknownEnvironment`] (at key `environments.<name>`), listing the
//!    known ones. Its table is deep-merged over the base tables (tables merge key by key;
//!    other values, arrays included, replace). `development` without a table is the base.
//! 4. `${VAR}` and `${VAR:-default}` are replaced in every string value; `:-` applies when
//!    the variable is unset or empty, defaults may nest, `$$` is a literal `$`, and a `$`
//!    followed by anything else is kept. Integer, boolean and duration fields accept a
//!    string that came from `${...}` (`max_connections = "${POOL_SIZE:-10}"`).
//! 5. Values are converted to their types, then validated (see [`ConfigErrorKind`] and the
//!    bounds below); the first problem, in sorted-name order, is returned.
//! 6. Steps 3 to 5 are repeated for every other known environment, so a bad value in
//!    `[environments.test]` fails in development too. In those environments a value written
//!    with `${...}` is not checked (it depends on the variables of the process that will
//!    run them); its `${...}` syntax is. The selected environment is checked first.
//!
//! A problem is reported at the key as written: a value set in `[environments.test]` (or a
//! key missing from a table only that environment declares) at
//! `environments.test.databases.primary.pool.max_connections`, a value from the base tables
//! at `databases.primary.pool.max_connections`, whichever environment found it.
//!
//! Bounds (the same for [`Config::builder`]); a value outside them is an error naming its key:
//!
//! | setting | allowed |
//! |---|---|
//! | `max_connections` | 1 to 10 000 |
//! | `min_connections` | 0 to `max_connections` |
//! | `acquire_timeout`, `connect_timeout` | 1 ms to 1 day |
//! | `statement_timeout` | 1 ms to 1 day, or off |
//! | `idle_timeout`, `max_lifetime` | 1 ms to 365 days, or off |
//! | `sqlite.busy_timeout` | 0 (do not wait) or 1 ms to 1 day |
//! | `after_connect` | non-blank statements |
//! | `sharding.concurrency` | 1 to 1024 |
//! | `sharding.timeout` | a duration, or off |
//! | `ids.worker_id` | 0 to 1023 (`layout = "twitter"`), 0 to 63 (`"sharded"`) |
//!
//! `[databases.<name>.sqlite]` (or [`SqliteOptions`] other than the defaults, in code) on a
//! database whose URL is not `sqlite:` is [`ConfigErrorKind::SqliteOptionsOnOtherEngine`].
//!
//! Without `default`, the default database is the only one if there is exactly one, else
//! the one named `primary`.
//!
//! [`Config::from_file`] resolves relative paths against the file's folder (made absolute):
//! `migrations` folders, and the file of every SQLite URL (writers, replicas, shards and
//! their replicas): `sqlite://db/app.sqlite3?mode=rwc` in `/srv/app/grant.toml` becomes
//! `sqlite:///srv/app/db/app.sqlite3?mode=rwc`. In-memory databases (`sqlite::memory:`,
//! `mode=memory`), `file:` URIs and absolute paths are kept as written; so are all paths of
//! [`Config::from_toml_str`] and the builder, which the driver resolves against the
//! working directory.

mod database;
mod duration;
mod environment;
mod error;
mod hook;
mod ids;
mod interpolate;
mod parse;
mod path;
mod replication;
mod sharding;
mod sqlite;
mod url;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use database::{DatabaseConfig, PoolConfig, ShardConfig, DEFAULT_STATEMENT_TIMEOUT};
pub use error::{ConfigError, ConfigErrorKind};
pub use hook::{ConnectHook, HookConnection, HookFuture};
pub use ids::IdConfig;
pub use replication::{
    Balance, Consistency, ReplicaFallback, ReplicationConfig, DEFAULT_CAUSAL_WAIT,
    DEFAULT_CHECK_INTERVAL, DEFAULT_REPLICA_DELAY,
};
pub use sharding::{ResolverConfig, ShardingConfig, DEFAULT_SCATTER_CONCURRENCY};
pub use sqlite::{JournalMode, SqliteOptions, Synchronous};

/// The environment used when `GRANT_ENV` is unset or empty.
pub const DEFAULT_ENVIRONMENT: &str = "development";

/// The variable choosing the environment.
pub const ENVIRONMENT_VARIABLE: &str = "GRANT_ENV";

/// Key reported for problems of a whole document read from a string.
const ROOT_KEY: &str = "(root)";

/// A validated configuration: named databases and the default one.
///
/// Every constructor validates; a `Config` that exists is consistent (every `replica_of`,
/// role and default names an existing entry, every URL has a known engine). `Debug` hides
/// passwords.
///
/// ```
/// use grant_core::config::Config;
///
/// let toml = r#"
///     [databases.primary]
///     url = "${DATABASE_URL:-sqlite::memory:}"
///
///     [databases.primary_replica]
///     url = "sqlite://replica.db"
///     replica_of = "primary"
/// "#;
/// let config = Config::from_toml_str_with(toml, "development", &|_| None)?;
/// assert_eq!(config.default_database(), "primary");
/// assert_eq!(config.database("primary").unwrap().url, "sqlite::memory:");
/// assert!(config.database("primary_replica").unwrap().readonly);
/// let names: Vec<&str> = config.databases().map(|(name, _)| name).collect();
/// assert_eq!(names, ["primary", "primary_replica"]);
/// # Ok::<(), grant_core::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    environment: String,
    default: String,
    databases: BTreeMap<String, DatabaseConfig>,
}

impl Config {
    /// Loads a TOML file. The environment is chosen by `GRANT_ENV` (default `development`)
    /// and `${VAR}` is read from the process environment.
    ///
    /// Problems with the file itself (unreadable, not UTF-8, TOML syntax) are reported with
    /// the file's path as the error's `key`; the others with the dotted key path.
    ///
    /// Relative `migrations` folders and relative SQLite file paths in URLs are resolved
    /// against the file's folder (see the [module documentation](self)), so the
    /// `grant-migrate` CLI and the application find the same files from any working
    /// directory.
    ///
    /// ```
    /// use grant_core::config::{Config, ConfigErrorKind};
    ///
    /// let err = Config::from_file("/nonexistent/grant.toml").unwrap_err();
    /// assert_eq!(err.key, "/nonexistent/grant.toml");
    /// assert!(matches!(err.kind, ConfigErrorKind::Io { .. }));
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let file_key = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                file_key.clone(),
                ConfigErrorKind::Io {
                    io_kind: e.kind(),
                    message: e.to_string(),
                },
            )
        })?;
        let environment = environment_from_process()?;
        let mut config = Self::load(&text, &file_key, &environment, &process_var)?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let dir = std::path::absolute(dir).map_err(|e| {
            ConfigError::new(
                file_key.clone(),
                ConfigErrorKind::Io {
                    io_kind: e.kind(),
                    message: e.to_string(),
                },
            )
        })?;
        config.resolve_relative_paths(&dir)?;
        tracing::debug!(
            path = %file_key,
            environment = %config.environment,
            databases = ?config.databases.keys().collect::<Vec<_>>(),
            "grant config loaded"
        );
        Ok(config)
    }

    /// Parses TOML text. The environment is chosen by `GRANT_ENV` (default `development`)
    /// and `${VAR}` is read from the process environment.
    ///
    /// ```
    /// use grant_core::config::Config;
    ///
    /// let config = Config::from_toml_str("[databases.main]\nurl = \"sqlite::memory:\"\n")?;
    /// assert_eq!(config.default_database(), "main");
    /// # Ok::<(), grant_core::config::ConfigError>(())
    /// ```
    pub fn from_toml_str(toml: &str) -> Result<Config, ConfigError> {
        let environment = environment_from_process()?;
        Self::load(toml, ROOT_KEY, &environment, &process_var)
    }

    /// Parses TOML text for an explicit environment, looking variables up with `vars`
    /// (`Some(value)` when set). Nothing is read from the process environment.
    ///
    /// ```
    /// use grant_core::config::Config;
    ///
    /// let toml = r#"
    ///     [databases.primary]
    ///     url = "postgres://127.0.0.1/app_dev"
    ///
    ///     [environments.test.databases.primary]
    ///     url = "${TEST_DATABASE_URL:-sqlite::memory:}"
    ///     pool = { max_connections = 1 }
    /// "#;
    /// let vars = |name: &str| (name == "TEST_DATABASE_URL").then(|| "sqlite://t.db".to_string());
    /// let config = Config::from_toml_str_with(toml, "test", &vars)?;
    /// let primary = config.database("primary").unwrap();
    /// assert_eq!(primary.url, "sqlite://t.db");
    /// assert_eq!(primary.pool.max_connections, 1);
    /// assert_eq!(config.environment(), "test");
    /// # Ok::<(), grant_core::config::ConfigError>(())
    /// ```
    pub fn from_toml_str_with(
        toml: &str,
        environment: &str,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::load(toml, ROOT_KEY, environment, vars)
    }

    fn load(
        text: &str,
        document_key: &str,
        environment: &str,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut root = parse::parse_toml(text, document_key)?;
        parse::check_schema(&root)?;
        let environments = environment::take_environments(&mut root);
        environment::check_known(environment, &environments)?;
        let config = Self::load_environment(&root, &environments, environment, Some(vars))?;
        for other in environment::known(&environments) {
            if other != environment {
                Self::load_environment(&root, &environments, &other, None)?;
            }
        }
        Ok(config)
    }

    /// The configuration of one environment: its overrides merged over the base tables,
    /// interpolated, converted and validated, with problems reported at the key as written.
    /// Without `vars` (an environment other than the selected one), values written with
    /// `${...}` are left unchecked: they depend on the variables of the process that runs
    /// that environment.
    fn load_environment(
        base: &toml::Table,
        environments: &BTreeMap<String, toml::Table>,
        name: &str,
        vars: Option<interpolate::Vars<'_>>,
    ) -> Result<Config, ConfigError> {
        let overrides = environments.get(name);
        let build = || {
            let mut merged = environment::merged(base, overrides);
            // Only the `${...}` syntax is checked when the variables are not known.
            let syntax_only = |_: &str| Some(String::new());
            let interpolated =
                interpolate::interpolate_table(&mut merged, vars.unwrap_or(&syntax_only))?;
            let parsed = parse::convert(&merged, &interpolated, vars.is_none())?;
            let nothing = BTreeSet::new();
            let written = validate::Written {
                unknown: if vars.is_none() {
                    &interpolated
                } else {
                    &nothing
                },
                sqlite_tables: &parsed.sqlite_tables,
            };
            validate::validate(parsed.default, parsed.databases, &written)
        };
        let (default, databases) =
            build().map_err(|err| environment::Origin::new(name, base, overrides).locate(err))?;
        Ok(Config {
            environment: name.to_owned(),
            default,
            databases,
        })
    }

    /// Makes relative `migrations` folders and relative SQLite file paths (writer, replicas,
    /// shards) relative to `dir` (absolute).
    fn resolve_relative_paths(&mut self, dir: &Path) -> Result<(), ConfigError> {
        for (name, db) in &mut self.databases {
            if let Some(folder) = db.migrations.as_mut().filter(|f| f.is_relative()) {
                *folder = dir.join(&*folder);
            }
            let path = path::key_path("databases", name);
            let resolve = |url: &mut String, key: &str| {
                url::resolve_sqlite_path(url, dir)
                    .map(|resolved| *url = resolved)
                    .map_err(|kind| ConfigError::new(key, kind))
            };
            resolve(&mut db.url, &path::key_path(&path, "url"))?;
            let replicas = path::key_path(&path, "replicas");
            for (i, url) in db.replicas.iter_mut().enumerate() {
                resolve(url, &path::index_path(&replicas, i))?;
            }
            let shards = path::key_path(&path, "shards");
            for (shard_name, shard) in &mut db.shards {
                let shard_path = path::key_path(&shards, shard_name);
                resolve(&mut shard.url, &path::key_path(&shard_path, "url"))?;
                let replicas = path::key_path(&shard_path, "replicas");
                for (i, url) in shard.replicas.iter_mut().enumerate() {
                    resolve(url, &path::index_path(&replicas, i))?;
                }
            }
        }
        Ok(())
    }

    /// One database named `primary`, with no replicas and default pool options. The
    /// environment is taken from `GRANT_ENV` (default `development`).
    ///
    /// ```
    /// use grant_core::config::Config;
    /// use grant_core::Backend;
    ///
    /// let config = Config::single("sqlite://app.db")?;
    /// assert_eq!(config.default_database(), "primary");
    /// assert_eq!(config.database("primary").unwrap().backend, Backend::Sqlite);
    /// assert!(Config::single("oracle://db").is_err());
    /// # Ok::<(), grant_core::config::ConfigError>(())
    /// ```
    pub fn single(url: &str) -> Result<Config, ConfigError> {
        Config::builder()
            .database("primary", DatabaseConfig::new(url))
            .build()
    }

    /// A builder for a configuration written in code.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Name of the default database.
    pub fn default_database(&self) -> &str {
        &self.default
    }

    /// The database entry named `name` (exact, case-sensitive match).
    pub fn database(&self, name: &str) -> Option<&DatabaseConfig> {
        self.databases.get(name)
    }

    /// Every database entry, in name order.
    pub fn databases(&self) -> impl Iterator<Item = (&str, &DatabaseConfig)> {
        self.databases.iter().map(|(name, db)| (name.as_str(), db))
    }

    /// The environment this configuration was built for.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// `url` with its password (and any `password` query parameter) replaced by `***`,
    /// for logs and messages.
    ///
    /// ```
    /// use grant_core::config::Config;
    ///
    /// assert_eq!(Config::redacted_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    /// assert_eq!(Config::redacted_url("sqlite://app.db"), "sqlite://app.db");
    /// ```
    pub fn redacted_url(url: &str) -> String {
        url::redact(url)
    }
}

/// Builds a [`Config`] in code; [`ConfigBuilder::build`] validates with the same rules as
/// the TOML path (and adding the same name twice is a `Duplicate` error there).
///
/// ```
/// use grant_core::config::{Config, DatabaseConfig, PoolConfig};
/// use std::time::Duration;
///
/// let config = Config::builder()
///     .database(
///         "primary",
///         DatabaseConfig::new("postgres://127.0.0.1:5432/app")
///             .replica("postgres://127.0.0.1:5433/app")
///             .pool(PoolConfig { acquire_timeout: Duration::from_secs(5), ..PoolConfig::default() }),
///     )
///     .database("animals", DatabaseConfig::new("mysql://127.0.0.1:3306/animals"))
///     .default_database("primary")
///     .environment("production")
///     .build()?;
/// assert_eq!(config.databases().count(), 2);
/// assert_eq!(config.environment(), "production");
/// # Ok::<(), grant_core::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    environment: Option<String>,
    default: Option<String>,
    databases: Vec<(String, DatabaseConfig)>,
}

impl ConfigBuilder {
    /// Adds the database entry `name`.
    pub fn database(mut self, name: impl Into<String>, config: DatabaseConfig) -> Self {
        self.databases.push((name.into(), config));
        self
    }

    /// Names the default database (otherwise: the only one, else `primary`).
    pub fn default_database(mut self, name: impl Into<String>) -> Self {
        self.default = Some(name.into());
        self
    }

    /// Names the environment (otherwise `GRANT_ENV`, default `development`). Any name is
    /// accepted: a configuration written in code has no `[environments]` to check it against.
    pub fn environment(mut self, name: impl Into<String>) -> Self {
        self.environment = Some(name.into());
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let (default, databases) =
            validate::validate(self.default, self.databases, &validate::Written::code())?;
        let environment = match self.environment {
            Some(environment) => environment,
            None => environment_from_process()?,
        };
        Ok(Config {
            environment,
            default,
            databases,
        })
    }
}

fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn environment_from_process() -> Result<String, ConfigError> {
    match std::env::var(ENVIRONMENT_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(DEFAULT_ENVIRONMENT.to_owned()),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::new(
            ENVIRONMENT_VARIABLE,
            ConfigErrorKind::InvalidEnvironment,
        )),
    }
}
