//! The real `grant-migrate` binary on SQLite files: status, dry runs, migrate, revert,
//! redo, reset, new, and failures with their exit codes (0 success, 1 failure, 2 usage
//! error).

mod common;

use common::cli::{lines_with, run, sqlite_fixture as setup, POSTS};
use common::{write, TempDir, ADD_POSTS, CREATE_USERS};

#[test]
fn status_dry_run_and_migrate_change_only_what_they_say() {
    let tmp = TempDir::new("cli_status");
    let cfg = setup(&tmp);
    std::fs::create_dir_all(tmp.path().join("db")).unwrap();

    // status: every migration pending everywhere, and no SQLite file is created.
    let out = run(&cfg, &["status"]).expect(0);
    out.assert_no_ansi();
    assert!(
        out.stdout
            .starts_with("skipped: database `reports`: replica of `primary`"),
        "{}",
        out.all()
    );
    let header = out.stdout.lines().nth(1).unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["DATABASE", "SHARD", "VERSION", "NAME", "STATE", "APPLIED", "AT"]
    );
    assert_eq!(
        lines_with(&out.stdout, &["pending", "(no database yet)"]).len(),
        9,
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("3 targets, 9 pending migrations"),
        "{}",
        out.all()
    );
    assert!(
        !tmp.path().join("db/app.db").exists(),
        "status created a SQLite file"
    );
    assert!(!tmp.path().join("db/s1.db").exists());

    // --dry-run: what would run where, and nothing changes.
    let out = run(&cfg, &["migrate", "--dry-run"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["primary/s1: would apply 1 create_users"]).len(),
        1,
        "{}",
        out.all()
    );
    assert_eq!(lines_with(&out.stdout, &["would apply"]).len(), 9);
    assert!(out
        .stdout
        .contains("dry run: 9 migrations would run on 3 targets; nothing was changed"));
    assert!(
        !tmp.path().join("db/app.db").exists(),
        "--dry-run created a SQLite file"
    );

    // migrate --target 2 on one shard only.
    let out = run(&cfg, &["migrate", "--target", "2", "--shard", "s1"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["primary/s1: applied"]).len(),
        2,
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("done: applied 2 migrations on 1 target"),
        "{}",
        out.all()
    );
    assert!(!tmp.path().join("db/s2.db").exists());
    // A revert where nothing exists creates nothing.
    let out = run(&cfg, &["revert", "--shard", "s2"]).expect(0);
    assert!(
        out.stdout
            .contains("done: reverted 0 migrations on 0 targets"),
        "{}",
        out.all()
    );
    assert!(!tmp.path().join("db/s2.db").exists());

    // migrate: the rest, everywhere.
    let out = run(&cfg, &["migrate"]).expect(0);
    out.assert_no_ansi();
    assert_eq!(
        lines_with(
            &out.stdout,
            &["primary/s1: applied 3 add_email (1 statement,"]
        )
        .len(),
        1,
        "{}",
        out.all()
    );
    assert_eq!(lines_with(&out.stdout, &["primary/s2: applied"]).len(), 3);
    assert_eq!(lines_with(&out.stdout, &["primary: applied"]).len(), 3);
    assert!(
        out.stdout.contains("skipped: database `reports`"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("done: applied 7 migrations on 3 targets"),
        "{}",
        out.all()
    );
    let out = run(&cfg, &["migrate"]).expect(0);
    assert!(
        out.stdout
            .contains("done: applied 0 migrations on 3 targets"),
        "{}",
        out.all()
    );
    assert_eq!(lines_with(&out.stdout, &["nothing to do"]).len(), 3);

    // status: the table, --short, --json.
    let out = run(&cfg, &["status", "--database", "primary"]).expect(0);
    assert_eq!(
        lines_with(
            &out.stdout,
            &["primary", "s2", "2", "add_posts", "applied", "20"]
        )
        .len(),
        1,
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("3 targets, 0 pending migrations"),
        "{}",
        out.all()
    );
    let out = run(&cfg, &["status", "--short"]).expect(0);
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            vec!["DATABASE", "SHARD", "VERSION", "PENDING", "DIRTY"],
            vec!["primary", "-", "3", "0", "no"],
            vec!["primary", "s1", "3", "0", "no"],
            vec!["primary", "s2", "3", "0", "no"],
        ]
    );
    let out = run(&cfg, &["status", "--json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 3);
    assert_eq!(targets[1]["shard"], "s1");
    assert_eq!(targets[1]["backend"], "sqlite");
    assert_eq!(targets[1]["current_version"], 3);
    assert_eq!(targets[1]["pending"], 0);
    assert_eq!(targets[1]["dirty"].as_array().unwrap().len(), 0);
    assert_eq!(targets[1]["migrations"][0]["state"], "applied");
    assert_eq!(targets[1]["migrations"][2]["name"], "add_email");
}

#[test]
fn revert_redo_reset_on_every_shard() {
    let tmp = TempDir::new("cli_revert");
    let cfg = setup(&tmp);
    std::fs::create_dir_all(tmp.path().join("db")).unwrap();
    run(&cfg, &["migrate"]).expect(0);

    // revert --steps 2: on every target (all databases).
    let out = run(&cfg, &["revert", "--steps", "2"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["reverted 3 add_email"]).len(),
        3,
        "{}",
        out.all()
    );
    assert_eq!(lines_with(&out.stdout, &["reverted 2 add_posts"]).len(), 3);
    assert!(
        out.stdout
            .contains("done: reverted 6 migrations on 3 targets"),
        "{}",
        out.all()
    );
    let out = run(&cfg, &["status", "--short"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["primary", " 1 ", " 2 ", "no"]).len(),
        3,
        "{}",
        out.all()
    );

    // migrate, then revert --target 1 of one database: back to version 1 everywhere.
    run(&cfg, &["migrate"]).expect(0);
    let out = run(&cfg, &["revert", "--target", "1", "--database", "primary"]).expect(0);
    assert!(
        out.stdout
            .contains("done: reverted 6 migrations on 3 targets"),
        "{}",
        out.all()
    );
    let out = run(&cfg, &["revert", "--target", "1"]).expect(0);
    assert!(
        out.stdout
            .contains("done: reverted 0 migrations on 3 targets"),
        "{}",
        out.all()
    );

    // redo: revert the latest and apply it again.
    run(&cfg, &["migrate"]).expect(0);
    let out = run(&cfg, &["redo", "--shard", "s2"]).expect(0);
    assert!(
        out.stdout.contains("primary/s2: reverted 3 add_email")
            && out.stdout.contains("primary/s2: applied 3 add_email"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout
            .contains("done: reverted 1 migration, applied 1 migration on 1 target"),
        "{}",
        out.all()
    );

    // reset: refused without --force (a usage error), dry run, then for real.
    let out = run(&cfg, &["reset"]).expect(2);
    assert!(out.stderr.contains("--force"), "{}", out.all());
    let out = run(&cfg, &["reset", "--dry-run", "--shard", "s1"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["primary/s1: would revert"]).len(),
        3,
        "{}",
        out.all()
    );
    assert_eq!(
        lines_with(&out.stdout, &["primary/s1: would apply"]).len(),
        3
    );
    let out = run(&cfg, &["reset", "--force"]).expect(0);
    assert!(
        out.stdout
            .contains("done: reverted 9 migrations, applied 9 migrations on 3 targets"),
        "{}",
        out.all()
    );

    // A revert past a migration without a down file changes nothing anywhere.
    std::fs::remove_file(tmp.path().join(format!("migrations/{POSTS}.down.sql"))).unwrap();
    let out = run(&cfg, &["revert", "--steps", "2"]).expect(1);
    assert_eq!(
        lines_with(&out.stderr, &["error:", "no down file"]).len(),
        3,
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("nothing was changed"), "{}", out.all());
    let out = run(&cfg, &["status", "--short"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["primary", " 3 ", "no"]).len(),
        3,
        "{}",
        out.all()
    );
}

#[test]
fn new_creates_timestamped_files() {
    let tmp = TempDir::new("cli_new");
    let cfg = setup(&tmp);
    let out = run(
        &cfg,
        &["new", "add_index", "--database", "primary", "--reversible"],
    )
    .expect(0);
    let created: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.trim_start_matches("created "))
        .collect();
    assert_eq!(created.len(), 2, "{}", out.all());
    assert!(created[0].ends_with("_add_index.sql") && created[1].ends_with("_add_index.down.sql"));
    let name = std::path::Path::new(created[0])
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        name.split('_').next().unwrap().len(),
        14,
        "YYYYMMDDHHMMSS: {name}"
    );
    assert!(std::path::Path::new(created[1]).exists());
    // A second one in the same second gets a later version; both load.
    let out = run(&cfg, &["new", "add_index_two", "--database", "primary"]).expect(0);
    assert_eq!(out.stdout.lines().count(), 1);
    let out = run(&cfg, &["migrate", "--dry-run"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["primary/s1: would apply"]).len(),
        5,
        "{}",
        out.all()
    );

    // Usage errors exit 2; a bad name or database exits 1 and creates nothing.
    run(&cfg, &["new", "x"]).expect(2);
    let out = run(&cfg, &["new", "bad name", "--database", "primary"]).expect(1);
    assert!(
        out.stderr.contains("bad migration file name"),
        "{}",
        out.all()
    );
    let out = run(&cfg, &["new", "x", "--database", "nope"]).expect(1);
    assert!(
        out.stderr.contains("unknown database `nope`"),
        "{}",
        out.all()
    );
    assert_eq!(
        std::fs::read_dir(tmp.path().join("migrations"))
            .unwrap()
            .count(),
        9
    );
}

