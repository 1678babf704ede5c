//! Server health and discovery: Gatehouse connects to each upstream when it is saved, on
//! "Check now" and periodically, and says what it found — up with its tools, or down with a
//! reason a person can act on — against real upstreams: the demo MCP server on both transports,
//! a stopped port, a listener that never answers, a web page, and the wrong transport.
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::{Backend, Options, User, json_body, spawn_app, spawn_app_with, spawn_demo_mcp, spawn_second_process};
use crate::on_both_backends;

on_both_backends!(
    a_saved_server_is_checked_and_lists_what_it_offers,
    a_stopped_upstream_is_down_since_the_first_failure,
    a_slow_upstream_is_reported_without_holding_the_gateway,
    the_wrong_transport_is_named_and_detect_finds_the_right_one,
    a_web_page_is_not_an_mcp_server,
    periodic_checks_notice_an_upstream_going_down_once_across_processes,
    discovered_read_only_tools_may_be_called_before_any_listing,
    the_server_page_shows_health_and_checks_without_javascript,
    detect_sends_saved_secrets_only_to_the_saved_origin,
);

async fn create(user: &User, name: &str, url: &str, transport: &str) -> Value {
    let response = user.post("/servers", &json!({ "name": name, "upstream_url": url, "transport": transport })).await;
    assert_eq!(response.status(), StatusCode::CREATED, "create {name}");
    json_body(response).await
}

async fn check(user: &User, server: &Value) -> Value {
    let response = user.post(&format!("/servers/{}/check", server["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

fn tool_names(health: &Value) -> Vec<(String, bool)> {
    health["discovery"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["read_only"].as_bool().unwrap()))
        .collect()
}

/// A port nothing listens on (bound, then released).
async fn stopped_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

async fn a_saved_server_is_checked_and_lists_what_it_offers(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    for (transport, path) in [("streamable_http", "/mcp"), ("sse", "/sse")] {
        let server = create(&ada, &format!("demo {transport}"), &format!("{demo}{path}"), transport).await;
        let health = &server["health"];
        assert_eq!(health["status"], "up", "{transport}: checked on save: {health}");
        assert_eq!(health["discovery"]["transport"], transport);
        assert_eq!(health["discovery"]["server_name"], "gatehouse-demo-mcp", "{health}");
        assert!(health["discovery"]["protocol_version"].as_str().unwrap().starts_with("20"), "{health}");
        let tools = tool_names(health);
        assert!(tools.contains(&("echo".into(), true)), "echo is annotated read-only: {tools:?}");
        assert!(tools.contains(&("ticker".into(), false)), "{tools:?}");
        assert!(health["latency_ms"].as_u64().is_some());
        // The list and the detail show the same.
        let listed = json_body(ada.get("/servers").await).await;
        let mine = listed.as_array().unwrap().iter().find(|s| s["id"] == server["id"]).unwrap();
        assert_eq!(mine["health"]["status"], "up");
    }
}

async fn a_stopped_upstream_is_down_since_the_first_failure(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let port = stopped_port().await;
    let server = create(&ada, "stopped", &format!("http://127.0.0.1:{port}/mcp"), "streamable_http").await;
    let first = &server["health"];
    assert_eq!(first["status"], "down", "{first}");
    assert_eq!(first["problem"]["kind"], "unreachable");
    let message = first["problem"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("127.0.0.1:{port}")) && message.to_lowercase().contains("refused"), "{message}");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = check(&ada, &server).await;
    assert_eq!(again["status"], "down");
    assert_eq!(again["since"], first["since"], "still down since the first failure");
    assert!(again["checked_at"].as_str().unwrap() > first["checked_at"].as_str().unwrap());

    // It comes up on that port: the next check says so, with a new `since`, and the tools.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, gatehouse::demo_mcp::router()).await });
    let up = check(&ada, &server).await;
    assert_eq!(up["status"], "up", "{up}");
    assert_ne!(up["since"], first["since"]);
    assert!(!tool_names(&up).is_empty());
}

async fn a_slow_upstream_is_reported_without_holding_the_gateway(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            configure: Box::new(|config| gatehouse::config::Config { upstream_check_timeout_ms: 1_500, ..config }),
            ..Options::default()
        },
    )
    .await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    // Accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let slow = create(&ada, "slow", &format!("http://{silent_address}/mcp"), "streamable_http").await;
    let working = create(&ada, "working", &format!("{demo}/mcp"), "streamable_http").await;
    let (token, _) = ada.token("client", "1h", &[&working]).await;

    let started = Instant::now();
    let checking = check(&ada, &slow);
    let endpoint = working["mcp_endpoint"].as_str().unwrap().to_string();
    let gateway = async {
        // While the check waits, the gateway answers another server at once.
        let begun = Instant::now();
        let response = crate::gateway::post_mcp(&endpoint, Some(&format!("Bearer {token}"))).await;
        assert_eq!(response.status(), StatusCode::OK);
        begun.elapsed()
    };
    let (health, gateway_took) = tokio::join!(checking, gateway);
    assert!(gateway_took < Duration::from_millis(1_000), "the gateway waited on the check: {gateway_took:?}");
    assert_eq!(health["status"], "down");
    assert_eq!(health["problem"]["kind"], "slow", "{health}");
    assert!(health["problem"]["message"].as_str().unwrap().contains("1.5 s"), "{health}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1_400) && took < Duration::from_secs(5), "bounded by the check timeout: {took:?}");
}

async fn the_wrong_transport_is_named_and_detect_finds_the_right_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    // The SSE endpoint saved as Streamable HTTP, and the Streamable endpoint saved as SSE.
    for (url, saved, speaks) in [(format!("{demo}/sse"), "streamable_http", "SSE"), (format!("{demo}/mcp"), "sse", "Streamable HTTP")] {
        let server = create(&ada, &format!("wrong {saved}"), &url, saved).await;
        let health = &server["health"];
        assert_eq!(health["status"], "down", "{health}");
        assert_eq!(health["problem"]["kind"], "wrong_transport", "{health}");
        let message = health["problem"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("answers MCP over {speaks}")), "{message}");

        let detected = ada.post("/servers/detect", &json!({ "upstream_url": url })).await;
        assert_eq!(detected.status(), StatusCode::OK);
        let found = json_body(detected).await;
        let right = if saved == "sse" { "streamable_http" } else { "sse" };
        assert_eq!(found["transport"], right, "{found}");
        assert_eq!(found["server_name"], "gatehouse-demo-mcp");
    }
    // Detect says why when nothing answers, and checks the URL first.
    let port = stopped_port().await;
    let nothing = ada.post("/servers/detect", &json!({ "upstream_url": format!("http://127.0.0.1:{port}/mcp") })).await;
    assert_eq!(nothing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_body(nothing).await;
    assert!(body["fields"]["upstream_url"].as_str().unwrap().contains("Could not connect"), "{body}");
    let bad = ada.post("/servers/detect", &json!({ "upstream_url": "ftp://example.com/" })).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Another organisation's server lends nothing to a detection.
    let bob = app.user("bob@example.com").await;
    let server = json_body(ada.get("/servers").await).await[0]["id"].clone();
    let foreign = bob.post("/servers/detect", &json!({ "upstream_url": format!("{demo}/mcp"), "server_id": server })).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
}

