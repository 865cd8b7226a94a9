//! Roles: which side of a database a statement uses.

use std::fmt;
use std::sync::Arc;

/// The role a statement runs under.
///
/// `Writing` uses the database's writer; `Reading` its replicas (or the writer when it
/// has none) and always prevents writes. A custom role names an entry of the database's
/// `roles` table in the config.
///
/// ```
/// use grant_core::Role;
/// assert_eq!(Role::Reading.to_string(), "reading");
/// assert_eq!(Role::custom("analytics").to_string(), "analytics");
/// assert!(Role::Reading.prevents_writes());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// The writer.
    Writing,
    /// The replicas; writes are refused.
    Reading,
    /// A custom role, mapped to another database entry by the config's `roles` table.
    Custom(Arc<str>),
}

impl Role {
    /// A custom role by name.
    pub fn custom(name: impl AsRef<str>) -> Role {
        match name.as_ref() {
            "writing" => Role::Writing,
            "reading" => Role::Reading,
            other => Role::Custom(Arc::from(other)),
        }
    }

    /// The role's name.
    pub fn name(&self) -> &str {
        match self {
            Role::Writing => "writing",
            Role::Reading => "reading",
            Role::Custom(name) => name,
        }
    }

    /// True for [`Role::Reading`], which always prevents writes.
    pub fn prevents_writes(&self) -> bool {
        matches!(self, Role::Reading)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
