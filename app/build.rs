//! The site's facts (output name, package directory, site root, environment) are stated once,
//! in the workspace's `[[workspace.metadata.leptos]]`; `./dev` reads them from there too. This
//! hands them to the code as `GATEHOUSE_SITE_*` variables. The section is flat `key = "value"`
//! lines, so a line reader does (a TOML parser would be one more build dependency for four keys).
use std::{fs, path::Path};

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    println!("cargo:rerun-if-changed={}", manifest.display());
    let text = fs::read_to_string(&manifest).expect("the workspace Cargo.toml");
    let section = text.split("[[workspace.metadata.leptos]]").nth(1).expect("a [[workspace.metadata.leptos]] section");
    let value = |key: &str| -> String {
        section
            .lines()
            .take_while(|line| !line.starts_with('['))
            .filter_map(|line| line.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .unwrap_or_else(|| panic!("[[workspace.metadata.leptos]] needs {key}"))
    };
    for (key, var) in [("name", "OUTPUT_NAME"), ("site-pkg-dir", "PKG_DIR"), ("site-root", "ROOT"), ("env", "ENV")] {
        println!("cargo:rustc-env=GATEHOUSE_SITE_{var}={}", value(key));
    }
}
