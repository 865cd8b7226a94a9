//! Choosing a replica: round-robin, random, weighted or least-busy, among the replicas in
//! rotation, and preferring one known to have replayed a causal position.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rand::Rng as _;

use crate::config::Balance;
use crate::session::Position;

use super::pool::PoolSlot;
use super::Targets;

impl Targets {
    /// A replica in rotation by the database's `balance`; `None` when every one is out.
    #[inline]
    pub(super) fn pick(&self) -> Option<&Arc<PoolSlot>> {
        let n = self.replicas.len();
        if n == 1 {
            let only = &self.replicas[0];
            return only.health.is_up().then_some(only);
        }
        match self.replication.balance {
            Balance::RoundRobin => self.first_up_from(self.next.fetch_add(1, Ordering::Relaxed)),
            Balance::Random => self.first_up_from(rand::thread_rng().gen_range(0..n)),
            Balance::Weighted => self.weighted(),
            Balance::LeastBusy => self.least_busy(),
        }
    }

    /// The first replica in rotation at or after `start` (modulo their number).
    #[inline]
    fn first_up_from(&self, start: usize) -> Option<&Arc<PoolSlot>> {
        let n = self.replicas.len();
        (0..n)
            .map(|i| &self.replicas[(start + i) % n])
            .find(|s| s.health.is_up())
    }

    fn weighted(&self) -> Option<&Arc<PoolSlot>> {
        let total: u64 = self
            .replicas
            .iter()
            .filter(|s| s.health.is_up())
            .map(|s| u64::from(s.health.weight))
            .sum();
        if total == 0 {
            return None;
        }
        let mut left = rand::thread_rng().gen_range(0..total);
        for s in self.replicas.iter().filter(|s| s.health.is_up()) {
            let w = u64::from(s.health.weight);
            if left < w {
                return Some(s);
            }
            left -= w;
        }
        None
    }

    fn least_busy(&self) -> Option<&Arc<PoolSlot>> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &self.replicas[(start + i) % n])
            .filter(|s| s.health.is_up())
            .min_by_key(|s| {
                s.created().map_or(0, |p| {
                    p.size() as usize - p.num_idle().min(p.size() as usize)
                })
            })
    }

    /// Causal reads: a replica in rotation known to have replayed `need` (no round trip
    /// needed), searched in turn.
    #[inline]
    pub(crate) fn caught_up(&self, need: &Position) -> Option<&Arc<PoolSlot>> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &self.replicas[(start + i) % n])
            .find(|s| s.health.is_up() && s.health.covers(need))
    }
}
