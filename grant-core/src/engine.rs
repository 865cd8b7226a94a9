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

impl Engine for Postgres {
    #[inline]
    fn add(args: &mut Self::Arguments<'_>, value: Value) -> Result<(), BoxDynError> {
        add_value!(args, value)
    }
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
    fn last_insert_id(_: &Self::QueryResult) -> Option<i64> {
        None
    }
    #[inline]
    fn decode_model<M: Model>(row: &Self::Row, by_name: bool) -> Result<M> {
        M::from_pg_row(row, by_name)
    }
    fn decode_at<T: ColumnType>(row: &Self::Row, index: usize) -> Result<T, sqlx::Error> {
        T::decode_pg(row, index)
    }
    fn wrap_row(row: Self::Row) -> Row {
        Row::Postgres(row)
    }
}

impl Engine for MySql {
    #[inline]
    fn add(args: &mut Self::Arguments<'_>, value: Value) -> Result<(), BoxDynError> {
        add_value!(args, value)
    }
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
    fn last_insert_id(result: &Self::QueryResult) -> Option<i64> {
        i64::try_from(result.last_insert_id()).ok()
    }
    #[inline]
    fn decode_model<M: Model>(row: &Self::Row, by_name: bool) -> Result<M> {
        M::from_mysql_row(row, by_name)
    }
    fn decode_at<T: ColumnType>(row: &Self::Row, index: usize) -> Result<T, sqlx::Error> {
        T::decode_mysql(row, index)
    }
    fn wrap_row(row: Self::Row) -> Row {
        Row::MySql(row)
    }
}

impl Engine for Sqlite {
    #[inline]
    fn add(args: &mut Self::Arguments<'_>, value: Value) -> Result<(), BoxDynError> {
        add_value!(args, value)
    }
    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
    fn last_insert_id(result: &Self::QueryResult) -> Option<i64> {
        Some(result.last_insert_rowid())
    }
    #[inline]
    fn decode_model<M: Model>(row: &Self::Row, by_name: bool) -> Result<M> {
        M::from_sqlite_row(row, by_name)
    }
    fn decode_at<T: ColumnType>(row: &Self::Row, index: usize) -> Result<T, sqlx::Error> {
        T::decode_sqlite(row, index)
    }
    fn wrap_row(row: Self::Row) -> Row {
        Row::Sqlite(row)
    }
}
