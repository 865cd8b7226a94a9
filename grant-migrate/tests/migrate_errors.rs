//! Migration errors against SQLite files: edited files, bad file names, missing folders,
//! failing statements, unreachable shards.

mod common;

use common::{grant_of, sqlite_tables, write, TempDir, ADD_POSTS, CREATE_USERS};
use grant_core::config::{DatabaseConfig, ShardConfig};
use grant_migrate::{MigrateError, MigrationState, Migrator};

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

    // Status changes nothing: the missing file is reported, not created or opened.
    let status = migrator.status_all().await.unwrap();
    assert_eq!(status.len(), 3);
    assert!(status
        .iter()
        .all(|s| s.error.is_none() && s.pending().len() == 1));
    let missing: Vec<_> = status.iter().filter(|s| s.missing_database).collect();
    assert_eq!(missing.len(), 3, "no SQLite file exists yet");
    assert!(!tmp.path().join("no_such_dir").exists());

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
