//! [`TimeInterval`]: yearly or monthly partitions named from a pattern.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Bound;

use crate::error::check_shard_list;
use crate::{ShardError, ShardResolver, ShardValue};

const RESOLVER: &str = "time_interval";
const COVERED: &str = "years 0000 through 9999";
/// Without known shards, a range over more partitions than this is not enumerated.
const MAX_ENUMERATED: i64 = 1_200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Granularity {
    Year,
    Month,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{yyyy}`: the year, 4 digits.
    Year,
    /// `{mm}`: the month, 2 digits, `01..=12`.
    Month,
}

/// Sends a point in time to the partition of its year or month, named by a pattern.
///
/// The pattern is literal text with placeholders: `{yyyy}` (the year, 4 digits) and,
/// for monthly partitions, `{mm}` (the month, `01` to `12`), e.g. `"events_{yyyy}"` or
/// `"events_{yyyy}_{mm}"`. Keys are [`Timestamp`](ShardValue::Timestamp)s (Unix
/// seconds, UTC) or [`Date`](ShardValue::Date)s; dates are computed with Howard
/// Hinnant's `civil_from_days` algorithm (proleptic Gregorian calendar, UTC). Years
/// outside `0000..=9999` are a [`KeyOutOfRange`](ShardError::KeyOutOfRange) error.
///
/// By default any computed name is returned, and [`shards`](ShardResolver::shards) is
/// empty (the set is open-ended). [`with_shards`](TimeInterval::with_shards) restricts
/// it to known partitions: a key whose partition is not among them is an
/// [`UnknownShard`](ShardError::UnknownShard) error naming the computed shard.
///
/// ```
/// use grant_sharding::{ShardError, ShardResolver, ShardValue, TimeInterval};
///
/// let monthly = TimeInterval::monthly("events_{yyyy}_{mm}")?;
/// // 2024-02-29T12:00:00Z
/// assert_eq!(monthly.resolve(&ShardValue::Timestamp(1_709_208_000))?, "events_2024_02");
/// assert_eq!(monthly.resolve(&ShardValue::date(1999, 12, 31)?)?, "events_1999_12");
///
/// let yearly = TimeInterval::yearly("events_{yyyy}")?
///     .with_shards(["events_2023", "events_2024"])?;
/// assert_eq!(yearly.resolve(&ShardValue::date(2023, 6, 1)?)?, "events_2023");
/// let err = yearly.resolve(&ShardValue::date(2025, 1, 1)?).unwrap_err();
/// assert!(matches!(err, ShardError::UnknownShard { ref shard, .. } if shard == "events_2025"));
/// # Ok::<(), ShardError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TimeInterval {
    pattern: String,
    granularity: Granularity,
    segments: Vec<Segment>,
    /// Known shards in the order given, and the same as a set.
    known: Option<(Vec<String>, BTreeSet<String>)>,
}

impl TimeInterval {
    /// One partition per year; `pattern` must contain `{yyyy}` and no `{mm}`.
    ///
    /// Errors: [`InvalidPattern`](ShardError::InvalidPattern).
    ///
    /// ```
    /// use grant_sharding::TimeInterval;
    ///
    /// assert!(TimeInterval::yearly("logs_{yyyy}").is_ok());
    /// assert!(TimeInterval::yearly("logs_{yyyy}_{mm}").is_err());
    /// assert!(TimeInterval::yearly("logs").is_err());
    /// ```
    pub fn yearly(pattern: &str) -> Result<Self, ShardError> {
        Self::build(pattern, Granularity::Year)
    }

    /// One partition per month; `pattern` must contain `{yyyy}` and `{mm}`.
    ///
    /// Errors: [`InvalidPattern`](ShardError::InvalidPattern).
    ///
    /// ```
    /// use grant_sharding::TimeInterval;
    ///
    /// assert!(TimeInterval::monthly("logs_{yyyy}_{mm}").is_ok());
    /// assert!(TimeInterval::monthly("logs_{yyyy}").is_err());
    /// assert!(TimeInterval::monthly("logs_{yyyy}_{dd}").is_err());
    /// ```
    pub fn monthly(pattern: &str) -> Result<Self, ShardError> {
        Self::build(pattern, Granularity::Month)
    }

