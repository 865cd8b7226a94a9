//! The real `grant-migrate` binary against PostgreSQL and MariaDB shard databases (made
//! and dropped by the binary itself, named after `GRANT_TEST_POSTGRES_URL` /
//! `GRANT_TEST_MARIADB_URL`; skipped when unset): two runners at once, revert on every
//! shard, schema drift, a held lock, and a failing migration (PostgreSQL unchanged,
//! MariaDB DIRTY until resolved).

mod common;

use std::path::{Path, PathBuf};

use common::cli::{applied_on_primary, config, lines_with, run, run_together, with_database};
use common::{unique, write, TempDir};

/// The config's databases are dropped (by the binary) when this goes out of scope, even
/// when the test panics.
struct Databases {
    cfg: PathBuf,
    urls: Vec<String>,
}

impl Drop for Databases {
    fn drop(&mut self) {
        let out = run(&self.cfg, &["drop", "--force"]);
        if out.code != Some(0) {
            eprintln!("cleanup failed: {}", out.all());
        }
    }
}

/// A database `primary` on its own database plus shards s1, s2, each a fresh database
/// on the server of `base_url` (names start with `grant_`), and its migrations folder.
fn setup(tmp: &TempDir, base_url: &str) -> Databases {
    let base = unique("grant_cli");
    let urls: Vec<String> = ["own", "s1", "s2"]
        .iter()
        .map(|n| with_database(base_url, &format!("{base}_{n}")))
        .collect();
    let dir = tmp.sub("migrations");
    write(
        &dir,
        "0001_create_users.sql",
        "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);\n",
    );
    write(&dir, "0001_create_users.down.sql", "DROP TABLE users;\n");
    write(&dir, "0002_add_posts.sql", "CREATE TABLE posts (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL);\nCREATE INDEX posts_user ON posts (user_id);\n");
    write(&dir, "0002_add_posts.down.sql", "DROP TABLE posts;\n");
    // Not idempotent without the lock: run twice, it leaves two rows.
    write(
        &dir,
        "0003_seed.sql",
        "CREATE TABLE IF NOT EXISTS seeds (id BIGINT);\nINSERT INTO seeds (id) VALUES (1);\n",
    );
    write(&dir, "0003_seed.down.sql", "DROP TABLE seeds;\n");
    let cfg = config(
        tmp.path(),
        &format!(
            "[databases.primary]\nurl = \"{}\"\nmigrations = \"{}\"\n\n\
             [databases.primary.shards.s1]\nurl = \"{}\"\n\n\
             [databases.primary.shards.s2]\nurl = \"{}\"\n",
            urls[0],
            dir.display(),
            urls[1],
            urls[2]
        ),
    );
    Databases { cfg, urls }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// `SELECT COUNT(*) ...` on one database.
fn count(url: &str, sql: &str) -> i64 {
    block_on(common::server_count(url, sql))
}

fn exec(url: &str, sql: &str) {
    block_on(common::server_exec(url, sql))
}

fn table_count(url: &str, postgres: bool, table: &str) -> i64 {
    let schema = if postgres {
        "current_schema()"
    } else {
        "DATABASE()"
    };
    count(
        url,
        &format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {schema} AND table_name = '{table}'"),
    )
}

fn server_cli(base_url: &str, postgres: bool) {
    let tmp = TempDir::new("cli_server");
    let dbs = setup(&tmp, base_url);
    let cfg = dbs.cfg.clone();
    let urls = dbs.urls.clone();
    let backend = if postgres { "postgres" } else { "mysql" };

    // create, twice.
    let out = run(&cfg, &["create"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["created", backend]).len(),
        3,
        "{}",
        out.all()
    );
    let out = run(&cfg, &["create"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["already exists"]).len(),
        3,
        "{}",
        out.all()
    );
    let out = run(&cfg, &["status", "--short"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["primary", " - ", " 3 ", "no"]).len(),
        3,
        "{}",
        out.all()
    );

    // Two runners at once: both exit 0, every migration applied exactly once per target.
    let outs = run_together(&cfg, &["migrate"], 2);
    for out in &outs {
        assert_eq!(out.code, Some(0), "{}", out.all());
    }
    let applied = applied_on_primary(&outs);
    assert_eq!(applied, 9, "{}\n{}", outs[0].all(), outs[1].all());
    for url in &urls {
        assert_eq!(count(url, "SELECT COUNT(*) FROM seeds"), 1, "{url}");
        assert_eq!(
            count(url, "SELECT COUNT(*) FROM grant_migrations"),
            3,
            "{url}"
        );
    }

    // revert --steps 2 on every shard, migrate, revert --target 1.
    let out = run(&cfg, &["revert", "--steps", "2"]).expect(0);
    assert!(
        out.stdout
            .contains("done: reverted 6 migrations on 3 targets"),
        "{}",
        out.all()
    );
    for url in &urls {
        assert_eq!(
            table_count(url, postgres, "posts") + table_count(url, postgres, "seeds"),
            0
        );
        assert_eq!(table_count(url, postgres, "users"), 1);
    }
    run(&cfg, &["migrate", "--statement-timeout", "10m"]).expect(0);
    let out = run(&cfg, &["revert", "--target", "1", "--database", "primary"]).expect(0);
    assert!(
        out.stdout
            .contains("done: reverted 6 migrations on 3 targets"),
        "{}",
        out.all()
    );
    let out = run(&cfg, &["migrate", "--dry-run"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["would apply 2 add_posts"]).len(),
        3,
        "{}",
        out.all()
    );
    run(&cfg, &["migrate", "--statement-timeout", "off"]).expect(0);

    // schema: files, and drift once a shard is changed by hand.
    run(
        &cfg,
        &[
            "schema",
            "--out",
            tmp.path().join("schema").to_str().unwrap(),
        ],
    )
    .expect(0);
    let s1 = std::fs::read_to_string(tmp.path().join("schema/primary@s1.schema")).unwrap();
    assert!(s1.contains(&format!("({backend})\ntable posts\n")), "{s1}");
    assert!(s1.contains("posts_user"), "{s1}");
    run(&cfg, &["schema", "--check"]).expect(0);
    exec(
        &urls[2],
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(20)",
    );
    let out = run(&cfg, &["schema", "--check"]).expect(1);
    assert!(
        out.stdout
            .contains("drift: primary/s2 differs from primary/s1:"),
        "{}",
        out.all()
    );
    assert_eq!(
        lines_with(&out.stdout, &["+ column nickname"]).len(),
        1,
        "{}",
        out.all()
    );
    exec(&urls[2], "ALTER TABLE users DROP COLUMN nickname");

    // A lock held by another runner: fail fast, naming the target.
    held_lock(&cfg, &urls[1], postgres);

    // A migration that fails at its 3rd statement.
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "0004_tags.sql",
        "CREATE TABLE tags (id BIGINT);\nINSERT INTO tags (id) VALUES (1);\nINSERT INTO no_such_table (id) VALUES (2);\n",
    );
    let out = run(&cfg, &["migrate", "--on-error", "continue"]).expect(1);
    out.assert_no_ansi();
    let failed = lines_with(
        &out.stderr,
        &[
            "error:",
            "0004_tags.sql failed at statement 3 of 3 (line 3)",
        ],
    );
    assert_eq!(failed.len(), 3, "{}", out.all());
    if postgres {
        // PostgreSQL: rolled back, nothing left, still pending.
        assert!(
            failed.iter().all(|l| l.contains("rolled back")),
            "{}",
            out.all()
        );
        for url in &urls {
            assert_eq!(table_count(url, postgres, "tags"), 0);
        }
        let out = run(&cfg, &["status", "--short"]).expect(0);
        assert_eq!(
            lines_with(&out.stdout, &["primary", " 3 ", " 1 ", "no"]).len(),
            3,
            "{}",
            out.all()
        );
    } else {
        // MariaDB: statements 1-2 stay, and the migration is DIRTY until resolved.
        assert!(
            failed.iter().all(|l| l.contains("marked DIRTY")),
            "{}",
            out.all()
        );
        for url in &urls {
            assert_eq!(count(url, "SELECT COUNT(*) FROM tags"), 1);
        }
        let out = run(&cfg, &["migrate"]).expect(1);
        let dirty = lines_with(
            &out.stderr,
            &[
                "migration 4 `tags` is DIRTY (it failed at statement 3:",
                "no_such_table",
                "grant-migrate resolve --database primary",
            ],
        );
        assert_eq!(dirty.len(), 3, "{}", out.all());
        assert!(out.stderr.contains("nothing was changed"), "{}", out.all());
        let out = run(&cfg, &["status"]).expect(1);
        assert_eq!(
            lines_with(&out.stdout, &["4", "tags", "DIRTY (statement 3)"]).len(),
            3,
            "{}",
            out.all()
        );
        assert!(out.stdout.contains(", 3 DIRTY"), "{}", out.all());
        assert_eq!(
            lines_with(&out.stderr, &["is DIRTY: failed at statement 3"]).len(),
            3,
            "{}",
            out.all()
        );
        let out = run(&cfg, &["status", "--short"]).expect(1);
        assert_eq!(
            lines_with(
                &out.stdout,
                &["primary", "s1", " 4 ", "DIRTY 4 (statement 3)"]
            )
            .len(),
            1,
            "{}",
            out.all()
        );
        let out = run(&cfg, &["status", "--json"]).expect(1);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(json["targets"][1]["dirty"][0]["version"], 4);
        assert_eq!(json["targets"][1]["dirty"][0]["statement"], 3);

        // The operator fixes the file; finishes s1 by hand and marks it applied; puts the
        // others back and marks them rolled back; the next run applies the fixed file.
        write(&dir, "0004_tags.sql", "CREATE TABLE tags (id BIGINT);\nINSERT INTO tags (id) VALUES (1);\nINSERT INTO tags (id) VALUES (2);\n");
        exec(&urls[1], "INSERT INTO tags (id) VALUES (2)");
        let out = run(
            &cfg,
            &[
                "resolve",
                "--database",
                "primary",
                "--shard",
                "s1",
                "--version",
                "4",
                "--applied",
            ],
        )
        .expect(0);
        assert!(
            out.stdout
                .contains("primary/s1: migration 4 marked applied"),
            "{}",
            out.all()
        );
        for (i, shard) in [(0, None), (2, Some("s2"))] {
            exec(&urls[i], "DROP TABLE tags");
            let mut args = vec![
                "resolve",
                "--database",
                "primary",
                "--version",
                "4",
                "--rolled-back",
            ];
            if let Some(shard) = shard {
                args.extend(["--shard", shard]);
            }
            run(&cfg, &args).expect(0);
        }
        let out = run(
            &cfg,
            &[
                "resolve",
                "--database",
                "primary",
                "--version",
                "4",
                "--applied",
            ],
        )
        .expect(1);
        assert!(
            out.stderr.contains("cannot resolve migration 4"),
            "{}",
            out.all()
        );
    }
    std::fs::write(
        dir.join("0004_tags.sql"),
        "CREATE TABLE tags (id BIGINT);\nINSERT INTO tags (id) VALUES (1);\nINSERT INTO tags (id) VALUES (2);\n",
    )
    .unwrap();
    let out = run(&cfg, &["migrate"]).expect(0);
    let expected = if postgres { 3 } else { 2 };
    assert_eq!(
        lines_with(&out.stdout, &["applied 4 tags"]).len(),
        expected,
        "{}",
        out.all()
    );
    let out = run(&cfg, &["status"]).expect(0);
    assert!(
        out.stdout.contains("3 targets, 0 pending migrations"),
        "{}",
        out.all()
    );
    for url in &urls {
        assert_eq!(count(url, "SELECT COUNT(*) FROM tags"), 2, "{url}");
    }

    // drop (the guard would too): every database, then nothing left.
    let out = run(&cfg, &["drop", "--force"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["dropped", backend]).len(),
        3,
        "{}",
        out.all()
    );
    let out = run(&cfg, &["drop", "--force"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["does not exist"]).len(),
        3,
        "{}",
        out.all()
    );
    drop(dbs);
}

