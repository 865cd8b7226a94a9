//! The model operations as the API calls them: first the shards (`route::shard`), then one
//! target (`ops`) or a scatter (`scatter`). Models without a shard key go straight to
//! `ops`, with no work added.

use crate::error::{Error, Result};
use crate::grant::Grant;
use crate::model::{Model, ModelMeta};
use crate::query::{Assignment, QueryParts, Select};
use crate::route::{Explicit, KeySource, Scatter, ShardPlan};
use crate::value::{ColumnType as _, Value};

use super::scatter::{self, ScatterReport, ShardOutcome};
use super::{ops, Access, Target};

/// Where a statement of a sharded model runs.
pub(crate) enum Planned<'e> {
    One(Target<'e>),
    Scatter(&'e Grant, Scatter),
}

pub(crate) fn plan<'e>(
    target: Target<'e>,
    meta: &ModelMeta,
    key: KeySource<'_>,
    deny_scatter: bool,
) -> Result<Planned<'e>> {
    let one = |g: &'e Grant, plan: ShardPlan| match plan {
        ShardPlan::One(Some(s)) => Planned::One(Target::Shard(g, s)),
        ShardPlan::One(None) => Planned::One(Target::Grant(g)),
        ShardPlan::Scatter(sc) => Planned::Scatter(g, sc),
    };
    Ok(match target {
        Target::Grant(g) => one(g, g.plan_shards(meta, Explicit::None, key, deny_scatter)?),
        Target::Shard(g, s) => {
            // Checks the shard exists (or that the database has shards at all).
            g.plan_shards(meta, Explicit::Shard(&s), key, deny_scatter)?;
            Planned::One(Target::Shard(g, s))
        }
        Target::At(g, pinned) => {
            let database = pinned.database.as_deref();
            let explicit = match &pinned.shard {
                Some(s) => Explicit::Shard(s),
                None => Explicit::None,
            };
            match g.plan_shards_in(meta, database, explicit, key, deny_scatter)? {
                ShardPlan::One(shard) => Planned::One(Target::At(
                    g,
                    crate::exec::Pinned {
                        shard: shard.or(pinned.shard.clone()),
                        ..pinned
                    },
                )),
                ShardPlan::Scatter(sc) => Planned::Scatter(g, sc),
            }
        }
        Target::Tx(tx) => {
            let grant = tx.grant().clone();
            match grant.plan_shards(meta, Explicit::Transaction(tx.shard()), key, deny_scatter)? {
                ShardPlan::One(_) => Planned::One(Target::Tx(tx)),
                ShardPlan::Scatter(_) => unreachable!("a transaction never scatters"),
            }
        }
    })
}

/// The plan of a query: its filters, its scatter policy, and a per-call deadline
/// (`Query::timeout`) over the database's.
pub(crate) fn plan_query<'e>(
    target: Target<'e>,
    meta: &ModelMeta,
    parts: &QueryParts,
) -> Result<Planned<'e>> {
    if meta.shard_key.is_empty() {
        return Ok(Planned::One(target));
    }
    let mut planned = plan(
        target,
        meta,
        KeySource::Filters(&parts.filters),
        parts.deny_scatter,
    )?;
    if let (Planned::Scatter(_, sc), Some(t)) = (&mut planned, parts.timeout) {
        sc.timeout = Some(t);
    }
    Ok(planned)
}

/// Rows of `M` for a SELECT.
pub(crate) async fn fetch_models<M: Model>(
    target: Target<'_>,
    select: Select<'_>,
    access: Access,
) -> Result<Vec<M>> {
    if M::META.shard_key.is_empty() {
        return ops::fetch_models(target, select, access).await;
    }
    match select {
        Select::Query(parts, limit) => match plan_query(target, M::META, parts)? {
            Planned::One(t) => ops::fetch_models(t, Select::Query(parts, limit), access).await,
            Planned::Scatter(g, sc) => {
                Ok(scatter::fetch_models::<M>(g, &sc, parts, limit).await?.rows)
            }
        },
        // Raw SQL cannot be merged: it runs on one shard, named or from the scope.
        raw @ Select::Raw { .. } => match plan(target, M::META, KeySource::Filters(&[]), true)? {
            Planned::One(t) => ops::fetch_models(t, raw, access).await,
            Planned::Scatter(..) => unreachable!("scatter denied"),
        },
    }
}