    /// Restricts the resolver to these shards; each must be a name the pattern can
    /// produce.
    ///
    /// Errors: [`NoShards`](ShardError::NoShards),
    /// [`DuplicateShard`](ShardError::DuplicateShard), and
    /// [`InvalidShardName`](ShardError::InvalidShardName) for a name that is unusable
    /// or does not match the pattern.
    ///
    /// ```
    /// use grant_sharding::{ShardError, TimeInterval};
    ///
    /// let yearly = TimeInterval::yearly("events_{yyyy}")?;
    /// assert!(yearly.clone().with_shards(["events_2024"]).is_ok());
    /// assert!(matches!(
    ///     yearly.with_shards(["events_24"]),
    ///     Err(ShardError::InvalidShardName { .. })
    /// ));
    /// # Ok::<(), ShardError>(())
    /// ```
    pub fn with_shards(
        mut self,
        shards: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, ShardError> {
        let shards = check_shard_list(RESOLVER, shards)?;
        if let Some(bad) = shards.iter().find(|s| !self.matches(s)) {
            return Err(ShardError::InvalidShardName {
                resolver: RESOLVER,
                shard: bad.clone(),
                reason: format!("it does not match the pattern {:?}", self.pattern),
            });
        }
        let set = shards.iter().cloned().collect();
        self.known = Some((shards, set));
        Ok(self)
    }

    fn build(pattern: &str, granularity: Granularity) -> Result<Self, ShardError> {
        let invalid = |reason: &str| ShardError::InvalidPattern {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        if pattern.trim() != pattern || pattern.chars().any(char::is_control) {
            return Err(invalid(
                "it has leading/trailing whitespace or a control character",
            ));
        }
        let mut segments = Vec::new();
        let mut rest = pattern;
        while !rest.is_empty() {
            let brace = rest.find(['{', '}']).unwrap_or(rest.len());
            if brace > 0 {
                segments.push(Segment::Literal(rest[..brace].to_owned()));
                rest = &rest[brace..];
                continue;
            }
            if rest.starts_with('}') {
                return Err(invalid("'}' without a matching '{'"));
            }
            let close = rest
                .find('}')
                .ok_or_else(|| invalid("'{' without a matching '}'"))?;
            segments.push(match &rest[1..close] {
                "yyyy" => Segment::Year,
                "mm" => Segment::Month,
                _ => return Err(invalid("unknown placeholder; use {yyyy} and {mm}")),
            });
            rest = &rest[close + 1..];
        }
        let has_month = segments.contains(&Segment::Month);
        if !segments.contains(&Segment::Year) {
            return Err(invalid("it has no {yyyy} placeholder"));
        }
        match granularity {
            Granularity::Year if has_month => {
                return Err(invalid("a yearly pattern cannot contain {mm}"));
            }
            Granularity::Month if !has_month => {
                return Err(invalid("a monthly pattern needs a {mm} placeholder"));
            }
            _ => {}
        }
        Ok(TimeInterval {
            pattern: pattern.to_owned(),
            granularity,
            segments,
            known: None,
        })
    }

    /// Whether `name` is one the pattern produces (for some year and month).
    fn matches(&self, name: &str) -> bool {
        self.parse(name).is_some()
    }

    /// Whether `name` is a partition name the pattern can produce.
    ///
    /// ```
    /// use grant_sharding::TimeInterval;
    ///
    /// let yearly = TimeInterval::yearly("prices_{yyyy}")?;
    /// assert!(yearly.produces("prices_2024"));
    /// assert!(!yearly.produces("prices_staging"));
    /// # Ok::<(), grant_sharding::ShardError>(())
    /// ```
    pub fn produces(&self, name: &str) -> bool {
        self.matches(name)
    }

    /// The partition index of a name the pattern produces, `None` for any other name.
    fn parse(&self, name: &str) -> Option<i64> {
        let mut rest = name.as_bytes();
        let (mut year, mut month): (Option<&[u8]>, Option<&[u8]>) = (None, None);
        for segment in &self.segments {
            let (width, slot) = match segment {
                Segment::Literal(lit) => {
                    rest = rest.strip_prefix(lit.as_bytes())?;
                    continue;
                }
                Segment::Year => (4, &mut year),
                Segment::Month => (2, &mut month),
            };
            if rest.len() < width || !rest[..width].iter().all(u8::is_ascii_digit) {
                return None;
            }
            let digits = &rest[..width];
            if slot.is_some_and(|prev| prev != digits) {
                return None;
            }
            *slot = Some(digits);
            rest = &rest[width..];
        }
        let number = |digits: &[u8]| {
            digits
                .iter()
                .fold(0_i64, |n, d| n * 10 + i64::from(d - b'0'))
        };
        let year = number(year?);
        let month = month.map_or(1, number);
        if !rest.is_empty() || !(1..=12).contains(&month) {
            return None;
        }
        Some(self.partition(year, month as u32))
    }

    /// The partition index of a year and month: the year, or `year * 12 + month - 1`.
    fn partition(&self, year: i64, month: u32) -> i64 {
        match self.granularity {
            Granularity::Year => year,
            Granularity::Month => year * 12 + i64::from(month) - 1,
        }
    }

    /// The `(year, month)` of a partition index.
    fn year_month(&self, partition: i64) -> (i64, u32) {
        match self.granularity {
            Granularity::Year => (partition, 1),
            Granularity::Month => (
                partition.div_euclid(12),
                partition.rem_euclid(12) as u32 + 1,
            ),
        }
    }

    /// The partition of a bound's key. With `exclusive_upper`, a key at the very start
    /// of its partition (midnight on the 1st of the month, or of January) excludes that
    /// partition: `< 2024-01-01` ends in 2023.
    fn bound_partition(&self, key: &ShardValue, exclusive_upper: bool) -> Result<i64, ShardError> {
        let (year, month, day, midnight) = match key {
            ShardValue::Timestamp(secs) => {
                let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
                (y, m, d, secs.rem_euclid(86_400) == 0)
            }
            ShardValue::Date { year, month, day } => {
                key.check_date_for(RESOLVER, *year, *month, *day)?;
                (i64::from(*year), *month, *day, true)
            }
            _ => return Err(wrong_type(key)),
        };
        let partition = self.partition(year, month);
        let starts_partition =
            midnight && day == 1 && (self.granularity == Granularity::Month || month == 1);
        Ok(if exclusive_upper && starts_partition {
            partition - 1
        } else {
            partition
        })
    }

    fn shards_between(
        &self,
        lower: Bound<&ShardValue>,
        upper: Bound<&ShardValue>,
    ) -> Option<Result<Vec<Cow<'_, str>>, ShardError>> {
        let low = match lower {
            Bound::Included(key) | Bound::Excluded(key) => Some(self.bound_partition(key, false)),
            Bound::Unbounded => None,
        }
        .transpose();
        let high = match upper {
            Bound::Included(key) => Some(self.bound_partition(key, false)),
            Bound::Excluded(key) => Some(self.bound_partition(key, true)),
            Bound::Unbounded => None,
        }
        .transpose();
        let (low, high) = match (low, high) {
            (Ok(low), Ok(high)) => (low, high),
            (Err(err), _) | (_, Err(err)) => return Some(Err(err)),
        };
        // Partitions exist for years 0000 through 9999 only.
        let low = low.unwrap_or(i64::MIN).max(self.partition(0, 1));
        let high = high.unwrap_or(i64::MAX).min(self.partition(9999, 12));
        if low > high {
            return Some(Ok(Vec::new()));
        }
        if let Some((list, _)) = &self.known {
            return Some(Ok(list
                .iter()
                .filter(|name| self.parse(name).is_some_and(|p| (low..=high).contains(&p)))
                .map(|name| Cow::Borrowed(name.as_str()))
                .collect()));
        }
        if high - low >= MAX_ENUMERATED {
            return None;
        }
        Some(Ok((low..=high)
            .map(|p| {
                let (year, month) = self.year_month(p);
                Cow::Owned(self.name_for(year, month))
            })
            .collect()))
    }

    fn name_for(&self, year: i64, month: u32) -> String {
        let mut name = String::with_capacity(self.pattern.len());
        for segment in &self.segments {
            match segment {
                Segment::Literal(lit) => name.push_str(lit),
                Segment::Year => name.push_str(&format!("{year:04}")),
                Segment::Month => name.push_str(&format!("{month:02}")),
            }
        }
        name
    }
}

impl ShardResolver for TimeInterval {
    fn resolve(&self, key: &ShardValue) -> Result<Cow<'_, str>, ShardError> {
        let (year, month) = match key {
            ShardValue::Timestamp(secs) => {
                let (y, m, _) = civil_from_days(secs.div_euclid(86_400));
                (y, m)
            }
            ShardValue::Date { year, month, day } => {
                key.check_date_for(RESOLVER, *year, *month, *day)?;
                (i64::from(*year), *month)
            }
            _ => return Err(wrong_type(key)),
        };
        if !(0..=9999).contains(&year) {
            return Err(ShardError::KeyOutOfRange {
                resolver: RESOLVER,
                key: key.clone(),
                covered: COVERED.to_owned(),
            });
        }
        let month = match self.granularity {
            Granularity::Year => 1,
            Granularity::Month => month,
        };
        let name = self.name_for(year, month);
        match &self.known {
            None => Ok(Cow::Owned(name)),
            Some((_, set)) => match set.get(&name) {
                Some(known) => Ok(Cow::Borrowed(known)),
                None => Err(ShardError::UnknownShard {
                    resolver: RESOLVER,
                    key: key.clone(),
                    shard: name,
                }),
            },
        }
    }

