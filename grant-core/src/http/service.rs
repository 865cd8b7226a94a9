//! [`SessionService`]: one request's session, shard scope and token write-back.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use ::http::{Request, Response};
use tower_service::Service;

use super::layer::Settings;
use crate::context::connection;
use crate::session::Session;

/// The service a [`SessionLayer`](super::SessionLayer) wraps around an inner service; see
/// the layer for what it does per request.
///
/// ```
/// use grant_core::http::{SessionLayer, SessionService};
/// use tower::{service_fn, Layer};
///
/// let inner = service_fn(|_req: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
/// });
/// let service: SessionService<_> = SessionLayer::new().layer(inner);
/// # let _ = service;
/// ```
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S> SessionService<S> {
    pub(super) fn new(inner: S, settings: Arc<Settings>) -> Self {
        SessionService { inner, settings }
    }
}

impl<S: fmt::Debug> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    ResBody: 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        // An empty value is no token (e.g. a cookie cleared by the client).
        let incoming = self
            .settings
            .carrier
            .read(&parts.headers)
            .filter(|t| !t.is_empty());
        let session = Session::from_token_or_new(incoming.as_deref());
        let shard = self.settings.shard.as_ref().and_then(|s| s.select(&parts));
        parts.extensions.insert(session.clone());
        let fut = self.inner.call(Request::from_parts(parts, body));
        let settings = Arc::clone(&self.settings);
        ResponseFuture {
            inner: Box::pin(async move {
                let result = match shard {
                    Some(shard) => session.run(connection().shard(shard).run(fut)).await,
                    None => session.run(fut).await,
                };
                let mut response = result?;
                if let Some(token) = token_to_write(incoming.as_deref(), &session) {
                    tracing::debug!(
                        bytes = token.len(),
                        "grant: the session changed; writing its token on the response"
                    );
                    settings.carrier.write(response.headers_mut(), &token);
                }
                Ok(response)
            }),
        }
    }
}

/// The token to put on the response, if it differs from what came in. A request without a
/// token whose session stayed empty gets none.
fn token_to_write(incoming: Option<&str>, session: &Session) -> Option<String> {
    if incoming.is_none() && session.is_empty() {
        return None;
    }
    let now = session.token();
    (incoming != Some(now.as_str())).then_some(now)
}

/// The response future of a [`SessionService`]: the inner service's future running inside
/// the request's session (and shard), then the token write-back.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use grant_core::http::{ResponseFuture, SessionLayer};
/// use tower::{service_fn, Layer, Service, ServiceExt};
///
/// let mut service = SessionLayer::new().layer(service_fn(|_req: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new("ok"))
/// }));
/// let future: ResponseFuture<&str, _> = service.ready().await?.call(http::Request::new(()));
/// assert_eq!(*future.await?.body(), "ok");
/// # Ok::<(), std::convert::Infallible>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<B, E> {
    inner: Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>,
}

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_back_only_on_change() {
        let empty = Session::new();
        assert_eq!(token_to_write(None, &empty), None);
        let same = empty.token();
        assert_eq!(token_to_write(Some(&same), &empty), None);
        // A bad token that came in is replaced.
        assert_eq!(token_to_write(Some("junk"), &empty), Some(same.clone()));
        let wrote = Session::new();
        wrote.record_write("primary", None, None);
        assert_eq!(token_to_write(None, &wrote), Some(wrote.token()));
        assert_eq!(token_to_write(Some(&same), &wrote), Some(wrote.token()));
        assert_eq!(token_to_write(Some(&wrote.token()), &wrote), None);
    }
}
