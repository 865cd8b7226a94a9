//! Aggregates across shards: per-shard partial states, merged, then finished.

use std::collections::HashSet;

use super::sum::Sum;
use super::{MergeError, MergeOptions, SortValue};

/// An aggregate function computed across shards.
///
/// Core rewrites each aggregate into what every shard computes, turns each shard's
/// values into a [`Partial`] with [`Partial::from_shard`], merges the partials with
/// [`merge_partials`] and produces the answer with [`finish`]:
///
/// | aggregate            | each shard runs                          | merged as                  | no rows  |
/// |----------------------|------------------------------------------|----------------------------|----------|
/// | `COUNT(x)`, `COUNT(*)` | the same `COUNT`                       | sum of counts              | `0`      |
/// | `SUM(x)`             | `SUM(x)`                                 | exact sum, NULLs skipped   | `NULL`   |
/// | `MIN(x)`, `MAX(x)`   | the same                                 | min / max, NULLs skipped   | `NULL`   |
/// | `AVG(x)`             | `SUM(x), COUNT(x)` (two columns)         | sums and counts, divided once | `NULL` |
/// | `COUNT(DISTINCT x)`  | `SELECT DISTINCT x` (grouped: `GROUP BY g, x`) | union of the values, capped | `0` |
///
/// Averaging the shards' `AVG`s, or adding the shards' `COUNT(DISTINCT x)`, is wrong
/// whenever shards differ in size or share values: neither is ever done here. The
/// distinct union holds every distinct value in memory; past
/// [`MergeOptions::distinct_cap`] it is refused with
/// [`MergeError::DistinctCapExceeded`] rather than answered approximately.
///
/// Numbers: `Int`, `UInt` and `Decimal` add exactly (an integer total must fit in an
/// `i64`, else [`MergeError::IntegerOverflow`]; it never wraps); once a `Float` is
/// involved the sum is a float (its last bits may depend on the shard order). `AVG` of
/// exact values is a `Decimal` with at least 16 fractional digits (as PostgreSQL
/// gives); of floats, a `Float`. Decimals arrive as [`Decimal`](super::Decimal)
/// (parsed from the column's text), up to 38 digits.
///
/// ```
/// use grant_sharding::merge::Aggregate;
///
/// assert_eq!(Aggregate::Avg.shard_columns(), 2);
/// assert_eq!(Aggregate::CountDistinct.name(), "count_distinct");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Aggregate {
    /// `COUNT(x)` or `COUNT(*)`.
    Count,
    /// `COUNT(DISTINCT x)`.
    CountDistinct,
    /// `SUM(x)`.
    Sum,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `AVG(x)`, sent to each shard as `SUM(x), COUNT(x)`.
    Avg,
}

impl Aggregate {
    /// The aggregate's name in errors: `"count"`, `"count_distinct"`, `"sum"`, `"min"`,
    /// `"max"` or `"avg"`.
    ///
    /// ```
    /// # use grant_sharding::merge::Aggregate;
    /// assert_eq!(Aggregate::Sum.name(), "sum");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::CountDistinct => "count_distinct",
            Aggregate::Sum => "sum",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Avg => "avg",
        }
    }

    /// How many values each shard returns for this aggregate: 2 for `AVG` (`SUM(x)`
    /// then `COUNT(x)`), 1 for the others (for `COUNT(DISTINCT x)`, the value `x` of
    /// one distinct row).
    ///
    /// ```
    /// # use grant_sharding::merge::Aggregate;
    /// assert_eq!(Aggregate::Count.shard_columns(), 1);
    /// ```
    pub fn shard_columns(self) -> usize {
        match self {
            Aggregate::Avg => 2,
            _ => 1,
        }
    }
}

