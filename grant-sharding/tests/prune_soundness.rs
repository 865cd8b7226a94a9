//! Pruning is sound: every key that satisfies a filter and that the resolver places
//! lands on a shard of the pruned set.

use std::ops::Bound;

use grant_sharding::prune::{prune, KeyFilter};
use grant_sharding::{Modulo, Range, ShardResolver, ShardValue, TimeInterval};
use proptest::prelude::*;

// A narrow domain, so that bounds often fall on range starts and Modulo ranges are
// often narrower than the shard count: the edges are where pruning can go wrong.
const LOW: i64 = -20;
const HIGH: i64 = 50;

/// An integer key, as `Int` or (when not negative) `UInt`.
fn key() -> impl Strategy<Value = ShardValue> {
    (LOW + 5..HIGH - 5, any::<bool>()).prop_map(|(v, unsigned)| match u64::try_from(v) {
        Ok(u) if unsigned => ShardValue::UInt(u),
        _ => ShardValue::Int(v),
    })
}

fn bound() -> impl Strategy<Value = Bound<ShardValue>> {
    prop_oneof![
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
        Just(Bound::Unbounded),
    ]
}

fn filter() -> impl Strategy<Value = KeyFilter> {
    let leaf = prop_oneof![
        key().prop_map(KeyFilter::Eq),
        prop::collection::vec(key(), 0..4).prop_map(KeyFilter::In),
        (bound(), bound()).prop_map(|(lower, upper)| KeyFilter::Range { lower, upper }),
        Just(KeyFilter::Any),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(KeyFilter::And),
            prop::collection::vec(inner, 0..4).prop_map(KeyFilter::Or),
        ]
    })
}

fn int(v: &ShardValue) -> i128 {
    v.as_integer().expect("integer keys only")
}

/// Whether key `k` satisfies the filter: the reference semantics.
fn satisfies(filter: &KeyFilter, k: i128) -> bool {
    match filter {
        KeyFilter::Eq(v) => int(v) == k,
        KeyFilter::In(vs) => vs.iter().any(|v| int(v) == k),
        KeyFilter::Range { lower, upper } => {
            let above = match lower {
                Bound::Included(v) => k >= int(v),
                Bound::Excluded(v) => k > int(v),
                Bound::Unbounded => true,
            };
            let below = match upper {
                Bound::Included(v) => k <= int(v),
                Bound::Excluded(v) => k < int(v),
                Bound::Unbounded => true,
            };
            above && below
        }
        KeyFilter::And(parts) => parts.iter().all(|p| satisfies(p, k)),
        KeyFilter::Or(parts) => parts.iter().any(|p| satisfies(p, k)),
        KeyFilter::Any => true,
        other => panic!("unexpected filter {other:?}"),
    }
}

fn range_resolver() -> impl Strategy<Value = Range> {
    (
        prop::collection::btree_set(LOW + 5..HIGH - 5, 1..6),
        prop::collection::vec(0_usize..3, 6),
        prop::option::of(0_i64..20),
    )
        .prop_filter_map(
            "end must be above the last start",
            |(starts, owners, extra)| {
                let last = *starts.iter().next_back()?;
                let ranges: Vec<(i64, String)> = starts
                    .into_iter()
                    .zip(owners)
                    .map(|(start, owner)| (start, format!("r{owner}")))
                    .collect();
                Range::new(ranges, extra.map(|e| last + 1 + e)).ok()
            },
        )
}

fn check_sound(resolver: &dyn ShardResolver, filter: &KeyFilter) -> Result<(), TestCaseError> {
    let pruned = prune(resolver, filter).map_err(|e| TestCaseError::fail(e.to_string()))?;
    for k in LOW..=HIGH {
        if !satisfies(filter, i128::from(k)) {
            continue;
        }
        if let Ok(shard) = resolver.resolve(&ShardValue::Int(k)) {
            prop_assert!(
                pruned.contains(&shard),
                "key {k} satisfies {filter:?} and lives on {shard}, pruned to {pruned:?}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn modulo_pruning_is_sound(n in 1_usize..7, filter in filter()) {
        let resolver = Modulo::new((0..n).map(|i| format!("m{i}")))?;
        check_sound(&resolver, &filter)?;
    }

    #[test]
    fn range_pruning_is_sound(resolver in range_resolver(), filter in filter()) {
        check_sound(&resolver, &filter)?;
    }

    #[test]
    fn equalities_prune_exactly(values in prop::collection::vec(key(), 1..5), n in 1_usize..7) {
        // For key = v / key IN (..) the set is exactly the shards of the placed keys.
        let resolver = Modulo::new((0..n).map(|i| format!("m{i}")))?;
        let pruned = prune(&resolver, &KeyFilter::In(values.clone()))?;
        let mut expected = Vec::new();
        for v in &values {
            expected.push(resolver.resolve(v)?);
        }
        expected.sort();
        expected.dedup();
        prop_assert_eq!(pruned.names(), Some(expected.iter().map(AsRef::as_ref).collect()));
    }

    #[test]
    fn time_interval_range_pruning_is_sound(
        from in 1_640_995_200_i64..1_767_225_600, // 2022-01-01 .. 2026-01-01
        len in 0_i64..40_000_000,
        lower_excluded in any::<bool>(),
        upper_excluded in any::<bool>(),
        probes in prop::collection::vec(0_i64..40_000_000, 32),
    ) {
        let to = from + len;
        let edge = |v: i64, excluded: bool| {
            let v = ShardValue::Timestamp(v);
            if excluded { Bound::Excluded(v) } else { Bound::Included(v) }
        };
        let filter = KeyFilter::Range { lower: edge(from, lower_excluded), upper: edge(to, upper_excluded) };
        for resolver in [
            TimeInterval::monthly("m_{yyyy}_{mm}")?,
            TimeInterval::yearly("y_{yyyy}")?,
        ] {
            let pruned = prune(&resolver, &filter)?;
            // Probe the edges and random points inside.
            let inside = [from, from + 1, to - 1, to].into_iter().chain(probes.iter().map(|p| from + p % (len + 1)));
            for t in inside {
                let in_range = (if lower_excluded { t > from } else { t >= from })
                    && (if upper_excluded { t < to } else { t <= to });
                if in_range {
                    let shard = resolver.resolve(&ShardValue::Timestamp(t))?;
                    prop_assert!(pruned.contains(&shard), "{t} -> {shard} not in {pruned:?}");
                }
            }
        }
    }
}
