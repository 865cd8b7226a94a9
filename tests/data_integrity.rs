//! No silently wrong data: a `NULL` in a non-`Option` field, a generated key that does not
//! fit the model's key type, and MariaDB keys under `auto_increment_increment != 1`, on every
//! engine they concern.

mod common;

use common::Engine;
use grant::{raw, AssertSqlSafe, Backend, Config, DatabaseConfig, Error, Grant, Model, PoolConfig};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "integrity_nulls")]
struct Strict {
    id: i64,
    name: String,
    n: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "integrity_nulls")]
struct Lenient {
    id: i64,
    name: Option<String>,
    n: Option<i64>,
}

async fn null_in_a_non_option_field_is_a_decode_error(e: &Engine) {
    let db = e.grant();
    e.reset_table(
        &db,
        "integrity_nulls",
        "CREATE TABLE integrity_nulls (id {pk}, name {text}, n {i64})",
    )
    .await;
    raw("INSERT INTO integrity_nulls (name, n) VALUES (NULL, NULL)")
        .execute(&db)
        .await
        .unwrap();
    let id: i64 = raw("SELECT MAX(id) AS id FROM integrity_nulls")
        .fetch_all(&db)
        .await
        .unwrap()[0]
        .get("id")
        .unwrap();

    // Model decode by position (find) and by name (find_by_sql).
    let err = Strict::find(&db, id).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { model: "Strict", column, .. } if column == "name"),
        "{err:?}"
    );
    assert!(err.to_string().contains("Strict"), "{err}");
    let table = "integrity_nulls";
    let sql = format!("SELECT * FROM {table}");
    let err = Strict::find_by_sql(&db, AssertSqlSafe(sql.as_str()), vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Decode { model: "Strict", column, .. } if column == "name"),
        "{err:?}"
    );

    // Row::get of NULL into a non-Option.
    let rows = raw("SELECT name, n FROM integrity_nulls")
        .fetch_all(&db)
        .await
        .unwrap();
    let err = rows[0].get::<i64>("n").unwrap_err();
    assert!(
        matches!(&err, Error::Decode { column, .. } if column == "n"),
        "{err:?}"
    );
    let err = rows[0].get::<String>("name").unwrap_err();
    assert!(matches!(&err, Error::Decode { .. }), "{err:?}");
    assert!(rows[0].get_at::<i64>(1).is_err());

    // Option fields read NULL as None.
    assert_eq!(rows[0].get::<Option<i64>>("n").unwrap(), None);
    let lenient = Lenient::find(&db, id).await.unwrap().unwrap();
    assert_eq!((lenient.name, lenient.n), (None, None));

    // Values are unaffected.
    raw("UPDATE integrity_nulls SET name = 'x', n = 0")
        .execute(&db)
        .await
        .unwrap();
    let strict = Strict::find(&db, id).await.unwrap().unwrap();
    assert_eq!((strict.name.as_str(), strict.n), ("x", 0));
}
on_every_engine!(null_in_a_non_option_field_is_a_decode_error);

/// A model whose key is narrower than its column.
#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "integrity_narrow")]
struct Narrow {
    id: i32,
    label: String,
}

fn narrow(label: &str) -> Narrow {
    Narrow {
        id: 0,
        label: label.into(),
    }
}

async fn count(db: &Grant, table: &'static str) -> i64 {
    let sql = match table {
        "integrity_narrow" => "SELECT COUNT(*) AS n FROM integrity_narrow",
        "integrity_unsigned" => "SELECT COUNT(*) AS n FROM integrity_unsigned",
        other => panic!("no count for {other}"),
    };
    raw(sql).fetch_all(db).await.unwrap()[0].get("n").unwrap()
}

