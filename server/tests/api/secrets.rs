//! Secrets stay secret at rest: what the server keeps between requests is sealed.
use reqwest::{StatusCode, header};

use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;

on_both_backends!(a_token_made_without_javascript_waits_sealed_until_its_page_shows_it);

async fn a_token_made_without_javascript_waits_sealed_until_its_page_shows_it(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.register("ada@example.com", "analytical engine").await.status(), StatusCode::CREATED);
    let created =
        crate::dashboard::post_form(&app, "/rpc/create_token", "/tokens", &[("description", "laptop"), ("expires", "never")]).await;
    assert_eq!(created.status(), StatusCode::FOUND);
    let page = created.headers()[header::LOCATION].to_str().unwrap().to_string();

    let stored = crate::servers::stored_text(&app, "SELECT data AS v FROM sessions").await;
    assert!(stored.contains("created_token:"), "the session holds the waiting token: {stored}");

    let shown = app.page(&page).await.text().await.unwrap();
    let token = shown
        .split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .find(|w| w.starts_with("eyJ") && w.matches('.').count() == 2);
    let token = token.expect("the token page shows the token once");
    let (_, signature) = token.rsplit_once('.').unwrap();
    assert!(!stored.contains(signature), "the raw token was in the sessions table: {stored}");
    let again = app.page(&page).await.text().await.unwrap();
    assert!(!again.contains(token), "and never again");
}

on_both_backends!(an_upstream_urls_query_is_sealed_and_hidden_but_still_sent);

/// An upstream that answers every POST to `/mcp` and remembers the query strings it was sent.
async fn query_recording_upstream() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::{Router, extract::RawQuery, routing::post};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let recorder = seen.clone();
    let router = Router::new().route(
        "/mcp",
        post(move |RawQuery(query): RawQuery| async move {
            recorder.lock().unwrap().push(query.unwrap_or_default());
            axum::Json(serde_json::json!({ "jsonrpc": "2.0", "id": 1, "result": {} }))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/mcp"), seen)
}

async fn an_upstream_urls_query_is_sealed_and_hidden_but_still_sent(backend: Backend) {
    use serde_json::json;
    let app = spawn_app(backend).await;
    let (upstream, seen) = query_recording_upstream().await;
    let ada = app.user("ada@example.com").await;
    let response = ada.post("/servers", &json!({ "name": "keyed", "upstream_url": format!("{upstream}?api_key=s3cret-value&region=eu"), "transport": "streamable_http" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let server = crate::helpers::json_body(response).await;
    assert_eq!(server["upstream_url"], format!("{upstream}?api_key=***&region=***"), "shown with its values hidden");
    let (token, _) = ada.token("client", "1h", &[&server]).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let bearer = format!("Bearer {token}");
    assert_eq!(crate::gateway::post_mcp(endpoint, Some(&bearer)).await.status(), StatusCode::OK);
    assert_eq!(seen.lock().unwrap().last().unwrap(), "api_key=s3cret-value&region=eu", "the upstream gets the real query");

    // Saved back as shown, the values stay; one changed value is taken.
    let id = server["id"].as_str().unwrap();
    let edit = |url: String| json!({ "name": "keyed", "upstream_url": url, "transport": "streamable_http" });
    assert_eq!(
        ada.put(&format!("/servers/{id}"), &edit(server["upstream_url"].as_str().unwrap().to_string())).await.status(),
        StatusCode::OK
    );
    app.state.changes.settle(app.db()).await;
    crate::gateway::post_mcp(endpoint, Some(&bearer)).await;
    assert_eq!(seen.lock().unwrap().last().unwrap(), "api_key=s3cret-value&region=eu");
    assert_eq!(ada.put(&format!("/servers/{id}"), &edit(format!("{upstream}?api_key=***&region=us"))).await.status(), StatusCode::OK);
    crate::gateway::post_mcp(endpoint, Some(&bearer)).await;
    assert_eq!(seen.lock().unwrap().last().unwrap(), "api_key=s3cret-value&region=us");

    // Nowhere at rest in the clear: not the servers table, not the audit log, not the API.
    let servers = crate::servers::stored_text(&app, "SELECT upstream_url AS v FROM servers").await;
    let audit = crate::servers::stored_text(&app, "SELECT detail AS v FROM audit_events").await;
    let listed = ada.get("/servers").await.text().await.unwrap();
    for (place, text) in [("servers", &servers), ("audit", &audit), ("API", &listed)] {
        assert!(!text.contains("s3cret"), "the key is in the {place}: {text}");
    }
    assert!(audit.contains("upstream_query"), "the audit log says the query changed: {audit}");

    // A row saved before queries were sealed is sealed when a process starts.
    let plain = format!("{upstream}?api_key=legacy-key");
    crate::servers::execute(
        &app,
        &format!("UPDATE servers SET upstream_url = '{plain}', upstream_query_ciphertext = NULL WHERE name = 'keyed'"),
    )
    .await;
    crate::servers::execute(&app, &format!("UPDATE audit_events SET detail = '{{\"upstream_url\":\"{plain}\"}}' WHERE object_id = '{id}'"))
        .await;
    let second = crate::helpers::spawn_second_process(&app).await;
    let servers = crate::servers::stored_text(&app, "SELECT upstream_url AS v FROM servers").await;
    let audit = crate::servers::stored_text(&app, "SELECT detail AS v FROM audit_events").await;
    assert!(!servers.contains("legacy-key") && !audit.contains("legacy-key"), "{servers} {audit}");
    let on_second = endpoint.replace(&app.address, &second.address);
    assert_eq!(crate::gateway::post_mcp(&on_second, Some(&bearer)).await.status(), StatusCode::OK);
    assert_eq!(seen.lock().unwrap().last().unwrap(), "api_key=legacy-key", "and still sent");
}
