//! Helpers shared by the resolver tests.

// Not every test binary uses every helper.
#![allow(dead_code)]

use grant_sharding::ShardError;

pub type TestResult = Result<(), ShardError>;

pub fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}
