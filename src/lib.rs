//! # Grant
//!
//! An async ORM for applications that have outgrown one database: read replicas with
//! automatic role switching, shards, per-database migrations, and several named databases
//! (PostgreSQL, MariaDB/MySQL, SQLite) behind one ordinary ORM API.
//!
//! ```no_run
//! use grant::{connected_to, Grant, Model, Role};
//!
//! #[derive(Model, Debug, Clone)]
//! #[grant(table = "users")]
//! struct User {
//!     id: i64,
//!     name: String,
//!     email: Option<String>,
//! }
//!
//! # async fn demo() -> grant::Result<()> {
//! let db = Grant::connect("sqlite://app.db").await?;
//! let mut ann = User { id: 0, name: "Ann".into(), email: None };
//! ann.insert(&db).await?;                      // writer; fills `id`
//! let found = User::find(&db, ann.id).await?;  // reading role
//! let many = User::query()
//!     .filter(User::NAME.like("A%"))
//!     .order_by(User::ID.desc())
//!     .limit(10)
//!     .all(&db)
//!     .await?;
//! connected_to(Role::Reading, async {
//!     assert!(ann.update(&db).await.unwrap_err().is_read_only()); // refused before any SQL
//! })
//! .await;
//! # let _ = (found, many); Ok(()) }
//! ```
//!
//! The pieces: [`Config`] (`grant.toml`), [`Grant`] (the handle), [`connected_to`] and
//! [`connection`] (scopes), [`Model`] (derive it), [`Query`] (the builder), [`raw`] (the
//! escape hatch), [`Transaction`], [`sharding`] (shard resolvers) and [`migrate`].

#![warn(missing_docs)]

pub use grant_core::*;

/// HTTP: the tower/axum layer that carries a [`Session`] across requests (feature `tower`,
/// on by default).
#[cfg(feature = "tower")]
pub use grant_core::http;
pub use grant_derive::Model;

/// Shard resolvers (re-export of `grant-sharding`).
pub use grant_sharding as sharding;

/// Per-database migrations (re-export of `grant-migrate`).
pub use grant_migrate as migrate;
