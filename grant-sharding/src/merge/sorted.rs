//! K-way merge of sorted shard results, with `OFFSET` / `LIMIT` applied once.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::binary_heap::{BinaryHeap, PeekMut};
use std::rc::Rc;

/// The `LIMIT` each shard is asked for when the query has `offset` and `limit`:
/// `limit + offset` (saturating), with **no** `OFFSET` on the shards.
///
/// A row at global position `p < offset + limit` is preceded, on its own shard, only by
/// rows that also precede it globally, so it is within its shard's first
/// `offset + limit` rows: asking each shard for that many (in the same `ORDER BY`) and
/// merging is exact. Sending `OFFSET` to each shard is the classic wrong answer. Without
/// a limit every shard returns everything (`None`), and deep offsets cost every shard
/// `offset` rows: prefer keyset pagination ([`after`](super::after)).
///
/// ```
/// use grant_sharding::merge::per_shard_limit;
///
/// assert_eq!(per_shard_limit(20, Some(10)), Some(30));
/// assert_eq!(per_shard_limit(5, None), None);
/// assert_eq!(per_shard_limit(usize::MAX, Some(1)), Some(usize::MAX));
/// ```
pub fn per_shard_limit(offset: usize, limit: Option<usize>) -> Option<usize> {
    limit.map(|limit| limit.saturating_add(offset))
}

/// Merges shard results that are each sorted by `cmp`, skipping `offset` rows and
/// returning at most `limit`.
///
/// Each inner `Vec` is one shard's rows, already in `cmp` order (as the shard's
/// `ORDER BY` returned them; this is not checked: an unsorted shard yields an unsorted
/// result, never a panic). A binary heap holds one head row per shard, so the cost is
/// O(k + (offset + limit) · log k) comparisons for k shards: the rest of the rows are
/// never compared.
///
/// **Stable**: rows that compare `Equal` come out in shard order (the earlier shard in
/// `shards` first), and within a shard in its own order, exactly as a stable sort of
/// the concatenation `shards[0] ++ shards[1] ++ ...` would place them.
///
/// ```
/// use grant_sharding::merge::merge_sorted;
///
/// let shards = vec![vec![1, 4, 7], vec![2, 4, 8], vec![], vec![3]];
/// assert_eq!(merge_sorted(shards.clone(), |a, b| a.cmp(b), 0, None), [1, 2, 3, 4, 4, 7, 8]);
/// assert_eq!(merge_sorted(shards, |a, b| a.cmp(b), 2, Some(3)), [3, 4, 4]);
///
/// // Stable on ties: (key, shard) pairs compared by key only.
/// let shards = vec![vec![(1, 'a'), (2, 'a')], vec![(1, 'b')]];
/// let merged = merge_sorted(shards, |x, y| x.0.cmp(&y.0), 0, None);
/// assert_eq!(merged, [(1, 'a'), (1, 'b'), (2, 'a')]);
/// ```
pub fn merge_sorted<T, F>(
    shards: Vec<Vec<T>>,
    cmp: F,
    offset: usize,
    limit: Option<usize>,
) -> Vec<T>
where
    F: FnMut(&T, &T) -> Ordering,
{
    if limit == Some(0) {
        return Vec::new();
    }
    MergeSorted::new(shards, cmp)
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

/// The streaming form of [`merge_sorted`]: an iterator over the merged rows, comparing
/// only as rows are taken (so `.skip(offset).take(limit)`, `.filter(..)` or a
/// de-duplication can run before anything is materialized).
///
/// Same order and stability as [`merge_sorted`]. The comparator is shared by the heap
/// entries through an `Rc`, so the iterator is not `Send`: build and drain it where the
/// rows are (it never awaits).
///
/// ```
/// use grant_sharding::merge::MergeSorted;
///
/// let merged = MergeSorted::new(vec![vec![5, 3], vec![4, 1]], |a: &i32, b: &i32| b.cmp(a));
/// assert_eq!(merged.len(), 4);
/// assert_eq!(merged.collect::<Vec<_>>(), [5, 4, 3, 1]);
/// ```
pub struct MergeSorted<T, F> {
    heap: BinaryHeap<Head<T, F>>,
    rest: Vec<std::vec::IntoIter<T>>,
}

impl<T, F> MergeSorted<T, F>
where
    F: FnMut(&T, &T) -> Ordering,
{
    /// Starts merging `shards`, each sorted by `cmp`.
    ///
    /// ```
    /// use grant_sharding::merge::MergeSorted;
    ///
    /// let mut merged = MergeSorted::new(vec![vec!["b"], vec!["a", "c"]], |a, b| a.cmp(b));
    /// assert_eq!(merged.next(), Some("a"));
    /// ```
    pub fn new(shards: Vec<Vec<T>>, cmp: F) -> Self {
        let cmp = Rc::new(RefCell::new(cmp));
        let mut heads = Vec::with_capacity(shards.len());
        let mut rest = Vec::with_capacity(shards.len());
        for (shard, rows) in shards.into_iter().enumerate() {
            let mut rows = rows.into_iter();
            if let Some(row) = rows.next() {
                heads.push(Head {
                    row,
                    shard,
                    cmp: Rc::clone(&cmp),
                });
            }
            rest.push(rows);
        }
        MergeSorted {
            heap: BinaryHeap::from(heads),
            rest,
        }
    }
}

impl<T, F> Iterator for MergeSorted<T, F>
where
    F: FnMut(&T, &T) -> Ordering,
{
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let mut top = self.heap.peek_mut()?;
        match self.rest.get_mut(top.shard).and_then(Iterator::next) {
            // Replace the head in place: one sift down instead of a pop and a push.
            Some(next) => Some(std::mem::replace(&mut top.row, next)),
            None => Some(PeekMut::pop(top).row),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.heap.len() + self.rest.iter().map(ExactSizeIterator::len).sum::<usize>();
        (n, Some(n))
    }
}

impl<T, F> ExactSizeIterator for MergeSorted<T, F> where F: FnMut(&T, &T) -> Ordering {}

impl<T: std::fmt::Debug, F> std::fmt::Debug for MergeSorted<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeSorted")
            .field("shards", &self.rest.len())
            .field("heads", &self.heap.len())
            .finish_non_exhaustive()
    }
}

