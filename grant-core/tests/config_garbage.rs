//! Configuration tests: garbage in, no panic out. A deterministic generator mutates and
//! assembles documents; every result must be a valid config or an error naming its key.

mod common;

use common::FULL;
use grant_core::config::Config;

/// A small deterministic generator (xorshift64*), so the test needs no `rand`.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "\"",
    "'",
    "=",
    "\n",
    ".",
    ",",
    "{",
    "}",
    "$",
    "${",
    "${X",
    ":-",
    "$$",
    "#",
    "\\",
    "\\u",
    "0",
    "-1",
    "1e999",
    "true",
    "\u{0}",
    "é",
    "\u{1F600}",
    "databases",
    "primary",
    "url",
    "replica_of",
    "roles",
    "shards",
    "pool",
    "environments",
    "\"\"\"",
    "inf",
    "nan",
    "1979-05-27T07:32:00Z",
    "[databases.x]",
    "url = \"sqlite::memory:\"\n",
];

const KEYS: &[&str] = &[
    "replicas",
    "replica_of",
    "readonly",
    "migrations",
    "roles",
    "shards",
    "statement_timeout",
    "after_connect",
    "sqlite",
];
const POOL_KEYS: &[&str] = &[
    "max_connections",
    "min_connections",
    "acquire_timeout",
    "connect_timeout",
    "idle_timeout",
    "max_lifetime",
    "test_before_acquire",
];
const VALUES: &[&str] = &[
    "\"sqlite::memory:\"",
    "\"postgres://h/db\"",
    "\"mysql://u:p@h:3306/db\"",
    "\"oracle://x\"",
    "\"\"",
    "\"${V}\"",
    "\"${V:-5s}\"",
    "\"${\"",
    "\"$$\"",
    "0",
    "-1",
    "10",
    "99999999999",
    "9223372036854775807",
    "4294967295",
    "\"106751991167300d\"",
    "true",
    "false",
    "\"none\"",
    "\"1h30m\"",
    "\"5 parsecs\"",
    "1.5",
    "[]",
    "[\"postgres://r/db\"]",
    "[1, 2]",
    "{ a = \"primary\" }",
    "{ reading = \"primary\" }",
    "{ s1 = { url = \"postgres://h/s1\" } }",
    "{}",
    "\"primary\"",
    "\"a\"",
    "1979-05-27",
];
/// Mostly plausible values for `key`, and now and then anything.
fn value_for<'a>(g: &mut Gen, key: &str) -> &'a str {
    if g.below(6) == 0 {
        return g.pick(VALUES);
    }
    let url = "\"sqlite::memory:\"";
    match key {
        "url" => g.pick(&[
            url,
            "\"postgres://u:p@h/db\"",
            "\"${V}\"",
            "\"${NOPE:-sqlite://a.db}\"",
        ]),
        "replicas" => g.pick(&["[]", "[\"sqlite://r.db\"]", "[\"postgres://r/db\"]"]),
        "replica_of" | "default" => g.pick(&["\"primary\"", "\"a\"", "\"b-2\"", "\"nope\""]),
        "readonly" | "test_before_acquire" => g.pick(&["true", "false"]),
        "migrations" => g.pick(&["\"db/migrate\"", "\"\""]),
        "roles" => g.pick(&["{ analytics = \"a\" }", "{ reading = \"a\" }", "{}"]),
        "shards" => g.pick(&["{ s1 = { url = \"sqlite://s1.db\" } }", "{ s1 = {} }", "{}"]),
        "max_connections" | "min_connections" => g.pick(&[
            "0",
            "1",
            "5",
            "20",
            "\"${V:-3}\"",
            "10001",
            "4294967295",
            "9223372036854775807",
        ]),
        "after_connect" => g.pick(&["[]", "[\"PRAGMA cache_size = -2000\"]", "[\"\"]", "[1]"]),
        "sqlite" => g.pick(&[
            "{ journal_mode = \"wal\" }",
            "{ synchronous = \"bogus\" }",
            "{ busy_timeout = \"0s\", foreign_keys = false }",
            "{ busy_timeout = 9223372036854775807 }",
            "{ jornal_mode = 1 }",
        ]),
        _ => g.pick(&[
            "\"5s\"",
            "\"0s\"",
            "\"none\"",
            "\"off\"",
            "30",
            "false",
            "\"1h30m\"",
            "9223372036854775807",
            "\"8784h\"",
        ]),
    }
}

