//! Properties of aggregates across shards: values split across random shards, each
//! shard computing the per-shard rewrite, merged == the aggregate over all values.

use std::collections::{BTreeMap, BTreeSet};

use grant_sharding::merge::{
    finish, merge_groups, merge_partials, Aggregate, Decimal, MergeError, MergeOptions, Partial,
    SortValue,
};
use proptest::prelude::*;

const AGGREGATES: [Aggregate; 6] = [
    Aggregate::Count,
    Aggregate::CountDistinct,
    Aggregate::Sum,
    Aggregate::Min,
    Aggregate::Max,
    Aggregate::Avg,
];

/// A column value: NULL, or an integer and its representation (0 `Int`, 1 `UInt`, 2
/// `Decimal`).
type Cell = Option<(i64, u8)>;

/// Mostly non-NULL cells: the same number may come as `Int`, `UInt` or a scaled
/// `Decimal`, depending on the shard's driver.
fn cell() -> impl Strategy<Value = Cell> {
    prop::option::weighted(0.8, (-50i64..50, 0u8..3))
}

fn encode(cell: Cell) -> SortValue {
    match cell {
        None => SortValue::Null,
        Some((n, 1)) if n >= 0 => SortValue::UInt(n as u64),
        Some((n, 2)) => SortValue::Decimal(Decimal::new(i128::from(n) * 100, 2).unwrap()),
        Some((n, _)) => SortValue::Int(n),
    }
}

/// What one shard's database returns for `aggregate` over its values.
fn shard_values(aggregate: Aggregate, cells: &[Cell]) -> Vec<Vec<SortValue>> {
    let present: Vec<i64> = cells.iter().flatten().map(|(n, _)| *n).collect();
    let count = SortValue::Int(present.len() as i64);
    let total: i64 = present.iter().sum();
    // A shard holding a decimal returns its SUM as a decimal (like NUMERIC columns).
    let sum = if present.is_empty() {
        SortValue::Null
    } else if cells.iter().flatten().any(|(_, repr)| *repr == 2) {
        SortValue::Decimal(Decimal::new(i128::from(total) * 100, 2).unwrap())
    } else {
        SortValue::Int(total)
    };
    match aggregate {
        Aggregate::Count => vec![vec![count]],
        Aggregate::Sum => vec![vec![sum]],
        Aggregate::Avg => vec![vec![sum, count]],
        Aggregate::Min => vec![vec![present
            .iter()
            .min()
            .map_or(SortValue::Null, |n| SortValue::Int(*n))]],
        Aggregate::Max => vec![vec![present
            .iter()
            .max()
            .map_or(SortValue::Null, |n| SortValue::Int(*n))]],
        // SELECT DISTINCT x: one row per distinct value (NULL included, as SQL does),
        // each in whichever representation the shard's driver chose.
        Aggregate::CountDistinct => {
            let mut seen = BTreeSet::new();
            cells
                .iter()
                .filter(|c| seen.insert(c.map(|(n, _)| n)))
                .map(|c| vec![encode(*c)])
                .collect()
        }
        _ => unreachable!(),
    }
}

fn shard_partial(aggregate: Aggregate, cells: &[Cell]) -> Result<Partial, MergeError> {
    let partials = shard_values(aggregate, cells)
        .iter()
        .map(|values| Partial::from_shard(aggregate, values))
        .collect::<Result<Vec<_>, _>>()?;
    merge_partials(aggregate, partials, &MergeOptions::default())
}