async fn a_web_page_is_not_an_mcp_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    // Gatehouse's own login page: HTML, not MCP, on either transport.
    let server = create(&ada, "web page", &app.url("/login"), "streamable_http").await;
    let health = &server["health"];
    assert_eq!(health["status"], "down", "{health}");
    assert_eq!(health["problem"]["kind"], "not_mcp", "{health}");
    // A check's failure is counted as the upstream's, not as a 500 of Gatehouse's.
    let detected = ada.post("/servers/detect", &json!({ "upstream_url": app.url("/login") })).await;
    assert_eq!(detected.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_body(detected).await;
    assert!(body["message"].as_str().unwrap().contains("Neither transport answered as MCP"), "{body}");
}

async fn periodic_checks_notice_an_upstream_going_down_once_across_processes(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Options {
            configure: Box::new(|config| gatehouse::config::Config { upstream_check_interval_s: 1, ..config }),
            ..Options::default()
        },
    )
    .await;
    let second = spawn_second_process(&app).await;
    let ada = app.user("ada@example.com").await;
    // An upstream that counts the connections it is sent, then stops.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let demo = tokio::spawn(async move { axum::serve(listener, gatehouse::demo_mcp::router()).await });
    let server = create(&ada, "flaky", &format!("http://{address}/mcp"), "streamable_http").await;
    assert_eq!(server["health"]["status"], "up");
    let first = server["health"]["checked_at"].as_str().unwrap().to_string();
    demo.abort();
    let _ = demo.await;
    // The next periodic check (by either process) finds it down, without anyone asking.
    let deadline = Instant::now() + Duration::from_secs(20);
    let path = format!("/servers/{}", server["id"].as_str().unwrap());
    let health = loop {
        let health = json_body(ada.get(&path).await).await["health"].clone();
        if health["status"] == "down" {
            break health;
        }
        assert!(Instant::now() < deadline, "no periodic check noticed: {health}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(health["checked_at"].as_str().unwrap() > first.as_str());
    assert_eq!(health["problem"]["kind"], "unreachable");

    // Two processes racing for the same due check: exactly one takes it.
    let id = uuid::Uuid::parse_str(server["id"].as_str().unwrap()).unwrap();
    let now = chrono::Utc::now() + chrono::Duration::hours(1);
    let due = now;
    let (a, b) = tokio::join!(
        app::servers::health_ssr::claim(&app.state.db, id, due, now),
        app::servers::health_ssr::claim(&second.state.db, id, due, now)
    );
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|t| **t).count(), 1, "one claim wins");
}

