//! The binary's command line: `--help` and `--version` answer and exit without touching any data,
//! even with a broken configuration; an unknown argument is a usage error (exit 2), never a
//! server started on the current folder's data.

use std::path::Path;
use std::process::Output;

use tempfile::TempDir;

use crate::process::binary_command;

fn run(dir: &TempDir, args: &[&str], extra: &[(&str, &str)]) -> Output {
    binary_command(Path::new(env!("CARGO_BIN_EXE_api-proxy")), dir, extra)
        .args(args)
        .output()
        .expect("api-proxy runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_answers_and_exits_even_with_a_broken_configuration() {
    let dir = TempDir::new().unwrap();
    for flag in ["--help", "-h"] {
        // A too-short admin token stops a server's start-up; help must not read it.
        let out = run(&dir, &[flag], &[("ADMIN_TOKEN", "short")]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{flag}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.starts_with("api-proxy "), "{stdout}");
        assert!(stdout.contains("rotate-master-key"), "{stdout}");
        assert!(stdout.contains("--version"), "{stdout}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "help created the data folder"
    );
}

#[test]
fn version_prints_the_crate_version() {
    let dir = TempDir::new().unwrap();
    for flag in ["--version", "-V"] {
        let out = run(&dir, &[flag], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout).trim(),
            format!("api-proxy {}", env!("CARGO_PKG_VERSION"))
        );
    }
    assert!(!dir.path().join("data").exists());
}

#[test]
fn an_unknown_argument_is_a_usage_error_and_starts_nothing() {
    let dir = TempDir::new().unwrap();
    for (args, culprit) in [
        (&["--port", "8080"][..], "--port"),
        (&["serve"], "serve"),
        (&["rotate-master-key", "now"], "now"),
    ] {
        let out = run(&dir, args, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("`{culprit}`")), "{stderr}");
        assert!(stderr.contains("Usage:"), "{stderr}");
        assert!(!text(&out.stdout).contains("listening"));
    }
    assert!(!dir.path().join("data").exists(), "a server started");
}
