//! Light checks of connection URLs, and hiding their passwords for logs.

use std::path::Path;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::backend::Backend;

use super::error::ConfigErrorKind;

/// Checks that `url` looks like a connection URL Grant can use and returns its engine.
///
/// This is a shape check, not a full URL parser: it catches the mistakes a config file
/// makes (empty, no scheme, unknown scheme, whitespace, `host:port` without `//`, a port
/// that is not a number); the driver reports anything subtler when it connects.
pub(crate) fn check_url(url: &str) -> Result<Backend, ConfigErrorKind> {
    let invalid = |reason| ConfigErrorKind::InvalidUrl {
        url: redact(url),
        reason,
    };
    if url.trim().is_empty() {
        return Err(ConfigErrorKind::EmptyUrl);
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "it contains whitespace or control characters; expected a URL without spaces (percent-encode them as %20)",
        ));
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(invalid(
            "it has no scheme; expected `scheme://...` such as `postgres://host/db`, or `sqlite:path`",
        ));
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(invalid(
            "it has no valid scheme; expected `scheme://...` such as `postgres://host/db`, or `sqlite:path`",
        ));
    }
    let Some(backend) = Backend::from_scheme(scheme) else {
        return Err(ConfigErrorKind::UnknownScheme {
            scheme: scheme.to_owned(),
        });
    };
    match backend {
        Backend::Sqlite => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path.starts_with(['?', '#']) {
                return Err(invalid(
                    "it names no database; expected a file path or `:memory:` after `sqlite:` (e.g. `sqlite://app.db`, `sqlite::memory:`)",
                ));
            }
        }
        Backend::Postgres | Backend::MySql => {
            let Some(after) = rest.strip_prefix("//") else {
                return Err(invalid(
                    "expected `//` after the scheme, as in `postgres://user:password@host:5432/db`",
                ));
            };
            let host_and_rest = match after.rfind('@') {
                Some(at) => &after[at + 1..],
                None => after,
            };
            let end = host_and_rest
                .find(['/', '?', '#'])
                .unwrap_or(host_and_rest.len());
            check_host_port(&host_and_rest[..end]).map_err(invalid)?;
        }
    }
    Ok(backend)
}

fn check_host_port(host_port: &str) -> Result<(), &'static str> {
    let port = if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some(close) = bracketed.find(']') else {
            return Err("an IPv6 host lacks its closing `]`; expected `[::1]:5432`");
        };
        let after = &bracketed[close + 1..];
        match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err("unexpected text after `]`; expected `[::1]:5432`"),
        }
    } else {
        // Several comma-separated hosts are checked one by one.
        for host in host_port.split(',') {
            if let Some((_, port)) = host.rsplit_once(':') {
                check_port(port)?;
            }
        }
        None
    };
    match port {
        Some(port) => check_port(port),
        None => Ok(()),
    }
}

fn check_port(port: &str) -> Result<(), &'static str> {
    if port.is_empty() || port.parse::<u16>().is_ok() {
        Ok(())
    } else {
        Err("the port is not a number from 0 to 65535")
    }
}

/// Bytes percent-encoded in a resolved SQLite path: those sqlx would read as the end of
/// the path (`?`, `#`) or as an escape (`%`), and those `check_url` refuses (whitespace,
/// controls).
const SQLITE_PATH: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'?');

/// `url` with a relative SQLite file path made relative to `dir` (an absolute folder):
/// `sqlite://app.db?mode=rwc` in `/srv/app` becomes `sqlite:///srv/app/app.db?mode=rwc`.
/// Non-SQLite URLs, `:memory:`, `mode=memory`, `file:` URIs and absolute paths are
/// returned unchanged; the query string is kept.
pub(crate) fn resolve_sqlite_path(url: &str, dir: &Path) -> Result<String, ConfigErrorKind> {
    let Some((scheme, rest)) = url.split_once(':') else {
        return Ok(url.to_owned());
    };
    if Backend::from_scheme(scheme) != Some(Backend::Sqlite) {
        return Ok(url.to_owned());
    }
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (database, query) = match rest.split_once('?') {
        Some((database, query)) => (database, Some(query)),
        None => (rest, None),
    };
    let in_memory = query.is_some_and(|q| q.split('&').any(|p| p == "mode=memory"));
    if database.is_empty() || database == ":memory:" || database.starts_with("file:") || in_memory {
        return Ok(url.to_owned());
    }
    let invalid = |reason| ConfigErrorKind::InvalidUrl {
        url: redact(url),
        reason,
    };
    let decoded = percent_decode_str(database)
        .decode_utf8()
        .map_err(|_| invalid("its path is not valid UTF-8 once percent-decoded"))?;
    let file = Path::new(&*decoded);
    if file.is_absolute() {
        return Ok(url.to_owned());
    }
    let joined = dir.join(file);
    let Some(joined) = joined.to_str() else {
        return Err(invalid(
            "the config file's folder is not valid UTF-8, so a relative SQLite path cannot be resolved against it; expected an absolute path",
        ));
    };
    let mut out = format!("sqlite://{}", utf8_percent_encode(joined, SQLITE_PATH));
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// `url` with the password of its user info, and the value of any query parameter whose
/// name contains `password`, replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    // The last `@` ends the user info. If the query holds an `@`, this may hide too much,
    // which is the safe direction.
    let Some(at) = url.rfind('@') else {
        return redact_query(url);
    };
    let (prefix, host) = url.split_at(at);
    // Where the user info starts: after `scheme://`, after `scheme:` when the prefix still
    // has a `user:password` after it, else at the start (no scheme).
    let start = match prefix.find("://") {
        Some(i) => i + 3,
        None if prefix.matches(':').count() >= 2 => prefix.find(':').map_or(0, |i| i + 1),
        None => 0,
    };
    let redacted = match prefix[start..].find(':') {
        Some(colon) => format!("{}:***{host}", &prefix[..start + colon]),
        None => url.to_owned(),
    };
    redact_query(&redacted)
}

