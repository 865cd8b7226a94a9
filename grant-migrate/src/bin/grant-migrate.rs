//! `grant-migrate`: migrate every database and every shard of a `grant.toml`, show their
//! status, revert the latest migration. Run `grant-migrate --help` for usage.

use std::process::ExitCode;
use std::time::Duration;

use grant_core::Grant;
use grant_migrate::{MigrateError, MigrationState, Migrator, Report, TargetStatus};

const USAGE: &str = "\
grant-migrate: per-database migrations for Grant

USAGE:
    grant-migrate [OPTIONS] <COMMAND> [--database NAME]

COMMANDS:
    migrate [--database NAME]   apply pending migrations: every database with a `migrations`
                                folder (or only NAME), on its own URL and on every shard (the
                                shards in parallel); read-only and replica_of entries are skipped
    status  [--database NAME]   show, per database and shard, every migration: applied, pending,
                                CHANGED (file edited after it was applied) or NO FILE
    revert  --database NAME     revert the latest applied migration of NAME (on each of its
                                targets) with its <version>_<name>.down.sql file
    help                        show this help

OPTIONS:
    -c, --config PATH     the config file (default: grant.toml)
    -e, --env NAME        the environment of the config (sets GRANT_ENV; default: $GRANT_ENV,
                          else development)
    -d, --database NAME   limit the command to one database
    -v, --verbose         log progress to stderr (-vv: debug logs)
    -h, --help            show this help
    -V, --version         show the version

Migration files: <version>_<name>.sql (version: digits), optional <version>_<name>.down.sql.
Statements are split at a `;` that ends a line; see the grant-migrate docs for the rules.

EXIT STATUS:
    0 on success; 1 on any error (bad arguments, config, files, a failed target). `status`
    also exits 1 when a target cannot be read or has a CHANGED migration.

`create-databases` is not provided: create the databases (and shard databases) with your
server's tools first.
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Migrate,
    Status,
    Revert,
    Help,
    Version,
}

