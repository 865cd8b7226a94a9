//! What Grant refuses and how nothing waits forever, on embedded SQLite (no server needed):
//!
//! - raw SQL is classified: a write sent with `fetch_all` in a reading scope is refused
//!   before it is sent, and so is a statement that would lift the session's read-only mode;
//! - a database without replicas reads through read-only sessions of its own;
//! - a transaction begun in a reading scope is a read-only transaction;
//! - a statement that outlives `statement_timeout` ends in `Error::Timeout`;
//! - a server that cannot be reached is `Error::Connect` with the driver's cause (here a
//!   PostgreSQL URL on a port where nothing listens), not a busy pool;
//! - runtime SQL text needs `AssertSqlSafe`, values are bound.
//!
//! Run it with `cargo run --example safety`.

use std::time::Duration;

use grant::{
    classify_sql, connected_to, raw, AssertSqlSafe, Config, DatabaseConfig, Error, Grant, Model,
    PoolConfig, Role, SqlKind,
};

#[derive(Model, Debug, Clone)]
#[grant(table = "accounts")]
struct Account {
    id: i64,
    owner: String,
    balance: i64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join("grant-safety.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    // `reports` is the same file with a tight statement timeout (a per-database setting).
    let config = Config::builder()
        .database("primary", DatabaseConfig::new(&url))
        .database(
            "reports",
            DatabaseConfig::new(&url).statement_timeout(Some(Duration::from_millis(200))),
        )
        .build()?;
    let db = Grant::from_config(config)?;
    raw("CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, balance INTEGER NOT NULL)")
        .execute(&db)
        .await?;
    let mut ann = Account {
        id: 0,
        owner: "ann".into(),
        balance: 100,
    };
    ann.insert(&db).await?;

    println!("== raw SQL is classified, not trusted by the method that sent it");
    for sql in [
        "SELECT * FROM accounts",
        "DELETE FROM accounts RETURNING id",
        "WITH gone AS (DELETE FROM accounts RETURNING id) SELECT * FROM gone",
        "PRAGMA query_only = 0; DELETE FROM accounts",
    ] {
        println!("  {:?}: {sql}", classify_sql(sql));
    }
    assert_eq!(classify_sql("SELECT 1"), SqlKind::Read);

    println!("\n== in a reading scope, writes are refused before any SQL is sent");
    connected_to(Role::Reading, async {
        for sql in [
            "DELETE FROM accounts RETURNING id",
            "PRAGMA query_only = 0; DELETE FROM accounts",
        ] {
            match raw(sql).fetch_all(&db).await {
                Err(e @ Error::ReadOnly { .. }) => println!("  refused: {e}"),
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
        let mut tx = db.begin().await?;
        println!(
            "  a transaction begun here is read-only: {}",
            tx.is_read_only()
        );
        let n = Account::query().count(&mut tx).await?;
        println!("  reads work in it ({n} account)");
        let err = ann.delete(&mut tx).await.unwrap_err();
        println!("  a delete in it: {err}");
        tx.commit().await?;
        Ok::<_, Error>(())
    })
    .await?;
    println!(
        "  still there: {} account",
        Account::query().count(&db).await?
    );

    println!("\n== reads without replicas use read-only sessions of the writer's URL");
    for s in db.stats().iter().filter(|s| &*s.key.database == "primary") {
        println!(
            "  {} {}: read_only={} created={}",
            s.key.database, s.key.kind, s.read_only, s.created
        );
    }

    println!("\n== statement_timeout: a statement that runs too long ends in Error::Timeout");
    let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
                SELECT COUNT(*) FROM c";
    match connected_to(Role::Writing, raw(slow).on("reports").fetch_all(&db)).await {
        Err(e @ Error::Timeout { .. }) => println!("  {e}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let rows = raw("SELECT COUNT(*) AS n FROM accounts")
        .on("reports")
        .fetch_all(&db)
        .await?;
    println!("  the pool goes on: {} account", rows[0].get::<i64>("n")?);

    println!("\n== a server that cannot be reached is a connect error with its cause");
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let unreachable = Grant::from_config(
        Config::builder()
            .database(
                "primary",
                DatabaseConfig::new(format!("postgres://app@{dead}/app")).pool(PoolConfig {
                    connect_timeout: Duration::from_secs(2),
                    ..PoolConfig::default()
                }),
            )
            .build()?,
    )?;
    match raw("SELECT 1").fetch_all(&unreachable).await {
        Err(e @ Error::Connect { .. }) => println!("  {e}"),
        other => panic!("expected a connect error, got {other:?}"),
    }

    println!("\n== SQL text built at runtime is a visible decision; values are bound");
    let column = "owner"; // chosen by the program, never by a user
    let rows = raw(AssertSqlSafe(format!(
        "SELECT id FROM accounts WHERE {column} = ?"
    )))
    .bind("ann")
    .fetch_all(&db)
    .await?;
    println!("  {} row", rows.len());

    db.close().await;
    Ok(())
}
