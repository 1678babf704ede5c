//! The tool-call audit: off by default; turned on for a server, every `tools/call` through the
//! gateway is recorded with who made it, the tool, when and the outcome (let through and
//! answered, or refused by the token's tool rule), never the arguments unless the owner asks;
//! read newest first a page at a time, and exported as JSON lines.
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use crate::gateway::{ada_token_id, mcp_client};
use crate::helpers::{Backend, Options, User, json_body, spawn_app_with, spawn_demo_mcp};
use crate::on_both_backends;

on_both_backends!(tool_calls_are_recorded_only_when_asked_and_read_by_page_and_export);

async fn set_audit(ada: &User, server: &Value, audit: &str) {
    let body =
        json!({ "name": server["name"], "upstream_url": server["upstream_url"], "transport": "streamable_http", "tool_audit": audit });
    let response = ada.put(&format!("/servers/{}", server["id"].as_str().unwrap()), &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await["tool_audit"], audit);
}

async fn call(endpoint: &str, token: &str, tools: &[&str]) {
    let client = mcp_client(endpoint, token).await.unwrap();
    for tool in tools {
        let arguments = json!({ "text": "secret words", "ticks": 0 }).as_object().unwrap().clone();
        let _ = client.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)).await;
    }
}

/// The recorded calls once `n` are there (the gateway writes them with the usage flush).
async fn recorded(ada: &User, server: &Value, n: usize) -> Vec<Value> {
    let path = format!("/servers/{}/tool-calls?limit=500", server["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = json_body(ada.get(&path).await).await;
        let calls = page["calls"].as_array().unwrap().clone();
        if calls.len() >= n {
            return calls;
        }
        assert!(Instant::now() < deadline, "{n} calls were not recorded: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn tool_calls_are_recorded_only_when_asked_and_read_by_page_and_export(backend: Backend) {
    let app = spawn_app_with(backend, Options { usage_flush_ms: 100, ..Options::default() }).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("audited", &format!("{demo}/mcp")).await;
    assert_eq!(server["tool_audit"], "off", "off by default");
    let (token, _) = ada.token("client", "1h", &[&server]).await;
    let token_id = ada_token_id(&ada, "client").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap().to_string();

    // Off: nothing is kept.
    call(&endpoint, &token, &["echo"]).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let path = format!("/servers/{}/tool-calls", server["id"].as_str().unwrap());
    assert_eq!(json_body(ada.get(&path).await).await, json!({ "calls": [] }));

    // On, without arguments; the token limited to echo, so ticker is refused.
    set_audit(&ada, &server, "calls").await;
    let rule = ada
        .put(&format!("/tokens/{token_id}/servers/{}/tools", server["id"].as_str().unwrap()), &json!({ "mode": "only", "tools": ["echo"] }))
        .await;
    assert_eq!(rule.status(), StatusCode::OK);
    call(&endpoint, &token, &["echo", "echo", "ticker"]).await;
    let calls = recorded(&ada, &server, 3).await;
    assert_eq!(calls.len(), 3, "{calls:?}");
    let summary: Vec<(&str, &str)> = calls.iter().map(|c| (c["tool"].as_str().unwrap(), c["outcome"].as_str().unwrap())).collect();
    assert_eq!(summary, [("ticker", "refused"), ("echo", "ok"), ("echo", "ok")], "newest first");
    assert!(calls.iter().all(|c| c["member"] == "ada@example.com" && c["token_id"] == token_id.as_str()));
    assert!(calls.iter().all(|c| c.get("arguments").is_none()), "no arguments unless asked");
    assert!(!json_body(ada.get(&path).await).await.to_string().contains("secret words"));

    // Paging: two, then the rest from the cursor.
    let first = json_body(ada.get(&format!("{path}?limit=2")).await).await;
    assert_eq!(first["calls"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().expect("a next page");
    let second = json_body(ada.get(&format!("{path}?limit=2&before={next}")).await).await;
    assert_eq!(second["calls"].as_array().unwrap().len(), 1);
    assert!(second.get("next").is_none(), "the last page");
    assert_eq!(second["calls"][0]["id"], calls[2]["id"]);

    // With arguments, when the owner asks.
    set_audit(&ada, &server, "arguments").await;
    call(&endpoint, &token, &["echo"]).await;
    let calls = recorded(&ada, &server, 4).await;
    assert_eq!(calls[0]["arguments"], r#"{"text":"secret words","ticks":0}"#, "{:?}", calls[0]);

    // The export: JSON lines, oldest first, every call.
    let export = ada.get(&format!("{path}.jsonl")).await;
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = export.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["id"], calls[3]["id"], "oldest first");

    // The page shows them; another organisation sees nothing.
    let html = crate::usage::page(&ada, &format!("/servers/{}", server["id"].as_str().unwrap())).await;
    assert!(html.contains("data-testid=\"tool-calls\"") && html.contains("Export (JSON lines)"));
    let bob = app.user("bob@example.com").await;
    assert_eq!(bob.get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(bob.get(&format!("{path}.jsonl")).await.status(), StatusCode::NOT_FOUND);
}
