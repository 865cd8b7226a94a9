//! The error type shared by every resolver.

use crate::ShardValue;

/// Why a resolver could not be built or could not resolve a key.
///
/// Every variant names the resolver it comes from (`"modulo"`, `"stable_hash"`,
/// `"range"`, `"time_interval"`, `"lookup"`, or the name a user resolver chose) and,
/// where a key is involved, the key itself, so the message is actionable on its own.
///
/// ```
/// use grant_sharding::{Modulo, ShardError, ShardResolver, ShardValue};
///
/// let modulo = Modulo::new(["shard_a", "shard_b"])?;
/// let err = modulo.resolve(&ShardValue::from("alice")).unwrap_err();
/// assert!(matches!(err, ShardError::WrongKeyType { resolver: "modulo", .. }));
/// assert_eq!(
///     err.to_string(),
///     "modulo resolver expects an integer key, found text key \"alice\""
/// );
/// # Ok::<(), ShardError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    /// The resolver was given no shard at all.
    #[error("{resolver} resolver: no shards configured")]
    NoShards {
        /// The resolver kind.
        resolver: &'static str,
    },

    /// More shards than the resolver can address.
    #[error("{resolver} resolver: {count} shards configured, at most {max} are supported")]
    TooManyShards {
        /// The resolver kind.
        resolver: &'static str,
        /// How many shards were given.
        count: usize,
        /// The largest supported count.
        max: usize,
    },

    /// The same shard name was listed twice where each shard must appear once.
    #[error("{resolver} resolver: shard {shard:?} is listed more than once")]
    DuplicateShard {
        /// The resolver kind.
        resolver: &'static str,
        /// The repeated shard name.
        shard: String,
    },

    /// A shard name is unusable (empty, or with surrounding whitespace, ...).
    #[error("{resolver} resolver: invalid shard name {shard:?}: {reason}")]
    InvalidShardName {
        /// The resolver kind.
        resolver: &'static str,
        /// The offending name.
        shard: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The key's type is not one this resolver handles.
    #[error("{resolver} resolver expects {expected} key, found {found} key {key}")]
    WrongKeyType {
        /// The resolver kind.
        resolver: &'static str,
        /// What the resolver accepts, e.g. `"an integer"`.
        expected: &'static str,
        /// The kind of the key that was given (see [`ShardValue::kind`]).
        found: &'static str,
        /// The key that was given.
        key: ShardValue,
    },

    /// The key has the right type but an impossible value (e.g. February 30th).
    #[error("{resolver} resolver: invalid key {key}: {reason}")]
    InvalidKey {
        /// The resolver kind.
        resolver: &'static str,
        /// The key that was given.
        key: ShardValue,
        /// What is wrong with it.
        reason: String,
    },

    /// The key lies outside every range the resolver covers.
    #[error("{resolver} resolver: key {key} is outside the covered range {covered}")]
    KeyOutOfRange {
        /// The resolver kind.
        resolver: &'static str,
        /// The key that was given.
        key: ShardValue,
        /// The covered range, e.g. `[0, 1000)` or `[0, +inf)`.
        covered: String,
    },

    /// No shard is mapped to this key and there is no default shard.
    #[error("{resolver} resolver: no shard for key {key} and no default shard")]
    NoShardForKey {
        /// The resolver kind.
        resolver: &'static str,
        /// The key that was given.
        key: ShardValue,
    },

    /// The key maps to a shard name that is not in the resolver's known shards.
    #[error("{resolver} resolver: key {key} maps to shard {shard:?}, which is not a known shard")]
    UnknownShard {
        /// The resolver kind.
        resolver: &'static str,
        /// The key that was given.
        key: ShardValue,
        /// The computed shard name.
        shard: String,
    },

    /// The same key appears twice in a lookup table.
    #[error("{resolver} resolver: key {key} is listed more than once")]
    DuplicateKey {
        /// The resolver kind.
        resolver: &'static str,
        /// The repeated key.
        key: ShardValue,
    },

    /// The ranges given to [`Range::new`](crate::Range::new) are unusable.
    #[error("range resolver: invalid ranges: {reason}")]
    InvalidRanges {
        /// What is wrong with them.
        reason: String,
    },

    /// The shard-name pattern given to [`TimeInterval`](crate::TimeInterval) is unusable.
    #[error("time_interval resolver: invalid pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A failure reported by a user-defined resolver.
    #[error("{resolver} resolver: {source}")]
    Custom {
        /// The name the user resolver goes by.
        resolver: &'static str,
        /// The underlying error, kept whole.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// Checks a configured shard name: non-empty, no surrounding whitespace, no control
/// characters.
pub(crate) fn check_shard_name(resolver: &'static str, shard: &str) -> Result<(), ShardError> {
    let reason = if shard.is_empty() {
        "it is empty"
    } else if shard.trim() != shard {
        "it has leading or trailing whitespace"
    } else if shard.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(ShardError::InvalidShardName {
        resolver,
        shard: shard.to_owned(),
        reason: reason.to_owned(),
    })
}

/// Validates a list of shard names that must be non-empty and distinct.
pub(crate) fn check_shard_list(
    resolver: &'static str,
    shards: impl IntoIterator<Item = impl Into<String>>,
) -> Result<Vec<String>, ShardError> {
    let shards: Vec<String> = shards.into_iter().map(Into::into).collect();
    if shards.is_empty() {
        return Err(ShardError::NoShards { resolver });
    }
    let mut seen = std::collections::BTreeSet::new();
    for shard in &shards {
        check_shard_name(resolver, shard)?;
        if !seen.insert(shard.as_str()) {
            return Err(ShardError::DuplicateShard {
                resolver,
                shard: shard.clone(),
            });
        }
    }
    Ok(shards)
}
