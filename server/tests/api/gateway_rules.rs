//! The gateway's rules beyond the token check: sessions belong to their token, servers that
//! need no token answer only their own host and site, limits hold under concurrency, and usage
//! counts what really happened.
use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use axum::{Router, routing::post};
use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};

use gatehouse::gateway::usage::UsageRecorder;

use crate::gateway::{ada_token_id, post_mcp, served};
use crate::helpers::{Backend, Options, TestApp, User, json_body, spawn_app, spawn_app_with, spawn_demo_mcp};
use crate::on_both_backends;

on_both_backends!(
    a_streamable_session_belongs_to_the_token_that_opened_it,
    servers_without_tokens_answer_only_their_host_and_site,
    servers_without_tokens_are_limited_per_address,
    the_open_request_cap_holds_under_concurrent_requests,
    usage_counts_upstream_failures_as_failures_with_their_reason,
    last_used_only_moves_forward_whichever_process_flushes_last,
);

fn initialize() -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "raw", "version": "1" } } })
}

async fn post_in_session(url: &str, token: &str, session: &str, body: &Value) -> reqwest::Response {
    Client::new()
        .post(url)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-06-18")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn a_streamable_session_belongs_to_the_token_that_opened_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token_a) = served(&ada, &demo, "streamable_http").await;
    let (token_b, _) = ada.token("second client", "1h", &[&server]).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();

    let opened = post_mcp(endpoint, Some(&format!("Bearer {token_a}"))).await;
    assert_eq!(opened.status(), StatusCode::OK);
    let session = opened.headers()["mcp-session-id"].to_str().unwrap().to_string();
    drop(opened);
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert_eq!(post_in_session(endpoint, &token_a, &session, &initialized).await.status(), StatusCode::ACCEPTED);

    // Another token of the same account, associated with the same server, cannot use it.
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let foreign = post_in_session(endpoint, &token_b, &session, &list).await;
    assert_eq!(foreign.status(), StatusCode::UNAUTHORIZED);
    assert!(foreign.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().contains("invalid_token"));
    assert_eq!(json_body(foreign).await["code"], "session_token_mismatch");

    // The token that opened it goes on; the upstream sees its own session id.
    let own = post_in_session(endpoint, &token_a, &session, &list).await;
    assert_eq!(own.status(), StatusCode::OK);
    assert!(own.text().await.unwrap().contains("echo"), "the session's answer comes back");

    // An id Gatehouse never handed out (the upstream's own, untagged) is unknown here.
    let (upstream_id, _) = session.rsplit_once('.').unwrap();
    let untagged = post_in_session(endpoint, &token_a, upstream_id, &list).await;
    assert_eq!(untagged.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_body(untagged).await["code"], "unknown_session");

    // Ended by the client: the upstream forgets it, and says so through the gateway.
    let ended = Client::new()
        .delete(endpoint)
        .header(header::AUTHORIZATION, format!("Bearer {token_a}"))
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(ended.status().is_success(), "{}", ended.status());
    assert_eq!(post_in_session(endpoint, &token_a, &session, &list).await.status(), StatusCode::NOT_FOUND);
}

