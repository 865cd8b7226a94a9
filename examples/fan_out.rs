//! Fan-out: one question to several named databases at once, on SQLite files (no server
//! needed). Each database reports its own rows, time, truncation or error:
//!
//! - `primary`, `animals` and `cache` answer (`animals` with its own SQL, `sql_for`);
//! - `archive` is a file that is not a database: its error, the others' rows;
//! - `reports` runs a slow statement and is cut by the per-database `timeout`;
//! - `remote` is a PostgreSQL URL where nothing listens: a connect error;
//! - `row_cap` stops reading after a few rows and marks the result `truncated`;
//! - a write is refused on every database before anything is sent, unless `allow_writes()`.
//!
//! Run it with `cargo run --example fan_out`.

use std::time::Duration;

use grant::{raw, Config, DatabaseConfig, Error, FanOutReport, Grant, PoolConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("grant-fan-out-example");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let url = |name: &str| format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    std::fs::write(
        dir.join("archive.db"),
        "these are notes, not a database\n".repeat(100),
    )?;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;

    let mut config = Config::builder().default_database("primary");
    for name in ["primary", "animals", "cache", "archive", "reports"] {
        config = config.database(name, DatabaseConfig::new(url(name)));
    }
    let config = config.database(
        "remote",
        DatabaseConfig::new(format!("postgres://app@{dead}/app")).pool(PoolConfig {
            connect_timeout: Duration::from_secs(2),
            ..PoolConfig::default()
        }),
    );
    let db = Grant::from_config(config.build()?)?;

    for (name, people) in [
        ("primary", &["Ann", "Bob", "Cid", "Dee"][..]),
        ("animals", &["Rex", "Tom"][..]),
        ("cache", &["Eve"][..]),
        ("reports", &[][..]),
    ] {
        raw("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .on(name)
            .execute(&db)
            .await?;
        for p in people {
            raw("INSERT INTO people (name) VALUES (?)")
                .bind(*p)
                .on(name)
                .execute(&db)
                .await?;
        }
    }

    println!("== one question, six databases, each with its own outcome");
    let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
                SELECT COUNT(*) AS name FROM c WHERE x > ?";
    let report = db
        .fan_out([
            "primary", "animals", "cache", "archive", "reports", "remote",
        ])
        .sql("SELECT name FROM people WHERE name <> ? ORDER BY name")
        .sql_for(
            "animals",
            "SELECT name || ' (animal)' AS name FROM people WHERE name <> ? ORDER BY name DESC",
        )
        .sql_for("reports", slow)
        .bind("Bob") // bound on every database, never spliced into the text
        .timeout(Duration::from_millis(300)) // per database, from its start
        .row_cap(2) // at most 2 rows per database
        .run()
        .await?;
    print(&report);
    assert_eq!(report.len(), 6);
    assert!(report.get("primary").unwrap().truncated);
    assert!(report.get("archive").unwrap().rows.is_err());
    assert!(matches!(
        report.get("reports").unwrap().rows,
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        report.get("remote").unwrap().rows,
        Err(Error::Connect { .. })
    ));

    println!("\n== a write is refused on every database; nothing is sent");
    let refused = db
        .fan_out(["primary", "animals", "cache"])
        .sql("DELETE FROM people")
        .run()
        .await?;
    print(&refused);
    assert!(refused
        .iter()
        .all(|o| o.error().is_some_and(Error::is_read_only)));

    println!("\n== allowed: it runs on each writer (each database commits on its own)");
    let allowed = db
        .fan_out(["primary", "animals", "cache"])
        .sql("INSERT INTO people (name) VALUES (?) RETURNING id")
        .bind("Zed")
        .allow_writes()
        .run()
        .await?;
    print(&allowed);
    assert!(allowed.all_ok());

    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn print(report: &FanOutReport) {
    for o in report {
        let backend = o.backend.map(|b| format!("{b:?}")).unwrap_or_default();
        match &o.rows {
            Ok(rows) => {
                let values: Vec<String> = rows
                    .iter()
                    .map(|r| {
                        r.get::<String>("name")
                            .or_else(|_| r.get_at::<i64>(0).map(|n| n.to_string()))
                            .unwrap_or_default()
                    })
                    .collect();
                println!(
                    "  {:<8} {backend:<8} {:>7.1?}  {} row(s){}: {}",
                    o.database,
                    o.elapsed,
                    rows.len(),
                    if o.truncated { ", truncated" } else { "" },
                    values.join(", ")
                );
            }
            Err(e) => println!(
                "  {:<8} {backend:<8} {:>7.1?}  error: {e}",
                o.database, o.elapsed
            ),
        }
    }
}
