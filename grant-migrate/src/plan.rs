//! What a run means on one target: the state of each migration, and the ordered list of
//! migrations an [`Operation`] applies or reverts there (or why it cannot).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::bookkeeping::Applied;
use crate::error::MigrateError;
use crate::report::{Direction, MigrationState, MigrationStatus, PlannedStep};
use crate::source::Migration;
use crate::target::Target;

/// What a run does on each target (see [`Migrator::run`](crate::Migrator::run) and
/// [`Migrator::plan`](crate::Migrator::plan)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// Apply pending migrations, in version order (only those up to and including `to`,
    /// when set).
    Migrate {
        /// The last version to apply.
        to: Option<i64>,
    },
    /// Revert the latest `n` applied migrations of each target, newest first.
    RevertSteps(usize),
    /// Revert every applied migration newer than the version (the version stays).
    RevertTo(i64),
    /// Revert the latest `n` applied migrations, then apply them again.
    Redo(usize),
    /// Revert every applied migration, then apply every migration.
    Reset,
}

use Operation as Op;

/// Every migration of the folder and of the table, in version order, with its state.
pub(crate) fn statuses(migrations: &[Migration], applied: &[Applied]) -> Vec<MigrationStatus> {
    let applied: HashMap<i64, &Applied> = applied.iter().map(|a| (a.version, a)).collect();
    let mut out: BTreeMap<i64, MigrationStatus> = BTreeMap::new();
    let state_of = |a: &Applied, file: Option<&Migration>| {
        if !a.success {
            return MigrationState::Dirty {
                statement: a.failed_statement,
                error: a.error.clone(),
            };
        }
        match file {
            None => MigrationState::MissingFile,
            Some(m) if m.checksum == a.checksum => MigrationState::Applied,
            Some(m) => MigrationState::ChecksumMismatch {
                recorded: a.checksum.clone(),
                actual: m.checksum.clone(),
            },
        }
    };
    for m in migrations {
        let (state, applied_at) = match applied.get(&m.version) {
            None => (MigrationState::Pending, None),
            Some(a) => (state_of(a, Some(m)), a.applied_at.clone()),
        };
        out.insert(
            m.version,
            MigrationStatus {
                version: m.version,
                name: m.name.clone(),
                file: Some(m.path.clone()),
                state,
                applied_at,
            },
        );
    }
    for a in applied.values() {
        out.entry(a.version).or_insert_with(|| MigrationStatus {
            version: a.version,
            name: a.name.clone(),
            file: None,
            state: state_of(a, None),
            applied_at: a.applied_at.clone(),
        });
    }
    out.into_values().collect()
}

/// What `op` means on a target that has `applied`: the migrations to run, in order, or
/// the first reason it cannot run (a dirty migration, an edited file, a revert without a
/// down file or without its file).
pub(crate) fn plan_steps<'m>(
    t: &Target,
    op: Op,
    migrations: &'m [Migration],
    applied: &[Applied],
) -> Result<Vec<(&'m Migration, Direction)>, MigrateError> {
    if let Some(a) = applied.iter().find(|a| !a.success) {
        return Err(MigrateError::Dirty {
            database: t.database.to_string(),
            shard: t.shard_name(),
            version: a.version,
            name: a.name.clone(),
            statement: a.failed_statement,
            error: a.error.clone(),
        });
    }
    let by_version: HashMap<i64, &Migration> = migrations.iter().map(|m| (m.version, m)).collect();
    for a in applied {
        if let Some(m) = by_version.get(&a.version) {
            if m.checksum != a.checksum {
                return Err(MigrateError::ChecksumMismatch {
                    database: t.database.to_string(),
                    shard: t.shard_name(),
                    version: a.version,
                    file: m.path.clone(),
                    recorded: a.checksum.clone(),
                    actual: m.checksum.clone(),
                });
            }
        } else {
            tracing::warn!(
                database = %t.database,
                shard = t.shard.as_deref(),
                version = a.version,
                name = %a.name,
                "grant-migrate: migration is applied but its file is missing"
            );
        }
    }
    let mut newest_first: Vec<&Applied> = applied.iter().collect();
    newest_first.sort_by_key(|a| std::cmp::Reverse(a.version));
    let downs = |chosen: Vec<&Applied>| -> Result<Vec<&'m Migration>, MigrateError> {
        chosen
            .into_iter()
            .map(|a| {
                let m = by_version.get(&a.version).copied().ok_or_else(|| {
                    MigrateError::MissingFile {
                        database: t.database.to_string(),
                        shard: t.shard_name(),
                        version: a.version,
                        name: a.name.clone(),
                    }
                })?;
                if m.down.is_none() {
                    return Err(MigrateError::NoDownMigration {
                        database: t.database.to_string(),
                        shard: t.shard_name(),
                        version: m.version,
                        file: m.path.clone(),
                        expected: down_path(&m.path),
                    });
                }
                Ok(m)
            })
            .collect()
    };
    let is_applied = |v: i64| applied.iter().any(|a| a.version == v);
    let steps = match op {
        Op::Migrate { to } => migrations
            .iter()
            .filter(|m| !is_applied(m.version) && to.is_none_or(|to| m.version <= to))
            .map(|m| (m, Direction::Up))
            .collect(),
        Op::RevertSteps(n) => downs(newest_first.into_iter().take(n).collect())?
            .into_iter()
            .map(|m| (m, Direction::Down))
            .collect(),
        Op::RevertTo(v) => downs(newest_first.into_iter().filter(|a| a.version > v).collect())?
            .into_iter()
            .map(|m| (m, Direction::Down))
            .collect(),
        Op::Redo(n) => {
            let reverted = downs(newest_first.into_iter().take(n).collect())?;
            let mut steps: Vec<_> = reverted.iter().map(|m| (*m, Direction::Down)).collect();
            steps.extend(reverted.iter().rev().map(|m| (*m, Direction::Up)));
            steps
        }
        Op::Reset => {
            let mut steps: Vec<_> = downs(newest_first)?
                .into_iter()
                .map(|m| (m, Direction::Down))
                .collect();
            steps.extend(migrations.iter().map(|m| (m, Direction::Up)));
            steps
        }
    };
    Ok(steps)
}

/// The steps of a plan, described.
pub(crate) fn describe(steps: &[(&Migration, Direction)]) -> Vec<PlannedStep> {
    steps
        .iter()
        .map(|(m, d)| {
            let (file, statements) = match (d, &m.down) {
                (Direction::Down, Some(down)) => (down.path.clone(), down.statements.len()),
                _ => (m.path.clone(), m.statements.len()),
            };
            PlannedStep {
                direction: *d,
                version: m.version,
                name: m.name.clone(),
                file,
                statements,
            }
        })
        .collect()
}

/// `dir/0001_init.sql` -> `dir/0001_init.down.sql`.
pub(crate) fn down_path(up: &Path) -> PathBuf {
    let name = up
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".sql").unwrap_or(&name);
    up.with_file_name(format!("{stem}.down.sql"))
}
