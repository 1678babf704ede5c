//! Per-token address allowlists: a token limited to some client addresses is refused from any
//! other ("not from an allowed address"), with the client's address as the trusted proxies give
//! it, and a changed list applies to the next request on every process.
use reqwest::StatusCode;
use serde_json::{Value, json};

use gatehouse::config::Config;

use crate::helpers::{Backend, Options, User, json_body, spawn_app, spawn_app_with, spawn_demo_mcp, spawn_second_process};
use crate::on_both_backends;

on_both_backends!(
    a_token_is_refused_outside_its_allowed_addresses,
    the_address_is_the_one_trusted_proxies_give,
    the_token_forms_set_addresses_and_tools,
);

async fn from(endpoint: &str, token: &str, forwarded_for: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(endpoint)
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "raw", "version": "1" } } }));
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn token_from(ada: &User, server: &Value, networks: Value) -> (String, Value) {
    let response = ada
        .post("/tokens", &json!({ "description": "office", "expires": "1d", "server_ids": [server["id"]], "allowed_networks": networks }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = json_body(response).await;
    (body["token"].as_str().unwrap().to_string(), body["details"].clone())
}

async fn allow(ada: &User, token: &Value, networks: Value) -> reqwest::Response {
    ada.put(&format!("/tokens/{}/networks", token["id"].as_str().unwrap()), &json!({ "allowed_networks": networks })).await
}

async fn a_token_is_refused_outside_its_allowed_addresses(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("demo", &format!("{demo}/mcp")).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap().to_string();
    let (token, details) = token_from(&ada, &server, json!(["10.0.0.0/8", "2001:db8::/32"])).await;
    assert_eq!(details["allowed_networks"], json!(["10.0.0.0/8", "2001:db8::/32"]));

    let (status, body) = from(&endpoint, &token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "127.0.0.1 is not in the list: {body}");
    assert_eq!(body["code"], "address_not_allowed");
    assert!(body["message"].as_str().unwrap().contains("not from an allowed address"), "{body}");

    // Allowed from here: this process and another follow at once.
    let second = spawn_second_process(&app).await;
    let on_second = endpoint.replace(&app.address, &second.address);
    let changed = json_body(allow(&ada, &details, json!(["127.0.0.1"])).await).await;
    assert_eq!(changed["allowed_networks"], json!(["127.0.0.1/32"]));
    assert_eq!(from(&endpoint, &token, None).await.0, StatusCode::OK);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while from(&on_second, &token, None).await.0 != StatusCode::OK {
        assert!(std::time::Instant::now() < deadline, "the other process did not follow");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Emptied: any address.
    assert_eq!(json_body(allow(&ada, &details, json!([])).await).await["allowed_networks"], json!([]));
    assert_eq!(from(&endpoint, &token, None).await.0, StatusCode::OK);

    // Bad lists are refused with the entry named; nothing changes.
    for bad in [json!(["10.0.0.0/33"]), json!(["example.com"]), json!((0..51).map(|i| format!("10.0.0.{i}")).collect::<Vec<_>>())] {
        let refused = allow(&ada, &details, bad.clone()).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(json_body(refused).await["fields"]["allowed_networks"].is_string());
    }
    let bad_create = ada
        .post("/tokens", &json!({ "description": "x", "expires": "1d", "server_ids": [server["id"]], "allowed_networks": ["nope"] }))
        .await;
    assert_eq!(bad_create.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Another organisation cannot see or change it.
    let bob = app.user("bob@example.com").await;
    assert_eq!(allow(&bob, &details, json!(["0.0.0.0/0"])).await.status(), StatusCode::NOT_FOUND);
}

async fn the_address_is_the_one_trusted_proxies_give(backend: Backend) {
    let demo = spawn_demo_mcp().await;
    // Without trusted proxies, a forwarding header is the client's own word: ignored.
    let plain = spawn_app(backend).await;
    let ada = plain.user("ada@example.com").await;
    let server = ada.server("demo", &format!("{demo}/mcp")).await;
    let (token, _) = token_from(&ada, &server, json!(["203.0.113.0/24"])).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    assert_eq!(from(endpoint, &token, Some("203.0.113.9")).await.0, StatusCode::FORBIDDEN, "a client cannot claim an address");

    // Behind a trusted proxy (the loopback peer), the forwarded client address decides.
    let proxied = spawn_app_with(
        backend,
        Options {
            configure: Box::new(|c| Config { trusted_proxies: serde_json::from_value(json!("127.0.0.1/32")).unwrap(), ..c }),
            ..Options::default()
        },
    )
    .await;
    let ada = proxied.user("ada@example.com").await;
    let server = ada.server("demo", &format!("{demo}/mcp")).await;
    let (token, _) = token_from(&ada, &server, json!(["203.0.113.0/24"])).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    assert_eq!(from(endpoint, &token, Some("203.0.113.9")).await.0, StatusCode::OK);
    assert_eq!(from(endpoint, &token, Some("203.0.113.9, 127.0.0.1")).await.0, StatusCode::OK, "through two trusted hops");
    let (status, body) = from(endpoint, &token, Some("198.51.100.1")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("address_not_allowed")));
    assert_eq!(from(endpoint, &token, None).await.0, StatusCode::FORBIDDEN, "the proxy itself is not the client's network");
}

/// The dashboard's forms (their server functions, as a browser without JavaScript posts them):
/// the create-token form takes the tool rule and the addresses, the token page changes the
/// addresses and lists the tools the server's check discovered.
async fn the_token_forms_set_addresses_and_tools(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("demo", &format!("{demo}/mcp")).await;
    let server_id = server["id"].as_str().unwrap();
    let form = [
        ("description", "from the form"),
        ("expires", "1d"),
        ("servers[0]", server_id),
        ("tools", "echo"),
        ("networks", "10.0.0.0/8, 127.0.0.1"),
    ];
    let created = ada.client.post(format!("{}/rpc/create_token", ada.base)).form(&form).send().await.unwrap();
    assert!(created.status().is_success() || created.status().is_redirection(), "{}", created.status());
    let listed = json_body(ada.get("/tokens").await).await;
    let token = listed.as_array().unwrap().iter().find(|t| t["description"] == "from the form").unwrap().clone();
    assert_eq!(token["allowed_networks"], json!(["10.0.0.0/8", "127.0.0.1/32"]));
    assert_eq!(token["servers"][0]["tools"], json!({ "mode": "only", "tools": ["echo"] }));
    let bad = [("description", "bad"), ("expires", "1d"), ("servers[0]", server_id), ("tools", "rm -rf"), ("networks", "")];
    let refused = ada.client.post(format!("{}/rpc/create_token", ada.base)).form(&bad).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let id = token["id"].as_str().unwrap();
    let html = crate::usage::page(&ada, &format!("/tokens/{id}")).await;
    assert!(html.contains("May be used only from 10.0.0.0/8, 127.0.0.1/32"), "the page says where it may be used");
    assert!(html.contains("Its tools: echo (read-only), slow_echo, ticker"), "the discovered tools to choose from");
    let saved = ada.client.post(format!("{}/rpc/allow_networks", ada.base)).form(&[("id", id), ("networks", "any")]).send().await.unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    assert!(crate::usage::page(&ada, &format!("/tokens/{id}")).await.contains("May be used from any address."));
    let bad =
        ada.client.post(format!("{}/rpc/allow_networks", ada.base)).form(&[("id", id), ("networks", "10.0.0.0/99")]).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
