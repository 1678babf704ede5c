//! Tool rules: a token limited to some tools of a server sees only those in `tools/list` and is
//! refused a call of any other, on both transports, through a real MCP client (rmcp) and raw
//! JSON-RPC; the SEP-2243 headers must agree with the body; rules are set by REST and apply to
//! the next request on another process too.
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode, header};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use gatehouse::gateway::sse::EventReader;

use crate::gateway::{ada_token_id, mcp_client, next_event, open_sse, served};
use crate::helpers::{Backend, TestApp, User, json_body, spawn_app, spawn_demo_mcp, spawn_second_process};
use crate::on_both_backends;
use crate::usage::{page, reason_row};

on_both_backends!(
    a_limited_token_sees_and_calls_only_its_tools,
    headers_that_disagree_with_the_body_are_refused,
    batches_are_decided_item_by_item,
    sse_sessions_get_the_refusal_on_their_stream,
    a_new_rule_reaches_another_process,
    rules_are_checked_when_set,
    the_token_page_sets_and_shows_the_rule,
    calls_are_counted_by_tool_on_both_pages,
);

fn call(id: u32, tool: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": { "name": tool, "arguments": { "text": "hi", "ticks": 0 } } })
}

async fn post(endpoint: &str, token: &str, body: &Value, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut request = Client::new()
        .post(endpoint)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.json(body).send().await.unwrap()
}

/// An initialized MCP session of `version` at the endpoint: the headers that carry it.
async fn session(endpoint: &str, token: &str, version: &'static str) -> Vec<(&'static str, String)> {
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": { "name": "raw", "version": "1" } } });
    let opened = post(endpoint, token, &init, &[]).await;
    assert_eq!(opened.status(), StatusCode::OK, "initialize");
    let id = opened.headers()["mcp-session-id"].to_str().unwrap().to_string();
    drop(opened);
    let headers = vec![("mcp-session-id", id), ("mcp-protocol-version", version.to_string())];
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let initialized = post(endpoint, token, &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }), &pairs).await;
    assert_eq!(initialized.status(), StatusCode::ACCEPTED);
    headers
}

fn with<'a>(session: &'a [(&'static str, String)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    session.iter().map(|(n, v)| (*n, v.as_str())).chain(extra.iter().copied()).collect()
}

/// A Streamable HTTP answer's JSON-RPC messages, whether it came as JSON or as events.
async fn messages(response: reqwest::Response) -> Vec<Value> {
    let is_stream = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream"));
    let text = response.text().await.unwrap();
    if !is_stream {
        return match serde_json::from_str::<Value>(&text).unwrap() {
            Value::Array(items) => items,
            one => vec![one],
        };
    }
    let mut reader = EventReader::default();
    reader.push(text.as_bytes());
    let mut out = Vec::new();
    while let Some(event) = reader.next_event() {
        if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
            match value {
                Value::Array(items) => out.extend(items),
                one => out.push(one),
            }
        }
    }
    out
}

async fn limit(ada: &User, token_id: &str, server: &Value, rule: Value) -> reqwest::Response {
    ada.put(&format!("/tokens/{token_id}/servers/{}/tools", server["id"].as_str().unwrap()), &rule).await
}

struct Limited {
    app: TestApp,
    ada: User,
    server: Value,
    token: String,
    token_id: String,
}

/// A server in front of the demo upstream and a token for it limited to `echo`.
async fn limited_to_echo(backend: Backend, transport: &str) -> Limited {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, transport).await;
    let token_id = ada_token_id(&ada, "client").await;
    assert_eq!(limit(&ada, &token_id, &server, json!({ "mode": "only", "tools": ["echo"] })).await.status(), StatusCode::OK);
    Limited { app, ada, server, token, token_id }
}

