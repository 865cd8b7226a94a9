//! Limits applied while merging.

/// Limits applied while merging.
///
/// ```
/// use grant_sharding::merge::MergeOptions;
///
/// assert_eq!(MergeOptions::default().distinct_cap, 1_000_000);
/// assert_eq!(MergeOptions::default().with_distinct_cap(10).distinct_cap, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MergeOptions {
    /// The most distinct values a `COUNT(DISTINCT ..)` may collect across shards (per
    /// group) before it is refused. Default 1 000 000.
    pub distinct_cap: usize,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            distinct_cap: 1_000_000,
        }
    }
}

impl MergeOptions {
    /// The same options with another [`distinct_cap`](Self::distinct_cap).
    ///
    /// ```
    /// # use grant_sharding::merge::MergeOptions;
    /// let options = MergeOptions::default().with_distinct_cap(50_000);
    /// assert_eq!(options.distinct_cap, 50_000);
    /// ```
    pub fn with_distinct_cap(self, distinct_cap: usize) -> Self {
        MergeOptions { distinct_cap }
    }
}
