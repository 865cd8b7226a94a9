//! The examples are the living documentation: each one runs to completion (they need no
//! server). `cargo test` builds them next to the test binaries.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EXAMPLES: [&str; 9] = [
    "quickstart",
    "multiple_databases",
    "sharding",
    "time_series",
    "chat_archive",
    "migrations",
    "safety",
    "fan_out",
    // `required-features = ["tower"]`: built by `cargo test` with the default features.
    "axum_replicas",
];

fn example_path(name: &str) -> PathBuf {
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn every_example_runs() {
    for name in EXAMPLES {
        let path = example_path(name);
        assert!(
            path.exists(),
            "{} was not built (cargo test builds the examples)",
            path.display()
        );
        let mut child = Command::new(&path)
            .env_remove("GRANT_ENV")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("example {name} did not finish within 120 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut stderr);
        }
        assert!(
            status.success(),
            "example {name} failed: {status}\n{stderr}"
        );
    }
}
