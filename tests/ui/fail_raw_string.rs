// SQL text built at runtime needs an explicit `AssertSqlSafe`: a plain `String` is refused.
use grant::{raw, Grant, Model};

#[derive(Model)]
struct User {
    id: i64,
    name: String,
}

async fn search(db: &Grant, name: &str) {
    let sql = format!("SELECT * FROM users WHERE name = '{name}'");
    let _ = raw(sql.clone()).fetch_all(db).await;
    let _ = User::find_by_sql(db, sql, vec![]).await;
}

fn main() {
    let _ = search;
}