/// Rows of `M` with the outcome of every shard visited.
pub(crate) async fn fetch_report<M: Model>(
    target: Target<'_>,
    parts: &QueryParts,
) -> Result<ScatterReport<M>> {
    let planned = plan_query(target, M::META, parts)?;
    match planned {
        Planned::One(t) => {
            let shard = match &t {
                Target::Shard(_, s) => Some(s.to_string()),
                Target::At(_, p) => p.shard.as_deref().map(str::to_string),
                Target::Tx(tx) => tx.shard().map(str::to_string),
                _ => None,
            };
            let start = std::time::Instant::now();
            let rows = ops::fetch_models::<M>(t, Select::Query(parts, None), Access::Read).await?;
            Ok(ScatterReport {
                shards: vec![ShardOutcome {
                    shard,
                    rows: rows.len() as u64,
                    elapsed: start.elapsed(),
                    error: None,
                }],
                rows,
            })
        }
        Planned::Scatter(g, sc) => scatter::fetch_models::<M>(g, &sc, parts, None).await,
    }
}

/// The row of `M` with this key: on the key's shard when the key is the shard key,
/// otherwise a scatter that stops at the first hit.
pub(crate) async fn find<M: Model>(target: Target<'_>, key: Value) -> Result<Option<M>> {
    if M::META.shard_key.is_empty() {
        return ops::find(target, key).await;
    }
    match plan(target, M::META, KeySource::PrimaryKey(&key), false)? {
        Planned::One(t) => ops::find(t, key).await,
        Planned::Scatter(g, mut sc) => {
            // An id that names its shard: that shard first, the others only on a miss.
            if let Some(hint) = g.id_shard::<M>(&key).filter(|s| sc.shards.contains(s)) {
                let deadline = sc.timeout.map(|t| tokio::time::Instant::now() + t);
                let at = scatter::part_of(g, &sc, &hint, deadline);
                if let Some(row) = ops::find::<M>(at, key.clone()).await? {
                    return Ok(Some(row));
                }
                sc.shards.retain(|s| *s != hint);
            }
            scatter::first_hit(g, &sc, |t| ops::find::<M>(t, key.clone())).await
        }
    }
}

