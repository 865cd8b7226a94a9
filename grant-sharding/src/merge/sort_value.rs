//! A neutral, totally ordered value for order keys, group keys and aggregates.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use super::Decimal;
use crate::time::civil_from_days;
use crate::ShardValue;

/// One column value of a shard's row, as the merge sees it.
///
/// [`ShardValue`] is not used here: it has no NULL and no floats, and its derived order
/// puts every `Int` before every `UInt`. `SortValue` has a **total order** (so it can
/// key a heap, a sort or a `BTreeMap`) that agrees with SQL where SQL defines one:
///
/// * `Null` sorts before everything in this plain [`Ord`]; where NULLs go in an
///   `ORDER BY` is chosen per column by [`Nulls`](super::Nulls), not here.
/// * Numbers compare by value across `Int`, `UInt` and `Decimal` (`Int(3) == UInt(3) ==
///   Decimal 3.00`). A `Float` compares by value with them too; when a float and an exact
///   number round to the same `f64` the float sorts after it and they are *not* equal.
///   `-0.0 == 0.0`; `NaN` equals `NaN` and sorts above every number (as PostgreSQL does).
/// * `Text` compares by code point (byte order), like `COLLATE "C"`. A shard sorting
///   text under a linguistic collation returns an order the merge does not reproduce:
///   core asks every shard for `COLLATE "C"` (PostgreSQL), `utf8mb4_bin` (MariaDB) or
///   `BINARY` (SQLite's default) when it merges by a text column.
/// * Values of different kinds order by kind: null, bool, numbers, text, bytes, uuid,
///   date, time, timestamp. A column has one type on every shard, so this only makes
///   mismatched data deterministic.
///
/// [`Hash`] agrees with [`Eq`], so values can key a `HashMap` (group keys, distinct sets).
///
/// ```
/// use grant_sharding::merge::SortValue;
///
/// assert_eq!(SortValue::Int(3), SortValue::UInt(3));
/// assert_eq!(SortValue::Int(3), SortValue::Decimal("3.00".parse()?));
/// assert!(SortValue::Float(2.5) < SortValue::Int(3));
/// assert!(SortValue::Null < SortValue::Bool(false));
/// assert!(SortValue::Float(f64::NAN) > SortValue::Float(f64::INFINITY));
/// assert_eq!(SortValue::from(Some("a")), SortValue::Text("a".into()));
/// assert_eq!(SortValue::from(None::<i64>), SortValue::Null);
/// # Ok::<(), grant_sharding::merge::MergeError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SortValue {
    /// SQL `NULL`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (`u64` columns).
    UInt(u64),
    /// An exact decimal (`NUMERIC`, `DECIMAL`).
    Decimal(Decimal),
    /// A floating-point number (`REAL`, `DOUBLE PRECISION`).
    Float(f64),
    /// Text, compared by code point.
    Text(String),
    /// Bytes (`BYTEA`, `BLOB`), compared bytewise.
    Bytes(Vec<u8>),
    /// A UUID as its 16 bytes in RFC 9562 order, compared bytewise (as PostgreSQL does).
    Uuid([u8; 16]),
    /// A calendar date: days since 1970-01-01.
    Date(i32),
    /// A time of day: microseconds since midnight.
    Time(i64),
    /// A point in time: microseconds since the Unix epoch, UTC (for columns without a
    /// time zone, the same count in their local wall time).
    Timestamp(i64),
}

