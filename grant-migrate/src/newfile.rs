//! `grant-migrate new`: a new, empty migration file named with the current UTC time.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{MigrateError, Result};
use crate::source::{parse_file_name, MAX_NAME_LEN};

/// Create `<dir>/<version>_<name>.sql` (and `<version>_<name>.down.sql` when
/// `reversible`) for `database`, where the version is the current UTC time as
/// `YYYYMMDDHHMMSS`, or one more than the newest version in the folder when that is not
/// older (two files made in one second, or a clock behind). The folder is created when
/// missing; an existing file is never overwritten. Returns the files created.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("grant-new-doc-{}", std::process::id()));
/// let files = grant_migrate::new_migration("primary", &dir, "create_users", true)?;
/// assert_eq!(files.len(), 2);
/// assert!(files[0].to_string_lossy().ends_with("_create_users.sql"));
/// assert!(files[1].to_string_lossy().ends_with("_create_users.down.sql"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), grant_migrate::MigrateError>(())
/// ```
pub fn new_migration(
    database: &str,
    dir: &Path,
    name: &str,
    reversible: bool,
) -> Result<Vec<PathBuf>> {
    let admin = |action: &str, message: String| MigrateError::Admin {
        database: database.to_string(),
        shard: None,
        action: action.to_string(),
        message,
    };
    let probe = format!("1_{name}.sql");
    if name.len() > MAX_NAME_LEN {
        return Err(MigrateError::BadFileName {
            database: database.to_string(),
            file: dir.join(&probe),
            reason: format!("the name is longer than {MAX_NAME_LEN} bytes"),
        });
    }
    if let Some(Err(reason)) = parse_file_name(&probe) {
        return Err(MigrateError::BadFileName {
            database: database.to_string(),
            file: dir.join(&probe),
            reason,
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        admin(
            "create the migrations folder",
            format!("{}: {e}", dir.display()),
        )
    })?;
    let mut newest: Option<i64> = None;
    let entries = std::fs::read_dir(dir).map_err(|e| {
        admin(
            "read the migrations folder",
            format!("{}: {e}", dir.display()),
        )
    })?;
    for entry in entries.flatten() {
        if let Some(Ok((version, _, _))) = entry.file_name().to_str().and_then(parse_file_name) {
            newest = newest.max(Some(version));
        }
    }
    let now: i64 = chrono::Utc::now()
        .format("%Y%m%d%H%M%S")
        .to_string()
        .parse()
        .map_err(|e| admin("make a version", format!("{e}")))?;
    let version = match newest {
        Some(n) if n >= now => n.checked_add(1).ok_or_else(|| {
            admin(
                "make a version",
                format!("the newest version {n} is the largest possible"),
            )
        })?,
        _ => now,
    };
    let mut files = vec![(
        dir.join(format!("{version}_{name}.sql")),
        format!("-- {name}\n"),
    )];
    if reversible {
        files.push((
            dir.join(format!("{version}_{name}.down.sql")),
            format!("-- revert {name}\n"),
        ));
    }
    let mut created = Vec::new();
    for (path, text) in files {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| {
                admin(
                    "create a migration file",
                    format!("{}: {e}", path.display()),
                )
            })?;
        file.write_all(text.as_bytes())
            .map_err(|e| admin("write a migration file", format!("{}: {e}", path.display())))?;
        created.push(path);
    }
    Ok(created)
}
