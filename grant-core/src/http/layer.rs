//! [`SessionLayer`]: the layer and its settings.

use std::sync::Arc;
use std::time::Duration;

use ::http::header::HeaderName;
use ::http::request::Parts;
use tower_layer::Layer;

use super::carrier::Carrier;
use super::cookie::{valid_attribute, valid_name, SameSite};
use super::service::SessionService;
use super::shard::ShardSelector;

/// What a [`SessionLayer`] does, shared by every service it makes.
#[derive(Debug, Clone, Default)]
pub(super) struct Settings {
    pub(super) carrier: Carrier,
    pub(super) shard: Option<ShardSelector>,
}

/// A tower [`Layer`] (for axum's `Router::layer`, or any tower stack) that carries a
/// [`Session`](crate::Session) across requests, as Rails' `DatabaseSelector` and
/// `ShardSelector` middleware do.
///
/// For every request, the service it makes ([`SessionService`]):
///
/// 1. restores the session from the token the request carries: the cookie `grant_session`
///    by default ([`cookie`](Self::cookie)), or a header ([`header`](Self::header)). A
///    missing token, or one that is malformed, altered or too long
///    ([`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN)), gives a fresh, empty session, logged at
///    `warn`: never an error response, never a panic;
/// 2. puts the session in the request's extensions (`Extension<Session>` in axum);
/// 3. asks the [`shard_selector`](Self::shard_selector), if any, for the request's shard;
/// 4. runs the inner service's response future inside the session
///    ([`Session::run`](crate::Session::run)) and, when a shard was selected, inside
///    `grant::connection().shard(shard)`;
/// 5. when the session's token differs from the one that came in (the handler wrote, or a
///    bad token was replaced), writes the new token on the response: a `Set-Cookie`
///    (`Path=/; HttpOnly; SameSite=Lax` by default), or the header. Nothing is written
///    when nothing changed, nor for a request without a token whose session stayed empty.
///
/// Only the inner service's *future* runs inside the session: work its `call` does
/// before returning the future does not (axum handlers and extractors run in the future).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use grant_core::http::SessionLayer;
/// use grant_core::{Context, Session};
/// use http::{Request, Response};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// let app = SessionLayer::new()
///     .shard_selector(|parts| {
///         let tenant = parts.headers.get("x-tenant")?.to_str().ok()?;
///         Some(format!("tenant_{tenant}"))
///     })
///     .layer(service_fn(|req: Request<()>| async move {
///         // The handler runs in the request's session and shard.
///         assert!(Session::current().is_some());
///         assert!(req.extensions().get::<Session>().is_some());
///         let shard = Context::current().shard;
///         Ok::<_, std::convert::Infallible>(Response::new(format!("{shard:?}")))
///     }));
///
/// let req = Request::get("/").header("x-tenant", "acme").body(()).unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// assert_eq!(res.body(), r#"Some("tenant_acme")"#);
/// // The handler wrote nothing: no cookie.
/// assert!(res.headers().get("set-cookie").is_none());
/// # });
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a layer does nothing until it wraps a service"]
pub struct SessionLayer {
    settings: Arc<Settings>,
}

impl SessionLayer {
    /// A layer with the defaults: the cookie `grant_session` with `Path=/`, `HttpOnly`,
    /// `SameSite=Lax`, no `Secure`, no `Max-Age` (a browser-session cookie); no shard
    /// selector.
    ///
    /// ```
    /// let layer = grant_core::http::SessionLayer::new();
    /// # let _ = layer;
    /// ```
    pub fn new() -> Self {
        SessionLayer::default()
    }