#[test]
fn failures_exit_1_once_without_colour_and_change_nothing() {
    let tmp = TempDir::new("cli_fail");
    let cfg = setup(&tmp);
    std::fs::create_dir_all(tmp.path().join("db")).unwrap();
    run(&cfg, &["migrate", "--target", "1"]).expect(0);

    // A failing statement: the migration is rolled back on every shard, and each
    // target's error is printed once, without ANSI codes, naming shard and file.
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "0002_add_posts.sql",
        "CREATE TABLE posts (id BIGINT);\nINSERT INTO no_such_table VALUES (1);\n",
    );
    let out = run(&cfg, &["migrate", "--on-error", "continue"]).expect(1);
    out.assert_no_ansi();
    let errors = lines_with(
        &out.stderr,
        &[
            "error:",
            "0002_add_posts.sql failed at statement 2 of 2 (line 2)",
            "rolled back",
        ],
    );
    assert_eq!(errors.len(), 3, "{}", out.all());
    assert_eq!(
        lines_with(&out.stderr, &["shard `s1`"]).len(),
        1,
        "{}",
        out.all()
    );
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.contains("no_such_table"))
            .count(),
        3,
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("nothing was changed"), "{}", out.all());
    let out = run(&cfg, &["status", "--short"]).expect(0);
    assert_eq!(
        lines_with(&out.stdout, &["primary", " 1 ", " 2 ", "no"]).len(),
        3,
        "{}",
        out.all()
    );
    let out = run(&cfg, &["schema", "--check"]).expect(0);
    assert!(out.stdout.contains("no drift"), "{}", out.all());

    // A changed applied file: exit 1 before anything runs, and status exits 1 too.
    write(&dir, "0002_add_posts.sql", ADD_POSTS);
    write(
        &dir,
        "0001_create_users.sql",
        &format!("{CREATE_USERS}-- edited\n"),
    );
    let out = run(&cfg, &["migrate"]).expect(1);
    let mismatches = lines_with(
        &out.stderr,
        &["0001_create_users.sql (version 1) was changed after it was applied"],
    );
    assert_eq!(mismatches.len(), 3, "{}", out.all());
    assert!(out.stderr.contains("nothing was changed"));
    let out = run(&cfg, &["status"]).expect(1);
    assert_eq!(
        lines_with(&out.stdout, &["CHANGED"]).len(),
        3,
        "{}",
        out.all()
    );

    // Usage errors exit 2, with clap's message; --help exits 0 with every command.
    let out = run(&cfg, &["frobnicate"]).expect(2);
    assert!(
        out.stderr.contains("unrecognized subcommand 'frobnicate'"),
        "{}",
        out.all()
    );
    run(&cfg, &["migrate", "--bogus"]).expect(2);
    run(&cfg, &["revert", "--steps", "1", "--target", "2"]).expect(2);
    run(&cfg, &["migrate", "--concurrency", "0"]).expect(2);
    run(
        &cfg,
        &["resolve", "--database", "primary", "--version", "1"],
    )
    .expect(2);
    run(&cfg, &["migrate", "--lock-timeout", "soon"]).expect(2);
    run(&cfg, &["migrate", "--statement-timeout", "0s"]).expect(2);
    let out = run(&cfg, &["--help"]).expect(0);
    for command in [
        "new", "migrate", "revert", "redo", "reset", "status", "resolve", "create", "drop",
        "prepare", "schema",
    ] {
        assert!(
            out.stdout.contains(&format!("  {command} ")),
            "{command} in --help: {}",
            out.all()
        );
    }
    let out = run(&cfg, &["migrate", "--help"]).expect(0);
    assert!(
        out.stdout.contains("--dry-run") && out.stdout.contains("--on-error"),
        "{}",
        out.all()
    );

    // A config that does not parse: exit 1, one clean line.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[databases.primary\nurl = 1\n").unwrap();
    let out = run(&bad, &["status"]).expect(1);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.all());
    assert!(out.stderr.starts_with("error: "), "{}", out.all());
}
