//! `ORDER BY` terms and the row comparator built from them.

use std::cmp::Ordering;

use super::{MergeError, SortValue};

/// The direction of one `ORDER BY` term.
///
/// ```
/// use grant_sharding::merge::{Direction, Nulls};
///
/// assert_eq!(Direction::Asc.default_nulls(), Nulls::Last);
/// assert_eq!(Direction::Desc.default_nulls(), Nulls::First);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Ascending (`ASC`).
    Asc,
    /// Descending (`DESC`).
    Desc,
}

impl Direction {
    /// Where PostgreSQL puts NULLs by default: last for `ASC`, first for `DESC` (NULL
    /// is larger than every value). MariaDB/MySQL and SQLite do the opposite (NULL is
    /// smaller), so core always writes `NULLS FIRST` / `NULLS LAST` explicitly
    /// (PostgreSQL, SQLite 3.30+) or emulates it on MariaDB with a leading
    /// `x IS NULL` / `x IS NOT NULL` term.
    ///
    /// ```
    /// use grant_sharding::merge::{Direction, Nulls, OrderBy};
    ///
    /// assert_eq!(OrderBy::desc(0).nulls, Direction::Desc.default_nulls());
    /// assert_eq!(Direction::Asc.default_nulls(), Nulls::Last);
    /// ```
    pub fn default_nulls(self) -> Nulls {
        match self {
            Direction::Asc => Nulls::Last,
            Direction::Desc => Nulls::First,
        }
    }
}

/// Where NULLs go in the output of one `ORDER BY` term, whatever its direction.
///
/// ```
/// use grant_sharding::merge::{compare_rows, OrderBy, SortValue};
///
/// let cmp = compare_rows(&[OrderBy::asc(0).nulls_first()]);
/// assert!(cmp(&[SortValue::Null], &[SortValue::Int(1)]).is_lt());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nulls {
    /// `NULLS FIRST`.
    First,
    /// `NULLS LAST`.
    Last,
}

/// One `ORDER BY` term: a column position in the key rows, a direction and where NULLs
/// go.
///
/// `column` indexes the *key row* handed to [`compare_rows`], which is whatever core
/// extracts from each shard's row: typically the selected columns followed by the order
/// columns that were not selected (see the [module docs](super)).
///
/// ```
/// use grant_sharding::merge::{Direction, Nulls, OrderBy};
///
/// let term = OrderBy::desc(2).nulls_last();
/// assert_eq!((term.column, term.direction, term.nulls), (2, Direction::Desc, Nulls::Last));
/// assert_eq!(OrderBy::asc(0).nulls, Nulls::Last); // PostgreSQL's default
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OrderBy {
    /// The position of the column in the key rows.
    pub column: usize,
    /// `ASC` or `DESC`.
    pub direction: Direction,
    /// `NULLS FIRST` or `NULLS LAST`.
    pub nulls: Nulls,
}

impl OrderBy {
    /// A term with NULLs placed as PostgreSQL does by default
    /// ([`Direction::default_nulls`]).
    ///
    /// ```
    /// use grant_sharding::merge::{Direction, OrderBy};
    ///
    /// assert_eq!(OrderBy::new(1, Direction::Asc), OrderBy::asc(1));
    /// ```
    pub fn new(column: usize, direction: Direction) -> Self {
        OrderBy {
            column,
            direction,
            nulls: direction.default_nulls(),
        }
    }

    /// `column ASC NULLS LAST`.
    ///
    /// ```
    /// # use grant_sharding::merge::{Direction, OrderBy};
    /// assert_eq!(OrderBy::asc(0).direction, Direction::Asc);
    /// ```
    pub fn asc(column: usize) -> Self {
        OrderBy::new(column, Direction::Asc)
    }

    /// `column DESC NULLS FIRST`.
    ///
    /// ```
    /// # use grant_sharding::merge::{Direction, OrderBy};
    /// assert_eq!(OrderBy::desc(0).direction, Direction::Desc);
    /// ```
    pub fn desc(column: usize) -> Self {
        OrderBy::new(column, Direction::Desc)
    }

    /// The same term with `NULLS FIRST`.
    ///
    /// ```
    /// # use grant_sharding::merge::{Nulls, OrderBy};
    /// assert_eq!(OrderBy::asc(0).nulls_first().nulls, Nulls::First);
    /// ```
    pub fn nulls_first(self) -> Self {
        OrderBy {
            nulls: Nulls::First,
            ..self
        }
    }

    /// The same term with `NULLS LAST`.
    ///
    /// ```
    /// # use grant_sharding::merge::{Nulls, OrderBy};
    /// assert_eq!(OrderBy::desc(0).nulls_last().nulls, Nulls::Last);
    /// ```
    pub fn nulls_last(self) -> Self {
        OrderBy {
            nulls: Nulls::Last,
            ..self
        }
    }

