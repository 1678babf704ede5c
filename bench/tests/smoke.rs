//! The benchmark suite in smoke mode (tiny counts, seconds): every figure is still produced
//! against real processes, so the bench cannot rot between full runs (`./dev bench`).
use std::{path::PathBuf, process::Command};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The gatehouse binary `cargo test --workspace` built next to this test, or `GATEHOUSE_BIN`.
fn gatehouse_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("GATEHOUSE_BIN") {
        return bin.into();
    }
    let deps = std::env::current_exe().expect("the test's own path");
    deps.parent().and_then(|d| d.parent()).expect("target/<profile>/deps").join("gatehouse")
}

#[test]
fn the_whole_suite_runs_in_smoke_mode() {
    let gatehouse = gatehouse_bin();
    assert!(gatehouse.exists(), "{} is missing: build it first (cargo build -p gatehouse)", gatehouse.display());
    let site = std::env::var_os("GATEHOUSE_SITE_ROOT").map(PathBuf::from).unwrap_or_else(|| repo().join("target/site"));
    let out = std::env::temp_dir().join(format!("gatehouse-bench-smoke-{}.md", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_gatehouse-bench"))
        .args(["--smoke", "--command", "cargo test -p gatehouse-bench (smoke)"])
        .arg("--gatehouse")
        .arg(&gatehouse)
        .arg("--site")
        .arg(&site)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("the bench harness starts");
    assert!(status.success(), "the smoke run failed: {status}");
    let results = std::fs::read_to_string(&out).expect("the smoke run wrote its table");
    let _ = std::fs::remove_file(&out);
    for row in [
        "round trip",
        "POSTs per second",
        "CPU per proxied request",
        "token check",
        "SSE streams",
        "revoke",
        "database writes",
        "token list",
        "wasm",
        "bad logins",
        "login p50",
        "SSE soak",
    ] {
        assert!(results.contains(row), "no {row:?} row in:\n{results}");
    }
}
