//! Merging the results of a query sent to several shards (scatter-gather), correctly.
//!
//! Core sends a query that cannot be pinned to one shard to every candidate shard in
//! parallel, and hands the rows to these pure functions (no I/O here):
//!
//! | query                         | each shard is sent                              | merged with |
//! |-------------------------------|-------------------------------------------------|-------------|
//! | `ORDER BY .. LIMIT l OFFSET o`| the same `ORDER BY`, `LIMIT l + o`, no `OFFSET` ([`per_shard_limit`]) | [`merge_sorted`] / [`MergeSorted`], then `OFFSET`/`LIMIT` once |
//! | keyset page after a row       | the predicate of [`keyset_predicate`], `LIMIT l` | [`merge_sorted`], cursor checked by [`after`] |
//! | `COUNT`, `SUM`, `MIN`, `MAX`, `AVG`, `COUNT(DISTINCT)` | the rewrite in [`Aggregate`] | [`Partial`], [`merge_partials`], [`finish`] |
//! | `GROUP BY` with those         | `GROUP BY` the same keys (and the distinct column) | [`merge_groups`] |
//! | first row (`first`)           | the `ORDER BY`, `LIMIT 1`                       | [`merge_sorted`] with `limit` 1 |
//! | `EXISTS`                      | `SELECT 1 .. LIMIT 1`                           | true as soon as one shard has a row (core stops waiting for the rest) |
//! | rows on several shards        | as above                                        | [`dedupe_by_key`] before `OFFSET`/`LIMIT` |
//!
//! # Order keys, and ordering by a column that is not selected
//!
//! Rows are compared through *key rows* of [`SortValue`]s: core extracts, from each
//! row a shard returns, the values the [`OrderBy`] terms point at, and
//! [`compare_rows`] compares them. An `ORDER BY` column that the query does not select
//! is still needed to merge: core appends it to each shard's select list as an extra
//! trailing column (`SELECT a, b, c AS grant_order_0 .. ORDER BY c`), points the
//! [`OrderBy`] at it, merges, and strips the extra columns from the merged rows. The
//! merge never looks at anything but the key values, so the rows themselves (`T`) can
//! be any type: decoded models, raw rows, `(key, row)` pairs.
//!
//! Every shard must sort the same way the merge compares: the same direction, NULLs
//! placed explicitly ([`Nulls`]: the engines' defaults differ), and text in code point
//! order (see [`SortValue`]).
//!
//! ```
//! use grant_sharding::merge::{compare_rows, merge_sorted, per_shard_limit, OrderBy, SortValue};
//!
//! // SELECT name FROM users ORDER BY signed_up DESC LIMIT 2 OFFSET 1, on two shards.
//! // Each shard returns (name, signed_up): signed_up is the appended order column.
//! assert_eq!(per_shard_limit(1, Some(2)), Some(3));
//! let shard_a = vec![("ann", 40), ("bob", 20), ("cy", 10)];
//! let shard_b = vec![("dee", 30), ("eve", 25), ("fay", 5)];
//! let key = |row: &(&str, i64)| [SortValue::from(row.1)];
//! let cmp = compare_rows(&[OrderBy::desc(0)]);
//! let page = merge_sorted(vec![shard_a, shard_b], |a, b| cmp(&key(a), &key(b)), 1, Some(2));
//! let names: Vec<&str> = page.into_iter().map(|(name, _)| name).collect(); // strip
//! assert_eq!(names, ["dee", "eve"]);
//! ```

mod aggregate;
mod decimal;
mod dedupe;
mod error;
mod group;
mod keyset;
mod options;
mod order;
mod sort_value;
mod sorted;
mod sum;

pub use aggregate::{finish, merge_partials, Aggregate, Partial};
pub use decimal::{Decimal, MAX_SCALE};
pub use dedupe::dedupe_by_key;
pub use error::MergeError;
pub use group::{merge_groups, GroupKey};
pub use keyset::{after, keyset_predicate, Condition};
pub use options::MergeOptions;
pub use order::{check_order, compare_rows, Direction, Nulls, OrderBy};
pub use sort_value::SortValue;
pub use sorted::{merge_sorted, per_shard_limit, MergeSorted};
