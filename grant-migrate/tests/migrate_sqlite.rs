//! Migration behaviour against SQLite files: apply, status, shards, skipped databases,
//! revert, statement markers.

mod common;

use common::{
    grant_of, sqlite_tables, write, write_users_and_posts, TempDir, ADD_POSTS, CREATE_USERS,
};
use grant_core::config::{DatabaseConfig, ShardConfig};
use grant_core::{raw, Backend};
use grant_migrate::{MigrateError, Migrator, SkipReason};

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
    write_users_and_posts(&dir);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_plans_and_shard_selection() {
    use std::sync::{Arc, Mutex};

    use grant_migrate::{Direction, Operation, Progress};

    let tmp = TempDir::new("progress");
    let dir = tmp.sub("migrations");
    write_users_and_posts(&dir);
    let db = DatabaseConfig::new(tmp.sqlite("main.db"))
        .migrations(&dir)
        .shard("s1", ShardConfig::new(tmp.sqlite("s1.db")))
        .shard("s2", ShardConfig::new(tmp.sqlite("s2.db")));
    let grant = grant_of(vec![("primary", db)]);

    // A plan changes nothing and creates no file.
    let plans = Migrator::new(&grant)
        .plan(None, Operation::Migrate { to: Some(1) })
        .await
        .unwrap();
    assert_eq!(plans.len(), 3);
    assert!(plans.iter().all(|p| p.steps.len() == 1
        && p.steps[0].version == 1
        && p.steps[0].direction == Direction::Up));
    assert!(!tmp.path().join("s1.db").exists());

    // Events: started, one per step, finished, for the one selected shard.
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let migrator = Migrator::new(&grant)
        .shard("s2")
        .concurrency(1)
        .on_progress(move |e| sink.lock().unwrap().push(e.clone()));
    let report = migrator.migrate("primary").await.unwrap();
    assert_eq!(report.targets.len(), 1);
    assert_eq!(report.targets[0].shard.as_deref(), Some("s2"));
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(matches!(&events[0], Progress::Started { shard: Some(s), steps: 2, .. } if s == "s2"));
    assert!(
        matches!(&events[1], Progress::Step { step, direction: Direction::Up, .. } if step.version == 1)
    );
    assert!(matches!(&events[2], Progress::Step { step, .. } if step.version == 2));
    assert!(matches!(&events[3], Progress::Finished { error: None, .. }));
    assert!(!tmp.path().join("s1.db").exists(), "other shards untouched");

    // Redo on that shard: down then up, newest first.
    let report = migrator
        .run(Some("primary"), Operation::Redo(2))
        .await
        .unwrap();
    let t = &report.targets[0];
    assert_eq!(
        t.reverted.iter().map(|s| s.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(
        t.applied.iter().map(|s| s.version).collect::<Vec<_>>(),
        [1, 2]
    );

    // A shard the database does not have.
    let err = Migrator::new(&grant)
        .shard("s9")
        .migrate("primary")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MigrateError::UnknownShard { database, shard } if database == "primary" && shard == "s9"),
        "{err}"
    );
    grant.close().await;
}
