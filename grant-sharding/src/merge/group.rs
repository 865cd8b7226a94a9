//! `GROUP BY` across shards: partial states merged by group key.

use std::collections::btree_map::{BTreeMap, Entry};

use super::{finish, Aggregate, MergeError, MergeOptions, Partial, SortValue};

/// The values of a row's `GROUP BY` columns, in the order they are grouped by.
///
/// ```
/// use grant_sharding::merge::{GroupKey, SortValue};
///
/// let key: GroupKey = vec![SortValue::from("fr"), SortValue::Null];
/// assert!(key < vec![SortValue::from("se")]);
/// ```
pub type GroupKey = Vec<SortValue>;

/// Merges grouped aggregate rows from every shard into one row per group.
///
/// `shard_rows[s]` holds shard `s`'s rows as `(group key, partials)`, the partials in
/// the order of `aggregates` (built with [`Partial::from_shard`] from the per-shard
/// rewrite in [`Aggregate`]). A group may appear on several shards, and several times
/// on one shard: that is how `COUNT(DISTINCT x)` is grouped, by sending
/// `GROUP BY g, x` to each shard and passing `g` as the key and `x` to
/// [`Partial::from_shard`]; `COUNT`, `SUM`, `MIN`, `MAX` and `AVG` in the same query
/// merge correctly over that finer grouping.
///
/// The result has one row per group key, **sorted by the key** in [`SortValue`]'s
/// order (NULL keys first; NULL keys are one group, as in SQL), whatever the shard
/// order. Rules that apply to the merged groups are core's to run afterwards, never
/// per shard: `HAVING`, and an `ORDER BY` on an aggregate with its `LIMIT` (sort the
/// result with [`compare_rows`](super::compare_rows)). A `LIMIT n` *may* be sent to each
/// shard when the query orders by the group key itself: the first `n` groups overall are
/// then among each shard's first `n` groups. Without `GROUP BY` there is no key: use
/// [`merge_partials`](super::merge_partials), which answers even when no shard has a row.
///
/// ```
/// use grant_sharding::merge::{merge_groups, Aggregate, MergeOptions, Partial, SortValue};
///
/// // SELECT country, COUNT(*), AVG(age) ... GROUP BY country
/// let aggs = [Aggregate::Count, Aggregate::Avg];
/// let row = |country: &str, n: i64, sum: i64| -> Result<_, grant_sharding::merge::MergeError> {
///     Ok((vec![SortValue::from(country)], vec![
///         Partial::from_shard(Aggregate::Count, &[n.into()])?,
///         Partial::from_shard(Aggregate::Avg, &[sum.into(), n.into()])?,
///     ]))
/// };
/// let shard_a = vec![row("fr", 2, 60)?, row("se", 1, 40)?];
/// let shard_b = vec![row("fr", 1, 30)?];
/// let groups = merge_groups(vec![shard_a, shard_b], &aggs, &MergeOptions::default())?;
/// assert_eq!(groups, vec![
///     (vec!["fr".into()], vec![SortValue::Int(3), SortValue::Decimal("30".parse()?)]),
///     (vec!["se".into()], vec![SortValue::Int(1), SortValue::Decimal("40".parse()?)]),
/// ]);
/// # Ok::<(), grant_sharding::merge::MergeError>(())
/// ```
pub fn merge_groups(
    shard_rows: Vec<Vec<(GroupKey, Vec<Partial>)>>,
    aggregates: &[Aggregate],
    options: &MergeOptions,
) -> Result<Vec<(GroupKey, Vec<SortValue>)>, MergeError> {
    let mut groups: BTreeMap<GroupKey, Vec<Partial>> = BTreeMap::new();
    for (shard, rows) in shard_rows.into_iter().enumerate() {
        for (key, partials) in rows {
            if partials.len() != aggregates.len() {
                return Err(MergeError::GroupWidth {
                    shard,
                    expected: aggregates.len(),
                    found: partials.len(),
                });
            }
            match groups.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(partials);
                }
                Entry::Occupied(mut slot) => {
                    let merged = std::mem::take(slot.get_mut())
                        .into_iter()
                        .zip(partials)
                        .map(|(acc, p)| acc.merge(p, options))
                        .collect::<Result<_, _>>()?;
                    *slot.get_mut() = merged;
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|(key, partials)| {
            let finals = aggregates
                .iter()
                .zip(partials)
                .map(|(agg, p)| finish(*agg, p))
                .collect::<Result<_, _>>()?;
            Ok((key, finals))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_widths_and_kinds_are_refused() {
        let opts = MergeOptions::default();
        let rows = vec![vec![(vec![SortValue::Null], vec![])]];
        let err = merge_groups(rows, &[Aggregate::Count], &opts).unwrap_err();
        assert_eq!(
            err,
            MergeError::GroupWidth {
                shard: 0,
                expected: 1,
                found: 0
            }
        );
        let rows = vec![vec![(vec![], vec![Partial::empty(Aggregate::Sum)])]];
        let err = merge_groups(rows, &[Aggregate::Count], &opts).unwrap_err();
        assert!(matches!(
            err,
            MergeError::PartialMismatch {
                aggregate: "count",
                found: "sum"
            }
        ));
    }

    #[test]
    fn null_keys_form_one_group_sorted_first() {
        let p = || vec![Partial::from_shard(Aggregate::Count, &[1.into()]).unwrap()];
        let rows = vec![
            vec![(vec![SortValue::Int(2)], p()), (vec![SortValue::Null], p())],
            vec![(vec![SortValue::Null], p())],
        ];
        let groups = merge_groups(rows, &[Aggregate::Count], &MergeOptions::default()).unwrap();
        assert_eq!(
            groups,
            vec![
                (vec![SortValue::Null], vec![SortValue::Int(2)]),
                (vec![SortValue::Int(2)], vec![SortValue::Int(1)]),
            ]
        );
    }
}