/// A server of `user` that needs no token, in front of the demo upstream.
async fn open_server(user: &User, demo: &str) -> Value {
    let response = user
        .post(
            "/servers",
            &json!({ "name": "open", "upstream_url": format!("{demo}/mcp"), "transport": "streamable_http", "require_token": false }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json_body(response).await
}

async fn post_with(client: &Client, url: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client.post(url).header(header::ACCEPT, "application/json, text/event-stream").json(&initialize());
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn servers_without_tokens_answer_only_their_host_and_site(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let open = open_server(&ada, &demo).await;
    let endpoint = open["mcp_endpoint"].as_str().unwrap();
    let client = Client::new();
    let own_origin = app.address.clone();
    let own_host = own_origin.trim_start_matches("http://").to_string();

    // The conformance suite's DNS-rebinding probe.
    let rebound = post_with(&client, endpoint, &[("host", "evil.example.com"), ("origin", "http://evil.example.com")]).await;
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(rebound).await["code"], "host_not_allowed");
    let other_host = post_with(&client, endpoint, &[("host", "evil.example.com")]).await;
    assert_eq!(json_body(other_host).await["code"], "host_not_allowed");
    let other_site = post_with(&client, endpoint, &[("origin", "http://evil.example.com")]).await;
    assert_eq!(other_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(other_site).await["code"], "cross_site_origin");
    let other_port = post_with(&client, endpoint, &[("host", "127.0.0.1:1")]).await;
    assert_eq!(other_port.status(), StatusCode::FORBIDDEN, "another port is another site");

    // Its own host and site, and loopback's other names for a deployment on loopback.
    assert_eq!(post_with(&client, endpoint, &[]).await.status(), StatusCode::OK);
    assert_eq!(post_with(&client, endpoint, &[("origin", &own_origin)]).await.status(), StatusCode::OK);
    let port = own_host.rsplit_once(':').unwrap().1;
    assert_eq!(post_with(&client, endpoint, &[("host", &format!("localhost:{port}"))]).await.status(), StatusCode::OK);

    // A server that needs a token is not a rebinding target: its token is no ambient credential.
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let bearer = format!("Bearer {token}");
    let with_token =
        post_with(&client, server["mcp_endpoint"].as_str().unwrap(), &[("host", "gw.example.com"), ("authorization", &bearer)]).await;
    assert_eq!(with_token.status(), StatusCode::OK);
}

/// A client whose requests come from `ip` (any 127.x.y.z is this machine's loopback).
fn client_from(ip: &str) -> Client {
    Client::builder().local_address(ip.parse::<IpAddr>().unwrap()).timeout(Duration::from_secs(30)).build().unwrap()
}

async fn servers_without_tokens_are_limited_per_address(backend: Backend) {
    let app = spawn_app_with(backend, Options { token_requests_per_second: 1, token_burst: 3, ..Options::default() }).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let open = open_server(&ada, &demo).await;
    let endpoint = open["mcp_endpoint"].as_str().unwrap();
    let (first, second) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    for _ in 0..3 {
        assert_eq!(post_with(&first, endpoint, &[]).await.status(), StatusCode::OK);
    }
    let limited = post_with(&first, endpoint, &[]).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get(header::RETRY_AFTER).is_some());
    assert_eq!(post_with(&second, endpoint, &[]).await.status(), StatusCode::OK, "each address has its own allowance");
}

/// An upstream that answers every POST after `delay` (slow to send its headers).
async fn slow_upstream(delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new().route(
        "/mcp",
        post(move || async move {
            tokio::time::sleep(delay).await;
            axum::Json(json!({ "jsonrpc": "2.0", "id": 1, "result": {} }))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/mcp")
}

async fn token_for(user: &User, upstream: &str) -> (String, String) {
    let name = format!("server {}", uuid::Uuid::new_v4().simple());
    let response = user.post("/servers", &json!({ "name": name, "upstream_url": upstream, "transport": "streamable_http" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let server = json_body(response).await;
    let (token, _) = user.token("slow client", "1h", &[&server]).await;
    (server["mcp_endpoint"].as_str().unwrap().to_string(), token)
}

async fn the_open_request_cap_holds_under_concurrent_requests(backend: Backend) {
    let app = spawn_app_with(backend, Options { token_max_open: 2, ..Options::default() }).await;
    let ada = app.user("ada@example.com").await;
    let (endpoint, token) = token_for(&ada, &slow_upstream(Duration::from_millis(500)).await).await;
    let bearer = format!("Bearer {token}");
    let statuses = futures::future::join_all((0..12).map(|_| post_mcp(&endpoint, Some(&bearer)))).await;
    let statuses: Vec<StatusCode> = statuses.iter().map(|r| r.status()).collect();
    let passed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(passed, 2, "exactly the cap passes at once: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 10, "{statuses:?}");
    assert_eq!(post_mcp(&endpoint, Some(&bearer)).await.status(), StatusCode::OK, "the slots come back");
}

async fn usage_counts_upstream_failures_as_failures_with_their_reason(backend: Backend) {
    let options = Options { usage_flush_ms: 100, upstream_response_timeout_ms: 300, gateway_max_body_bytes: 1024, ..Options::default() };
    let app = spawn_app_with(backend, options).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    // An upstream nobody listens on: a port that was just free.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let (unreachable, token) = token_for(&ada, &format!("http://{closed}/mcp")).await;
    let bearer = format!("Bearer {token}");
    assert_eq!(post_mcp(&unreachable, Some(&bearer)).await.status(), StatusCode::BAD_GATEWAY);
    let (slow, slow_token) = token_for(&ada, &slow_upstream(Duration::from_secs(2)).await).await;
    assert_eq!(post_mcp(&slow, Some(&format!("Bearer {slow_token}"))).await.status(), StatusCode::GATEWAY_TIMEOUT);
    let (sse_server, sse_token) = served(&ada, &demo, "sse").await;
    let wrong = sse_server["sse_endpoint"].as_str().unwrap().replace("/sse", "/mcp");
    assert_eq!(post_mcp(&wrong, Some(&format!("Bearer {sse_token}"))).await.status(), StatusCode::NOT_FOUND);
    let (server, good) = served(&ada, &demo, "streamable_http").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let big = Client::new()
        .post(endpoint)
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .header(header::ACCEPT, "application/json, text/event-stream")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {good}"))).await.status(), StatusCode::OK);

    let want_buckets = "0/1 0/1 0/1 1/1";
    let want_refusals = "payload_too_large=1 upstream_timeout=1 upstream_unreachable=1 wrong_transport=1";
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let buckets = sorted(&app, "SELECT CAST(requests AS TEXT) || '/' || CAST(refusals AS TEXT) AS v FROM usage_buckets").await;
        let refusals = sorted(&app, "SELECT reason || '=' || CAST(count AS TEXT) AS v FROM refusal_buckets").await;
        if buckets == want_buckets && refusals == want_refusals {
            break;
        }
        assert!(Instant::now() < deadline, "buckets {buckets:?}, refusals {refusals:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sorted(app: &TestApp, query: &str) -> String {
    let text = crate::servers::stored_text(app, query).await;
    let mut values: Vec<&str> = text.split_whitespace().collect();
    values.sort();
    values.join(" ")
}

async fn last_used_only_moves_forward_whichever_process_flushes_last(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    served(&ada, &demo, "streamable_http").await;
    let id: uuid::Uuid = ada_token_id(&ada, "client").await.parse().unwrap();
    // Two processes' recorders: the earlier use is flushed last.
    let (earlier, later) = (UsageRecorder::default(), UsageRecorder::default());
    earlier.admitted(id, Some("10.0.0.1".into()));
    tokio::time::sleep(Duration::from_millis(20)).await;
    later.admitted(id, Some("10.0.0.2".into()));
    assert!(later.flush(app.db()).await.unwrap());
    assert!(earlier.flush(app.db()).await.unwrap());
    let detail = json_body(ada.get(&format!("/tokens/{id}")).await).await;
    assert_eq!(detail["last_used_ip"], "10.0.0.2", "the later use stands: {detail}");
    assert_eq!(detail["use_count"], 2, "both uses count");
}

on_both_backends!(the_default_limits_let_a_real_client_run_a_batch_of_100_slow_calls);

/// The default limits come from measured SDK sessions (bench/CLIENT_SESSIONS.md): a session
/// with 100 concurrent calls of a slow tool keeps 101 requests open, and no SDK retries a 429.
async fn the_default_limits_let_a_real_client_run_a_batch_of_100_slow_calls(backend: Backend) {
    use rmcp::model::CallToolRequestParams;
    let defaults = gatehouse::Config::default();
    let options = Options {
        token_requests_per_second: defaults.token_requests_per_second,
        token_burst: defaults.token_burst,
        token_max_open: defaults.token_max_open,
        ..Options::default()
    };
    let app = spawn_app_with(backend, options).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let client = crate::gateway::mcp_client(server["mcp_endpoint"].as_str().unwrap(), &token).await.expect("connects");
    client.list_tools(Default::default()).await.unwrap();
    // Each call takes 0.5 s, so all hundred are open at once.
    let calls = (0..100).map(|_| {
        let arguments = json!({ "ticks": 5 }).as_object().cloned().unwrap();
        client.call_tool(CallToolRequestParams::new("ticker").with_arguments(arguments))
    });
    let results = futures::future::join_all(calls).await;
    let failed: Vec<String> = results.iter().filter_map(|r| r.as_ref().err().map(|e| e.to_string())).collect();
    assert!(failed.is_empty(), "{} of 100 calls failed, first: {:?}", failed.len(), failed.first());
    client.cancel().await.ok();
}