/// One shard's current row in the heap. `BinaryHeap` is a max-heap, so the order is
/// reversed: the smallest row (then the lowest shard index) is the greatest head.
struct Head<T, F> {
    row: T,
    shard: usize,
    cmp: Rc<RefCell<F>>,
}

impl<T, F: FnMut(&T, &T) -> Ordering> Ord for Head<T, F> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Comparisons never nest (the closure cannot reach the heap), so the borrow
        // is always free.
        let by_row = (self.cmp.borrow_mut())(&other.row, &self.row);
        by_row.then_with(|| other.shard.cmp(&self.shard))
    }
}

impl<T, F: FnMut(&T, &T) -> Ordering> PartialOrd for Head<T, F> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T, F: FnMut(&T, &T) -> Ordering> PartialEq for Head<T, F> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl<T, F: FnMut(&T, &T) -> Ordering> Eq for Head<T, F> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_only_what_it_returns() {
        let shards: Vec<Vec<u32>> = (0..8)
            .map(|s| (0..1000).map(|i| i * 8 + s).collect())
            .collect();
        let mut comparisons = 0;
        let merged = merge_sorted(
            shards,
            |a, b| {
                comparisons += 1;
                a.cmp(b)
            },
            10,
            Some(5),
        );
        assert_eq!(merged, [10, 11, 12, 13, 14]);
        // 8 heads to heapify plus ~log2(8) sifts per row taken: far below 8000 rows.
        assert!(comparisons < 120, "{comparisons} comparisons");
    }

    #[test]
    fn edge_cases() {
        let none: Vec<Vec<i32>> = Vec::new();
        assert!(merge_sorted(none, |a, b| a.cmp(b), 0, None).is_empty());
        assert!(merge_sorted(vec![vec![1]], |a, b| a.cmp(b), 0, Some(0)).is_empty());
        assert!(merge_sorted(vec![vec![1]], |a, b| a.cmp(b), 5, Some(1)).is_empty());
        assert_eq!(
            merge_sorted(vec![vec![1, 2]], |a, b| a.cmp(b), usize::MAX, None),
            Vec::<i32>::new()
        );
        // An unsorted shard gives an unsorted result, not a panic.
        assert_eq!(
            merge_sorted(vec![vec![3, 1], vec![2]], |a, b| a.cmp(b), 0, None),
            [2, 3, 1]
        );
    }
}
