//! Deciding the shards of a statement of a sharded model: explicit source (a shard named
//! on the call, a shard scope, a transaction) > the shard key through the database's
//! resolver > every shard (a scatter, unless denied).
//!
//! No SQL and no I/O here: the executor (`exec/scatter.rs`) runs what this decides.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use grant_sharding::prune::{prune, KeyFilter, ShardSet};
use grant_sharding::{ShardResolver, ShardValue};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::grant::Grant;
use crate::handler::DatabaseEntry;
use crate::model::ModelMeta;
use crate::query::{CmpOp, Expr};
use crate::value::Value;

/// What a statement says about its shard key.
#[derive(Debug)]
pub(crate) enum KeySource<'a> {
    /// A row's values in `META.columns` order (writes of a row).
    Row(&'a [Value]),
    /// A query's filters (AND-ed).
    Filters(&'a [Expr]),
    /// A lookup by primary key.
    PrimaryKey(&'a Value),
}

/// Where a statement runs.
#[derive(Debug, Clone)]
pub(crate) enum ShardPlan {
    /// One target: this shard, or (`None`) the database itself / the scope's shard.
    One(Option<Arc<str>>),
    /// Several shards (sorted; possibly none, when no shard can hold a matching row).
    Scatter(Scatter),
}

/// A statement sent to several shards.
#[derive(Debug, Clone)]
pub(crate) struct Scatter {
    pub(crate) database: Arc<str>,
    pub(crate) shards: Vec<Arc<str>>,
    /// Shards queried at once.
    pub(crate) concurrency: usize,
    /// One deadline for the whole scatter.
    pub(crate) timeout: Option<Duration>,
}

/// The explicit source of a statement, if any.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Explicit<'a> {
    /// Nothing explicit: the scope's shard, then the key.
    None,
    /// A shard named on the call (`Grant::on_shard`).
    Shard(&'a str),
    /// A transaction pinned to this shard (`None`: the database itself).
    Transaction(Option<&'a str>),
}

impl Grant {
    /// The shards a statement of the model `meta` runs on.
    ///
    /// `deny_scatter`: the call refuses to visit every shard. Unsharded models (no
    /// `#[shard_by]`) return at once: `One(None)`, routed as before.
    pub(crate) fn plan_shards(
        &self,
        meta: &ModelMeta,
        explicit: Explicit<'_>,
        key: KeySource<'_>,
        deny_scatter: bool,
    ) -> Result<ShardPlan> {
        self.plan_shards_in(meta, None, explicit, key, deny_scatter)
    }

    /// [`Grant::plan_shards`] on `database` instead of the model's (a database named on
    /// the call).
    pub(crate) fn plan_shards_in(
        &self,
        meta: &ModelMeta,
        database: Option<&str>,
        explicit: Explicit<'_>,
        key: KeySource<'_>,
        deny_scatter: bool,
    ) -> Result<ShardPlan> {
        if meta.shard_key.is_empty() {
            return Ok(match explicit {
                Explicit::Shard(s) => ShardPlan::One(Some(Arc::from(s))),
                _ => ShardPlan::One(None),
            });
        }
        let database = database.or(meta.database).unwrap_or(self.default_name());
        let scope_shard = Context::with_current(|ctx| ctx.shard.clone());
        self.handler()
            .with_entry(database, |entry| {
                plan_in(
                    entry,
                    meta,
                    explicit,
                    scope_shard.as_deref(),
                    key,
                    deny_scatter,
                )
            })
            .map_err(|e| named_model(e, meta))
    }

    /// The shards of `rows` (each row's values in `META.columns` order) of `meta`, looked
    /// up under one entry guard for all of them; `None` in the set for rows of an
    /// unsharded model. Errors as [`Grant::plan_shards`] for each row (a row for another
    /// shard than a transaction's is [`Error::WrongShard`]).
    pub(crate) fn plan_rows(
        &self,
        meta: &ModelMeta,
        database: Option<&str>,
        explicit: Explicit<'_>,
        rows: impl Iterator<Item = Vec<Value>>,
    ) -> Result<std::collections::BTreeSet<Option<Arc<str>>>> {
        let mut shards = std::collections::BTreeSet::new();
        if meta.shard_key.is_empty() {
            shards.insert(None);
            return Ok(shards);
        }
        let database = database.or(meta.database).unwrap_or(self.default_name());
        let scope_shard = Context::with_current(|ctx| ctx.shard.clone());
        self.handler()
            .with_entry(database, |entry| {
                for row in rows {
                    let plan = plan_in(
                        entry,
                        meta,
                        explicit,
                        scope_shard.as_deref(),
                        KeySource::Row(&row),
                        true,
                    )?;
                    if let ShardPlan::One(s) = plan {
                        shards.insert(s);
                    }
                }
                Ok(())
            })
            .map_err(|e| named_model(e, meta))?;
        Ok(shards)
    }

    /// The shard of one row of `meta` (its shard key through the resolver); `None` for a
    /// model without a shard key.
    pub(crate) fn shard_of_row(&self, meta: &ModelMeta, row: &[Value]) -> Result<Option<Arc<str>>> {
        match self.plan_shards(meta, Explicit::None, KeySource::Row(row), true)? {
            ShardPlan::One(s) => Ok(s),
            ShardPlan::Scatter(_) => Err(Error::ShardKeyMissing {
                model: meta.name,
                key: meta.columns[meta.shard_key[0]].name,
            }),
        }
    }
}

/// Name the model whose database is unknown.
fn named_model(e: Error, meta: &ModelMeta) -> Error {
    match e {
        Error::UnknownDatabase { database, .. } => Error::UnknownDatabase {
            database,
            model: Some(meta.name),
        },
        other => other,
    }
}

fn plan_in(
    entry: &DatabaseEntry,
    meta: &ModelMeta,
    explicit: Explicit<'_>,
    scope_shard: Option<&str>,
    key: KeySource<'_>,
    deny_scatter: bool,
) -> Result<ShardPlan> {
    let known = |name: &str| -> Result<Arc<str>> {
        entry.shard_arc(name).ok_or_else(|| {
            if entry.is_sharded() {
                Error::UnknownShard {
                    database: entry.name().to_string(),
                    shard: name.to_string(),
                }
            } else {
                Error::NotSharded {
                    database: entry.name().to_string(),
                    shard: name.to_string(),
                    model: Some(meta.name),
                }
            }
        })
    };
    // Explicit source first: a shard named on the call, then the scope's shard.
    let pinned = match explicit {
        Explicit::Shard(s) => return Ok(ShardPlan::One(Some(known(s)?))),
        Explicit::Transaction(tx) => Some(tx),
        Explicit::None => {
            if let Some(s) = scope_shard {
                return Ok(ShardPlan::One(Some(known(s)?)));
            }
            None
        }
    };
    let routing = entry.sharding().ok_or_else(|| Error::NoResolver {
        model: meta.name,
        key: key_names(meta),
        database: entry.name().to_string(),
    })?;
    let resolver = routing.resolver(entry.name())?;
    let shard_err = |e| Error::Shard {
        database: entry.name().to_string(),
        source: Box::new(e),
    };
    // One shard straight from the key (writes of a row, a lookup by a key that is the
    // shard key): no set is built.
    let single = match key {
        KeySource::Row(row) => Some(row_key(meta, row)?),
        KeySource::PrimaryKey(pk) if meta.shard_key == [meta.primary_key] => {
            match shard_value(pk) {
                Some(v) => Some(v),
                None => return Ok(scatter(entry, routing, Vec::new())),
            }
        }
        _ => None,
    };
    let set = match single {
        Some(value) => {
            let name = resolver.resolve(&value).map_err(shard_err)?;
            if pinned.is_none() {
                return Ok(ShardPlan::One(Some(known(&name)?)));
            }
            ShardSet::only([name])
        }
        None => match key {
            KeySource::Filters(filters) => {
                prune(resolver, &key_filter(meta, filters)).map_err(shard_err)?
            }
            _ => ShardSet::All,
        },
    };
    match pinned {
        Some(tx) => in_transaction(entry, meta, tx, &set),
        None => match set {
            ShardSet::All => {
                if deny_scatter || !routing.scatter() {
                    return Err(Error::ScatterDenied {
                        model: meta.name,
                        key: key_names(meta),
                    });
                }
                let mut shards: Vec<Arc<str>> = resolver
                    .shards()
                    .into_iter()
                    .map(known)
                    .collect::<Result<_>>()?;
                if shards.is_empty() {
                    shards = entry.shard_names();
                }
                shards.sort();
                Ok(scatter(entry, routing, shards))
            }
            ShardSet::Only(set) if set.len() == 1 => {
                let name = set.into_iter().next().expect("one shard");
                Ok(ShardPlan::One(Some(known(&name)?)))
            }
            ShardSet::Only(set) => {
                let shards = set.iter().map(|s| known(s)).collect::<Result<Vec<_>>>()?;
                Ok(scatter(entry, routing, shards))
            }
        },
    }
}

fn scatter(
    entry: &DatabaseEntry,
    routing: &crate::handler::ShardRouting,
    shards: Vec<Arc<str>>,
) -> ShardPlan {
    ShardPlan::Scatter(Scatter {
        database: entry.name().clone(),
        shards,
        concurrency: routing.concurrency(),
        timeout: routing.timeout(),
    })
}

/// A statement in a transaction runs on the transaction's shard, unless its key places
/// it only on other shards.
fn in_transaction(
    entry: &DatabaseEntry,
    meta: &ModelMeta,
    tx: Option<&str>,
    set: &ShardSet<'_>,
) -> Result<ShardPlan> {
    let fits = match (set, tx) {
        (ShardSet::All, _) => true,
        (ShardSet::Only(set), Some(tx)) => set.iter().any(|s| s == tx),
        (ShardSet::Only(_), None) => false,
    };
    if fits {
        return Ok(ShardPlan::One(tx.and_then(|s| entry.shard_arc(s))));
    }
    let statement = match set {
        ShardSet::Only(set) if !set.is_empty() => set
            .iter()
            .map(|s| s.as_ref())
            .collect::<Vec<&str>>()
            .join("`, `"),
        _ => "(none)".to_string(),
    };
    Err(Error::WrongShard {
        model: meta.name,
        transaction: tx.map(str::to_string),
        statement,
    })
}

/// The shard key column names, joined for errors.
pub(crate) fn key_names(meta: &ModelMeta) -> String {
    meta.shard_key
        .iter()
        .map(|&i| meta.columns[i].name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The shard-key value of a row; a composite key is the components joined (see
/// [`composite`]).
fn row_key(meta: &ModelMeta, row: &[Value]) -> Result<ShardValue> {
    let missing = |i: usize| Error::ShardKeyMissing {
        model: meta.name,
        key: meta.columns[i].name,
    };
    if let [i] = meta.shard_key {
        return row.get(*i).and_then(shard_value).ok_or_else(|| missing(*i));
    }
    let mut parts = Vec::with_capacity(meta.shard_key.len());
    for &i in meta.shard_key {
        parts.push(row.get(i).and_then(shard_value).ok_or_else(|| missing(i))?);
    }
    Ok(composite(&parts))
}

/// A composite shard key as one value: the components' text forms joined by `U+001F`
/// (unit separator), as [`ShardValue::Text`]. Hash and lookup resolvers take it; the
/// integer resolvers (modulo, range) refuse it with a typed error.
pub(crate) fn composite(parts: &[ShardValue]) -> ShardValue {
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push('\u{1f}');
        }
        out.push_str(&p.to_string());
    }
    ShardValue::Text(out)
}

/// A bound value as a shard-key value; `None` for NULL and for types that cannot be
/// shard keys (the derive refuses such key fields).
pub(crate) fn shard_value(v: &Value) -> Option<ShardValue> {
    Some(match v {
        Value::I16(n) => ShardValue::Int(i64::from(*n)),
        Value::I32(n) => ShardValue::Int(i64::from(*n)),
        Value::I64(n) => ShardValue::Int(*n),
        Value::Text(s) => ShardValue::Text(s.clone()),
        Value::Uuid(u) => ShardValue::Uuid(u.into_bytes()),
        Value::DateTimeUtc(t) => ShardValue::Timestamp(t.timestamp()),
        Value::NaiveDateTime(t) => ShardValue::Timestamp(t.and_utc().timestamp()),
        Value::NaiveDate(d) => {
            use chrono::Datelike;
            ShardValue::Date {
                year: d.year(),
                month: d.month(),
                day: d.day(),
            }
        }
        _ => return None,
    })
}

/// What the query's filters say about the shard key (AND of the top-level filters).
fn key_filter(meta: &ModelMeta, filters: &[Expr]) -> KeyFilter {
    match meta.shard_key {
        [i] => {
            let column = meta.columns[*i].name;
            KeyFilter::And(filters.iter().map(|f| on_column(f, column)).collect())
        }
        // Composite: only `a = x AND b = y` at the top level pins a shard.
        composite_key => {
            let mut parts = Vec::with_capacity(composite_key.len());
            for &i in composite_key {
                let column = meta.columns[i].name;
                let found = filters.iter().find_map(|f| match f {
                    Expr::Cmp {
                        column: c,
                        op: CmpOp::Eq,
                        value,
                    } if *c == column => shard_value(value),
                    _ => None,
                });
                match found {
                    Some(v) => parts.push(v),
                    None => return KeyFilter::Any,
                }
            }
            KeyFilter::Eq(composite(&parts))
        }
    }
}

/// One filter as a [`KeyFilter`] on `column`; conditions on other columns, `NOT`,
/// `<>`, `LIKE` and values that cannot be keys are [`KeyFilter::Any`] (safe: they only
/// widen the shards visited).
fn on_column(expr: &Expr, column: &str) -> KeyFilter {
    match expr {
        Expr::Cmp {
            column: c,
            op,
            value,
        } if *c == column => {
            let Some(v) = shard_value(value) else {
                return KeyFilter::Any;
            };
            match op {
                CmpOp::Eq => KeyFilter::Eq(v),
                CmpOp::Lt => range(Bound::Unbounded, Bound::Excluded(v)),
                CmpOp::Le => range(Bound::Unbounded, Bound::Included(v)),
                CmpOp::Gt => range(Bound::Excluded(v), Bound::Unbounded),
                CmpOp::Ge => range(Bound::Included(v), Bound::Unbounded),
                CmpOp::Ne | CmpOp::Like => KeyFilter::Any,
            }
        }
        Expr::In { column: c, values } if *c == column => {
            let mut keys = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    // `key IN (NULL)` never matches.
                    Value::Null(_) => {}
                    other => match shard_value(other) {
                        Some(k) => keys.push(k),
                        None => return KeyFilter::Any,
                    },
                }
            }
            KeyFilter::In(keys)
        }
        Expr::And(list) => KeyFilter::And(list.iter().map(|e| on_column(e, column)).collect()),
        Expr::Or(list) => KeyFilter::Or(list.iter().map(|e| on_column(e, column)).collect()),
        _ => KeyFilter::Any,
    }
}

fn range(lower: Bound<ShardValue>, upper: Bound<ShardValue>) -> KeyFilter {
    KeyFilter::Range { lower, upper }
}
