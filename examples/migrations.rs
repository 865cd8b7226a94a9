//! Per-database migrations: two databases with their own migrations folders, one of them
//! sharded (three SQLite files), migrated in one call (the shards in parallel), then
//! status, a second run that applies nothing, and a revert. The `grant-migrate` CLI does
//! the same from `grant.toml`: `cargo run -p grant-migrate -- --config grant.toml migrate`.
//!
//! `cargo run --example migrations`

use grant::migrate::Migrator;
use grant::{Config, Grant};

const GRANT_TOML: &str = r#"
[databases.primary]
url = "sqlite://${DIR}/primary.db"
migrations = "${DIR}/migrations/primary"

[databases.orders]
url = "sqlite://${DIR}/orders.db"
migrations = "${DIR}/migrations/orders"

[databases.orders.shards.shard_1]
url = "sqlite://${DIR}/orders_1.db"

[databases.orders.shards.shard_2]
url = "sqlite://${DIR}/orders_2.db"

[databases.orders.shards.shard_3]
url = "sqlite://${DIR}/orders_3.db"
"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("grant-migrations-example");
    let _ = std::fs::remove_dir_all(&dir);
    let files: &[(&str, &str)] = &[
        ("primary/0001_create_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);\n"),
        ("primary/0002_add_email.sql", "ALTER TABLE users ADD COLUMN email TEXT;\nCREATE INDEX users_email ON users (email);\n"),
        ("primary/0002_add_email.down.sql", "DROP INDEX users_email;\nALTER TABLE users DROP COLUMN email;\n"),
        ("orders/0001_create_orders.sql", "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, customer_id INTEGER NOT NULL, cents INTEGER NOT NULL);\n"),
    ];
    for (path, sql) in files {
        let path = dir.join("migrations").join(path);
        std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
        std::fs::write(path, sql)?;
    }
    let dir_s = dir.display().to_string();
    let config = Config::from_toml_str_with(GRANT_TOML, "development", &|v| {
        (v == "DIR").then(|| dir_s.clone())
    })?;
    let db = Grant::from_config(config)?;
    let migrator = Migrator::new(&db);

    let report = migrator.migrate_all().await?;
    println!("first run: {} migrations applied", report.applied_count());
    for t in &report.targets {
        for step in &t.applied {
            println!(
                "  {:<8} {:<8} {:04}_{} ({} statements, {:?})",
                t.database,
                t.shard.as_deref().unwrap_or("-"),
                step.version,
                step.name,
                step.statements,
                step.elapsed
            );
        }
    }

    let again = migrator.migrate_all().await?;
    println!(
        "second run: {} applied (already up to date)",
        again.applied_count()
    );

    println!("status:");
    for s in migrator.status_all().await? {
        println!(
            "  {:<8} {:<8} applied={} pending={} up_to_date={}",
            s.database,
            s.shard.as_deref().unwrap_or("-"),
            s.applied().len(),
            s.pending().len(),
            s.is_up_to_date()
        );
    }

    let reverted = migrator.revert_last("primary").await?;
    println!("revert on primary: {} reverted", reverted.reverted_count());
    let pending = migrator.status("primary").await?;
    println!("primary now has {} pending", pending[0].pending().len());
    db.close().await;
    Ok(())
}
