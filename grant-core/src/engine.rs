//! The small trait each sqlx backend implements so one generic executor serves all three:
//! binding [`Value`]s, reading results, decoding models.

use sqlx::error::BoxDynError;
use sqlx::mysql::MySql;
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use sqlx::Arguments as _;

use crate::error::Result;
use crate::model::Model;
use crate::raw::Row;
use crate::value::{ColumnType, SqlType, Value};

/// One sqlx backend as Grant uses it.
pub(crate) trait Engine: sqlx::Database {
    fn add(args: &mut Self::Arguments<'_>, value: Value) -> Result<(), BoxDynError>;
    fn rows_affected(result: &Self::QueryResult) -> u64;
    fn last_insert_id(result: &Self::QueryResult) -> Option<i64>;
    fn decode_model<M: Model>(row: &Self::Row, by_name: bool) -> Result<M>;
    fn decode_at<T: ColumnType>(row: &Self::Row, index: usize) -> Result<T, sqlx::Error>;
    fn wrap_row(row: Self::Row) -> Row;
}

macro_rules! add_value {
    ($args:expr, $value:expr) => {
        match $value {
            Value::Null(t) => match t {
                SqlType::Bool => $args.add(None::<bool>),
                SqlType::I16 => $args.add(None::<i16>),
                SqlType::I32 => $args.add(None::<i32>),
                SqlType::I64 => $args.add(None::<i64>),
                SqlType::F32 => $args.add(None::<f32>),
                SqlType::F64 => $args.add(None::<f64>),
                SqlType::Text => $args.add(None::<String>),
                SqlType::Bytes => $args.add(None::<Vec<u8>>),
                SqlType::DateTimeUtc => $args.add(None::<chrono::DateTime<chrono::Utc>>),
                SqlType::NaiveDateTime => $args.add(None::<chrono::NaiveDateTime>),
                SqlType::NaiveDate => $args.add(None::<chrono::NaiveDate>),
                SqlType::Uuid => $args.add(None::<uuid::Uuid>),
                SqlType::Json => $args.add(None::<serde_json::Value>),
            },
            Value::Bool(v) => $args.add(v),
            Value::I16(v) => $args.add(v),
            Value::I32(v) => $args.add(v),
            Value::I64(v) => $args.add(v),
            Value::F32(v) => $args.add(v),
            Value::F64(v) => $args.add(v),
            Value::Text(v) => $args.add(v),
            Value::Bytes(v) => $args.add(v),
            Value::DateTimeUtc(v) => $args.add(v),
            Value::NaiveDateTime(v) => $args.add(v),
            Value::NaiveDate(v) => $args.add(v),
            Value::Uuid(v) => $args.add(v),
            Value::Json(v) => $args.add(v),
        }
    };
}

macro_rules! impl_engine {
    ($db:ty, $from_row:ident, $decode:ident, $row:ident, |$r:ident| $last_id:expr) => {
        impl Engine for $db {
            #[inline]
            fn add(args: &mut Self::Arguments<'_>, value: Value) -> Result<(), BoxDynError> {
                add_value!(args, value)
            }
            fn rows_affected(result: &Self::QueryResult) -> u64 {
                result.rows_affected()
            }
            fn last_insert_id($r: &Self::QueryResult) -> Option<i64> {
                $last_id
            }
            #[inline]
            fn decode_model<M: Model>(row: &Self::Row, by_name: bool) -> Result<M> {
                M::$from_row(row, by_name)
            }
            fn decode_at<T: ColumnType>(row: &Self::Row, index: usize) -> Result<T, sqlx::Error> {
                T::$decode(row, index)
            }
            fn wrap_row(row: Self::Row) -> Row {
                Row::$row(row)
            }
        }
    };
}

impl_engine!(Postgres, from_pg_row, decode_pg, Postgres, |_r| None);
impl_engine!(MySql, from_mysql_row, decode_mysql, MySql, |r| {
    i64::try_from(r.last_insert_id()).ok()
});
impl_engine!(Sqlite, from_sqlite_row, decode_sqlite, Sqlite, |r| Some(
    r.last_insert_rowid()
));