    /// The partitions between the bounds' partitions: the known shards among them, or
    /// with no known shards their names (`None`, every shard, for an open-ended range or
    /// more than 1200 partitions).
    fn shards_for_range(
        &self,
        lower: Bound<&ShardValue>,
        upper: Bound<&ShardValue>,
    ) -> Option<Result<Vec<Cow<'_, str>>, ShardError>> {
        self.shards_between(lower, upper)
    }

    fn shards(&self) -> Vec<&str> {
        match &self.known {
            Some((list, _)) => list.iter().map(String::as_str).collect(),
            None => Vec::new(),
        }
    }
}

fn wrong_type(key: &ShardValue) -> ShardError {
    ShardError::WrongKeyType {
        resolver: RESOLVER,
        expected: "a timestamp or date",
        found: key.kind(),
        key: key.clone(),
    }
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian `(year, month, day)` of
/// the day `days` after 1970-01-01. Exact for every `i64` day count a Unix timestamp
/// in seconds can produce (`|days| < 2^47`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    /// Reference: days_from_civil, the inverse algorithm, computed independently.
    fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(m);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    #[test]
    fn known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
    }

    #[test]
    fn round_trips_over_eight_centuries() {
        for days in -200_000..=200_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        let extreme = i64::MAX.div_euclid(86_400);
        let (y, m, d) = civil_from_days(extreme);
        assert_eq!(days_from_civil(y, m, d), extreme);
    }
}
