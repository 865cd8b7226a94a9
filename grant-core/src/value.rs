//! Values that cross into SQL as bound parameters, and the [`ColumnType`] trait that
//! maps a Rust field type to them and decodes it back on each engine.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{ColumnIndex, Row, ValueRef};
use uuid::Uuid;

/// The SQL type of a column, used to bind a typed `NULL` and to describe models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// `bool`.
    Bool,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `String`.
    Text,
    /// `Vec<u8>`.
    Bytes,
    /// `chrono::DateTime<Utc>`.
    DateTimeUtc,
    /// `chrono::NaiveDateTime`.
    NaiveDateTime,
    /// `chrono::NaiveDate`.
    NaiveDate,
    /// `uuid::Uuid`.
    Uuid,
    /// `serde_json::Value`.
    Json,
}

/// A value bound to a statement. Values are always bound, never spliced into SQL.
///
/// ```
/// use grant_core::Value;
/// let v: Value = 42i64.into();
/// assert_eq!(v, Value::I64(42));
/// let s: Value = "bob".into();
/// assert_eq!(s, Value::Text("bob".to_string()));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A typed `NULL`.
    Null(SqlType),
    /// A boolean.
    Bool(bool),
    /// A 16-bit integer.
    I16(i16),
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// A 32-bit float.
    F32(f32),
    /// A 64-bit float.
    F64(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A UTC timestamp.
    DateTimeUtc(DateTime<Utc>),
    /// A timestamp without time zone.
    NaiveDateTime(NaiveDateTime),
    /// A date.
    NaiveDate(NaiveDate),
    /// A UUID.
    Uuid(Uuid),
    /// A JSON document.
    Json(serde_json::Value),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null(_) => f.write_str("NULL"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => write!(f, "<{} bytes>", v.len()),
            Value::DateTimeUtc(v) => write!(f, "{v}"),
            Value::NaiveDateTime(v) => write!(f, "{v}"),
            Value::NaiveDate(v) => write!(f, "{v}"),
            Value::Uuid(v) => write!(f, "{v}"),
            Value::Json(v) => write!(f, "{v}"),
        }
    }
}

/// A value to bind, borrowed from the model where that saves a copy (text and bytes);
/// what [`ColumnType::to_bind_ref`] returns and batch inserts bind.
///
/// ```
/// use grant_core::{BindRef, ColumnType, Value};
/// let name = String::from("ann");
/// assert!(matches!(name.to_bind_ref(), BindRef::Text("ann")));
/// assert!(matches!(7i64.to_bind_ref(), BindRef::Owned(Value::I64(7))));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum BindRef<'a> {
    /// Any value, owned.
    Owned(Value),
    /// Text, borrowed (bound like [`Value::Text`]).
    Text(&'a str),
    /// Bytes, borrowed (bound like [`Value::Bytes`]).
    Bytes(&'a [u8]),
}

impl<'a> BindRef<'a> {
    /// `v`, borrowed where it holds text or bytes.
    #[inline]
    pub fn of(v: &'a Value) -> BindRef<'a> {
        match v {
            Value::Text(s) => BindRef::Text(s),
            Value::Bytes(b) => BindRef::Bytes(b),
            other => BindRef::Owned(other.clone()),
        }
    }
}

/// A Rust type that can be a model's column: bound as a [`Value`] and decoded from a row
/// of each engine.
///
/// Implemented for `bool`, `i16`, `i32`, `i64`, `f32`, `f64`, `String`, `Vec<u8>`,
/// `chrono::DateTime<Utc>`, `chrono::NaiveDateTime`, `chrono::NaiveDate`, `uuid::Uuid`,
/// `serde_json::Value`, and `Option<T>` of each (as `NULL`). Implement it for your own
/// type to store it in a column.
///
/// ```
/// use grant_core::{ColumnType, SqlType, Value};
/// assert_eq!(<Option<i32> as ColumnType>::SQL_TYPE, SqlType::I32);
/// assert_eq!(None::<i32>.to_value(), Value::Null(SqlType::I32));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a Grant column",
    label = "unsupported column type",
    note = "supported: bool, i16, i32, i64, f32, f64, String, Vec<u8>, chrono::DateTime<Utc>, chrono::NaiveDateTime, chrono::NaiveDate, uuid::Uuid, serde_json::Value and Option<T> of these; or implement grant::ColumnType, or mark the field #[grant(skip)]"
)]
pub trait ColumnType: Sized + Send + Sync + 'static {
    /// The SQL type.
    const SQL_TYPE: SqlType;
    /// Whether the column may hold `NULL` (true for `Option<T>`).
    const NULLABLE: bool = false;
    /// The value to bind.
    fn to_value(&self) -> Value;
    /// The value to bind, borrowed where the type allows it (text and bytes), so a batch
    /// insert binds without copying. The default is [`ColumnType::to_value`].
    #[inline]
    fn to_bind_ref(&self) -> BindRef<'_> {
        BindRef::Owned(self.to_value())
    }
    /// Decode from a PostgreSQL row.
    fn decode_pg<I: ColumnIndex<PgRow> + Copy>(row: &PgRow, index: I) -> Result<Self, sqlx::Error>;
    /// Decode from a MariaDB/MySQL row.
    fn decode_mysql<I: ColumnIndex<MySqlRow> + Copy>(
        row: &MySqlRow,
        index: I,
    ) -> Result<Self, sqlx::Error>;
    /// Decode from a SQLite row.
    fn decode_sqlite<I: ColumnIndex<SqliteRow> + Copy>(
        row: &SqliteRow,
        index: I,
    ) -> Result<Self, sqlx::Error>;
}

