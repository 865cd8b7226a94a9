//! Migration files on disk: names, validation, checksums and statement splitting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::MigrateError;

/// A line that, anywhere in a file, switches splitting to explicit mode: the file is split
/// only at such lines (see [`split_statements`]).
pub const BREAK_MARKER: &str = "-- grant:break";

/// A line that, anywhere in an up or down file, makes it run without a transaction (each
/// statement on its own, e.g. PostgreSQL's `CREATE INDEX CONCURRENTLY`).
pub const NO_TRANSACTION_MARKER: &str = "-- grant:no-transaction";

/// The longest migration name accepted (the `name` column is `VARCHAR(255)` on MariaDB).
pub const MAX_NAME_LEN: usize = 255;

/// One migration: an up file `<version>_<name>.sql` and, optionally, its down file
/// `<version>_<name>.down.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The version: the digits before the first `_` (`0001` is version 1).
    pub version: i64,
    /// The name: what follows the first `_`, without `.sql`.
    pub name: String,
    /// The up file.
    pub path: PathBuf,
    /// FNV-1a 64 of the up file's bytes, as 16 lowercase hex digits (see [`checksum`]).
    pub checksum: String,
    /// The up file's statements, in order.
    pub statements: Vec<Statement>,
    /// Whether the up file asked to run without a transaction ([`NO_TRANSACTION_MARKER`]).
    pub no_transaction: bool,
    /// The down file, if there is one.
    pub down: Option<DownMigration>,
}

/// The down (revert) file of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownMigration {
    /// The down file.
    pub path: PathBuf,
    /// Its statements, in order.
    pub statements: Vec<Statement>,
    /// Whether it asked to run without a transaction ([`NO_TRANSACTION_MARKER`]).
    pub no_transaction: bool,
}

/// One statement of a migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The SQL text, trimmed, without the terminating `;`.
    pub sql: String,
    /// The line (from 1) of the file where the statement starts.
    pub line: usize,
}

/// FNV-1a 64 of `bytes`, as 16 lowercase hex digits: the checksum recorded for each
/// applied migration. The algorithm is fixed, so checksums agree across processes,
/// platforms and versions.
///
/// ```
/// assert_eq!(grant_migrate::checksum(b""), "cbf29ce484222325");
/// assert_eq!(grant_migrate::checksum(b"a"), "af63dc4c8601ec8c");
/// ```
pub fn checksum(bytes: &[u8]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("{hash:016x}")
}

/// Which file of a migration a name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Up,
    Down,
}

/// Parse a file name. `None`: not a migration file (not `.sql`), ignored.
pub(crate) fn parse_file_name(file_name: &str) -> Option<Result<(i64, &str, Kind), String>> {
    let (stem, kind) = if let Some(stem) = file_name.strip_suffix(".down.sql") {
        (stem, Kind::Down)
    } else if let Some(stem) = file_name.strip_suffix(".sql") {
        (stem, Kind::Up)
    } else {
        return None;
    };
    Some(parse_stem(stem).map(|(version, name)| (version, name, kind)))
}

fn parse_stem(stem: &str) -> Result<(i64, &str), String> {
    const EXPECTED: &str = "expected `<version>_<name>.sql` or `<version>_<name>.down.sql` \
                            (e.g. `20261124090000_create_users.sql`)";
    let Some((version, name)) = stem.split_once('_') else {
        return Err(format!("no `_` between version and name; {EXPECTED}"));
    };
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the version `{version}` is not a number; {EXPECTED}"
        ));
    }
    let version = version.parse::<i64>().map_err(|_| {
        format!(
            "the version `{version}` is too large (at most {})",
            i64::MAX
        )
    })?;
    if name.is_empty() {
        return Err(format!("the name after `_` is empty; {EXPECTED}"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "the name `{name}` contains {bad:?}; names may contain only ASCII letters, digits, `_` and `-`; {EXPECTED}"
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "the name is {} characters long (at most {MAX_NAME_LEN})",
            name.len()
        ));
    }
    Ok((version, name))
}

struct UpFile {
    name: String,
    path: PathBuf,
    text: String,
    checksum: String,
}

