//! Sessions: what one user (one request chain, one job) has written, so that its reads
//! see its own writes while other sessions keep reading replicas.
//!
//! A [`Session`] lives in the task-local context ([`session`], [`Session::run`]), is
//! carried by [`crate::spawn`], and travels between requests as a token
//! ([`Session::token`], [`Session::from_token`]).

mod position;
mod token;

pub use position::{Gtid, Position, PositionParseError};
pub use token::{TokenError, MAX_TOKEN_LEN};

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// What a session knows of one (database, shard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) database: Arc<str>,
    pub(crate) shard: Option<Arc<str>>,
    /// The last write, in milliseconds since the Unix epoch (0: none recorded).
    pub(crate) wrote_at_ms: u64,
    /// Causal mode: the position the session's reads must see (its last write's position,
    /// raised by what it has read since).
    pub(crate) position: Option<Position>,
}

/// One user's read-your-writes state: per (database, shard), when it last wrote and (in
/// causal mode) the replication position its reads must see.
///
/// Cloning shares the state: a clone given to [`Session::run`] and the original see the
/// same writes, so the token read after the handler ran includes them.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use grant_core::Session;
/// let s = Session::new();
/// assert!(s.is_empty());
/// let token = s.token();                   // e.g. a cookie value
/// let back = Session::from_token(&token)?; // the next request of the same user
/// assert!(back.is_empty());
/// assert!(Session::from_token("g1.garbage").is_err());
/// s.run(async { assert!(Session::current().is_some()) }).await;
/// # Ok::<(), grant_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Session {
    inner: Arc<Mutex<Vec<Entry>>>,
}

tokio::task_local! {
    static SESSION: Session;
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Session {
    /// An empty session.
    pub fn new() -> Session {
        Session::default()
    }

    /// A session restored from a token made by [`Session::token`] (of this or another
    /// process). A token that is too long, of an unknown version, malformed or altered
    /// (its checksum does not match) is [`Error::InvalidSessionToken`]; nothing panics.
    ///
    /// The checksum catches corruption and casual edits, not a determined forger: the
    /// token is not signed. What a forged token can do is bounded: a write time in the
    /// future counts as now, so it pins that session's reads to the writer for at most one
    /// `replica_delay`; a position no replica has reached makes its reads wait at most
    /// `causal_wait`, then read from the writer. It never affects another session.
    pub fn from_token(token: &str) -> Result<Session> {
        let entries = token::decode(token.trim(), unix_ms())
            .map_err(|reason| Error::InvalidSessionToken { reason })?;
        Ok(Session {
            inner: Arc::new(Mutex::new(entries)),
        })
    }

    /// [`Session::from_token`], or an empty session when there is no token or it is
    /// invalid (logged at `warn`): what a web application does with a cookie it cannot
    /// trust to be well formed.
    ///
    /// ```
    /// use grant_core::Session;
    /// assert!(Session::from_token_or_new(Some("not a token")).is_empty());
    /// assert!(Session::from_token_or_new(None).is_empty());
    /// ```
    pub fn from_token_or_new(token: Option<&str>) -> Session {
        match token.map(Session::from_token) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "grant: ignoring an invalid session token");
                Session::new()
            }
            None => Session::new(),
        }
    }

    /// The session as a compact token (`g1.` followed by base64url text: safe in a cookie
    /// value, a header and a URL).
    pub fn token(&self) -> String {
        token::encode(&self.lock())
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Forget everything recorded.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// When this session last wrote to `database` (`shard`), if it did.
    pub fn last_write(&self, database: &str, shard: Option<&str>) -> Option<SystemTime> {
        self.with_entry(database, shard, |e| {
            (e.wrote_at_ms != 0).then(|| UNIX_EPOCH + Duration::from_millis(e.wrote_at_ms))
        })
        .flatten()
    }

    /// Causal mode: the replication position this session's reads of `database` (`shard`)
    /// must see, if any.
    pub fn position(&self, database: &str, shard: Option<&str>) -> Option<Position> {
        self.with_entry(database, shard, |e| e.position.clone())
            .flatten()
    }

    /// The session of the current task, if it runs inside one.
    pub fn current() -> Option<Session> {
        SESSION.try_with(Session::clone).ok()
    }

    /// Run `fut` inside this session: its writes are recorded here, its reads honour them.
    pub fn run<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
        SESSION.scope(self.clone(), fut)
    }

    /// Whether the current task runs inside a session.
    #[inline]
    pub(crate) fn active() -> bool {
        SESSION.try_with(|_| ()).is_ok()
    }

    /// `f` of the current task's session, if any.
    #[inline]
    pub(crate) fn with_current<R>(f: impl FnOnce(&Session) -> R) -> Option<R> {
        SESSION.try_with(f).ok()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        // The state is a plain list updated in place; a panic elsewhere cannot leave it
        // half-written, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[inline]
    fn with_entry<R>(
        &self,
        database: &str,
        shard: Option<&str>,
        f: impl FnOnce(&Entry) -> R,
    ) -> Option<R> {
        let entries = self.lock();
        entries
            .iter()
            .find(|e| &*e.database == database && e.shard.as_deref() == shard)
            .map(f)
    }

    fn update(&self, database: &str, shard: Option<&str>, f: impl FnOnce(&mut Entry)) {
        let mut entries = self.lock();
        let i = match entries
            .iter()
            .position(|e| &*e.database == database && e.shard.as_deref() == shard)
        {
            Some(i) => i,
            None => {
                entries.push(Entry {
                    database: Arc::from(database),
                    shard: shard.map(Arc::from),
                    wrote_at_ms: 0,
                    position: None,
                });
                entries.len() - 1
            }
        };
        f(&mut entries[i]);
    }

    /// Record a write to `database` (`shard`) now, and in causal mode the writer's position
    /// after it.
    pub(crate) fn record_write(&self, database: &str, shard: Option<&str>, at: Option<Position>) {
        let now = unix_ms();
        self.update(database, shard, |e| {
            e.wrote_at_ms = now;
            if let Some(p) = at {
                match &mut e.position {
                    Some(have) => have.merge(&p),
                    None => e.position = Some(p),
                }
            }
        });
    }

    /// Record that a read was served at `at` or later (monotonic reads).
    pub(crate) fn record_read(&self, database: &str, shard: Option<&str>, at: &Position) {
        self.update(database, shard, |e| match &mut e.position {
            Some(have) if have.covers(at) => {}
            Some(have) => have.merge(at),
            None => e.position = Some(at.clone()),
        });
    }

    /// What a read of `database` (`shard`) needs: whether a write is younger than `delay`,
    /// and the position to see.
    #[inline]
    pub(crate) fn read_needs(
        &self,
        database: &str,
        shard: Option<&str>,
        delay: Duration,
    ) -> (bool, Option<Position>) {
        self.with_entry(database, shard, |e| {
            let recent = e.wrote_at_ms != 0
                && !delay.is_zero()
                && unix_ms() < e.wrote_at_ms.saturating_add(delay.as_millis() as u64);
            (recent, e.position.clone())
        })
        .unwrap_or((false, None))
    }

    /// The current session and the task-local scope it needs, for [`crate::spawn`].
    pub(crate) fn scope_current<F: Future>(fut: F) -> impl Future<Output = F::Output> {
        let current = Session::current();
        async move {
            match current {
                Some(s) => SESSION.scope(s, fut).await,
                None => fut.await,
            }
        }
    }
}

