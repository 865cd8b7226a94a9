//! Keyset pagination ("seek"): the next page starts strictly after the last row seen.

use super::order::column;
use super::{Direction, Nulls, OrderBy, SortValue};

/// Whether key row `row` comes strictly after key row `last` in `order` (NULLs placed
/// per term, as [`compare_rows`](super::compare_rows) does).
///
/// Keyset pagination is the fast alternative to a deep `OFFSET` across shards: instead
/// of every shard returning `offset + limit` rows, each returns at most `limit` rows
/// after the cursor. Core sends every shard
/// `WHERE <filter> AND (<keyset predicate>) ORDER BY <order> LIMIT <limit>` (the
/// predicate from [`keyset_predicate`]), merges with
/// [`merge_sorted`](super::merge_sorted)`(.., 0, Some(limit))`, and the last merged
/// row's order values are the cursor of the next page. `after` is the same test in
/// Rust (for rows already in memory, and to check the SQL).
///
/// The order must end with a unique column (the primary key): rows equal to the last
/// row on every order column are neither before nor after it and would be skipped.
///
/// ```
/// use grant_sharding::merge::{after, OrderBy, SortValue};
///
/// // ORDER BY created DESC, id ASC
/// let order = [OrderBy::desc(0), OrderBy::asc(1)];
/// let last = [SortValue::Int(50), SortValue::Int(7)];
/// assert!(after(&order, &last, &[SortValue::Int(40), SortValue::Int(1)]));
/// assert!(after(&order, &last, &[SortValue::Int(50), SortValue::Int(8)]));
/// assert!(!after(&order, &last, &[SortValue::Int(50), SortValue::Int(7)]));
/// assert!(!after(&order, &last, &[SortValue::Null, SortValue::Int(9)])); // NULLS FIRST
/// ```
pub fn after(order: &[OrderBy], last: &[SortValue], row: &[SortValue]) -> bool {
    order
        .iter()
        .map(|term| term.compare(column(row, term.column), column(last, term.column)))
        .find(|o| o.is_ne())
        .is_some_and(|o| o.is_gt())
}

/// One comparison of a [`keyset_predicate`]. Like SQL, every test but `IsNull` is false
/// on a NULL column value.
///
/// ```
/// use grant_sharding::merge::{keyset_predicate, Condition, OrderBy, SortValue};
///
/// // ORDER BY a DESC (NULLS FIRST) after a NULL cursor: the non-NULL values follow.
/// let or = keyset_predicate(&[OrderBy::desc(0)], &[SortValue::Null]);
/// assert_eq!(or, vec![vec![Condition::IsNotNull { column: 0 }]]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Condition {
    /// `column = value`.
    Eq {
        /// The key column.
        column: usize,
        /// The cursor's value (never NULL).
        value: SortValue,
    },
    /// `column > value`.
    Gt {
        /// The key column.
        column: usize,
        /// The cursor's value (never NULL).
        value: SortValue,
    },
    /// `column < value`.
    Lt {
        /// The key column.
        column: usize,
        /// The cursor's value (never NULL).
        value: SortValue,
    },
    /// `column IS NULL`.
    IsNull {
        /// The key column.
        column: usize,
    },
    /// `column IS NOT NULL`.
    IsNotNull {
        /// The key column.
        column: usize,
    },
}

impl Condition {
    /// Evaluates the condition on a key row as SQL would (a missing column is NULL).
    ///
    /// ```
    /// use grant_sharding::merge::{Condition, SortValue};
    ///
    /// let c = Condition::Gt { column: 0, value: SortValue::Int(3) };
    /// assert!(c.matches(&[SortValue::Int(4)]));
    /// assert!(!c.matches(&[SortValue::Null]));
    /// ```
    pub fn matches(&self, row: &[SortValue]) -> bool {
        let x = |c: &usize| column(row, *c);
        match self {
            Condition::Eq { column, value } => !x(column).is_null() && x(column) == value,
            Condition::Gt { column, value } => !x(column).is_null() && x(column) > value,
            Condition::Lt { column, value } => !x(column).is_null() && x(column) < value,
            Condition::IsNull { column } => x(column).is_null(),
            Condition::IsNotNull { column } => !x(column).is_null(),
        }
    }
}