/// Read and validate the migrations folder `dir` of `database`: every `*.sql` file must be
/// named `<version>_<name>.sql` or `<version>_<name>.down.sql`, versions must be unique,
/// every down file needs its up file, and files must be UTF-8. Other files (and names
/// starting with `.`, and folders) are ignored. The result is sorted by version.
///
/// ```no_run
/// let migrations = grant_migrate::load_migrations("primary", "migrations/primary".as_ref())?;
/// for m in &migrations {
///     println!("{} {} ({} statements)", m.version, m.name, m.statements.len());
/// }
/// # Ok::<(), grant_migrate::MigrateError>(())
/// ```
pub fn load_migrations(database: &str, dir: &Path) -> Result<Vec<Migration>, MigrateError> {
    let read_dir = |source| MigrateError::ReadDir {
        database: database.to_string(),
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir)? {
        let entry = entry.map_err(read_dir)?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(read_dir)?;
        let is_file = file_type.is_file() || (file_type.is_symlink() && path.is_file());
        if !is_file {
            tracing::debug!(database, path = %path.display(), "grant-migrate: ignoring non-file");
            continue;
        }
        paths.push(path);
    }
    paths.sort();

    let mut ups: BTreeMap<i64, UpFile> = BTreeMap::new();
    let mut downs: BTreeMap<i64, (String, PathBuf, String)> = BTreeMap::new();
    for path in paths {
        let raw_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if raw_name.starts_with('.') {
            tracing::debug!(database, path = %path.display(), "grant-migrate: ignoring hidden file");
            continue;
        }
        let bad_name = |reason: String| MigrateError::BadFileName {
            database: database.to_string(),
            file: path.clone(),
            reason,
        };
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            if raw_name.ends_with(".sql") {
                return Err(bad_name("the file name is not valid UTF-8".to_string()));
            }
            continue;
        };
        let (version, name, kind) = match parse_file_name(file_name) {
            None => {
                tracing::debug!(database, path = %path.display(), "grant-migrate: ignoring non-.sql file");
                continue;
            }
            Some(Err(reason)) => return Err(bad_name(reason)),
            Some(Ok(parsed)) => parsed,
        };
        let bytes = std::fs::read(&path).map_err(|source| MigrateError::ReadFile {
            database: database.to_string(),
            file: path.clone(),
            source,
        })?;
        let sum = checksum(&bytes);
        let text = String::from_utf8(bytes).map_err(|e| MigrateError::NotUtf8 {
            database: database.to_string(),
            file: path.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        let duplicate = |other: &Path| MigrateError::DuplicateVersion {
            database: database.to_string(),
            version,
            file: path.clone(),
            other: other.to_path_buf(),
        };
        match kind {
            Kind::Up => {
                if let Some(first) = ups.get(&version) {
                    return Err(duplicate(&first.path));
                }
                ups.insert(
                    version,
                    UpFile {
                        name: name.to_string(),
                        path: path.clone(),
                        text,
                        checksum: sum,
                    },
                );
            }
            Kind::Down => {
                if let Some((_, first, _)) = downs.get(&version) {
                    return Err(duplicate(first));
                }
                downs.insert(version, (name.to_string(), path.clone(), text));
            }
        }
    }

    let mut out = Vec::with_capacity(ups.len());
    for (version, (name, path, _)) in &downs {
        let matching = ups.get(version).is_some_and(|up| &up.name == name);
        if !matching {
            return Err(MigrateError::OrphanDown {
                database: database.to_string(),
                file: path.clone(),
                expected: format!("{version}_{name}.sql"),
                found: ups.get(version).map(|up| up.path.clone()),
            });
        }
    }
    for (version, up) in ups {
        let down = downs.remove(&version).map(|(_, path, text)| DownMigration {
            path,
            no_transaction: has_marker(&text, NO_TRANSACTION_MARKER),
            statements: split_statements(&text),
        });
        out.push(Migration {
            version,
            name: up.name,
            path: up.path,
            checksum: up.checksum,
            no_transaction: has_marker(&up.text, NO_TRANSACTION_MARKER),
            statements: split_statements(&up.text),
            down,
        });
    }
    tracing::debug!(
        database,
        path = %dir.display(),
        migrations = out.len(),
        "grant-migrate: migrations loaded"
    );
    Ok(out)
}

fn has_marker(text: &str, marker: &str) -> bool {
    text.lines().any(|l| l.trim() == marker)
}

/// Split a migration file into statements.
///
/// Grant runs statements as prepared statements, which hold one statement each, so a file
/// is split:
///
/// * **Automatic mode** (the default): a statement ends at a `;` that is the last thing on
///   its line (trailing whitespace and a trailing `-- comment` allowed). A `;` in the
///   middle of a line does *not* split, nor does one inside a `'string'`, `"identifier"`,
///   `` `identifier` ``, `-- comment`, `/* comment */` or PostgreSQL `$$ body $$` /
///   `$tag$ body $tag$`. Quotes inside strings must be doubled (`'it''s'`): backslash
///   escapes are not understood. A statement without a final `;` at the end of the file
///   is kept.
/// * **Explicit mode**: when any line of the file is exactly `-- grant:break`
///   ([`BREAK_MARKER`]), the file is split only at those lines (one trailing `;` of each
///   piece is dropped). Use it for bodies the automatic rule cuts wrongly, such as
///   SQLite or MariaDB triggers (`BEGIN ... ; ... END`).
///
/// Pieces holding only whitespace and comments are dropped.
///
/// ```
/// use grant_migrate::split_statements;
///
/// let sql = "CREATE TABLE a (id INT);\n-- a comment;\nINSERT INTO a VALUES (1); -- first\n\
///            CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n";
/// let statements = split_statements(sql);
/// assert_eq!(statements.len(), 3);
/// assert_eq!(statements[0].sql, "CREATE TABLE a (id INT)");
/// assert_eq!(statements[1].line, 3); // the comment line before it is kept in its text
/// assert!(statements[2].sql.starts_with("CREATE FUNCTION"));
/// assert_eq!(statements[2].line, 4);
/// ```
pub fn split_statements(sql: &str) -> Vec<Statement> {
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    if has_marker(sql, BREAK_MARKER) {
        split_on_markers(sql)
    } else {
        split_auto(sql)
    }
}

fn split_on_markers(sql: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut chunk: Vec<&str> = Vec::new();
    let mut chunk_start = 1;
    let flush = |chunk: &mut Vec<&str>, first_line: usize, out: &mut Vec<Statement>| {
        let significant = chunk.iter().position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with("--")
        });
        if let Some(offset) = significant {
            let text = chunk.join("\n");
            let text = text.trim();
            let text = text.strip_suffix(';').unwrap_or(text).trim_end();
            out.push(Statement {
                sql: text.to_string(),
                line: first_line + offset,
            });
        }
        chunk.clear();
    };
    for (i, line) in sql.lines().enumerate() {
        if line.trim() == BREAK_MARKER {
            flush(&mut chunk, chunk_start, &mut out);
            chunk_start = i + 2;
        } else {
            chunk.push(line);
        }
    }
    flush(&mut chunk, chunk_start, &mut out);
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Normal,
    LineComment,
    BlockComment,
    Quote(u8),
    Dollar(String),
}