/// The expected answer, computed directly from all values.
fn reference(aggregate: Aggregate, cells: &[Cell]) -> SortValue {
    let present: Vec<i64> = cells.iter().flatten().map(|(n, _)| *n).collect();
    let total: i64 = present.iter().sum();
    match aggregate {
        Aggregate::Count => SortValue::Int(present.len() as i64),
        Aggregate::CountDistinct => {
            SortValue::Int(present.iter().collect::<BTreeSet<_>>().len() as i64)
        }
        Aggregate::Sum if present.is_empty() => SortValue::Null,
        Aggregate::Sum => SortValue::Int(total),
        Aggregate::Min => present
            .iter()
            .min()
            .map_or(SortValue::Null, |n| SortValue::Int(*n)),
        Aggregate::Max => present
            .iter()
            .max()
            .map_or(SortValue::Null, |n| SortValue::Int(*n)),
        Aggregate::Avg if present.is_empty() => SortValue::Null,
        // Checked against the exact quotient in `check_avg`.
        Aggregate::Avg => SortValue::Int(total),
        _ => unreachable!(),
    }
}

/// `avg` is `total / count` to 16 decimals, rounded.
fn check_avg(avg: &SortValue, total: i64, count: usize) -> Result<(), TestCaseError> {
    let SortValue::Decimal(d) = avg else {
        return Err(TestCaseError::fail(format!("avg {avg} is not a decimal")));
    };
    prop_assert_eq!(d.scale(), 16);
    let error = d.mantissa() * count as i128 - i128::from(total) * 10i128.pow(16);
    prop_assert!(
        error.abs() * 2 <= count as i128,
        "avg {} of {}/{}",
        avg,
        total,
        count
    );
    Ok(())
}

fn check(aggregate: Aggregate, got: &SortValue, cells: &[Cell]) -> Result<(), TestCaseError> {
    let expected = reference(aggregate, cells);
    match (aggregate, &expected) {
        (Aggregate::Avg, SortValue::Int(total)) => {
            check_avg(got, *total, cells.iter().flatten().count())
        }
        _ => {
            prop_assert_eq!(got, &expected, "{:?}", aggregate);
            Ok(())
        }
    }
}

