//! The gateway with real parts: the demo MCP server upstream, rmcp as the client, raw HTTP
//! where the wire itself is the point.
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::{StatusCode, header};
use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation},
    transport::{StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig},
};
use serde_json::{Value, json};

use gatehouse::gateway::sse::{Event, EventReader};

use crate::helpers::{Backend, Options, User, json_body, spawn_app, spawn_app_with, spawn_demo_mcp, spawn_second_process};
use crate::on_both_backends;

on_both_backends!(
    a_real_mcp_client_works_through_the_gateway,
    missing_and_bad_tokens_are_refused_with_401,
    sse_endpoint_is_rewritten_and_bound_to_its_token,
    revocation_ends_live_streams,
    upstream_faults_are_answered_not_hung,
    client_credentials_never_reach_the_upstream,
    oversized_bodies_are_refused,
    changes_made_by_another_process_reach_the_gateway,
    last_used_and_usage_are_written_in_batches,
    fast_or_greedy_tokens_get_429_with_retry_after,
    the_gateway_fails_closed_when_it_cannot_read_changes,
    streams_end_when_access_ends_in_other_ways,
    upstream_addresses_are_checked_again_at_connect_time,
);

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A server of `user` in front of the demo upstream, and a token that may reach it.
pub(crate) async fn served(user: &User, demo: &str, transport: &str) -> (Value, String) {
    let path = if transport == "sse" { "/sse" } else { "/mcp" };
    let response = user
        .post("/servers", &json!({ "name": format!("demo {transport}"), "upstream_url": format!("{demo}{path}"), "transport": transport }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let server = json_body(response).await;
    let (token, _) = user.token("client", "1h", &[&server]).await;
    (server, token)
}

pub(crate) async fn mcp_client(
    endpoint: &str,
    token: &str,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ClientConfig>, String> {
    install_crypto();
    let transport = StreamableHttpClientTransport::from_config(StreamableHttpClientTransportConfig::with_uri(endpoint).auth_header(token));
    ClientConfig::new(ClientCapabilities::default(), Implementation::new("gatehouse-tests", "1.0"))
        .serve(transport)
        .await
        .map_err(|e| format!("{e:?}"))
}

async fn a_real_mcp_client_works_through_the_gateway(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let client = mcp_client(server["mcp_endpoint"].as_str().unwrap(), &token).await.expect("connects through the gateway");
    let tools = client.list_tools(Default::default()).await.unwrap();
    let names: Vec<String> = tools.tools.iter().map(|t| t.name.to_string()).collect();
    assert!(names.contains(&"echo".to_string()), "{names:?}");
    let result = client
        .call_tool(
            CallToolRequestParams::new("echo").with_arguments(json!({ "text": "hello through Gatehouse" }).as_object().cloned().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&result).unwrap()["content"][0]["text"], "hello through Gatehouse");
    client.cancel().await.ok();

    assert!(mcp_client(server["mcp_endpoint"].as_str().unwrap(), "not-a-token").await.is_err(), "a bad token cannot connect");
}

pub(crate) async fn post_mcp(url: &str, authorization: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "raw", "version": "1" } } }));
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.send().await.unwrap()
}

async fn refused(response: reqwest::Response) -> (String, Value) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers().get(header::WWW_AUTHENTICATE).expect("a challenge").to_str().unwrap().to_string();
    (challenge, json_body(response).await)
}

