//! Properties of the sorted merge, keyset pagination and de-duplication: merging rows
//! split across random shards equals sorting them on one list.

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use grant_sharding::merge::{
    after, compare_rows, dedupe_by_key, keyset_predicate, merge_sorted, per_shard_limit, Decimal,
    Direction, MergeSorted, Nulls, OrderBy, SortValue,
};
use proptest::prelude::*;

/// Small domains, so ties, NULLs and equal numbers of different kinds are frequent.
fn value() -> impl Strategy<Value = SortValue> {
    prop_oneof![
        2 => Just(SortValue::Null),
        3 => (-3i64..3).prop_map(SortValue::Int),
        1 => (0u64..3).prop_map(SortValue::UInt),
        1 => (-30i128..30, 0u32..3).prop_map(|(m, s)| SortValue::Decimal(Decimal::new(m, s).unwrap())),
        1 => prop::sample::select(vec![-0.0, 0.0, 0.1, 1.0, 2.5, f64::NAN, f64::INFINITY])
            .prop_map(SortValue::Float),
        2 => prop::sample::select(vec!["", "a", "ab", "b", "é"]).prop_map(SortValue::from),
    ]
}

fn order_by() -> impl Strategy<Value = OrderBy> {
    (0usize..3, any::<bool>(), prop::option::of(any::<bool>())).prop_map(|(column, desc, nulls)| {
        let term = OrderBy::new(
            column,
            if desc {
                Direction::Desc
            } else {
                Direction::Asc
            },
        );
        match nulls {
            None => term,
            Some(true) => term.nulls_first(),
            Some(false) => term.nulls_last(),
        }
    })
}

/// Rows of three key columns plus an id (column 3, unique), each with a shard number.
fn rows() -> impl Strategy<Value = (Vec<Vec<SortValue>>, Vec<usize>, usize)> {
    (1usize..6).prop_flat_map(|shards| {
        prop::collection::vec((prop::collection::vec(value(), 3), 0..shards), 0..40).prop_map(
            move |rows| {
                let (keys, owners): (Vec<_>, Vec<_>) = rows
                    .into_iter()
                    .enumerate()
                    .map(|(id, (mut key, shard))| {
                        key.push(SortValue::from(id as i64));
                        (key, shard)
                    })
                    .unzip();
                (keys, owners, shards)
            },
        )
    })
}

/// Each shard's rows, sorted by `cmp` as the shard's `ORDER BY` returns them.
fn split<F: Fn(&[SortValue], &[SortValue]) -> Ordering>(
    rows: &[Vec<SortValue>],
    owners: &[usize],
    shards: usize,
    cmp: F,
) -> Vec<Vec<Vec<SortValue>>> {
    let mut out = vec![Vec::new(); shards];
    for (row, shard) in rows.iter().zip(owners) {
        out[*shard].push(row.clone());
    }
    for shard in &mut out {
        shard.sort_by(|a, b| cmp(a, b));
    }
    out
}

fn hash(v: &SortValue) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