/// The mergeable state of one aggregate over some rows (one shard's, or several
/// shards' merged).
///
/// ```
/// use grant_sharding::merge::{finish, Aggregate, MergeOptions, Partial, SortValue};
///
/// // AVG(x): shard one has SUM 10, COUNT 4; shard two SUM 2, COUNT 1.
/// let a = Partial::from_shard(Aggregate::Avg, &[10.into(), 4.into()])?;
/// let b = Partial::from_shard(Aggregate::Avg, &[2.into(), 1.into()])?;
/// let avg = finish(Aggregate::Avg, a.merge(b, &MergeOptions::default())?)?;
/// assert_eq!(avg, SortValue::Decimal("2.4".parse()?)); // not (2.5 + 2) / 2
/// # Ok::<(), grant_sharding::merge::MergeError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Partial(State);

#[derive(Debug, Clone, PartialEq)]
enum State {
    Count(u64),
    Distinct(HashSet<SortValue>),
    Sum(Sum),
    Min(Option<SortValue>),
    Max(Option<SortValue>),
    Avg { sum: Sum, count: u64 },
}

impl Partial {
    /// The state of `aggregate` over no rows (the identity of [`merge`](Self::merge)).
    ///
    /// ```
    /// use grant_sharding::merge::{finish, Aggregate, Partial, SortValue};
    ///
    /// assert_eq!(finish(Aggregate::Count, Partial::empty(Aggregate::Count))?, SortValue::Int(0));
    /// assert_eq!(finish(Aggregate::Sum, Partial::empty(Aggregate::Sum))?, SortValue::Null);
    /// # Ok::<(), grant_sharding::merge::MergeError>(())
    /// ```
    pub fn empty(aggregate: Aggregate) -> Partial {
        Partial(match aggregate {
            Aggregate::Count => State::Count(0),
            Aggregate::CountDistinct => State::Distinct(HashSet::new()),
            Aggregate::Sum => State::Sum(Sum::Null),
            Aggregate::Min => State::Min(None),
            Aggregate::Max => State::Max(None),
            Aggregate::Avg => State::Avg {
                sum: Sum::Null,
                count: 0,
            },
        })
    }

    /// The state from one shard's values for `aggregate`
    /// ([`shard_columns`](Aggregate::shard_columns) of them, as the rewrite in
    /// [`Aggregate`] returns them).
    ///
    /// ```
    /// use grant_sharding::merge::{Aggregate, MergeError, Partial, SortValue};
    ///
    /// assert!(Partial::from_shard(Aggregate::Count, &[SortValue::Int(3)]).is_ok());
    /// let err = Partial::from_shard(Aggregate::Count, &[SortValue::from("3")]).unwrap_err();
    /// assert!(matches!(err, MergeError::WrongType { aggregate: "count", .. }));
    /// let err = Partial::from_shard(Aggregate::Avg, &[SortValue::Int(3)]).unwrap_err();
    /// assert!(matches!(err, MergeError::ShardColumns { expected: 2, found: 1, .. }));
    /// ```
    pub fn from_shard(aggregate: Aggregate, values: &[SortValue]) -> Result<Partial, MergeError> {
        let name = aggregate.name();
        let [first, rest @ ..] = values else {
            return Err(MergeError::ShardColumns {
                aggregate: name,
                expected: aggregate.shard_columns(),
                found: 0,
            });
        };
        if values.len() != aggregate.shard_columns() {
            return Err(MergeError::ShardColumns {
                aggregate: name,
                expected: aggregate.shard_columns(),
                found: values.len(),
            });
        }
        let value = (!first.is_null()).then(|| first.clone());
        Ok(Partial(match aggregate {
            Aggregate::Count => State::Count(count(name, first)?),
            Aggregate::CountDistinct => State::Distinct(value.into_iter().collect()),
            Aggregate::Sum => State::Sum(Sum::from_value(name, first)?),
            Aggregate::Min => State::Min(value),
            Aggregate::Max => State::Max(value),
            Aggregate::Avg => State::Avg {
                sum: Sum::from_value(name, first)?,
                count: rest.first().map_or(Ok(0), |c| count(name, c))?,
            },
        }))
    }

