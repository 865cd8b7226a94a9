//! The exact running sum behind `SUM` and `AVG` partials.

use super::{Decimal, MergeError, SortValue};

/// Extra fractional digits of an exact average, as PostgreSQL gives `AVG(int)`.
const AVG_SCALE: u32 = 16;

/// A sum of shard values: exact while every input is an integer or a decimal, a float
/// once any input is a float. NULL inputs are skipped; no input at all is `Null`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sum {
    Null,
    Int(i128),
    Decimal(Decimal),
    Float(f64),
}

impl Sum {
    /// One shard's `SUM(x)` value.
    pub(crate) fn from_value(
        aggregate: &'static str,
        value: &SortValue,
    ) -> Result<Sum, MergeError> {
        match value {
            SortValue::Null => Ok(Sum::Null),
            SortValue::Int(v) => Ok(Sum::Int((*v).into())),
            SortValue::UInt(v) => Ok(Sum::Int((*v).into())),
            SortValue::Decimal(d) => Ok(Sum::Decimal(*d)),
            SortValue::Float(x) => Ok(Sum::Float(*x)),
            other => Err(MergeError::WrongType {
                aggregate,
                expected: "a number or NULL",
                found: other.kind(),
                value: other.clone(),
            }),
        }
    }

    pub(crate) fn add(self, other: Sum, aggregate: &'static str) -> Result<Sum, MergeError> {
        let overflow =
            |a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| MergeError::IntegerOverflow {
                aggregate,
                total: format!("{a} + {b}"),
                target: "a 128-bit decimal mantissa",
            };
        Ok(match (self, other) {
            (Sum::Null, s) | (s, Sum::Null) => s,
            (Sum::Float(a), b) | (b, Sum::Float(a)) => Sum::Float(a + b.to_f64()),
            (Sum::Int(a), Sum::Int(b)) => {
                Sum::Int(a.checked_add(b).ok_or_else(|| overflow(&a, &b))?)
            }
            (Sum::Int(i), Sum::Decimal(d)) | (Sum::Decimal(d), Sum::Int(i)) => {
                let i = Decimal::new(i, 0)?;
                Sum::Decimal(d.checked_add(&i).ok_or_else(|| overflow(&d, &i))?)
            }
            (Sum::Decimal(a), Sum::Decimal(b)) => {
                Sum::Decimal(a.checked_add(&b).ok_or_else(|| overflow(&a, &b))?)
            }
        })
    }

    fn to_f64(&self) -> f64 {
        match self {
            Sum::Null => 0.0,
            Sum::Int(i) => *i as f64,
            Sum::Decimal(d) => d.to_f64(),
            Sum::Float(x) => *x,
        }
    }

    /// The final `SUM`: NULL for no values, an `Int` that must fit in an `i64`, the
    /// exact `Decimal`, or the `Float`.
    pub(crate) fn finish(self) -> Result<SortValue, MergeError> {
        Ok(match self {
            Sum::Null => SortValue::Null,
            Sum::Int(i) => {
                SortValue::Int(i64::try_from(i).map_err(|_| MergeError::IntegerOverflow {
                    aggregate: "sum",
                    total: i.to_string(),
                    target: "a 64-bit integer",
                })?)
            }
            Sum::Decimal(d) => SortValue::Decimal(d),
            Sum::Float(x) => SortValue::Float(x),
        })
    }

    /// The final `AVG` over `count` values: NULL when `count` is 0; a `Decimal` with at
    /// least 16 fractional digits (rounded half away from zero) for exact sums; a
    /// `Float` for float sums.
    pub(crate) fn average(self, count: u64) -> Result<SortValue, MergeError> {
        if count == 0 {
            return Ok(SortValue::Null);
        }
        let exact = match self {
            Sum::Null => return Ok(SortValue::Null),
            Sum::Float(x) => return Ok(SortValue::Float(x / count as f64)),
            Sum::Int(i) => Decimal::new(i, 0)?,
            Sum::Decimal(d) => d,
        };
        exact
            .div_by_count(count, AVG_SCALE.saturating_sub(exact.scale()))
            .map(SortValue::Decimal)
            .ok_or_else(|| MergeError::IntegerOverflow {
                aggregate: "avg",
                total: format!("{exact} / {count}"),
                target: "a 128-bit decimal mantissa",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: Sum, b: Sum) -> Result<Sum, MergeError> {
        a.add(b, "sum")
    }

    #[test]
    fn sums_stay_exact_until_a_float() {
        let d = |s: &str| Sum::Decimal(s.parse().unwrap());
        assert_eq!(add(Sum::Int(2), d("0.5")).unwrap(), d("2.5"));
        assert_eq!(add(Sum::Null, Sum::Int(2)).unwrap(), Sum::Int(2));
        assert_eq!(add(Sum::Int(2), Sum::Float(0.5)).unwrap(), Sum::Float(2.5));
        assert!(add(Sum::Int(i128::MAX), Sum::Int(1)).is_err());
        assert!(add(d("1.5"), Sum::Int(i128::MAX)).is_err());
    }

    #[test]
    fn finishes() {
        assert_eq!(Sum::Null.finish().unwrap(), SortValue::Null);
        assert!(Sum::Int(i128::from(i64::MAX) + 1).finish().is_err());
        assert_eq!(Sum::Int(-4).finish().unwrap(), SortValue::Int(-4));
        assert_eq!(
            Sum::Int(5).average(2).unwrap().to_string(),
            "2.5000000000000000"
        );
        assert_eq!(Sum::Float(5.0).average(2).unwrap(), SortValue::Float(2.5));
        assert_eq!(Sum::Int(5).average(0).unwrap(), SortValue::Null);
        assert_eq!(Sum::Null.average(3).unwrap(), SortValue::Null);
    }
}
