//! Classifying SQL written by the user (raw SQL, `find_by_sql`) as a read or a write, so
//! that a write sent with a method that usually reads (`fetch_all`, `fetch_optional`,
//! `find_by_sql`) is routed and checked as a write, and refused on read-only targets
//! before it is sent.
//!
//! The classification is lexical and conservative: only what is known to read is a read.
//! It removes comments (but scans MariaDB/MySQL executable comments `/*! .. */` as code),
//! string literals, quoted identifiers and PostgreSQL dollar-quoted bodies, then looks at
//! the words. A statement is a **write** when:
//!
//! - its verb is not one of `SELECT`, `WITH`, `VALUES`, `TABLE`, `SHOW`, `EXPLAIN`,
//!   `DESCRIBE`/`DESC`, or a `PRAGMA` that only reads (`INSERT`, `UPDATE`, `DELETE`,
//!   `MERGE`, `REPLACE`, DDL, `TRUNCATE`, `SET`, `RESET`, `BEGIN`/`START TRANSACTION`,
//!   `COMMIT`, `CALL`, `DO`, `COPY`, `LOCK`, `USE`, `ATTACH`, ... and anything unknown);
//! - it contains `INSERT`, `UPDATE`, `DELETE` or `MERGE` anywhere (data-modifying CTEs,
//!   `EXPLAIN ANALYZE` of a write), `INTO` (`SELECT .. INTO`), a locking clause (`FOR
//!   UPDATE`, `FOR SHARE`, `FOR NO KEY UPDATE`, `FOR KEY SHARE`, `LOCK IN SHARE MODE`);
//! - it calls PostgreSQL's `set_config` (which could lift a read-only session);
//! - the text holds more than one statement.
//!
//! What it cannot see: a function or procedure that writes when called from a `SELECT`.
//! There the server is the guarantee: read-only targets run read-only sessions, and after
//! SQL written by the user a pooled connection of a read-only session is made read-only
//! again before any other caller gets it.

/// What a piece of SQL does, as far as routing is concerned.
///
/// ```
/// use grant_core::{classify_sql, SqlKind};
/// assert_eq!(classify_sql("SELECT * FROM users WHERE name = 'update'"), SqlKind::Read);
/// assert_eq!(classify_sql("INSERT INTO t VALUES (1) RETURNING id"), SqlKind::Write);
/// assert_eq!(classify_sql("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"), SqlKind::Write);
/// assert_eq!(classify_sql("SELECT * FROM t FOR UPDATE"), SqlKind::Write);
/// assert_eq!(classify_sql("SET default_transaction_read_only = off"), SqlKind::Write);
/// assert_eq!(classify_sql("SELECT 1; SELECT 2"), SqlKind::Write);
/// assert_eq!(classify_sql("PRAGMA table_info(users)"), SqlKind::Read);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlKind {
    /// Known to only read.
    Read,
    /// Writes, changes the session, or is not known to only read.
    Write,
}

/// Classify `sql`; see [`SqlKind`] and the rules in this module's documentation.
pub fn classify_sql(sql: &str) -> SqlKind {
    let mut lexer = Lexer::new(sql);
    let mut statements = 0usize;
    let mut current = Statement::default();
    let mut kind = SqlKind::Read;
    while let Some(token) = lexer.next() {
        match token {
            Token::Semicolon => {
                if !current.is_empty() {
                    statements += 1;
                    if current.finish() == SqlKind::Write {
                        kind = SqlKind::Write;
                    }
                    current = Statement::default();
                }
            }
            t => current.push(t),
        }
    }
    if !current.is_empty() {
        statements += 1;
        if current.finish() == SqlKind::Write {
            kind = SqlKind::Write;
        }
    }
    if statements > 1 || lexer.unterminated {
        return SqlKind::Write;
    }
    kind
}