    /// Compares two values of this term's column: NULLs where [`nulls`](Self::nulls)
    /// says, other values by [`SortValue`]'s order, reversed for `DESC`.
    ///
    /// ```
    /// use grant_sharding::merge::{OrderBy, SortValue};
    ///
    /// let term = OrderBy::desc(0);
    /// assert!(term.compare(&SortValue::Int(2), &SortValue::Int(1)).is_lt());
    /// assert!(term.compare(&SortValue::Null, &SortValue::Int(9)).is_lt());
    /// ```
    pub fn compare(&self, a: &SortValue, b: &SortValue) -> Ordering {
        let null_first = match self.nulls {
            Nulls::First => Ordering::Less,
            Nulls::Last => Ordering::Greater,
        };
        match (a.is_null(), b.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => null_first,
            (false, true) => null_first.reverse(),
            (false, false) => match self.direction {
                Direction::Asc => a.cmp(b),
                Direction::Desc => b.cmp(a),
            },
        }
    }
}

static NULL: SortValue = SortValue::Null;

/// The value at `column`, or NULL when the row is too short.
pub(crate) fn column(row: &[SortValue], column: usize) -> &SortValue {
    row.get(column).unwrap_or(&NULL)
}

/// A comparator of key rows by `order`: the first term that differs decides; rows equal
/// on every term compare `Equal` (the merge then keeps shard order, see
/// [`merge_sorted`](super::merge_sorted)).
///
/// The comparator owns a copy of `order`. A column past the end of a row reads as NULL
/// instead of panicking; call [`check_order`] first to refuse such an order.
///
/// ```
/// use grant_sharding::merge::{compare_rows, merge_sorted, OrderBy, SortValue};
///
/// // ORDER BY score DESC, name ASC: key rows are [score, name].
/// let cmp = compare_rows(&[OrderBy::desc(0), OrderBy::asc(1)]);
/// let row = |score: i64, name: &str| vec![SortValue::from(score), SortValue::from(name)];
/// let shard_a = vec![row(9, "bo"), row(5, "al")];
/// let shard_b = vec![row(9, "al"), row(7, "cy")];
/// let merged = merge_sorted(vec![shard_a, shard_b], |a, b| cmp(a, b), 0, None);
/// assert_eq!(merged, vec![row(9, "al"), row(9, "bo"), row(7, "cy"), row(5, "al")]);
/// ```
pub fn compare_rows(order: &[OrderBy]) -> impl Fn(&[SortValue], &[SortValue]) -> Ordering + Clone {
    let order = order.to_vec();
    move |a: &[SortValue], b: &[SortValue]| {
        order
            .iter()
            .map(|term| term.compare(column(a, term.column), column(b, term.column)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

/// Checks that every term of `order` names a column of key rows `width` columns wide.
///
/// ```
/// use grant_sharding::merge::{check_order, MergeError, OrderBy};
///
/// assert!(check_order(&[OrderBy::asc(1)], 2).is_ok());
/// assert_eq!(
///     check_order(&[OrderBy::asc(2)], 2),
///     Err(MergeError::OrderColumn { column: 2, width: 2 })
/// );
/// ```
pub fn check_order(order: &[OrderBy], width: usize) -> Result<(), MergeError> {
    match order.iter().find(|term| term.column >= width) {
        Some(term) => Err(MergeError::OrderColumn {
            column: term.column,
            width,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SortValue::{Int, Null};

    #[test]
    fn nulls_go_where_asked_in_both_directions() {
        for (term, expected) in [
            (OrderBy::asc(0), [Int(1), Int(2), Null]),
            (OrderBy::asc(0).nulls_first(), [Null, Int(1), Int(2)]),
            (OrderBy::desc(0), [Null, Int(2), Int(1)]),
            (OrderBy::desc(0).nulls_last(), [Int(2), Int(1), Null]),
        ] {
            let cmp = compare_rows(&[term]);
            let mut rows = vec![vec![Int(2)], vec![Null], vec![Int(1)]];
            rows.sort_by(|a, b| cmp(a, b));
            let got: Vec<_> = rows.into_iter().flatten().collect();
            assert_eq!(got, expected, "{term:?}");
        }
    }

    #[test]
    fn short_rows_read_as_null_and_empty_order_is_equal() {
        let cmp = compare_rows(&[OrderBy::asc(3)]);
        assert_eq!(cmp(&[Int(1)], &[Null]), Ordering::Equal);
        assert_eq!(compare_rows(&[])(&[Int(1)], &[Int(2)]), Ordering::Equal);
    }
}