async fn missing_and_bad_tokens_are_refused_with_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {token}"))).await.status(), StatusCode::OK, "the right token passes");

    let (challenge, body) = refused(post_mcp(endpoint, None).await).await;
    // New servers offer OAuth, so the challenge names their metadata (see oauth::flow).
    let discovery = format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource/s/{}/mcp\", scope=\"mcp\"",
        app.address,
        server["id"].as_str().unwrap()
    );
    assert_eq!(challenge, format!("Bearer realm=\"gatehouse\", {discovery}"));
    assert_eq!(body["code"], "token_required");

    let (challenge, body) = refused(post_mcp(endpoint, Some("Bearer eyJ.garbage.here")).await).await;
    assert!(challenge.starts_with("Bearer realm=\"gatehouse\", error=\"invalid_token\""), "{challenge}");
    assert_eq!(body["code"], "invalid_token");

    // A valid token of another account, on this server: refused without saying more.
    let (bob_server, bob_token) = served(&bob, &demo, "streamable_http").await;
    let (_, body) = refused(post_mcp(endpoint, Some(&format!("Bearer {bob_token}"))).await).await;
    assert!(body["message"].as_str().unwrap().contains("not issued for this server"), "{body}");
    let (_, body) = refused(post_mcp(bob_server["mcp_endpoint"].as_str().unwrap(), Some(&format!("Bearer {token}"))).await).await;
    assert!(body["message"].as_str().unwrap().contains("not issued for this server"));

    // A token of this account that is not associated with the server.
    let (loose, _) = ada.token("loose", "never", &[]).await;
    let (_, body) = refused(post_mcp(endpoint, Some(&format!("Bearer {loose}"))).await).await;
    assert!(body["message"].as_str().unwrap().contains("not associated with this server"), "{body}");

    // An unknown server answers like a foreign one.
    let unknown = format!("{}/s/{}/mcp", app.address, uuid::Uuid::new_v4());
    let (_, body) = refused(post_mcp(&unknown, Some(&format!("Bearer {token}"))).await).await;
    assert!(body["message"].as_str().unwrap().contains("not issued for this server"));

    // Revoked: refused on the very next request.
    let token_id = ada_token_id(&ada, "client").await;
    ada.post(&format!("/tokens/{token_id}/revoke"), &json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let response = post_mcp(endpoint, Some(&format!("Bearer {token}"))).await;
        if response.status() == StatusCode::UNAUTHORIZED {
            let (_, body) = refused(response).await;
            assert!(body["message"].as_str().unwrap().contains("revoked"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "revocation did not reach the gateway");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn ada_token_id(user: &User, description: &str) -> String {
    let list = json_body(user.get("/tokens").await).await;
    list.as_array().unwrap().iter().find(|t| t["description"] == description).unwrap()["id"].as_str().unwrap().to_string()
}

/// Reads SSE bytes until one whole event has arrived; returns it.
/// The next event, read by the gateway's own reader.
pub(crate) async fn next_event(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    reader: &mut EventReader,
) -> Option<Event> {
    loop {
        if let Some(event) = reader.next_event() {
            return Some(event);
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Ok(chunk))) => reader.push(&chunk),
            _ => return None,
        }
    }
}

pub(crate) async fn open_sse(url: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).header(header::AUTHORIZATION, format!("Bearer {token}")).send().await.unwrap()
}

async fn sse_endpoint_is_rewritten_and_bound_to_its_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "sse").await;
    let (other, _) = ada.token("other", "never", &[&server]).await;
    let id = server["id"].as_str().unwrap();

    let response = open_sse(server["sse_endpoint"].as_str().unwrap(), &token).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.headers().get("x-gatehouse-refusal"));
    assert_eq!(response.headers().get("x-accel-buffering").unwrap(), "no");
    let mut stream = response.bytes_stream();
    let mut events = EventReader::default();
    let endpoint = next_event(&mut stream, &mut events).await.expect("the endpoint event");
    assert_eq!(endpoint.name, "endpoint");
    let path = endpoint.data;
    assert!(path.starts_with(&format!("/s/{id}/messages?sessionId=")), "{path}");

    let message = json!({ "jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": { "name": "raw", "version": "1" } } });
    let post = |bearer: String| {
        reqwest::Client::new()
            .post(format!("{}{path}", app.address))
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
            .json(&message)
            .send()
    };
    let stolen = post(other.clone()).await.unwrap();
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED, "another token cannot post into this session");
    let accepted = post(token.clone()).await.unwrap();
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let reply = next_event(&mut stream, &mut events).await.expect("the reply arrives on the stream");
    let reply: Value = serde_json::from_str(&reply.data).unwrap();
    assert!(reply["id"] == 7 && reply["result"]["serverInfo"].is_object(), "{reply}");
}

