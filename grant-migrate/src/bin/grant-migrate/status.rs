//! `status` (table, `--short`, `--json`) and `schema` (files, JSON, `--check`).

use std::path::Path;
use std::process::ExitCode;

use grant_migrate::{drift, MigrationState, Migrator, TargetStatus};
use serde_json::json;

use crate::output::{label, Output};

/// Left-aligned columns, two spaces apart; the last column is not padded.
fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn state_text(state: &MigrationState, running: bool) -> String {
    match state {
        MigrationState::Dirty { .. } if running => "RUNNING (another runner)".to_string(),
        MigrationState::Dirty {
            statement: Some(s), ..
        } => format!("DIRTY (statement {s})"),
        MigrationState::Dirty { .. } => "DIRTY (interrupted)".to_string(),
        other => other.to_string(),
    }
}

fn dirty_text(s: &TargetStatus) -> String {
    match s.dirty().first() {
        None => "no".to_string(),
        Some(m) if s.running => format!("no (running {})", m.version),
        Some(m) => match &m.state {
            MigrationState::Dirty {
                statement: Some(st),
                ..
            } => format!("DIRTY {} (statement {st})", m.version),
            _ => format!("DIRTY {}", m.version),
        },
    }
}

fn failed(statuses: &[TargetStatus]) -> bool {
    statuses.iter().any(|s| {
        s.error.is_some() || !s.mismatched().is_empty() || (!s.dirty().is_empty() && !s.running)
    })
}

