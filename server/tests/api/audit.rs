//! The audit log records every change with actor, object, time and address, in pages.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, json_body, spawn_app};
use crate::on_both_backends;

on_both_backends!(every_change_is_recorded_with_actor_and_address, audit_log_pages_and_stays_private);

fn actions(page: &Value) -> Vec<String> {
    page["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect()
}

async fn every_change_is_recorded_with_actor_and_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    app.login("ada@example.com", "wrong password!").await;
    ada.post("/auth/login", &json!({ "email": "ada@example.com", "password": "correct horse battery" })).await;
    let server = ada.server("Docs", "http://127.0.0.1:9/mcp").await;
    let sid = server["id"].as_str().unwrap();
    ada.put(&format!("/servers/{sid}"), &json!({ "name": "Docs 2", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "sse" })).await;
    let (_, token) = ada.token("agent", "7d", &[]).await;
    let tid = token["id"].as_str().unwrap();
    ada.put(&format!("/tokens/{tid}/servers/{sid}"), &json!({})).await;
    ada.post(&format!("/tokens/{tid}/revoke"), &json!({})).await;
    ada.post("/signing-keys/rotate", &json!({})).await;
    ada.delete(&format!("/servers/{sid}")).await;

    let page = json_body(ada.get("/audit").await).await;
    let mut got = actions(&page);
    got.reverse();
    assert_eq!(
        got,
        [
            "account.signed_up",
            "account.login_failed",
            "account.logged_in",
            "server.created",
            "server.edited",
            "token.created",
            "token.associated",
            "token.revoked",
            "signing_key.rotated",
            "server.deleted",
        ]
    );
    for entry in page["entries"].as_array().unwrap() {
        assert_eq!(entry["ip"], "127.0.0.1", "{entry}");
        assert!(entry["created_at"].is_string());
    }
    let edited = page["entries"].as_array().unwrap().iter().find(|e| e["action"] == "server.edited").unwrap();
    assert_eq!(edited["actor_email"], "ada@example.com");
    assert_eq!(edited["object_id"], sid);
    assert_eq!(edited["detail"]["name"], json!({ "from": "Docs", "to": "Docs 2" }));
    let failed = page["entries"].as_array().unwrap().iter().find(|e| e["action"] == "account.login_failed").unwrap();
    assert!(failed["actor_email"].is_null(), "nobody was signed in");
}

async fn audit_log_pages_and_stays_private(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.user("admin@example.com").await;
    let ada = app.user("ada@example.com").await;
    for i in 0..5 {
        ada.server(&format!("s{i}"), "http://127.0.0.1:9/mcp").await;
    }
    let first = json_body(ada.get("/audit?per_page=2").await).await;
    assert_eq!((first["total"].as_u64(), first["per_page"].as_u64(), first["page"].as_u64()), (Some(6), Some(2), Some(1)));
    assert_eq!(actions(&first), ["server.created", "server.created"]);
    let last = json_body(ada.get("/audit?per_page=2&page=3").await).await;
    assert_eq!(actions(&last), ["server.created", "account.signed_up"]);
    let beyond = json_body(ada.get("/audit?per_page=2&page=99").await).await;
    assert_eq!(actions(&beyond), Vec::<String>::new());
    assert_eq!(ada.get("/audit?page=x").await.status(), StatusCode::BAD_REQUEST);

    let mine = json_body(admin.get("/audit").await).await;
    assert_eq!(actions(&mine), ["account.signed_up"], "only the admin's own account by default");
    let everything = json_body(admin.get("/audit?scope=all").await).await;
    assert_eq!(everything["total"], 7, "admins may see every account");
    let sneaky = json_body(ada.get("/audit?scope=all").await).await;
    assert_eq!(sneaky["total"], 6, "a user asking for all still sees only their own");
}
