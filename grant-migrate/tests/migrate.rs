//! Migrations against SQLite files (always) and PostgreSQL / MariaDB when
//! `GRANT_TEST_POSTGRES_URL` / `GRANT_TEST_MARIADB_URL` are set.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use grant_core::config::{Config, DatabaseConfig, ShardConfig};
use grant_core::{connection, raw, Backend, Grant, Role};
use grant_migrate::{MigrateError, MigrationState, Migrator, SkipReason};

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{tag}_{}_{}_{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh folder in the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("grant-migrate-{}", unique(tag)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// A subfolder (created).
    fn sub(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// `sqlite://` URL of a file in this folder.
    fn sqlite(&self, name: &str) -> String {
        format!("sqlite://{}", self.0.join(name).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, sql).unwrap();
    p
}

fn grant_of(databases: Vec<(&str, DatabaseConfig)>) -> Grant {
    let mut builder = Config::builder().environment("test");
    for (name, db) in databases {
        builder = builder.database(name, db);
    }
    Grant::from_config(builder.build().unwrap()).unwrap()
}

/// Names of the tables of the SQLite target (database, shard).
async fn sqlite_tables(grant: &Grant, database: &str, shard: Option<&str>) -> Vec<String> {
    let q = raw("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").on(database);
    let mut scope = connection().role(Role::Writing);
    if let Some(shard) = shard {
        scope = scope.shard(shard);
    }
    scope
        .run(q.fetch_all(grant))
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String>("name").unwrap())
        .collect()
}

const CREATE_USERS: &str =
    "-- users\nCREATE TABLE users (\n  id BIGINT PRIMARY KEY,\n  name VARCHAR(100) NOT NULL\n);\n";
const CREATE_USERS_DOWN: &str = "DROP TABLE users;\n";
const ADD_POSTS: &str = "CREATE TABLE posts (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL);\nCREATE INDEX posts_user ON posts (user_id);\nINSERT INTO users (id, name) VALUES (1, 'it''s; me');\n";
const ADD_POSTS_DOWN: &str = "DROP TABLE posts;\nDELETE FROM users WHERE id = 1;\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_then_second_run_applies_nothing() {
    let tmp = TempDir::new("apply");
    let dir = tmp.sub("migrations");
    write(&dir, "20261124090000_create_users.sql", CREATE_USERS);
    write(&dir, "20261124090001_add_posts.sql", ADD_POSTS);
    write(&dir, "README.md", "not a migration");
    let grant = grant_of(vec![(
        "primary",
        DatabaseConfig::new(tmp.sqlite("app.db")).migrations(&dir),
    )]);
    let migrator = Migrator::new(&grant);

    let report = migrator.migrate_all().await.unwrap();
    assert_eq!(report.applied_count(), 2);
    let target = report.target("primary", None).unwrap();
    assert_eq!(target.backend, Backend::Sqlite);
    let versions: Vec<i64> = target.applied.iter().map(|s| s.version).collect();
    assert_eq!(versions, [20261124090000, 20261124090001]);
    assert_eq!(target.applied[1].statements, 3);
    assert_eq!(
        sqlite_tables(&grant, "primary", None).await,
        ["grant_migrations", "posts", "users"]
    );
    let rows = raw("SELECT name FROM users")
        .fetch_all(&grant)
        .await
        .unwrap();
    assert_eq!(rows[0].get::<String>("name").unwrap(), "it's; me");

    // Idempotent.
    let again = migrator.migrate_all().await.unwrap();
    assert_eq!(again.applied_count(), 0);
    assert_eq!(again.targets.len(), 1);
    let again = migrator.migrate("primary").await.unwrap();
    assert_eq!(again.applied_count(), 0);

    // A new file is the only one applied.
    write(
        &dir,
        "20261124090002_add_email.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    );
    let status = migrator.status_all().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].applied().len(), 2);
    assert_eq!(status[0].pending().len(), 1);
    assert_eq!(status[0].pending()[0].name, "add_email");
    let report = migrator.migrate_all().await.unwrap();
    assert_eq!(report.applied_count(), 1);
    assert!(migrator.status_all().await.unwrap()[0].is_up_to_date());
    grant.close().await;
}

