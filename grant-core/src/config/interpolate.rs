//! `${VAR}` / `${VAR:-default}` interpolation of every string value, with `$$` for `$`.

use std::collections::BTreeSet;

use toml::{Table, Value};

use super::error::{ConfigError, ConfigErrorKind};
use super::path::{index_path, key_path};

/// A variable lookup: `Some(value)` when the variable is set.
pub(crate) type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Interpolates every string value of `table` in place, visiting keys in sorted order so the
/// first error is deterministic. Returns the paths of the strings that contained at least one
/// `${...}`, so that non-string fields may accept interpolated text.
pub(crate) fn interpolate_table(
    table: &mut Table,
    vars: Vars<'_>,
) -> Result<BTreeSet<String>, ConfigError> {
    let mut interpolated = BTreeSet::new();
    walk_table(table, "", vars, &mut interpolated)?;
    Ok(interpolated)
}

fn walk_table(
    table: &mut Table,
    path: &str,
    vars: Vars<'_>,
    out: &mut BTreeSet<String>,
) -> Result<(), ConfigError> {
    let mut keys: Vec<String> = table.keys().cloned().collect();
    keys.sort();
    for key in keys {
        let child = key_path(path, &key);
        if let Some(value) = table.get_mut(&key) {
            walk_value(value, &child, vars, out)?;
        }
    }
    Ok(())
}

fn walk_value(
    value: &mut Value,
    path: &str,
    vars: Vars<'_>,
    out: &mut BTreeSet<String>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            if text.contains('$') {
                let (expanded, had_variable) =
                    expand(text, vars).map_err(|kind| ConfigError::new(path, kind))?;
                *text = expanded;
                if had_variable {
                    out.insert(path.to_owned());
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk_value(item, &index_path(path, i), vars, out)?;
            }
            Ok(())
        }
        Value::Table(table) => walk_table(table, path, vars, out),
        _ => Ok(()),
    }
}

/// Expands one string. Returns the text and whether it contained a `${...}`.
///
/// `${VAR:-default}` uses `default` when `VAR` is unset or empty (as in POSIX shells);
/// the default may itself contain `${...}`, which is only looked up when the default is used.
/// A `$` not followed by `{` or `$` is kept as is.
pub(crate) fn expand(text: &str, vars: Vars<'_>) -> Result<(String, bool), ConfigErrorKind> {
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser {
        chars: &chars,
        pos: 0,
        vars,
        had_variable: false,
        depth: 0,
    };
    let out = parser.sequence(false, true)?;
    Ok((out, parser.had_variable))
}

struct Parser<'a, 'v> {
    chars: &'a [char],
    pos: usize,
    vars: Vars<'v>,
    had_variable: bool,
    depth: usize,
}

/// How deeply `${A:-${B:-...}}` defaults may nest.
pub(crate) const MAX_NESTING: usize = 16;

impl Parser<'_, '_> {
    /// Reads text up to the end (top level) or up to the `}` closing a default (`nested`).
    /// When `evaluate` is false, only the syntax is checked and nothing is looked up.
    fn sequence(&mut self, nested: bool, evaluate: bool) -> Result<String, ConfigErrorKind> {
        let mut out = String::new();
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                return if nested {
                    Err(ConfigErrorKind::UnterminatedInterpolation)
                } else {
                    Ok(out)
                };
            };
            match c {
                '}' if nested => {
                    self.pos += 1;
                    return Ok(out);
                }
                '$' => match self.chars.get(self.pos + 1) {
                    Some('$') => {
                        out.push('$');
                        self.pos += 2;
                    }
                    Some('{') => {
                        self.pos += 2;
                        self.had_variable = true;
                        let value = self.variable(evaluate)?;
                        out.push_str(&value);
                    }
                    _ => {
                        out.push('$');
                        self.pos += 1;
                    }
                },
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// After `${`: reads `NAME}` or `NAME:-default}`.
    fn variable(&mut self, evaluate: bool) -> Result<String, ConfigErrorKind> {
        let start = self.pos;
        while let Some(&c) = self.chars.get(self.pos) {
            if c == '}' || (c == ':' && self.chars.get(self.pos + 1) == Some(&'-')) {
                break;
            }
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let Some(&terminator) = self.chars.get(self.pos) else {
            return Err(ConfigErrorKind::UnterminatedInterpolation);
        };
        if !valid_variable_name(&name) {
            return Err(ConfigErrorKind::InvalidVariableName { name });
        }
        let value = if evaluate { (self.vars)(&name) } else { None };
        if terminator == '}' {
            self.pos += 1;
            return match value {
                Some(v) => Ok(v),
                None if !evaluate => Ok(String::new()),
                None => Err(ConfigErrorKind::MissingVariable { variable: name }),
            };
        }
        // `:-default}`
        self.pos += 2;
        if self.depth >= MAX_NESTING {
            return Err(ConfigErrorKind::InterpolationTooDeep { max: MAX_NESTING });
        }
        self.depth += 1;
        let use_default = evaluate && value.as_deref().is_none_or(str::is_empty);
        let default = self.sequence(true, use_default)?;
        self.depth -= 1;
        Ok(if use_default {
            default
        } else {
            value.unwrap_or_default()
        })
    }
}

fn valid_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, ConfigErrorKind> {
        expand(text, &vars).map(|(s, _)| s)
    }

    #[test]
    fn expands() {
        assert_eq!(run("pg://${HOST}/x").unwrap(), "pg://db.internal/x");
        assert_eq!(run("${NOPE:-a}").unwrap(), "a");
        assert_eq!(run("${EMPTY:-a}").unwrap(), "a");
        assert_eq!(run("${EMPTY}").unwrap(), "");
        assert_eq!(run("${HOST:-${NOPE}}").unwrap(), "db.internal");
        assert_eq!(run("${NOPE:-${HOST}}").unwrap(), "db.internal");
        assert_eq!(run("${NOPE:-}").unwrap(), "");
        assert_eq!(run("a$$b $x $").unwrap(), "a$b $x $");
        assert_eq!(run("${NOPE:-sqlite::memory:}").unwrap(), "sqlite::memory:");
        assert_eq!(run("${NOPE:-$${X}}").unwrap(), "${X}");
    }

    #[test]
    fn errors() {
        assert_eq!(
            run("${NOPE}"),
            Err(ConfigErrorKind::MissingVariable {
                variable: "NOPE".into()
            })
        );
        assert_eq!(
            run("${HOST"),
            Err(ConfigErrorKind::UnterminatedInterpolation)
        );
        assert_eq!(
            run("${HOST:-x"),
            Err(ConfigErrorKind::UnterminatedInterpolation)
        );
        assert_eq!(
            run("${HOST:-${NOPE"),
            Err(ConfigErrorKind::UnterminatedInterpolation)
        );
        assert!(matches!(
            run("${}"),
            Err(ConfigErrorKind::InvalidVariableName { .. })
        ));
        assert!(matches!(
            run("${1A}"),
            Err(ConfigErrorKind::InvalidVariableName { .. })
        ));
        assert!(matches!(
            run("${A-b}"),
            Err(ConfigErrorKind::InvalidVariableName { .. })
        ));
        let deep = "${A:-".repeat(100_000);
        assert_eq!(
            run(&deep),
            Err(ConfigErrorKind::InterpolationTooDeep { max: MAX_NESTING })
        );
    }
}
