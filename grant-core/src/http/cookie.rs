//! The session cookie: finding it in `Cookie` request headers and writing `Set-Cookie`.

use std::fmt::Write as _;
use std::time::Duration;

use ::http::header::{HeaderMap, COOKIE};

/// The `SameSite` attribute of the session cookie
/// ([`SessionLayer::same_site`](super::SessionLayer::same_site)).
///
/// ```
/// use grant_core::http::{SameSite, SessionLayer};
/// let layer = SessionLayer::new().same_site(SameSite::Strict);
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent with same-site requests only.
    Strict,
    /// Sent with same-site requests and top-level navigations from other sites (the
    /// default, as in browsers).
    #[default]
    Lax,
    /// Sent with every request; browsers require `Secure` with it
    /// ([`SessionLayer::secure`](super::SessionLayer::secure)).
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// The session cookie's name and attributes.
#[derive(Debug, Clone)]
pub(super) struct CookieSpec {
    pub(super) name: String,
    pub(super) path: String,
    pub(super) domain: Option<String>,
    pub(super) secure: bool,
    pub(super) http_only: bool,
    pub(super) same_site: SameSite,
    pub(super) max_age: Option<Duration>,
}

/// The default cookie name.
pub(super) const DEFAULT_NAME: &str = "grant_session";

impl Default for CookieSpec {
    fn default() -> Self {
        CookieSpec {
            name: DEFAULT_NAME.to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: false,
            http_only: true,
            same_site: SameSite::Lax,
            max_age: None,
        }
    }
}

/// Whether `name` is a cookie name (an RFC 6265 token: visible ASCII, no separators).
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// Whether `value` can be an attribute value (`Path`, `Domain`): visible ASCII or spaces,
/// no `;`.
pub(super) fn valid_attribute(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (b == b' ' || b.is_ascii_graphic()) && b != b';')
}

impl CookieSpec {
    /// The value of the first cookie called `self.name` in the request's `Cookie` headers.
    /// Headers that are not text are skipped.
    pub(super) fn find(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(';'))
            .find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                (name.trim() == self.name).then(|| {
                    let value = value.trim();
                    // RFC 6265 allows a value in double quotes.
                    value
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(value)
                        .to_owned()
                })
            })
    }

    /// The `Set-Cookie` value carrying `token`.
    pub(super) fn set_cookie(&self, token: &str) -> String {
        let mut out = format!("{}={}; Path={}", self.name, token, self.path);
        if let Some(domain) = &self.domain {
            let _ = write!(out, "; Domain={domain}");
        }
        if let Some(age) = self.max_age {
            let _ = write!(out, "; Max-Age={}", age.as_secs());
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        let _ = write!(out, "; SameSite={}", self.same_site.as_str());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn finds_the_named_cookie() {
        let spec = CookieSpec::default();
        assert_eq!(spec.find(&headers(&[])), None);
        assert_eq!(spec.find(&headers(&["a=1; b=2"])), None);
        assert_eq!(
            spec.find(&headers(&["a=1;grant_session=g1.x.y ; b=2"])),
            Some("g1.x.y".into())
        );
        assert_eq!(
            spec.find(&headers(&["a=1", "grant_session=\"g1.q.r\""])),
            Some("g1.q.r".into())
        );
        // A longer name that merely starts with ours is another cookie.
        assert_eq!(spec.find(&headers(&["grant_session2=x"])), None);
        let mut odd = HeaderMap::new();
        odd.append(
            COOKIE,
            HeaderValue::from_bytes(b"grant_session=\xff").unwrap(),
        );
        assert_eq!(spec.find(&odd), None);
    }

    #[test]
    fn set_cookie_attributes() {
        let mut spec = CookieSpec::default();
        assert_eq!(
            spec.set_cookie("g1.a.b"),
            "grant_session=g1.a.b; Path=/; HttpOnly; SameSite=Lax"
        );
        spec.secure = true;
        spec.max_age = Some(Duration::from_secs(60));
        spec.domain = Some("example.com".into());
        spec.same_site = SameSite::None;
        spec.http_only = false;
        assert_eq!(
            spec.set_cookie("t"),
            "grant_session=t; Path=/; Domain=example.com; Max-Age=60; Secure; SameSite=None"
        );
    }

    #[test]
    fn names() {
        assert!(valid_name("grant_session"));
        for bad in ["", "a b", "a;b", "a=b", "ä", "a\tb"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_attribute("/app"));
        assert!(!valid_attribute("/a;b"));
        assert!(!valid_attribute("/a\nb"));
    }
}