#[tokio::test]
async fn status_reads_without_creating_anything() {
    let tmp = TempDir::new("status");
    let dir = tmp.sub("migrations");
    write(&dir, "0001_create_users.sql", CREATE_USERS);
    write(&dir, "0002_add_posts.sql", ADD_POSTS);
    let grant = grant_of(vec![
        (
            "primary",
            DatabaseConfig::new(tmp.sqlite("app.db")).migrations(&dir),
        ),
        ("other", DatabaseConfig::new(tmp.sqlite("other.db"))),
    ]);
    let migrator = Migrator::new(&grant);
    let status = migrator.status_all().await.unwrap();
    assert_eq!(status.len(), 1, "only databases with a migrations folder");
    let s = &status[0];
    assert_eq!((s.database.as_str(), s.shard.as_deref()), ("primary", None));
    assert!(s.error.is_none());
    assert_eq!(s.pending().len(), 2);
    assert!(s.applied().is_empty());
    assert!(!s.is_up_to_date());
    assert!(sqlite_tables(&grant, "primary", None).await.is_empty());
    assert!(migrator
        .skipped()
        .iter()
        .any(|s| s.database == "other" && s.reason == SkipReason::NoMigrations));

    migrator.migrate("primary").await.unwrap();
    let status = migrator.status("primary").await.unwrap();
    assert_eq!(status[0].applied().len(), 2);
    assert!(status[0].migrations.iter().all(|m| m.applied_at.is_some()));

    // An applied migration whose file was deleted shows as NO FILE; migrate still works.
    std::fs::remove_file(dir.join("0002_add_posts.sql")).unwrap();
    let status = migrator.status("primary").await.unwrap();
    assert_eq!(status[0].missing().len(), 1);
    assert_eq!(status[0].missing()[0].name, "add_posts");
    assert_eq!(migrator.migrate_all().await.unwrap().applied_count(), 0);
    grant.close().await;
}

