//! Running the real `grant-migrate` binary: one command, or several processes at once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{write, write_users_and_posts, TempDir};

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Out {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Both streams, for messages.
    pub fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }

    /// No ANSI escape codes anywhere (output is piped).
    #[track_caller]
    pub fn assert_no_ansi(&self) {
        assert!(
            !self.stdout.contains('\x1b') && !self.stderr.contains('\x1b'),
            "ANSI codes: {}",
            self.all()
        );
    }
}

/// The binary with `--config config`, `GRANT_ENV` and `NO_COLOR` unset (output is piped,
/// so it must be plain anyway).
pub fn command(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_grant-migrate"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("GRANT_ENV")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub fn run(config: &Path, args: &[&str]) -> Out {
    let out = command(config, args).output().expect("run grant-migrate");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Start `n` processes with the same arguments at once, then wait for all of them.
pub fn run_together(config: &Path, args: &[&str], n: usize) -> Vec<Out> {
    let children: Vec<Child> = (0..n)
        .map(|_| command(config, args).spawn().expect("start grant-migrate"))
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait for grant-migrate");
            Out {
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .collect()
}

/// How many `applied` lines for the `primary` entry the runs printed, all together.
pub fn applied_on_primary(outs: &[Out]) -> usize {
    outs.iter()
        .map(|o| {
            o.stdout
                .lines()
                .filter(|l| l.starts_with("primary") && l.contains(": applied "))
                .count()
        })
        .sum()
}

/// Write `grant.toml` in `dir`.
pub fn config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("grant.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `url` with its database name replaced by `name`.
#[allow(unused_imports)]
pub use grant_migrate::url_with_database as with_database;

/// Lines of `text` that contain every one of `parts`.
pub fn lines_with<'a>(text: &'a str, parts: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

pub const USERS: &str = "0001_create_users";
pub const POSTS: &str = "0002_add_posts";
pub const EMAIL: &str = "0003_add_email";

/// A sharded SQLite database `primary` (own file + shards s1, s2) with three reversible
/// migrations, a database `archive` without migrations, and a `replica_of` entry.
pub fn sqlite_fixture(tmp: &TempDir) -> std::path::PathBuf {
    let dir = tmp.sub("migrations");
    // USERS and POSTS, each with its down file.
    write_users_and_posts(&dir);
    write(
        &dir,
        &format!("{EMAIL}.sql"),
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    );
    write(
        &dir,
        &format!("{EMAIL}.down.sql"),
        "ALTER TABLE users DROP COLUMN email;\n",
    );
    config(
        tmp.path(),
        &format!(
            "[databases.primary]\nurl = \"{}\"\nmigrations = \"{}\"\n\n\
             [databases.primary.shards.s1]\nurl = \"{}\"\n\n\
             [databases.primary.shards.s2]\nurl = \"{}\"\n\n\
             [databases.reports]\nurl = \"{}\"\nreplica_of = \"primary\"\n\n\
             [environments.ci.databases.primary]\nreadonly = false\n",
            tmp.sqlite("db/app.db"),
            dir.display(),
            tmp.sqlite("db/s1.db"),
            tmp.sqlite("db/s2.db"),
            tmp.sqlite("db/app.db"),
        ),
    )
}