fn redact_query(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_owned();
    };
    let (base, query) = url.split_at(q + 1);
    let (query, fragment) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                format!("{name}=***")
            }
            _ => param.to_owned(),
        })
        .collect();
    format!("{base}{}{fragment}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h:5432/db"), "postgres://h:5432/db");
        assert_eq!(redact("mysql://u:p/w@d@h/db"), "mysql://u:***@h/db");
        assert_eq!(
            redact("mysql://h/db?user=a&password=b#f"),
            "mysql://h/db?user=a&password=***#f"
        );
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(redact(""), "");
        assert_eq!(redact("postgres:u:secret@h/db"), "postgres:u:***@h/db");
        assert_eq!(redact("u:secret@h/db"), "u:***@h/db");
        assert_eq!(redact("postgres://u:se:cret@h"), "postgres://u:***@h");
        assert_eq!(redact("mysql://h/db?x=a@b"), "mysql://h/db?x=a@b");
    }

    #[test]
    fn resolves_relative_sqlite_paths() {
        let dir = Path::new("/srv/my app");
        let resolve = |url: &str| resolve_sqlite_path(url, dir).unwrap();
        assert_eq!(resolve("sqlite://app.db"), "sqlite:///srv/my%20app/app.db");
        assert_eq!(
            resolve("sqlite:db/a.db?mode=rwc"),
            "sqlite:///srv/my%20app/db/a.db?mode=rwc"
        );
        assert_eq!(
            resolve("sqlite://x%3Fy.db"),
            "sqlite:///srv/my%20app/x%3Fy.db"
        );
        assert_eq!(resolve("sqlite://./a.db"), "sqlite:///srv/my%20app/./a.db");
        for unchanged in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://shared?mode=memory&cache=shared",
            "sqlite:///abs/a.db?mode=ro",
            "sqlite:file:a.db",
            "postgres://h/db",
            "mysql://h/db",
        ] {
            assert_eq!(resolve(unchanged), unchanged);
        }
        assert!(matches!(
            resolve_sqlite_path("sqlite://%FF.db", dir),
            Err(ConfigErrorKind::InvalidUrl { .. })
        ));
    }

    #[test]
    fn checks() {
        assert_eq!(check_url("postgres://u:p@h:5432/db"), Ok(Backend::Postgres));
        assert_eq!(check_url("postgresql:///db"), Ok(Backend::Postgres));
        assert_eq!(check_url("mariadb://[::1]:3306/db"), Ok(Backend::MySql));
        assert_eq!(check_url("sqlite::memory:"), Ok(Backend::Sqlite));
        assert_eq!(check_url("sqlite://app.db?mode=rwc"), Ok(Backend::Sqlite));
        assert_eq!(check_url(""), Err(ConfigErrorKind::EmptyUrl));
        assert_eq!(check_url("  "), Err(ConfigErrorKind::EmptyUrl));
        for bad in [
            "postgres:db",
            "postgres://h:port/db",
            "postgres://[::1/db",
            "sqlite:",
            "sqlite://",
            "127.0.0.1:5432",
            "no scheme",
            "nocolon",
            "postgres://h:99999/db",
        ] {
            assert!(
                matches!(check_url(bad), Err(ConfigErrorKind::InvalidUrl { .. })),
                "{bad}: {:?}",
                check_url(bad)
            );
        }
        assert!(matches!(
            check_url("oracle://h/db"),
            Err(ConfigErrorKind::UnknownScheme { .. })
        ));
    }
}
