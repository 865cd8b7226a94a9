//! Configuration tests: invalid documents by shape (TOML syntax, unknown keys, wrong
//! types, invalid names, interpolation), one test per problem, exact key and kind.

mod common;

use common::{assert_error, invalid, parse_env, pg};
use grant_core::config::ConfigErrorKind;

#[test]
fn invalid_syntax() {
    let err = invalid("[databases.primary]\nurl = \n", "(root)", |k| {
        matches!(k, ConfigErrorKind::Syntax { line: Some(2), .. })
    });
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn invalid_duplicate_toml_key() {
    let toml = "[databases.primary]\nurl = \"sqlite::memory:\"\nurl = \"sqlite://x.db\"\n";
    invalid(
        toml,
        "(root)",
        |k| matches!(k, ConfigErrorKind::Syntax { line: Some(3), message, .. } if message.contains("duplicate")),
    );
}

#[test]
fn invalid_unknown_top_level_key() {
    let toml = format!("databse = 1\n{}", pg("primary"));
    invalid(
        &toml,
        "databse",
        |k| matches!(k, ConfigErrorKind::UnknownKey { suggestion: Some("databases"), expected } if expected.contains("environments")),
    );
}

#[test]
fn invalid_unknown_database_key_typo() {
    let toml = format!("{}replicass = []\n", pg("primary"));
    let err = invalid(&toml, "databases.primary.replicass", |k| {
        matches!(
            k,
            ConfigErrorKind::UnknownKey {
                suggestion: Some("replicas"),
                ..
            }
        )
    });
    assert!(err.to_string().contains("did you mean `replicas`"), "{err}");
}

#[test]
fn invalid_unknown_pool_key() {
    let toml = format!(
        "{}[databases.primary.pool]\nmax_conections = 5\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.max_conections", |k| {
        matches!(
            k,
            ConfigErrorKind::UnknownKey {
                suggestion: Some("max_connections"),
                ..
            }
        )
    });
}

#[test]
fn invalid_typo_in_other_environment() {
    let toml = format!(
        "{}[environments.production.databases.primary]\nurll = \"x\"\n",
        pg("primary")
    );
    invalid(
        &toml,
        "environments.production.databases.primary.urll",
        |k| {
            matches!(
                k,
                ConfigErrorKind::UnknownKey {
                    suggestion: Some("url"),
                    ..
                }
            )
        },
    );
}

#[test]
fn invalid_wrong_type_readonly() {
    let toml = format!("{}readonly = \"yes\"\n", pg("primary"));
    let err = invalid(&toml, "databases.primary.readonly", |k| {
        *k == ConfigErrorKind::WrongType {
            expected: "a boolean (true or false)",
            found: "a string",
        }
    });
    assert!(err.to_string().contains("expected a boolean"), "{err}");
}

#[test]
fn invalid_wrong_type_replica_element() {
    let toml = format!("{}replicas = [\"sqlite::memory:\", 5]\n", pg("primary"));
    invalid(&toml, "databases.primary.replicas[1]", |k| {
        matches!(
            k,
            ConfigErrorKind::WrongType {
                found: "an integer",
                ..
            }
        )
    });
}

#[test]
fn invalid_wrong_type_pool_not_table() {
    let toml = "[databases.primary]\nurl = \"sqlite::memory:\"\npool = 5\n";
    invalid(toml, "databases.primary.pool", |k| {
        matches!(
            k,
            ConfigErrorKind::WrongType {
                expected: "a table of pool options",
                found: "an integer"
            }
        )
    });
}

#[test]
fn invalid_environment_not_table() {
    let toml = format!(
        "environments = {{ test = \"sqlite::memory:\" }}\n{}",
        pg("primary")
    );
    invalid(&toml, "environments.test", |k| {
        matches!(
            k,
            ConfigErrorKind::WrongType {
                found: "a string",
                ..
            }
        )
    });
}

#[test]
fn invalid_names() {
    invalid(
        "[databases.\"my db\"]\nurl = \"sqlite::memory:\"\n",
        "databases.\"my db\"",
        |k| matches!(k, ConfigErrorKind::InvalidName { name } if name == "my db"),
    );
    invalid(
        "[databases.\"\"]\nurl = \"sqlite::memory:\"\n",
        "databases.\"\"",
        |k| matches!(k, ConfigErrorKind::InvalidName { name } if name.is_empty()),
    );
    let toml = format!(
        "{}[databases.primary.shards.\"shard.1\"]\nurl = \"postgres://h/s\"\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.shards.\"shard.1\"", |k| {
        matches!(k, ConfigErrorKind::InvalidName { .. })
    });
    let toml = format!(
        "{}roles = {{ \"bad role\" = \"primary\" }}\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.roles.\"bad role\"", |k| {
        matches!(k, ConfigErrorKind::InvalidName { .. })
    });
}

#[test]
fn invalid_missing_variable() {
    let err = invalid(
        "[databases.primary]\nurl = \"${DATABASE_URL}\"\n",
        "databases.primary.url",
        |k| matches!(k, ConfigErrorKind::MissingVariable { variable } if variable == "DATABASE_URL"),
    );
    assert!(err.to_string().contains("DATABASE_URL"), "{err}");
}

#[test]
fn invalid_unterminated_interpolation() {
    invalid(
        "[databases.primary]\nurl = \"${DATABASE_URL:-sqlite::memory:\"\n",
        "databases.primary.url",
        |k| *k == ConfigErrorKind::UnterminatedInterpolation,
    );
}

#[test]
fn invalid_variable_name() {
    invalid(
        "[databases.primary]\nurl = \"sqlite::memory:\"\nreplicas = [\"${1BAD}\"]\n",
        "databases.primary.replicas[0]",
        |k| matches!(k, ConfigErrorKind::InvalidVariableName { name } if name == "1BAD"),
    );
}

#[test]
fn invalid_interpolated_integer() {
    let toml = format!(
        "{}[databases.primary.pool]\nmax_connections = \"${{POOL}}\"\n",
        pg("primary")
    );
    assert_error(
        parse_env(&toml, "development", &[("POOL", "ten")]),
        "databases.primary.pool.max_connections",
        |k| matches!(k, ConfigErrorKind::InvalidInterpolatedValue { value, .. } if value == "ten"),
    );
    // A literal string (no `${...}`) for an integer is a type error.
    let toml = format!(
        "{}[databases.primary.pool]\nmax_connections = \"10\"\n",
        pg("primary")
    );
    invalid(&toml, "databases.primary.pool.max_connections", |k| {
        matches!(
            k,
            ConfigErrorKind::WrongType {
                found: "a string",
                ..
            }
        )
    });
}