/// One token: a word (lowercased comparison happens on the original bytes), or punctuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Semicolon,
    Open,
    Equals,
    Dot,
    Other,
    /// A string literal or quoted identifier (its content does not matter).
    Quoted,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Depth of MariaDB/MySQL executable comments being scanned as code.
    executable: usize,
    /// A string or comment was not closed: treat the text as a write.
    unterminated: bool,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            src,
            pos: 0,
            executable: 0,
            unterminated: false,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    fn peek(&self, at: usize) -> Option<u8> {
        self.bytes().get(self.pos + at).copied()
    }

    /// Skip to just after `close` (a single byte) honouring doubled-quote and (when
    /// `backslash`) backslash escapes.
    fn quoted(&mut self, close: u8, backslash: bool) {
        let b = self.bytes();
        while self.pos < b.len() {
            let c = b[self.pos];
            if backslash && c == b'\\' {
                self.pos += 2;
                continue;
            }
            if c == close {
                if b.get(self.pos + 1) == Some(&close) {
                    self.pos += 2;
                    continue;
                }
                self.pos += 1;
                return;
            }
            self.pos += 1;
        }
        self.unterminated = true;
    }

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            let b = self.bytes();
            let c = *b.get(self.pos)?;
            match c {
                c if c.is_ascii_whitespace() => self.pos += 1,
                b'-' if self.peek(1) == Some(b'-') => self.skip_line(),
                b'#' => self.skip_line(),
                b'/' if self.peek(1) == Some(b'*') => {
                    // `/*!` and `/*M!` are executed by MariaDB/MySQL: scan their body as code.
                    let rest = &b[self.pos + 2..];
                    if rest.first() == Some(&b'!') || rest.starts_with(b"M!") {
                        self.pos += if rest.first() == Some(&b'!') { 3 } else { 4 };
                        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                            self.pos += 1;
                        }
                        self.executable += 1;
                    } else {
                        self.skip_block_comment();
                    }
                }
                b'*' if self.executable > 0 && self.peek(1) == Some(b'/') => {
                    self.executable -= 1;
                    self.pos += 2;
                }
                b'\'' => {
                    self.pos += 1;
                    // E'..' strings and MariaDB/MySQL strings honour backslash escapes;
                    // treating them so everywhere can only end a string later, never hide
                    // code inside a string.
                    self.quoted(b'\'', true);
                    return Some(Token::Quoted);
                }
                b'"' => {
                    self.pos += 1;
                    self.quoted(b'"', true);
                    return Some(Token::Quoted);
                }
                b'`' => {
                    self.pos += 1;
                    self.quoted(b'`', false);
                    return Some(Token::Quoted);
                }
                b'[' => {
                    // SQLite's [quoted identifier].
                    self.pos += 1;
                    self.quoted(b']', false);
                    return Some(Token::Quoted);
                }
                b'$' => {
                    if self.dollar_quoted() {
                        return Some(Token::Quoted);
                    }
                    // `$1` placeholders and the like.
                    self.pos += 1;
                    while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                    return Some(Token::Other);
                }
                b';' => {
                    self.pos += 1;
                    return Some(Token::Semicolon);
                }
                b'(' => {
                    self.pos += 1;
                    return Some(Token::Open);
                }
                b'=' => {
                    self.pos += 1;
                    return Some(Token::Equals);
                }
                b'.' => {
                    self.pos += 1;
                    return Some(Token::Dot);
                }
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let start = self.pos;
                    while self.peek(0).is_some_and(|c| {
                        c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
                    }) {
                        self.pos += 1;
                    }
                    return Some(Token::Word(&self.src[start..self.pos]));
                }
                _ => {
                    self.pos += 1;
                    return Some(Token::Other);
                }
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            if c == b'\n' {
                break;
            }
        }
    }

    /// Block comments nest on PostgreSQL; counting nesting everywhere can only make a
    /// comment longer on MariaDB/SQLite, which then makes the text unterminated (a write).
    fn skip_block_comment(&mut self) {
        let b = self.bytes();
        let mut depth = 0usize;
        while self.pos < b.len() {
            if b[self.pos..].starts_with(b"/*") {
                depth += 1;
                self.pos += 2;
            } else if b[self.pos..].starts_with(b"*/") {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.pos += 1;
            }
        }
        self.unterminated = true;
    }

    /// Skip a PostgreSQL `$tag$ .. $tag$` string at the current position, if it is one.
    fn dollar_quoted(&mut self) -> bool {
        let b = self.bytes();
        let start = self.pos;
        let mut end_tag = start + 1;
        while end_tag < b.len() && (b[end_tag].is_ascii_alphanumeric() || b[end_tag] == b'_') {
            if end_tag == start + 1 && b[end_tag].is_ascii_digit() {
                return false;
            }
            end_tag += 1;
        }
        if b.get(end_tag) != Some(&b'$') {
            return false;
        }
        let tag = &b[start..=end_tag];
        let body = end_tag + 1;
        match b[body..].windows(tag.len()).position(|w| w == tag) {
            Some(i) => self.pos = body + i + tag.len(),
            None => {
                self.pos = b.len();
                self.unterminated = true;
            }
        }
        true
    }
}

