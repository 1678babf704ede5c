//! Slow clients at scale, run by `./dev harden` (it needs Debian's slowhttptest and takes a
//! minute or two): slowhttptest holds 500 connections that send their headers (slowloris) or
//! their body (R-U-Dead-Yet) a few bytes at a time, while a real client logs in four times a
//! second. Every login must succeed, and the deadlines must close the slow connections.
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

/// The deadlines for the run: short, so connections cycle several times in 20 s.
const HEADER_DEADLINE_MS: u64 = 4_000;
const BODY_DEADLINE_MS: u64 = 4_000;
const SECONDS: u64 = 20;
const CONNECTIONS: u32 = 500;

/// One slowhttptest second: (closed, pending, connected, service available).
struct Tick {
    closed: u32,
    connected: u32,
    available: bool,
}

fn read_stats(csv: &std::path::Path) -> Vec<Tick> {
    let text = std::fs::read_to_string(csv).unwrap_or_else(|e| panic!("slowhttptest wrote no {}: {e}", csv.display()));
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            Some(Tick { closed: cells.get(1)?.parse().ok()?, connected: cells.get(3)?.parse().ok()?, available: cells.get(4)? != &"0" })
        })
        .collect()
}

async fn attack(backend: Backend, mode: &str) {
    let app = spawn_app_with(backend, Options {
        header_read_timeout_ms: HEADER_DEADLINE_MS,
        body_read_timeout_ms: BODY_DEADLINE_MS,
        ..Options::default()
    })
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
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("slowhttptest runs (apt-get install slowhttptest; ./dev harden installs it)");

    // Logins, four a second, each on a new connection, for as long as the attack runs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    let until = Instant::now() + Duration::from_secs(SECONDS - 5);
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

    let ticks = read_stats(&prefix.with_extension("csv"));
    let most = ticks.iter().map(|t| t.connected).max().unwrap_or(0);
    let closed = ticks.last().map(|t| t.closed).unwrap_or(0);
    let unavailable = ticks.iter().filter(|t| !t.available).count();
    latencies.sort();
    let p50 = latencies.get(latencies.len() / 2).copied().unwrap_or_default();
    let worst = latencies.last().copied().unwrap_or_default();
    eprintln!(
        "slowhttptest {mode} on {backend:?}: {most} slow connections at once, {closed} closed by the deadlines in {SECONDS} s, \
         slowhttptest's probe unavailable {unavailable} of {} s; {} logins, {} failed, p50 {p50:?}, slowest {worst:?}",
        ticks.len(), latencies.len(), failures.len(),
    );
    assert!(failures.is_empty(), "logins failed under slow clients: {failures:?}");
    assert!(latencies.len() >= 30, "too few logins ran: {}", latencies.len());
    assert!(most >= CONNECTIONS * 9 / 10, "slowhttptest held only {most} connections");
    assert!(closed >= CONNECTIONS, "the deadlines closed only {closed} slow connections");
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