pub(crate) async fn count<M: Model>(target: Target<'_>, parts: &QueryParts) -> Result<i64> {
    if M::META.shard_key.is_empty() {
        return ops::count::<M>(target, parts).await;
    }
    match plan_query(target, M::META, parts)? {
        Planned::One(t) => ops::count::<M>(t, parts).await,
        Planned::Scatter(g, sc) => {
            let mut per_shard = parts.clone();
            per_shard.limit = None;
            per_shard.offset = None;
            let ran = scatter::run_each(g, &sc, |t| ops::count::<M>(t, &per_shard)).await;
            let (counts, _) = scatter::gather(&sc.database, ran, parts.partial, |n| *n as u64)?;
            let total: i64 = counts.iter().sum();
            // COUNT over `LIMIT l OFFSET o`: the rows of that page.
            let after_offset = (total - parts.offset.map_or(0, clamp)).max(0);
            Ok(match parts.limit {
                Some(l) => after_offset.min(clamp(l)),
                None => after_offset,
            })
        }
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) async fn exists<M: Model>(target: Target<'_>, parts: &QueryParts) -> Result<bool> {
    if M::META.shard_key.is_empty() {
        return ops::exists::<M>(target, parts).await;
    }
    match plan_query(target, M::META, parts)? {
        Planned::One(t) => ops::exists::<M>(t, parts).await,
        Planned::Scatter(g, sc) => {
            if parts.offset.is_some() || parts.limit == Some(0) {
                // A page of the merged order: count it.
                return Ok(count::<M>(Target::Grant(g), parts).await? > 0);
            }
            let hit = scatter::first_hit(g, &sc, |t| async move {
                Ok(ops::exists::<M>(t, parts).await?.then_some(()))
            })
            .await?;
            Ok(hit.is_some())
        }
    }
}

/// The values of `m`, for its shard key (only for sharded models).
fn row_values<M: Model>(m: &M) -> Vec<Value> {
    m.values()
}

pub(crate) async fn insert<M: Model>(target: Target<'_>, m: &mut M) -> Result<()> {
    if M::META.generate.is_some() {
        crate::keys::grant_of(&target).assign_key(m)?;
    }
    if M::META.shard_key.is_empty() {
        return ops::insert(target, m).await;
    }
    let values = row_values(m);
    match plan(target, M::META, KeySource::Row(&values), true)? {
        Planned::One(t) => ops::insert(t, m).await,
        Planned::Scatter(..) => unreachable!("a row has one shard"),
    }
}

pub(crate) async fn insert_all<M: Model>(
    target: Target<'_>,
    rows: &mut [M],
    read_keys: bool,
) -> Result<u64> {
    if M::META.generate.is_some() && !rows.is_empty() {
        let grant = crate::keys::grant_of(&target);
        for m in rows.iter_mut() {
            grant.assign_key(m)?;
        }
    }
    if M::META.shard_key.is_empty() || rows.is_empty() {
        return ops::insert_all(target, rows, read_keys).await;
    }
    let values = || rows.iter().map(|m| row_values(m));
    let (grant, pinned) = match &target {
        Target::Tx(tx) => {
            // Every row must belong on the transaction's shard.
            tx.grant()
                .plan_rows(M::META, None, Explicit::Transaction(tx.shard()), values())?;
            return ops::insert_all(target, rows, read_keys).await;
        }
        Target::Grant(g) => (*g, crate::exec::Pinned::default()),
        Target::Shard(g, s) => (
            *g,
            crate::exec::Pinned {
                shard: Some(s.clone()),
                ..Default::default()
            },
        ),
        Target::At(g, p) => (*g, p.clone()),
    };
    if let Some(s) = &pinned.shard {
        // A shard named on the call wins (checked to exist).
        grant.plan_shards_in(
            M::META,
            pinned.database.as_deref(),
            Explicit::Shard(s),
            KeySource::Filters(&[]),
            true,
        )?;
        return ops::insert_all(target, rows, read_keys).await;
    }
    // Every row must belong on the same shard: a multi-shard insert could not be atomic.
    let shards = grant.plan_rows(
        M::META,
        pinned.database.as_deref(),
        Explicit::None,
        values(),
    )?;
    if shards.len() > 1 {
        return Err(Error::CrossShardWrite {
            model: M::META.name,
            op: "insert_all",
            shards: shards.len(),
        });
    }
    let shard = shards.into_iter().next().flatten();
    let t = Target::At(grant, crate::exec::Pinned { shard, ..pinned });
    ops::insert_all(t, rows, read_keys).await
}

pub(crate) async fn update<M: Model>(target: Target<'_>, m: &mut M) -> Result<bool> {
    if M::META.shard_key.is_empty() {
        return ops::update(target, m).await;
    }
    let values = row_values(m);
    match plan(target, M::META, KeySource::Row(&values), true)? {
        Planned::One(Target::Shard(g, to)) => {
            let updated = ops::update(Target::Shard(g, to.clone()), m).await?;
            if !updated {
                key_moved::<M>(g, &m.key().to_value(), &to).await?;
            }
            Ok(updated)
        }
        Planned::One(t) => ops::update(t, m).await,
        Planned::Scatter(..) => unreachable!("a row has one shard"),
    }
}

/// After an update by key changed nothing on shard `to`: if the row is on another shard,
/// its shard key was changed ([`Error::ShardKeyChanged`]). Looked up only on this path
/// (nothing matched), so an ordinary update costs nothing more.
async fn key_moved<M: Model>(grant: &Grant, key: &Value, to: &std::sync::Arc<str>) -> Result<()> {
    let plan = match grant.plan_shards(M::META, Explicit::None, KeySource::PrimaryKey(key), false) {
        Ok(ShardPlan::Scatter(mut sc)) => {
            sc.shards.retain(|s| s != to);
            sc
        }
        // Scatter denied, or the key is the shard key: nothing to look for.
        _ => return Ok(()),
    };
    let found = scatter::first_hit(grant, &plan, |t| {
        let key = key.clone();
        async move {
            let shard = match &t {
                Target::At(_, p) => p.shard.clone().unwrap_or_else(|| std::sync::Arc::from("")),
                _ => unreachable!(),
            };
            Ok(ops::find::<M>(t, key).await?.map(|_: M| shard))
        }
    })
    .await?;
    match found {
        Some(from) => Err(Error::ShardKeyChanged {
            model: M::META.name,
            key: crate::route::key_names(M::META),
            primary_key: key.to_string(),
            from,
            to: to.clone(),
        }),
        None => Ok(()),
    }
}

pub(crate) async fn delete<M: Model>(target: Target<'_>, m: &M) -> Result<bool> {
    let key = m.key().to_value();
    if M::META.shard_key.is_empty() {
        return ops::delete_by_key::<M>(target, key).await;
    }
    let values = row_values(m);
    match plan(target, M::META, KeySource::Row(&values), true)? {
        Planned::One(t) => ops::delete_by_key::<M>(t, key).await,
        Planned::Scatter(..) => unreachable!("a row has one shard"),
    }
}

pub(crate) async fn update_all<M: Model>(
    target: Target<'_>,
    parts: &QueryParts,
    assignments: &[Assignment],
) -> Result<u64> {
    if M::META.shard_key.is_empty() {
        return ops::update_all::<M>(target, parts, assignments).await;
    }
    if let Some(a) = assignments.iter().find(|a| {
        M::META
            .shard_key
            .iter()
            .any(|&i| M::META.columns[i].name == a.column)
    }) {
        return Err(Error::InvalidQuery {
            model: M::META.name,
            message: format!(
                "update_all cannot set shard key `{}`: rows would have to move to another shard",
                a.column
            ),
        });
    }
    let report = write_all::<M, _, _>(target, parts, "update_all", |t| {
        ops::update_all::<M>(t, parts, assignments)
    })
    .await?;
    Ok(report.into_iter().map(|(_, n)| n).sum())
}

pub(crate) async fn delete_all<M: Model>(target: Target<'_>, parts: &QueryParts) -> Result<u64> {
    if M::META.shard_key.is_empty() {
        return ops::delete_all::<M>(target, parts).await;
    }
    let report = write_all::<M, _, _>(target, parts, "delete_all", |t| {
        ops::delete_all::<M>(t, parts)
    })
    .await?;
    Ok(report.into_iter().map(|(_, n)| n).sum())
}

/// `update_all` / `delete_all` per shard: `(shard, rows changed)`.
pub(crate) async fn write_all_report<M: Model>(
    target: Target<'_>,
    parts: &QueryParts,
    assignments: Option<&[Assignment]>,
) -> Result<Vec<(String, u64)>> {
    match assignments {
        Some(a) => {
            write_all::<M, _, _>(target, parts, "update_all", |t| {
                ops::update_all::<M>(t, parts, a)
            })
            .await
        }
        None => {
            write_all::<M, _, _>(target, parts, "delete_all", |t| {
                ops::delete_all::<M>(t, parts)
            })
            .await
        }
    }
}

async fn write_all<'e, M, F, Fut>(
    target: Target<'e>,
    parts: &QueryParts,
    op: &'static str,
    f: F,
) -> Result<Vec<(String, u64)>>
where
    M: Model,
    F: Fn(Target<'e>) -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let planned = plan_query(target, M::META, parts)?;
    match planned {
        Planned::One(t) => {
            let shard = match &t {
                Target::Shard(_, s) => s.to_string(),
                Target::At(_, p) => p.shard.as_deref().unwrap_or_default().to_string(),
                Target::Tx(tx) => tx.shard().unwrap_or_default().to_string(),
                _ => String::new(),
            };
            Ok(vec![(shard, f(t).await?)])
        }
        Planned::Scatter(g, sc) => {
            if sc.shards.len() > 1 && !parts.across_shards {
                return Err(Error::CrossShardWrite {
                    model: M::META.name,
                    op,
                    shards: sc.shards.len(),
                });
            }
            let ran = scatter::run_each(g, &sc, f).await;
            let mut written = Vec::new();
            let mut failed = Vec::new();
            for part in ran {
                match part.result {
                    Ok(n) => written.push((part.shard.to_string(), n)),
                    Err(e) => failed.push((part.shard.to_string(), e)),
                }
            }
            if failed.is_empty() {
                Ok(written)
            } else {
                Err(Error::PartialWrite {
                    model: M::META.name,
                    op,
                    written,
                    failed,
                })
            }
        }
    }
}
