//! The `Range` resolver: boundaries, keys outside the ranges, range validation.

mod common;

use common::TestResult;
use grant_sharding::{Range, ShardError, ShardResolver, ShardValue};

#[test]
fn range_resolves_boundaries() -> TestResult {
    let r = Range::new([(0, "a"), (100, "b"), (1_000, "c"), (5_000, "a")], None)?;
    for (key, shard) in [
        (0, "a"),
        (99, "a"),
        (100, "b"),
        (999, "b"),
        (1_000, "c"),
        (4_999, "c"),
        (5_000, "a"),
        (i64::MAX, "a"),
    ] {
        assert_eq!(r.resolve(&ShardValue::Int(key))?, shard, "key {key}");
    }
    assert_eq!(r.resolve(&ShardValue::UInt(u64::MAX))?, "a");
    assert_eq!(r.shards(), ["a", "b", "c"]);

    let negative = Range::new([(i64::MIN, "low"), (0, "high")], None)?;
    assert_eq!(negative.resolve(&ShardValue::Int(i64::MIN))?, "low");
    assert_eq!(negative.resolve(&ShardValue::Int(-1))?, "low");
    assert_eq!(negative.resolve(&ShardValue::Int(0))?, "high");
    Ok(())
}

#[test]
fn range_rejects_keys_outside_the_ranges() -> TestResult {
    let open = Range::new([(10, "a"), (20, "b")], None)?;
    let err = open.resolve(&ShardValue::Int(9)).unwrap_err();
    assert!(matches!(
        err,
        ShardError::KeyOutOfRange { resolver: "range", ref key, .. } if *key == ShardValue::Int(9)
    ));
    assert_eq!(
        err.to_string(),
        "range resolver: key 9 is outside the covered range [10, +inf)"
    );

    let closed = Range::new([(10, "a"), (20, "b")], Some(30))?;
    assert_eq!(closed.resolve(&ShardValue::Int(29))?, "b");
    let err = closed.resolve(&ShardValue::Int(30)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "range resolver: key 30 is outside the covered range [10, 30)"
    );
    assert!(closed.resolve(&ShardValue::UInt(u64::MAX)).is_err());
    assert!(matches!(
        closed.resolve(&"15".into()),
        Err(ShardError::WrongKeyType {
            resolver: "range",
            ..
        })
    ));
    Ok(())
}

#[test]
fn range_validates_its_ranges() {
    let reason = |r: Result<Range, ShardError>| match r {
        Err(ShardError::InvalidRanges { reason }) => reason,
        other => panic!("expected InvalidRanges, got {other:?}"),
    };
    assert_eq!(
        reason(Range::new(Vec::<(i64, &str)>::new(), None)),
        "no ranges given"
    );
    let unsorted = reason(Range::new([(0, "a"), (200, "b"), (100, "c")], None));
    assert!(
        unsorted.contains("not sorted") && unsorted.contains("100"),
        "{unsorted}"
    );
    let dup = reason(Range::new([(0, "a"), (100, "b"), (100, "c")], None));
    assert!(dup.contains("start 100 is given twice"), "{dup}");
    let end = reason(Range::new([(0, "a"), (100, "b")], Some(100)));
    assert!(end.contains("end 100"), "{end}");
    assert!(matches!(
        Range::new([(0, "")], None),
        Err(ShardError::InvalidShardName {
            resolver: "range",
            ..
        })
    ));
    // One range covering everything is fine.
    assert!(Range::new([(i64::MIN, "all")], None).is_ok());
}
