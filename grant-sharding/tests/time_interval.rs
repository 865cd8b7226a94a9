//! The `TimeInterval` resolver: monthly / yearly names, bad keys, known shards, patterns.

mod common;

use std::borrow::Cow;

use common::TestResult;
use grant_sharding::{ShardError, ShardResolver, ShardValue, TimeInterval};

#[test]
fn time_interval_monthly_and_yearly() -> TestResult {
    let monthly = TimeInterval::monthly("events_{yyyy}_{mm}")?;
    let yearly = TimeInterval::yearly("events_{yyyy}")?;
    for (ts, month, year) in [
        (0, "events_1970_01", "events_1970"),
        (-1, "events_1969_12", "events_1969"),
        (1_704_067_199, "events_2023_12", "events_2023"), // 2023-12-31T23:59:59Z
        (1_704_067_200, "events_2024_01", "events_2024"), // 2024-01-01T00:00:00Z
        (1_709_251_199, "events_2024_02", "events_2024"), // 2024-02-29T23:59:59Z
        (1_709_251_200, "events_2024_03", "events_2024"), // 2024-03-01T00:00:00Z
        (951_782_400, "events_2000_02", "events_2000"),   // 2000-02-29T00:00:00Z
        (-2_208_988_800, "events_1900_01", "events_1900"), // 1900-01-01T00:00:00Z
        (253_402_300_799, "events_9999_12", "events_9999"), // 9999-12-31T23:59:59Z
        (-62_167_219_200, "events_0000_01", "events_0000"), // 0000-01-01T00:00:00Z
    ] {
        let key = ShardValue::Timestamp(ts);
        assert_eq!(monthly.resolve(&key)?, month, "{key}");
        assert_eq!(yearly.resolve(&key)?, year, "{key}");
    }
    assert_eq!(
        monthly.resolve(&ShardValue::date(2024, 11, 30)?)?,
        "events_2024_11"
    );
    assert_eq!(yearly.resolve(&ShardValue::date(1, 1, 1)?)?, "events_0001");
    // Open-ended: the computed name is owned, and no candidate list is known.
    assert!(matches!(
        monthly.resolve(&ShardValue::Timestamp(0))?,
        Cow::Owned(_)
    ));
    assert!(monthly.shards().is_empty());

    let month_first = TimeInterval::monthly("{mm}-{yyyy}.log")?;
    assert_eq!(
        month_first.resolve(&ShardValue::Timestamp(0))?,
        "01-1970.log"
    );
    Ok(())
}

#[test]
fn time_interval_rejects_bad_keys() -> TestResult {
    let t = TimeInterval::yearly("y{yyyy}")?;
    assert!(matches!(
        t.resolve(&ShardValue::Int(0)),
        Err(ShardError::WrongKeyType {
            resolver: "time_interval",
            expected: "a timestamp or date",
            found: "int",
            ..
        })
    ));
    let bad = ShardValue::Date {
        year: 2023,
        month: 2,
        day: 29,
    };
    assert!(matches!(
        t.resolve(&bad),
        Err(ShardError::InvalidKey { ref key, .. }) if *key == bad
    ));
    for key in [
        ShardValue::Timestamp(i64::MAX),
        ShardValue::Timestamp(i64::MIN),
        ShardValue::Timestamp(253_402_300_800), // 10000-01-01
        ShardValue::Timestamp(-62_167_219_201), // -0001-12-31T23:59:59Z
        ShardValue::date(10_000, 1, 1)?,
        ShardValue::date(-1, 1, 1)?,
    ] {
        assert!(
            matches!(t.resolve(&key), Err(ShardError::KeyOutOfRange { key: ref k, .. }) if *k == key),
            "{key}"
        );
    }
    Ok(())
}

#[test]
fn time_interval_restricted_to_known_shards() -> TestResult {
    let t = TimeInterval::monthly("ev_{yyyy}_{mm}")?.with_shards(["ev_2024_01", "ev_2024_02"])?;
    assert_eq!(t.shards(), ["ev_2024_01", "ev_2024_02"]);
    let got = t.resolve(&ShardValue::date(2024, 2, 10)?)?;
    assert_eq!(got, "ev_2024_02");
    assert!(matches!(got, Cow::Borrowed(_)));
    let err = t.resolve(&ShardValue::date(2024, 3, 1)?).unwrap_err();
    assert!(matches!(
        err,
        ShardError::UnknownShard { resolver: "time_interval", ref shard, .. } if shard == "ev_2024_03"
    ));
    assert_eq!(
        err.to_string(),
        "time_interval resolver: key 2024-03-01 maps to shard \"ev_2024_03\", which is not a known shard"
    );

    let base = TimeInterval::monthly("ev_{yyyy}_{mm}")?;
    for bad in [
        "ev_2024_13",
        "ev_2024_00",
        "ev_2024_1",
        "ev_24_01",
        "ev_2024_01x",
        "x",
    ] {
        assert!(
            matches!(
                base.clone().with_shards([bad]),
                Err(ShardError::InvalidShardName { ref shard, .. }) if shard == bad
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        base.clone().with_shards(Vec::<String>::new()),
        Err(ShardError::NoShards { .. })
    ));
    assert!(matches!(
        base.with_shards(["ev_2024_01", "ev_2024_01"]),
        Err(ShardError::DuplicateShard { .. })
    ));
    // A repeated placeholder must repeat the same digits.
    let twice = TimeInterval::yearly("{yyyy}/{yyyy}")?;
    assert!(twice.clone().with_shards(["2024/2024"]).is_ok());
    assert!(twice.with_shards(["2024/2025"]).is_err());
    Ok(())
}

#[test]
fn time_interval_validates_patterns() {
    let reason = |r: Result<TimeInterval, ShardError>| match r {
        Err(ShardError::InvalidPattern { reason, .. }) => reason,
        other => panic!("expected InvalidPattern, got {other:?}"),
    };
    assert!(reason(TimeInterval::yearly("events")).contains("no {yyyy}"));
    assert!(reason(TimeInterval::yearly("e_{yyyy}_{mm}")).contains("yearly"));
    assert!(reason(TimeInterval::monthly("e_{yyyy}")).contains("{mm}"));
    assert!(reason(TimeInterval::monthly("e_{yyyy}_{dd}")).contains("unknown placeholder"));
    assert!(reason(TimeInterval::yearly("e_{yyyy")).contains("'{'"));
    assert!(reason(TimeInterval::yearly("e_}{yyyy}")).contains("'}'"));
    assert!(reason(TimeInterval::yearly(" e_{yyyy}")).contains("whitespace"));
    assert!(reason(TimeInterval::yearly("")).contains("no {yyyy}"));
}
