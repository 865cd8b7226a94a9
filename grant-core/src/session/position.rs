//! Replication positions: where a writer was after a write, and how far a replica has
//! replayed. PostgreSQL's is a WAL location (`pg_lsn`), MariaDB's a GTID position.

use std::fmt;

/// A point in a database's replication stream.
///
/// - PostgreSQL: a WAL location (`pg_current_wal_lsn()` on the writer,
///   `pg_last_wal_replay_lsn()` on a standby), written `16/B374D848`.
/// - MariaDB: a GTID position, one `domain-server-sequence` per replication domain,
///   written `0-1-42` or `0-1-42,1-2-7` (`@@last_gtid` on the writer,
///   `MASTER_GTID_WAIT` on a replica).
///
/// ```
/// use grant_core::Position;
/// let a: Position = "0/16B3748".parse().unwrap();
/// let b: Position = "0/16B3800".parse().unwrap();
/// assert!(b.covers(&a) && !a.covers(&b));
/// let g: Position = "0-1-42".parse().unwrap();
/// assert_eq!(g.to_string(), "0-1-42");
/// assert!(!g.covers(&a)); // different engines never cover each other
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Position {
    /// A PostgreSQL WAL location.
    Lsn(u64),
    /// A MariaDB GTID position, one entry per domain, sorted by domain.
    Gtid(Vec<Gtid>),
}

/// One MariaDB GTID: `domain-server-sequence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gtid {
    /// The replication domain.
    pub domain: u32,
    /// The server that wrote it.
    pub server: u32,
    /// The sequence number within the domain.
    pub seq: u64,
}

/// A text that is not a replication position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a replication position (PostgreSQL `X/Y` or MariaDB `domain-server-seq`): {0:?}")]
pub struct PositionParseError(pub String);

impl Position {
    /// Whether a server at `self` has everything up to `other`: a greater or equal WAL
    /// location, or, for every GTID domain of `other`, a sequence at least as high.
    /// Positions of different engines never cover each other.
    pub fn covers(&self, other: &Position) -> bool {
        match (self, other) {
            (Position::Lsn(a), Position::Lsn(b)) => a >= b,
            (Position::Gtid(a), Position::Gtid(b)) => b.iter().all(|need| {
                a.iter()
                    .any(|have| have.domain == need.domain && have.seq >= need.seq)
            }),
            _ => false,
        }
    }

    /// Raise `self` to include `other` (the later of two WAL locations; per GTID domain the
    /// higher sequence). A position of another engine replaces `self`.
    pub fn merge(&mut self, other: &Position) {
        match (&mut *self, other) {
            (Position::Lsn(a), Position::Lsn(b)) => *a = (*a).max(*b),
            (Position::Gtid(a), Position::Gtid(b)) => {
                for g in b {
                    match a.iter_mut().find(|h| h.domain == g.domain) {
                        Some(h) if h.seq < g.seq => *h = *g,
                        Some(_) => {}
                        None => a.push(*g),
                    }
                }
                a.sort_by_key(|g| g.domain);
            }
            _ => *self = other.clone(),
        }
    }

    /// A MariaDB GTID list as the server writes it (`@@last_gtid`, `@@gtid_slave_pos`);
    /// `None` for an empty one.
    pub(crate) fn parse_gtid_list(s: &str) -> Result<Option<Position>, PositionParseError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let mut out = Position::Gtid(Vec::new());
        for part in s.split(',') {
            let bad = || PositionParseError(s.to_string());
            let mut it = part.trim().splitn(3, '-');
            let (Some(d), Some(sv), Some(q)) = (it.next(), it.next(), it.next()) else {
                return Err(bad());
            };
            let g = Gtid {
                domain: d.parse().map_err(|_| bad())?,
                server: sv.parse().map_err(|_| bad())?,
                seq: q.parse().map_err(|_| bad())?,
            };
            // One entry per domain, the highest sequence, sorted: as `merge` keeps them.
            out.merge(&Position::Gtid(vec![g]));
        }
        Ok(Some(out))
    }
}

impl std::str::FromStr for Position {
    type Err = PositionParseError;

    fn from_str(s: &str) -> Result<Position, PositionParseError> {
        let bad = || PositionParseError(s.to_string());
        if let Some((hi, lo)) = s.split_once('/') {
            let hi = u32::from_str_radix(hi, 16).map_err(|_| bad())?;
            let lo = u32::from_str_radix(lo, 16).map_err(|_| bad())?;
            if s.len() > 17 {
                return Err(bad());
            }
            return Ok(Position::Lsn((u64::from(hi) << 32) | u64::from(lo)));
        }
        Position::parse_gtid_list(s)?.ok_or_else(bad)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Lsn(l) => write!(f, "{:X}/{:X}", l >> 32, l & 0xFFFF_FFFF),
            Position::Gtid(list) => {
                for (i, g) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}-{}-{}", g.domain, g.server, g.seq)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips_and_orders() {
        let p: Position = "16/B374D848".parse().unwrap();
        assert_eq!(p, Position::Lsn(0x16_B374_D848));
        assert_eq!(p.to_string(), "16/B374D848");
        assert!(p.covers(&"16/B374D847".parse().unwrap()));
        assert!(!p.covers(&"17/0".parse().unwrap()));
    }

    #[test]
    fn gtid_covers_per_domain() {
        let have: Position = "0-1-42,1-2-7".parse().unwrap();
        assert!(have.covers(&"0-1-40".parse().unwrap()));
        assert!(have.covers(&"0-3-42,1-1-7".parse().unwrap()));
        assert!(!have.covers(&"0-1-43".parse().unwrap()));
        assert!(!have.covers(&"2-1-1".parse().unwrap()));
        let mut m: Position = "0-1-40".parse().unwrap();
        m.merge(&"0-1-41,3-1-1".parse().unwrap());
        assert_eq!(m.to_string(), "0-1-41,3-1-1");
    }

    #[test]
    fn garbage_is_an_error() {
        for s in [
            "",
            "x",
            "1/",
            "/1",
            "0-1",
            "a-b-c",
            "0-1-2,",
            "FFFFFFFFF/0",
            "-1-1-1",
        ] {
            assert!(s.parse::<Position>().is_err(), "{s:?}");
        }
    }
}
