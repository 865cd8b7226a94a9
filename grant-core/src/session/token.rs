//! The session token: a compact, versioned, checksummed text form of a [`Session`]'s
//! state, for a cookie or a header.
//!
//! `g1.` + base64url(JSON `[[database, shard|null, last write in unix ms, position|null], ..]`) +
//! `.` + base64url(FNV-1a 64 of that JSON). Only characters allowed in a cookie value and
//! in a URL appear in it.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::position::Position;
use super::Entry;

/// The prefix of version 1 tokens.
const PREFIX: &str = "g1.";
/// The longest token accepted (a cookie holds about 4 KB).
pub const MAX_TOKEN_LEN: usize = 4096;
/// The most entries a token may hold.
const MAX_ENTRIES: usize = 256;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("longer than {MAX_TOKEN_LEN} characters")]
    TooLong,
    /// Not a `g1.` token (another version, or not a Grant token at all).
    #[error("not a Grant session token of a known version (expected the prefix `g1.`)")]
    Version,
    /// The text is not valid base64url / JSON of the expected shape.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The checksum does not match: the token was altered or truncated.
    #[error("checksum mismatch (altered or truncated)")]
    Checksum,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub(super) fn encode(entries: &[Entry]) -> String {
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!([
                &*e.database,
                e.shard.as_deref(),
                e.wrote_at_ms,
                e.position.as_ref().map(|p| p.to_string()),
            ])
        })
        .collect();
    let json = serde_json::to_vec(&list).expect("a JSON array of strings and numbers");
    let mut out = String::with_capacity(PREFIX.len() + json.len() * 4 / 3 + 16);
    out.push_str(PREFIX);
    URL_SAFE_NO_PAD.encode_string(&json, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(fnv1a(&json).to_be_bytes(), &mut out);
    out
}

pub(super) fn decode(token: &str, now_ms: u64) -> Result<Vec<Entry>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let body = token.strip_prefix(PREFIX).ok_or(TokenError::Version)?;
    let (payload, sum) = body
        .split_once('.')
        .ok_or(TokenError::Malformed("no checksum"))?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed("payload is not base64url"))?;
    let sum = URL_SAFE_NO_PAD
        .decode(sum)
        .map_err(|_| TokenError::Malformed("checksum is not base64url"))?;
    if sum.as_slice() != fnv1a(&json).to_be_bytes() {
        return Err(TokenError::Checksum);
    }
    let list: Vec<(String, Option<String>, u64, Option<String>)> =
        serde_json::from_slice(&json).map_err(|_| TokenError::Malformed("unexpected shape"))?;
    if list.len() > MAX_ENTRIES {
        return Err(TokenError::Malformed("too many entries"));
    }
    let name_ok = |s: &str| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control);
    let mut out: Vec<Entry> = Vec::with_capacity(list.len());
    for (database, shard, wrote_at_ms, position) in list {
        if !name_ok(&database) || shard.as_deref().is_some_and(|s| !name_ok(s)) {
            return Err(TokenError::Malformed("bad database or shard name"));
        }
        let position = match position {
            Some(p) => Some(
                p.parse::<Position>()
                    .map_err(|_| TokenError::Malformed("bad position"))?,
            ),
            None => None,
        };
        let database: Arc<str> = Arc::from(database);
        let shard: Option<Arc<str>> = shard.map(Arc::from);
        if out
            .iter()
            .any(|e| e.database == database && e.shard == shard)
        {
            return Err(TokenError::Malformed("an entry appears twice"));
        }
        out.push(Entry {
            database,
            shard,
            // A write "in the future" (a forged or skewed clock) counts as now, so that a
            // token can pin reads to the writer for at most one `replica_delay`.
            wrote_at_ms: wrote_at_ms.min(now_ms),
            position,
        });
    }
    Ok(out)
}