/// Set up `integrity_narrow` with a 64-bit generated key whose next value is `next`.
async fn narrow_table(e: &Engine, db: &Grant, next: i64) {
    let create = match e.backend {
        Backend::Postgres => "CREATE TABLE integrity_narrow (id BIGSERIAL PRIMARY KEY, label TEXT NOT NULL)",
        Backend::MySql => "CREATE TABLE integrity_narrow (id BIGINT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(64) NOT NULL)",
        Backend::Sqlite => "CREATE TABLE integrity_narrow (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL)",
    };
    e.reset_table(db, "integrity_narrow", create).await;
    let restart = match e.backend {
        Backend::Postgres => format!("ALTER SEQUENCE integrity_narrow_id_seq RESTART WITH {next}"),
        Backend::MySql => format!("ALTER TABLE integrity_narrow AUTO_INCREMENT = {next}"),
        Backend::Sqlite => format!(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('integrity_narrow', {})",
            next - 1
        ),
    };
    raw(AssertSqlSafe(restart)).execute(db).await.unwrap();
}

async fn a_generated_key_that_does_not_fit_leaves_no_row(e: &Engine) {
    let db = e.grant();

    // A 64-bit column behind an i32 key works while the values fit.
    narrow_table(e, &db, 7).await;
    let mut ok = narrow("fits");
    ok.insert(&db).await.unwrap();
    assert_eq!(ok.id, 7);
    let mut many = vec![narrow("a"), narrow("b")];
    Narrow::insert_all(&db, &mut many).await.unwrap();
    assert_eq!([many[0].id, many[1].id], [8, 9]);

    // Past i32::MAX: KeyOverflow naming model and key column, and no row left behind.
    let past = i64::from(i32::MAX) + 1;
    narrow_table(e, &db, past).await;
    let mut row = narrow("too big");
    let err = row.insert(&db).await.unwrap_err();
    match &err {
        Error::KeyOverflow {
            model,
            column,
            value,
        } => {
            assert_eq!((*model, *column), ("Narrow", "id"));
            assert_eq!(*value, i128::from(past));
        }
        other => panic!("expected KeyOverflow, got {other:?}"),
    }
    assert!(err.to_string().contains("`id`"), "{err}");
    assert_eq!(count(&db, "integrity_narrow").await, 0, "insert left a row");
    assert_eq!(row.id, 0, "the key was not changed");

    // insert_all, one statement and several (forced by the engine's bind limit being far
    // above 3 rows, so one statement; and a transaction of its own when chunked).
    let mut rows = vec![narrow("x"), narrow("y"), narrow("z")];
    let err = Narrow::insert_all(&db, &mut rows).await.unwrap_err();
    assert!(
        matches!(err, Error::KeyOverflow { column: "id", .. }),
        "{err:?}"
    );
    assert_eq!(
        count(&db, "integrity_narrow").await,
        0,
        "insert_all left rows"
    );

    // Inside a transaction: the row is gone from the transaction too, so a commit after
    // the error stores nothing.
    let mut tx = db.begin().await.unwrap();
    let err = narrow("in tx").insert(&mut tx).await.unwrap_err();
    assert!(matches!(err, Error::KeyOverflow { .. }), "{err:?}");
    let mut rows = vec![narrow("t1"), narrow("t2")];
    let err = Narrow::insert_all(&mut tx, &mut rows).await.unwrap_err();
    assert!(matches!(err, Error::KeyOverflow { .. }), "{err:?}");
    tx.commit().await.unwrap();
    assert_eq!(
        count(&db, "integrity_narrow").await,
        0,
        "the transaction kept rows"
    );
}
on_every_engine!(a_generated_key_that_does_not_fit_leaves_no_row);

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "integrity_unsigned")]
struct Unsigned {
    id: i64,
    label: String,
}

