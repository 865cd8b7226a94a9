//! [`Grant`]: the handle applications hold. It owns the connection handler and routes every
//! statement to a (database, role, shard) pool.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, ReadOnlyReason, Result};
use crate::exec::{Access, Request};
use crate::handler::{ConnectionHandler, PoolSlot, PoolStats};
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
        let ctx = Context::current();
        let role = ctx.role.clone().unwrap_or(Role::Writing);
        let entry = self.inner.handler.role_entry(database, &role)?;
        let targets = entry.targets(ctx.shard.as_deref())?;
        // Refused writes (reading role, prevent-writes) and readonly databases make a
        // read-only transaction on the target that scope reads from.
        let read_only = match ctx.check_write(database) {
            Err(Error::ReadOnly { reason, .. }) => Some(reason),
            _ if entry.readonly() => Some(ReadOnlyReason::ReadonlyDatabase),
            _ => None,
        };
        let slot = match read_only {
            Some(_) => targets.for_reads(&role, ctx.prevent_writes),
            None => targets.writer(),
        };
        Transaction::begin(
            slot,
            self.inner.default.clone(),
            read_only.map(|reason| (role, reason)),
        )
        .await
    }

    /// Close every pool gracefully.
    pub async fn close(&self) {
        self.inner.handler.close().await
    }

    /// Pick the pool for a statement.
    ///
    /// Order: the scope's role and shard (`connected_to`) -> the model's routing
    /// (`connects_to`) -> the default database. Reads use the reading role unless the
    /// scope says otherwise (replicas, or the writer's read-only sessions); reads in a
    /// prevent-writes scope use read-only sessions too. Writes use the writer and are
    /// refused, before any SQL is sent, in a reading or prevent-writes scope and on a
    /// read-only database.
    #[inline]
    pub(crate) fn route(&self, req: &Request<'_>) -> Result<Arc<PoolSlot>> {
        Context::with_current(|ctx| self.route_in(ctx, req))
    }

    fn route_in(&self, ctx: &Context, req: &Request<'_>) -> Result<Arc<PoolSlot>> {
        let handler = &self.inner.handler;
        let database = req.database.unwrap_or(&self.inner.default);
        let shard = ctx.shard.as_deref();
        // Name the model whose routing pointed at an unknown database.
        let named = |e: Error| match e {
            Error::UnknownDatabase { database, .. } => Error::UnknownDatabase {
                database,
                model: (req.model != "raw").then_some(req.model),
            },
            other => other,
        };
        let slot = match req.access {
            Access::Write => {
                let role = ctx.check_write(database)?;
                let entry = handler.role_entry(database, &role).map_err(named)?;
                if entry.readonly() {
                    return Err(Error::ReadOnly {
                        database: entry.name().to_string(),
                        role,
                        reason: ReadOnlyReason::ReadonlyDatabase,
                    });
                }
                entry.targets(shard)?.writer().clone()
            }
            Access::Read => {
                let role = ctx.role.as_ref().unwrap_or(&Role::Reading);
                // `#[connects_to(reading = ..)]` names the entry that serves reads.
                let database = match (role, req.reading) {
                    (Role::Reading, Some(reading)) => reading,
                    _ => database,
                };
                // Reads of a prevent-writes scope use read-only sessions of the writer.
                handler
                    .read_slot(database, role, shard, ctx.prevent_writes)
                    .map_err(named)?
            }
        };
        tracing::trace!(
            model = req.model,
            database = %slot.key().database,
            role = %slot.key().role,
            shard = slot.key().shard.as_deref(),
            access = ?req.access,
            "grant: routed"
        );
        Ok(slot)
    }
}
