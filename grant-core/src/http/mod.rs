//! HTTP: carrying a [`Session`](crate::Session) across requests, with a tower [`Layer`]
//! that works in axum (and any tower-based server). Available with the `tower` feature.
//!
//! What Rails' `DatabaseSelector` and `ShardSelector` middleware do, for Grant:
//!
//! - [`SessionLayer`] restores the user's session from the request (a cookie, by default
//!   `grant_session`, or a header such as `x-grant-session`), runs the handler inside it
//!   ([`Session::run`](crate::Session::run)), and writes the updated token back on the
//!   response when the handler changed the session (typically: it wrote). The next request
//!   of the same user brings the token back, so its reads of a database it just wrote go
//!   where they see the write, while other users keep reading replicas.
//! - An optional shard selector maps the request (a tenant header, a subdomain) to a shard
//!   and runs the handler inside `grant::connection().shard(..)`.
//! - The handler finds the session in the request extensions too (`Extension<Session>` in
//!   axum), besides [`Session::current`](crate::Session::current).
//!
//! A missing, malformed, altered or oversized token gives a fresh, empty session (logged at
//! `warn`): a bad token never fails a request and never panics.
//!
//! Roles are not switched per HTTP method as Rails does: Grant routes every statement on
//! its own (reads to replicas, writes to the writer, and a session's reads of a database it
//! recently wrote to the writer), so a `GET` and a `POST` need nothing different.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use grant_core::http::SessionLayer;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(
//!         SessionLayer::new()
//!             .secure(true)
//!             .shard_selector(|parts| {
//!                 parts
//!                     .headers
//!                     .get("x-tenant")
//!                     .and_then(|v| v.to_str().ok())
//!                     .map(str::to_owned)
//!             }),
//!     );
//! ```
//!
//! [`Layer`]: tower_layer::Layer

mod carrier;
mod cookie;
mod layer;
mod service;
mod shard;

pub use cookie::SameSite;
pub use layer::SessionLayer;
pub use service::{ResponseFuture, SessionService};