proptest! {
    #[test]
    fn aggregates_over_shards_equal_the_aggregate_over_all_rows(
        cells in prop::collection::vec((cell(), 0usize..4), 0..40),
    ) {
        let all: Vec<_> = cells.iter().map(|(c, _)| *c).collect();
        for aggregate in AGGREGATES {
            let partials = (0..4)
                .map(|shard| {
                    let mine: Vec<_> = cells.iter().filter(|(_, s)| *s == shard).map(|(c, _)| *c).collect();
                    shard_partial(aggregate, &mine)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let merged = merge_partials(aggregate, partials, &MergeOptions::default())?;
            let got = finish(aggregate, merged)?;
            check(aggregate, &got, &all)?;
            // The same answer as on one database.
            prop_assert_eq!(&got, &finish(aggregate, shard_partial(aggregate, &all)?)?);
        }
    }

    #[test]
    fn grouped_aggregates_over_shards_equal_grouping_all_rows(
        rows in prop::collection::vec((prop::option::of(0i64..4), cell(), 0usize..3), 0..50),
    ) {
        let aggs = AGGREGATES;
        // Each shard runs GROUP BY g, x (for the distinct count) and the rewrites.
        let shard_rows: Vec<Vec<_>> = (0..3)
            .map(|shard| {
                let mut by_key: BTreeMap<(Option<i64>, Option<i64>), Vec<Cell>> = BTreeMap::new();
                for (g, c, s) in &rows {
                    if *s == shard {
                        by_key.entry((*g, c.map(|(n, _)| n))).or_default().push(*c);
                    }
                }
                by_key
                    .into_iter()
                    .map(|((g, _), cells)| {
                        let partials = aggs
                            .iter()
                            .map(|agg| {
                                let values = match agg {
                                    Aggregate::CountDistinct => vec![encode(cells[0])],
                                    _ => shard_values(*agg, &cells).remove(0),
                                };
                                Partial::from_shard(*agg, &values)
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok((vec![SortValue::from(g)], partials))
                    })
                    .collect::<Result<Vec<_>, MergeError>>()
            })
            .collect::<Result<_, _>>()?;
        let groups = merge_groups(shard_rows, &aggs, &MergeOptions::default())?;

        let mut expected: BTreeMap<Option<i64>, Vec<Cell>> = BTreeMap::new();
        for (g, c, _) in &rows {
            expected.entry(*g).or_default().push(*c);
        }
        // One row per group, sorted by key (NULL first, as Option sorts).
        let keys: Vec<_> = groups.iter().map(|(k, _)| k.clone()).collect();
        let expected_keys: Vec<_> = expected.keys().map(|g| vec![SortValue::from(*g)]).collect();
        prop_assert_eq!(keys, expected_keys);
        for ((_, finals), cells) in groups.iter().zip(expected.values()) {
            for (agg, got) in aggs.iter().zip(finals) {
                check(*agg, got, cells)?;
            }
        }
    }

    #[test]
    fn distinct_cap_refuses_rather_than_undercounts(
        values in prop::collection::vec(0i64..30, 0..60),
        cap in 0usize..30,
    ) {
        let distinct = values.iter().collect::<BTreeSet<_>>().len();
        let partials = values.chunks(7).map(|c| Partial::distinct(c.iter().map(|n| SortValue::Int(*n))));
        let options = MergeOptions::default().with_distinct_cap(cap);
        match merge_partials(Aggregate::CountDistinct, partials, &options) {
            Ok(p) => {
                prop_assert!(distinct <= cap);
                prop_assert_eq!(finish(Aggregate::CountDistinct, p)?, SortValue::Int(distinct as i64));
            }
            Err(e) => {
                prop_assert!(distinct > cap);
                prop_assert_eq!(e, MergeError::DistinctCapExceeded { cap });
            }
        }
    }
}

#[test]
fn integer_sums_never_wrap() {
    let opts = MergeOptions::default();
    let shards = [i64::MAX, i64::MAX, -i64::MAX]
        .map(|n| Partial::from_shard(Aggregate::Sum, &[n.into()]).unwrap());
    // The running total passes i64::MAX and comes back: exact, no error.
    let merged = merge_partials(Aggregate::Sum, shards, &opts).unwrap();
    assert_eq!(
        finish(Aggregate::Sum, merged).unwrap(),
        SortValue::Int(i64::MAX)
    );
    let shards = [i64::MAX, 1].map(|n| Partial::from_shard(Aggregate::Sum, &[n.into()]).unwrap());
    let err = finish(
        Aggregate::Sum,
        merge_partials(Aggregate::Sum, shards, &opts).unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sum: the total 9223372036854775808 does not fit in a 64-bit integer"
    );
}

#[test]
fn floats_and_decimals_sum_and_average() {
    let opts = MergeOptions::default();
    let p = |agg, v: &[SortValue]| Partial::from_shard(agg, v).unwrap();
    let d = |s: &str| SortValue::Decimal(s.parse().unwrap());
    let sum = merge_partials(
        Aggregate::Sum,
        [
            p(Aggregate::Sum, &[d("1.25")]),
            p(Aggregate::Sum, &[2.into()]),
        ],
        &opts,
    );
    assert_eq!(finish(Aggregate::Sum, sum.unwrap()).unwrap(), d("3.25"));
    let sum = merge_partials(
        Aggregate::Sum,
        [
            p(Aggregate::Sum, &[d("1.5")]),
            p(Aggregate::Sum, &[2.0.into()]),
        ],
        &opts,
    );
    assert_eq!(
        finish(Aggregate::Sum, sum.unwrap()).unwrap(),
        SortValue::Float(3.5)
    );
    let avg = merge_partials(
        Aggregate::Avg,
        [
            p(Aggregate::Avg, &[1.5.into(), 1.into()]),
            p(Aggregate::Avg, &[SortValue::Null, 0.into()]),
        ],
        &opts,
    );
    assert_eq!(
        finish(Aggregate::Avg, avg.unwrap()).unwrap(),
        SortValue::Float(1.5)
    );
    let avg = merge_partials(
        Aggregate::Avg,
        [p(Aggregate::Avg, &[d("0.10"), 3.into()])],
        &opts,
    );
    assert_eq!(
        finish(Aggregate::Avg, avg.unwrap()).unwrap().to_string(),
        "0.0333333333333333"
    );
}