#[derive(Debug)]
struct Args {
    config: String,
    env: Option<String>,
    database: Option<String>,
    verbose: u8,
    command: Command,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut config = None;
    let mut env = None;
    let mut database = None;
    let mut verbose = 0u8;
    let mut command = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(format!("{name} needs a value")),
            }
        };
        let set = |slot: &mut Option<String>, name: &str, v: String| {
            if slot.replace(v).is_some() {
                Err(format!("{name} given twice"))
            } else {
                Ok(())
            }
        };
        match flag.as_str() {
            "-c" | "--config" => {
                let v = value("--config")?;
                set(&mut config, "--config", v)?
            }
            "-e" | "--env" => {
                let v = value("--env")?;
                set(&mut env, "--env", v)?
            }
            "-d" | "--database" => {
                let v = value("--database")?;
                set(&mut database, "--database", v)?
            }
            "-v" | "--verbose" => verbose = verbose.saturating_add(1),
            "-vv" => verbose = verbose.saturating_add(2),
            "-h" | "--help" => command = Some(Command::Help),
            "-V" | "--version" => {
                if command != Some(Command::Help) {
                    command = Some(Command::Version)
                }
            }
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`")),
            s => {
                if matches!(command, Some(Command::Help | Command::Version)) {
                    continue;
                }
                if command.is_some() {
                    return Err(format!("unexpected argument `{s}` (one command at a time)"));
                }
                command =
                    Some(match s {
                        "migrate" => Command::Migrate,
                        "status" => Command::Status,
                        "revert" | "rollback" => Command::Revert,
                        "help" => Command::Help,
                        "create-databases" | "create" => return Err(
                            "`create-databases` is not provided: create the databases (and shard \
                             databases) with your server's tools, then run `grant-migrate migrate`"
                                .to_string(),
                        ),
                        other => return Err(format!("unknown command `{other}`")),
                    });
            }
        }
    }
    let command = command.ok_or("no command given")?;
    if command == Command::Revert && database.is_none() {
        return Err("`revert` needs --database NAME".to_string());
    }
    Ok(Args {
        config: config.unwrap_or_else(|| "grant.toml".to_string()),
        env,
        database,
        verbose,
        command,
    })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}\n\nRun `grant-migrate --help` for usage.");
            return ExitCode::FAILURE;
        }
    };
    match args.command {
        Command::Help => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("grant-migrate {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    if let Some(env) = &args.env {
        // Still single-threaded: nothing else reads the environment concurrently.
        std::env::set_var(grant_core::config::ENVIRONMENT_VARIABLE, env);
    }
    let level = match args.verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let grant = match Grant::from_file(&args.config) {
        Ok(grant) => grant,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let migrator = Migrator::new(&grant);
    let code = match args.command {
        Command::Migrate => {
            let result = match &args.database {
                Some(db) => migrator.migrate(db).await,
                None => migrator.migrate_all().await,
            };
            print_outcome(result, "applied")
        }
        Command::Revert => {
            let db = args.database.as_deref().unwrap_or_default();
            print_outcome(migrator.revert_last(db).await, "reverted")
        }
        Command::Status => {
            let result = match &args.database {
                Some(db) => migrator.status(db).await,
                None => migrator.status_all().await,
            };
            match result {
                Ok(statuses) => {
                    let skipped = migrator.skipped();
                    for s in skipped
                        .iter()
                        .filter(|s| args.database.as_deref().is_none_or(|db| db == s.database))
                    {
                        println!("skipped: {s}");
                    }
                    print_status(&statuses)
                }
                Err(e) => print_error(&e),
            }
        }
        Command::Help | Command::Version => ExitCode::SUCCESS,
    };
    grant.close().await;
    code
}

fn target_label(database: &str, shard: Option<&str>) -> String {
    match shard {
        Some(shard) => format!("{database}/{shard}"),
        None => database.to_string(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn print_report(report: &Report, verb: &str) {
    for s in &report.skipped {
        println!("skipped: {s}");
    }
    for t in &report.targets {
        let label = target_label(&t.database, t.shard.as_deref());
        let steps = if verb == "reverted" {
            &t.reverted
        } else {
            &t.applied
        };
        if steps.is_empty() {
            let nothing = if verb == "reverted" {
                "nothing to revert"
            } else {
                "up to date"
            };
            println!("{label}: {nothing}");
        }
        for step in steps {
            println!(
                "{label}: {verb} {} {} ({} statement{}, {})",
                step.version,
                step.name,
                step.statements,
                if step.statements == 1 { "" } else { "s" },
                ms(step.elapsed)
            );
        }
    }
}

fn print_outcome(result: Result<Report, MigrateError>, verb: &str) -> ExitCode {
    match result {
        Ok(report) => {
            print_report(&report, verb);
            let count = if verb == "reverted" {
                report.reverted_count()
            } else {
                report.applied_count()
            };
            println!(
                "done: {verb} {count} migration{} on {} target{}",
                if count == 1 { "" } else { "s" },
                report.targets.len(),
                if report.targets.len() == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let Some(report) = e.report() {
                print_report(report, verb);
            }
            print_error(&e)
        }
    }
}

fn print_error(e: &MigrateError) -> ExitCode {
    let errors = e.errors();
    for leaf in &errors {
        eprintln!("error: {leaf}");
    }
    if let MigrateError::Failed { report, .. } = e {
        if report
            .targets
            .iter()
            .all(|t| t.applied.is_empty() && t.reverted.is_empty())
        {
            eprintln!("nothing was changed");
        }
    }
    ExitCode::FAILURE
}

fn print_status(statuses: &[TargetStatus]) -> ExitCode {
    let headers = [
        "DATABASE",
        "SHARD",
        "VERSION",
        "NAME",
        "STATE",
        "APPLIED AT",
    ];
    let mut rows: Vec<[String; 6]> = Vec::new();
    let mut failed = false;
    for s in statuses {
        let database = s.database.clone();
        let shard = s.shard.clone().unwrap_or_else(|| "-".to_string());
        if let Some(e) = &s.error {
            failed = true;
            rows.push([
                database,
                shard,
                "-".into(),
                "-".into(),
                "ERROR".into(),
                e.to_string(),
            ]);
            continue;
        }
        if s.migrations.is_empty() {
            rows.push([
                database,
                shard,
                "-".into(),
                "(no migrations)".into(),
                "-".into(),
                "-".into(),
            ]);
            continue;
        }
        for m in &s.migrations {
            if matches!(m.state, MigrationState::ChecksumMismatch { .. }) {
                failed = true;
            }
            rows.push([
                database.clone(),
                shard.clone(),
                m.version.to_string(),
                m.name.clone(),
                m.state.to_string(),
                m.applied_at.clone().unwrap_or_else(|| "-".to_string()),
            ]);
        }
    }
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 5 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(headers);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    for s in statuses {
        for m in s.mismatched() {
            if let MigrationState::ChecksumMismatch { recorded, actual } = &m.state {
                let e = MigrateError::ChecksumMismatch {
                    database: s.database.clone(),
                    shard: s.shard.clone(),
                    version: m.version,
                    file: m.file.clone().unwrap_or_default(),
                    recorded: recorded.clone(),
                    actual: actual.clone(),
                };
                eprintln!("error: {e}");
            }
        }
    }
    let pending: usize = statuses.iter().map(|s| s.pending().len()).sum();
    println!(
        "{} target{}, {pending} pending migration{}",
        statuses.len(),
        if statuses.len() == 1 { "" } else { "s" },
        if pending == 1 { "" } else { "s" }
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_commands_and_options() {
        let a = parse(&[
            "--config",
            "x.toml",
            "--env=test",
            "migrate",
            "--database",
            "primary",
        ])
        .unwrap();
        assert_eq!(a.command, Command::Migrate);
        assert_eq!(a.config, "x.toml");
        assert_eq!(a.env.as_deref(), Some("test"));
        assert_eq!(a.database.as_deref(), Some("primary"));
        let a = parse(&["status", "-vv"]).unwrap();
        assert_eq!(
            (a.command, a.verbose, a.config.as_str()),
            (Command::Status, 2, "grant.toml")
        );
        assert_eq!(
            parse(&["migrate", "--help"]).unwrap().command,
            Command::Help
        );
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(&[]).unwrap_err().contains("no command"));
        assert!(parse(&["revert"]).unwrap_err().contains("--database"));
        assert!(parse(&["frobnicate"])
            .unwrap_err()
            .contains("unknown command"));
        assert!(parse(&["migrate", "--bogus"])
            .unwrap_err()
            .contains("unknown option"));
        assert!(parse(&["migrate", "--config"])
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(&["migrate", "status"])
            .unwrap_err()
            .contains("one command"));
        assert!(parse(&["create-databases"])
            .unwrap_err()
            .contains("not provided"));
    }
}
