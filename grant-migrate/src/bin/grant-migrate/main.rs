//! `grant-migrate`: migrations for every database and every shard of a `grant.toml`.
//! Run `grant-migrate --help` for usage.

mod cli;
mod output;
mod status;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use grant_core::Grant;
use grant_migrate::{new_migration, MigrateError, Migrator, OnError, Operation, Resolution};

use cli::{Cli, Command, OnErrorArg, RunOptions};
use output::Output;

/// A usage error: exit code 2, like clap's own.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(env) = &cli.global.env {
        // Still single-threaded: nothing else reads the environment concurrently.
        std::env::set_var(grant_core::config::ENVIRONMENT_VARIABLE, env);
    }
    let color = color_allowed();
    let level = match cli.global.verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(color)
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
    runtime.block_on(run(cli, color))
}

/// Colour and progress bars only on a terminal, and never with `NO_COLOR` or `TERM=dumb`.
fn color_allowed() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\nRun `grant-migrate --help` for usage.");
    ExitCode::from(USAGE)
}

async fn run(cli: Cli, color: bool) -> ExitCode {
    let g = &cli.global;
    // Refusals that need no config.
    match &cli.command {
        Command::Reset { force: false, run } if !run.dry_run => {
            return usage("`reset` reverts every migration of every target: pass --force (or --dry-run to see what it would do)")
        }
        Command::Drop { force: false } => {
            return usage("`drop` drops every database and shard database of the config: pass --force")
        }
        Command::New { .. } if g.database.is_none() => {
            return usage("`new` needs --database NAME (whose migrations folder gets the file)")
        }
        Command::Resolve { .. } if g.database.is_none() => {
            return usage("`resolve` needs --database NAME (and --shard NAME for a shard)")
        }
        _ => {}
    }
    let grant = match Grant::from_file(&g.config) {
        Ok(grant) => grant,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let out = Output::new(color);
    let mut migrator = Migrator::new(&grant).lock_timeout(g.lock_timeout);
    if let Some(shard) = &g.shard {
        migrator = migrator.shard(shard.clone());
    }
    let db = g.database.as_deref();
    let code = match cli.command {
        Command::New { name, reversible } => {
            new(&migrator, db.unwrap_or_default(), &name, reversible)
        }
        Command::Migrate { target, run } => {
            operation(&out, migrator, db, &run, Operation::Migrate { to: target }).await
        }
        Command::Revert { steps, target, run } => {
            let op = match target {
                Some(v) => Operation::RevertTo(v),
                None => Operation::RevertSteps(steps.unwrap_or(1)),
            };
            operation(&out, migrator, db, &run, op).await
        }
        Command::Redo { steps, run } => {
            operation(&out, migrator, db, &run, Operation::Redo(steps)).await
        }
        Command::Reset { run, .. } => operation(&out, migrator, db, &run, Operation::Reset).await,
        Command::Status { short, json } => status::status(&migrator, db, short, json).await,
        Command::Resolve {
            version, applied, ..
        } => {
            let resolution = if applied {
                Resolution::Applied
            } else {
                Resolution::RolledBack
            };
            let shard = g.shard.as_deref();
            match migrator
                .resolve(db.unwrap_or_default(), shard, version, resolution)
                .await
            {
                Ok(()) => {
                    let label = output::label(db.unwrap_or_default(), shard);
                    let what = if applied {
                        "marked applied"
                    } else {
                        "forgotten (rolled back by hand); the next run applies it"
                    };
                    println!("{label}: migration {version} {what}");
                    ExitCode::SUCCESS
                }
                Err(e) => out.error(&e),
            }
        }
        Command::Create => match migrator.create_databases(db).await {
            Ok(actions) => {
                output::print_actions(&actions);
                ExitCode::SUCCESS
            }
            Err(e) => out.error(&e),
        },
        Command::Drop { .. } => match migrator.drop_databases(db).await {
            Ok(actions) => {
                output::print_actions(&actions);
                ExitCode::SUCCESS
            }
            Err(e) => out.error(&e),
        },
        Command::Prepare { run } if run.dry_run => {
            println!("dry run: databases that do not exist would be created first");
            operation(&out, migrator, db, &run, Operation::Migrate { to: None }).await
        }
        Command::Prepare { run } => match migrator.create_databases(db).await {
            Ok(actions) => {
                output::print_actions(&actions);
                operation(&out, migrator, db, &run, Operation::Migrate { to: None }).await
            }
            Err(e) => out.error(&e),
        },
        Command::Schema { out: dir, check } => {
            let dir =
                dir.unwrap_or_else(|| g.config.parent().unwrap_or(Path::new(".")).join("schema"));
            status::schema(&out, &migrator, db, &dir, check).await
        }
    };
    grant.close().await;
    code
}

/// Config errors may hold a newline (a TOML parse error's excerpt): one line for the CLI.
fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn new(migrator: &Migrator, database: &str, name: &str, reversible: bool) -> ExitCode {
    let dir = match migrator.grant().handler().database(database) {
        Ok(entry) => entry.config().migrations.clone(),
        Err(_) => {
            eprintln!(
                "error: {}",
                MigrateError::UnknownDatabase {
                    database: database.to_string()
                }
            );
            return ExitCode::FAILURE;
        }
    };
    let Some(dir) = dir else {
        eprintln!(
            "error: {}",
            MigrateError::NoMigrationsFolder {
                database: database.to_string()
            }
        );
        return ExitCode::FAILURE;
    };
    match new_migration(database, &dir, name, reversible) {
        Ok(files) => {
            for f in files {
                println!("created {}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn operation(
    out: &Output,
    migrator: Migrator,
    db: Option<&str>,
    run: &RunOptions,
    op: Operation,
) -> ExitCode {
    let mut migrator = migrator
        .concurrency(run.concurrency)
        .on_error(match run.on_error {
            OnErrorArg::Fail => OnError::Fail,
            OnErrorArg::Continue => OnError::Continue,
        });
    if let Some(cli::StatementTimeout(timeout)) = run.statement_timeout {
        migrator = migrator.statement_timeout(timeout);
    }
    if run.dry_run {
        return match migrator.plan(db, op).await {
            Ok(plans) => {
                output::print_plans(&plans, &migrator.skipped(), db);
                ExitCode::SUCCESS
            }
            Err(e) => out.error(&e),
        };
    }
    let progress = out.progress();
    let migrator = {
        let progress = progress.clone();
        migrator.on_progress(move |event| progress.event(event))
    };
    let result = migrator.run(db, op).await;
    progress.finish();
    let streamed = progress.is_plain();
    let reverting = matches!(op, Operation::RevertSteps(_) | Operation::RevertTo(_));
    match result {
        Ok(report) => {
            output::print_report(&report, streamed, reverting);
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let Some(report) = e.report() {
                output::print_report(report, streamed, reverting);
            }
            out.error(&e)
        }
    }
}
