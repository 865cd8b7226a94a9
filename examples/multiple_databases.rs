//! Several named databases behind one API, configured in `grant.toml` syntax:
//! models routed by `#[grant(database = ..)]` and `#[connects_to(..)]`, a `replica_of`
//! entry, a custom role, per-environment overrides with `${VAR:-default}`, and a tenant
//! database registered while the program runs.
//!
//! Runs on SQLite files in the temp dir: `cargo run --example multiple_databases`.

use grant::{connected_to, raw, Config, DatabaseConfig, Grant, Model, Role};

#[derive(Model, Debug, Clone)]
#[grant(table = "users")] // the default database
struct User {
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone)]
#[grant(table = "dogs")]
#[connects_to(writing = "animals", reading = "animals_replica")]
struct Dog {
    id: i64,
    name: String,
    owner_id: i64,
}

#[derive(Model, Debug, Clone)]
#[grant(table = "invoices", database = "tenant_acme")]
struct Invoice {
    #[grant(primary_key)]
    number: String,
    cents: i64,
}

const GRANT_TOML: &str = r#"
default = "primary"

[databases.primary]
url = "sqlite://${DIR}/primary.db"

[databases.animals]
url = "sqlite://${DIR}/animals.db"
roles = { reporting = "animals_replica" }

[databases.animals_replica]
url = "sqlite://${DIR}/animals.db"
replica_of = "animals"

[databases.animals.pool]
max_connections = 4
acquire_timeout = "2s"

[environments.production.databases.primary]
url = "${PRIMARY_URL:-sqlite://${DIR}/primary-prod.db}"
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("grant-multi");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let dir_s = dir.display().to_string();
    let vars = |name: &str| (name == "DIR").then(|| dir_s.clone());

    // Environments: the same file, two answers.
    let prod = Config::from_toml_str_with(GRANT_TOML, "production", &vars)?;
    println!(
        "production primary: {}",
        prod.database("primary")
            .map(|d| d.url.as_str())
            .unwrap_or("?")
    );
    let config = Config::from_toml_str_with(GRANT_TOML, "development", &vars)?;
    for (name, db) in config.databases() {
        println!(
            "{name:<16} {:<7} readonly={} url={}",
            db.backend,
            db.readonly,
            Config::redacted_url(&db.url)
        );
    }
    let db = Grant::from_config(config)?;

    raw("CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)")
        .execute(&db)
        .await?;
    raw("CREATE TABLE dogs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, owner_id INTEGER NOT NULL)")
        .on("animals")
        .execute(&db)
        .await?;

    let mut ann = User {
        id: 0,
        name: "Ann".into(),
    };
    ann.insert(&db).await?;
    let mut rex = Dog {
        id: 0,
        name: "Rex".into(),
        owner_id: ann.id,
    };
    rex.insert(&db).await?; // goes to `animals`
    println!(
        "\nuser {} lives in primary, dog {} in animals",
        ann.id, rex.id
    );

    // Reads of Dog use the `animals_replica` entry (opened read-only).
    let dogs = Dog::query()
        .filter(Dog::OWNER_ID.eq(ann.id))
        .all(&db)
        .await?;
    println!(
        "Ann's dogs (read from animals_replica): {:?}",
        dogs.iter().map(|d| &d.name).collect::<Vec<_>>()
    );

    // A custom role maps to another entry; writes there are refused (it is a replica).
    let via_role = connected_to(Role::custom("reporting"), Dog::query().count(&db)).await?;
    println!("dogs counted through the `reporting` role: {via_role}");
    let mut puppy = Dog {
        id: 0,
        name: "Puppy".into(),
        owner_id: ann.id,
    };
    let refused = connected_to(Role::custom("reporting"), puppy.insert(&db)).await;
    println!(
        "write through `reporting`: {}",
        refused
            .map(|_| "accepted".to_string())
            .unwrap_or_else(|e| e.to_string())
    );

    // A tenant arrives while the program runs.
    let tenant_url = format!("sqlite://{}/acme.db", dir.display());
    db.handler()
        .add_database("tenant_acme", DatabaseConfig::new(&tenant_url))?;
    raw("CREATE TABLE invoices (number TEXT PRIMARY KEY, cents INTEGER NOT NULL)")
        .on("tenant_acme")
        .execute(&db)
        .await?;
    let mut inv = Invoice {
        number: "ACME-0001".into(),
        cents: 12_500,
    };
    inv.insert(&db).await?;
    println!(
        "\ninvoice {} stored in the runtime-registered tenant_acme",
        Invoice::get(&db, "ACME-0001").await?.number
    );
    println!("databases now: {:?}", db.handler().database_names());
    db.handler().remove_database("tenant_acme").await?;
    match Invoice::find(&db, "ACME-0001").await {
        Err(e) => println!("after removal: {e}"),
        Ok(_) => println!("unexpected: the tenant still answers"),
    }
    db.close().await;
    Ok(())
}
