//! Dotted key paths for error messages: `databases.primary.replicas[0]`.

/// Whether `name` is a valid database, shard or role name: one or more of `[A-Za-z0-9_-]`.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `parent.key`, quoting `key` as TOML would when it is not a bare key.
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    let segment = if valid_name(key) {
        key.to_owned()
    } else {
        let mut quoted = String::with_capacity(key.len() + 2);
        quoted.push('"');
        for c in key.chars() {
            match c {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        quoted
    };
    if parent.is_empty() {
        segment
    } else {
        format!("{parent}.{segment}")
    }
}

/// `parent[index]`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(key_path("", "databases"), "databases");
        assert_eq!(key_path("databases", "primary"), "databases.primary");
        assert_eq!(key_path("databases", "my db"), "databases.\"my db\"");
        assert_eq!(key_path("databases", ""), "databases.\"\"");
        assert_eq!(key_path("a", "x\"y\n"), "a.\"x\\\"y\\u000A\"");
        assert_eq!(index_path("a.replicas", 2), "a.replicas[2]");
    }
}