fn split_auto(sql: &str) -> Vec<Statement> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut state = State::Normal;
    let mut line = 1;
    let mut start = 0; // byte offset of the current piece
    let mut first_line: Option<usize> = None; // line of the piece's first significant byte
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'\n' {
            line += 1;
        }
        match &state {
            State::Normal => match c {
                b'-' if next == Some(b'-') => {
                    state = State::LineComment;
                    i += 2;
                    continue;
                }
                b'/' if next == Some(b'*') => {
                    state = State::BlockComment;
                    i += 2;
                    continue;
                }
                b'\'' | b'"' | b'`' => {
                    first_line.get_or_insert(line);
                    state = State::Quote(c);
                }
                b'$' => {
                    first_line.get_or_insert(line);
                    let after_ident = i > 0 && is_ident_byte(b[i - 1]);
                    if let (false, Some(len)) = (after_ident, dollar_tag_len(&b[i..])) {
                        state = State::Dollar(sql[i..i + len].to_string());
                        i += len;
                        continue;
                    }
                }
                b';' if rest_of_line_is_blank(&sql[i + 1..]) => {
                    if let Some(first) = first_line.take() {
                        out.push(Statement {
                            sql: sql[start..i].trim().to_string(),
                            line: first,
                        });
                    }
                    // A trailing `-- comment` on the same line belongs to this statement.
                    start = sql[i..].find('\n').map_or(sql.len(), |n| i + n);
                }
                c if c.is_ascii_whitespace() => {}
                _ => {
                    first_line.get_or_insert(line);
                }
            },
            State::LineComment => {
                if c == b'\n' {
                    state = State::Normal;
                }
            }
            State::BlockComment => {
                if c == b'*' && next == Some(b'/') {
                    state = State::Normal;
                    i += 2;
                    continue;
                }
            }
            State::Quote(q) => {
                if c == *q {
                    if next == Some(*q) {
                        i += 2;
                        continue;
                    }
                    state = State::Normal;
                }
            }
            State::Dollar(tag) => {
                if b[i..].starts_with(tag.as_bytes()) {
                    i += tag.len();
                    state = State::Normal;
                    continue;
                }
            }
        }
        i += 1;
    }
    if let Some(first) = first_line {
        let text = sql[start..].trim();
        if !text.is_empty() {
            out.push(Statement {
                sql: text.to_string(),
                line: first,
            });
        }
    }
    out
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Length of a dollar-quote opener (`$$` or `$tag$`) at the start of `b`.
fn dollar_tag_len(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'$') {
        return None;
    }
    let mut j = 1;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    if j < b.len() && b[j] == b'$' && (j == 1 || !b[1].is_ascii_digit()) {
        Some(j + 1)
    } else {
        None
    }
}

