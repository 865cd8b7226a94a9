//! Every valid `#[derive(Model)]` attribute at once.

use grant::{Model, SqlType};

#[derive(Model, Debug, Clone)]
#[grant(table = "accounts", database = "primary", timestamps)]
#[connects_to(reading = "primary_replica")]
struct Account {
    #[grant(primary_key, manual)]
    uid: uuid::Uuid,
    #[grant(rename = "display_name")]
    name: String,
    email: Option<String>,
    age: Option<i32>,
    #[grant(skip)]
    scratch: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: Option<chrono::NaiveDateTime>,
}

#[derive(Model)]
#[connects_to(writing = "primary", reading = "primary_replica")]
struct Event {
    id: i64,
    at: chrono::NaiveDate,
}

fn main() {
    let meta = <Account as Model>::META;
    assert_eq!(meta.table, "accounts");
    assert_eq!(meta.database, Some("primary"));
    assert_eq!(meta.reading, Some("primary_replica"));
    assert!(!meta.auto_increment);
    let names: Vec<&str> = meta.columns.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        ["uid", "display_name", "email", "age", "created_at", "updated_at"]
    );
    assert_eq!(meta.columns[meta.primary_key].name, "uid");
    assert!(meta.columns[2].nullable);
    assert_eq!(meta.columns[3].sql_type, SqlType::I32);

    let _: grant::Column<Account, String> = Account::NAME;
    let _: grant::Column<Account, i32> = Account::AGE;

    let event = <Event as Model>::META;
    assert_eq!(event.table, "events");
    assert_eq!(event.database, Some("primary"));
    assert!(event.auto_increment);
}