macro_rules! column_type {
    ($ty:ty, $sql:ident, $variant:ident, |$v:ident| $to:expr) => {
        column_type!($ty, $sql, $variant, |$v| $to, |v| BindRef::Owned(
            ColumnType::to_value(v)
        ));
    };
    ($ty:ty, $sql:ident, $variant:ident, |$v:ident| $to:expr, |$r:ident| $to_ref:expr) => {
        impl ColumnType for $ty {
            const SQL_TYPE: SqlType = SqlType::$sql;
            #[inline]
            fn to_value(&self) -> Value {
                let $v = self;
                Value::$variant($to)
            }
            #[inline]
            fn to_bind_ref(&self) -> BindRef<'_> {
                let $r = self;
                $to_ref
            }
            #[inline]
            fn decode_pg<I: ColumnIndex<PgRow> + Copy>(
                row: &PgRow,
                index: I,
            ) -> Result<Self, sqlx::Error> {
                row.try_get(index)
            }
            #[inline]
            fn decode_mysql<I: ColumnIndex<MySqlRow> + Copy>(
                row: &MySqlRow,
                index: I,
            ) -> Result<Self, sqlx::Error> {
                row.try_get(index)
            }
            #[inline]
            fn decode_sqlite<I: ColumnIndex<SqliteRow> + Copy>(
                row: &SqliteRow,
                index: I,
            ) -> Result<Self, sqlx::Error> {
                sqlite_not_null(row, index)?;
                row.try_get(index)
            }
        }

        impl From<$ty> for Value {
            #[inline]
            fn from($v: $ty) -> Value {
                Value::$variant($v)
            }
        }
    };
}

/// SQLite's driver decodes `NULL` as `0` / `""` / an empty blob; PostgreSQL's and MariaDB's
/// refuse it. Refuse it on SQLite too, with the same error, so a `NULL` in a non-`Option`
/// field is never read as a made-up value.
#[inline]
fn sqlite_not_null<I: ColumnIndex<SqliteRow> + Copy>(
    row: &SqliteRow,
    index: I,
) -> Result<(), sqlx::Error> {
    if row.try_get_raw(index)?.is_null() {
        return Err(sqlx::Error::ColumnDecode {
            index: format!("{index:?}"),
            source: Box::new(sqlx::error::UnexpectedNullError),
        });
    }
    Ok(())
}