async fn a_limited_token_sees_and_calls_only_its_tools(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let token_id = ada_token_id(&ada, "client").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();

    let limited = limit(&ada, &token_id, &server, json!({ "mode": "only", "tools": ["echo"] })).await;
    assert_eq!(limited.status(), StatusCode::OK);
    let view = json_body(limited).await;
    assert_eq!(view["servers"][0]["tools"], json!({ "mode": "only", "tools": ["echo"] }), "the token says its rule");

    // A real client lists only echo, may call it, and is refused the others.
    let client = mcp_client(endpoint, &token).await.expect("connects through the gateway");
    let tools = client.list_tools(Default::default()).await.unwrap();
    let names: Vec<String> = tools.tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["echo"], "tools/list answers only the allowed tools");
    let echoed = client
        .call_tool(CallToolRequestParams::new("echo").with_arguments(json!({ "text": "allowed" }).as_object().cloned().unwrap()))
        .await
        .unwrap();
    assert_eq!(echoed.content[0].as_text().unwrap().text, "allowed");
    let refused = client
        .call_tool(CallToolRequestParams::new("slow_echo").with_arguments(json!({ "text": "no" }).as_object().cloned().unwrap()))
        .await
        .expect_err("another tool is refused");
    let said = format!("{refused:?}");
    assert!(said.contains("may not call the tool") && said.contains("slow_echo"), "{said}");
    drop(client);

    // Read-only: the demo annotates echo readOnlyHint and ticker not.
    assert_eq!(limit(&ada, &token_id, &server, json!({ "mode": "read_only" })).await.status(), StatusCode::OK);
    let client = mcp_client(endpoint, &token).await.unwrap();
    let names: Vec<String> = client.list_tools(Default::default()).await.unwrap().tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["echo"], "only the read-only tool is listed");
    client
        .call_tool(CallToolRequestParams::new("echo").with_arguments(json!({ "text": "read" }).as_object().cloned().unwrap()))
        .await
        .expect("a read-only tool may be called");
    let ticker =
        client.call_tool(CallToolRequestParams::new("ticker").with_arguments(json!({ "ticks": 0 }).as_object().cloned().unwrap())).await;
    assert!(ticker.is_err(), "a tool not annotated read-only is refused");
    drop(client);

    // All again: everything is listed and callable.
    assert_eq!(limit(&ada, &token_id, &server, json!({ "mode": "all" })).await.status(), StatusCode::OK);
    let client = mcp_client(endpoint, &token).await.unwrap();
    assert_eq!(client.list_tools(Default::default()).await.unwrap().tools.len(), 3);
    drop(client);

    // Refusals are counted with their reason on the server's usage.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let html = page(&ada, &format!("/servers/{}", server["id"].as_str().unwrap())).await;
        if html.contains("data-reason=\"tool_not_allowed\"") {
            let row = reason_row(&html, "tool_not_allowed");
            assert_eq!(row, ["Tool left out by the token's tool rule", "2", "2"], "slow_echo and ticker");
            break;
        }
        assert!(Instant::now() < deadline, "the refusals were not counted by reason");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn headers_that_disagree_with_the_body_are_refused(backend: Backend) {
    let Limited { app: _app, ada, server, token, .. } = limited_to_echo(backend, "streamable_http").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let s = session(endpoint, &token, "2025-06-18").await;

    // A forged Mcp-Name naming the allowed tool while the body calls another.
    let forged = post(endpoint, &token, &call(5, "ticker"), &with(&s, &[("mcp-method", "tools/call"), ("mcp-name", "echo")])).await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert_eq!(forged.headers()["x-gatehouse-refusal"], "header_mismatch");
    let answer = json_body(forged).await;
    assert_eq!((answer["id"].as_i64(), answer["error"]["code"].as_i64()), (Some(5), Some(-32020)), "{answer}");

    // Headers that agree are decided on: the allowed tool goes through, another is refused.
    let agreed = post(endpoint, &token, &call(6, "echo"), &with(&s, &[("mcp-method", "tools/call"), ("mcp-name", "echo")])).await;
    assert_eq!(agreed.status(), StatusCode::OK);
    assert_eq!(messages(agreed).await[0]["result"]["content"][0]["text"], "hi", "the allowed call is answered upstream");
    let refused = post(endpoint, &token, &call(7, "ticker"), &with(&s, &[("mcp-method", "tools/call"), ("mcp-name", "ticker")])).await;
    assert_eq!(refused.status(), StatusCode::OK);
    assert_eq!(refused.headers()["x-gatehouse-refusal"], "tool_not_allowed");
    let answer = json_body(refused).await;
    assert_eq!((answer["id"].as_i64(), answer["error"]["code"].as_i64()), (Some(7), Some(-32602)), "{answer}");

    // A token without a rule is held to the headers too.
    let (open_token, _) = ada.token("open", "1h", &[&server]).await;
    let open_session = session(endpoint, &open_token, "2025-06-18").await;
    let method = post(endpoint, &open_token, &call(8, "echo"), &with(&open_session, &[("mcp-method", "tools/list")])).await;
    assert_eq!(method.status(), StatusCode::BAD_REQUEST);
}

