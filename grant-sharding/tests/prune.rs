//! Pruning a key filter to shards, for every resolver.

mod common;

use std::borrow::Cow;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::sync::Arc;

use common::TestResult;
use grant_sharding::prune::{prune, KeyFilter, ShardSet};
use grant_sharding::{
    Lookup, Modulo, Range, ShardError, ShardResolver, ShardValue, StableHash, TimeInterval,
};

fn eq(v: impl Into<ShardValue>) -> KeyFilter {
    KeyFilter::Eq(v.into())
}

fn one_of<V: Into<ShardValue>>(values: impl IntoIterator<Item = V>) -> KeyFilter {
    KeyFilter::In(values.into_iter().map(Into::into).collect())
}

fn only(names: &[&'static str]) -> ShardSet<'static> {
    ShardSet::only(names.iter().copied())
}

fn range_of(lower: Bound<ShardValue>, upper: Bound<ShardValue>) -> KeyFilter {
    KeyFilter::Range { lower, upper }
}

fn ts(year: i32, month: u32, day: u32) -> ShardValue {
    // Seconds since 1970 of midnight UTC (valid for the dates used here: 1970 on).
    let days_before_month = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = |y: i32| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days: i64 = (1970..year).map(|y| if leap(y) { 366 } else { 365 }).sum();
    days += days_before_month[month as usize - 1] + i64::from(day) - 1;
    if month > 2 && leap(year) {
        days += 1;
    }
    ShardValue::Timestamp(days * 86_400)
}

#[test]
fn combinators_follow_set_semantics() -> TestResult {
    let r = Modulo::new(["s0", "s1", "s2", "s3"])?;
    assert_eq!(prune(&r, &KeyFilter::Any)?, ShardSet::All);
    assert_eq!(prune(&r, &eq(5))?, only(&["s1"]));
    assert_eq!(prune(&r, &one_of([1, 5, 2, 9]))?, only(&["s1", "s2"]));
    assert_eq!(prune(&r, &one_of(Vec::<i64>::new()))?, only(&[]));
    assert_eq!(
        prune(&r, &KeyFilter::Or(vec![eq(0), eq(3)]))?,
        only(&["s0", "s3"])
    );
    assert_eq!(prune(&r, &KeyFilter::Or(vec![]))?, only(&[]));
    assert_eq!(
        prune(&r, &KeyFilter::Or(vec![eq(0), KeyFilter::Any]))?,
        ShardSet::All
    );
    assert_eq!(prune(&r, &KeyFilter::And(vec![]))?, ShardSet::All);
    assert_eq!(
        prune(&r, &KeyFilter::And(vec![eq(1), KeyFilter::Any]))?,
        only(&["s1"])
    );
    // key = 1 AND key = 2: no row can match, no shard to visit.
    let disjoint = prune(&r, &KeyFilter::And(vec![eq(1), eq(2)]))?;
    assert!(disjoint.is_empty() && !disjoint.is_all());
    // key IN (1, 2, 6) AND (key = 2 OR key = 10)
    let filter = KeyFilter::And(vec![one_of([1, 2, 6]), KeyFilter::Or(vec![eq(2), eq(10)])]);
    assert_eq!(prune(&r, &filter)?, only(&["s2"]));
    Ok(())
}

#[test]
fn malformed_keys_are_errors_wherever_they_are() -> TestResult {
    let r = Modulo::new(["s0", "s1"])?;
    for filter in [
        eq("x"),
        one_of([ShardValue::Int(1), ShardValue::from("x")]),
        KeyFilter::Or(vec![KeyFilter::Any, eq("x")]),
        KeyFilter::And(vec![eq(1), eq(2), eq("x")]),
        KeyFilter::range(ShardValue::from("a")..ShardValue::from("b")),
    ] {
        let err = prune(&r, &filter).unwrap_err();
        assert!(
            matches!(
                err,
                ShardError::WrongKeyType {
                    resolver: "modulo",
                    ..
                }
            ),
            "{filter:?}: {err:?}"
        );
    }
    Ok(())
}

#[test]
fn modulo_prunes_narrow_ranges_only() -> TestResult {
    let r = Modulo::new(["s0", "s1", "s2", "s3"])?;
    assert_eq!(prune(&r, &KeyFilter::range(5..=6))?, only(&["s1", "s2"]));
    assert_eq!(prune(&r, &KeyFilter::range(-1..1))?, only(&["s0", "s3"]));
    assert_eq!(prune(&r, &KeyFilter::range(5..5))?, only(&[]));
    assert_eq!(
        prune(&r, &KeyFilter::range(0..3))?.names().map(|n| n.len()),
        Some(3)
    );
    assert_eq!(prune(&r, &KeyFilter::range(0..4))?, ShardSet::All);
    assert_eq!(prune(&r, &KeyFilter::range(0..))?, ShardSet::All);
    assert_eq!(prune(&r, &range_of(Unbounded, Unbounded))?, ShardSet::All);
    assert_eq!(
        prune(&r, &range_of(Excluded(4.into()), Excluded(6.into())))?,
        only(&["s1"])
    );
    let near_max = KeyFilter::range(u64::MAX - 1..=u64::MAX);
    assert_eq!(prune(&r, &near_max)?.names().map(|n| n.len()), Some(2));
    Ok(())
}

#[test]
fn range_prunes_equalities_and_ranges() -> TestResult {
    let r = Range::new([(0, "a"), (100, "b"), (200, "c"), (300, "a")], Some(400))?;
    assert_eq!(prune(&r, &eq(150))?, only(&["b"]));
    assert_eq!(prune(&r, &one_of([5, 305]))?, only(&["a"]));
    // Keys outside every range add no shard.
    assert_eq!(prune(&r, &one_of([-1, 400, 250]))?, only(&["c"]));
    assert_eq!(prune(&r, &KeyFilter::range(50..150))?, only(&["a", "b"]));
    assert_eq!(prune(&r, &KeyFilter::range(100..200))?, only(&["b"]));
    assert_eq!(prune(&r, &KeyFilter::range(100..=200))?, only(&["b", "c"]));
    assert_eq!(
        prune(&r, &range_of(Excluded(99.into()), Excluded(200.into())))?,
        only(&["b"])
    );
    assert_eq!(prune(&r, &KeyFilter::range(250..))?, only(&["a", "c"]));
    assert_eq!(prune(&r, &KeyFilter::range(..100))?, only(&["a"]));
    assert_eq!(prune(&r, &KeyFilter::range(400..))?, only(&[]));
    assert_eq!(prune(&r, &KeyFilter::range(..0))?, only(&[]));
    let inverted = range_of(Included(150.into()), Excluded(120.into()));
    assert_eq!(prune(&r, &inverted)?, only(&[]));
    assert_eq!(
        prune(&r, &range_of(Unbounded, Unbounded))?,
        only(&["a", "b", "c"])
    );
    // id >= 120 AND id < 250 AND id IN (210, 230)
    let filter = KeyFilter::And(vec![KeyFilter::range(120..250), one_of([210, 230])]);
    assert_eq!(prune(&r, &filter)?, only(&["c"]));
    // Parts are pruned one by one and their shards intersected: 110 is outside the range
    // but its shard "b" is also the range's, so "b" stays (sound, not minimal).
    let filter = KeyFilter::And(vec![KeyFilter::range(120..250), one_of([110, 210])]);
    assert_eq!(prune(&r, &filter)?, only(&["b", "c"]));

    let open = Range::new([(0, "a"), (100, "b")], None)?;
    assert_eq!(prune(&open, &KeyFilter::range(u64::MAX..))?, only(&["b"]));
    assert_eq!(prune(&open, &eq(u64::MAX))?, only(&["b"]));
    Ok(())
}

#[test]
fn time_interval_prunes_to_partitions() -> TestResult {
    let monthly = TimeInterval::monthly("events_{yyyy}_{mm}")?;
    assert_eq!(
        prune(&monthly, &eq(ts(2024, 2, 29)))?,
        only(&["events_2024_02"])
    );
    // created_at >= 2023-11-15 AND created_at < 2024-02-01
    let filter = range_of(Included(ts(2023, 11, 15)), Excluded(ts(2024, 2, 1)));
    assert_eq!(
        prune(&monthly, &filter)?,
        only(&["events_2023_11", "events_2023_12", "events_2024_01"])
    );
    // One second after the start of February keeps February.
    let ShardValue::Timestamp(feb) = ts(2024, 2, 1) else {
        unreachable!()
    };
    let filter = range_of(
        Included(ts(2024, 1, 20)),
        Excluded(ShardValue::Timestamp(feb + 1)),
    );
    assert_eq!(
        prune(&monthly, &filter)?,
        only(&["events_2024_01", "events_2024_02"])
    );
    // Dates as bounds.
    let filter = range_of(
        Included(ShardValue::date(2024, 3, 1)?),
        Included(ShardValue::date(2024, 3, 31)?),
    );
    assert_eq!(prune(&monthly, &filter)?, only(&["events_2024_03"]));
    let filter = range_of(Unbounded, Excluded(ShardValue::date(2024, 3, 1)?));
    // Open-ended with no known shards: cannot enumerate, every shard.
    assert_eq!(prune(&monthly, &filter)?, ShardSet::All);
    // More than 1200 partitions: every shard.
    let filter = range_of(Included(ts(1970, 1, 1)), Included(ts(2080, 1, 1)));
    assert_eq!(prune(&monthly, &filter)?, ShardSet::All);
    // An inverted range needs no shard.
    let filter = range_of(Included(ts(2024, 5, 1)), Excluded(ts(2024, 4, 1)));
    assert!(prune(&monthly, &filter)?.is_empty());

    let yearly = TimeInterval::yearly("logs_{yyyy}")?.with_shards([
        "logs_2022",
        "logs_2023",
        "logs_2024",
        "logs_2025",
    ])?;
    let filter = range_of(Included(ts(2023, 6, 1)), Excluded(ts(2025, 1, 1)));
    assert_eq!(prune(&yearly, &filter)?, only(&["logs_2023", "logs_2024"]));
    let filter = range_of(Included(ts(2024, 6, 1)), Unbounded);
    assert_eq!(prune(&yearly, &filter)?, only(&["logs_2024", "logs_2025"]));
    assert_eq!(
        prune(&yearly, &range_of(Unbounded, Unbounded))?,
        only(&["logs_2022", "logs_2023", "logs_2024", "logs_2025"])
    );
    // A key in a partition that is not configured: no row can be there.
    assert!(prune(&yearly, &eq(ts(2030, 1, 1)))?.is_empty());
    // Wrong types and impossible dates are errors.
    let err = prune(&yearly, &KeyFilter::range(1..2)).unwrap_err();
    assert!(matches!(
        err,
        ShardError::WrongKeyType {
            resolver: "time_interval",
            ..
        }
    ));
    let bad_date = ShardValue::Date {
        year: 2024,
        month: 2,
        day: 30,
    };
    let err = prune(&yearly, &range_of(Included(bad_date), Unbounded)).unwrap_err();
    assert!(matches!(err, ShardError::InvalidKey { .. }));
    Ok(())
}

#[test]
fn stable_hash_prunes_equalities_and_scatters_ranges() -> TestResult {
    let r = StableHash::new(["h0", "h1", "h2"])?;
    let key = ShardValue::from("acme");
    let expected = r.resolve(&key)?.into_owned();
    assert_eq!(
        prune(&r, &KeyFilter::Eq(key))?,
        ShardSet::only([Cow::Owned(expected)])
    );
    assert_eq!(prune(&r, &KeyFilter::range(1..3))?, ShardSet::All);
    Ok(())
}

#[test]
fn lookup_prunes_equalities_and_skips_unmapped_keys() -> TestResult {
    let strict = Lookup::new([("acme", "eu"), ("globex", "us")], None)?;
    assert_eq!(
        prune(&strict, &one_of(["acme", "globex"]))?,
        only(&["eu", "us"])
    );
    assert_eq!(prune(&strict, &one_of(["acme", "initech"]))?, only(&["eu"]));
    assert!(prune(&strict, &eq("initech"))?.is_empty());
    assert_eq!(
        prune(
            &strict,
            &KeyFilter::range(ShardValue::from("a")..ShardValue::from("b"))
        )?,
        ShardSet::All
    );
    let with_default = Lookup::new([("acme", "eu")], Some("shared".into()))?;
    assert_eq!(prune(&with_default, &eq("initech"))?, only(&["shared"]));
    Ok(())
}

/// A user resolver that knows nothing about ranges.
#[derive(Debug)]
struct Parity;

impl ShardResolver for Parity {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        match key {
            ShardValue::Int(v) if v % 2 == 0 => Ok("even".into()),
            ShardValue::Int(_) => Ok("odd".into()),
            other => Err(ShardError::Custom {
                resolver: "parity",
                source: format!("cannot place {other}").into(),
            }),
        }
    }

    fn shards(&self) -> Vec<&str> {
        vec!["even", "odd"]
    }
}

#[test]
fn user_resolvers_and_wrappers_prune() -> TestResult {
    assert_eq!(prune(&Parity, &one_of([2, 4]))?, only(&["even"]));
    assert_eq!(prune(&Parity, &KeyFilter::range(1..2))?, ShardSet::All);
    let err = prune(&Parity, &eq("x")).unwrap_err();
    assert!(matches!(
        err,
        ShardError::Custom {
            resolver: "parity",
            ..
        }
    ));

    // Box, Arc and & forward range pruning to the resolver inside.
    let range = Range::new([(0, "a"), (100, "b")], None)?;
    let filter = KeyFilter::range(0..10);
    let boxed: Box<dyn ShardResolver> = Box::new(range.clone());
    let shared: Arc<dyn ShardResolver> = Arc::new(range.clone());
    let by_ref: &dyn ShardResolver = &range;
    for resolver in [&boxed as &dyn ShardResolver, &shared, &by_ref] {
        assert_eq!(prune(resolver, &filter)?, only(&["a"]));
    }
    // The set can outlive the filter, and be detached from the resolver.
    let owned = prune(&range, &filter)?.into_owned();
    drop(range);
    assert!(owned.contains("a"));
    Ok(())
}