/// One statement, judged as its tokens arrive (no allocation): its verb, the first tokens
/// after it (enough for `PRAGMA schema.name(..)`), and whether a token after it writes.
#[derive(Default)]
struct Statement<'a> {
    verb: Option<&'a str>,
    /// The first tokens after the verb.
    head: [Option<Token<'a>>; 4],
    /// How many tokens followed the verb.
    count: usize,
    /// The previous token after the verb, when it was a word.
    prev_word: Option<&'a str>,
    /// DML, `INTO`, a locking clause or `set_config` after the verb.
    writes: bool,
    any: bool,
}

impl<'a> Statement<'a> {
    fn is_empty(&self) -> bool {
        !self.any
    }

    fn push(&mut self, t: Token<'a>) {
        self.any = true;
        match (self.verb, t) {
            (None, Token::Word(w)) => self.verb = Some(w),
            // `(SELECT ..) UNION (..)`: leading parentheses before the verb.
            (None, Token::Open) => {}
            (None, _) => self.verb = Some(""),
            (Some(_), t) => {
                if let Some(slot) = self.head.get_mut(self.count) {
                    *slot = Some(t);
                }
                self.count += 1;
                let prev = self.prev_word.take();
                if let Token::Word(w) = t {
                    self.writes = self.writes || writes_at(prev, w);
                    self.prev_word = Some(w);
                }
            }
        }
    }

    fn finish(&self) -> SqlKind {
        let Some(verb) = self.verb else {
            return SqlKind::Read;
        };
        let is = |w: &str| verb.eq_ignore_ascii_case(w);
        if is("pragma") {
            return self.pragma();
        }
        let read_verb = [
            "select", "with", "values", "table", "show", "explain", "describe", "desc",
        ]
        .iter()
        .any(|v| is(v));
        if !read_verb || self.writes {
            SqlKind::Write
        } else {
            SqlKind::Read
        }
    }

    /// The token at `i` after the verb (`None` past the end; only the first few are kept).
    fn token(&self, i: usize) -> Option<Token<'a>> {
        self.head.get(i).copied().flatten()
    }

    /// `PRAGMA name`, `PRAGMA schema.name` and the table-valued `PRAGMA name(arg)` of the
    /// pragmas that only read are reads; any `PRAGMA name = value` or `name(value)` of a
    /// setting is a write.
    fn pragma(&self) -> SqlKind {
        let at = match (self.token(0), self.token(1)) {
            (Some(Token::Word(_)), Some(Token::Dot)) => 2,
            _ => 0,
        };
        let Some(Token::Word(name)) = self.token(at) else {
            return SqlKind::Write;
        };
        let one_of = |list: &[&str]| list.iter().any(|n| name.eq_ignore_ascii_case(n));
        if self.count == at + 1 {
            // Nothing after the name.
            if one_of(PRAGMA_QUERIES) || one_of(PRAGMA_TABLES) {
                return SqlKind::Read;
            }
        } else if self.token(at + 1) == Some(Token::Open) && one_of(PRAGMA_TABLES) {
            return SqlKind::Read;
        }
        SqlKind::Write
    }
}

/// Whether word `w` after the verb writes, given the word just before it (`prev`, if the
/// token before it was a word): DML, `INTO` (`SELECT .. INTO`), `set_config`, and the
/// locking clauses `FOR SHARE`, `FOR KEY SHARE`, `FOR NO KEY UPDATE`, `LOCK IN SHARE MODE`
/// (`FOR UPDATE` is caught by `update`).
fn writes_at(prev: Option<&str>, w: &str) -> bool {
    let is = |x: &str| w.eq_ignore_ascii_case(x);
    let prev_is = |x: &str| prev.is_some_and(|p| p.eq_ignore_ascii_case(x));
    is("insert")
        || is("update")
        || is("delete")
        || is("merge")
        || is("into")
        || is("set_config")
        || (prev_is("for") && (is("share") || is("key") || is("no")))
        || (prev_is("lock") && is("in"))
}