impl SortValue {
    /// A short name of the value's type: `"null"`, `"bool"`, `"int"`, `"uint"`,
    /// `"decimal"`, `"float"`, `"text"`, `"bytes"`, `"uuid"`, `"date"`, `"time"` or
    /// `"timestamp"`.
    ///
    /// ```
    /// use grant_sharding::merge::SortValue;
    ///
    /// assert_eq!(SortValue::Float(1.0).kind(), "float");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            SortValue::Null => "null",
            SortValue::Bool(_) => "bool",
            SortValue::Int(_) => "int",
            SortValue::UInt(_) => "uint",
            SortValue::Decimal(_) => "decimal",
            SortValue::Float(_) => "float",
            SortValue::Text(_) => "text",
            SortValue::Bytes(_) => "bytes",
            SortValue::Uuid(_) => "uuid",
            SortValue::Date(_) => "date",
            SortValue::Time(_) => "time",
            SortValue::Timestamp(_) => "timestamp",
        }
    }

    /// Whether this is SQL `NULL`.
    ///
    /// ```
    /// use grant_sharding::merge::SortValue;
    ///
    /// assert!(SortValue::Null.is_null());
    /// assert!(!SortValue::Int(0).is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, SortValue::Null)
    }

    /// The value as an exact decimal if it is `Int`, `UInt` or `Decimal`.
    pub(crate) fn exact(&self) -> Option<Decimal> {
        match self {
            SortValue::Int(v) => Some((*v).into()),
            SortValue::UInt(v) => Some((*v).into()),
            SortValue::Decimal(d) => Some(*d),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortValue::Null => 0,
            SortValue::Bool(_) => 1,
            SortValue::Int(_) | SortValue::UInt(_) | SortValue::Decimal(_) => 2,
            SortValue::Float(_) => 2,
            SortValue::Text(_) => 3,
            SortValue::Bytes(_) => 4,
            SortValue::Uuid(_) => 5,
            SortValue::Date(_) => 6,
            SortValue::Time(_) => 7,
            SortValue::Timestamp(_) => 8,
        }
    }
}

/// Floats by value, `-0.0 == 0.0`, `NaN` equal to itself and above everything.
pub(crate) fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// A float against an exact number: by the exact number's correctly rounded `f64`
/// (monotonic, so the order stays total), the float after it on a tie.
fn float_exact_cmp(x: f64, exact: &Decimal) -> Ordering {
    float_cmp(x, exact.to_f64()).then(Ordering::Greater)
}

