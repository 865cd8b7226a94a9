//! Exact decimal numbers (SQL `NUMERIC` / `DECIMAL`) for ordering and sums.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use super::MergeError;

/// The largest supported scale (digits after the point), as in SQL `NUMERIC(38, s)`.
///
/// ```
/// use grant_sharding::merge::{Decimal, MAX_SCALE};
///
/// assert!(Decimal::new(1, MAX_SCALE).is_ok());
/// ```
pub const MAX_SCALE: u32 = 38;

/// An exact decimal: `mantissa / 10^scale`, with a 128-bit mantissa (about 38 digits).
///
/// This is how a `NUMERIC` / `DECIMAL` column is handed to the merge: core reads it as
/// text (or from `rust_decimal` / `bigdecimal`) and parses it. Comparison is numeric
/// (`1.50 == 1.5`), sums are exact and refuse to overflow, averages are rounded half
/// away from zero. Exponents, `NaN` and infinities are not decimals here: core passes
/// such values as [`SortValue::Float`](super::SortValue::Float).
///
/// ```
/// use grant_sharding::merge::Decimal;
///
/// let price: Decimal = "-12.50".parse()?;
/// assert_eq!((price.mantissa(), price.scale()), (-1250, 2));
/// assert_eq!(price, "-12.5".parse()?);
/// assert_eq!(price.to_string(), "-12.50");
/// assert!("1e5".parse::<Decimal>().is_err());
/// # Ok::<(), grant_sharding::merge::MergeError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// `mantissa / 10^scale`; the scale must be at most [`MAX_SCALE`].
    ///
    /// ```
    /// use grant_sharding::merge::Decimal;
    ///
    /// assert_eq!(Decimal::new(314, 2)?.to_string(), "3.14");
    /// assert!(Decimal::new(1, 39).is_err());
    /// # Ok::<(), grant_sharding::merge::MergeError>(())
    /// ```
    pub fn new(mantissa: i128, scale: u32) -> Result<Self, MergeError> {
        if scale > MAX_SCALE {
            return Err(MergeError::InvalidDecimal {
                input: format!("{mantissa}e-{scale}"),
                reason: "the scale is above 38",
            });
        }
        Ok(Decimal { mantissa, scale })
    }

    /// The integer `m` of `m / 10^scale`.
    ///
    /// ```
    /// # use grant_sharding::merge::Decimal;
    /// assert_eq!("0.25".parse::<Decimal>()?.mantissa(), 25);
    /// # Ok::<(), grant_sharding::merge::MergeError>(())
    /// ```
    pub fn mantissa(&self) -> i128 {
        self.mantissa
    }

    /// The number of digits after the point.
    ///
    /// ```
    /// # use grant_sharding::merge::Decimal;
    /// assert_eq!("7.000".parse::<Decimal>()?.scale(), 3);
    /// # Ok::<(), grant_sharding::merge::MergeError>(())
    /// ```
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// The nearest `f64`, correctly rounded (so monotonic: `a <= b` implies
    /// `a.to_f64() <= b.to_f64()`).
    ///
    /// ```
    /// # use grant_sharding::merge::Decimal;
    /// assert_eq!("2.5".parse::<Decimal>()?.to_f64(), 2.5);
    /// # Ok::<(), grant_sharding::merge::MergeError>(())
    /// ```
    pub fn to_f64(&self) -> f64 {
        // Parsing the exact text rounds correctly (to nearest), and correct rounding is
        // monotonic; it also agrees with `i64 as f64` for whole numbers.
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// The exact sum, or `None` when it does not fit.
    ///
    /// ```
    /// # use grant_sharding::merge::Decimal;
    /// let a: Decimal = "0.1".parse()?;
    /// assert_eq!(a.checked_add(&"0.25".parse()?).unwrap().to_string(), "0.35");
    /// # Ok::<(), grant_sharding::merge::MergeError>(())
    /// ```
    pub fn checked_add(&self, other: &Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let a = self.rescaled(scale)?;
        let b = other.rescaled(scale)?;
        Some(Decimal {
            mantissa: a.checked_add(b)?,
            scale,
        })
    }

    /// The same value with trailing fractional zeros removed (`1.500` -> `1.5`).
    pub(crate) fn normalized(self) -> Decimal {
        let mut d = self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }

    /// The mantissa at a larger scale, or `None` when it does not fit.
    fn rescaled(&self, scale: u32) -> Option<i128> {
        10i128
            .checked_pow(scale - self.scale)?
            .checked_mul(self.mantissa)
    }

    /// `self / count`, with up to `extra` more fractional digits (fewer when the
    /// mantissa would overflow), rounded half away from zero. `None` if `count` is 0.
    pub(crate) fn div_by_count(&self, count: u64, extra: u32) -> Option<Decimal> {
        let c = i128::from(count);
        if c == 0 {
            return None;
        }
        let (mut q, mut r) = (self.mantissa / c, self.mantissa % c);
        let mut scale = self.scale;
        while scale < MAX_SCALE && scale < self.scale + extra {
            let next = match q.checked_mul(10).and_then(|q| q.checked_add(r * 10 / c)) {
                Some(next) => next,
                None => break,
            };
            q = next;
            r = r * 10 % c;
            scale += 1;
        }
        // Round on the next digit; |r| < c so `r * 10` cannot overflow.
        if (r * 10 / c).abs() >= 5 {
            q = q.checked_add(r.signum())?;
        }
        Some(Decimal { mantissa: q, scale })
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let (pa, pb) = (10i128.pow(self.scale), 10i128.pow(other.scale));
        let whole = self
            .mantissa
            .div_euclid(pa)
            .cmp(&other.mantissa.div_euclid(pb));
        whole.then_with(|| {
            // Fractions are < 10^scale, so rescaling them to the larger scale fits.
            let scale = self.scale.max(other.scale);
            let fa = self.mantissa.rem_euclid(pa) * 10i128.pow(scale - self.scale);
            let fb = other.mantissa.rem_euclid(pb) * 10i128.pow(scale - other.scale);
            fa.cmp(&fb)
        })
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl Hash for Decimal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let d = self.normalized();
        (d.mantissa, d.scale).hash(state);
    }
}