/// Run `fut` in a new, empty [`Session`]: a write inside it makes its later reads of that
/// database go where they see the write (the writer for `replica_delay`, or in causal mode
/// a replica that has replayed it), while other sessions keep reading replicas.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use grant_core::{session, Session};
/// let inside = session(async { Session::current().is_some() }).await;
/// assert!(inside && Session::current().is_none());
/// # });
/// ```
pub fn session<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    SESSION.scope(Session::new(), fut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text, and any small edit of a valid token, is a session or a typed error:
        /// never a panic.
        #[test]
        fn no_token_panics(text in ".{0,600}", cut in 0usize..200, byte in any::<u8>()) {
            let _ = Session::from_token(&text);
            let s = Session::new();
            s.record_write("primary", Some("s1"), Some(Position::Lsn(42)));
            let t = s.token();
            let mut bytes = t.clone().into_bytes();
            let i = cut % bytes.len();
            bytes[i] = byte;
            if let Ok(edited) = String::from_utf8(bytes) {
                if edited != t {
                    prop_assert!(Session::from_token(&edited).is_err());
                }
            }
            let _ = Session::from_token(&t[..i]);
        }
    }

    #[test]
    fn token_round_trips() {
        let s = Session::new();
        s.record_write("primary", None, Some("0/16B3748".parse().unwrap()));
        s.record_write("orders", Some("shard_one"), Some("0-1-42".parse().unwrap()));
        s.record_write("plain", None, None);
        let t = s.token();
        assert!(t.starts_with("g1."));
        assert!(t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        let back = Session::from_token(&t).unwrap();
        assert_eq!(*back.lock(), *s.lock());
        assert_eq!(
            back.position("orders", Some("shard_one"))
                .unwrap()
                .to_string(),
            "0-1-42"
        );
        assert!(back.last_write("plain", None).is_some());
        assert!(back.last_write("nope", None).is_none());
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let s = Session::new();
        s.record_write("primary", None, Some("0/10".parse().unwrap()));
        let t = s.token();
        let mut bytes = t.clone().into_bytes();
        let i = 5;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        for bad in [
            "",
            "g2.abc.def",
            "g1.",
            "g1.abc",
            "g1.!!!.AAAAAAAAAAA",
            &altered,
            &t[..t.len() - 2],
            &"g1.".repeat(2000),
        ] {
            let e = Session::from_token(bad).unwrap_err();
            assert!(
                matches!(e, Error::InvalidSessionToken { .. }),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn future_writes_count_as_now() {
        let list = vec![Entry {
            database: Arc::from("primary"),
            shard: None,
            wrote_at_ms: u64::MAX,
            position: None,
        }];
        let t = token::encode(&list);
        let s = Session::from_token(&t).unwrap();
        let at = s.last_write("primary", None).unwrap();
        assert!(at <= SystemTime::now());
    }

    #[test]
    fn delay_window() {
        let s = Session::new();
        assert_eq!(
            s.read_needs("primary", None, Duration::from_secs(2)),
            (false, None)
        );
        s.record_write("primary", None, None);
        assert!(s.read_needs("primary", None, Duration::from_secs(2)).0);
        assert!(!s.read_needs("primary", None, Duration::ZERO).0);
        assert!(!s.read_needs("other", None, Duration::from_secs(2)).0);
        assert!(
            !s.read_needs("primary", Some("s1"), Duration::from_secs(2))
                .0
        );
    }
}