async fn discovered_read_only_tools_may_be_called_before_any_listing(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = create(&ada, "demo", &format!("{demo}/mcp"), "streamable_http").await;
    assert_eq!(server["health"]["status"], "up");
    let (token, details) = ada.token("reader", "1h", &[&server]).await;
    let rule = ada
        .put(
            &format!("/tokens/{}/servers/{}/tools", details["id"].as_str().unwrap(), server["id"].as_str().unwrap()),
            &json!({ "mode": "read_only" }),
        )
        .await;
    assert_eq!(rule.status(), StatusCode::OK);
    // No tools/list has passed through the gateway: the check's discovery says echo is read-only.
    let client = crate::gateway::mcp_client(server["mcp_endpoint"].as_str().unwrap(), &token).await.unwrap();
    let echo = client
        .call_tool(rmcp::model::CallToolRequestParams::new("echo").with_arguments(json!({ "text": "hi" }).as_object().unwrap().clone()))
        .await;
    assert!(echo.is_ok(), "a discovered read-only tool is allowed at once: {echo:?}");
    let ticker = client
        .call_tool(rmcp::model::CallToolRequestParams::new("ticker").with_arguments(json!({ "ticks": 0 }).as_object().unwrap().clone()))
        .await;
    assert!(ticker.is_err(), "a tool not annotated read-only is still refused");
}

async fn the_server_page_shows_health_and_checks_without_javascript(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = create(&ada, "demo", &format!("{demo}/mcp"), "streamable_http").await;
    let path = format!("/servers/{}", server["id"].as_str().unwrap());
    let page = crate::usage::page(&ada, &path).await;
    let tools = server["health"]["discovery"]["tools"].as_array().unwrap().len();
    assert!(page.contains(&format!("Up · {tools} tools · checked just now")), "the summary line");
    assert!(page.contains("data-tool=\"echo\""), "the tool list");
    assert!(page.contains("Check now") && page.contains("Detect"));
    // "Check now" as a plain form post (no JavaScript) records a new check.
    let before = server["health"]["checked_at"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let posted =
        ada.client.post(format!("{}/rpc/check_server", ada.base)).form(&[("id", server["id"].as_str().unwrap())]).send().await.unwrap();
    assert!(posted.status().is_redirection() || posted.status().is_success(), "{}", posted.status());
    let after = json_body(ada.get(&path).await).await;
    assert!(after["health"]["checked_at"].as_str().unwrap() > before.as_str(), "{after}");
}

/// Detect with a saved server's id fills in its header values and hidden query values only for
/// the server's own origin: typed with another URL, the secrets stay home.
async fn detect_sends_saved_secrets_only_to_the_saved_origin(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let created = ada
        .post(
            "/servers",
            &json!({ "name": "keyed", "upstream_url": format!("{demo}/mcp?key=s3cret"), "transport": "streamable_http",
                     "upstream_headers": [{ "name": "X-Api-Key", "value": "header-s3cret" }] }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let server = json_body(created).await;
    // Another origin that records what reaches it.
    let seen: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let kept = seen.clone();
    let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let kept = kept.clone();
        async move {
            kept.lock().unwrap().push(format!("{} {:?}", request.uri(), request.headers()));
            axum::http::StatusCode::NOT_FOUND
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere = format!("http://{}/mcp?key=***", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let detected = ada.post("/servers/detect", &json!({ "upstream_url": elsewhere, "server_id": server["id"] })).await;
    assert_eq!(detected.status(), StatusCode::UNPROCESSABLE_ENTITY, "nothing MCP there");
    let seen = seen.lock().unwrap().join("\n");
    assert!(!seen.is_empty(), "the other origin was tried");
    assert!(!seen.contains("s3cret"), "no saved secret went to another origin: {seen}");
    // At the saved origin, the saved values are used (the demo needs none, and answers).
    let home = ada.post("/servers/detect", &json!({ "upstream_url": server["upstream_url"], "server_id": server["id"] })).await;
    assert_eq!(home.status(), StatusCode::OK);
}
