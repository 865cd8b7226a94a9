//! CRUD and the query builder, on every engine.

mod common;

use common::Engine;
use grant::{Grant, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "crud_people", timestamps)]
struct Person {
    id: i64,
    name: String,
    #[grant(rename = "years")]
    age: i32,
    email: Option<String>,
    #[grant(skip)]
    scratch: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

fn person(name: &str, age: i32) -> Person {
    Person {
        id: 0,
        name: name.into(),
        age,
        email: None,
        scratch: vec!["not stored".into()],
        created_at: Default::default(),
        updated_at: Default::default(),
    }
}

async fn setup(e: &Engine, table: &str) -> Grant {
    let db = e.grant();
    e.reset_table(
        &db,
        table,
        &format!(
            "CREATE TABLE {table} (id {{pk}}, name {{text}} NOT NULL, years {{i32}} NOT NULL, email {{text}}, created_at {{ts}}, updated_at {{ts}})"
        ),
    )
    .await;
    db
}

async fn crud(e: &Engine) {
    let db = setup(e, "crud_people").await;
    let mut ann = person("Ann", 31);
    ann.insert(&db).await.unwrap();
    assert!(ann.id > 0, "insert fills the generated key");
    assert!(ann.created_at.timestamp() > 0, "insert fills created_at");
    let mut bob = person("Bob", 45);
    bob.insert(&db).await.unwrap();
    assert_eq!(bob.id, ann.id + 1);

    let found = Person::find(&db, ann.id).await.unwrap().unwrap();
    assert_eq!(found.name, "Ann");
    assert_eq!(found.age, 31);
    assert_eq!(found.email, None);
    assert!(
        found.scratch.is_empty(),
        "skipped fields come back as Default"
    );
    assert_eq!(found.created_at, ann.created_at);
    assert!(Person::find(&db, 999_999).await.unwrap().is_none());
    let err = Person::get(&db, 999_999).await.unwrap_err();
    assert!(err.to_string().contains("Person"), "{err}");

    ann.email = Some("ann@example.com".into());
    ann.age = 32;
    assert!(ann.update(&db).await.unwrap());
    let again = Person::find(&db, ann.id).await.unwrap().unwrap();
    assert_eq!(again.email.as_deref(), Some("ann@example.com"));
    assert_eq!(again.age, 32);

    let by = Person::find_by(&db, Person::NAME.eq("Bob"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by.id, bob.id);

    // Raw SQL, decoded by name; fetch_optional reads only the first row.
    let sql = format!(
        "SELECT name, years FROM crud_people WHERE id >= {} ORDER BY id",
        e.ph(1)
    );
    let row = grant::raw(grant::AssertSqlSafe(&sql))
        .bind(ann.id)
        .fetch_optional(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<String>("name").unwrap(), "Ann");
    assert_eq!(row.get_at::<i32>(1).unwrap(), 32);
    assert_eq!(row.columns(), ["name", "years"]);
    assert!(row.get::<String>("missing").is_err());
    let none = grant::raw(grant::AssertSqlSafe(sql))
        .bind(i64::MAX)
        .fetch_optional(&db)
        .await
        .unwrap();
    assert!(none.is_none());

    assert!(bob.delete(&db).await.unwrap());
    assert!(!bob.delete(&db).await.unwrap());
    assert!(Person::find(&db, bob.id).await.unwrap().is_none());
}
on_every_engine!(crud);

async fn matching(db: &Grant, filter: grant::Expr) -> i64 {
    Person::query().filter(filter).count(db).await.unwrap()
}

async fn queries(e: &Engine) {
    let db = setup(e, "crud_people").await;
    let mut rows: Vec<Person> = (0..20)
        .map(|i| {
            let mut p = person(&format!("p{i:02}"), i);
            if i % 2 == 0 {
                p.email = Some(format!("p{i}@x.org"));
            }
            p
        })
        .collect();
    assert_eq!(Person::insert_all(&db, &mut rows).await.unwrap(), 20);
    assert!(
        rows.windows(2).all(|w| w[1].id == w[0].id + 1),
        "keys filled in order"
    );
    let first = Person::get(&db, rows[0].id).await.unwrap();
    assert_eq!(first.name, "p00");

    let q = Person::query()
        .filter(Person::AGE.ge(10))
        .filter(Person::AGE.lt(15));
    assert_eq!(q.clone().count(&db).await.unwrap(), 5);
    let got = q.order_by(Person::AGE.desc()).all(&db).await.unwrap();
    assert_eq!(
        got.iter().map(|p| p.age).collect::<Vec<_>>(),
        vec![14, 13, 12, 11, 10]
    );

    let page = Person::query()
        .order_by(Person::AGE.asc())
        .limit(3)
        .offset(4)
        .all(&db)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|p| p.age).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    let tail = Person::query()
        .order_by(Person::AGE.asc())
        .offset(18)
        .all(&db)
        .await
        .unwrap();
    assert_eq!(tail.len(), 2);
    assert_eq!(
        Person::query()
            .limit(3)
            .offset(18)
            .count(&db)
            .await
            .unwrap(),
        2
    );

    assert_eq!(matching(&db, Person::EMAIL.is_null()).await, 10);
    assert_eq!(matching(&db, Person::EMAIL.is_not_null()).await, 10);
    assert_eq!(matching(&db, Person::AGE.is_in([1, 2, 3, 99])).await, 3);
    assert_eq!(matching(&db, Person::AGE.is_in(Vec::<i32>::new())).await, 0);
    assert_eq!(matching(&db, Person::NAME.like("p1%")).await, 10);
    assert_eq!(matching(&db, Person::AGE.ne(0)).await, 19);
    assert_eq!(matching(&db, Person::AGE.le(2)).await, 3);
    assert_eq!(matching(&db, Person::AGE.gt(17)).await, 2);
    let either = Person::AGE.eq(1).or(Person::AGE.eq(19));
    assert_eq!(matching(&db, either.clone()).await, 2);
    assert_eq!(
        Person::query().filter(!either).count(&db).await.unwrap(),
        18
    );
    let both = Person::AGE.gt(5).and(Person::EMAIL.is_null());
    assert_eq!(Person::query().filter(both).count(&db).await.unwrap(), 7);

    let first = Person::query()
        .filter(Person::AGE.gt(7))
        .first(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.age, 8, "first orders by key");
    assert!(Person::query()
        .filter(Person::AGE.gt(100))
        .first(&db)
        .await
        .unwrap()
        .is_none());
    assert!(Person::query()
        .filter(Person::AGE.eq(3))
        .exists(&db)
        .await
        .unwrap());
    assert!(!Person::query()
        .filter(Person::AGE.eq(300))
        .exists(&db)
        .await
        .unwrap());

    let n = Person::query()
        .filter(Person::AGE.lt(5))
        .update_all(&db, [Person::EMAIL.set("bulk@x.org"), Person::AGE.set(100)])
        .await
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(matching(&db, Person::AGE.eq(100)).await, 5);
    let n = Person::query()
        .filter(Person::AGE.eq(100))
        .update_all(&db, [Person::EMAIL.set_null()])
        .await
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(
        Person::query()
            .filter(Person::AGE.eq(100))
            .delete_all(&db)
            .await
            .unwrap(),
        5
    );
    assert_eq!(Person::query().count(&db).await.unwrap(), 15);

    let err = Person::query().limit(1).delete_all(&db).await.unwrap_err();
    assert!(
        matches!(
            err,
            grant::Error::InvalidQuery {
                model: "Person",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        Person::query().count(&db).await.unwrap(),
        15,
        "nothing deleted"
    );
    let none: [grant::query::Assignment; 0] = [];
    assert!(Person::query().update_all(&db, none).await.is_err());

    assert_eq!(Person::query().delete_all(&db).await.unwrap(), 15);
}
on_every_engine!(queries);

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "crud_events")]
struct Event {
    id: i64,
    code: String,
    a: i64,
    b: i64,
    c: i64,
    d: Option<String>,
}

/// More rows than one statement can bind (SQLite 32,766 / 5 columns = 6,553 rows; the
/// servers 65,535 / 5 = 13,107): several chunks, in one transaction.
async fn insert_all_chunks(e: &Engine) {
    let db = e.grant();
    e.reset_table(
        &db,
        "crud_events",
        "CREATE TABLE crud_events (id {pk}, code VARCHAR(32) NOT NULL UNIQUE, a {i64} NOT NULL, b {i64} NOT NULL, c {i64} NOT NULL, d {text})",
    )
    .await;
    let n = 14_000;
    let make = |i: i64| Event {
        id: 0,
        code: format!("e{i}"),
        a: i,
        b: i * 2,
        c: -i,
        d: (i % 3 == 0).then(|| "x".to_string()),
    };

    // The last row collides with the first: the whole batch is rolled back.
    let mut bad: Vec<Event> = (0..n).map(make).collect();
    bad[(n - 1) as usize].code = "e0".into();
    let err = Event::insert_all(&db, &mut bad).await.unwrap_err();
    assert!(matches!(err, grant::Error::Database { .. }), "{err:?}");
    assert_eq!(
        Event::query().count(&db).await.unwrap(),
        0,
        "nothing left behind"
    );

    let mut rows: Vec<Event> = (0..n).map(make).collect();
    assert_eq!(Event::insert_all(&db, &mut rows).await.unwrap(), n as u64);
    assert_eq!(Event::query().count(&db).await.unwrap(), n);
    for probe in [0usize, 6_553, 6_554, 13_107, 13_108, 13_999] {
        let got = Event::get(&db, rows[probe].id).await.unwrap();
        assert_eq!(got, rows[probe], "row {probe} and its key");
    }
}
on_every_engine!(insert_all_chunks);