impl From<i64> for Decimal {
    fn from(v: i64) -> Self {
        Decimal {
            mantissa: v.into(),
            scale: 0,
        }
    }
}

impl From<u64> for Decimal {
    fn from(v: u64) -> Self {
        Decimal {
            mantissa: v.into(),
            scale: 0,
        }
    }
}

impl FromStr for Decimal {
    type Err = MergeError;

    /// Parses `[+-]digits[.digits]` (digits on at least one side of the point).
    fn from_str(input: &str) -> Result<Self, MergeError> {
        let err = |reason| MergeError::InvalidDecimal {
            input: input.to_owned(),
            reason,
        };
        let (negative, body) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(err("no digits"));
        }
        let frac_len = u32::try_from(frac.len()).map_err(|_| err("the scale is above 38"))?;
        if frac_len > MAX_SCALE {
            return Err(err("the scale is above 38"));
        }
        let mut mantissa: i128 = 0;
        for byte in whole.bytes().chain(frac.bytes()) {
            if !byte.is_ascii_digit() {
                return Err(err("expected [+-]digits[.digits]"));
            }
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(byte - b'0')))
                .ok_or_else(|| err("more digits than a 128-bit mantissa holds"))?;
        }
        Ok(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: frac_len,
        })
    }
}

impl fmt::Display for Decimal {
    /// The exact value with `scale` fractional digits (`-0.50`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let sign = if self.mantissa < 0 { "-" } else { "" };
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{whole}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(d("0.05").to_string(), "0.05");
        assert_eq!(d("-.5").to_string(), "-0.5");
        assert_eq!(d("5.").to_string(), "5");
        assert_eq!(d("+007").to_string(), "7");
        for bad in ["", "-", ".", "1.2.3", "1e3", "NaN", " 1", "1_000"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad:?}");
        }
        assert!("1".repeat(40).parse::<Decimal>().is_err());
    }

    #[test]
    fn compares_numerically() {
        assert_eq!(d("1.50"), d("1.5"));
        assert!(d("-1.5") < d("-1.25"));
        assert!(d("-0.01") < d("0"));
        assert!(d("10") > d("9.999"));
        let max = Decimal::new(i128::MAX, 38).unwrap();
        assert!(max > d("1.7") && max < d("1.8"));
    }

    #[test]
    fn adds_and_divides() {
        assert_eq!(d("0.1").checked_add(&d("-0.35")), Some(d("-0.25")));
        let max = Decimal::new(i128::MAX, 0).unwrap();
        assert_eq!(max.checked_add(&d("1")), None);
        assert_eq!(d("0.1").checked_add(&max), None);
        assert_eq!(d("10").div_by_count(4, 2).unwrap().to_string(), "2.50");
        assert_eq!(d("2").div_by_count(3, 4).unwrap().to_string(), "0.6667");
        assert_eq!(d("-2").div_by_count(3, 4).unwrap().to_string(), "-0.6667");
        assert_eq!(d("1").div_by_count(0, 4), None);
        // Near the top of the mantissa, fewer extra digits are kept.
        let big = Decimal::new(i128::MAX, 0).unwrap();
        assert_eq!(big.div_by_count(1, 16).unwrap(), big);
    }
}