const NAMES: &[&str] = &[
    "primary",
    "a",
    "Primary",
    "my db",
    "",
    "b-2",
    "primary_replica",
];

/// `count` distinct items of `items`, in random order.
fn distinct<'a>(g: &mut Gen, items: &[&'a str], count: usize) -> Vec<&'a str> {
    let mut pool = items.to_vec();
    let mut out = Vec::new();
    while out.len() < count && !pool.is_empty() {
        out.push(pool.swap_remove(g.below(pool.len())));
    }
    out
}

/// A syntactically valid document built from pieces (distinct keys and tables), to reach
/// conversion and validation.
fn random_document(g: &mut Gen) -> String {
    let mut out = String::new();
    if g.below(3) == 0 {
        out.push_str(&format!("default = {}\n", value_for(g, "default")));
    }
    let prefixes = ["", "", "environments.test.", "environments.prod."];
    let mut tables = Vec::new();
    for prefix in prefixes {
        let count = g.below(3);
        for name in distinct(g, NAMES, count) {
            tables.push((prefix, name));
        }
    }
    for (prefix, name) in tables {
        out.push_str(&format!("[{prefix}databases.\"{name}\"]\n"));
        let count = g.below(5);
        let mut keys = distinct(g, KEYS, count);
        if g.below(6) != 0 {
            keys.push("url");
        }
        if g.below(10) == 0 {
            keys.push(g.pick(&["bogus", "default"]));
        }
        for key in keys {
            out.push_str(&format!("{key} = {}\n", value_for(g, key)));
        }
        if g.below(2) == 0 {
            out.push_str(&format!("[{prefix}databases.\"{name}\".pool]\n"));
            let count = g.below(4);
            for key in distinct(g, POOL_KEYS, count) {
                out.push_str(&format!("{key} = {}\n", value_for(g, key)));
            }
        }
    }
    out
}

/// `base` with a few random byte-level edits, made valid UTF-8 again lossily.
fn mutate(g: &mut Gen, base: &str) -> String {
    let mut bytes = base.as_bytes().to_vec();
    for _ in 0..1 + g.below(6) {
        let at = g.below(bytes.len() + 1);
        match g.below(5) {
            0 if !bytes.is_empty() => {
                let end = (at + 1 + g.below(20)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => {
                let fragment = g.pick(FRAGMENTS).as_bytes().to_vec();
                bytes.splice(at..at, fragment);
            }
            2 if at < bytes.len() => bytes[at] = (g.next() & 0xff) as u8,
            3 => bytes.truncate(at),
            _ => {
                let len = g.below(40);
                let start = g.below(bytes.len() + 1);
                let end = (start + len).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn garbage_never_panics() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let vars = |name: &str| match name {
        "V" => Some("sqlite::memory:".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let mut inputs: Vec<String> = vec![
        String::new(),
        "\u{0}".to_string(),
        "[".repeat(10_000),
        "a = ".to_string() + &"[".repeat(10_000),
        format!("[databases.p]\nurl = \"{}\"\n", "${A:-".repeat(5_000)),
        "[databases.p]\nurl = \"$\"\n".to_string(),
    ];
    for i in 0..240 {
        let input = match i % 3 {
            0 => mutate(&mut g, FULL),
            1 => random_document(&mut g),
            _ => {
                let doc = random_document(&mut g);
                mutate(&mut g, &doc)
            }
        };
        inputs.push(input);
    }
    let mut ok = 0;
    for input in &inputs {
        for env in ["development", "test", "prod", ""] {
            match Config::from_toml_str_with(input, env, &vars) {
                Ok(config) => {
                    ok += 1;
                    assert!(config.database(config.default_database()).is_some());
                    for (_, db) in config.databases() {
                        let _ = Config::redacted_url(&db.url);
                        let _ = format!("{db:?}");
                    }
                }
                Err(err) => {
                    let message = err.to_string();
                    assert!(message.contains(&format!("`{}`", err.key)), "{message}");
                }
            }
        }
        let _ = Config::redacted_url(input);
        let _ = Config::single(input);
    }
    // The generator must reach past the parser now and then.
    assert!(ok > 0, "no generated document was valid");
}
