//! Database faults, run by `./dev harden` (not by `./dev test`: it stops the machine's
//! PostgreSQL, which every other test uses). Under 20 token creations and revocations per
//! second plus gateway traffic, PostgreSQL is stopped for 5 s and started again, then every
//! connection Gatehouse holds is killed with `pg_terminate_backend`. Every acknowledged write
//! must be in the database exactly once, the gateway must fail closed (503) while it cannot see
//! revocations, and everything must recover within 5 s of the database returning.
#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::{
    collections::HashSet,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use reqwest::{StatusCode, header};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use helpers::{Backend, Options, json_body, spawn_app_with, spawn_demo_mcp};

fn cluster(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql").unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).max().unwrap();
    let status = Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &version, "main", action]).status().unwrap();
    assert!(status.success(), "pg_ctlcluster {action}");
}

#[derive(Default)]
struct Log {
    created: Vec<String>,
    revoked: Vec<String>,
    /// (when, status) of gateway calls, from the start.
    gateway: Vec<(Duration, StatusCode)>,
    /// (when, status) of management writes.
    writes: Vec<(Duration, StatusCode)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "stops PostgreSQL: run with ./dev harden"]
async fn postgres_stopped_and_connections_killed_under_load() {
    let app = spawn_app_with(Backend::Postgres, Options { events_max_staleness_ms: 2_000, ..Options::default() }).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = json_body(
        ada.post("/servers", &json!({ "name": "demo", "upstream_url": format!("{demo}/mcp"), "transport": "streamable_http" })).await,
    )
    .await;
    let (token, _) = ada.token("gateway", "never", &[&server]).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap().to_string();

    let log = Arc::new(Mutex::new(Log::default()));
    let started = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let running = |stop: &Arc<std::sync::atomic::AtomicBool>| !stop.load(std::sync::atomic::Ordering::Relaxed);

    // 10 creations and 10 revocations a second.
    let writer = {
        let (log, stop, ada) = (log.clone(), stop.clone(), ada.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            let mut n = 0;
            while running(&stop) {
                every.tick().await;
                n += 1;
                let response = tokio::time::timeout(
                    Duration::from_secs(3),
                    ada.post("/tokens", &json!({ "description": format!("t{n}"), "expires": "never", "server_ids": [] })),
                )
                .await;
                let Ok(response) = response else { continue };
                let status = response.status();
                log.lock().unwrap().writes.push((started.elapsed(), status));
                if status == StatusCode::CREATED {
                    let id = json_body(response).await["details"]["id"].as_str().unwrap().to_string();
                    log.lock().unwrap().created.push(id.clone());
                    let revoke = tokio::time::timeout(Duration::from_secs(3), ada.post(&format!("/tokens/{id}/revoke"), &json!({}))).await;
                    if let Ok(revoke) = revoke {
                        let status = revoke.status();
                        log.lock().unwrap().writes.push((started.elapsed(), status));
                        if status == StatusCode::OK {
                            log.lock().unwrap().revoked.push(id);
                        }
                    }
                }
            }
        })
    };
    // Gateway calls, back to back.
    let caller = {
        let (log, stop) = (log.clone(), stop.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap();
            while running(&stop) {
                let sent = http
                    .post(&endpoint)
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .header(header::ACCEPT, "application/json, text/event-stream")
                    .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": { "name": "faults", "version": "1" } } }))
                    .send()
                    .await;
                let status = sent.map(|r| r.status()).unwrap_or(StatusCode::GATEWAY_TIMEOUT);
                log.lock().unwrap().gateway.push((started.elapsed(), status));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(3)).await;
    let down_at = started.elapsed();
    cluster("stop");
    tokio::time::sleep(Duration::from_secs(5)).await;
    // Measured from the start command: the database may already answer before it returns.
    let up_at = started.elapsed();
    cluster("start");
    tokio::time::sleep(Duration::from_secs(8)).await;

    // Every connection Gatehouse holds, killed at once.
    let name = app
        .db()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT current_database()"))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap();
    let killer = sea_orm::Database::connect("postgres://postgres@127.0.0.1:5432/postgres").await.unwrap();
    let killed_at = started.elapsed();
    let killed = killer
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"),
        ))
        .await
        .unwrap()
        .len();
    killer.close().await.ok();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    caller.await.unwrap();

    // Every task that wrote to it has ended: take it out rather than hold its lock across awaits.
    let log = std::mem::take(&mut *log.lock().unwrap());
    // Every acknowledged write is there, once.
    let rows = app
        .db()
        .query_all_raw(Statement::from_string(DbBackend::Postgres, "SELECT id::text, revoked_at IS NOT NULL FROM tokens"))
        .await
        .unwrap();
    let mut stored = std::collections::HashMap::new();
    for row in rows {
        let id: String = row.try_get_by_index(0).unwrap();
        let revoked: bool = row.try_get_by_index(1).unwrap();
        assert!(stored.insert(id, revoked).is_none(), "a token stored twice");
    }
    let lost: Vec<&String> = log.created.iter().filter(|id| !stored.contains_key(*id)).collect();
    assert!(lost.is_empty(), "acknowledged creations lost: {lost:?}");
    let unrevoked: Vec<&String> = log.revoked.iter().filter(|id| stored.get(*id) != Some(&true)).collect();
    assert!(unrevoked.is_empty(), "acknowledged revocations lost: {unrevoked:?}");
    let distinct: HashSet<&String> = log.created.iter().collect();
    assert_eq!(distinct.len(), log.created.len());

    // While the database was down: the gateway answered only 200 (within its staleness bound)
    // or 503, never a revoked-state guess or another error; management answered 503, not 500.
    let during = |from: Duration, to: Duration| log.gateway.iter().filter(move |(at, _)| *at >= from && *at < to);
    let odd: Vec<_> = log.gateway.iter().filter(|(_, s)| *s != StatusCode::OK && *s != StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(odd.is_empty(), "gateway answers other than 200/503: {odd:?}");
    let window: Vec<_> =
        during(down_at, up_at + Duration::from_secs(1)).map(|(at, s)| format!("{:.1}s {}", at.as_secs_f64(), s.as_u16())).collect();
    assert!(
        during(down_at + Duration::from_secs(3), up_at).all(|(_, s)| *s == StatusCode::SERVICE_UNAVAILABLE),
        "fails closed once it cannot see changes: down {down_at:?}, up {up_at:?}: {window:?}"
    );
    assert!(during(down_at + Duration::from_secs(3), up_at).count() > 0);
    let internal: Vec<_> = log.writes.iter().filter(|(_, s)| *s == StatusCode::INTERNAL_SERVER_ERROR).collect();
    let first_ok_after = |since: Duration, of: &Vec<(Duration, StatusCode)>, ok: StatusCode| {
        of.iter().find(|(at, s)| *at >= since && *s == ok).map(|(at, _)| *at - since)
    };
    let gateway_back = first_ok_after(up_at, &log.gateway, StatusCode::OK).expect("the gateway recovered");
    let writes_back = first_ok_after(up_at, &log.writes, StatusCode::CREATED).expect("writes recovered");
    let gateway_after_kill = first_ok_after(killed_at, &log.gateway, StatusCode::OK).expect("the gateway healed after the kill");
    let writes_after_kill = first_ok_after(killed_at, &log.writes, StatusCode::CREATED).expect("writes healed after the kill");
    eprintln!(
        "faults: {} tokens created and {} revoked (acknowledged), 0 lost, 0 doubled; gateway {} calls ({} × 503); \
         database stopped {down_at:?}..{up_at:?}; gateway back {gateway_back:?} and writes back {writes_back:?} after it returned; \
         {killed} connections killed: gateway {gateway_after_kill:?}, writes {writes_after_kill:?}; {} management 500s",
        log.created.len(),
        log.revoked.len(),
        log.gateway.len(),
        log.gateway.iter().filter(|(_, s)| *s == StatusCode::SERVICE_UNAVAILABLE).count(),
        internal.len()
    );
    assert!(gateway_back <= Duration::from_secs(5) && writes_back <= Duration::from_secs(5), "recovery within 5 s");
    assert!(gateway_after_kill <= Duration::from_secs(5) && writes_after_kill <= Duration::from_secs(5));
    assert!(internal.is_empty(), "the database being away is a 503, not a 500: {internal:?}");
}
