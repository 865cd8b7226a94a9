//! Routing one statement: from the model, the scope and the session to the pool that runs
//! it, plus what must happen around it (a causal wait on the replica, recording the write
//! in the session, failing over to another replica).

use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;
use crate::error::{Error, ReadOnlyReason, Result};
use crate::exec::{Access, Request};
use crate::grant::Grant;
use crate::handler::{DatabaseEntry, PoolSlot, Targets};
use crate::role::Role;
use crate::session::{Position, Session};

mod shard;

pub(crate) use shard::{key_names, Explicit, KeySource, Scatter, ShardPlan};

/// A routed statement: the pool, and the session bookkeeping around it.
#[derive(Debug, Clone)]
pub(crate) struct Routed<'g> {
    pub(crate) slot: Arc<PoolSlot>,
    /// Causal read: the position the replica must have replayed first, and how long to
    /// wait for it.
    pub(crate) wait_for: Option<(Position, Duration)>,
    /// What to record in the session afterwards.
    pub(crate) track: Option<Track>,
    /// The handle that routed it (to route again after a failure); `None`: no failover.
    pub(crate) grant: Option<&'g Grant>,
}

/// Session bookkeeping of one statement.
#[derive(Debug, Clone)]
pub(crate) struct Track {
    pub(crate) session: Session,
    /// The database whose writes the session records (the writer's entry).
    pub(crate) database: Arc<str>,
    pub(crate) shard: Option<Arc<str>>,
    pub(crate) kind: TrackKind,
}

impl Track {
    /// The bookkeeping of a write on `slot` (a writer of `entry`): `None` outside a session
    /// or where nothing is recorded (no replicas, read-your-writes off).
    pub(crate) fn write(entry: &DatabaseEntry, slot: &PoolSlot) -> Option<Track> {
        if !entry.tracks_writes() {
            return None;
        }
        Session::with_current(|s| Track {
            session: s.clone(),
            database: entry.name().clone(),
            shard: slot.key().shard.clone(),
            kind: TrackKind::Write {
                causal: entry.causal(),
            },
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackKind {
    /// A write: record its time (and, causal, the writer's position after it).
    Write { causal: bool },
    /// A causal read on a replica: record the position it was served at.
    Read,
}

impl<'g> Routed<'g> {
    pub(crate) fn plain(slot: Arc<PoolSlot>) -> Routed<'g> {
        Routed {
            slot,
            wait_for: None,
            track: None,
            grant: None,
        }
    }
}

/// Why a read is routed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Again {
    /// The replica failed (taken out of rotation): another replica or the writer.
    Failed,
    /// Causal: the replica did not catch up within `causal_wait`: the writer.
    Behind,
}

impl Grant {
    /// Pick the pool for a statement.
    ///
    /// Order: the scope's role and shard (`connected_to`) -> the model's routing
    /// (`connects_to`) -> the default database. Reads use the reading role unless the
    /// scope says otherwise (replicas, or the writer's read-only sessions), or the current
    /// session wrote to the database recently (delay mode: the writer's read-only sessions
    /// for `replica_delay`; causal mode: a replica that has replayed the write). Writes use
    /// the writer and are refused, before any SQL is sent, in a reading or prevent-writes
    /// scope and on a read-only database.
    #[inline]
    pub(crate) fn route(&self, req: &Request<'_>) -> Result<Routed<'_>> {
        Context::with_current(|ctx| self.route_in(ctx, req, None))
    }

    /// Route a read again after `why`, away from `failed`.
    pub(crate) fn reroute(
        &self,
        req: &Request<'_>,
        failed: &Arc<PoolSlot>,
        why: Again,
    ) -> Result<Routed<'_>> {
        let routed = Context::with_current(|ctx| self.route_in(ctx, req, Some(why)))?;
        if Arc::ptr_eq(&routed.slot, failed) {
            // Raced with the probe (already re-admitted): the writer instead.
            return Context::with_current(|ctx| self.route_in(ctx, req, Some(Again::Behind)));
        }
        Ok(routed)
    }

    fn route_in(
        &self,
        ctx: &Context,
        req: &Request<'_>,
        again: Option<Again>,
    ) -> Result<Routed<'_>> {
        if !req.shards.is_empty() {
            // Rails-style shards: the shard names the entries; route as that model.
            let mapped = mapped(req, ctx)?;
            let plain = Context {
                shard: None,
                ..ctx.clone()
            };
            return self.route_in(&plain, &mapped, again);
        }
        let database = req.database.unwrap_or(self.default_name());
        // An explicit shard (`on_shard`, or the shard a key resolved to) over the scope's.
        let shard = req.shard.or(ctx.shard.as_deref());
        let routed = match req.access {
            Access::Write => self.route_write(ctx, req, database, shard)?,
            Access::Read => self.route_read(ctx, req, database, shard, again)?,
        };
        tracing::trace!(
            model = req.model,
            database = %routed.slot.key().database,
            role = %routed.slot.key().role,
            shard = routed.slot.key().shard.as_deref(),
            pool = %routed.slot.key().kind,
            access = ?req.access,
            causal_wait = routed.wait_for.is_some(),
            "grant: routed"
        );
        Ok(routed)
    }

    fn route_write(
        &self,
        ctx: &Context,
        req: &Request<'_>,
        database: &str,
        shard: Option<&str>,
    ) -> Result<Routed<'_>> {
        let role = ctx.check_write(database)?;
        let entry = self
            .handler()
            .role_entry(database, &role)
            .map_err(|e| named(e, req))?;
        let targets = entry.targets(shard).map_err(|e| named(e, req))?;
        if entry.readonly() || targets.readonly() {
            return Err(Error::ReadOnly {
                database: entry.name().to_string(),
                shard: shard.map(str::to_string),
                role,
                reason: if entry.readonly() {
                    ReadOnlyReason::ReadonlyDatabase
                } else {
                    ReadOnlyReason::ReadonlyShard
                },
            });
        }
        let slot = targets.writer().clone();
        let track = Track::write(&entry, &slot);
        Ok(Routed {
            slot,
            wait_for: None,
            track,
            grant: None,
        })
    }