async fn batches_are_decided_item_by_item(backend: Backend) {
    let Limited { app: _app, server, token, .. } = limited_to_echo(backend, "streamable_http").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();

    // Every call refused: answered here, one error per call.
    let all_refused = post(endpoint, &token, &json!([call(1, "ticker"), call(2, "slow_echo")]), &[]).await;
    assert_eq!(all_refused.status(), StatusCode::OK);
    let answers = messages(all_refused).await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers.iter().all(|a| a["error"]["code"] == -32602), "{answers:?}");

    // A call that parsers could read two ways (the name given twice) never reaches the upstream.
    let twice = r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","name":"ticker"}}"#;
    let ambiguous = Client::new()
        .post(endpoint)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(twice)
        .send()
        .await
        .unwrap();
    assert_eq!(ambiguous.headers()["x-gatehouse-refusal"], "tool_not_allowed");
    assert_eq!(json_body(ambiguous).await["error"]["code"], -32600);

    // A mixed batch, sent in a session of the 2025-03-26 protocol (which had batches): the
    // allowed call goes upstream and the refused one's error joins the answer.
    let s = session(endpoint, &token, "2025-03-26").await;
    let mixed = post(endpoint, &token, &json!([call(3, "echo"), call(4, "ticker")]), &with(&s, &[])).await;
    let answers = messages(mixed).await;
    let refused: Vec<&Value> = answers.iter().filter(|a| a["id"] == 4).collect();
    assert_eq!(refused.len(), 1, "the refused call is answered once: {answers:?}");
    assert_eq!(refused[0]["error"]["code"], -32602);
    assert!(answers.iter().all(|a| a["id"] != 3 || a["error"]["code"] != -32602), "the allowed call was not refused: {answers:?}");
}

async fn sse_sessions_get_the_refusal_on_their_stream(backend: Backend) {
    let Limited { app, ada, server, token, token_id } = limited_to_echo(backend, "sse").await;

    let response = open_sse(server["sse_endpoint"].as_str().unwrap(), &token).await;
    let mut stream = response.bytes_stream();
    let mut events = EventReader::default();
    let path = next_event(&mut stream, &mut events).await.expect("the endpoint event").data;
    let send = |body: Value| {
        Client::new().post(format!("{}{path}", app.address)).header(header::AUTHORIZATION, format!("Bearer {token}")).json(&body).send()
    };
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": { "name": "raw", "version": "1" } } });
    assert_eq!(send(init).await.unwrap().status(), StatusCode::ACCEPTED);
    next_event(&mut stream, &mut events).await.expect("initialize answered");
    send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })).await.unwrap();

    assert_eq!(send(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" })).await.unwrap().status(), StatusCode::ACCEPTED);
    let listed: Value = serde_json::from_str(&next_event(&mut stream, &mut events).await.unwrap().data).unwrap();
    let names: Vec<&str> = listed["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["echo"], "{listed}");

    let refused = send(call(3, "ticker")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::ACCEPTED);
    assert_eq!(refused.headers()["x-gatehouse-refusal"], "tool_not_allowed");
    let answer: Value = serde_json::from_str(&next_event(&mut stream, &mut events).await.expect("the refusal on the stream").data).unwrap();
    assert_eq!((answer["id"].as_i64(), answer["error"]["code"].as_i64()), (Some(3), Some(-32602)), "{answer}");

    // The rule lifted while the stream is open: the next list has every tool.
    limit(&ada, &token_id, &server, json!({ "mode": "all" })).await;
    send(json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/list" })).await.unwrap();
    let listed: Value = serde_json::from_str(&next_event(&mut stream, &mut events).await.unwrap().data).unwrap();
    assert_eq!(listed["result"]["tools"].as_array().unwrap().len(), 3, "{listed}");
}

async fn a_new_rule_reaches_another_process(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let second = spawn_second_process(&app).await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let token_id = ada_token_id(&ada, "client").await;
    let there = server["mcp_endpoint"].as_str().unwrap().replace(&app.address, &second.address);
    let deadline = Instant::now() + Duration::from_secs(5);
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "raw", "version": "1" } } });
    while post(&there, &token, &init, &[]).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the token did not reach the other process");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    limit(&ada, &token_id, &server, json!({ "mode": "only", "tools": ["echo"] })).await;
    let started = Instant::now();
    loop {
        let answer = post(&there, &token, &call(2, "ticker"), &[]).await;
        if answer.headers().get("x-gatehouse-refusal").is_some_and(|v| v == "tool_not_allowed") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the rule did not reach the other process");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("the rule reached the other process within {:?}", started.elapsed());
}

async fn rules_are_checked_when_set(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let (server, _) = served(&ada, &demo, "streamable_http").await;
    let token_id = ada_token_id(&ada, "client").await;
    let bad = limit(&ada, &token_id, &server, json!({ "mode": "only", "tools": ["rm -rf"] })).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let empty = limit(&ada, &token_id, &server, json!({ "mode": "only", "tools": [] })).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json_body(empty).await["message"].as_str().unwrap().contains("at least one"));
    let unknown_mode = limit(&ada, &token_id, &server, json!({ "mode": "some" })).await;
    assert_eq!(unknown_mode.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Another server of the same account, not linked to the token: a clear conflict.
    let other = json_body(
        ada.post("/servers", &json!({ "name": "other", "upstream_url": format!("{demo}/mcp"), "transport": "streamable_http" })).await,
    )
    .await;
    let unlinked = limit(&ada, &token_id, &other, json!({ "mode": "read_only" })).await;
    assert_eq!(unlinked.status(), StatusCode::CONFLICT);
    // Another account's token: 404, nothing learned.
    let foreign = limit(&bob, &token_id, &server, json!({ "mode": "read_only" })).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
}