/// Pragmas that only report something when given no value.
const PRAGMA_QUERIES: &[&str] = &[
    "application_id",
    "auto_vacuum",
    "busy_timeout",
    "cache_size",
    "compile_options",
    "data_version",
    "encoding",
    "foreign_keys",
    "freelist_count",
    "journal_mode",
    "locking_mode",
    "max_page_count",
    "mmap_size",
    "page_count",
    "page_size",
    "query_only",
    "recursive_triggers",
    "schema_version",
    "secure_delete",
    "synchronous",
    "temp_store",
    "user_version",
];

/// Pragmas that read, optionally with an argument in parentheses.
const PRAGMA_TABLES: &[&str] = &[
    "collation_list",
    "database_list",
    "foreign_key_check",
    "foreign_key_list",
    "function_list",
    "index_info",
    "index_list",
    "index_xinfo",
    "integrity_check",
    "module_list",
    "pragma_list",
    "quick_check",
    "table_info",
    "table_list",
    "table_xinfo",
];

#[cfg(test)]
mod tests {
    use super::{classify_sql, SqlKind};

    #[test]
    fn reads() {
        for sql in [
            "SELECT 1",
            "  select * from t where a = 'insert; delete'  ",
            "SELECT 1;",
            "(SELECT 1) UNION (SELECT 2)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "SELECT \"update\" FROM t -- delete\n",
            "SELECT /* update */ 1",
            "SHOW search_path",
            "EXPLAIN SELECT 1",
            "VALUES (1)",
            "PRAGMA table_info(t)",
            "PRAGMA main.table_info(t)",
            "PRAGMA query_only",
            "SELECT $1::int",
            "SELECT $$ delete $$",
            "SELECT updated_at, created_at FROM t",
            "SELECT replace(name, 'a', 'b') FROM t",
            "SELECT current_setting('default_transaction_read_only')",
            "PRAGMA main.user_version",
            "PRAGMA table_info",
            "SELECT \"for\" FROM t WHERE share = 1",
            "SELECT lock, \"in\" FROM t",
        ] {
            assert_eq!(classify_sql(sql), SqlKind::Read, "{sql}");
        }
    }

    #[test]
    fn writes() {
        for sql in [
            "INSERT INTO t VALUES (1) RETURNING id",
            "update t set a = 1 returning *",
            "DELETE FROM t RETURNING *",
            "CREATE TABLE x (a INT)",
            "DROP TABLE t",
            "TRUNCATE t",
            "REPLACE INTO t VALUES (1)",
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t FOR NO KEY UPDATE",
            "SELECT * FROM t FOR SHARE",
            "SELECT * FROM t FOR KEY SHARE",
            "SELECT * FROM t LOCK IN SHARE MODE",
            "SELECT * INTO new_t FROM t",
            "SET default_transaction_read_only = off",
            "SET SESSION TRANSACTION READ WRITE",
            "SET SESSION tx_read_only = 0",
            "BEGIN READ WRITE",
            "START TRANSACTION READ WRITE",
            "RESET ALL",
            "DISCARD ALL",
            "PRAGMA query_only = 0",
            "PRAGMA query_only(0)",
            "PRAGMA journal_mode = WAL",
            "PRAGMA journal_mode(WAL)",
            "PRAGMA wal_checkpoint",
            "PRAGMA main.user_version = 3",
            "PRAGMA main.query_only(0)",
            "PRAGMA main.",
            "SELECT * FROM t FOR\n  SHARE",
            "PRAGMA query_only = 0; INSERT INTO t VALUES (2)",
            "SELECT set_config('default_transaction_read_only', 'off', false)",
            "SELECT pg_catalog.set_config('x', 'y', false)",
            "SELECT 1; SELECT 2",
            "SELECT 1 /*! ; SET SESSION TRANSACTION READ WRITE */",
            "SELECT 1 /*!50000 INTO @x */",
            "SELECT 'unterminated",
            "DO $$ BEGIN END $$",
            "CALL p()",
            "COPY t FROM STDIN",
            "LOCK TABLE t",
            "USE other",
            "ATTACH DATABASE 'x.db' AS x",
            "EXPLAIN ANALYZE DELETE FROM t",
            "frobnicate",
            "",
        ]
        .iter()
        .filter(|s| !s.is_empty())
        {
            assert_eq!(classify_sql(sql), SqlKind::Write, "{sql}");
        }
    }

    #[test]
    fn empty_text_is_a_read_of_nothing() {
        assert_eq!(classify_sql(""), SqlKind::Read);
        assert_eq!(classify_sql(" ; -- nothing"), SqlKind::Read);
    }
}