proptest! {
    #[test]
    fn sort_value_order_is_total_and_agrees_with_hash(a in value(), b in value(), c in value()) {
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
        if a == b {
            prop_assert_eq!(hash(&a), hash(&b));
        }
    }

    #[test]
    fn merge_equals_a_stable_sort_of_the_concatenation(
        (rows, owners, shards) in rows(),
        order in prop::collection::vec(order_by(), 1..4),
        offset in 0usize..45,
        limit in prop::option::of(0usize..45),
    ) {
        let cmp = compare_rows(&order);
        let split = split(&rows, &owners, shards, &cmp);
        // What one database returns: a stable sort of shard 0's rows, then shard 1's...
        let mut expected: Vec<_> = split.iter().flatten().cloned().collect();
        expected.sort_by(|a, b| cmp(a, b));
        let expected: Vec<_> = expected.into_iter().skip(offset).take(limit.unwrap_or(usize::MAX)).collect();

        // Each shard is asked only for its first `limit + offset` rows.
        let asked = per_shard_limit(offset, limit).unwrap_or(usize::MAX);
        let truncated: Vec<_> = split.iter().map(|s| s.iter().take(asked).cloned().collect()).collect();
        let merged = merge_sorted(truncated, |a: &Vec<SortValue>, b: &Vec<SortValue>| cmp(a, b), offset, limit);
        prop_assert_eq!(&merged, &expected);

        let streamed: Vec<_> = MergeSorted::new(split, |a: &Vec<SortValue>, b: &Vec<SortValue>| cmp(a, b))
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect();
        prop_assert_eq!(streamed, expected);
    }

    #[test]
    fn keyset_pages_concatenate_to_the_full_sorted_list(
        (rows, owners, shards) in rows(),
        mut order in prop::collection::vec(order_by(), 0..3),
        page in 1usize..7,
    ) {
        // The order ends with the unique id, as keyset pagination requires.
        order.push(if page % 2 == 0 { OrderBy::asc(3) } else { OrderBy::desc(3) });
        let cmp = compare_rows(&order);
        let split = split(&rows, &owners, shards, &cmp);
        let mut expected: Vec<_> = rows.clone();
        expected.sort_by(|a, b| cmp(a, b));

        let mut pages = Vec::new();
        let mut cursor: Option<Vec<SortValue>> = None;
        loop {
            let per_shard: Vec<Vec<Vec<SortValue>>> = split
                .iter()
                .map(|shard| {
                    shard
                        .iter()
                        .filter(|row| match &cursor {
                            None => true,
                            Some(last) => {
                                let sql = keyset_predicate(&order, last)
                                    .iter()
                                    .any(|and| and.iter().all(|c| c.matches(row)));
                                assert_eq!(sql, after(&order, last, row));
                                sql
                            }
                        })
                        .take(page)
                        .cloned()
                        .collect()
                })
                .collect();
            let next = merge_sorted(per_shard, |a: &Vec<SortValue>, b: &Vec<SortValue>| cmp(a, b), 0, Some(page));
            match next.last() {
                None => break,
                Some(last) => cursor = Some(last.clone()),
            }
            prop_assert!(next.len() <= page);
            pages.extend(next);
            prop_assert!(pages.len() <= rows.len(), "pagination does not end");
        }
        prop_assert_eq!(pages, expected);
    }

    #[test]
    fn dedupe_after_merge_equals_dedupe_on_one_list(
        keys in prop::collection::vec((0u8..10, 0u8..4), 0..40),
        owners in prop::collection::vec(0usize..3, 40),
        offset in 0usize..10,
        limit in 0usize..10,
    ) {
        // (id, sort value): copies of an id carry the same sort value, on any shards.
        let rows: Vec<(u8, u8)> = keys.iter().map(|(id, _)| (*id, id % 4)).collect();
        let mut shards = vec![Vec::new(); 3];
        for (row, shard) in rows.iter().zip(&owners) {
            if !shards[*shard].contains(row) {
                shards[*shard].push(*row);
            }
        }
        let by_sort = |a: &(u8, u8), b: &(u8, u8)| a.1.cmp(&b.1).then(a.0.cmp(&b.0));
        for shard in &mut shards {
            shard.sort_by(by_sort);
            shard.truncate(offset + limit);
        }
        let mut one: Vec<(u8, u8)> = rows.clone();
        one.sort_by(by_sort);
        let expected: Vec<_> = dedupe_by_key(one, |r| r.0).into_iter().skip(offset).take(limit).collect();
        let merged = MergeSorted::new(shards, by_sort);
        let got: Vec<_> = dedupe_by_key(merged, |r| r.0).into_iter().skip(offset).take(limit).collect();
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn nulls_parameter_is_independent_of_direction() {
    for nulls in [Nulls::First, Nulls::Last] {
        for direction in [Direction::Asc, Direction::Desc] {
            let mut term = OrderBy::new(0, direction);
            term = if nulls == Nulls::First {
                term.nulls_first()
            } else {
                term.nulls_last()
            };
            let cmp = compare_rows(&[term]);
            let null_vs_value = cmp(&[SortValue::Null], &[SortValue::Int(0)]);
            assert_eq!(null_vs_value.is_lt(), nulls == Nulls::First, "{term:?}");
        }
    }
}
