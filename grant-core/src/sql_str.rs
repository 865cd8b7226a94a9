//! SQL text that the caller vouches for: [`SqlSafeStr`], [`AssertSqlSafe`] and [`SqlStr`],
//! after sqlx 0.9's design.
//!
//! [`raw`](crate::raw) and [`Model::find_by_sql`](crate::Model::find_by_sql) take SQL
//! text, and nothing in that text is escaped. A string literal (`&'static str`) is accepted
//! as is: it was written by the programmer. A string built at runtime (`format!`, a
//! `String` read from a file) must be wrapped in [`AssertSqlSafe`], so that splicing user
//! input into SQL takes a visible decision. Values always go through `.bind(..)`.

use std::borrow::Cow;
use std::sync::Arc;

/// SQL text Grant may send as is: a `&'static str`, or anything wrapped in
/// [`AssertSqlSafe`].
///
/// ```
/// use grant_core::{AssertSqlSafe, SqlSafeStr};
/// let fixed = "SELECT 1".into_sql_str();
/// let table = "users"; // chosen by the program, never by a user
/// let built = AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")).into_sql_str();
/// assert_eq!(fixed.as_str(), "SELECT 1");
/// assert_eq!(built.as_str(), "SELECT COUNT(*) FROM users");
/// ```
///
/// A `String` is refused at compile time:
///
/// ```compile_fail
/// # async fn demo(db: &grant_core::Grant, name: String) {
/// let sql = format!("SELECT * FROM users WHERE name = '{name}'");
/// grant_core::raw(sql).fetch_all(db).await;
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not SQL text Grant can trust as is",
    label = "a string built at runtime",
    note = "pass a string literal (`&'static str`), or wrap text built at runtime in `grant::AssertSqlSafe(..)` once you are sure no user input is spliced into it; bind values with `.bind(..)`"
)]
pub trait SqlSafeStr {
    /// The text, owned or static.
    fn into_sql_str(self) -> SqlStr;
}

/// Asserts that a string built at runtime is safe to send as SQL: it holds no user input
/// (bind that with `.bind(..)`), only text the program chose.
///
/// ```no_run
/// # async fn demo(db: &grant_core::Grant) -> grant_core::Result<()> {
/// use grant_core::{raw, AssertSqlSafe};
/// for table in ["users", "orders"] {
///     raw(AssertSqlSafe(format!("DELETE FROM {table}"))).execute(db).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssertSqlSafe<T>(pub T);

/// SQL text accepted by [`SqlSafeStr`]: a static string or a shared owned one. It
/// dereferences to `str`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SqlStr(Cow<'static, str>);

impl SqlStr {
    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SqlStr {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SqlStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SqlStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl SqlSafeStr for &'static str {
    #[inline]
    fn into_sql_str(self) -> SqlStr {
        SqlStr(Cow::Borrowed(self))
    }
}

impl SqlSafeStr for SqlStr {
    #[inline]
    fn into_sql_str(self) -> SqlStr {
        self
    }
}

impl SqlSafeStr for AssertSqlSafe<String> {
    #[inline]
    fn into_sql_str(self) -> SqlStr {
        SqlStr(Cow::Owned(self.0))
    }
}

impl SqlSafeStr for AssertSqlSafe<&str> {
    #[inline]
    fn into_sql_str(self) -> SqlStr {
        SqlStr(Cow::Owned(self.0.to_owned()))
    }
}

impl SqlSafeStr for AssertSqlSafe<&String> {
    #[inline]
    fn into_sql_str(self) -> SqlStr {
        SqlStr(Cow::Owned(self.0.clone()))
    }
}

impl SqlSafeStr for AssertSqlSafe<Box<str>> {
    #[inline]
    fn into_sql_str(self) -> SqlStr {
        SqlStr(Cow::Owned(self.0.into()))
    }
}

impl SqlSafeStr for AssertSqlSafe<Arc<str>> {
    #[inline]
    fn into_sql_str(self) -> SqlStr {
        SqlStr(Cow::Owned(self.0.as_ref().to_owned()))
    }
}

impl SqlSafeStr for AssertSqlSafe<Cow<'static, str>> {
    #[inline]
    fn into_sql_str(self) -> SqlStr {
        SqlStr(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_text_is_borrowed_and_runtime_text_is_owned() {
        let s = "SELECT 1".into_sql_str();
        assert!(matches!(s.0, Cow::Borrowed("SELECT 1")));
        let n = 2;
        let o = AssertSqlSafe(format!("SELECT {n}")).into_sql_str();
        assert_eq!(&*o, "SELECT 2");
        let a: Arc<str> = Arc::from("SELECT 3");
        assert_eq!(AssertSqlSafe(a).into_sql_str().as_str(), "SELECT 3");
    }
}
