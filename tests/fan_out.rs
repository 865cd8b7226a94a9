//! Fan-out (issue 7 §6): one statement on several named databases, of different engines,
//! with per-database outcomes, timeouts and a row cap; writes refused unless allowed.

mod common;

use std::time::Duration;

use common::proxy::{host_port, Proxy};
use common::Engine;
use grant::{
    connected_to, raw, AssertSqlSafe, Backend, Config, DatabaseConfig, Error, FanOutReport, Grant,
    Model, ReadOnlyReason, Role,
};

const TABLE: &str = "fan_out_pets";

/// A handle over `(name, url)` databases.
fn grant_of(dbs: &[(&str, &str)]) -> Grant {
    let mut b = Config::builder().default_database(dbs[0].0);
    for (name, url) in dbs {
        b = b.database(*name, DatabaseConfig::new(*url));
    }
    Grant::from_config(b.build().unwrap()).unwrap()
}

/// `fan_out_pets (id, name)` on `database` with `n` rows named `pet1`..`petN`.
async fn seed(db: &Grant, database: &str, e: &Engine, n: usize) {
    raw(AssertSqlSafe(format!("DROP TABLE IF EXISTS {TABLE}")))
        .on(database)
        .execute(db)
        .await
        .unwrap();
    raw(AssertSqlSafe(e.ddl(&format!(
        "CREATE TABLE {TABLE} (id {{pk}}, name {{text}})"
    ))))
    .on(database)
    .execute(db)
    .await
    .unwrap();
    for i in 1..=n {
        raw(AssertSqlSafe(format!(
            "INSERT INTO {TABLE} (name) VALUES ({})",
            e.ph(1)
        )))
        .bind(format!("pet{i}"))
        .on(database)
        .execute(db)
        .await
        .unwrap();
    }
}

