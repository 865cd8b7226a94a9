//! Where the session token travels: a cookie (the default) or a header.

use ::http::header::{HeaderMap, HeaderName, HeaderValue, SET_COOKIE};

use super::cookie::CookieSpec;

/// Where a [`super::SessionLayer`] reads the token from and writes it to: the header when
/// one is set, else the cookie.
#[derive(Debug, Clone, Default)]
pub(super) struct Carrier {
    /// The cookie (read from `Cookie`, written with `Set-Cookie`) and its attributes.
    pub(super) cookie: CookieSpec,
    /// A header used instead of the cookie: read from the request's header, written to the
    /// response's header of the same name.
    pub(super) header: Option<HeaderName>,
}

impl Carrier {
    /// The token the request carries, if any (not yet checked).
    pub(super) fn read(&self, headers: &HeaderMap) -> Option<String> {
        let Some(name) = &self.header else {
            return self.cookie.find(headers);
        };
        let value = headers.get(name)?;
        match value.to_str() {
            Ok(text) => Some(text.trim().to_owned()),
            Err(_) => {
                tracing::warn!(header = %name, "grant: ignoring a session header that is not text");
                None
            }
        }
    }

    /// Put `token` on the response: a `Set-Cookie` added to those already there, or the
    /// header (replacing one the handler set).
    pub(super) fn write(&self, headers: &mut HeaderMap, token: &str) {
        let (name, value) = match &self.header {
            None => (SET_COOKIE, self.cookie.set_cookie(token)),
            Some(name) => (name.clone(), token.to_owned()),
        };
        match HeaderValue::from_str(&value) {
            Ok(value) if name == SET_COOKIE => {
                headers.append(name, value);
            }
            Ok(value) => {
                headers.insert(name, value);
            }
            // Tokens and validated attributes are header-safe; never fail a response on it.
            Err(_) => {
                tracing::warn!(header = %name, "grant: session token not written: not a valid header value")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let carrier = Carrier {
            header: Some(HeaderName::from_static("x-grant-session")),
            ..Carrier::default()
        };
        let mut headers = HeaderMap::new();
        assert_eq!(carrier.read(&headers), None);
        carrier.write(&mut headers, "g1.a.b");
        carrier.write(&mut headers, "g1.c.d");
        assert_eq!(headers.get_all("x-grant-session").iter().count(), 1);
        assert_eq!(carrier.read(&headers).as_deref(), Some("g1.c.d"));
        headers.insert(
            "x-grant-session",
            HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert_eq!(carrier.read(&headers), None);
    }

    #[test]
    fn cookies_are_added_not_replaced() {
        let carrier = Carrier::default();
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_static("theme=dark"));
        carrier.write(&mut headers, "g1.a.b");
        let all: Vec<_> = headers.get_all(SET_COOKIE).iter().collect();
        assert_eq!(all.len(), 2);
        assert!(all[1]
            .to_str()
            .unwrap()
            .starts_with("grant_session=g1.a.b;"));
    }
}
