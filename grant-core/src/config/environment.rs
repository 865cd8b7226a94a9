//! Environments: which ones a document knows, merging one over the base tables, and
//! reporting a problem of a merged document at the key as it was written.

use std::collections::{BTreeMap, BTreeSet};

use toml::{Table, Value};

use super::error::{ConfigError, ConfigErrorKind};
use super::path::{index_path, key_path};
use super::DEFAULT_ENVIRONMENT;

/// The `[environments.<name>]` tables of a document, taken out of its root. The schema check
/// has already made sure each of them is a table.
pub(crate) fn take_environments(root: &mut Table) -> BTreeMap<String, Table> {
    match root.remove("environments") {
        Some(Value::Table(environments)) => environments
            .into_iter()
            .filter_map(|(name, value)| match value {
                Value::Table(table) => Some((name, table)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The environments a document knows: those declared under `[environments]`, and
/// `development` (the default), in name order.
pub(crate) fn known(environments: &BTreeMap<String, Table>) -> Vec<String> {
    let mut names: BTreeSet<String> = environments.keys().cloned().collect();
    names.insert(DEFAULT_ENVIRONMENT.to_owned());
    names.into_iter().collect()
}

/// An error unless `name` is a known environment (exact, case-sensitive match).
pub(crate) fn check_known(
    name: &str,
    environments: &BTreeMap<String, Table>,
) -> Result<(), ConfigError> {
    if name == DEFAULT_ENVIRONMENT || environments.contains_key(name) {
        return Ok(());
    }
    let known = known(environments)
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(ConfigError::new(
        key_path("environments", name),
        ConfigErrorKind::UnknownEnvironment {
            name: name.to_owned(),
            known,
        },
    ))
}

/// `base` with `overrides` deep-merged over it: tables merge key by key, any other value
/// (arrays included) replaces.
pub(crate) fn merged(base: &Table, overrides: Option<&Table>) -> Table {
    let mut out = base.clone();
    if let Some(overrides) = overrides {
        merge(&mut out, overrides);
    }
    out
}

fn merge(base: &mut Table, overrides: &Table) {
    for (key, value) in overrides {
        if let (Some(Value::Table(base_table)), Value::Table(over_table)) =
            (base.get_mut(key), value)
        {
            merge(base_table, over_table);
            continue;
        }
        base.insert(key.clone(), value.clone());
    }
}

/// Where the values of one environment were written: maps an error found in the merged
/// document (whose key is relative to the base tables) to the key as written.
pub(crate) struct Origin {
    /// `environments.<name>`.
    prefix: String,
    /// Every path of the overrides table (tables, values, array items), with whether it
    /// holds a table.
    overrides: BTreeMap<String, bool>,
    /// Every path of the base tables.
    base: BTreeMap<String, bool>,
}

impl Origin {
    /// The origin of the environment `name` whose overrides are `overrides`.
    pub(crate) fn new(name: &str, base: &Table, overrides: Option<&Table>) -> Origin {
        let mut origin = Origin {
            prefix: key_path("environments", name),
            overrides: BTreeMap::new(),
            base: BTreeMap::new(),
        };
        collect_table(base, "", &mut origin.base);
        if let Some(overrides) = overrides {
            collect_table(overrides, "", &mut origin.overrides);
        }
        origin
    }

    /// `err` with its key moved under `environments.<name>` when the offending value was
    /// written there: a value (not a table) the environment sets, or a key missing in a
    /// table that only the environment declares.
    pub(crate) fn locate(&self, mut err: ConfigError) -> ConfigError {
        if self.written_in_environment(&err.key) {
            err.key = format!("{}.{}", self.prefix, err.key);
        }
        err
    }

    fn written_in_environment(&self, key: &str) -> bool {
        match (self.overrides.get(key), self.base.get(key)) {
            // A table both declare merges: its problems belong to the base.
            (Some(true), Some(true)) => false,
            (Some(_), _) => true,
            (None, Some(_)) => false,
            // A key written nowhere (a missing `url`): the deepest table that holds it.
            (None, None) => match self.deepest_existing_parent(key) {
                Some(parent) => self.written_in_environment(parent),
                None => false,
            },
        }
    }

    fn deepest_existing_parent<'k>(&self, key: &'k str) -> Option<&'k str> {
        let mut end = key.len();
        while let Some(cut) = key[..end].rfind(['.', '[']) {
            end = cut;
            let parent = &key[..end];
            if self.overrides.contains_key(parent) || self.base.contains_key(parent) {
                return Some(parent);
            }
        }
        None
    }
}

fn collect_table(table: &Table, path: &str, out: &mut BTreeMap<String, bool>) {
    for (key, value) in table {
        collect_value(value, &key_path(path, key), out);
    }
}

fn collect_value(value: &Value, path: &str, out: &mut BTreeMap<String, bool>) {
    out.insert(path.to_owned(), matches!(value, Value::Table(_)));
    match value {
        Value::Table(table) => collect_table(table, path, out),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_value(item, &index_path(path, i), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn locates_keys_as_written() {
        let base = table(
            "[databases.primary]\nurl = \"x\"\n[databases.primary.pool]\nmax_connections = 5\n",
        );
        let over = table("[databases.primary.pool]\nmin_connections = 9\n[databases.extra]\nreplicas = [\"a\"]\n");
        let origin = Origin::new("test", &base, Some(&over));
        let at = |key: &str| {
            origin
                .locate(ConfigError::new(key, ConfigErrorKind::EmptyUrl))
                .key
        };
        assert_eq!(
            at("databases.primary.pool.min_connections"),
            "environments.test.databases.primary.pool.min_connections"
        );
        assert_eq!(
            at("databases.primary.pool.max_connections"),
            "databases.primary.pool.max_connections"
        );
        assert_eq!(at("databases.primary.pool"), "databases.primary.pool");
        assert_eq!(
            at("databases.extra.url"),
            "environments.test.databases.extra.url"
        );
        assert_eq!(
            at("databases.extra.replicas[0]"),
            "environments.test.databases.extra.replicas[0]"
        );
        assert_eq!(at("databases.primary.shards"), "databases.primary.shards");
        assert_eq!(at("default"), "default");
        let mut environments = BTreeMap::new();
        environments.insert("test".to_owned(), over);
        assert!(check_known("test", &environments).is_ok());
        assert!(check_known("development", &environments).is_ok());
        let err = check_known("producton", &environments).unwrap_err();
        assert_eq!(err.key, "environments.producton");
        assert_eq!(
            err.kind,
            ConfigErrorKind::UnknownEnvironment {
                name: "producton".into(),
                known: "`development`, `test`".into()
            }
        );
    }
}
