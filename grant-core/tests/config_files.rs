//! Configuration tests that touch the process: SQLite paths of `grant.toml` resolved
//! against the file's folder (checked on a real SQLite file), and `GRANT_ENV`.
//!
//! The tests of this binary read or set `GRANT_ENV`, so they hold `PROCESS` while they run.

use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use grant_core::config::{Config, ConfigErrorKind};
use grant_core::Grant;

static PROCESS: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    PROCESS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh folder `name` under the target's temporary folder.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("grant-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `path` (absolute) written relative to the working directory.
fn relative_to_cwd(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap();
    let cwd: Vec<Component> = cwd.components().collect();
    let target: Vec<Component> = path.components().collect();
    let common = cwd.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..cwd.len() {
        out.push("..");
    }
    for part in &target[common..] {
        out.push(part);
    }
    out
}

const TOML: &str = r#"
[databases.primary]
url = "sqlite://app.sqlite3?mode=rwc"
replicas = ["sqlite:app.sqlite3?mode=ro"]
migrations = "db/migrate"

[databases.primary.shards.s1]
url = "sqlite://shards/s1.db"
replicas = ["sqlite://shards/s1.db?mode=ro"]

[databases.absolute]
url = "sqlite:///var/lib/app/abs.db"

[databases.memory]
url = "sqlite::memory:"

[databases.shared_memory]
url = "sqlite://cache?mode=memory&cache=shared"

[databases.server]
url = "postgres://127.0.0.1:5432/app"
"#;

#[test]
fn sqlite_paths_resolve_against_the_config_folder() {
    let _guard = lock();
    std::env::remove_var("GRANT_ENV");
    let dir = fresh_dir("paths").join("my app");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("grant.toml"), TOML).unwrap();

    // From an absolute and from a relative path to the file: the folder made absolute
    // (`..` kept, symbolic links not resolved, as `std::path::absolute` does).
    for path in [
        dir.join("grant.toml"),
        relative_to_cwd(&dir.join("grant.toml")),
    ] {
        let dir = std::path::absolute(path.parent().unwrap()).unwrap();
        let shown = dir.display().to_string().replace(' ', "%20");
        let config = Config::from_file(&path).unwrap();
        let primary = config.database("primary").unwrap();
        assert_eq!(
            primary.url,
            format!("sqlite://{shown}/app.sqlite3?mode=rwc")
        );
        assert_eq!(
            primary.replicas,
            [format!("sqlite://{shown}/app.sqlite3?mode=ro")]
        );
        assert_eq!(
            primary.migrations.as_deref(),
            Some(dir.join("db/migrate").as_path())
        );
        let s1 = &primary.shards["s1"];
        assert_eq!(s1.url, format!("sqlite://{shown}/shards/s1.db"));
        assert_eq!(
            s1.replicas,
            [format!("sqlite://{shown}/shards/s1.db?mode=ro")]
        );
        let url = |name: &str| config.database(name).unwrap().url.clone();
        assert_eq!(url("absolute"), "sqlite:///var/lib/app/abs.db");
        assert_eq!(url("memory"), "sqlite::memory:");
        assert_eq!(
            url("shared_memory"),
            "sqlite://cache?mode=memory&cache=shared"
        );
        assert_eq!(url("server"), "postgres://127.0.0.1:5432/app");
    }

    // Strings and builders are left to the driver (the working directory).
    let config = Config::from_toml_str(TOML).unwrap();
    assert_eq!(
        config.database("primary").unwrap().url,
        "sqlite://app.sqlite3?mode=rwc"
    );
}

#[tokio::test]
async fn a_real_sqlite_file_is_created_next_to_the_config() {
    let dir = fresh_dir("real");
    let path = dir.join("grant.toml");
    let name = format!("grant-config-real-{}.sqlite3", std::process::id());
    std::fs::write(
        &path,
        format!("[databases.primary]\nurl = \"sqlite://{name}\"\n"),
    )
    .unwrap();
    let grant = {
        let _guard = lock();
        std::env::remove_var("GRANT_ENV");
        Grant::from_file(relative_to_cwd(&path)).unwrap()
    };
    grant.ping("primary").await.unwrap();
    grant.close().await;
    assert!(dir.join(&name).exists(), "created in the config's folder");
    assert!(
        !Path::new(&name).exists(),
        "not created in the working directory"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grant_env_selects_a_known_environment_only() {
    let _guard = lock();
    let dir = fresh_dir("env");
    let path = dir.join("grant.toml");
    std::fs::write(
        &path,
        "[databases.primary]\nurl = \"sqlite://dev.db\"\n[environments.production.databases.primary]\nurl = \"sqlite://prod.db\"\n",
    )
    .unwrap();

    std::env::set_var("GRANT_ENV", "producton");
    let err = Config::from_file(&path).unwrap_err();
    std::env::set_var("GRANT_ENV", "production");
    let prod = Config::from_file(&path);
    std::env::set_var("GRANT_ENV", " ");
    let blank = Config::from_file(&path);
    std::env::remove_var("GRANT_ENV");

    assert_eq!(err.key, "environments.producton");
    assert_eq!(
        err.kind,
        ConfigErrorKind::UnknownEnvironment {
            name: "producton".into(),
            known: "`development`, `production`".into(),
        }
    );
    let prod = prod.unwrap();
    assert_eq!(prod.environment(), "production");
    assert!(prod.database("primary").unwrap().url.ends_with("/prod.db"));
    let blank = blank.unwrap();
    assert_eq!(blank.environment(), "development");
    assert!(blank.database("primary").unwrap().url.ends_with("/dev.db"));
    std::fs::remove_dir_all(&dir).unwrap();
}
