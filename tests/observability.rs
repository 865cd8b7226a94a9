//! Every statement gets a `tracing` span (target `grant::statement`) with the database,
//! role, shard, model, operation, rows and elapsed time.

use std::sync::{Arc, Mutex};

use grant::{connected_to, connection, raw, Config, DatabaseConfig, Grant, Model, Role};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Model, Debug, Clone)]
#[grant(table = "obs_items")]
struct Item {
    id: i64,
    label: String,
}

type Spans = Arc<Mutex<Vec<Vec<(String, String)>>>>;

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((
            field.name().to_string(),
            format!("{value:?}").trim_matches('"').to_string(),
        ));
    }
}

struct Capture(Spans);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().target() == "grant::statement" {
            let mut f = Fields::default();
            attrs.record(&mut f);
            ctx.span(id).unwrap().extensions_mut().insert(f);
        }
    }
    // Grant records `elapsed_us` last, when the statement has finished. (The span itself may
    // close a little later: sqlx's SQLite worker thread holds it while it finishes up.)
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(f) = ctx.span(id).unwrap().extensions_mut().get_mut::<Fields>() {
            values.record(f);
            if f.0.iter().any(|(n, _)| n == "elapsed_us") {
                self.0.lock().unwrap().push(f.0.clone());
            }
        }
    }
}

fn field<'a>(span: &'a [(String, String)], name: &str) -> Option<&'a str> {
    span.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "current_thread")]
async fn statement_spans() {
    let spans: Spans = Arc::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(Capture(spans.clone())),
    );

    let path = std::env::temp_dir().join(format!("grant-obs-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}", path.display());
    let db = Grant::from_config(
        Config::builder()
            .database(
                "primary",
                DatabaseConfig::new(&url)
                    .replica(&url)
                    .shard("s1", grant::ShardConfig::new(&url)),
            )
            .build()
            .unwrap(),
    )
    .unwrap();
    raw("CREATE TABLE obs_items (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL)")
        .execute(&db)
        .await
        .unwrap();
    let mut rows = vec![
        Item {
            id: 0,
            label: "a".into(),
        },
        Item {
            id: 0,
            label: "b".into(),
        },
    ];
    Item::insert_all(&db, &mut rows).await.unwrap();
    Item::query().all(&db).await.unwrap();
    connected_to(Role::Writing, Item::find(&db, rows[0].id))
        .await
        .unwrap();
    connection()
        .role(Role::Writing)
        .shard("s1")
        .run(Item::query().count(&db))
        .await
        .unwrap();

    let spans = spans.lock().unwrap().clone();
    assert_eq!(spans.len(), 5, "{spans:?}");
    let ops: Vec<_> = spans.iter().map(|s| field(s, "op").unwrap()).collect();
    assert_eq!(
        ops,
        ["raw_execute", "insert_all", "select", "find", "count"]
    );
    for s in &spans {
        assert_eq!(field(s, "database"), Some("primary"));
        assert!(field(s, "elapsed_us").is_some(), "{s:?}");
        assert!(field(s, "rows").is_some(), "{s:?}");
    }
    assert_eq!(field(&spans[1], "role"), Some("writing"));
    assert_eq!(field(&spans[1], "model"), Some("Item"));
    assert_eq!(field(&spans[1], "rows"), Some("2"));
    assert_eq!(field(&spans[2], "role"), Some("reading"));
    assert_eq!(field(&spans[2], "rows"), Some("2"));
    assert_eq!(field(&spans[3], "role"), Some("writing"));
    assert_eq!(field(&spans[4], "shard"), Some("s1"));
    assert_eq!(field(&spans[2], "shard"), None);
    // Which pool of the role served it.
    assert_eq!(field(&spans[1], "pool"), Some("writer"));
    assert_eq!(field(&spans[2], "pool"), Some("replica 0"));
    assert_eq!(field(&spans[3], "pool"), Some("writer"));
}
