//! The happy path and the grant's life: discovery from the 401, registration, consent, code,
//! token, refresh, and the ways a grant ends — each ending its live streams like any token.
use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use super::*;
use crate::gateway::{ends_soon, held_stream, mcp_client, post_mcp};
use crate::helpers::{Backend, json_body, spawn_app, spawn_demo_mcp, spawn_second_process};
use crate::on_both_backends;

on_both_backends!(
    a_client_discovers_signs_in_calls_tools_and_refreshes,
    a_reused_refresh_token_revokes_the_grant,
    revoking_a_grant_ends_its_streams_and_its_refresh_chain,
    a_grant_revoked_on_one_process_ends_a_stream_on_another,
    servers_without_oauth_keep_todays_static_token_answers,
);

async fn a_client_discovers_signs_in_calls_tools_and_refreshes(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let id = server["id"].as_str().unwrap();
    assert_eq!(server["oauth_enabled"], true, "new servers offer OAuth");

    // Discovery, as the MCP spec has it: the 401 names the resource metadata...
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/s/{id}/mcp", app.address);
    let refused = post_mcp(endpoint, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = refused.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_string();
    assert_eq!(challenge, format!("Bearer realm=\"gatehouse\", resource_metadata=\"{metadata_url}\", scope=\"mcp\""));
    assert_eq!(json_body(refused).await["code"], "token_required", "today's JSON body stays");
    let bad = post_mcp(endpoint, Some("Bearer not-a-token")).await;
    let challenge = bad.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_string();
    assert!(challenge.starts_with("Bearer realm=\"gatehouse\", error=\"invalid_token\""), "{challenge}");
    assert!(challenge.ends_with(&format!("resource_metadata=\"{metadata_url}\", scope=\"mcp\"")), "{challenge}");
    // ...which names the authorization server...
    let resource: Value = json_body(reqwest::get(&metadata_url).await.unwrap()).await;
    assert_eq!(resource["resource"], endpoint);
    assert_eq!(resource["authorization_servers"], json!([app.address]));
    assert_eq!(resource["scopes_supported"], json!(["mcp"]));
    assert_eq!(resource["bearer_methods_supported"], json!(["header"]));
    let sse = json_body(reqwest::get(format!("{}/.well-known/oauth-protected-resource/s/{id}/sse", app.address)).await.unwrap()).await;
    assert_eq!(sse["resource"], server["sse_endpoint"]);
    // ...whose metadata says how to sign in.
    let issuer = resource["authorization_servers"][0].as_str().unwrap();
    let metadata = json_body(reqwest::get(format!("{issuer}/.well-known/oauth-authorization-server")).await.unwrap()).await;
    assert_eq!(metadata["issuer"], app.address, "the issuer is exactly the public URL");
    assert_eq!(metadata["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
    assert_eq!(metadata["authorization_response_iss_parameter_supported"], true);
    assert_eq!(metadata["grant_types_supported"], json!(["authorization_code", "refresh_token"]));
    assert!(metadata["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));
    for endpoint in ["authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint"] {
        assert!(metadata[endpoint].as_str().is_some_and(|e| e.starts_with(&app.address)), "{endpoint}: {metadata}");
    }
    let openid = json_body(reqwest::get(format!("{issuer}/.well-known/openid-configuration")).await.unwrap()).await;
    assert_eq!(openid, metadata, "the OpenID discovery path clients also probe");

    // Registration, then the browser part, on a loopback port the client picked just now.
    let registration = register(&app, "Test app", &[REDIRECT]).await;
    let client_id = registration["client_id"].as_str().unwrap();
    assert!(registration.get("client_secret").is_none(), "a public client gets no secret");
    let pkce = pkce();
    let redirect = "http://127.0.0.1:45678/callback";
    let request = Request { client_id, redirect_uri: redirect, pkce: &pkce, state: "state-1", resource: endpoint };
    let back = sign_in(&ada, &request, &[]).await;
    assert!(back.as_str().starts_with(redirect), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("state-1"));
    assert_eq!(param(&back, "iss").as_deref(), Some(app.address.as_str()), "RFC 9207: iss in the response");
    let code = param(&back, "code").expect("a code");

    let tokens = exchange(&app, client_id, &code, &pkce, redirect).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "mcp");
    let lifetime = tokens["expires_in"].as_i64().unwrap();
    assert!((86_000..=86_400).contains(&lifetime), "a day by default: {lifetime}");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let claims = claims(access);
    assert_eq!(claims["aud"], json!([app.address, endpoint]), "the audience names the resource");
    assert_eq!(claims["client_id"], client_id);

    // A real MCP client lists and calls tools with it.
    let mcp = mcp_client(endpoint, access).await.expect("the access token connects");
    let tools = mcp.list_tools(Default::default()).await.unwrap();
    assert!(tools.tools.iter().any(|t| t.name == "echo"));
    mcp.cancel().await.ok();

    // The grant is a token in the list, associated with the server.
    let listed = json_body(ada.get("/tokens").await).await;
    let grant = listed.as_array().unwrap().iter().find(|t| t["id"] == claims["jti"]).expect("the grant is listed");
    assert_eq!(grant["description"], "via OAuth: Test app");
    assert!(grant["oauth_client"].is_string());
    assert_eq!(grant["servers"][0]["id"], server["id"]);

    // Refresh: a new access token and a new refresh token; both old and new access work.
    let response = token(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", client_id)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let renewed = json_body(response).await;
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"], "rotated");
    let new_access = renewed["access_token"].as_str().unwrap();
    assert_eq!(super::claims(new_access)["jti"], claims["jti"], "the same grant");
    assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {new_access}"))).await.status(), StatusCode::OK);
    assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {access}"))).await.status(), StatusCode::OK);
    // Each step is in the audit log.
    let audit = json_body(ada.get("/audit?per_page=50").await).await.to_string();
    for action in ["oauth.consented", "oauth.token_issued", "oauth.token_refreshed"] {
        assert!(audit.contains(action), "{action} missing from {audit}");
    }
}

/// Signs `ada` in through a fresh public client for `server`'s endpoint of `kind`; returns
/// (client id, token response).
async fn granted(app: &TestApp, ada: &User, server: &Value, kind: &str) -> (String, Value) {
    let registration = register(app, "Streamer", &[REDIRECT]).await;
    let client_id = registration["client_id"].as_str().unwrap().to_string();
    let pkce = pkce();
    let endpoint = server[format!("{kind}_endpoint")].as_str().unwrap();
    let request = Request { client_id: &client_id, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: endpoint };
    let back = sign_in(ada, &request, &[]).await;
    let tokens = exchange(app, &client_id, &param(&back, "code").unwrap(), &pkce, REDIRECT).await;
    (client_id, tokens)
}

async fn sse_server(ada: &User, demo: &str) -> Value {
    let response = ada.post("/servers", &json!({ "name": "events", "upstream_url": format!("{demo}/sse"), "transport": "sse" })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json_body(response).await
}

async fn a_reused_refresh_token_revokes_the_grant(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = sse_server(&ada, &demo).await;
    let (client_id, tokens) = granted(&app, &ada, &server, "sse").await;
    let stream = held_stream(server["sse_endpoint"].as_str().unwrap(), tokens["access_token"].as_str().unwrap()).await;
    let first = tokens["refresh_token"].as_str().unwrap();
    let refresh = |refresh: String| {
        let (app, client_id) = (&app, client_id.clone());
        async move { token(app, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &client_id)]).await }
    };
    let renewed = json_body(refresh(first.to_string()).await).await;
    let second = renewed["refresh_token"].as_str().unwrap().to_string();

    // The first one again: stolen, or a client that lost track. The whole grant ends.
    let started = Instant::now();
    assert_eq!(oauth_error(refresh(first.to_string()).await).await, (StatusCode::BAD_REQUEST, "invalid_grant".into()));
    ends_soon(stream, "a reused refresh token").await;
    eprintln!("stream ended {:?} after the reuse", started.elapsed());
    assert_eq!(oauth_error(refresh(second).await).await.1, "invalid_grant", "the newer refresh token ended with the grant");
    let access = renewed["access_token"].as_str().unwrap();
    assert_eq!(crate::gateway::open_sse(server["sse_endpoint"].as_str().unwrap(), access).await.status(), StatusCode::UNAUTHORIZED);
    let audit = json_body(ada.get("/audit?per_page=50").await).await.to_string();
    assert!(audit.contains("oauth.refresh_reused"), "{audit}");
}

async fn revoking_a_grant_ends_its_streams_and_its_refresh_chain(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = sse_server(&ada, &demo).await;
    let endpoint = server["sse_endpoint"].as_str().unwrap();

    // In the dashboard, as any token.
    let (client_id, tokens) = granted(&app, &ada, &server, "sse").await;
    let stream = held_stream(endpoint, tokens["access_token"].as_str().unwrap()).await;
    let grant = claims(tokens["access_token"].as_str().unwrap())["jti"].as_str().unwrap().to_string();
    let started = Instant::now();
    assert_eq!(ada.post(&format!("/tokens/{grant}/revoke"), &json!({})).await.status(), StatusCode::OK);
    ends_soon(stream, "revoking the grant").await;
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    let refused = token(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap()), ("client_id", &client_id)],
    )
    .await;
    assert_eq!(oauth_error(refused).await.1, "invalid_grant", "the refresh chain ended with it");

    // By the client, at the revocation endpoint (RFC 7009), with its access token.
    let (client_id, tokens) = granted(&app, &ada, &server, "sse").await;
    let access = tokens["access_token"].as_str().unwrap();
    let stream = held_stream(endpoint, access).await;
    let form = url::form_urlencoded::Serializer::new(String::new()).extend_pairs([("token", access), ("client_id", &client_id)]).finish();
    let revoked = reqwest::Client::new()
        .post(app.url("/oauth/revoke"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    ends_soon(stream, "the client revoking its access token").await;

    // By the user, disconnecting the app on Connected apps.
    let (_, tokens) = granted(&app, &ada, &server, "sse").await;
    let stream = held_stream(endpoint, tokens["access_token"].as_str().unwrap()).await;
    let grant = claims(tokens["access_token"].as_str().unwrap())["jti"].as_str().unwrap().to_string();
    let listed = json_body(ada.get("/tokens").await).await;
    let client = listed.as_array().unwrap().iter().find(|t| t["id"] == grant.as_str()).unwrap()["oauth_client"].clone();
    let disconnected = ada
        .client
        .post(format!("{}/rpc/disconnect_app", app.address))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("client={}", client.as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert!(disconnected.status().is_success(), "{}", disconnected.status());
    ends_soon(stream, "disconnecting the app").await;
}

async fn a_grant_revoked_on_one_process_ends_a_stream_on_another(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let second = spawn_second_process(&app).await;
    let ada = app.user("ada@example.com").await;
    let server = sse_server(&ada, &demo).await;
    let (_, tokens) = granted(&app, &ada, &server, "sse").await;
    let access = tokens["access_token"].as_str().unwrap();
    let on_second = server["sse_endpoint"].as_str().unwrap().replace(&app.address, &second.address);
    let deadline = Instant::now() + Duration::from_secs(3);
    while post_mcp(&on_second.replace("/sse", "/mcp"), Some(&format!("Bearer {access}"))).await.status() == StatusCode::UNAUTHORIZED {
        assert!(Instant::now() < deadline, "the grant never reached the second process");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stream = held_stream(&on_second, access).await;
    let grant = claims(access)["jti"].as_str().unwrap().to_string();
    let started = Instant::now();
    ada.post(&format!("/tokens/{grant}/revoke"), &json!({})).await;
    ends_soon(stream, "a revocation on the other process").await;
    eprintln!("the stream on the second process ended {:?} after the revoke on the first", started.elapsed());
}

async fn servers_without_oauth_keep_todays_static_token_answers(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let response = ada
        .post(
            "/servers",
            &json!({ "name": "static", "upstream_url": format!("{demo}/mcp"), "transport": "streamable_http", "oauth_enabled": false }),
        )
        .await;
    let server = json_body(response).await;
    assert_eq!(server["oauth_enabled"], false);
    let id = server["id"].as_str().unwrap();
    let refused = post_mcp(server["mcp_endpoint"].as_str().unwrap(), None).await;
    assert_eq!(refused.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"gatehouse\"", "no discovery: Cursor keeps its header");
    let metadata = reqwest::get(format!("{}/.well-known/oauth-protected-resource/s/{id}/mcp", app.address)).await.unwrap();
    assert_eq!(metadata.status(), StatusCode::NOT_FOUND);
    // An unknown server looks the same as one without OAuth.
    let unknown =
        reqwest::get(format!("{}/.well-known/oauth-protected-resource/s/{}/mcp", app.address, uuid::Uuid::now_v7())).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // The owner turns it on: discovery appears at once.
    let input = json!({ "name": "static", "upstream_url": format!("{demo}/mcp"), "transport": "streamable_http", "oauth_enabled": true });
    assert_eq!(ada.put(&format!("/servers/{id}"), &input).await.status(), StatusCode::OK);
    let refused = post_mcp(server["mcp_endpoint"].as_str().unwrap(), None).await;
    assert!(refused.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().contains("resource_metadata="));
    // A static token still works alongside.
    let (static_token, _) = ada.token("static", "1h", &[&server]).await;
    assert_eq!(post_mcp(server["mcp_endpoint"].as_str().unwrap(), Some(&format!("Bearer {static_token}"))).await.status(), StatusCode::OK);
}

on_both_backends!(browser_clients_can_preflight_and_read_the_challenge);

/// The MCP Inspector runs in a browser: its preflight is answered before the token check, and
/// it may read `WWW-Authenticate` (to find the metadata) and `Mcp-Session-Id`.
async fn browser_clients_can_preflight_and_read_the_challenge(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, endpoint)
        .header(header::ORIGIN, "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type,mcp-protocol-version")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let refused = http.post(endpoint).header(header::ORIGIN, "http://localhost:6274").json(&json!({})).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let exposed = refused.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("www-authenticate") && exposed.contains("mcp-session-id"), "{exposed}");
    let metadata = http
        .get(format!("{}/.well-known/oauth-authorization-server", app.address))
        .header(header::ORIGIN, "http://localhost:6274")
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.headers()["access-control-allow-origin"], "*", "the metadata too");
}

on_both_backends!(a_visitor_signs_in_first_and_comes_back_to_the_consent_page);

/// The authorization endpoint works without a session: the consent page sends the visitor to
/// log in, and the login comes back to it.
async fn a_visitor_signs_in_first_and_comes_back_to_the_consent_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let registration = register(&app, "Later", &[REDIRECT]).await;
    let pkce = pkce();
    let request = Request {
        client_id: registration["client_id"].as_str().unwrap(),
        redirect_uri: REDIRECT,
        pkce: &pkce,
        state: "s",
        resource: server["mcp_endpoint"].as_str().unwrap(),
    };
    let browser = crate::helpers::client();
    let started = browser.get(format!("{}/oauth/authorize?{}", app.address, request.query())).send().await.unwrap();
    let consent = location(&started);
    let page = browser.get(app.url(&consent)).header(header::ACCEPT, "text/html").send().await.unwrap();
    assert!(page.status().is_redirection(), "{}", page.status());
    let login = location(&page);
    let next = url::Url::parse(&app.url(&login)).unwrap().query_pairs().find(|(n, _)| n == "next").unwrap().1.into_owned();
    assert_eq!(next, consent, "the login page comes back to the consent page");
    let signed_in = browser
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let user = User { client: browser, base: app.address.clone(), id: String::new() };
    let (_, csrf, html) = consent_page(&user, &next).await;
    assert!(html.contains("Later") && !csrf.is_empty());
}

on_both_backends!(a_refusal_before_the_body_is_read_says_connection_close);

/// A 401 answered before the body arrived: hyper then closes the connection, so the answer must
/// say so, or the client's next request on it (the metadata discovery) fails. The Python SDK
/// hit this about one sign-in in five.
async fn a_refusal_before_the_body_is_read_says_connection_close(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let host = app.address.trim_start_matches("http://").to_string();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let path = format!("/s/{}/mcp", server["id"].as_str().unwrap());
    let mut socket = tokio::net::TcpStream::connect(&host).await.unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    socket.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    socket.write_all(body.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 401"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    // A request whose body was read keeps its connection.
    let kept = reqwest::Client::new().get(app.url("/healthz")).send().await.unwrap();
    assert!(kept.headers().get(header::CONNECTION).is_none());
}