impl Ord for SortValue {
    fn cmp(&self, other: &Self) -> Ordering {
        use SortValue::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => float_cmp(*a, *b),
            (Float(x), e) if e.rank() == 2 => e
                .exact()
                .map_or(Ordering::Equal, |e| float_exact_cmp(*x, &e)),
            (e, Float(x)) if e.rank() == 2 => e
                .exact()
                .map_or(Ordering::Equal, |e| float_exact_cmp(*x, &e).reverse()),
            (a, b) if a.rank() == 2 && b.rank() == 2 => a.exact().cmp(&b.exact()),
            (Text(a), Text(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (Time(a), Time(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl PartialOrd for SortValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortValue {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortValue {}

impl Hash for SortValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            SortValue::Null => {}
            SortValue::Bool(v) => v.hash(state),
            SortValue::Float(x) => {
                1u8.hash(state);
                let canonical = if x.is_nan() { f64::NAN } else { x + 0.0 };
                canonical.to_bits().hash(state);
            }
            SortValue::Int(_) | SortValue::UInt(_) | SortValue::Decimal(_) => {
                0u8.hash(state);
                self.exact().map(Decimal::normalized).hash(state);
            }
            SortValue::Text(v) => v.hash(state),
            SortValue::Bytes(v) => v.hash(state),
            SortValue::Uuid(v) => v.hash(state),
            SortValue::Date(v) => v.hash(state),
            SortValue::Time(v) | SortValue::Timestamp(v) => v.hash(state),
        }
    }
}

impl fmt::Display for SortValue {
    /// `NULL`, numbers as numbers, text quoted, bytes as `\x..`, UUIDs hyphenated,
    /// dates `YYYY-MM-DD`, times `HH:MM:SS.ffffff`, timestamps RFC 3339 in UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = |f: &mut fmt::Formatter<'_>, micros: i64| {
            let secs = micros.div_euclid(1_000_000);
            let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
            write!(
                f,
                "{h:02}:{m:02}:{s:02}.{:06}",
                micros.rem_euclid(1_000_000)
            )
        };
        match self {
            SortValue::Null => f.write_str("NULL"),
            SortValue::Bool(v) => write!(f, "{v}"),
            SortValue::Int(v) => write!(f, "{v}"),
            SortValue::UInt(v) => write!(f, "{v}"),
            SortValue::Decimal(v) => write!(f, "{v}"),
            SortValue::Float(v) => write!(f, "{v:?}"),
            SortValue::Text(v) => write!(f, "{v:?}"),
            SortValue::Bytes(v) => {
                f.write_str("\\x")?;
                v.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            SortValue::Uuid(b) => write!(f, "{}", ShardValue::Uuid(*b)),
            SortValue::Date(days) => {
                let (y, m, d) = civil_from_days(i64::from(*days));
                write!(f, "{y:04}-{m:02}-{d:02}")
            }
            SortValue::Time(micros) => time(f, *micros),
            SortValue::Timestamp(micros) => {
                let (y, m, d) = civil_from_days(micros.div_euclid(86_400_000_000));
                write!(f, "{y:04}-{m:02}-{d:02}T")?;
                time(f, micros.rem_euclid(86_400_000_000))?;
                f.write_str("Z")
            }
        }
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

impl From<ShardValue> for SortValue {
    /// A shard key as an order key: timestamps in seconds become microseconds, dates
    /// days since the epoch (saturating far outside ±5.8 million years).
    fn from(v: ShardValue) -> Self {
        match v {
            ShardValue::Int(v) => SortValue::Int(v),
            ShardValue::UInt(v) => SortValue::UInt(v),
            ShardValue::Text(v) => SortValue::Text(v),
            ShardValue::Uuid(v) => SortValue::Uuid(v),
            ShardValue::Timestamp(s) => SortValue::Timestamp(s.saturating_mul(1_000_000)),
            ShardValue::Date { year, month, day } => {
                let days = days_from_civil(year, month, day);
                SortValue::Date(days.clamp(i32::MIN.into(), i32::MAX.into()) as i32)
            }
        }
    }
}

macro_rules! from_value {
    ($variant:ident: $($t:ty),*) => {$(
        impl From<$t> for SortValue {
            fn from(v: $t) -> Self {
                SortValue::$variant(v.into())
            }
        }
    )*};
}
from_value!(Int: i8, i16, i32, i64, u8, u16, u32);
from_value!(UInt: u64);
from_value!(Float: f32, f64);
from_value!(Bool: bool);
from_value!(Decimal: Decimal);
from_value!(Text: String, &str);
from_value!(Bytes: Vec<u8>, &[u8]);
from_value!(Uuid: [u8; 16]);

impl<T: Into<SortValue>> From<Option<T>> for SortValue {
    /// `None` is `NULL`.
    fn from(v: Option<T>) -> Self {
        v.map_or(SortValue::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash(v: &SortValue) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    #[test]
    fn numbers_compare_by_value_and_hash_alike() {
        let three = [
            SortValue::Int(3),
            SortValue::UInt(3),
            SortValue::Decimal("3.000".parse().unwrap()),
        ];
        for a in &three {
            for b in &three {
                assert_eq!(a, b);
                assert_eq!(hash(a), hash(b));
            }
        }
        assert_eq!(SortValue::Float(-0.0), SortValue::Float(0.0));
        assert_eq!(hash(&SortValue::Float(-0.0)), hash(&SortValue::Float(0.0)));
        assert_ne!(SortValue::Float(3.0), SortValue::Int(3));
        assert!(SortValue::Float(3.0) > SortValue::Int(3));
        assert!(SortValue::Float(3.0) < SortValue::Decimal("3.0001".parse().unwrap()));
        assert!(SortValue::Int(-1) < SortValue::UInt(u64::MAX));
        assert!(SortValue::Float(f64::NEG_INFINITY) < SortValue::Int(i64::MIN));
    }

    #[test]
    fn kinds_order_deterministically() {
        let mut values = [
            SortValue::Timestamp(0),
            SortValue::Text("a".into()),
            SortValue::Null,
            SortValue::Int(1),
            SortValue::Bool(true),
        ];
        values.sort();
        let kinds: Vec<_> = values.iter().map(SortValue::kind).collect();
        assert_eq!(kinds, ["null", "bool", "int", "text", "timestamp"]);
    }

    #[test]
    fn displays_and_converts() {
        assert_eq!(
            SortValue::Timestamp(1_500_000).to_string(),
            "1970-01-01T00:00:01.500000Z"
        );
        assert_eq!(SortValue::Date(-1).to_string(), "1969-12-31");
        assert_eq!(SortValue::Bytes(vec![1, 255]).to_string(), "\\x01ff");
        assert_eq!(SortValue::Null.to_string(), "NULL");
        let date = ShardValue::date(2024, 2, 29).unwrap();
        assert_eq!(SortValue::from(date).to_string(), "2024-02-29");
        assert_eq!(
            SortValue::from(ShardValue::Timestamp(2)),
            SortValue::Timestamp(2_000_000)
        );
    }
}