    fn route_read(
        &self,
        ctx: &Context,
        req: &Request<'_>,
        database: &str,
        shard: Option<&str>,
        again: Option<Again>,
    ) -> Result<Routed<'_>> {
        let handler = self.handler();
        let role = ctx.role.as_ref().unwrap_or(&Role::Reading);
        if let Role::Custom(_) = role {
            let slot = handler
                .read_slot(database, role, shard, ctx.prevent_writes)
                .map_err(|e| named(e, req))?;
            return Ok(self.balanced(slot));
        }
        // `#[connects_to(reading = ..)]` names the entry that serves reads.
        let reading = match (role, req.reading) {
            (Role::Reading, Some(reading)) => Some(reading),
            _ => None,
        };
        // No session to honour (or an explicit role): one lookup, of the entry that reads.
        if again.is_none() && (ctx.role.is_some() || !Session::active()) {
            let slot = handler
                .read_slot(reading.unwrap_or(database), role, shard, ctx.prevent_writes)
                .map_err(|e| named(e, req))?;
            return Ok(self.balanced(slot));
        }
        // In a session: the writer's entry is held by `Arc`, not under the map's guard, so
        // that looking up a `connects_to(reading = ..)` entry never nests two guards (a
        // concurrent `add_database` waiting between them would deadlock).
        let entry = handler.database(database).map_err(|e| named(e, req))?;
        let targets = entry.targets(shard).map_err(|e| named(e, req))?;
        // Sessions matter only where the scope leaves the choice to Grant.
        if ctx.role.is_none() && entry.tracks_writes() {
            if let Some(routed) = Session::with_current(|s| {
                self.session_read(s, &entry, targets, reading, shard, again)
            })
            .transpose()
            .map_err(|e| named(e, req))?
            .flatten()
            {
                return Ok(routed);
            }
        }
        if again == Some(Again::Behind) {
            return Ok(Routed::plain(targets.writer_read_only().clone()));
        }
        let slot = match reading {
            Some(name) => handler
                .read_slot(name, role, shard, ctx.prevent_writes)
                .map_err(|e| named(e, req))?,
            None => targets.for_reads(role, ctx.prevent_writes)?.clone(),
        };
        Ok(self.balanced(slot))
    }

    /// A read chosen by balancing: a replica may fail over.
    #[inline]
    fn balanced(&self, slot: Arc<PoolSlot>) -> Routed<'_> {
        let failover = slot.key().kind != crate::handler::PoolKind::Writer;
        Routed {
            slot,
            wait_for: None,
            track: None,
            grant: failover.then_some(self),
        }
    }

    /// The read of a session on a database that records writes: `None` when the session
    /// changes nothing (no recent write, no position to honour).
    fn session_read(
        &self,
        session: &Session,
        entry: &DatabaseEntry,
        targets: &Targets,
        reading: Option<&str>,
        shard: Option<&str>,
        again: Option<Again>,
    ) -> Result<Option<Routed<'_>>> {
        let r = targets.replication();
        let (recent, position) = session.read_needs(entry.name(), shard, r.replica_delay);
        let causal = entry.causal();
        let writer = || Ok(Some(Routed::plain(targets.writer_read_only().clone())));
        if again == Some(Again::Behind) {
            return writer();
        }
        if !causal {
            return if recent { writer() } else { Ok(None) };
        }
        // Causal: the reading targets (a `replica_of` entry, or this shard's replicas).
        let track = || Track {
            session: session.clone(),
            database: entry.name().clone(),
            shard: shard.map(Arc::from),
            kind: TrackKind::Read,
        };
        let pick = |rt: &Targets| -> Result<Option<Routed<'_>>> {
            let (slot, wait_for) = match &position {
                Some(need) => match rt.caught_up(need) {
                    Some(slot) => (slot.clone(), None),
                    None => {
                        // With every replica out, a session that must see its write reads
                        // the writer, whatever `replica_fallback` says for other reads.
                        let Ok(slot) = rt.reader() else {
                            return writer();
                        };
                        let slot = slot.clone();
                        let wait = (slot.read_only_session()
                            && slot.key().kind != crate::handler::PoolKind::WriterReadOnly)
                            .then(|| (need.clone(), r.causal_wait));
                        (slot, wait)
                    }
                },
                None if recent => return writer(),
                None => (rt.reader()?.clone(), None),
            };
            Ok(Some(Routed {
                slot,
                wait_for,
                track: Some(track()),
                grant: Some(self),
            }))
        };
        match reading {
            Some(name) => self
                .handler()
                .with_entry(name, |re| pick(re.targets(shard)?)),
            None => pick(targets),
        }
    }
}

/// A request of a model with `#[connects_to(shards(..))]`, as a request of the entry its
/// shard names: the call's shard, else the scope's, else the first listed.
pub(crate) fn mapped<'a>(req: &Request<'a>, ctx: &Context) -> Result<Request<'a>> {
    let entry =
        match req.shard.or(ctx.shard.as_deref()) {
            None => &req.shards[0],
            Some(name) => req.shards.iter().find(|s| s.name == name).ok_or_else(|| {
                Error::UnknownModelShard {
                    model: req.model,
                    shard: name.to_string(),
                    expected: req
                        .shards
                        .iter()
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })?,
        };
    Ok(Request {
        database: Some(entry.writing),
        reading: entry.reading,
        shard: None,
        shards: &[],
        ..*req
    })
}

/// Name the model whose routing pointed at an unknown database.
fn named(e: Error, req: &Request<'_>) -> Error {
    let model = (req.model != "raw").then_some(req.model);
    match e {
        Error::UnknownDatabase { database, .. } => Error::UnknownDatabase { database, model },
        Error::NotSharded {
            database, shard, ..
        } => Error::NotSharded {
            database,
            shard,
            model,
        },
        other => other,
    }
}