column_type!(bool, Bool, Bool, |v| *v);
column_type!(i16, I16, I16, |v| *v);
column_type!(i32, I32, I32, |v| *v);
column_type!(i64, I64, I64, |v| *v);
column_type!(f32, F32, F32, |v| *v);
column_type!(f64, F64, F64, |v| *v);
column_type!(String, Text, Text, |v| v.clone(), |v| BindRef::Text(v));
column_type!(Vec<u8>, Bytes, Bytes, |v| v.clone(), |v| BindRef::Bytes(v));
column_type!(DateTime<Utc>, DateTimeUtc, DateTimeUtc, |v| *v);
column_type!(NaiveDateTime, NaiveDateTime, NaiveDateTime, |v| *v);
column_type!(NaiveDate, NaiveDate, NaiveDate, |v| *v);
column_type!(Uuid, Uuid, Uuid, |v| *v);
column_type!(serde_json::Value, Json, Json, |v| v.clone());

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(v.to_vec())
    }
}

impl<T: ColumnType> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.to_value()
    }
}

impl<T: ColumnType> ColumnType for Option<T> {
    const SQL_TYPE: SqlType = T::SQL_TYPE;

    #[inline]
    fn to_bind_ref(&self) -> BindRef<'_> {
        match self {
            Some(v) => v.to_bind_ref(),
            None => BindRef::Owned(Value::Null(T::SQL_TYPE)),
        }
    }
    const NULLABLE: bool = true;

    #[inline]
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null(T::SQL_TYPE),
        }
    }

    fn decode_pg<I: ColumnIndex<PgRow> + Copy>(row: &PgRow, index: I) -> Result<Self, sqlx::Error> {
        if row.try_get_raw(index)?.is_null() {
            Ok(None)
        } else {
            T::decode_pg(row, index).map(Some)
        }
    }

    fn decode_mysql<I: ColumnIndex<MySqlRow> + Copy>(
        row: &MySqlRow,
        index: I,
    ) -> Result<Self, sqlx::Error> {
        if row.try_get_raw(index)?.is_null() {
            Ok(None)
        } else {
            T::decode_mysql(row, index).map(Some)
        }
    }

    fn decode_sqlite<I: ColumnIndex<SqliteRow> + Copy>(
        row: &SqliteRow,
        index: I,
    ) -> Result<Self, sqlx::Error> {
        if row.try_get_raw(index)?.is_null() {
            Ok(None)
        } else {
            T::decode_sqlite(row, index).map(Some)
        }
    }
}

/// A column type that Grant can fill with the current time on insert and update: the type
/// of a field the model declares an automatic timestamp (`#[grant(timestamps)]`,
/// `#[grant(created_at)]`, `#[grant(updated_at)]`).
///
/// ```
/// use grant_core::Timestamp;
/// let mut at: Option<chrono::NaiveDateTime> = None;
/// at.set_now(chrono::Utc::now());
/// assert!(at.is_some());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold an automatic timestamp",
    label = "an automatic timestamp is filled with the current time",
    note = "use chrono::DateTime<Utc>, chrono::NaiveDateTime or an Option of these; or drop `#[grant(timestamps)]` / `#[grant(created_at)]` / `#[grant(updated_at)]` to store the field as it is"
)]
pub trait Timestamp {
    /// Set to `now`.
    fn set_now(&mut self, now: DateTime<Utc>);
}

impl Timestamp for DateTime<Utc> {
    fn set_now(&mut self, now: DateTime<Utc>) {
        *self = now;
    }
}

impl Timestamp for NaiveDateTime {
    fn set_now(&mut self, now: DateTime<Utc>) {
        *self = now.naive_utc();
    }
}

impl<T: Timestamp + Default> Timestamp for Option<T> {
    fn set_now(&mut self, now: DateTime<Utc>) {
        let mut v = T::default();
        v.set_now(now);
        *self = Some(v);
    }
}
