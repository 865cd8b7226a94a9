//! The error type of result merging.

use super::SortValue;

/// Why shard results could not be merged.
///
/// Every variant names what it is about (the aggregate, the column, the shard's row, the
/// decimal text), so the message is actionable on its own.
///
/// ```
/// use grant_sharding::merge::{finish, merge_partials, Aggregate, MergeError, MergeOptions, Partial};
///
/// let partials = [Partial::from_shard(Aggregate::Sum, &[i64::MAX.into()])?,
///                 Partial::from_shard(Aggregate::Sum, &[1_i64.into()])?];
/// let total = merge_partials(Aggregate::Sum, partials, &MergeOptions::default())?;
/// let err = finish(Aggregate::Sum, total).unwrap_err();
/// assert!(matches!(err, MergeError::IntegerOverflow { aggregate: "sum", .. }));
/// # Ok::<(), MergeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// A shard returned a different number of columns than the aggregate needs.
    #[error("{aggregate}: each shard must return {expected} column(s) for it, got {found}")]
    ShardColumns {
        /// The aggregate (`"count"`, `"sum"`, `"avg"`, ...).
        aggregate: &'static str,
        /// How many columns the per-shard rewrite returns.
        expected: usize,
        /// How many were given.
        found: usize,
    },

    /// A shard returned a value of a type the aggregate cannot take.
    #[error("{aggregate}: expected {expected}, found {found} value {value}")]
    WrongType {
        /// The aggregate.
        aggregate: &'static str,
        /// What it accepts, e.g. `"a non-negative integer"`.
        expected: &'static str,
        /// The kind of the value given (see [`SortValue::kind`]).
        found: &'static str,
        /// The value given.
        value: SortValue,
    },

    /// An integer total does not fit in an `i64` (or an exact decimal in its 128-bit
    /// mantissa). Results never wrap silently.
    #[error("{aggregate}: the total {total} does not fit in {target}")]
    IntegerOverflow {
        /// The aggregate.
        aggregate: &'static str,
        /// The exact total, as text.
        total: String,
        /// The type it had to fit, e.g. `"a 64-bit integer"`.
        target: &'static str,
    },

    /// `COUNT(DISTINCT ..)` across shards collected more distinct values than allowed.
    #[error(
        "count_distinct: more than {cap} distinct values across shards; raise \
         MergeOptions::distinct_cap or count on one database"
    )]
    DistinctCapExceeded {
        /// The configured cap ([`MergeOptions::distinct_cap`](super::MergeOptions)).
        cap: usize,
    },

    /// A partial state of another aggregate was given (e.g. a `Sum` partial to `Count`).
    #[error("{aggregate}: cannot merge a {found} partial state")]
    PartialMismatch {
        /// The aggregate being merged.
        aggregate: &'static str,
        /// The kind of partial state that was given.
        found: &'static str,
    },

    /// A grouped row from a shard has a different number of partials than aggregates.
    #[error(
        "shard {shard}: a group row has {found} partial(s), {expected} aggregate(s) requested"
    )]
    GroupWidth {
        /// The index of the shard in the input.
        shard: usize,
        /// The number of aggregates.
        expected: usize,
        /// The number of partials in the row.
        found: usize,
    },

    /// An `ORDER BY` names a column outside the key rows.
    #[error("order by column {column}, but the key rows have {width} column(s)")]
    OrderColumn {
        /// The column position named by the [`OrderBy`](super::OrderBy).
        column: usize,
        /// The number of key columns.
        width: usize,
    },

    /// Text that is not a decimal number.
    #[error("invalid decimal {input:?}: {reason}")]
    InvalidDecimal {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}
