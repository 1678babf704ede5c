//! A change whose transaction took its event number and committed after later ones is still
//! applied by every process: watched while its number is missing, and caught by reconciliation
//! once it is no longer watched. PostgreSQL only: SQLite's single writer cannot commit a later
//! change while an earlier write transaction is open, so no gap can form there.
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, TransactionTrait};

use crate::gateway::{ada_token_id, post_mcp, served};
use crate::helpers::{Backend, Options, spawn_app_with, spawn_demo_mcp, spawn_second_process};
use app::events::{ChangeKind, record_change};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_committed_after_the_gap_watch_is_applied_by_reconciling() {
    // Watch gaps for 200 ms only, reconcile every second: the late commit is found by the
    // reconcile, within its period.
    let options = Options { events_gap_watch_ms: 200, events_reconcile_ms: 1_000, ..Options::default() };
    let applied_after_commit = revoke_late(options, Duration::from_secs(3)).await;
    assert!(applied_after_commit < Duration::from_millis(2_500), "reconciling applied it after {applied_after_commit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_committed_late_is_applied_while_its_gap_is_watched() {
    // No reconciling: the watched gap alone must apply it, though it was held longer than the
    // ten seconds after which the follower used to give a gap up for good.
    let options = Options { events_reconcile_ms: 0, ..Options::default() };
    let applied_after_commit = revoke_late(options, Duration::from_secs(12)).await;
    assert!(applied_after_commit < Duration::from_millis(500), "the watched gap applied it after {applied_after_commit:?}");
}

/// Two processes on one PostgreSQL database. A revocation's transaction takes its event number
/// and stays open for `held` while a later change commits; then it commits. Returns how long
/// after that commit the second process refuses the token.
async fn revoke_late(options: Options, held: Duration) -> Duration {
    let app = spawn_app_with(Backend::Postgres, options).await;
    let second = spawn_second_process(&app).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let token_id = ada_token_id(&ada, "client").await;
    let on_second = server["mcp_endpoint"].as_str().unwrap().replace(&app.address, &second.address);
    let bearer = format!("Bearer {token}");
    wait_for(&on_second, &bearer, StatusCode::OK, Duration::from_secs(3)).await;

    // The slow revocation, on a connection of its own: its event number is taken now.
    let db = Database::connect(app.database_url()).await.unwrap();
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared(&format!("UPDATE tokens SET revoked_at = now() WHERE id = '{token_id}'")).await.unwrap();
    record_change(&txn, ChangeKind::Token, token_id.as_str()).await.unwrap();

    // A later change commits meanwhile, and the second process applies it: the gap is open.
    let (later, _) = ada.token("later", "1h", &[&server]).await;
    wait_for(&on_second, &format!("Bearer {later}"), StatusCode::OK, Duration::from_secs(3)).await;
    tokio::time::sleep(held).await;
    assert_eq!(post_mcp(&on_second, Some(&bearer)).await.status(), StatusCode::OK, "not revoked before its commit");

    txn.commit().await.unwrap();
    let committed = Instant::now();
    wait_for(&on_second, &bearer, StatusCode::UNAUTHORIZED, Duration::from_secs(10)).await;
    let applied = committed.elapsed();
    eprintln!("held {held:?}; the second process refused the token {applied:?} after the commit");
    db.close().await.ok();
    applied
}

async fn wait_for(url: &str, bearer: &str, status: StatusCode, within: Duration) {
    let started = Instant::now();
    loop {
        let got = post_mcp(url, Some(bearer)).await.status();
        if got == status {
            return;
        }
        assert!(started.elapsed() < within, "still {got} after {within:?}, waiting for {status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