/// Hold `url`'s migration lock from another session, run `migrate` with a short lock
/// timeout: exit 1 naming shard s1 only; then let go.
fn held_lock(cfg: &Path, url: &str, postgres: bool) {
    write(
        cfg.parent().unwrap(),
        "migrations/0005_later.sql",
        "CREATE TABLE later (id BIGINT);\n",
    );
    block_on(async {
        use sqlx::{Connection, Executor};
        let database = url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let (mut pg, mut my) = (None, None);
        if postgres {
            let key = u64::from_str_radix(&grant_migrate::checksum(b"grant_migrations"), 16)
                .unwrap() as i64;
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(key)
                .execute(&mut c)
                .await
                .unwrap();
            pg = Some(c);
        } else {
            let name = format!(
                "grant_migrate.{}",
                grant_migrate::checksum(database.as_bytes())
            );
            let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
            c.execute(sqlx::query("SELECT GET_LOCK(?, 0)").bind(name))
                .await
                .unwrap();
            my = Some(c);
        }
        let out = run(
            cfg,
            &[
                "migrate",
                "--lock-timeout",
                "300ms",
                "--on-error",
                "continue",
            ],
        )
        .expect(1);
        let locked = lines_with(&out.stderr, &["error: database `primary`, shard `s1`: another grant-migrate holds the migration lock"]);
        assert_eq!(locked.len(), 1, "{}", out.all());
        assert_eq!(
            out.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "{}",
            out.all()
        );
        assert_eq!(
            lines_with(&out.stdout, &["applied 5 later"]).len(),
            2,
            "{}",
            out.all()
        );
        // A dirty row while the lock is held is a migration running now, not a failure.
        let insert = "INSERT INTO grant_migrations (version, name, checksum, success) VALUES (99, 'running', 'x', FALSE)";
        if let Some(c) = pg.as_mut() {
            c.execute(insert).await.unwrap();
        }
        if let Some(c) = my.as_mut() {
            c.execute(insert).await.unwrap();
        }
        let out = run(cfg, &["status", "--shard", "s1"]).expect(0);
        assert_eq!(
            lines_with(&out.stdout, &["99", "running", "RUNNING (another runner)"]).len(),
            1,
            "{}",
            out.all()
        );
        assert!(out.stderr.contains("is running now"), "{}", out.all());
        let out = run(
            cfg,
            &["migrate", "--shard", "s1", "--lock-timeout", "200ms"],
        )
        .expect(1);
        assert!(
            out.stderr.contains("holds the migration lock") && !out.stderr.contains("DIRTY"),
            "{}",
            out.all()
        );
        if let Some(c) = pg {
            c.close().await.unwrap();
        }
        if let Some(c) = my {
            c.close().await.unwrap();
        }
    });
    // The lock is free: the same row is now an interrupted migration, until resolved.
    let out = run(cfg, &["status", "--short", "--shard", "s1"]).expect(1);
    assert_eq!(
        lines_with(&out.stdout, &["primary", "s1", "99", "DIRTY 99"]).len(),
        1,
        "{}",
        out.all()
    );
    let out = run(cfg, &["migrate"]).expect(1);
    assert!(
        out.stderr
            .contains("migration 99 `running` is DIRTY (it was interrupted, or is running now)"),
        "{}",
        out.all()
    );
    run(
        cfg,
        &[
            "resolve",
            "-d",
            "primary",
            "-s",
            "s1",
            "--version",
            "99",
            "--rolled-back",
        ],
    )
    .expect(0);
    let out = run(cfg, &["migrate"]).expect(0);
    assert!(
        out.stdout.contains("primary/s1: applied 5 later"),
        "{}",
        out.all()
    );
    let out = run(cfg, &["revert", "--steps", "1"]).expect(1);
    assert!(
        out.stderr.contains("0005_later.sql"),
        "no down file: {}",
        out.all()
    );
    std::fs::write(
        cfg.parent().unwrap().join("migrations/0005_later.down.sql"),
        "DROP TABLE later;\n",
    )
    .unwrap();
    run(cfg, &["revert", "--steps", "1"]).expect(0);
    std::fs::remove_file(cfg.parent().unwrap().join("migrations/0005_later.sql")).unwrap();
    std::fs::remove_file(cfg.parent().unwrap().join("migrations/0005_later.down.sql")).unwrap();
}

#[test]
fn postgres_cli() {
    let Ok(url) = std::env::var("GRANT_TEST_POSTGRES_URL") else {
        println!("skipped: GRANT_TEST_POSTGRES_URL not set");
        return;
    };
    server_cli(&url, true);
}

#[test]
fn mariadb_cli() {
    let Ok(url) = std::env::var("GRANT_TEST_MARIADB_URL") else {
        println!("skipped: GRANT_TEST_MARIADB_URL not set");
        return;
    };
    server_cli(&url, false);
}
