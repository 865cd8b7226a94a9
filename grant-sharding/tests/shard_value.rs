//! `ShardValue`: conversions, display, date validation.

mod common;

use common::TestResult;
use grant_sharding::ShardValue;

#[test]
fn value_conversions_and_display() -> TestResult {
    assert_eq!(ShardValue::from(-3_i8), ShardValue::Int(-3));
    assert_eq!(ShardValue::from(7_i16), ShardValue::Int(7));
    assert_eq!(ShardValue::from(7_i32), ShardValue::Int(7));
    assert_eq!(ShardValue::from(7_i64), ShardValue::Int(7));
    assert_eq!(ShardValue::from(7_u32), ShardValue::Int(7));
    assert_eq!(ShardValue::from(7_u64), ShardValue::UInt(7));
    assert_eq!(ShardValue::from("x"), ShardValue::Text("x".into()));
    assert_eq!(
        ShardValue::from(String::from("x")),
        ShardValue::Text("x".into())
    );
    assert_eq!(
        ShardValue::from(&String::from("x")),
        ShardValue::Text("x".into())
    );
    assert_eq!(ShardValue::from([0xab; 16]), ShardValue::Uuid([0xab; 16]));

    let uuid: [u8; 16] = [
        0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0,
        0xc8,
    ];
    assert_eq!(
        ShardValue::Uuid(uuid).to_string(),
        "67e55044-10b1-426f-9247-bb680e5fe0c8"
    );
    assert_eq!(
        ShardValue::Timestamp(-1).to_string(),
        "1969-12-31T23:59:59Z"
    );
    assert_eq!(
        ShardValue::Timestamp(1_709_208_000).to_string(),
        "2024-02-29T12:00:00Z"
    );
    assert_eq!(ShardValue::date(2024, 2, 29)?.to_string(), "2024-02-29");
    assert_eq!(ShardValue::from("a\"b").to_string(), r#""a\"b""#);
    assert_eq!(
        ShardValue::UInt(u64::MAX).to_string(),
        "18446744073709551615"
    );

    assert!(ShardValue::date(2023, 2, 29).is_err());
    assert!(ShardValue::date(1900, 2, 29).is_err());
    assert!(ShardValue::date(2000, 2, 29).is_ok());
    assert!(ShardValue::date(2024, 13, 1).is_err());
    assert!(ShardValue::date(2024, 4, 31).is_err());
    assert!(ShardValue::date(2024, 1, 0).is_err());
    Ok(())
}
