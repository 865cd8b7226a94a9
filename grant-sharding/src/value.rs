//! The values a model's shard key can take.

use std::fmt;
use std::ops::Bound;

use crate::error::ShardError;
use crate::time::civil_from_days;

/// A shard-key value, as handed to a [`ShardResolver`](crate::ShardResolver).
///
/// Integers of any width convert into [`Int`](ShardValue::Int) (or
/// [`UInt`](ShardValue::UInt) for `u64`); resolvers treat `Int(n)` and `UInt(n)` as the
/// same key whenever `n` fits in an `i64`, so the Rust integer type of a field never
/// changes where a row lives.
///
/// ```
/// use grant_sharding::ShardValue;
///
/// assert_eq!(ShardValue::from(42_i32), ShardValue::Int(42));
/// assert_eq!(ShardValue::from(42_u64), ShardValue::UInt(42));
/// assert_eq!(ShardValue::from("acme"), ShardValue::Text("acme".into()));
/// assert_eq!(ShardValue::Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ShardValue {
    /// A signed integer key.
    Int(i64),
    /// An unsigned integer key (`u64` columns).
    UInt(u64),
    /// A text key (tenant slug, e-mail, ...).
    Text(String),
    /// A UUID key, as its 16 bytes in RFC 9562 order (`uuid::Uuid::into_bytes`).
    Uuid([u8; 16]),
    /// A point in time: seconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A calendar date (proleptic Gregorian). Build it with [`ShardValue::date`] to have
    /// it checked; resolvers reject impossible dates with
    /// [`ShardError::InvalidKey`](crate::ShardError::InvalidKey).
    Date {
        /// The year, e.g. `2024`.
        year: i32,
        /// The month, `1..=12`.
        month: u32,
        /// The day of the month, `1..=31`.
        day: u32,
    },
}

impl ShardValue {
    /// Builds a [`ShardValue::Date`], checking that the date exists.
    ///
    /// ```
    /// use grant_sharding::ShardValue;
    ///
    /// assert!(ShardValue::date(2024, 2, 29).is_ok());
    /// assert!(ShardValue::date(2023, 2, 29).is_err());
    /// ```
    pub fn date(year: i32, month: u32, day: u32) -> Result<Self, crate::ShardError> {
        let value = ShardValue::Date { year, month, day };
        match check_date(year, month, day) {
            Ok(()) => Ok(value),
            Err(reason) => Err(crate::ShardError::InvalidKey {
                resolver: "value",
                key: value,
                reason,
            }),
        }
    }

