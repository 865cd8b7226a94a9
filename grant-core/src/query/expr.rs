//! Filter expressions and typed column handles.

use std::marker::PhantomData;
use std::ops::Not;

use crate::sql::SqlWriter;
use crate::value::{ColumnType, Value};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE`
    Like,
}

impl CmpOp {
    fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => " = ",
            CmpOp::Ne => " <> ",
            CmpOp::Lt => " < ",
            CmpOp::Le => " <= ",
            CmpOp::Gt => " > ",
            CmpOp::Ge => " >= ",
            CmpOp::Like => " LIKE ",
        }
    }
}

/// A filter: comparisons joined with `and`, `or` and `not`. Build them from a model's
/// column handles (`User::NAME.eq("ann")`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Expr {
    /// `column <op> value`
    Cmp {
        /// The column.
        column: &'static str,
        /// The operator.
        op: CmpOp,
        /// The bound value.
        value: Value,
    },
    /// `column IN (values)`; an empty list matches nothing.
    In {
        /// The column.
        column: &'static str,
        /// The bound values.
        values: Vec<Value>,
    },
    /// `column IS NULL` (or `IS NOT NULL` when `null` is false).
    IsNull {
        /// The column.
        column: &'static str,
        /// `IS NULL` when true, `IS NOT NULL` when false.
        null: bool,
    },
    /// All of these (an empty list matches everything).
    And(Vec<Expr>),
    /// Any of these (an empty list matches nothing).
    Or(Vec<Expr>),
    /// The negation.
    Not(Box<Expr>),
    /// `column <op> value` with text compared by code point (byte order) on every engine,
    /// whatever the column's collation: what keyset pages ([`Query::after`](crate::Query::after))
    /// compare with, so they agree with the order a scatter merges in.
    CmpBinary {
        /// The column.
        column: &'static str,
        /// The operator.
        op: CmpOp,
        /// The bound value.
        value: Value,
    },
}

impl Expr {
    /// `self AND other`.
    pub fn and(self, other: Expr) -> Expr {
        match self {
            Expr::And(mut list) => {
                list.push(other);
                Expr::And(list)
            }
            first => Expr::And(vec![first, other]),
        }
    }

    /// `self OR other`.
    pub fn or(self, other: Expr) -> Expr {
        match self {
            Expr::Or(mut list) => {
                list.push(other);
                Expr::Or(list)
            }
            first => Expr::Or(vec![first, other]),
        }
    }

    /// `NOT self`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }

    /// Write the SQL of this expression and collect its values, in placeholder order.
    pub fn write(&self, w: &mut SqlWriter, binds: &mut Vec<Value>) {
        match self {
            Expr::Cmp { column, op, value } => {
                w.ident(column).push(op.sql()).param();
                binds.push(value.clone());
            }
            Expr::In { column, values } => {
                if values.is_empty() {
                    w.push("1 = 0");
                    return;
                }
                w.ident(column).push(" IN (");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        w.push(", ");
                    }
                    w.param();
                    binds.push(v.clone());
                }
                w.push(")");
            }
            Expr::IsNull { column, null } => {
                w.ident(column)
                    .push(if *null { " IS NULL" } else { " IS NOT NULL" });
            }
            Expr::And(list) | Expr::Or(list) => {
                let (joiner, empty) = match self {
                    Expr::And(_) => (" AND ", "1 = 1"),
                    _ => (" OR ", "1 = 0"),
                };
                if list.is_empty() {
                    w.push(empty);
                    return;
                }
                w.push("(");
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        w.push(joiner);
                    }
                    e.write(w, binds);
                }
                w.push(")");
            }
            Expr::Not(inner) => {
                w.push("NOT (");
                inner.write(w, binds);
                w.push(")");
            }
            Expr::CmpBinary { column, op, value } => {
                let text = matches!(value, Value::Text(_));
                match (text, w.backend()) {
                    (true, crate::Backend::Postgres) => {
                        w.ident(column).push(" COLLATE \"C\"");
                    }
                    (true, crate::Backend::MySql) => {
                        w.push("CAST(").ident(column).push(" AS BINARY)");
                    }
                    (true, crate::Backend::Sqlite) => {
                        w.ident(column).push(" COLLATE BINARY");
                    }
                    (false, _) => {
                        w.ident(column);
                    }
                }
                w.push(op.sql()).param();
                binds.push(value.clone());
            }
        }
    }
}

impl Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// One `ORDER BY` term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The column.
    pub column: &'static str,
    /// The direction.
    pub direction: Direction,
}

/// An assignment `column = value` for `update_all`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The column.
    pub column: &'static str,
    /// The bound value.
    pub value: Value,
}

/// A typed handle on a model's column, generated by the derive as an associated constant
/// (`User::NAME`). `T` is the field's type without `Option`.
pub struct Column<M, T> {
    name: &'static str,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for Column<M, T> {}

impl<M, T> std::fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column({})", self.name)
    }
}

impl<M, T: ColumnType> Column<M, T> {
    /// A handle on the column named `name` (used by the derive).
    pub const fn new(name: &'static str) -> Self {
        Column {
            name,
            _marker: PhantomData,
        }
    }

    /// The column's SQL name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    fn cmp(self, op: CmpOp, value: impl Into<T>) -> Expr {
        Expr::Cmp {
            column: self.name,
            op,
            value: value.into().to_value(),
        }
    }

    /// `column = value`
    pub fn eq(self, value: impl Into<T>) -> Expr {
        self.cmp(CmpOp::Eq, value)
    }
    /// `column <> value`
    pub fn ne(self, value: impl Into<T>) -> Expr {
        self.cmp(CmpOp::Ne, value)
    }
    /// `column < value`
    pub fn lt(self, value: impl Into<T>) -> Expr {
        self.cmp(CmpOp::Lt, value)
    }
    /// `column <= value`
    pub fn le(self, value: impl Into<T>) -> Expr {
        self.cmp(CmpOp::Le, value)
    }
    /// `column > value`
    pub fn gt(self, value: impl Into<T>) -> Expr {
        self.cmp(CmpOp::Gt, value)
    }
    /// `column >= value`
    pub fn ge(self, value: impl Into<T>) -> Expr {
        self.cmp(CmpOp::Ge, value)
    }
    /// `column IN (values)`; an empty list matches nothing.
    pub fn is_in<V: Into<T>>(self, values: impl IntoIterator<Item = V>) -> Expr {
        Expr::In {
            column: self.name,
            values: values.into_iter().map(|v| v.into().to_value()).collect(),
        }
    }
    /// `column IS NULL`
    pub fn is_null(self) -> Expr {
        Expr::IsNull {
            column: self.name,
            null: true,
        }
    }
    /// `column IS NOT NULL`
    pub fn is_not_null(self) -> Expr {
        Expr::IsNull {
            column: self.name,
            null: false,
        }
    }
    /// `ORDER BY column ASC`
    pub fn asc(self) -> Order {
        Order {
            column: self.name,
            direction: Direction::Asc,
        }
    }
    /// `ORDER BY column DESC`
    pub fn desc(self) -> Order {
        Order {
            column: self.name,
            direction: Direction::Desc,
        }
    }
    /// `SET column = value` for `update_all`.
    pub fn set(self, value: impl Into<T>) -> Assignment {
        Assignment {
            column: self.name,
            value: value.into().to_value(),
        }
    }
    /// `SET column = NULL` for `update_all`.
    pub fn set_null(self) -> Assignment {
        Assignment {
            column: self.name,
            value: crate::value::Value::Null(T::SQL_TYPE),
        }
    }
}

impl<M> Column<M, String> {
    /// `column LIKE pattern` (`%` and `_` wildcards; case sensitivity follows the engine:
    /// sensitive on PostgreSQL, insensitive on MariaDB's default collations and for ASCII
    /// on SQLite).
    pub fn like(self, pattern: impl Into<String>) -> Expr {
        Expr::Cmp {
            column: self.name,
            op: CmpOp::Like,
            value: Value::Text(pattern.into()),
        }
    }
}