/// MariaDB: `BIGINT UNSIGNED AUTO_INCREMENT` past `i64::MAX` is `KeyOverflow`, not `Ok` with
/// `id == 0`, and the row is deleted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_unsigned_key_past_i64_max_is_key_overflow() {
    let Some(e) = Engine::mariadb() else { return };
    let _serial = common::SERVER_LOCK.lock().await;
    let db = e.grant();
    e.reset_table(
        &db,
        "integrity_unsigned",
        "CREATE TABLE integrity_unsigned (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, label VARCHAR(64) NOT NULL) AUTO_INCREMENT = 9223372036854775808",
    )
    .await;
    let mut row = Unsigned {
        id: 0,
        label: "big".into(),
    };
    let err = row.insert(&db).await.unwrap_err();
    match &err {
        Error::KeyOverflow {
            model,
            column,
            value,
        } => {
            assert_eq!((*model, *column), ("Unsigned", "id"));
            assert_eq!(*value, i128::from(i64::MAX) + 1);
        }
        other => panic!("expected KeyOverflow, got {other:?}"),
    }
    assert_eq!(count(&db, "integrity_unsigned").await, 0);

    let mut rows = vec![row.clone(), row.clone()];
    let err = Unsigned::insert_all(&db, &mut rows).await.unwrap_err();
    assert!(matches!(err, Error::KeyOverflow { .. }), "{err:?}");
    assert_eq!(count(&db, "integrity_unsigned").await, 0);
}

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "integrity_steps")]
struct Step {
    id: i64,
    label: String,
}

fn steps(n: usize) -> Vec<Step> {
    (0..n)
        .map(|i| Step {
            id: 0,
            label: format!("s{i}"),
        })
        .collect()
}

/// The keys the database stored, by label.
async fn stored_keys(db: &Grant, rows: &[Step]) {
    for r in rows {
        let found = Step::find_by(db, Step::LABEL.eq(r.label.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, r.id, "key of {}", r.label);
    }
}

/// MariaDB: `insert_all` keys are right when `auto_increment_increment != 1`, through a pool
/// (one connection, so the session setting applies) and inside a transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_insert_all_keys_follow_auto_increment_increment() {
    let Some(e) = Engine::mariadb() else { return };
    let _serial = common::SERVER_LOCK.lock().await;
    let db = Grant::from_config(
        Config::builder()
            .database(
                "primary",
                DatabaseConfig::new(&e.url).pool(PoolConfig {
                    max_connections: 1,
                    ..PoolConfig::default()
                }),
            )
            .build()
            .unwrap(),
    )
    .unwrap();
    e.reset_table(
        &db,
        "integrity_steps",
        "CREATE TABLE integrity_steps (id {pk}, label VARCHAR(64) NOT NULL)",
    )
    .await;
    raw("SET SESSION auto_increment_increment = 3")
        .execute(&db)
        .await
        .unwrap();
    let mut rows = steps(4);
    Step::insert_all(&db, &mut rows).await.unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    assert!(ids.windows(2).all(|w| w[1] - w[0] == 3), "{ids:?}");
    stored_keys(&db, &rows).await;

    let mut tx = db.begin().await.unwrap();
    raw("SET SESSION auto_increment_increment = 5")
        .execute(&mut tx)
        .await
        .unwrap();
    let mut more: Vec<Step> = steps(7).split_off(4);
    Step::insert_all(&mut tx, &mut more).await.unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<i64> = more.iter().map(|r| r.id).collect();
    assert!(ids.windows(2).all(|w| w[1] - w[0] == 5), "{ids:?}");
    stored_keys(&db, &more).await;
    raw("SET SESSION auto_increment_increment = 1")
        .execute(&db)
        .await
        .unwrap();
}

async fn insert_all_without_keys_stores_rows_and_leaves_keys(e: &Engine) {
    let db = e.grant();
    e.reset_table(
        &db,
        "integrity_steps",
        "CREATE TABLE integrity_steps (id {pk}, label {text} NOT NULL)",
    )
    .await;
    let mut rows = steps(5);
    assert_eq!(
        Step::insert_all_without_keys(&db, &mut rows).await.unwrap(),
        5
    );
    assert!(rows.iter().all(|r| r.id == 0), "keys are not read back");
    let stored = Step::query()
        .order_by(Step::ID.asc())
        .all(&db)
        .await
        .unwrap();
    let labels: Vec<&str> = stored.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["s0", "s1", "s2", "s3", "s4"]);
    assert!(stored.iter().all(|r| r.id > 0));
    assert_eq!(
        Step::insert_all_without_keys(&db, &mut []).await.unwrap(),
        0
    );
}
on_every_engine!(insert_all_without_keys_stores_rows_and_leaves_keys);
