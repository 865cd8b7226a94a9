//! De-duplication of merged rows by primary key.

use std::collections::HashSet;
use std::hash::Hash;

/// Keeps the first row of each key, in the order given (the merged order), dropping
/// later rows with the same key.
///
/// Rows can come back from several shards when a table is copied to every shard (a
/// reference table) or while a tenant is being moved. With `OFFSET` / `LIMIT`, remove
/// duplicates *before* applying them: merge the shards' `offset + limit` rows
/// ([`per_shard_limit`](super::per_shard_limit)) with no offset or limit, de-duplicate,
/// then skip and take. That is exact as long as copies of a row carry the same order
/// values: on its own shard a row is preceded only by rows with other keys that also
/// precede it after de-duplication.
///
/// ```
/// use grant_sharding::merge::{dedupe_by_key, MergeSorted};
///
/// // (id, name) rows ordered by name; id 2 lives on both shards.
/// let a = vec![(1, "ann"), (2, "bob")];
/// let b = vec![(2, "bob"), (3, "cy")];
/// let merged = MergeSorted::new(vec![a, b], |x, y| x.1.cmp(y.1));
/// let page: Vec<_> = dedupe_by_key(merged, |row| row.0).into_iter().skip(1).take(2).collect();
/// assert_eq!(page, [(2, "bob"), (3, "cy")]);
/// ```
pub fn dedupe_by_key<T, K, F>(rows: impl IntoIterator<Item = T>, key: F) -> Vec<T>
where
    K: Eq + Hash,
    F: Fn(&T) -> K,
{
    let mut seen = HashSet::new();
    rows.into_iter()
        .filter(|row| seen.insert(key(row)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_first_occurrence_in_order() {
        let rows = vec![(1, 'a'), (2, 'b'), (1, 'c'), (3, 'd'), (2, 'e')];
        assert_eq!(dedupe_by_key(rows, |r| r.0), [(1, 'a'), (2, 'b'), (3, 'd')]);
        assert!(dedupe_by_key(Vec::<u8>::new(), |r| *r).is_empty());
    }
}