    /// A short name of the value's type: `"int"`, `"uint"`, `"text"`, `"uuid"`,
    /// `"timestamp"` or `"date"`.
    ///
    /// ```
    /// use grant_sharding::ShardValue;
    ///
    /// assert_eq!(ShardValue::from("x").kind(), "text");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            ShardValue::Int(_) => "int",
            ShardValue::UInt(_) => "uint",
            ShardValue::Text(_) => "text",
            ShardValue::Uuid(_) => "uuid",
            ShardValue::Timestamp(_) => "timestamp",
            ShardValue::Date { .. } => "date",
        }
    }

    /// The key as an integer if it is [`Int`](ShardValue::Int) or
    /// [`UInt`](ShardValue::UInt), widened so that no value is lost.
    ///
    /// ```
    /// use grant_sharding::ShardValue;
    ///
    /// assert_eq!(ShardValue::Int(-3).as_integer(), Some(-3));
    /// assert_eq!(ShardValue::UInt(u64::MAX).as_integer(), Some(u64::MAX as i128));
    /// assert_eq!(ShardValue::Timestamp(7).as_integer(), None);
    /// ```
    pub fn as_integer(&self) -> Option<i128> {
        match self {
            ShardValue::Int(v) => Some(i128::from(*v)),
            ShardValue::UInt(v) => Some(i128::from(*v)),
            _ => None,
        }
    }

    /// The integer key, or [`ShardError::WrongKeyType`] naming `resolver`.
    pub(crate) fn integer_for(&self, resolver: &'static str) -> Result<i128, ShardError> {
        self.as_integer().ok_or_else(|| ShardError::WrongKeyType {
            resolver,
            expected: "an integer",
            found: self.kind(),
            key: self.clone(),
        })
    }

    /// The integers between two bounds, as an inclusive `(low, high)` pair; an
    /// unbounded side is `i128::MIN` / `i128::MAX`. Empty when `low > high`. A bound
    /// that is not an integer is [`ShardError::WrongKeyType`] naming `resolver`.
    pub(crate) fn integer_interval(
        resolver: &'static str,
        lower: Bound<&ShardValue>,
        upper: Bound<&ShardValue>,
    ) -> Result<(i128, i128), ShardError> {
        // Keys are at most 64 bits wide: adding or removing 1 cannot overflow an i128.
        let low = match lower {
            Bound::Included(v) => v.integer_for(resolver)?,
            Bound::Excluded(v) => v.integer_for(resolver)? + 1,
            Bound::Unbounded => i128::MIN,
        };
        let high = match upper {
            Bound::Included(v) => v.integer_for(resolver)?,
            Bound::Excluded(v) => v.integer_for(resolver)? - 1,
            Bound::Unbounded => i128::MAX,
        };
        Ok((low, high))
    }

    /// Check a `Date` key's calendar date, or [`ShardError::InvalidKey`] naming `resolver`.
    pub(crate) fn check_date_for(
        &self,
        resolver: &'static str,
        year: i32,
        month: u32,
        day: u32,
    ) -> Result<(), ShardError> {
        check_date(year, month, day).map_err(|reason| ShardError::InvalidKey {
            resolver,
            key: self.clone(),
            reason,
        })
    }

    /// The same key with `UInt(n)` rewritten as `Int(n)` when `n` fits in an `i64`.
    pub(crate) fn normalized(self) -> Self {
        match self {
            ShardValue::UInt(v) => match i64::try_from(v) {
                Ok(i) => ShardValue::Int(i),
                Err(_) => ShardValue::UInt(v),
            },
            other => other,
        }
    }
}

/// Checks that `year-month-day` exists in the proleptic Gregorian calendar.
pub(crate) fn check_date(year: i32, month: u32, day: u32) -> Result<(), String> {
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is not in 1..=12"));
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=days).contains(&day) {
        return Err(format!(
            "day {day} is not in 1..={days} for {year:04}-{month:02}"
        ));
    }
    Ok(())
}

impl fmt::Display for ShardValue {
    /// Integers print as numbers, text quoted and escaped, UUIDs hyphenated, timestamps
    /// in RFC 3339 (`1970-01-01T00:00:00Z`) and dates as `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardValue::Int(v) => write!(f, "{v}"),
            ShardValue::UInt(v) => write!(f, "{v}"),
            ShardValue::Text(s) => write!(f, "{s:?}"),
            ShardValue::Uuid(b) => {
                for (i, byte) in b.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        f.write_str("-")?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
            ShardValue::Timestamp(secs) => {
                let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
                let tod = secs.rem_euclid(86_400);
                write!(
                    f,
                    "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                    tod / 3600,
                    tod / 60 % 60,
                    tod % 60
                )
            }
            ShardValue::Date { year, month, day } => write!(f, "{year:04}-{month:02}-{day:02}"),
        }
    }
}

macro_rules! from_int {
    ($variant:ident: $($t:ty),*) => {$(
        impl From<$t> for ShardValue {
            fn from(v: $t) -> Self {
                ShardValue::$variant(v.into())
            }
        }
    )*};
}
from_int!(Int: i8, i16, i32, i64, u8, u16, u32);
from_int!(UInt: u64);

impl From<&str> for ShardValue {
    fn from(v: &str) -> Self {
        ShardValue::Text(v.to_owned())
    }
}

impl From<String> for ShardValue {
    fn from(v: String) -> Self {
        ShardValue::Text(v)
    }
}

impl From<&String> for ShardValue {
    fn from(v: &String) -> Self {
        ShardValue::Text(v.clone())
    }
}

impl From<[u8; 16]> for ShardValue {
    /// A UUID given as its 16 bytes.
    fn from(v: [u8; 16]) -> Self {
        ShardValue::Uuid(v)
    }
}