async fn revocation_ends_live_streams(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "sse").await;
    let response = open_sse(server["sse_endpoint"].as_str().unwrap(), &token).await;
    let mut stream = response.bytes_stream();
    let mut events = EventReader::default();
    next_event(&mut stream, &mut events).await.expect("the stream is open");

    let token_id = ada_token_id(&ada, "client").await;
    let revoked_at = Instant::now();
    ada.post(&format!("/tokens/{token_id}/revoke"), &json!({})).await;
    let ended = tokio::time::timeout(Duration::from_secs(3), async { while let Some(Ok(_)) = stream.next().await {} }).await;
    assert!(ended.is_ok(), "the SSE stream was not ended by the revocation");
    let took = revoked_at.elapsed();
    eprintln!("stream ended {took:?} after the revoke request was sent");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

async fn upstream_faults_are_answered_not_hung(backend: Backend) {
    let app = spawn_app_with(backend, Options { upstream_response_timeout_ms: 500, ..Options::default() }).await;
    let ada = app.user("ada@example.com").await;

    // Nothing listens: 502.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/mcp", closed.local_addr().unwrap());
    drop(closed);
    let server =
        json_body(ada.post("/servers", &json!({ "name": "dead", "upstream_url": dead, "transport": "streamable_http" })).await).await;
    let (token, _) = ada.token("t1", "never", &[&server]).await;
    let response = post_mcp(server["mcp_endpoint"].as_str().unwrap(), Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(json_body(response).await["code"], "upstream_unreachable");

    // Accepts and never answers: 504 after the configured timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/mcp", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let server =
        json_body(ada.post("/servers", &json!({ "name": "silent", "upstream_url": silent_url, "transport": "streamable_http" })).await)
            .await;
    let (token, _) = ada.token("t2", "never", &[&server]).await;
    let started = Instant::now();
    let response = post_mcp(server["mcp_endpoint"].as_str().unwrap(), Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(json_body(response).await["code"], "upstream_timeout");
    assert!(started.elapsed() < Duration::from_secs(5), "answered, not hung");
}

async fn client_credentials_never_reach_the_upstream(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    // An upstream that answers with the headers it received.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}/mcp", listener.local_addr().unwrap());
    let echo = axum::Router::new().route(
        "/mcp",
        axum::routing::post(|headers: axum::http::HeaderMap| async move {
            let seen: serde_json::Map<String, Value> =
                headers.iter().map(|(k, v)| (k.as_str().to_string(), Value::String(v.to_str().unwrap_or("").to_string()))).collect();
            ([("mcp-session-id", "s-1")], axum::Json(Value::Object(seen)))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, echo).await });
    let server = json_body(
        ada.post(
            "/servers",
            &json!({ "name": "echo", "upstream_url": upstream, "transport": "streamable_http",
        "upstream_headers": [{ "name": "X-Api-Key", "value": "upstream-secret" }] }),
        )
        .await,
    )
    .await;
    let (token, _) = ada.token("t", "never", &[&server]).await;
    // The session id the upstream gave, as the gateway hands it to this token.
    let opened = post_mcp(server["mcp_endpoint"].as_str().unwrap(), Some(&format!("Bearer {token}"))).await;
    let session = opened.headers()["mcp-session-id"].to_str().unwrap().to_string();
    assert!(session.starts_with("s-1."), "{session}");
    let response = reqwest::Client::new()
        .post(server["mcp_endpoint"].as_str().unwrap())
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::COOKIE, "gatehouse_session=abc; other=1")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2026-07-28")
        .header("x-forwarded-for", "1.2.3.4")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = json_body(response).await;
    assert_eq!(seen["x-api-key"], "upstream-secret", "the server's own upstream header is sent");
    assert_eq!(seen["mcp-session-id"], "s-1", "the upstream gets its own session id back");
    assert_eq!(seen["mcp-protocol-version"], "2026-07-28");
    assert_eq!(seen["accept"], "application/json, text/event-stream");
    for private in ["authorization", "cookie", "x-forwarded-for"] {
        assert!(seen.get(private).is_none(), "{private} leaked upstream: {seen}");
    }
}

async fn oversized_bodies_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, Options { gateway_max_body_bytes: 1024, ..Options::default() }).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let response = reqwest::Client::new()
        .post(server["mcp_endpoint"].as_str().unwrap())
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(format!("{{\"pad\":\"{}\"}}", "x".repeat(4096)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

async fn changes_made_by_another_process_reach_the_gateway(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let second = spawn_second_process(&app).await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let on_second = server["mcp_endpoint"].as_str().unwrap().replace(&app.address, &second.address);

    // Made in the first process, usable through the second.
    let deadline = Instant::now() + Duration::from_secs(3);
    while post_mcp(&on_second, Some(&format!("Bearer {token}"))).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the new token never reached the second process");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Revoked in the first process, refused by the second.
    let token_id = ada_token_id(&ada, "client").await;
    let started = Instant::now();
    ada.post(&format!("/tokens/{token_id}/revoke"), &json!({})).await;
    while post_mcp(&on_second, Some(&format!("Bearer {token}"))).await.status() != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < Duration::from_secs(3), "the revocation never reached the second process");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("revocation reached the other process within {:?}", started.elapsed());
}

async fn last_used_and_usage_are_written_in_batches(backend: Backend) {
    let app = spawn_app_with(backend, Options { usage_flush_ms: 100, ..Options::default() }).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let token_id = ada_token_id(&ada, "client").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    assert!(json_body(ada.get(&format!("/tokens/{token_id}")).await).await["last_used_at"].is_null(), "never used yet");
    for _ in 0..5 {
        assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {token}"))).await.status(), StatusCode::OK);
    }
    ada.post(&format!("/tokens/{token_id}/revoke"), &json!({})).await;
    assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {token}"))).await.status(), StatusCode::UNAUTHORIZED);

    let deadline = Instant::now() + Duration::from_secs(5);
    let detail = loop {
        let detail = json_body(ada.get(&format!("/tokens/{token_id}")).await).await;
        if detail["use_count"] == 5 {
            break detail;
        }
        assert!(Instant::now() < deadline, "usage never flushed: {detail}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(detail["last_used_at"].is_string());
    assert_eq!(detail["last_used_ip"], "127.0.0.1");

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let buckets =
            crate::servers::stored_text(&app, "SELECT CAST(requests AS TEXT) || '/' || CAST(refusals AS TEXT) AS v FROM usage_buckets")
                .await;
        let refusals = crate::servers::stored_text(&app, "SELECT reason || '=' || CAST(count AS TEXT) AS v FROM refusal_buckets").await;
        if buckets == "5/1" && refusals == "revoked=1" {
            break;
        }
        assert!(Instant::now() < deadline, "buckets {buckets:?}, refusals {refusals:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fast_or_greedy_tokens_get_429_with_retry_after(backend: Backend) {
    let app =
        spawn_app_with(backend, Options { token_requests_per_second: 1, token_burst: 2, token_max_open: 1, ..Options::default() }).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let bearer = format!("Bearer {token}");
    for _ in 0..2 {
        let response = post_mcp(endpoint, Some(&bearer)).await;
        let status = response.status();
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{headers} {body}");
    }
    let limited = post_mcp(endpoint, Some(&bearer)).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers().get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_eq!(json_body(limited).await["code"], "rate_limited");

    // One open stream per token: a second one waits.
    let (sse_server, sse_token) = served(&ada, &demo, "sse").await;
    let held = open_sse(sse_server["sse_endpoint"].as_str().unwrap(), &sse_token).await;
    assert_eq!(held.status(), StatusCode::OK);
    let second = open_sse(sse_server["sse_endpoint"].as_str().unwrap(), &sse_token).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(second.headers().get(header::RETRY_AFTER).is_some());
    drop(held);
}

async fn the_gateway_fails_closed_when_it_cannot_read_changes(backend: Backend) {
    let app = spawn_app_with(backend, Options { events_max_staleness_ms: 300, ..Options::default() }).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {token}"))).await.status(), StatusCode::OK);
    // The database goes away: revocations could no longer be seen, so nothing is let through.
    app.db().close_by_ref().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let response = post_mcp(endpoint, Some(&format!("Bearer {token}"))).await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(json_body(response).await["code"], "unavailable");
            break;
        }
        assert!(Instant::now() < deadline, "still answering {} with the database gone", response.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens an SSE stream through the gateway and returns a future that resolves when it ends.
pub(crate) async fn held_stream(url: &str, token: &str) -> impl std::future::Future<Output = ()> {
    let response = open_sse(url, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    let mut events = EventReader::default();
    next_event(&mut stream, &mut events).await.expect("the stream is open");
    async move { while let Some(Ok(_)) = stream.next().await {} }
}

pub(crate) async fn ends_soon(stream_end: impl std::future::Future<Output = ()>, what: &str) {
    assert!(tokio::time::timeout(Duration::from_secs(2), stream_end).await.is_ok(), "the stream outlived: {what}");
}

async fn streams_end_when_access_ends_in_other_ways(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let admin = app.user("admin@example.com").await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "sse").await;
    let sse = server["sse_endpoint"].as_str().unwrap().to_string();
    let server_id = server["id"].as_str().unwrap().to_string();
    let token_id = ada_token_id(&ada, "client").await;

    let open = held_stream(&sse, &token).await;
    ada.delete(&format!("/tokens/{token_id}/servers/{server_id}")).await;
    ends_soon(open, "the association was removed").await;
    ada.put(&format!("/tokens/{token_id}/servers/{server_id}"), &json!({})).await;

    let open = held_stream(&sse, &token).await;
    admin.patch(&format!("/admin/accounts/{}", ada.id), &json!({ "status": "disabled" })).await;
    ends_soon(open, "the account was disabled").await;
    admin.patch(&format!("/admin/accounts/{}", ada.id), &json!({ "status": "active" })).await;
    ada.post("/auth/login", &json!({ "email": "ada@example.com", "password": "correct horse battery" })).await;

    let open = held_stream(&sse, &token).await;
    ada.post("/signing-keys/rotate", &json!({})).await;
    let key = json_body(ada.get(&format!("/tokens/{token_id}")).await).await["signing_key_id"].as_str().unwrap().to_string();
    ada.post(&format!("/signing-keys/{key}/revoke"), &json!({})).await;
    ends_soon(open, "its signing key was revoked").await;

    let (fresh, _) = ada.token("fresh", "never", &[&server]).await;
    let open = held_stream(&sse, &fresh).await;
    ada.delete(&format!("/servers/{server_id}")).await;
    ends_soon(open, "the server was deleted").await;
}

/// A server saved where loopback upstreams are allowed, served by a process whose policy
/// refuses them: a host name that resolves to loopback (as a rebound DNS name would) and an
/// address literal are both refused there, and nothing reaches the upstream.
async fn upstream_addresses_are_checked_again_at_connect_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let port = url::Url::parse(&demo).unwrap().port().unwrap();
    let ada = app.user("ada@example.com").await;
    let by_name = ada.server("by name", &format!("http://localhost:{port}/mcp")).await;
    let by_address = ada.server("by address", &format!("http://127.0.0.1:{port}/mcp")).await;
    let (token, _) = ada.token("both", "never", &[&by_name, &by_address]).await;
    let strict =
        crate::helpers::spawn_second_process_with(&app, |config| gatehouse::Config { upstream_allow_loopback: Some(false), ..config })
            .await;

    let bearer = format!("Bearer {token}");
    for server in [&by_name, &by_address] {
        let id = server["id"].as_str().unwrap();
        let allowed = post_mcp(&app.url(&format!("/s/{id}/mcp")), Some(&bearer)).await;
        assert_eq!(allowed.status(), StatusCode::OK, "{}: the permissive process serves it", server["name"]);
        let refused = post_mcp(&strict.url(&format!("/s/{id}/mcp")), Some(&bearer)).await;
        assert_eq!(refused.status(), StatusCode::BAD_GATEWAY, "{}", server["name"]);
        let body = json_body(refused).await;
        assert!(body["code"] == "upstream_not_allowed" || body["code"] == "upstream_unreachable", "{}: {body}", server["name"]);
    }
}
