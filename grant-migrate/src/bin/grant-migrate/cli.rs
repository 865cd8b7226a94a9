//! The command line, parsed with clap (derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// grant-migrate: per-database migrations for Grant, on every database and every shard of
/// a grant.toml.
#[derive(Debug, Parser)]
#[command(
    name = "grant-migrate",
    version,
    after_help = "Exit status: 0 on success, 1 on a failure (config, files, a failed target, \
                  a DIRTY or CHANGED migration in `status`, drift in `schema --check`), 2 on a \
                  usage error.\n\nMigration files: <version>_<name>.sql, optional \
                  <version>_<name>.down.sql; `grant-migrate new NAME --database D` makes them."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The config file.
    #[arg(
        short,
        long,
        global = true,
        default_value = "grant.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
    /// The environment of the config (sets GRANT_ENV; default: $GRANT_ENV, else development).
    #[arg(short, long, global = true, value_name = "NAME")]
    pub env: Option<String>,
    /// Only this database (default: every database with a `migrations` folder).
    #[arg(short, long, global = true, value_name = "NAME")]
    pub database: Option<String>,
    /// Only this shard of each database.
    #[arg(short, long, global = true, value_name = "NAME")]
    pub shard: Option<String>,
    /// How long to wait for another runner's lock on a target (e.g. 30s, 500ms, 2m).
    #[arg(long, global = true, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub lock_timeout: Duration,
    /// Log progress to stderr (-vv: debug logs).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// How a run proceeds over many targets.
#[derive(Debug, Args)]
pub struct RunOptions {
    /// Show what would run where, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Targets of one database worked on at once.
    #[arg(long, default_value_t = grant_migrate::DEFAULT_CONCURRENCY, value_name = "N", value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub concurrency: usize,
    /// Server-side limit of one migration statement (e.g. 2h), or `off`; default: the
    /// database's `statement_timeout` from the config (30s unless set).
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION|off")]
    pub statement_timeout: Option<StatementTimeout>,
    /// When a target fails: stop every target at its next migration, or let the others finish.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Fail)]
    pub on_error: OnErrorArg,
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnErrorArg {
    /// Stop every target at its next migration.
    Fail,
    /// Let the other targets finish.
    Continue,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create <timestamp>_<name>.sql (and .down.sql with --reversible) in the database's
    /// migrations folder.
    New {
        /// The migration's name (letters, digits, `_` and `-`).
        name: String,
        /// Also create the .down.sql file.
        #[arg(long)]
        reversible: bool,
    },
    /// Apply pending migrations on every target (read-only and replica_of entries are skipped).
    Migrate {
        /// Apply only up to and including this version.
        #[arg(long, value_name = "VERSION")]
        target: Option<i64>,
        #[command(flatten)]
        run: RunOptions,
    },
    /// Revert applied migrations with their .down.sql files (default: the latest one).
    #[command(alias = "rollback")]
    Revert {
        /// Revert the latest N migrations of each target.
        #[arg(long, value_name = "N", conflicts_with = "target", value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
        steps: Option<usize>,
        /// Revert every migration newer than this version (the version stays applied).
        #[arg(long, value_name = "VERSION")]
        target: Option<i64>,
        #[command(flatten)]
        run: RunOptions,
    },
    /// Revert the latest N migrations, then apply them again.
    Redo {
        /// How many.
        #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
        steps: usize,
        #[command(flatten)]
        run: RunOptions,
    },
    /// Revert every applied migration, then apply every migration (refused without --force).
    Reset {
        /// Yes, revert everything.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        run: RunOptions,
    },
    /// Show every migration of every target: applied, pending, CHANGED, NO FILE, DIRTY.
    Status {
        /// One line per target: database, shard, current version, pending count, dirty.
        #[arg(long, conflicts_with = "json")]
        short: bool,
        /// JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Mark a DIRTY migration (MariaDB, or a no-transaction file) fixed, after repairing
    /// the database by hand.
    Resolve {
        /// The dirty migration's version.
        #[arg(long, value_name = "VERSION")]
        version: i64,
        /// The database now has the migration fully applied: mark it done.
        #[arg(
            long,
            conflicts_with = "rolled_back",
            required_unless_present = "rolled_back"
        )]
        applied: bool,
        /// The database is back as before the migration: forget it (the next run applies it).
        #[arg(long)]
        rolled_back: bool,
    },
    /// Create the databases and shard databases of the config that do not exist.
    Create,
    /// Drop the databases and shard databases of the config (never a replica; needs --force).
    Drop {
        /// Yes, drop them.
        #[arg(long)]
        force: bool,
    },
    /// Create the databases that are missing, then migrate.
    Prepare {
        #[command(flatten)]
        run: RunOptions,
    },
    /// Dump each database's and shard's schema to files, and a JSON reading of all tables.
    Schema {
        /// The folder for the files (default: `schema` beside the config file).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write nothing; report shards whose schema drifted from their database's first
        /// shard (exit 1 if any).
        #[arg(long)]
        check: bool,
    },
}

/// `--statement-timeout`: a limit, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementTimeout(pub Option<Duration>);

/// A duration, or `off` / `none` for no limit.
pub fn parse_timeout(s: &str) -> Result<StatementTimeout, String> {
    match s.trim() {
        "off" | "none" => Ok(StatementTimeout(None)),
        other => match parse_duration(other)? {
            d if d.is_zero() => Err("use `off` for no limit, or a positive duration".to_string()),
            d => Ok(StatementTimeout(Some(d))),
        },
    }
}

/// `30s`, `500ms`, `2m`, `1h`, or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 30s, 500ms, 2m)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}` (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
        assert_eq!(parse_timeout("off"), Ok(StatementTimeout(None)));
        assert_eq!(
            parse_timeout("2h"),
            Ok(StatementTimeout(Some(Duration::from_secs(7200))))
        );
        assert!(parse_timeout("0s").is_err());
    }

    #[test]
    fn parses_subcommands() {
        let cli = Cli::try_parse_from([
            "grant-migrate",
            "--config",
            "x.toml",
            "revert",
            "--steps",
            "2",
            "-d",
            "primary",
        ])
        .unwrap();
        assert_eq!(cli.global.database.as_deref(), Some("primary"));
        assert!(matches!(
            cli.command,
            Command::Revert {
                steps: Some(2),
                target: None,
                ..
            }
        ));
        assert!(
            Cli::try_parse_from(["grant-migrate", "revert", "--steps", "1", "--target", "3"])
                .is_err()
        );
        assert!(Cli::try_parse_from(["grant-migrate", "resolve", "--version", "3"]).is_err());
        assert!(Cli::try_parse_from(["grant-migrate", "migrate", "--concurrency", "0"]).is_err());
    }
}
