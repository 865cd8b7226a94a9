//! [`Grant`]: the handle applications hold. It owns the connection handler and routes every
//! statement to a (database, role, shard) pool.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, ReadOnlyReason, Result};
use crate::handler::{ConnectionHandler, PoolStats};
use crate::role::Role;
use crate::transaction::Transaction;

/// The handle to every configured database. Cheap to clone; share it across tasks.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use grant_core::{raw, Grant};
/// let db = Grant::connect("sqlite::memory:").await?;
/// raw("CREATE TABLE t (id INTEGER PRIMARY KEY)").execute(&db).await?;
/// assert_eq!(db.default_database(), "primary");
/// db.close().await;
/// # Ok::<(), grant_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Grant {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    handler: ConnectionHandler,
    default: Arc<str>,
    config: Config,
}

impl Grant {
    /// One database named `primary` with no replicas, from a URL; checks that its writer
    /// answers.
    pub async fn connect(url: &str) -> Result<Grant> {
        let grant = Grant::from_config(Config::single(url)?)?;
        grant.ping(grant.default_database()).await?;
        Ok(grant)
    }

    /// Every database of `config`; pools open on first use.
    pub fn from_config(config: Config) -> Result<Grant> {
        let handler = ConnectionHandler::from_config(&config)?;
        Ok(Grant {
            inner: Arc::new(Inner {
                handler,
                default: Arc::from(config.default_database()),
                config,
            }),
        })
    }

    /// Load `grant.toml` (environment from `GRANT_ENV`) and register its databases.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Grant> {
        Grant::from_config(Config::from_file(path)?)
    }

    /// The config this handle was built from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The default database's name.
    pub fn default_database(&self) -> &str {
        &self.inner.default
    }

    /// The connection handler (pools, runtime registration, stats).
    pub fn handler(&self) -> &ConnectionHandler {
        &self.inner.handler
    }

    /// Statistics of every pool.
    pub fn stats(&self) -> Vec<PoolStats> {
        self.inner.handler.stats()
    }

    /// Check that the writer of `database` (current shard) answers.
    pub async fn ping(&self, database: &str) -> Result<()> {
        crate::context::connection()
            .role(Role::Writing)
            .run(crate::raw::raw("SELECT 1").on(database).fetch_all(self))
            .await
            .map(|_| ())
    }

    /// Begin a transaction on the default database's writer.
    pub async fn begin(&self) -> Result<Transaction> {
        self.begin_on(&self.inner.default).await
    }

    /// Begin a transaction on `database` (of the current scope's shard).
    ///
    /// In an ordinary scope it runs on the writer. In a reading scope, a prevent-writes
    /// scope, or on a `readonly` database it is a **read-only transaction** on the target
    /// that scope reads from (a replica or the writer's read-only sessions; the read-only
    /// writer of a readonly database), begun `READ ONLY`, and every write in it is refused
    /// with [`Error::ReadOnly`] before any SQL is sent.
    pub async fn begin_on(&self, database: &str) -> Result<Transaction> {
        self.begin_at(database, None).await
    }

    /// Begin a transaction on `database`, on `shard` (`None`: the scope's shard).
    pub(crate) async fn begin_at(
        &self,
        database: &str,
        shard: Option<&str>,
    ) -> Result<Transaction> {
        let ctx = Context::current();
        let role = ctx.role.clone().unwrap_or(Role::Writing);
        let entry = self.inner.handler.role_entry(database, &role)?;
        let targets = entry.targets(shard.or(ctx.shard.as_deref()))?;
        // Refused writes (reading role, prevent-writes) and readonly databases make a
        // read-only transaction on the target that scope reads from.
        let read_only = match ctx.check_write(database) {
            Err(Error::ReadOnly { reason, .. }) => Some(reason),
            _ if entry.readonly() => Some(ReadOnlyReason::ReadonlyDatabase),
            _ => None,
        };
        let slot = match read_only {
            Some(_) => targets.for_reads(&role, ctx.prevent_writes)?,
            None => targets.writer(),
        };
        let track = match read_only {
            None => crate::route::Track::write(&entry, slot),
            Some(_) => None,
        };
        Transaction::begin(
            slot,
            self.clone(),
            read_only.map(|reason| (role, reason)),
            track,
        )
        .await
    }

    /// Close every pool gracefully.
    pub async fn close(&self) {
        self.inner.handler.close().await
    }

    /// The default database's name, shared.
    #[inline]
    pub(crate) fn default_name(&self) -> &Arc<str> {
        &self.inner.default
    }
}
