//! How a database's reads use its replicas: read-your-writes (`replica_delay`, causal
//! consistency), balancing, failover and replication lag.

use std::time::Duration;

/// The default [`ReplicationConfig::replica_delay`]: 2 seconds (Rails' default).
pub const DEFAULT_REPLICA_DELAY: Duration = Duration::from_secs(2);
/// The default [`ReplicationConfig::causal_wait`]: 200 ms.
pub const DEFAULT_CAUSAL_WAIT: Duration = Duration::from_millis(200);
/// The default [`ReplicationConfig::replica_check_interval`]: 1 second.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How a session's reads see its own writes (`consistency = "delay" | "causal"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Consistency {
    /// After a write, the session reads that database from the writer for
    /// [`ReplicationConfig::replica_delay`] (the default).
    #[default]
    Delay,
    /// After a write, the session records the writer's position (PostgreSQL WAL location,
    /// MariaDB GTID) and reads from a replica that has replayed it, waiting at most
    /// [`ReplicationConfig::causal_wait`], then from the writer. PostgreSQL and MariaDB
    /// only.
    Causal,
}

/// How reads are spread over the replicas (`balance = ".."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Balance {
    /// In turn (the default).
    #[default]
    RoundRobin,
    /// Uniformly at random.
    Random,
    /// At random in proportion to `replica_weights`.
    Weighted,
    /// The replica with the fewest connections in use (ties in turn).
    LeastBusy,
}

/// Where reads go when every replica is out of rotation (`replica_fallback = ".."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReplicaFallback {
    /// To the writer, on read-only sessions (the default).
    #[default]
    Writer,
    /// Nowhere: the read fails with [`crate::Error::NoReplica`].
    Error,
}

/// Replica settings of one database (its shards share them).
///
/// ```toml
/// [databases.primary]
/// url = "postgres://127.0.0.1:5432/app"
/// replicas = ["postgres://127.0.0.1:5433/app", "postgres://127.0.0.1:5434/app"]
/// replica_delay = "2s"             # read-your-writes window; "0" turns it off
/// consistency = "causal"           # "delay" (default) or "causal" (PostgreSQL, MariaDB)
/// causal_wait = "200ms"            # causal: longest wait for a replica to catch up
/// balance = "weighted"             # round_robin (default), random, weighted, least_busy
/// replica_weights = [3, 1]         # one per replica, with balance = "weighted"
/// max_replication_lag = "5s"       # take replicas further behind out (default: off)
/// replica_fallback = "writer"      # every replica out: "writer" (default) or "error"
/// replica_check_interval = "1s"    # lag checks; first retry of a failed replica
/// ```
///
/// ```
/// use std::time::Duration;
/// use grant_core::config::{Consistency, DatabaseConfig, ReplicationConfig};
/// let mut r = ReplicationConfig::default();
/// assert_eq!(r.replica_delay, Duration::from_secs(2));
/// r.consistency = Consistency::Causal;
/// let db = DatabaseConfig::new("postgres://127.0.0.1/app")
///     .replica("postgres://127.0.0.1:5433/app")
///     .replication(r);
/// assert_eq!(db.replication.consistency, Consistency::Causal);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicationConfig {
    /// Delay mode: how long after a write the same session reads that database (and
    /// shard) from the writer. Zero turns read-your-writes off. Default 2 s; at most 1 day.
    pub replica_delay: Duration,
    /// Delay (default) or causal read-your-writes.
    pub consistency: Consistency,
    /// Causal mode: the longest a read waits for a replica to replay the session's
    /// position before it reads from the writer. Zero checks once without waiting.
    /// Default 200 ms; at most 1 day.
    pub causal_wait: Duration,
    /// How reads are spread over the replicas.
    pub balance: Balance,
    /// Take a replica out of rotation while it is further behind than this, and back in
    /// once it has caught up. Lag is measured every `replica_check_interval` from
    /// replication positions (PostgreSQL WAL locations, MariaDB GTIDs): the age of the
    /// oldest writer position the replica has not replayed yet (a replica whose replication
    /// is stopped grows lag like one that is slow). PostgreSQL and MariaDB/MySQL only (a
    /// config error on SQLite). `None` (default): lag is not checked.
    pub max_replication_lag: Option<Duration>,
    /// Where reads go when every replica is out of rotation.
    pub replica_fallback: ReplicaFallback,
    /// How often lag (and, in causal mode, each replica's position) is checked, and how
    /// long a replica that failed stays out before the first retry (then doubling up to
    /// 30 s). Default 1 s; from 1 ms to 1 hour.
    pub replica_check_interval: Duration,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            replica_delay: DEFAULT_REPLICA_DELAY,
            consistency: Consistency::Delay,
            causal_wait: DEFAULT_CAUSAL_WAIT,
            balance: Balance::RoundRobin,
            max_replication_lag: None,
            replica_fallback: ReplicaFallback::Writer,
            replica_check_interval: DEFAULT_CHECK_INTERVAL,
        }
    }
}

impl Consistency {
    pub(crate) const CHOICES: &'static str = "delay, causal";
    pub(crate) fn parse(s: &str) -> Consistency {
        match s {
            "causal" => Consistency::Causal,
            _ => Consistency::Delay,
        }
    }
}

impl Balance {
    pub(crate) const CHOICES: &'static str = "round_robin, random, weighted, least_busy";
    pub(crate) fn parse(s: &str) -> Balance {
        match s {
            "random" => Balance::Random,
            "weighted" => Balance::Weighted,
            "least_busy" => Balance::LeastBusy,
            _ => Balance::RoundRobin,
        }
    }
}

impl ReplicaFallback {
    pub(crate) const CHOICES: &'static str = "writer, error";
    pub(crate) fn parse(s: &str) -> ReplicaFallback {
        match s {
            "error" => ReplicaFallback::Error,
            _ => ReplicaFallback::Writer,
        }
    }
}