/// Whether the rest of the line is blank or a `--` comment.
fn rest_of_line_is_blank(rest: &str) -> bool {
    let line = rest.split('\n').next().unwrap_or("").trim();
    line.is_empty() || line.starts_with("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(text: &str) -> Vec<String> {
        split_statements(text).into_iter().map(|s| s.sql).collect()
    }

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(checksum(b""), "cbf29ce484222325");
        assert_eq!(checksum(b"a"), "af63dc4c8601ec8c");
        assert_eq!(checksum(b"foobar"), "85944171f73967e8");
    }

    #[test]
    fn splits_at_line_ends_only() {
        assert_eq!(
            sqls("CREATE TABLE a (x INT);\nINSERT INTO a VALUES (1); INSERT INTO a VALUES (2);\n"),
            [
                "CREATE TABLE a (x INT)",
                "INSERT INTO a VALUES (1); INSERT INTO a VALUES (2)"
            ]
        );
    }

    #[test]
    fn keeps_quoted_and_commented_semicolons() {
        let text = "INSERT INTO t VALUES ('a;\nb;');\n/* x;\n y; */\nSELECT \"c;\n\";\n-- only a comment;\n";
        assert_eq!(
            sqls(text),
            [
                "INSERT INTO t VALUES ('a;\nb;')",
                "/* x;\n y; */\nSELECT \"c;\n\""
            ]
        );
        assert_eq!(sqls("SELECT 'it''s;\n';"), ["SELECT 'it''s;\n'"]);
    }

    #[test]
    fn dollar_quotes() {
        let text = "CREATE FUNCTION f() RETURNS int AS $body$\nBEGIN\n  RETURN 1;\nEND;\n$body$ LANGUAGE plpgsql;\nSELECT $1;\n";
        let s = split_statements(text);
        assert_eq!(s.len(), 2);
        assert!(s[0].sql.ends_with("LANGUAGE plpgsql"));
        assert_eq!(s[1].sql, "SELECT $1");
        assert_eq!(s[1].line, 6);
        // `a$b$` is an identifier, not a dollar quote.
        assert_eq!(sqls("SELECT a$b$;\nSELECT 2;"), ["SELECT a$b$", "SELECT 2"]);
    }

    #[test]
    fn trailing_comment_and_missing_semicolon() {
        assert_eq!(
            sqls("\u{feff}SELECT 1; -- one\n\n  SELECT 2"),
            ["SELECT 1", "SELECT 2"]
        );
        let s = split_statements("-- header\n\nSELECT 1;\n");
        assert_eq!(s[0].line, 3);
        assert!(split_statements("-- nothing;\n\n").is_empty());
    }

    #[test]
    fn explicit_markers() {
        let text = "CREATE TABLE t (x INT);\n-- grant:break\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET x = 1;\nEND;\n-- grant:break\n-- just a comment\n";
        let s = split_statements(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].sql, "CREATE TABLE t (x INT)");
        assert_eq!(s[1].line, 3);
        assert!(s[1].sql.ends_with("UPDATE t SET x = 1;\nEND"));
    }

    #[test]
    fn file_names() {
        assert_eq!(
            parse_file_name("20261124090000_create_users.sql"),
            Some(Ok((20261124090000, "create_users", Kind::Up)))
        );
        assert_eq!(
            parse_file_name("0001_init.down.sql"),
            Some(Ok((1, "init", Kind::Down)))
        );
        assert_eq!(parse_file_name("README.md"), None);
        for bad in [
            "init.sql",
            "abc_init.sql",
            "0001_.sql",
            "0001_in it.sql",
            "0001_init.up.sql",
            "99999999999999999999_x.sql",
            "_x.sql",
        ] {
            assert!(
                matches!(parse_file_name(bad), Some(Err(_))),
                "{bad} should be rejected"
            );
        }
    }
}