    /// A `COUNT(DISTINCT x)` state holding `values` (NULLs are not counted), e.g. the
    /// rows of one shard's `SELECT DISTINCT x`.
    ///
    /// ```
    /// use grant_sharding::merge::{finish, Aggregate, Partial, SortValue};
    ///
    /// let p = Partial::distinct([SortValue::Int(1), SortValue::Null, SortValue::UInt(1)]);
    /// assert_eq!(finish(Aggregate::CountDistinct, p)?, SortValue::Int(1));
    /// # Ok::<(), grant_sharding::merge::MergeError>(())
    /// ```
    pub fn distinct(values: impl IntoIterator<Item = SortValue>) -> Partial {
        Partial(State::Distinct(
            values.into_iter().filter(|v| !v.is_null()).collect(),
        ))
    }

    /// The aggregate this state belongs to.
    ///
    /// ```
    /// # use grant_sharding::merge::{Aggregate, Partial};
    /// assert_eq!(Partial::empty(Aggregate::Max).aggregate(), Aggregate::Max);
    /// ```
    pub fn aggregate(&self) -> Aggregate {
        match self.0 {
            State::Count(_) => Aggregate::Count,
            State::Distinct(_) => Aggregate::CountDistinct,
            State::Sum(_) => Aggregate::Sum,
            State::Min(_) => Aggregate::Min,
            State::Max(_) => Aggregate::Max,
            State::Avg { .. } => Aggregate::Avg,
        }
    }

    /// The state over both sets of rows. Both must belong to the same aggregate
    /// ([`MergeError::PartialMismatch`]); a distinct union larger than
    /// [`MergeOptions::distinct_cap`] is [`MergeError::DistinctCapExceeded`].
    ///
    /// ```
    /// use grant_sharding::merge::{finish, Aggregate, MergeOptions, Partial, SortValue};
    ///
    /// let opts = MergeOptions::default();
    /// let a = Partial::from_shard(Aggregate::Min, &[SortValue::Null])?;
    /// let b = Partial::from_shard(Aggregate::Min, &[SortValue::Int(4)])?;
    /// assert_eq!(finish(Aggregate::Min, a.merge(b, &opts)?)?, SortValue::Int(4));
    /// assert!(Partial::empty(Aggregate::Min).merge(Partial::empty(Aggregate::Max), &opts).is_err());
    /// # Ok::<(), grant_sharding::merge::MergeError>(())
    /// ```
    pub fn merge(self, other: Partial, options: &MergeOptions) -> Result<Partial, MergeError> {
        let name = self.aggregate().name();
        Ok(Partial(match (self.0, other.0) {
            (State::Count(a), State::Count(b)) => State::Count(add_counts(name, a, b)?),
            (State::Distinct(mut a), State::Distinct(mut b)) => {
                if a.len() < b.len() {
                    std::mem::swap(&mut a, &mut b);
                }
                a.extend(b);
                if a.len() > options.distinct_cap {
                    return Err(MergeError::DistinctCapExceeded {
                        cap: options.distinct_cap,
                    });
                }
                State::Distinct(a)
            }
            (State::Sum(a), State::Sum(b)) => State::Sum(a.add(b, name)?),
            (State::Min(a), State::Min(b)) => State::Min(pick(a, b, std::cmp::min)),
            (State::Max(a), State::Max(b)) => State::Max(pick(a, b, std::cmp::max)),
            (State::Avg { sum: s1, count: c1 }, State::Avg { sum: s2, count: c2 }) => State::Avg {
                sum: s1.add(s2, name)?,
                count: add_counts(name, c1, c2)?,
            },
            (_, other) => {
                return Err(MergeError::PartialMismatch {
                    aggregate: name,
                    found: Partial(other).aggregate().name(),
                })
            }
        }))
    }
}

fn count(aggregate: &'static str, value: &SortValue) -> Result<u64, MergeError> {
    match value {
        SortValue::Int(n) if *n >= 0 => Ok(n.unsigned_abs()),
        SortValue::UInt(n) => Ok(*n),
        other => Err(MergeError::WrongType {
            aggregate,
            expected: "a non-negative integer count",
            found: other.kind(),
            value: other.clone(),
        }),
    }
}

fn add_counts(aggregate: &'static str, a: u64, b: u64) -> Result<u64, MergeError> {
    a.checked_add(b).ok_or_else(|| MergeError::IntegerOverflow {
        aggregate,
        total: format!("{a} + {b}"),
        target: "a 64-bit unsigned integer",
    })
}

