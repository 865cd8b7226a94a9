//! The shard selector: which shard a request's handler runs in.

use std::fmt;
use std::sync::Arc;

use ::http::request::Parts;

/// The selector as the user gave it.
type SelectFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;

/// A function from the request (head only: method, URI, headers, extensions) to a shard.
#[derive(Clone)]
pub(super) struct ShardSelector(Arc<SelectFn>);

impl ShardSelector {
    pub(super) fn new<F>(f: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        ShardSelector(Arc::new(f))
    }

    /// The shard for this request, if the selector names one.
    pub(super) fn select(&self, parts: &Parts) -> Option<String> {
        (self.0)(parts)
    }
}

impl fmt::Debug for ShardSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShardSelector(..)")
    }
}