/// The token page's form (its server function, as the page calls it) sets the rule, and the
/// page says what the token may call.
async fn the_token_page_sets_and_shows_the_rule(backend: Backend) {
    let Limited { app: _app, ada, server, token_id, token } = limited_to_echo(backend, "streamable_http").await;
    let server_id = server["id"].as_str().unwrap();
    // The inspector says what an accepted token may still not do.
    let inspected = ada.client.post(format!("{}/rpc/inspect_token", ada.base)).form(&[("token", token.as_str())]).send().await.unwrap();
    let inspection = json_body(inspected).await;
    assert_eq!(inspection["servers"][0]["reason"], "Accepted. May call only echo.", "{inspection}");
    let set = |tools: &'static str| {
        let fields = [("id", token_id.as_str()), ("server", server_id), ("tools", tools)];
        ada.client.post(format!("{}/rpc/limit_tools", ada.base)).form(&fields).send()
    };
    let html = page(&ada, &format!("/tokens/{token_id}")).await;
    assert!(html.contains("May call only echo"), "the page shows the rule set by REST");
    let saved = set("read-only").await.unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(json_body(saved).await["servers"][0]["tools"], json!({ "mode": "read_only" }));
    assert!(page(&ada, &format!("/tokens/{token_id}")).await.contains("May call read-only tools"));
    let bad = set("rm -rf").await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("letters, digits"), "the field says what names may hold");
    let all = set("all").await.unwrap();
    assert_eq!(json_body(all).await["servers"][0].get("tools"), None, "all tools is no rule");
}

/// The token and server pages list the most-called tools, with the calls a rule refused, on
/// both transports; a batch counts call by call and junk names are counted as "(other)".
async fn calls_are_counted_by_tool_on_both_pages(backend: Backend) {
    let Limited { app: _app, ada, server, token, token_id } = limited_to_echo(backend, "streamable_http").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let client = mcp_client(endpoint, &token).await.unwrap();
    for _ in 0..3 {
        client
            .call_tool(CallToolRequestParams::new("echo").with_arguments(json!({ "text": "hi" }).as_object().unwrap().clone()))
            .await
            .unwrap();
    }
    assert!(
        client
            .call_tool(CallToolRequestParams::new("ticker").with_arguments(json!({ "ticks": 0 }).as_object().unwrap().clone()))
            .await
            .is_err()
    );
    drop(client);
    // A batch (in a 2025-03-26 session, which had batches): one call let through, one refused;
    // and a name no tool can have.
    let s = session(endpoint, &token, "2025-03-26").await;
    let batch = json!([call(7, "echo"), call(8, "slow_echo")]);
    // (The demo upstream answers batches 415; the gateway decided and counted each call first.)
    post(endpoint, &token, &batch, &with(&s, &[])).await;
    let junk = post(endpoint, &token, &call(9, "not a tool name!"), &[]).await;
    assert_eq!(junk.status(), StatusCode::OK, "refused in JSON-RPC");

    let server_path = format!("/servers/{}", server["id"].as_str().unwrap());
    let token_path = format!("/tokens/{token_id}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let cells = |html: &str, tool: &str| -> Option<Vec<String>> {
        let start = html.find(&format!("data-tool-count=\"{tool}\""))?;
        let row = &html[start..start + html[start..].find("</tr>")?];
        Some(
            row.split("<td").skip(1).map(|cell| cell.split('>').nth(1).unwrap_or("").split('<').next().unwrap_or("").to_string()).collect(),
        )
    };
    loop {
        let (on_server, on_token) = (page(&ada, &server_path).await, page(&ada, &token_path).await);
        let echo = cells(&on_server, "echo");
        if echo.as_ref().is_some_and(|c| c.get(1).map(String::as_str) == Some("4")) {
            assert_eq!(cells(&on_server, "ticker").unwrap()[1..], ["0".to_string(), "1".to_string()], "refused by the rule");
            assert_eq!(cells(&on_server, "slow_echo").unwrap()[1..], ["0".to_string(), "1".to_string()], "refused in the batch");
            assert_eq!(cells(&on_server, "(other)").unwrap()[1..], ["0".to_string(), "1".to_string()], "a junk name is not kept");
            assert_eq!(cells(&on_token, "echo").unwrap()[1..], ["4".to_string(), "0".to_string()], "the token page too");
            break;
        }
        assert!(Instant::now() < deadline, "no counts by tool: {echo:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
