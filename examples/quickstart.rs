//! Grant in one file, on embedded SQLite (no server needed):
//!
//! - a `primary` database and a read-only reading role (the same file, opened read-only),
//! - two models, inserts, queries, a transaction,
//! - a `connected_to` block, and a write refused inside a reading scope,
//! - a session: after a write, its reads go where they see it (read-your-writes),
//! - and, for every statement, where it went (database, role) and how long it took.
//!
//! Run it with `cargo run --example quickstart`.

use grant::{connected_to, Config, DatabaseConfig, Grant, Model, Role};

#[derive(Model, Debug, Clone)]
#[grant(table = "authors", timestamps)] // `created_at` is filled on insert
struct Author {
    id: i64,
    name: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Model, Debug, Clone)]
#[grant(table = "books")]
struct Book {
    id: i64,
    author_id: i64,
    title: String,
    #[grant(rename = "published_year")]
    year: i32,
    isbn: Option<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    statement_log::install();

    // A file in the temp dir; its reading role is the same file, opened read-only.
    let path = std::env::temp_dir().join("grant-quickstart.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    let config = Config::builder()
        .database("primary", DatabaseConfig::new(&url).replica(&url))
        .build()?;
    let db = Grant::from_config(config)?;

    println!("== schema (raw SQL, a write: goes to the writer)");
    grant::raw("CREATE TABLE authors (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, created_at TEXT NOT NULL)")
        .execute(&db)
        .await?;
    grant::raw("CREATE TABLE books (id INTEGER PRIMARY KEY AUTOINCREMENT, author_id INTEGER NOT NULL, title TEXT NOT NULL, published_year INTEGER NOT NULL, isbn TEXT)")
        .execute(&db)
        .await?;

    println!("\n== inserts (writer)");
    let mut ursula = Author {
        id: 0,
        name: "Ursula K. Le Guin".into(),
        created_at: Default::default(),
    };
    ursula.insert(&db).await?;
    println!(
        "inserted {} with id {} at {}",
        ursula.name, ursula.id, ursula.created_at
    );
    let mut books = vec![
        book(
            ursula.id,
            "A Wizard of Earthsea",
            1968,
            Some("978-0-553-38304-8"),
        ),
        book(ursula.id, "The Left Hand of Darkness", 1969, None),
        book(ursula.id, "The Dispossessed", 1974, None),
        book(ursula.id, "The Lathe of Heaven", 1971, None),
    ];
    let n = Book::insert_all(&db, &mut books).await?;
    println!(
        "inserted {n} books in one statement; ids {:?}",
        books.iter().map(|b| b.id).collect::<Vec<_>>()
    );

    println!("\n== queries (reads: the reading role)");
    let found = Book::get(&db, books[0].id).await?;
    println!("find: {} ({})", found.title, found.year);
    let seventies = Book::query()
        .filter(Book::YEAR.ge(1970))
        .order_by(Book::YEAR.asc())
        .all(&db)
        .await?;
    println!(
        "1970s: {:?}",
        seventies.iter().map(|b| &b.title).collect::<Vec<_>>()
    );
    let without_isbn = Book::query()
        .filter(Book::ISBN.is_null())
        .count(&db)
        .await?;
    println!("books without an ISBN: {without_isbn}");

    println!("\n== update and a transaction (writer)");
    let mut lathe = Book::find_by(&db, Book::TITLE.like("The Lathe%"))
        .await?
        .ok_or("missing")?;
    lathe.isbn = Some("978-1-4165-5696-0".into());
    lathe.update(&db).await?;
    let mut tx = db.begin().await?;
    let mut extra = book(ursula.id, "The Word for World Is Forest", 1972, None);
    extra.insert(&mut tx).await?;
    println!(
        "inside the transaction: {} books",
        Book::query().count(&mut tx).await?
    );
    tx.rollback().await?;
    println!("after rollback: {} books", Book::query().count(&db).await?);

    println!("\n== a session: after a write, its reads of that database see the write");
    // (Here the replica is the same file, so every read sees the write; the statement log
    // shows where each read went. With a real replica, the reads outside the session may
    // be stale for a moment; the session's are not.)
    grant::session(async {
        lathe.year = 1971;
        lathe.update(&db).await?; // the writer; the session records the write
        let fresh = Book::get(&db, lathe.id).await?; // the writer's read-only pool, for 2 s
        println!("in the session, right after the write: {}", fresh.year);
        Ok::<_, grant::Error>(())
    })
    .await?;
    let elsewhere = Book::get(&db, lathe.id).await?; // no session: the replica
    println!("outside the session (the replica): {}", elsewhere.year);

    println!("\n== connected_to(Role::Writing): read from the writer");
    connected_to(Role::Writing, async {
        let latest = Book::query().order_by(Book::ID.desc()).first(&db).await?;
        println!("latest on the writer: {:?}", latest.map(|b| b.title));
        Ok::<_, grant::Error>(())
    })
    .await?;

    println!("\n== connected_to(Role::Reading): writes are refused before any SQL is sent");
    connected_to(Role::Reading, async {
        let mut sneaky = book(ursula.id, "Not Written", 2000, None);
        match sneaky.insert(&db).await {
            Err(e) => println!("refused: {e}"),
            Ok(()) => println!("unexpected: the write went through"),
        }
        // Raw SQL sent as a read lands on the read-only session and fails there too.
        match grant::raw("DELETE FROM books").fetch_all(&db).await {
            Err(e) => println!("raw write on the reading session failed: {e}"),
            Ok(_) => println!("unexpected: the raw write went through"),
        }
    })
    .await;
    println!("books still there: {}", Book::query().count(&db).await?);

    println!("\n== pools");
    for s in db.stats() {
        println!(
            "{} {} ({}): read_only={} created={} size={} idle={}",
            s.key.database, s.key.kind, s.key.role, s.read_only, s.created, s.size, s.idle
        );
    }
    db.close().await;
    Ok(())
}

fn book(author_id: i64, title: &str, year: i32, isbn: Option<&str>) -> Book {
    Book {
        id: 0,
        author_id,
        title: title.into(),
        year,
        isbn: isbn.map(Into::into),
    }
}

/// Prints one line per statement from Grant's `tracing` spans: where it went and how long
/// it took. Any `tracing` subscriber sees the same spans (`grant::statement`).
mod statement_log {
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::Subscriber;
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    #[derive(Default)]
    struct Fields(Vec<(&'static str, String)>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push((
                field.name(),
                format!("{value:?}").trim_matches('"').to_string(),
            ));
        }
    }

    struct StatementLog;

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for StatementLog {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            if attrs.metadata().target() != "grant::statement" {
                return;
            }
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(fields);
            }
        }

        // Grant records `elapsed_us` last, when the statement has finished.
        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(id) else { return };
            let mut ext = span.extensions_mut();
            let Some(fields) = ext.get_mut::<Fields>() else {
                return;
            };
            values.record(fields);
            if !fields.0.iter().any(|(n, _)| *n == "elapsed_us") {
                return;
            }
            let get = |k: &str| {
                fields
                    .0
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.as_str())
            };
            println!(
                "   -> {}/{} [{}] {:<10} {:<7} rows={:<3} {}us",
                get("database").unwrap_or("?"),
                get("role").unwrap_or("?"),
                get("pool").unwrap_or("?"),
                get("op").unwrap_or("?"),
                get("model").unwrap_or("?"),
                get("rows").unwrap_or("-"),
                get("elapsed_us").unwrap_or("?"),
            );
        }
    }

    pub fn install() {
        let subscriber = tracing_subscriber::registry().with(StatementLog);
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
    }
}
