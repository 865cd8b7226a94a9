//! Automatic timestamps are an explicit choice: `#[grant(timestamps)]` fills the fields named
//! `created_at` / `updated_at`, `#[grant(created_at)]` / `#[grant(updated_at)]` mark a field
//! of any name, and without either a field named `created_at` is stored as given.

mod common;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use common::Engine;
use grant::{Grant, Model};

/// By name, through the container attribute.
#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "ts_rows", timestamps)]
struct Auto {
    id: i64,
    label: String,
    created_at: DateTime<Utc>,
    updated_at: Option<NaiveDateTime>,
}

/// No attribute: the same columns are ordinary data (imported rows keep their times).
#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "ts_rows")]
struct Imported {
    id: i64,
    label: String,
    created_at: DateTime<Utc>,
    updated_at: Option<NaiveDateTime>,
}

/// Explicitly off.
#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "ts_rows", timestamps = false)]
struct Off {
    id: i64,
    label: String,
    created_at: DateTime<Utc>,
    updated_at: Option<NaiveDateTime>,
}

/// Field marks with other names (renamed to the same columns); `created_at` only.
#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "ts_rows")]
struct Marked {
    id: i64,
    label: String,
    #[grant(created_at, rename = "created_at")]
    inserted: DateTime<Utc>,
    #[grant(rename = "updated_at")]
    touched: Option<NaiveDateTime>,
}

fn long_ago() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2001, 2, 3, 4, 5, 6).unwrap()
}

async fn setup(e: &Engine) -> Grant {
    let db = e.grant();
    e.reset_table(
        &db,
        "ts_rows",
        "CREATE TABLE ts_rows (id {pk}, label {text} NOT NULL, created_at {ts}, updated_at {naive_ts})",
    )
    .await;
    db
}

async fn timestamps_are_filled_only_where_declared(e: &Engine) {
    let db = setup(e).await;
    let before = Utc::now() - chrono::Duration::seconds(60);
    let old = long_ago();

    // #[grant(timestamps)]: both filled on insert, updated_at again on update.
    let mut auto = Auto {
        id: 0,
        label: "auto".into(),
        created_at: old,
        updated_at: None,
    };
    auto.insert(&db).await.unwrap();
    assert!(auto.created_at > before, "created_at filled");
    let first_update = auto.updated_at.expect("updated_at filled on insert");
    let created = auto.created_at;
    auto.updated_at = Some(old.naive_utc());
    auto.update(&db).await.unwrap();
    assert_eq!(auto.created_at, created, "update keeps created_at");
    assert!(
        auto.updated_at.unwrap() >= first_update,
        "update fills updated_at"
    );
    let stored = Auto::find(&db, auto.id).await.unwrap().unwrap();
    assert_eq!(stored, auto);

    // No attribute / timestamps = false: stored exactly as given, on insert, update and
    // insert_all.
    let mut imported = Imported {
        id: 0,
        label: "imported".into(),
        created_at: old,
        updated_at: Some(old.naive_utc()),
    };
    imported.insert(&db).await.unwrap();
    assert_eq!(imported.created_at, old);
    imported.label = "imported, edited".into();
    imported.update(&db).await.unwrap();
    assert_eq!(
        Imported::find(&db, imported.id).await.unwrap().unwrap(),
        imported
    );
    let mut offs = vec![
        Off {
            id: 0,
            label: "off 1".into(),
            created_at: old,
            updated_at: None,
        },
        Off {
            id: 0,
            label: "off 2".into(),
            created_at: old,
            updated_at: Some(old.naive_utc()),
        },
    ];
    Off::insert_all(&db, &mut offs).await.unwrap();
    for off in &offs {
        assert_eq!(&Off::find(&db, off.id).await.unwrap().unwrap(), off);
    }

    // Field marks: only the marked field is filled.
    let mut marked = Marked {
        id: 0,
        label: "marked".into(),
        inserted: old,
        touched: Some(old.naive_utc()),
    };
    marked.insert(&db).await.unwrap();
    assert!(marked.inserted > before, "the marked field is filled");
    assert_eq!(
        marked.touched,
        Some(old.naive_utc()),
        "the unmarked one is not"
    );
    let inserted = marked.inserted;
    marked.update(&db).await.unwrap();
    assert_eq!(marked.inserted, inserted, "created_at only on insert");
    assert_eq!(Marked::find(&db, marked.id).await.unwrap().unwrap(), marked);

    assert!(Auto::META.timestamps);
    assert!(Marked::META.timestamps);
    assert!(!Imported::META.timestamps);
    assert!(!Off::META.timestamps);
}
on_every_engine!(timestamps_are_filled_only_where_declared);
