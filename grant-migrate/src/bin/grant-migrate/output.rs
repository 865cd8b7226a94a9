//! What the CLI prints: progress (bars on a terminal, plain lines otherwise), reports,
//! plans and errors. Every error is printed once, on stderr, without colour codes.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grant_migrate::{
    DatabaseAction, Direction, MigrateError, Progress, Report, Skipped, Step, TargetPlan,
};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `database` or `database/shard`.
pub fn label(database: &str, shard: Option<&str>) -> String {
    match shard {
        Some(shard) => format!("{database}/{shard}"),
        None => database.to_string(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// How the CLI shows things: colour and bars on a terminal only.
pub struct Output {
    color: bool,
}

impl Output {
    pub fn new(color: bool) -> Output {
        Output { color }
    }

    /// Print every leaf error once on stderr; exit code 1.
    pub fn error(&self, e: &MigrateError) -> ExitCode {
        let prefix = if self.color {
            "\x1b[31merror\x1b[0m"
        } else {
            "error"
        };
        for leaf in e.errors() {
            eprintln!("{prefix}: {leaf}");
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

    /// The progress sink of a run.
    pub fn progress(&self) -> Arc<Bars> {
        Arc::new(if self.color {
            Bars::Terminal {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(Vec::new()),
            }
        } else {
            Bars::Plain
        })
    }
}

/// Progress: one bar per target on a terminal, plain lines on stdout otherwise.
pub enum Bars {
    Plain,
    Terminal {
        multi: MultiProgress,
        bars: Mutex<Vec<(String, ProgressBar)>>,
    },
}

fn step_line(target: &str, direction: Direction, step: &Step) -> String {
    format!(
        "{target}: {} {} {} ({}, {})",
        if direction == Direction::Up {
            "applied"
        } else {
            "reverted"
        },
        step.version,
        step.name,
        plural(step.statements, "statement"),
        ms(step.elapsed)
    )
}

/// Run `f` on the bar labelled `name`, if it was started.
fn with_bar(bars: &Mutex<Vec<(String, ProgressBar)>>, name: &str, f: impl FnOnce(&ProgressBar)) {
    if let Ok(bars) = bars.lock() {
        if let Some((_, bar)) = bars.iter().find(|(l, _)| l == name) {
            f(bar);
        }
    }
}

impl Bars {
    pub fn event(&self, event: &Progress) {
        match (self, event) {
            (
                Bars::Plain,
                Progress::Step {
                    database,
                    shard,
                    direction,
                    step,
                    ..
                },
            ) => {
                println!(
                    "{}",
                    step_line(&label(database, shard.as_deref()), *direction, step)
                );
            }
            (
                Bars::Terminal { multi, bars },
                Progress::Started {
                    database,
                    shard,
                    steps,
                    ..
                },
            ) => {
                let bar = multi.add(ProgressBar::new(*steps as u64));
                let style =
                    ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(label(database, shard.as_deref()));
                if let Ok(mut bars) = bars.lock() {
                    bars.push((label(database, shard.as_deref()), bar));
                }
            }
            (
                Bars::Terminal { bars, .. },
                Progress::Step {
                    database,
                    shard,
                    step,
                    ..
                },
            ) => {
                with_bar(bars, &label(database, shard.as_deref()), |bar| {
                    bar.inc(1);
                    bar.set_message(format!("{} {}", step.version, step.name));
                });
            }
            (
                Bars::Terminal { bars, .. },
                Progress::Finished {
                    database,
                    shard,
                    error,
                    ..
                },
            ) => {
                with_bar(bars, &label(database, shard.as_deref()), |bar| {
                    bar.finish_with_message(if error.is_some() { "failed" } else { "done" });
                });
            }
            _ => {}
        }
    }

    /// Clear the bars before the final report is printed.
    pub fn finish(&self) {
        if let Bars::Terminal { multi, .. } = self {
            let _ = multi.clear();
        }
    }

    /// True when the steps were printed as plain lines while they ran.
    pub fn is_plain(&self) -> bool {
        matches!(self, Bars::Plain)
    }
}

/// The report of a run: skipped entries, targets with nothing done, every step unless the
/// plain progress lines already showed it (`streamed`), then a summary line.
///
/// `reverting`: the run only reverts (its summary then says `reverted 0` when nothing was).
pub fn print_report(report: &Report, streamed: bool, reverting: bool) {
    for s in &report.skipped {
        println!("skipped: {s}");
    }
    for t in &report.targets {
        let target = label(&t.database, t.shard.as_deref());
        if t.applied.is_empty() && t.reverted.is_empty() {
            println!("{target}: nothing to do");
        } else if !streamed {
            for step in &t.reverted {
                println!("{}", step_line(&target, Direction::Down, step));
            }
            for step in &t.applied {
                println!("{}", step_line(&target, Direction::Up, step));
            }
        }
    }
    let (applied, reverted) = (report.applied_count(), report.reverted_count());
    let mut done = Vec::new();
    if reverted > 0 || (reverting && applied == 0) {
        done.push(format!("reverted {}", plural(reverted, "migration")));
    }
    if applied > 0 || (reverted == 0 && !reverting) {
        done.push(format!("applied {}", plural(applied, "migration")));
    }
    println!(
        "done: {} on {}",
        done.join(", "),
        plural(report.targets.len(), "target")
    );
}

/// A dry run: what would run where.
pub fn print_plans(plans: &[TargetPlan], skipped: &[Skipped], db: Option<&str>) {
    for s in skipped
        .iter()
        .filter(|s| db.is_none_or(|db| db == s.database))
    {
        println!("skipped: {s}");
    }
    let mut total = 0;
    for p in plans {
        let target = label(&p.database, p.shard.as_deref());
        if p.steps.is_empty() {
            println!("{target}: nothing to do");
        }
        for s in &p.steps {
            total += 1;
            println!(
                "{target}: would {} {} {} ({}: {})",
                s.direction,
                s.version,
                s.name,
                s.file.display(),
                plural(s.statements, "statement")
            );
        }
    }
    println!(
        "dry run: {} would run on {}; nothing was changed",
        plural(total, "migration"),
        plural(plans.len(), "target")
    );
}

/// What create / drop did.
pub fn print_actions(actions: &[DatabaseAction]) {
    for a in actions {
        println!(
            "{}: {} {} ({})",
            label(&a.database, a.shard.as_deref()),
            a.name,
            a.change,
            a.backend.name()
        );
    }
}