#[tokio::test]
async fn edited_applied_file_is_a_checksum_error() {
    let tmp = TempDir::new("checksum");
    let dir = tmp.sub("migrations");
    let users = write(&dir, "0001_create_users.sql", CREATE_USERS);
    let grant = grant_of(vec![(
        "primary",
        DatabaseConfig::new(tmp.sqlite("app.db")).migrations(&dir),
    )]);
    let migrator = Migrator::new(&grant);
    migrator.migrate_all().await.unwrap();

    write(
        &dir,
        "0001_create_users.sql",
        &format!("{CREATE_USERS}-- edited\n"),
    );
    write(&dir, "0002_add_posts.sql", ADD_POSTS);
    let err = migrator.migrate_all().await.unwrap_err();
    let errors = err.errors();
    assert_eq!(errors.len(), 1, "{err}");
    match errors[0] {
        MigrateError::ChecksumMismatch {
            database,
            shard,
            version,
            file,
            recorded,
            actual,
        } => {
            assert_eq!(database, "primary");
            assert_eq!(*shard, None);
            assert_eq!(*version, 1);
            assert_eq!(file, &users);
            assert_ne!(recorded, actual);
        }
        other => panic!("unexpected error: {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("primary") && message.contains("0001_create_users.sql"),
        "{message}"
    );
    // Nothing was applied: 0002 is still pending.
    assert_eq!(err.report().unwrap().applied_count(), 0);
    assert!(!sqlite_tables(&grant, "primary", None)
        .await
        .contains(&"posts".to_string()));

    let status = migrator.status_all().await.unwrap();
    assert_eq!(status[0].mismatched().len(), 1);
    assert_eq!(status[0].pending().len(), 1);
    assert!(matches!(
        status[0].mismatched()[0].state,
        MigrationState::ChecksumMismatch { .. }
    ));
    grant.close().await;
}

#[tokio::test]
async fn bad_file_names_are_typed_errors() {
    async fn first_error(files: &[(&str, &str)]) -> MigrateError {
        let tmp = TempDir::new("names");
        let dir = tmp.sub("migrations");
        for (name, sql) in files {
            write(&dir, name, sql);
        }
        let grant = grant_of(vec![(
            "primary",
            DatabaseConfig::new(tmp.sqlite("app.db")).migrations(&dir),
        )]);
        let err = Migrator::new(&grant).migrate_all().await.unwrap_err();
        // Nothing touched the database.
        assert!(sqlite_tables(&grant, "primary", None).await.is_empty());
        grant.close().await;
        err
    }

    for bad in [
        "init.sql",
        "abc_init.sql",
        "0001_.sql",
        "0001_add users.sql",
        "0002_x.up.sql",
    ] {
        let err = first_error(&[("0001_ok.sql", "SELECT 1;"), (bad, "SELECT 1;")]).await;
        match &err {
            MigrateError::BadFileName { database, file, .. } => {
                assert_eq!(database, "primary");
                assert!(file.ends_with(bad), "{err}");
            }
            other => panic!("{bad}: unexpected error: {other}"),
        }
        assert!(err.to_string().contains(bad), "{err}");
    }

    let err = first_error(&[("0001_a.sql", "SELECT 1;"), ("1_b.sql", "SELECT 1;")]).await;
    assert!(
        matches!(&err, MigrateError::DuplicateVersion { version: 1, file, other, .. }
            if file.ends_with("1_b.sql") && other.ends_with("0001_a.sql")),
        "{err}"
    );

    let err = first_error(&[
        ("0001_a.sql", "SELECT 1;"),
        ("0001_b.down.sql", "SELECT 1;"),
    ])
    .await;
    assert!(
        matches!(&err, MigrateError::OrphanDown { file, .. } if file.ends_with("0001_b.down.sql")),
        "{err}"
    );

    let err = first_error(&[
        ("0001_a.sql", "SELECT 1;"),
        ("0002_b.down.sql", "SELECT 1;"),
    ])
    .await;
    assert!(
        matches!(&err, MigrateError::OrphanDown { found: None, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn missing_folder_unknown_database_and_no_folder() {
    let tmp = TempDir::new("folders");
    let grant = grant_of(vec![
        (
            "primary",
            DatabaseConfig::new(tmp.sqlite("app.db")).migrations(tmp.path().join("nope")),
        ),
        ("plain", DatabaseConfig::new(tmp.sqlite("plain.db"))),
    ]);
    let migrator = Migrator::new(&grant);
    let err = migrator.migrate_all().await.unwrap_err();
    assert!(
        matches!(&err, MigrateError::ReadDir { database, .. } if database == "primary"),
        "{err}"
    );
    let err = migrator.migrate("plain").await.unwrap_err();
    assert!(matches!(&err, MigrateError::NoMigrationsFolder { database } if database == "plain"));
    let err = migrator.migrate("missing").await.unwrap_err();
    assert!(matches!(&err, MigrateError::UnknownDatabase { database } if database == "missing"));
    grant.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_database_migrates_every_shard() {
    let tmp = TempDir::new("shards");
    let dir = tmp.sub("migrations");
    let users = write(&dir, "0001_create_users.sql", CREATE_USERS);
    write(&dir, "0002_add_posts.sql", ADD_POSTS);
    let db = DatabaseConfig::new(tmp.sqlite("main.db"))
        .migrations(&dir)
        .shard("shard_one", ShardConfig::new(tmp.sqlite("s1.db")))
        .shard("shard_two", ShardConfig::new(tmp.sqlite("s2.db")))
        .shard("shard_three", ShardConfig::new(tmp.sqlite("s3.db")));
    let grant = grant_of(vec![("primary", db)]);
    let migrator = Migrator::new(&grant);

    let report = migrator.migrate_all().await.unwrap();
    let targets: Vec<Option<&str>> = report.targets.iter().map(|t| t.shard.as_deref()).collect();
    assert_eq!(
        targets,
        [
            None,
            Some("shard_one"),
            Some("shard_three"),
            Some("shard_two")
        ]
    );
    assert!(report.targets.iter().all(|t| t.applied.len() == 2));
    for shard in [
        None,
        Some("shard_one"),
        Some("shard_two"),
        Some("shard_three"),
    ] {
        assert_eq!(
            sqlite_tables(&grant, "primary", shard).await,
            ["grant_migrations", "posts", "users"],
            "{shard:?}"
        );
    }
    assert_eq!(migrator.migrate_all().await.unwrap().applied_count(), 0);

    let status = migrator.status_all().await.unwrap();
    assert_eq!(status.len(), 4);
    assert!(status
        .iter()
        .all(|s| s.is_up_to_date() && s.applied().len() == 2));

    // Edit an applied file: every target reports it, naming its shard and the file.
    write(
        &dir,
        "0001_create_users.sql",
        "CREATE TABLE users (id BIGINT PRIMARY KEY);\n",
    );
    let err = migrator.migrate("primary").await.unwrap_err();
    let mut shards: Vec<Option<&str>> = err
        .errors()
        .iter()
        .map(|e| match e {
            MigrateError::ChecksumMismatch { shard, file, .. } => {
                assert_eq!(file, &users);
                shard.as_deref()
            }
            other => panic!("unexpected error: {other}"),
        })
        .collect();
    shards.sort();
    assert_eq!(
        shards,
        [
            None,
            Some("shard_one"),
            Some("shard_three"),
            Some("shard_two")
        ]
    );
    assert!(err.to_string().contains("shard `shard_two`"), "{err}");
    grant.close().await;
}

#[tokio::test]
async fn shard_with_the_database_url_is_migrated_once() {
    let tmp = TempDir::new("sameurl");
    let dir = tmp.sub("migrations");
    write(&dir, "0001_create_users.sql", CREATE_USERS);
    let db = DatabaseConfig::new(tmp.sqlite("main.db"))
        .migrations(&dir)
        .shard("shard_one", ShardConfig::new(tmp.sqlite("main.db")))
        .shard("shard_two", ShardConfig::new(tmp.sqlite("s2.db")));
    let grant = grant_of(vec![("primary", db)]);
    let report = Migrator::new(&grant).migrate_all().await.unwrap();
    assert_eq!(report.targets.len(), 2);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].shard.as_deref(), Some("shard_one"));
    assert_eq!(report.skipped[0].reason, SkipReason::SameUrlAs(None));
    grant.close().await;
}

#[tokio::test]
async fn readonly_and_replicas_are_skipped() {
    let tmp = TempDir::new("readonly");
    let dir = tmp.sub("migrations");
    write(&dir, "0001_create_users.sql", CREATE_USERS);
    let grant = grant_of(vec![
        (
            "primary",
            DatabaseConfig::new(tmp.sqlite("app.db")).migrations(&dir),
        ),
        (
            "primary_replica",
            DatabaseConfig::new(tmp.sqlite("app.db"))
                .replica_of("primary")
                .migrations(&dir),
        ),
        (
            "archive",
            DatabaseConfig::new(tmp.sqlite("archive.db"))
                .readonly(true)
                .migrations(&dir),
        ),
    ]);
    let migrator = Migrator::new(&grant);
    let report = migrator.migrate_all().await.unwrap();
    assert_eq!(report.targets.len(), 1);
    assert_eq!(report.applied_count(), 1);
    let mut skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.database.as_str(), s.reason.clone()))
        .collect();
    skipped.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(
        skipped,
        [
            ("archive", SkipReason::Readonly),
            ("primary_replica", SkipReason::ReplicaOf("primary".into()))
        ]
    );
    let report = migrator.migrate("primary_replica").await.unwrap();
    assert!(report.targets.is_empty());
    assert_eq!(report.skipped.len(), 1);
    let err = migrator.revert_last("archive").await.unwrap_err();
    assert!(matches!(err, MigrateError::ReadOnly { .. }), "{err}");
    assert_eq!(migrator.status_all().await.unwrap().len(), 1);
    grant.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_last_uses_down_files() {
    let tmp = TempDir::new("revert");
    let dir = tmp.sub("migrations");
    write(&dir, "0001_create_users.sql", CREATE_USERS);
    write(&dir, "0001_create_users.down.sql", CREATE_USERS_DOWN);
    write(&dir, "0002_add_posts.sql", ADD_POSTS);
    write(&dir, "0002_add_posts.down.sql", ADD_POSTS_DOWN);
    let db = DatabaseConfig::new(tmp.sqlite("main.db"))
        .migrations(&dir)
        .shard("shard_one", ShardConfig::new(tmp.sqlite("s1.db")));
    let grant = grant_of(vec![("primary", db)]);
    let migrator = Migrator::new(&grant);
    migrator.migrate_all().await.unwrap();

    let report = migrator.revert_last("primary").await.unwrap();
    assert_eq!(report.reverted_count(), 2, "one per target");
    for t in &report.targets {
        assert_eq!(t.reverted[0].version, 2);
        assert!(t.reverted[0].file.ends_with("0002_add_posts.down.sql"));
    }
    assert_eq!(
        sqlite_tables(&grant, "primary", Some("shard_one")).await,
        ["grant_migrations", "users"]
    );
    let status = migrator.status("primary").await.unwrap();
    assert!(status
        .iter()
        .all(|s| s.pending().len() == 1 && s.pending()[0].version == 2));

    migrator.revert_last("primary").await.unwrap();
    assert_eq!(
        sqlite_tables(&grant, "primary", None).await,
        ["grant_migrations"]
    );
    let report = migrator.revert_last("primary").await.unwrap();
    assert_eq!(report.reverted_count(), 0);
    assert_eq!(report.targets.len(), 2);

    // Up again; then a migration without a down file cannot be reverted anywhere.
    write(
        &dir,
        "0003_add_email.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    );
    assert_eq!(migrator.migrate_all().await.unwrap().applied_count(), 6);
    let err = migrator.revert_last("primary").await.unwrap_err();
    assert_eq!(err.errors().len(), 2);
    for e in err.errors() {
        match e {
            MigrateError::NoDownMigration {
                database,
                version,
                file,
                expected,
                ..
            } => {
                assert_eq!((database.as_str(), *version), ("primary", 3));
                assert!(file.ends_with("0003_add_email.sql"));
                assert!(expected.ends_with("0003_add_email.down.sql"));
            }
            other => panic!("unexpected error: {other}"),
        }
    }
    assert!(err.to_string().contains("0003_add_email"), "{err}");
    assert!(migrator
        .status("primary")
        .await
        .unwrap()
        .iter()
        .all(|s| s.is_up_to_date()));
    grant.close().await;
}

#[tokio::test]
async fn failing_statement_rolls_back_on_sqlite() {
    let tmp = TempDir::new("rollback");
    let dir = tmp.sub("migrations");
    write(&dir, "0001_create_users.sql", CREATE_USERS);
    let bad = write(
        &dir,
        "0002_broken.sql",
        "CREATE TABLE posts (id BIGINT PRIMARY KEY);\n\nINSERT INTO no_such_table VALUES (1);\n",
    );
    let grant = grant_of(vec![(
        "primary",
        DatabaseConfig::new(tmp.sqlite("app.db")).migrations(&dir),
    )]);
    let migrator = Migrator::new(&grant);
    let err = migrator.migrate_all().await.unwrap_err();
    match err.errors()[..] {
        [MigrateError::Statement {
            database,
            shard,
            file,
            statement,
            statements,
            line,
            partial,
            ..
        }] => {
            assert_eq!((database.as_str(), shard.as_deref()), ("primary", None));
            assert_eq!(file, &bad);
            assert_eq!((*statement, *statements, *line, *partial), (2, 2, 3, false));
        }
        ref other => panic!("unexpected errors: {other:?}"),
    }
    // 0001 applied and kept; 0002 rolled back entirely.
    assert_eq!(err.report().unwrap().applied_count(), 1);
    assert_eq!(
        sqlite_tables(&grant, "primary", None).await,
        ["grant_migrations", "users"]
    );
    let status = migrator.status_all().await.unwrap();
    assert_eq!(status[0].pending().len(), 1);
    grant.close().await;
}

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

// ---------------------------------------------------------------- servers ---

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Creates `n` fresh databases on the server of `admin_url`, runs `body` with their URLs,
/// then drops them (even when `body` panics).
async fn with_databases<F, Fut>(admin_url: &str, n: usize, body: F)
where
    F: FnOnce(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let admin = Grant::connect(admin_url).await.unwrap();
    let base = unique("grant_mig");
    let names: Vec<String> = (0..n).map(|i| format!("{base}_{i}")).collect();
    for name in &names {
        raw(format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
    }
    let urls = names.iter().map(|n| with_database(admin_url, n)).collect();
    let outcome = tokio::spawn(body(urls)).await;
    for name in &names {
        if let Err(e) = raw(format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&admin)
            .await
        {
            eprintln!("cleanup: cannot drop {name}: {e}");
        }
    }
    admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn server_apply_status_revert(backend: Backend, urls: Vec<String>) {
    let tmp = TempDir::new("server");
    let dir = tmp.sub("migrations");
    write(&dir, "20261124090000_create_users.sql", CREATE_USERS);
    write(
        &dir,
        "20261124090000_create_users.down.sql",
        CREATE_USERS_DOWN,
    );
    write(&dir, "20261124090001_add_posts.sql", ADD_POSTS);
    write(&dir, "20261124090001_add_posts.down.sql", ADD_POSTS_DOWN);
    if backend == Backend::Postgres {
        write(
            &dir,
            "20261124090002_function.sql",
            "CREATE FUNCTION user_count() RETURNS bigint AS $$\nBEGIN\n  RETURN (SELECT COUNT(*) FROM users);\nEND;\n$$ LANGUAGE plpgsql;\n",
        );
    }
    let expected = if backend == Backend::Postgres { 3 } else { 2 };
    let db = DatabaseConfig::new(&urls[0])
        .migrations(&dir)
        .shard("shard_one", ShardConfig::new(&urls[1]))
        .shard("shard_two", ShardConfig::new(&urls[2]));
    let grant = grant_of(vec![("primary", db)]);
    let migrator = Migrator::new(&grant);

    let status = migrator.status_all().await.unwrap();
    assert_eq!(status.len(), 3);
    assert!(status
        .iter()
        .all(|s| s.error.is_none() && s.pending().len() == expected));

    let report = migrator.migrate_all().await.unwrap();
    assert_eq!(report.targets.len(), 3);
    assert!(report
        .targets
        .iter()
        .all(|t| t.applied.len() == expected && t.backend == backend));
    assert_eq!(migrator.migrate_all().await.unwrap().applied_count(), 0);
    let status = migrator.status_all().await.unwrap();
    assert!(status
        .iter()
        .all(|s| s.is_up_to_date() && s.applied().len() == expected));
    assert!(status
        .iter()
        .flat_map(|s| &s.migrations)
        .all(|m| m.applied_at.as_deref().is_some_and(|a| a.starts_with("20"))));
    for shard in ["shard_one", "shard_two"] {
        let rows = connection()
            .role(Role::Writing)
            .shard(shard)
            .run(
                raw("SELECT name FROM users")
                    .on("primary")
                    .fetch_all(&grant),
            )
            .await
            .unwrap();
        assert_eq!(rows[0].get::<String>("name").unwrap(), "it's; me");
    }

    // A failing statement: PostgreSQL rolls the whole migration back; MariaDB keeps the
    // statements before it and says so.
    write(
        &dir,
        "20261124090009_broken.sql",
        "CREATE TABLE tags (id BIGINT PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n",
    );
    let err = migrator.migrate("primary").await.unwrap_err();
    assert_eq!(err.errors().len(), 3);
    for e in err.errors() {
        match e {
            MigrateError::Statement {
                statement, partial, ..
            } => {
                assert_eq!(*statement, 2);
                assert_eq!(*partial, backend == Backend::MySql);
            }
            other => panic!("unexpected error: {other}"),
        }
    }
    let tags = raw(match backend {
        Backend::Postgres => "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'tags'",
        _ => "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'tags'",
    })
    .on("primary");
    let n: i64 = connection()
        .role(Role::Writing)
        .run(tags.fetch_all(&grant))
        .await
        .unwrap()[0]
        .get("n")
        .unwrap();
    assert_eq!(n, i64::from(backend == Backend::MySql));
    std::fs::remove_file(dir.join("20261124090009_broken.sql")).unwrap();

    // Revert, on every target.
    if backend == Backend::Postgres {
        write(
            &dir,
            "20261124090002_function.down.sql",
            "DROP FUNCTION user_count();\n",
        );
        migrator.revert_last("primary").await.unwrap();
    }
    let report = migrator.revert_last("primary").await.unwrap();
    assert_eq!(report.reverted_count(), 3);
    assert!(report
        .targets
        .iter()
        .all(|t| t.reverted[0].name == "add_posts"));
    let status = migrator.status("primary").await.unwrap();
    assert!(status.iter().all(|s| s.applied().len() == 1));
    grant.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_apply_status_revert() {
    let Ok(url) = std::env::var("GRANT_TEST_POSTGRES_URL") else {
        println!("skipped: GRANT_TEST_POSTGRES_URL not set");
        return;
    };
    with_databases(&url, 3, |urls| {
        server_apply_status_revert(Backend::Postgres, urls)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_apply_status_revert() {
    let Ok(url) = std::env::var("GRANT_TEST_MARIADB_URL") else {
        println!("skipped: GRANT_TEST_MARIADB_URL not set");
        return;
    };
    with_databases(&url, 3, |urls| {
        server_apply_status_revert(Backend::MySql, urls)
    })
    .await;
}

#[test]
fn url_database_replacement() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/grant_test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database(
            "mysql://grant@127.0.0.1:3306/grant_test?ssl-mode=disabled",
            "x"
        ),
        "mysql://grant@127.0.0.1:3306/x?ssl-mode=disabled"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_shard_stops_everything_before_any_change() {
    let tmp = TempDir::new("unreachable");
    let dir = tmp.sub("migrations");
    write(&dir, "0001_create_users.sql", CREATE_USERS);
    let missing = tmp.path().join("no_such_dir").join("s2.db");
    let db = DatabaseConfig::new(tmp.sqlite("main.db"))
        .migrations(&dir)
        .pool(grant_core::PoolConfig {
            acquire_timeout: std::time::Duration::from_secs(2),
            ..Default::default()
        })
        .shard("shard_one", ShardConfig::new(tmp.sqlite("s1.db")))
        .shard(
            "shard_two",
            ShardConfig::new(format!("sqlite://{}", missing.display())),
        );
    let grant = grant_of(vec![("primary", db)]);
    let migrator = Migrator::new(&grant);

    let status = migrator.status_all().await.unwrap();
    assert_eq!(status.len(), 3);
    let broken: Vec<_> = status.iter().filter(|s| s.error.is_some()).collect();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].shard.as_deref(), Some("shard_two"));
    assert!(status
        .iter()
        .filter(|s| s.error.is_none())
        .all(|s| s.pending().len() == 1));

    let err = migrator.migrate_all().await.unwrap_err();
    assert_eq!(err.errors().len(), 1, "{err}");
    assert_eq!(err.errors()[0].shard(), Some("shard_two"));
    assert_eq!(err.errors()[0].database(), Some("primary"));
    assert_eq!(err.report().unwrap().applied_count(), 0);
    // Checked before anything was applied: the reachable targets are untouched.
    assert!(sqlite_tables(&grant, "primary", None).await.is_empty());
    assert!(sqlite_tables(&grant, "primary", Some("shard_one"))
        .await
        .is_empty());
    grant.close().await;
}

#[tokio::test]
async fn break_markers_and_no_transaction_files() {
    let tmp = TempDir::new("markers");
    let dir = tmp.sub("migrations");
    write(&dir, "0001_create_users.sql", CREATE_USERS);
    write(
        &dir,
        "0002_trigger.sql",
        "CREATE TABLE audit (user_id BIGINT);\n-- grant:break\nCREATE TRIGGER users_audit AFTER INSERT ON users\nBEGIN\n  INSERT INTO audit (user_id) VALUES (NEW.id);\nEND;\n",
    );
    write(
        &dir,
        "0003_seed.sql",
        "-- grant:no-transaction\nINSERT INTO users (id, name) VALUES (7, 'seven');\n",
    );
    let grant = grant_of(vec![(
        "primary",
        DatabaseConfig::new(tmp.sqlite("app.db")).migrations(&dir),
    )]);
    let migrator = Migrator::new(&grant);
    let migrations = migrator.migrations("primary").unwrap();
    assert_eq!(migrations[1].statements.len(), 2);
    assert_eq!(migrations[1].statements[1].line, 3);
    assert!(!migrations[1].no_transaction);
    assert!(migrations[2].no_transaction);

    let report = migrator.migrate_all().await.unwrap();
    assert_eq!(report.applied_count(), 3);
    let rows = raw("SELECT user_id FROM audit")
        .on("primary")
        .fetch_all(&grant)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the trigger ran for the seeded row");
    assert_eq!(rows[0].get::<i64>("user_id").unwrap(), 7);
    grant.close().await;
}
