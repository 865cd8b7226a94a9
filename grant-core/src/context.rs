//! The task-local routing context: the role, shard and prevent-writes flag that
//! `connected_to` scopes set for the code inside them.

use std::future::Future;
use std::sync::Arc;

use crate::error::{Error, ReadOnlyReason, Result};
use crate::role::Role;

/// The routing context of the current task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// The role set by the innermost scope (`None`: reads read, writes write).
    pub role: Option<Role>,
    /// The shard set by the innermost scope that named one.
    pub shard: Option<Arc<str>>,
    /// Whether writes are refused.
    pub prevent_writes: bool,
}

tokio::task_local! {
    static CONTEXT: Context;
}

impl Context {
    /// The context of the current task (the default outside any scope).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use grant_core::{connected_to, Context, Role};
    /// assert_eq!(Context::current().role, None);
    /// connected_to(Role::Reading, async {
    ///     assert_eq!(Context::current().role, Some(Role::Reading));
    /// }).await;
    /// # });
    /// ```
    pub fn current() -> Context {
        CONTEXT.try_with(Context::clone).unwrap_or_default()
    }

    /// The context outside any scope.
    const NONE: Context = Context {
        role: None,
        shard: None,
        prevent_writes: false,
    };

    /// `f` of the current task's context, read in place (no clone).
    #[inline]
    pub(crate) fn with_current<R>(f: impl Fn(&Context) -> R) -> R {
        CONTEXT.try_with(&f).unwrap_or_else(|_| f(&Context::NONE))
    }

    /// The role a write in this scope uses, or the refusal of a write that the scope forbids
    /// (reading role, prevent-writes) on `database`. Checked before any SQL is sent.
    pub(crate) fn check_write(&self, database: &str) -> Result<Role> {
        let role = self.role.clone().unwrap_or(Role::Writing);
        let reason = if role == Role::Reading {
            ReadOnlyReason::ReadingRole
        } else if self.prevent_writes {
            ReadOnlyReason::PreventWrites
        } else {
            return Ok(role);
        };
        Err(Error::ReadOnly {
            database: database.to_string(),
            shard: self.shard.as_deref().map(str::to_string),
            role,
            reason,
        })
    }

    /// Run `fut` with this context.
    pub async fn scope<F: Future>(self, fut: F) -> F::Output {
        CONTEXT.scope(self, fut).await
    }
}

/// Run `fut` with `role`; the shard and prevent-writes flag of the outer scope carry on.
/// `Role::Reading` refuses writes inside it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use grant_core::{connected_to, Context, Role};
/// connected_to(Role::Reading, async {
///     assert!(Context::current().role == Some(Role::Reading));
///     connected_to(Role::Writing, async {
///         assert!(Context::current().role == Some(Role::Writing));
///     }).await;
///     assert!(Context::current().role == Some(Role::Reading));
/// }).await;
/// # });
/// ```
pub async fn connected_to<F: Future>(role: Role, fut: F) -> F::Output {
    connection().role(role).run(fut).await
}

/// Run `fut` with writes refused (any role).
pub async fn while_preventing_writes<F: Future>(fut: F) -> F::Output {
    connection().prevent_writes(true).run(fut).await
}

/// Start building a scope: `grant::connection().role(..).shard(..).prevent_writes(..).run(fut)`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use grant_core::{connection, Context, Role};
/// let ctx = connection()
///     .role(Role::Writing)
///     .shard("shard_one")
///     .prevent_writes(true)
///     .run(async { Context::current() })
///     .await;
/// assert_eq!(ctx.shard.as_deref(), Some("shard_one"));
/// assert!(ctx.prevent_writes);
/// # });
/// ```
pub fn connection() -> ConnectedTo {
    ConnectedTo::default()
}

/// A scope under construction; see [`connection`].
#[derive(Debug, Clone, Default)]
#[must_use = "a scope does nothing until `run`"]
pub struct ConnectedTo {
    role: Option<Role>,
    /// `None`: the outer scope's shard; `Some(None)`: no shard (the database itself).
    shard: Option<Option<Arc<str>>>,
    prevent_writes: Option<bool>,
}

impl ConnectedTo {
    /// Use `role` inside the scope.
    pub fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    /// Use shard `name` inside the scope.
    pub fn shard(mut self, name: impl AsRef<str>) -> Self {
        self.shard = Some(Some(Arc::from(name.as_ref())));
        self
    }

    /// Use no shard inside the scope (the database's own URL), whatever the outer scope set.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use grant_core::{connection, Context};
    /// let inner = connection()
    ///     .shard("one")
    ///     .run(connection().no_shard().run(async { Context::current().shard }))
    ///     .await;
    /// assert_eq!(inner, None);
    /// # });
    /// ```
    pub fn no_shard(mut self) -> Self {
        self.shard = Some(None);
        self
    }

    /// Refuse (or, with `false`, allow again) writes inside the scope. Unset, the outer
    /// scope's flag carries on.
    pub fn prevent_writes(mut self, prevent: bool) -> Self {
        self.prevent_writes = Some(prevent);
        self
    }

    /// The context this scope would set, given the current one.
    pub fn resolve(&self) -> Context {
        let outer = Context::current();
        Context {
            role: self.role.clone().or(outer.role),
            shard: match &self.shard {
                Some(choice) => choice.clone(),
                None => outer.shard,
            },
            prevent_writes: self.prevent_writes.unwrap_or(outer.prevent_writes),
        }
    }

    /// Run `fut` inside the scope; the outer context is restored after it.
    pub async fn run<F: Future>(self, fut: F) -> F::Output {
        let ctx = self.resolve();
        tracing::trace!(role = ?ctx.role, shard = ?ctx.shard, prevent_writes = ctx.prevent_writes, "grant: enter scope");
        CONTEXT.scope(ctx, fut).await
    }
}

/// Spawn a task that carries the current routing context (role, shard, prevent-writes) and
/// the current [`crate::Session`] (shared: the task's writes are the session's writes). A
/// transaction is never carried: it is a value you hold, not part of the context.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use grant_core::{connected_to, spawn, Context, Role};
/// let role = connected_to(Role::Reading, async {
///     spawn(async { Context::current().role }).await.unwrap()
/// }).await;
/// assert_eq!(role, Some(Role::Reading));
/// # });
/// ```
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let ctx = Context::current();
    tokio::spawn(CONTEXT.scope(ctx, crate::session::Session::scope_current(fut)))
}
