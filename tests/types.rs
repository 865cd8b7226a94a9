//! Every supported column type round-trips on every engine, NULLs included; client-supplied
//! UUID keys work.

mod common;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SubsecRound, Utc};
use common::Engine;
use grant::Model;
use uuid::Uuid;

#[derive(Model, Debug, Clone, PartialEq)]
#[grant(table = "types_all")]
struct AllTypes {
    #[grant(primary_key)]
    id: Uuid,
    flag: bool,
    small: i16,
    medium: i32,
    big: i64,
    r32: f32,
    r64: f64,
    label: String,
    payload: Vec<u8>,
    at_utc: DateTime<Utc>,
    at_naive: NaiveDateTime,
    day: NaiveDate,
    other: Uuid,
    doc: serde_json::Value,
    maybe_flag: Option<bool>,
    maybe_small: Option<i16>,
    maybe_medium: Option<i32>,
    maybe_big: Option<i64>,
    maybe_r32: Option<f32>,
    maybe_r64: Option<f64>,
    maybe_label: Option<String>,
    maybe_payload: Option<Vec<u8>>,
    maybe_at_utc: Option<DateTime<Utc>>,
    maybe_at_naive: Option<NaiveDateTime>,
    maybe_day: Option<NaiveDate>,
    maybe_other: Option<Uuid>,
    maybe_doc: Option<serde_json::Value>,
}

const DDL: &str = "CREATE TABLE types_all (id {uuid} PRIMARY KEY, flag {bool} NOT NULL, small {i16} NOT NULL, medium {i32} NOT NULL, big {i64} NOT NULL, r32 {f32} NOT NULL, r64 {f64} NOT NULL, label {text} NOT NULL, payload {bytes} NOT NULL, at_utc {ts}, at_naive {naive_ts} NOT NULL, day {date} NOT NULL, other {uuid} NOT NULL, doc {json} NOT NULL, maybe_flag {bool}, maybe_small {i16}, maybe_medium {i32}, maybe_big {i64}, maybe_r32 {f32}, maybe_r64 {f64}, maybe_label {text}, maybe_payload {bytes}, maybe_at_utc {ts}, maybe_at_naive {naive_ts} NULL, maybe_day {date}, maybe_other {uuid}, maybe_doc {json})";

fn full() -> AllTypes {
    let at = Utc::now().trunc_subsecs(6);
    AllTypes {
        id: Uuid::new_v4(),
        flag: true,
        small: i16::MIN,
        medium: i32::MAX,
        big: i64::MIN + 1,
        r32: 1.5,
        r64: -2.25e100,
        label: "héllo 'quoted' \"twice\" ; DROP TABLE x; --".into(),
        payload: vec![0, 1, 2, 255, 0],
        at_utc: at,
        at_naive: at.naive_utc(),
        day: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
        other: Uuid::new_v4(),
        doc: serde_json::json!({"a": [1, 2, {"b": null}], "c": "d"}),
        maybe_flag: Some(false),
        maybe_small: Some(-7),
        maybe_medium: Some(-70_000),
        maybe_big: Some(i64::MAX),
        maybe_r32: Some(-0.5),
        maybe_r64: Some(3.0e-5),
        maybe_label: Some(String::new()),
        maybe_payload: Some(Vec::new()),
        maybe_at_utc: Some(at),
        maybe_at_naive: Some(at.naive_utc()),
        maybe_day: Some(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()),
        maybe_other: Some(Uuid::nil()),
        maybe_doc: Some(serde_json::json!([true, 1.5, "x"])),
    }
}

fn nulls() -> AllTypes {
    AllTypes {
        id: Uuid::new_v4(),
        maybe_flag: None,
        maybe_small: None,
        maybe_medium: None,
        maybe_big: None,
        maybe_r32: None,
        maybe_r64: None,
        maybe_label: None,
        maybe_payload: None,
        maybe_at_utc: None,
        maybe_at_naive: None,
        maybe_day: None,
        maybe_other: None,
        maybe_doc: None,
        ..full()
    }
}

async fn round_trip(e: &Engine) {
    let db = e.grant();
    e.reset_table(&db, "types_all", DDL).await;

    let mut a = full();
    let mut b = nulls();
    a.insert(&db).await.unwrap();
    b.insert(&db).await.unwrap();
    assert_eq!(AllTypes::find(&db, a.id).await.unwrap().unwrap(), a);
    assert_eq!(AllTypes::find(&db, b.id).await.unwrap().unwrap(), b);

    // Swap: the NULL row gets values, the full row gets NULLs, via update.
    let id_a = a.id;
    let id_b = b.id;
    let mut a2 = AllTypes {
        id: id_a,
        ..nulls()
    };
    let mut b2 = AllTypes { id: id_b, ..full() };
    assert!(a2.update(&db).await.unwrap());
    assert!(b2.update(&db).await.unwrap());
    assert_eq!(AllTypes::find(&db, id_a).await.unwrap().unwrap(), a2);
    assert_eq!(AllTypes::find(&db, id_b).await.unwrap().unwrap(), b2);

    // Filters bind every type.
    let q = AllTypes::query()
        .filter(AllTypes::LABEL.eq(b2.label.clone()))
        .filter(AllTypes::DAY.eq(b2.day))
        .filter(AllTypes::OTHER.eq(b2.other))
        .filter(AllTypes::AT_UTC.eq(b2.at_utc))
        .filter(AllTypes::AT_NAIVE.eq(b2.at_naive))
        .filter(AllTypes::FLAG.eq(true))
        .filter(AllTypes::SMALL.eq(i16::MIN))
        .filter(AllTypes::BIG.eq(i64::MIN + 1))
        .filter(AllTypes::PAYLOAD.eq(vec![0u8, 1, 2, 255, 0]));
    assert_eq!(q.all(&db).await.unwrap(), vec![b2.clone()]);
    assert_eq!(
        AllTypes::query()
            .filter(AllTypes::MAYBE_DOC.is_null())
            .count(&db)
            .await
            .unwrap(),
        1
    );

    // insert_all with client-supplied keys.
    let mut many: Vec<AllTypes> = (0..50)
        .map(|i| if i % 2 == 0 { full() } else { nulls() })
        .collect();
    assert_eq!(AllTypes::insert_all(&db, &mut many).await.unwrap(), 50);
    for m in many.iter().take(5) {
        assert_eq!(&AllTypes::get(&db, m.id).await.unwrap(), m);
    }
    assert_eq!(AllTypes::query().count(&db).await.unwrap(), 52);
}
on_every_engine!(round_trip);