/// The `WHERE` predicate selecting the key rows strictly after `last` in `order`, as
/// an OR of ANDs (an empty list is `FALSE`: nothing comes after).
///
/// For `ORDER BY a, b` the expanded form is `a > $a OR (a = $a AND b > $b)`, with `<`
/// for a `DESC` term. NULLs are handled per term: after a non-NULL cursor value, a
/// `NULLS LAST` term also admits `a IS NULL`; after a NULL cursor value, the equality
/// becomes `a IS NULL` and only a `NULLS FIRST` term admits `a IS NOT NULL` after it.
/// Core writes each condition with a bound parameter.
///
/// When every term has the same direction and the columns are `NOT NULL`, core may
/// send the equivalent row-value comparison instead, which PostgreSQL, MariaDB and
/// SQLite (3.15+) all evaluate and which uses a composite index directly:
/// `(a, b) > ($a, $b)` for `ASC`, `(a, b) < ($a, $b)` for `DESC`. Mixed directions or
/// nullable columns need the expanded form.
///
/// ```
/// use grant_sharding::merge::{keyset_predicate, after, Condition, OrderBy, SortValue};
///
/// // ORDER BY a ASC, id DESC; cursor (5, 9)
/// let order = [OrderBy::asc(0), OrderBy::desc(1)];
/// let last = [SortValue::Int(5), SortValue::Int(9)];
/// let or = keyset_predicate(&order, &last);
/// // a > 5  OR  a IS NULL  OR  (a = 5 AND id < 9)
/// assert_eq!(or, vec![
///     vec![Condition::Gt { column: 0, value: SortValue::Int(5) }],
///     vec![Condition::IsNull { column: 0 }],
///     vec![Condition::Eq { column: 0, value: SortValue::Int(5) },
///          Condition::Lt { column: 1, value: SortValue::Int(9) }],
/// ]);
/// let row = [SortValue::Int(5), SortValue::Int(3)];
/// let matches = or.iter().any(|and| and.iter().all(|c| c.matches(&row)));
/// assert_eq!(matches, after(&order, &last, &row));
/// ```
pub fn keyset_predicate(order: &[OrderBy], last: &[SortValue]) -> Vec<Vec<Condition>> {
    let mut disjuncts = Vec::new();
    let mut equal_prefix: Vec<Condition> = Vec::new();
    for term in order {
        let column = term.column;
        let value = self::column(last, column);
        let mut afters = Vec::with_capacity(2);
        if value.is_null() {
            if term.nulls == Nulls::First {
                afters.push(Condition::IsNotNull { column });
            }
        } else {
            let value = value.clone();
            afters.push(match term.direction {
                Direction::Asc => Condition::Gt { column, value },
                Direction::Desc => Condition::Lt { column, value },
            });
            if term.nulls == Nulls::Last {
                afters.push(Condition::IsNull { column });
            }
        }
        for condition in afters {
            let mut and = equal_prefix.clone();
            and.push(condition);
            disjuncts.push(and);
        }
        equal_prefix.push(if value.is_null() {
            Condition::IsNull { column }
        } else {
            Condition::Eq {
                column,
                value: value.clone(),
            }
        });
    }
    disjuncts
}

#[cfg(test)]
mod tests {
    use super::*;
    use SortValue::{Int, Null};

    fn sql(order: &[OrderBy], last: &[SortValue], row: &[SortValue]) -> bool {
        keyset_predicate(order, last)
            .iter()
            .any(|and| and.iter().all(|c| c.matches(row)))
    }

    #[test]
    fn predicate_agrees_with_after_on_every_null_placement() {
        let values = [Null, Int(1), Int(2)];
        for term in [
            OrderBy::asc(0),
            OrderBy::asc(0).nulls_first(),
            OrderBy::desc(0),
            OrderBy::desc(0).nulls_last(),
        ] {
            let order = [term, OrderBy::asc(1)];
            for a in &values {
                for b in &values {
                    for c in &values {
                        for d in &values {
                            let last = [a.clone(), b.clone()];
                            let row = [c.clone(), d.clone()];
                            assert_eq!(
                                sql(&order, &last, &row),
                                after(&order, &last, &row),
                                "{order:?} {last:?} {row:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn empty_order_has_nothing_after() {
        assert!(keyset_predicate(&[], &[Int(1)]).is_empty());
        assert!(!after(&[], &[Int(1)], &[Int(2)]));
    }
}