    fn settings(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.settings)
    }

    /// Carry the token in the cookie `name` (the default is `grant_session`), instead of a
    /// header set before.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid cookie name (empty, or with spaces, separators such as
    /// `;` `=` `,`, or non-ASCII): a mistake in the program, found when the layer is built.
    ///
    /// ```
    /// let layer = grant_core::http::SessionLayer::new().cookie("sid");
    /// # let _ = layer;
    /// ```
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(
            valid_name(&name),
            "grant: {name:?} is not a valid cookie name"
        );
        let carrier = &mut self.settings().carrier;
        carrier.cookie.name = name;
        carrier.header = None;
        self
    }

    /// Carry the token in the header `name` instead of a cookie: read from the request's
    /// header, written to the response's header of the same name (for API clients that
    /// keep it themselves, e.g. `x-grant-session`). The cookie attributes do not apply.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid header name: a mistake in the program, found when the
    /// layer is built.
    ///
    /// ```
    /// let layer = grant_core::http::SessionLayer::new().header("x-grant-session");
    /// # let _ = layer;
    /// ```
    pub fn header(mut self, name: &str) -> Self {
        let name = HeaderName::try_from(name)
            .unwrap_or_else(|_| panic!("grant: {name:?} is not a valid header name"));
        self.settings().carrier.header = Some(name);
        self
    }

    /// The cookie's `Path` (default `/`).
    ///
    /// # Panics
    ///
    /// When `path` holds `;` or control characters.
    ///
    /// ```
    /// let layer = grant_core::http::SessionLayer::new().path("/app");
    /// # let _ = layer;
    /// ```
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        assert!(
            valid_attribute(&path),
            "grant: {path:?} is not a valid cookie path"
        );
        self.settings().carrier.cookie.path = path;
        self
    }

    /// The cookie's `Domain` (default: none, the host that answered).
    ///
    /// # Panics
    ///
    /// When `domain` holds `;` or control characters.
    ///
    /// ```
    /// let layer = grant_core::http::SessionLayer::new().domain("example.com");
    /// # let _ = layer;
    /// ```
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        let domain = domain.into();
        assert!(
            valid_attribute(&domain) && !domain.contains(' '),
            "grant: {domain:?} is not a valid cookie domain"
        );
        self.settings().carrier.cookie.domain = Some(domain);
        self
    }

    /// Whether the cookie is `Secure` (sent over HTTPS only). Default `false`, so that the
    /// layer works on plain HTTP in development; turn it on in production.
    ///
    /// ```
    /// let layer = grant_core::http::SessionLayer::new().secure(true);
    /// # let _ = layer;
    /// ```
    pub fn secure(mut self, secure: bool) -> Self {
        self.settings().carrier.cookie.secure = secure;
        self
    }

    /// Whether the cookie is `HttpOnly` (hidden from scripts). Default `true`: scripts have
    /// no use for the token.
    ///
    /// ```
    /// let layer = grant_core::http::SessionLayer::new().http_only(false);
    /// # let _ = layer;
    /// ```
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.settings().carrier.cookie.http_only = http_only;
        self
    }

    /// The cookie's `SameSite` (default [`SameSite::Lax`]).
    ///
    /// ```
    /// use grant_core::http::{SameSite, SessionLayer};
    /// let layer = SessionLayer::new().same_site(SameSite::Strict);
    /// # let _ = layer;
    /// ```
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.settings().carrier.cookie.same_site = same_site;
        self
    }

    /// The cookie's `Max-Age`, in whole seconds (default: none, the cookie ends with the
    /// browser session). Read-your-writes only needs the token for `replica_delay` after a
    /// write, so a short age is enough.
    ///
    /// ```
    /// use std::time::Duration;
    /// let layer = grant_core::http::SessionLayer::new().max_age(Duration::from_secs(300));
    /// # let _ = layer;
    /// ```
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.settings().carrier.cookie.max_age = Some(max_age);
        self
    }

    /// Choose the shard of each request: `select` sees the request's head (method, URI,
    /// headers, extensions); when it returns `Some(shard)`, the handler runs inside
    /// `grant::connection().shard(shard)`, and with `None` the shard stays unset. An
    /// unknown shard name is an error of the statements that use it, not of the request.
    ///
    /// ```
    /// use grant_core::http::SessionLayer;
    /// // By subdomain: acme.example.com -> shard "acme".
    /// let layer = SessionLayer::new().shard_selector(|parts| {
    ///     let host = parts.headers.get("host")?.to_str().ok()?;
    ///     let (sub, _) = host.split_once('.')?;
    ///     Some(sub.to_owned())
    /// });
    /// # let _ = layer;
    /// ```
    pub fn shard_selector<F>(mut self, select: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.settings().shard = Some(ShardSelector::new(select));
        self
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> SessionService<S> {
        SessionService::new(inner, Arc::clone(&self.settings))
    }
}
