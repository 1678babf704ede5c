//! Slow clients at scale, run by `./dev harden` (it needs Debian's slowhttptest and takes a
//! minute or two): slowhttptest opens 500 connections that send their headers (slowloris) or
//! their body (R-U-Dead-Yet) a few bytes a second, while a real client logs in four times a
//! second. Every login must succeed, and the deadlines must close every slow connection, so
//! slowhttptest runs out of connections before its time limit.
#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::json;

use helpers::{Backend, Options, spawn_app_with};

/// The deadlines for the run: the header deadline's default, and a body deadline as short.
const HEADER_DEADLINE_MS: u64 = 10_000;
const BODY_DEADLINE_MS: u64 = 10_000;
/// slowhttptest's time limit: the deadlines must end every connection well before it.
const SECONDS: u64 = 40;
const CONNECTIONS: u32 = 500;

/// One second of slowhttptest's report.
struct Tick {
    closed: u32,
    connected: u32,
    available: bool,
}

/// `text` without terminal colour codes, trimmed.
fn strip_colours(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().take_while(|c| *c != 'm').for_each(drop);
        } else {
            out.push(c);
        }
    }
    out.trim().to_string()
}

fn read_stats(csv: &std::path::Path) -> Vec<Tick> {
    let text = std::fs::read_to_string(csv).unwrap_or_else(|e| panic!("slowhttptest wrote no {}: {e}", csv.display()));
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            // Seconds, closed, pending, connected and "service available" (drawn as the
            // connection count when it is, 0 when it is not).
            Some(Tick { closed: cells.get(1)?.parse().ok()?, connected: cells.get(3)?.parse().ok()?, available: cells.get(4)? != &"0" })
        })
        .collect()
}

async fn attack(backend: Backend, mode: &str) {
    let app = spawn_app_with(
        backend,
        Options { header_read_timeout_ms: HEADER_DEADLINE_MS, body_read_timeout_ms: BODY_DEADLINE_MS, ..Options::default() },
    )
    .await;
    assert_eq!(app.register("ada@example.com", "analytical engine").await.status(), StatusCode::CREATED);
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("stats");
    let target = app.url("/api/v1/auth/login");
    let mut slow = Command::new("slowhttptest")
        .args([mode, "-c", &CONNECTIONS.to_string(), "-r", "250", "-i", "1", "-x", "8", "-p", "3", "-l", &SECONDS.to_string()])
        .args(["-s", "8192", "-f", "application/json", "-g", "-o"])
        .arg(&prefix)
        .args(["-u", &target])
        .stdout(std::fs::File::create(dir.path().join("out")).unwrap())
        .spawn()
        .expect("slowhttptest runs (apt-get install slowhttptest; ./dev harden installs it)");

    // Logins, four a second, each on a new connection, while the slow connections are held
    // (they open in the first two seconds and are cut off from the tenth on).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    let until = Instant::now() + Duration::from_millis(HEADER_DEADLINE_MS.min(BODY_DEADLINE_MS) - 2_500);
    while Instant::now() < until {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let started = Instant::now();
        let login = client.post(&target).json(&json!({ "email": "ada@example.com", "password": "analytical engine" })).send().await;
        match login {
            Ok(response) if response.status() == StatusCode::OK => latencies.push(started.elapsed()),
            Ok(response) => failures.push(format!("{}", response.status())),
            Err(e) => failures.push(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let status = tokio::task::spawn_blocking(move || slow.wait()).await.unwrap().unwrap();
    assert!(status.success(), "slowhttptest failed: {status}");

    let out = std::fs::read_to_string(dir.path().join("out")).unwrap();
    let ended = out.lines().find_map(|l| l.split_once("Exit status:").map(|(_, why)| strip_colours(why))).unwrap_or_default();
    let ticks = read_stats(&prefix.with_extension("csv"));
    let most = ticks.iter().map(|t| t.connected).max().unwrap_or(0);
    let last = ticks.last().expect("slowhttptest reported at least one second");
    let closed = last.closed;
    let unavailable = ticks.iter().filter(|t| !t.available).count();
    latencies.sort();
    let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or_default();
    let worst = latencies.last().copied().unwrap_or_default();
    eprintln!(
        "slowhttptest {mode} on {backend:?}: {most} slow connections at once; it stopped after {} s of {SECONDS} with \"{ended}\" \
         ({closed} counted closed); its probe found the service unavailable {unavailable} of {} s; \
         {} logins meanwhile, {} failed, p50 {p50:.1?}, slowest {worst:.1?}",
        ticks.len(),
        ticks.len(),
        latencies.len(),
        failures.len(),
    );
    assert!(failures.is_empty(), "logins failed under slow clients: {failures:?}");
    assert!(latencies.len() >= 20, "too few logins ran: {}", latencies.len());
    assert!(most >= CONNECTIONS * 9 / 10, "slowhttptest held only {most} connections");
    assert_eq!(ended, "No open connections left", "the deadlines must end every slow connection before slowhttptest's limit");
    assert!((ticks.len() as u64) < SECONDS / 2, "the slow connections lasted {} s", ticks.len());
    assert_eq!(unavailable, 0, "slowhttptest found the service unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs slowhttptest; run with ./dev harden"]
async fn slow_headers_sqlite() {
    attack(Backend::Sqlite, "-H").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs slowhttptest; run with ./dev harden"]
async fn slow_headers_postgres() {
    attack(Backend::Postgres, "-H").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs slowhttptest; run with ./dev harden"]
async fn slow_bodies_sqlite() {
    attack(Backend::Sqlite, "-B").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs slowhttptest; run with ./dev harden"]
async fn slow_bodies_postgres() {
    attack(Backend::Postgres, "-B").await;
}
