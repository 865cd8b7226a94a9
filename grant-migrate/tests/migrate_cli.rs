//! The `grant-migrate` command line: status, migrate, revert, exit codes and messages.

mod common;

use common::{write, TempDir, CREATE_USERS, CREATE_USERS_DOWN};

#[test]
fn cli_migrate_status_revert() {
    let tmp = TempDir::new("cli");
    let dir = tmp.sub("migrations");
    write(&dir, "0001_create_users.sql", CREATE_USERS);
    write(&dir, "0001_create_users.down.sql", CREATE_USERS_DOWN);
    let config = tmp.path().join("grant.toml");
    std::fs::write(
        &config,
        format!(
            "[databases.primary]\nurl = \"{}\"\nmigrations = \"{}\"\n\n[databases.primary.shards.shard_one]\nurl = \"{}\"\n\n[environments.ci.databases.primary]\nreadonly = false\n",
            tmp.sqlite("app.db"),
            dir.display(),
            tmp.sqlite("s1.db")
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_grant-migrate"))
            .arg("--config")
            .arg(&config)
            .args(["--env", "ci"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, out, err) = run(&["status"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("DATABASE") && out.contains("pending"), "{out}");
    assert!(out.contains("shard_one"), "{out}");

    let (code, out, err) = run(&["migrate"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("primary/shard_one: applied 1 create_users"),
        "{out}"
    );
    assert!(
        out.contains("done: applied 2 migrations on 2 targets"),
        "{out}"
    );

    let (code, out, _) = run(&["status", "--database", "primary"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("applied") && out.contains("0 pending"),
        "{out}"
    );

    let (code, out, err) = run(&["revert", "--database", "primary"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("reverted 1 create_users"), "{out}");

    // Errors: exit 1, naming database, shard and file.
    std::fs::write(dir.join("0001_create_users.sql"), "SELECT 1;\n").unwrap();
    run(&["migrate"]);
    std::fs::write(dir.join("0001_create_users.sql"), CREATE_USERS).unwrap();
    let (code, _, err) = run(&["migrate"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("shard `shard_one`") && err.contains("0001_create_users.sql"),
        "{err}"
    );
    let (code, _, _) = run(&["status"]);
    assert_eq!(code, Some(1), "a changed migration fails status");

    let (code, _, err) = run(&["revert"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--database"), "{err}");
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("USAGE"));
}