async fn count(db: &Grant, database: &str) -> i64 {
    let rows = connected_to(
        Role::Writing,
        raw(AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {TABLE}")))
            .on(database)
            .fetch_all(db),
    )
    .await
    .unwrap();
    rows[0].get::<i64>("n").unwrap()
}

fn names(report: &FanOutReport) -> Vec<&str> {
    report.iter().map(|o| o.database.as_str()).collect()
}

fn row_count(report: &FanOutReport, database: &str) -> usize {
    let o = report.get(database).unwrap();
    o.rows
        .as_ref()
        .unwrap_or_else(|e| panic!("{database}: {e}"))
        .len()
}

/// PostgreSQL, MariaDB (when configured) and SQLite under the names `pg`, `maria`, `lite`.
struct Mixed {
    db: Grant,
    engines: Vec<(&'static str, Engine)>,
}

async fn mixed(tag: &str, rows: usize) -> Mixed {
    let mut engines = vec![("lite", Engine::sqlite(tag))];
    if let Some(pg) = Engine::postgres() {
        engines.push(("pg", pg));
    }
    if let Some(m) = Engine::mariadb() {
        engines.push(("maria", m));
    }
    let dbs: Vec<(&str, &str)> = engines.iter().map(|(n, e)| (*n, e.url.as_str())).collect();
    let db = grant_of(&dbs);
    for (name, e) in &engines {
        seed(&db, name, e, rows).await;
    }
    Mixed { db, engines }
}

impl Mixed {
    fn names(&self) -> Vec<&'static str> {
        self.engines.iter().map(|(n, _)| *n).collect()
    }

    /// `f` with `sql` for `database`, when that server is configured.
    fn sql_for<'g>(
        &self,
        f: grant::FanOut<'g>,
        database: &str,
        sql: &'static str,
    ) -> grant::FanOut<'g> {
        if self.names().contains(&database) {
            f.sql_for(database.to_string(), sql)
        } else {
            f
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_one_broken() {
    let (a, b) = (Engine::sqlite("fan-a"), Engine::sqlite("fan-b"));
    let broken = common::sqlite_file("fan-broken");
    std::fs::write(
        broken.trim_start_matches("sqlite://"),
        b"not a database, just text\n".repeat(200),
    )
    .unwrap();
    let db = grant_of(&[("a", &a.url), ("broken", &broken), ("b", &b.url)]);
    seed(&db, "a", &a, 3).await;
    seed(&db, "b", &b, 5).await;

    let report = db
        .fan_out(["a", "broken", "b"])
        .sql("SELECT id, name FROM fan_out_pets ORDER BY id")
        .run()
        .await
        .unwrap();
    assert_eq!(names(&report), ["a", "broken", "b"]);
    assert_eq!(row_count(&report, "a"), 3);
    assert_eq!(row_count(&report, "b"), 5);
    let bad = report.get("broken").unwrap();
    assert!(bad.rows.is_err(), "{bad:?}");
    assert_eq!(bad.backend, Some(Backend::Sqlite));
    assert!(!report.all_ok());
    assert_eq!(
        report.errors().map(|(d, _)| d).collect::<Vec<_>>(),
        ["broken"]
    );
    let rows = report.get("b").unwrap().rows.as_ref().unwrap();
    assert_eq!(rows[4].get::<String>("name").unwrap(), "pet5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_kept_with_any_concurrency() {
    let engines: Vec<Engine> = (0..5)
        .map(|i| Engine::sqlite(&format!("fan-order{i}")))
        .collect();
    let names_: Vec<String> = (0..5).map(|i| format!("d{i}")).collect();
    let dbs: Vec<(&str, &str)> = names_
        .iter()
        .zip(&engines)
        .map(|(n, e)| (n.as_str(), e.url.as_str()))
        .collect();
    let db = grant_of(&dbs);
    for (i, (n, e)) in names_.iter().zip(&engines).enumerate() {
        seed(&db, n, e, i + 1).await;
    }
    // Reversed, with an unknown name in the middle.
    let order = ["d4", "d3", "missing", "d2", "d1", "d0"];
    for concurrency in [1, 2, 6, 100] {
        let report = db
            .fan_out(order)
            .sql("SELECT name FROM fan_out_pets")
            .concurrency(concurrency)
            .run()
            .await
            .unwrap();
        assert_eq!(names(&report), order, "concurrency {concurrency}");
        for (i, name) in ["d4", "d3"].iter().enumerate() {
            assert_eq!(row_count(&report, name), 5 - i);
        }
        assert_eq!(row_count(&report, "d0"), 1);
    }
    // Default: all at once.
    let report = db
        .fan_out(order)
        .sql("SELECT 1 AS one")
        .run()
        .await
        .unwrap();
    assert_eq!(names(&report), order);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_database_and_misuse() {
    let a = Engine::sqlite("fan-unknown");
    let db = grant_of(&[("a", &a.url)]);
    seed(&db, "a", &a, 2).await;

    // An unknown name is that database's error; the others run.
    let report = db
        .fan_out(["nope", "a"])
        .sql("SELECT name FROM fan_out_pets")
        .run()
        .await
        .unwrap();
    let nope = report.get("nope").unwrap();
    assert!(
        matches!(&nope.rows, Err(Error::UnknownDatabase { database, model: None }) if database == "nope"),
        "{nope:?}"
    );
    assert_eq!(nope.backend, None);
    assert_eq!(row_count(&report, "a"), 2);

    // `sql_for` naming a database not in the fan-out fails the call before anything runs.
    let err = db
        .fan_out(["a"])
        .sql("SELECT 1")
        .sql_for("b", "SELECT 2")
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotInFanOut { database } if database == "b"),
        "{err:?}"
    );
    // So does a database with no SQL.
    let err = db
        .fan_out(["a", "nope"])
        .sql_for("a", "SELECT 1")
        .run()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidQuery { .. }), "{err:?}");
    // No database: an empty report.
    let empty = db
        .fan_out(Vec::<String>::new())
        .sql("SELECT 1")
        .run()
        .await
        .unwrap();
    assert!(empty.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_engine_with_its_own_dialect() {
    let _serial = common::SERVER_LOCK.lock().await;
    let m = mixed("fan-dialects", 4).await;
    let f =
        m.db.fan_out(m.names())
            .sql("SELECT 'sqlite' AS engine, name FROM fan_out_pets WHERE name <> ? ORDER BY id");
    let f = m.sql_for(f, "pg", "SELECT current_database() || '@pg' AS engine, name FROM fan_out_pets WHERE name <> $1 ORDER BY id");
    let f = m.sql_for(f, "maria", "SELECT CONCAT(DATABASE(), '@maria') AS engine, name FROM fan_out_pets WHERE name <> ? ORDER BY id");
    let report = f.bind("pet2").run().await.unwrap();
    assert_eq!(names(&report), m.names());
    for (name, e) in &m.engines {
        let o = report.get(name).unwrap();
        assert_eq!(o.backend, Some(e.backend), "{name}");
        let rows = o
            .rows
            .as_ref()
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        let got: Vec<String> = rows.iter().map(|r| r.get("name").unwrap()).collect();
        assert_eq!(got, ["pet1", "pet3", "pet4"], "{name}");
        let engine: String = rows[0].get("engine").unwrap();
        let want = match e.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "@pg",
            _ => "@maria",
        };
        assert!(engine.ends_with(want), "{name}: {engine}");
        assert!(!o.truncated);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_cap_truncates_without_rewriting_sql() {
    let _serial = common::SERVER_LOCK.lock().await;
    let m = mixed("fan-cap", 10).await;
    for (cap, truncated, want) in [(3, true, 3), (10, false, 10), (50, false, 10), (0, true, 0)] {
        let report =
            m.db.fan_out(m.names())
                .sql("SELECT name FROM fan_out_pets ORDER BY id")
                .row_cap(cap)
                .run()
                .await
                .unwrap();
        for name in m.names() {
            assert_eq!(row_count(&report, name), want, "{name} cap {cap}");
            assert_eq!(
                report.get(name).unwrap().truncated,
                truncated,
                "{name} cap {cap}"
            );
        }
        assert_eq!(report.any_truncated(), truncated);
    }
    // The databases (and their pools) work as before after a cut result.
    for _ in 0..3 {
        let report =
            m.db.fan_out(m.names())
                .sql("SELECT COUNT(*) AS n FROM fan_out_pets")
                .run()
                .await
                .unwrap();
        for name in m.names() {
            let rows = report.get(name).unwrap().rows.as_ref().unwrap();
            assert_eq!(rows[0].get::<i64>("n").unwrap(), 10, "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_everywhere_unless_allowed() {
    let _serial = common::SERVER_LOCK.lock().await;
    let m = mixed("fan-writes", 3).await;
    // A write as the common SQL, and a write hidden in one database's own SQL.
    let cases: [(&'static str, Option<&'static str>); 3] = [
        ("DELETE FROM fan_out_pets", None),
        (
            "SELECT name FROM fan_out_pets",
            Some("DELETE FROM fan_out_pets"),
        ),
        ("SELECT name FROM fan_out_pets FOR UPDATE", None),
    ];
    for (sql, lite) in cases {
        let mut f = m.db.fan_out(m.names()).sql(sql);
        if let Some(lite) = lite {
            f = f.sql_for("lite", lite);
        }
        let report = f.run().await.unwrap();
        assert_eq!(names(&report), m.names());
        for o in &report {
            assert!(
                matches!(&o.rows, Err(Error::ReadOnly { database, reason: ReadOnlyReason::FanOut, .. }) if *database == o.database),
                "{sql}: {o:?}"
            );
        }
        for name in m.names() {
            assert_eq!(
                count(&m.db, name).await,
                3,
                "{name}: nothing changed ({sql})"
            );
        }
    }

    // Allowed: it runs on each writer, with values bound.
    let f =
        m.db.fan_out(m.names())
            .sql("DELETE FROM fan_out_pets WHERE name = ?");
    let report = m
        .sql_for(f, "pg", "DELETE FROM fan_out_pets WHERE name = $1")
        .bind("pet2")
        .allow_writes()
        .run()
        .await
        .unwrap();
    assert!(report.all_ok(), "{report:?}");
    for name in m.names() {
        assert_eq!(count(&m.db, name).await, 2, "{name}: the allowed write ran");
    }

    // Allowed writes still obey the scope: a reading scope refuses them on every database.
    let report = connected_to(
        Role::Reading,
        m.db.fan_out(m.names())
            .sql("DELETE FROM fan_out_pets")
            .allow_writes()
            .run(),
    )
    .await
    .unwrap();
    for o in &report {
        assert!(
            matches!(
                &o.rows,
                Err(Error::ReadOnly {
                    reason: ReadOnlyReason::ReadingRole,
                    ..
                })
            ),
            "{o:?}"
        );
    }
    for name in m.names() {
        assert_eq!(count(&m.db, name).await, 2, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_bound_never_spliced() {
    let _serial = common::SERVER_LOCK.lock().await;
    let m = mixed("fan-binds", 3).await;
    let run = |value: &'static str| {
        let f =
            m.db.fan_out(m.names())
                .sql("SELECT name FROM fan_out_pets WHERE name = ?");
        m.sql_for(f, "pg", "SELECT name FROM fan_out_pets WHERE name = $1")
            .bind(value)
            .run()
    };
    let report = run("pet3").await.unwrap();
    for name in m.names() {
        assert_eq!(row_count(&report, name), 1, "{name}");
    }
    // Text that would match every row if it were spliced matches none when bound.
    let report = run("x' OR '1'='1").await.unwrap();
    for name in m.names() {
        assert_eq!(row_count(&report, name), 0, "{name}");
    }
}

/// A frozen server (accepts, never answers) times out alone; the others return rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_times_out_alone() {
    let _serial = common::SERVER_LOCK.lock().await;
    let servers: Vec<Engine> = [Engine::postgres(), Engine::mariadb()]
        .into_iter()
        .flatten()
        .collect();
    if servers.is_empty() {
        return;
    }
    tokio::time::timeout(Duration::from_secs(120), async {
        let lite = Engine::sqlite("fan-frozen");
        for server in servers {
            let proxy = Proxy::start(&host_port(&server.url)).await;
            let frozen_url = proxy.url(&server.url);
            let db = grant_of(&[("lite", &lite.url), ("frozen", &frozen_url), ("direct", &server.url)]);
            seed(&db, "lite", &lite, 2).await;
            seed(&db, "direct", &server, 3).await;
            let sql_for = if server.backend == Backend::Postgres {
                "SELECT 1 AS one WHERE 1 = $1"
            } else {
                "SELECT 1 AS one WHERE 1 = ?"
            };
            let fan_out = || {
                db.fan_out(["lite", "frozen", "direct"])
                    .sql("SELECT name FROM fan_out_pets WHERE 1 = ?")
                    .sql_for("frozen", AssertSqlSafe(sql_for))
                    .sql_for("direct", AssertSqlSafe(sql_for.replace("1 AS one", "name").replace("WHERE", "FROM fan_out_pets WHERE")))
                    .bind(1i64)
                    .timeout(Duration::from_secs(1))
                    .run()
            };
            // Warm: the frozen database's read pool holds a connection.
            let warm = fan_out().await.unwrap();
            assert!(warm.all_ok(), "{warm:?}");
            proxy.set(common::proxy::Mode::Frozen);
            for _ in 0..2 {
                let report = fan_out().await.unwrap();
                assert_eq!(names(&report), ["lite", "frozen", "direct"]);
                assert_eq!(row_count(&report, "lite"), 2);
                assert_eq!(row_count(&report, "direct"), 3);
                let frozen = report.get("frozen").unwrap();
                assert!(
                    matches!(&frozen.rows, Err(Error::Timeout { database, role: Role::Reading, after, .. }) if database == "frozen" && *after == Duration::from_secs(1)),
                    "{:?}: {frozen:?}",
                    server.backend
                );
            }
            proxy.set(common::proxy::Mode::Forward);
            db.close().await;
        }
    })
    .await
    .expect("the fan-out over a frozen server finished");
}

#[derive(grant::Model, Debug, Clone, PartialEq)]
#[grant(table = "fan_out_pets")]
struct Pet {
    id: i64,
    name: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_query_in_each_dialect() {
    let _serial = common::SERVER_LOCK.lock().await;
    let m = mixed("fan-model", 5).await;
    let report =
        m.db.fan_out(m.names())
            .query(
                Pet::query()
                    .filter(Pet::NAME.ne("pet2"))
                    .order_by(Pet::ID.desc())
                    .limit(3),
            )
            .run()
            .await
            .unwrap();
    assert_eq!(names(&report), m.names());
    for outcome in report.outcomes {
        let name = outcome.database.clone();
        let pets = outcome
            .into_models::<Pet>()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got: Vec<&str> = pets.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(got, ["pet5", "pet4", "pet3"], "{name}");
    }
    // A query and SQL together are refused before anything is sent.
    let err =
        m.db.fan_out(m.names())
            .sql("SELECT 1")
            .query(Pet::query())
            .run()
            .await
            .unwrap_err();
    assert!(matches!(err, Error::InvalidQuery { .. }), "{err}");
}
