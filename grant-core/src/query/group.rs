//! `GROUP BY` with aggregates: `Sale::query().group_by(Sale::REGION).count().sum(Sale::CENTS).all(&db)`.

use std::marker::PhantomData;

use crate::error::{Error, Result};
use crate::exec;
use crate::model::Model;
use crate::value::{ColumnType, SqlType, Value};
use crate::Executor;

use super::{Column, Query, QueryParts};

/// One aggregate of a grouped query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupAgg {
    /// `COUNT(*)`.
    Count,
    /// `SUM(column)` (a float column when `float`).
    Sum { column: &'static str, float: bool },
    /// `SUM(column) / COUNT(column)`.
    Avg { column: &'static str, float: bool },
    /// `MIN(column)` of a column of this type.
    Min { column: &'static str, ty: SqlType },
    /// `MAX(column)`.
    Max { column: &'static str, ty: SqlType },
}

/// A query grouped by one or more columns, with the aggregates to compute per group
/// ([`Query::group_by`]). Groups come back ordered by their key (text by code point,
/// NULLs where the engine puts them); the same on one database and across shards, where
/// each shard's groups are merged by key.
///
/// ```no_run
/// # use grant_core::{Model, Column, Value};
/// # async fn demo<M: Model>(db: &grant_core::Grant, region: Column<M, String>, cents: Column<M, i64>) -> grant_core::Result<()> {
/// let groups = M::query().group_by(region).count().sum(cents).avg(cents).all(db).await?;
/// for g in groups {
///     // g.key: [region]; g.values: [count, sum, avg], in the order they were asked for.
///     println!("{:?}: {:?}", g.key, g.values);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a grouped query does nothing until `all`"]
pub struct Grouped<M> {
    parts: Result<QueryParts, String>,
    pub(crate) keys: Vec<(&'static str, SqlType)>,
    pub(crate) aggs: Vec<GroupAgg>,
    _model: PhantomData<fn() -> M>,
}

/// One group: its key values (in `group_by` / `then_by` order) and its aggregates (in the
/// order they were added: a count is [`Value::I64`], a sum [`Value::I64`] or
/// [`Value::F64`], an average [`Value::F64`], a min / max the column's type; `NULL` when the
/// group has no non-NULL value).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Group {
    /// The group's key.
    pub key: Vec<Value>,
    /// The aggregates.
    pub values: Vec<Value>,
}

impl<M: Model> Query<M> {
    /// Group the matching rows by `column` (add more with [`Grouped::then_by`]) and
    /// compute aggregates per group. Limit and offset are refused (they would page rows,
    /// not groups).
    pub fn group_by<T: ColumnType>(self, column: Column<M, T>) -> Grouped<M> {
        let parts = self.into_parts().map_err(|e| e.to_string());
        Grouped {
            parts,
            keys: vec![(column.name(), T::SQL_TYPE)],
            aggs: Vec::new(),
            _model: PhantomData,
        }
    }
}

impl<M: Model> Grouped<M> {
    /// Also group by `column`.
    pub fn then_by<T: ColumnType>(mut self, column: Column<M, T>) -> Self {
        self.keys.push((column.name(), T::SQL_TYPE));
        self
    }

    /// `COUNT(*)` per group.
    pub fn count(mut self) -> Self {
        self.aggs.push(GroupAgg::Count);
        self
    }

    /// `SUM(column)` per group (see [`Query::sum`]).
    pub fn sum<T: crate::Numeric>(mut self, column: Column<M, T>) -> Self {
        self.aggs.push(GroupAgg::Sum {
            column: column.name(),
            float: T::FLOAT,
        });
        self
    }

    /// `AVG(column)` per group, from the sum and count (see [`Query::avg`]).
    pub fn avg<T: crate::Numeric>(mut self, column: Column<M, T>) -> Self {
        self.aggs.push(GroupAgg::Avg {
            column: column.name(),
            float: T::FLOAT,
        });
        self
    }

    /// `MIN(column)` per group. Not for text columns (their order differs between
    /// engines' collations): [`Error::InvalidQuery`] when the query runs.
    pub fn min<T: ColumnType>(mut self, column: Column<M, T>) -> Self {
        self.aggs.push(GroupAgg::Min {
            column: column.name(),
            ty: T::SQL_TYPE,
        });
        self
    }

    /// `MAX(column)` per group (see [`Grouped::min`]).
    pub fn max<T: ColumnType>(mut self, column: Column<M, T>) -> Self {
        self.aggs.push(GroupAgg::Max {
            column: column.name(),
            ty: T::SQL_TYPE,
        });
        self
    }

    /// Every group, ordered by key.
    pub async fn all<'e>(self, executor: impl Executor<'e>) -> Result<Vec<Group>> {
        let parts = self.parts.map_err(|message| Error::InvalidQuery {
            model: M::META.name,
            message,
        })?;
        if parts.limit.is_some() || parts.offset.is_some() {
            return Err(Error::InvalidQuery {
                model: M::META.name,
                message: "group_by does not take limit or offset".into(),
            });
        }
        if self.aggs.is_empty() {
            return Err(Error::InvalidQuery {
                model: M::META.name,
                message: "group_by needs at least one aggregate (count, sum, avg, min, max)".into(),
            });
        }
        for a in &self.aggs {
            if let GroupAgg::Min { column, ty } | GroupAgg::Max { column, ty } = a {
                if *ty == SqlType::Text {
                    return Err(Error::InvalidQuery {
                        model: M::META.name,
                        message: format!(
                            "min/max of text column `{column}` per group is not supported (collations differ between engines)"
                        ),
                    });
                }
            }
        }
        exec::group::<M>(executor.into_target(), &parts, &self.keys, &self.aggs).await
    }
}
