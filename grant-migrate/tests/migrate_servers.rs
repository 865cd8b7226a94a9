//! Migrations against PostgreSQL / MariaDB when `GRANT_TEST_POSTGRES_URL` /
//! `GRANT_TEST_MARIADB_URL` are set (skipped otherwise).

mod common;

use common::cli::with_database;
use common::{
    grant_of, unique, write, TempDir, ADD_POSTS, ADD_POSTS_DOWN, CREATE_USERS, CREATE_USERS_DOWN,
};
use grant_core::config::{DatabaseConfig, ShardConfig};
use grant_core::{connection, raw, Backend, Role};
use grant_migrate::{MigrateError, Migrator};

/// Creates `n` fresh databases on the server of `admin_url`, runs `body` with their URLs,
/// then drops them (even when `body` panics).
async fn with_databases<F, Fut>(admin_url: &str, n: usize, body: F)
where
    F: FnOnce(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let base = unique("grant_mig");
    let names: Vec<String> = (0..n).map(|i| format!("{base}_{i}")).collect();
    for name in &names {
        common::server_exec(admin_url, &format!("CREATE DATABASE {name}")).await;
    }
    let urls = names.iter().map(|n| with_database(admin_url, n)).collect();
    let outcome = tokio::spawn(body(urls)).await;
    for name in &names {
        // FORCE (PostgreSQL): a pool connection still closing must not hold the drop up.
        let force = if admin_url.starts_with("postgres") {
            " WITH (FORCE)"
        } else {
            ""
        };
        common::server_exec(admin_url, &format!("DROP DATABASE IF EXISTS {name}{force}")).await;
    }
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
    let all = migrator.clone().on_error(grant_migrate::OnError::Continue);
    let err = all.migrate("primary").await.unwrap_err();
    assert_eq!(err.errors().len(), 3);
    for e in err.errors() {
        match e {
            MigrateError::Statement {
                statement,
                partial,
                dirty,
                ..
            } => {
                assert_eq!(*statement, 2);
                assert_eq!(*partial, backend == Backend::MySql);
                assert_eq!(*dirty, backend == Backend::MySql);
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
    if backend == Backend::MySql {
        // MariaDB: the migration is DIRTY on every target; the next run says so and
        // changes nothing, until an operator fixes the database and resolves it.
        let status = migrator.status("primary").await.unwrap();
        for s in &status {
            let dirty = s.dirty();
            assert_eq!(dirty.len(), 1, "{s:?}");
            assert_eq!(dirty[0].version, 20261124090009);
            assert!(matches!(
                &dirty[0].state,
                grant_migrate::MigrationState::Dirty { statement: Some(2), error: Some(e) } if e.contains("no_such_table")
            ));
        }
        let err = all.migrate("primary").await.unwrap_err();
        assert_eq!(err.errors().len(), 3);
        assert!(err.errors().iter().all(|e| matches!(
            e,
            MigrateError::Dirty {
                version: 20261124090009,
                statement: Some(2),
                ..
            }
        )));
        for shard in [None, Some("shard_one"), Some("shard_two")] {
            let mut scope = connection().role(Role::Writing);
            if let Some(shard) = shard {
                scope = scope.shard(shard);
            }
            scope
                .run(raw("DROP TABLE tags").on("primary").execute(&grant))
                .await
                .unwrap();
            migrator
                .resolve(
                    "primary",
                    shard,
                    20261124090009,
                    grant_migrate::Resolution::RolledBack,
                )
                .await
                .unwrap();
        }
        let again = migrator
            .resolve(
                "primary",
                None,
                20261124090009,
                grant_migrate::Resolution::Applied,
            )
            .await
            .unwrap_err();
        assert!(matches!(again, MigrateError::NotDirty { .. }), "{again}");
    }
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

/// `--statement-timeout off` (here `statement_timeout(None)`) lifts the pool's server-side
/// limit for the run's statements, and the pool's own setting is back afterwards.
async fn statement_timeout_for_the_run(backend: Backend, urls: Vec<String>) {
    let tmp = TempDir::new("stmt_timeout");
    let dir = tmp.sub("migrations");
    let (record, show) = match backend {
        Backend::Postgres => (
            "CREATE TABLE st AS SELECT current_setting('statement_timeout') AS v;\n",
            "SELECT current_setting('statement_timeout') AS v",
        ),
        _ => (
            "CREATE TABLE st AS SELECT CAST(@@SESSION.max_statement_time AS CHAR) AS v;\n",
            "SELECT CAST(@@SESSION.max_statement_time AS CHAR) AS v",
        ),
    };
    write(&dir, "0001_record.sql", record);
    let db = DatabaseConfig::new(&urls[0])
        .migrations(&dir)
        .statement_timeout(Some(std::time::Duration::from_secs(30)))
        .pool(grant_core::PoolConfig {
            max_connections: 1,
            ..Default::default()
        });
    let grant = grant_of(vec![("primary", db)]);
    Migrator::new(&grant)
        .statement_timeout(None)
        .migrate_all()
        .await
        .unwrap();
    let during: String = connection()
        .role(Role::Writing)
        .run(raw("SELECT v FROM st").on("primary").fetch_all(&grant))
        .await
        .unwrap()[0]
        .get("v")
        .unwrap();
    let after: String = connection()
        .role(Role::Writing)
        .run(raw(show).on("primary").fetch_all(&grant))
        .await
        .unwrap()[0]
        .get("v")
        .unwrap();
    if backend == Backend::Postgres {
        assert_eq!((during.as_str(), after.as_str()), ("0", "30s"));
    } else {
        assert_eq!(during.parse::<f64>().unwrap(), 0.0, "{during}");
        assert_eq!(after.parse::<f64>().unwrap(), 30.0, "{after}");
    }
    grant.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statement_timeout_for_the_run() {
    let Ok(url) = std::env::var("GRANT_TEST_POSTGRES_URL") else {
        println!("skipped: GRANT_TEST_POSTGRES_URL not set");
        return;
    };
    with_databases(&url, 1, |urls| {
        statement_timeout_for_the_run(Backend::Postgres, urls)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_statement_timeout_for_the_run() {
    let Ok(url) = std::env::var("GRANT_TEST_MARIADB_URL") else {
        println!("skipped: GRANT_TEST_MARIADB_URL not set");
        return;
    };
    with_databases(&url, 1, |urls| {
        statement_timeout_for_the_run(Backend::MySql, urls)
    })
    .await;
}