pub async fn status(migrator: &Migrator, db: Option<&str>, short: bool, as_json: bool) -> ExitCode {
    let statuses = match db {
        Some(db) => migrator.status(db).await,
        None => migrator.status_all().await,
    };
    let statuses = match statuses {
        Ok(s) => s,
        Err(e) => return Output::new(false).error(&e),
    };
    if as_json {
        print_json(&statuses);
    } else if short {
        let rows: Vec<Vec<String>> = statuses
            .iter()
            .map(|s| {
                vec![
                    s.database.clone(),
                    s.shard.clone().unwrap_or_else(|| "-".into()),
                    s.current_version().map_or("-".into(), |v| v.to_string()),
                    s.pending().len().to_string(),
                    if s.error.is_some() {
                        "ERROR".into()
                    } else {
                        dirty_text(s)
                    },
                ]
            })
            .collect();
        table(&["DATABASE", "SHARD", "VERSION", "PENDING", "DIRTY"], &rows);
    } else {
        for s in migrator
            .skipped()
            .iter()
            .filter(|s| db.is_none_or(|db| db == s.database))
        {
            println!("skipped: {s}");
        }
        print_table(&statuses);
    }
    for s in &statuses {
        let target = label(&s.database, s.shard.as_deref());
        if let Some(e) = &s.error {
            eprintln!("error: {e}");
        }
        for m in &s.migrations {
            match &m.state {
                MigrationState::ChecksumMismatch { recorded, actual } => eprintln!(
                    "error: {target}: {} (version {}) was changed after it was applied (recorded checksum {recorded}, file now {actual})",
                    m.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default(),
                    m.version
                ),
                MigrationState::Dirty { .. } if s.running => eprintln!(
                    "note: {target}: migration {} `{}` is running now (another grant-migrate holds the lock)",
                    m.version, m.name
                ),
                MigrationState::Dirty { statement, error } => eprintln!(
                    "error: {target}: migration {} `{}` is DIRTY{}{}; fix the database by hand, then run `grant-migrate resolve --database {}{} --version {} --applied` (or `--rolled-back`)",
                    m.version,
                    m.name,
                    statement.map(|s| format!(": failed at statement {s}")).unwrap_or_else(|| ": interrupted, or running now".into()),
                    error.as_ref().map(|e| format!(": {e}")).unwrap_or_default(),
                    s.database,
                    s.shard.as_ref().map(|s| format!(" --shard {s}")).unwrap_or_default(),
                    m.version
                ),
                _ => {}
            }
        }
    }
    if failed(&statuses) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_table(statuses: &[TargetStatus]) {
    let mut rows = Vec::new();
    for s in statuses {
        let database = s.database.clone();
        let shard = s.shard.clone().unwrap_or_else(|| "-".to_string());
        if s.error.is_some() {
            rows.push(vec![
                database,
                shard,
                "-".into(),
                "-".into(),
                "ERROR".into(),
                "(see below)".into(),
            ]);
            continue;
        }
        if s.migrations.is_empty() {
            rows.push(vec![
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
            let applied_at = match (&m.applied_at, s.missing_database) {
                (Some(a), _) => a.clone(),
                (None, true) => "(no database yet)".into(),
                (None, false) => "-".into(),
            };
            rows.push(vec![
                database.clone(),
                shard.clone(),
                m.version.to_string(),
                m.name.clone(),
                state_text(&m.state, s.running),
                applied_at,
            ]);
        }
    }
    table(
        &[
            "DATABASE",
            "SHARD",
            "VERSION",
            "NAME",
            "STATE",
            "APPLIED AT",
        ],
        &rows,
    );
    let pending: usize = statuses.iter().map(|s| s.pending().len()).sum();
    let dirty: usize = statuses.iter().map(|s| s.dirty().len()).sum();
    let mut summary = format!(
        "{} target{}, {pending} pending migration{}",
        statuses.len(),
        if statuses.len() == 1 { "" } else { "s" },
        if pending == 1 { "" } else { "s" }
    );
    if dirty > 0 {
        summary.push_str(&format!(", {dirty} DIRTY"));
    }
    println!("{summary}");
}

fn print_json(statuses: &[TargetStatus]) {
    let targets: Vec<_> = statuses
        .iter()
        .map(|s| {
            json!({
                "database": s.database,
                "shard": s.shard,
                "backend": s.backend.name(),
                "current_version": s.current_version(),
                "pending": s.pending().len(),
                "missing_database": s.missing_database,
                "running": s.running,
                "error": s.error.as_ref().map(ToString::to_string),
                "dirty": s.dirty().iter().map(|m| match &m.state {
                    MigrationState::Dirty { statement, error } => json!({
                        "version": m.version, "name": m.name, "statement": statement, "error": error,
                    }),
                    _ => json!(null),
                }).collect::<Vec<_>>(),
                "migrations": s.migrations.iter().map(|m| json!({
                    "version": m.version,
                    "name": m.name,
                    "state": m.state.to_string(),
                    "applied_at": m.applied_at,
                    "file": m.file.as_ref().map(|f| f.display().to_string()),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    println!("{}", json!({ "targets": targets }));
}

pub async fn schema(
    out: &Output,
    migrator: &Migrator,
    db: Option<&str>,
    dir: &Path,
    check: bool,
) -> ExitCode {
    let schemas = match migrator.schema(db).await {
        Ok(s) => s,
        Err(e) => return out.error(&e),
    };
    if check {
        let drifted = drift(&schemas);
        for d in &drifted {
            println!(
                "drift: {}/{} differs from {}/{}:",
                d.database, d.shard, d.database, d.reference
            );
            for line in &d.differences {
                println!("  {line}");
            }
        }
        let shards = schemas.iter().filter(|s| s.shard.is_some()).count();
        if drifted.is_empty() {
            println!("no drift: {shards} shard schemas match their database's first shard");
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "error: {} of {shards} shard schemas drifted from their database's first shard",
            drifted.len()
        );
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for s in &schemas {
        let path = dir.join(s.file_name());
        if let Err(e) = std::fs::write(&path, s.to_text()) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!(
            "{}: wrote {} ({} tables)",
            label(&s.database, s.shard.as_deref()),
            path.display(),
            s.tables.len()
        );
    }
    let path = dir.join("schema.json");
    let text = match serde_json::to_string_pretty(&json!({ "targets": schemas })) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&path, text + "\n") {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", path.display());
    ExitCode::SUCCESS
}