fn pick(
    a: Option<SortValue>,
    b: Option<SortValue>,
    f: fn(SortValue, SortValue) -> SortValue,
) -> Option<SortValue> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    }
}

/// Merges the partial states of `aggregate` from every shard (none at all gives
/// [`Partial::empty`]).
///
/// ```
/// use grant_sharding::merge::{finish, merge_partials, Aggregate, MergeOptions, Partial, SortValue};
///
/// // COUNT(DISTINCT customer): each shard sent its distinct customers.
/// let shards = [
///     Partial::distinct(["ann".into(), "bob".into()]),
///     Partial::distinct(["bob".into(), "cy".into()]),
/// ];
/// let merged = merge_partials(Aggregate::CountDistinct, shards, &MergeOptions::default())?;
/// assert_eq!(finish(Aggregate::CountDistinct, merged)?, SortValue::Int(3)); // not 4
/// # Ok::<(), grant_sharding::merge::MergeError>(())
/// ```
pub fn merge_partials(
    aggregate: Aggregate,
    partials: impl IntoIterator<Item = Partial>,
    options: &MergeOptions,
) -> Result<Partial, MergeError> {
    partials
        .into_iter()
        .try_fold(Partial::empty(aggregate), |acc, p| acc.merge(p, options))
}

/// The final value of `aggregate` from its merged state: see the table on
/// [`Aggregate`] for the value of each over no rows.
///
/// ```
/// use grant_sharding::merge::{finish, Aggregate, Partial, SortValue};
///
/// assert_eq!(finish(Aggregate::Avg, Partial::empty(Aggregate::Avg))?, SortValue::Null);
/// assert!(finish(Aggregate::Sum, Partial::empty(Aggregate::Count)).is_err());
/// # Ok::<(), grant_sharding::merge::MergeError>(())
/// ```
pub fn finish(aggregate: Aggregate, partial: Partial) -> Result<SortValue, MergeError> {
    let name = aggregate.name();
    if partial.aggregate() != aggregate {
        return Err(MergeError::PartialMismatch {
            aggregate: name,
            found: partial.aggregate().name(),
        });
    }
    let int = |n: u64| {
        i64::try_from(n)
            .map(SortValue::Int)
            .map_err(|_| MergeError::IntegerOverflow {
                aggregate: name,
                total: n.to_string(),
                target: "a 64-bit integer",
            })
    };
    match partial.0 {
        State::Count(n) => int(n),
        State::Distinct(set) => int(set.len() as u64),
        State::Sum(sum) => sum.finish(),
        State::Min(v) | State::Max(v) => Ok(v.unwrap_or(SortValue::Null)),
        State::Avg { sum, count } => sum.average(count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_cap_is_enforced() {
        let opts = MergeOptions::default().with_distinct_cap(2);
        let a = Partial::distinct([1.into(), 2.into()]);
        assert!(a
            .clone()
            .merge(Partial::distinct([2.into()]), &opts)
            .is_ok());
        let err = a.merge(Partial::distinct([3.into()]), &opts).unwrap_err();
        assert_eq!(err, MergeError::DistinctCapExceeded { cap: 2 });
        assert!(err.to_string().contains("more than 2 distinct values"));
    }

    #[test]
    fn bad_shard_values_are_typed_errors() {
        let err = Partial::from_shard(Aggregate::Count, &[SortValue::Int(-1)]).unwrap_err();
        assert!(matches!(
            err,
            MergeError::WrongType {
                aggregate: "count",
                ..
            }
        ));
        let err = Partial::from_shard(Aggregate::Sum, &["x".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sum: expected a number or NULL, found text value \"x\""
        );
        assert!(Partial::from_shard(Aggregate::Min, &[]).is_err());
        assert!(Partial::from_shard(Aggregate::Max, &[1.into(), 2.into()]).is_err());
        let big = Partial(State::Count(u64::MAX));
        assert!(big
            .clone()
            .merge(Partial(State::Count(1)), &MergeOptions::default())
            .is_err());
        assert!(finish(Aggregate::Count, big).is_err());
    }
}
