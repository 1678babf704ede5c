//! Knowing the client: client ID metadata documents (fetched over https, under the address
//! policy, cached), dynamic registration with its RFC 7592 management, lifetime, switch and rate
//! limit, and the operator's list.
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Json, Router, response::IntoResponse, routing::get};
use base64::Engine;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use super::*;
use crate::helpers::{Backend, Options, json_body, spawn_app, spawn_app_with, spawn_demo_mcp};
use crate::on_both_backends;
use gatehouse::Config;

on_both_backends!(
    a_client_id_metadata_document_identifies_the_client,
    registered_clients_are_managed_with_their_registration_token,
    confidential_clients_authenticate_at_the_token_endpoint,
    registration_can_be_turned_off_and_is_rate_limited,
    the_operator_lists_and_deletes_clients,
);

/// An https server for metadata documents on 127.0.0.1 with a certificate of its own; returns
/// (its base URL, the certificate's PEM file, how many times /counted.json was fetched).
async fn document_server(dir: &std::path::Path) -> (String, std::path::PathBuf, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.join("docs-cert.pem"), dir.join("docs-key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let acceptor = gatehouse::tls::Certificates::load(&cert, &key).unwrap().acceptor();
    let hits = Arc::new(AtomicUsize::new(0));
    let document = |base: &str, path: &str, client_id: &str| {
        let body = json!({ "client_id": client_id, "client_name": "Doc client", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"], "client_uri": base });
        let _ = path;
        body
    };
    let own = document(&base, "/client.json", &format!("{base}/client.json"));
    let mismatch = document(&base, "/mismatch.json", "https://claude.ai/oauth/mcp-client-metadata");
    let counted = document(&base, "/counted.json", &format!("{base}/counted.json"));
    let counter = hits.clone();
    let router = Router::new()
        .route("/client.json", get(move || async move { Json(own) }))
        .route("/mismatch.json", get(move || async move { Json(mismatch) }))
        .route(
            "/counted.json",
            get(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                ([(header::CACHE_CONTROL, "max-age=600")], Json(counted)).into_response()
            }),
        )
        .route("/huge.json", get(|| async { "x".repeat(100 * 1024) }));
    tokio::spawn(gatehouse::serve::serve(
        listener,
        router,
        std::time::Duration::from_secs(5),
        Some(acceptor),
        std::future::pending(),
        std::time::Duration::ZERO,
    ));
    (base, cert, hits)
}

async fn a_client_id_metadata_document_identifies_the_client(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (docs, cert, hits) = document_server(dir.path()).await;
    let app = spawn_app_with(
        backend,
        Options {
            configure: Box::new(move |c| Config { oauth_metadata_ca: Some(cert), oauth_metadata_allow_loopback: true, ..c }),
            ..Options::default()
        },
    )
    .await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let pkce = pkce();

    // Its document lists the loopback redirect without a port (as Claude Code's does): any port matches.
    let client_id = format!("{docs}/client.json");
    let redirect = "http://127.0.0.1:51234/callback";
    let request = Request { client_id: &client_id, redirect_uri: redirect, pkce: &pkce, state: "s", resource: endpoint };
    let started = authorize(&ada, &request.query()).await;
    let (_, _, html) = consent_page(&ada, &location(&started)).await;
    assert!(html.contains("Doc client") && html.contains(&client_id), "the page names the client and where its metadata is");
    let back = sign_in(&ada, &request, &[]).await;
    let tokens = exchange(&app, &client_id, &param(&back, "code").unwrap(), &pkce, redirect).await;
    assert_eq!(
        crate::gateway::post_mcp(endpoint, Some(&format!("Bearer {}", tokens["access_token"].as_str().unwrap()))).await.status(),
        StatusCode::OK
    );
    let listed = json_body(ada.get("/tokens").await).await;
    assert!(listed.as_array().unwrap().iter().any(|t| t["description"] == "via OAuth: Doc client"));

    // Refused: a document naming another client, one too large, and addresses the policy refuses.
    for (url, says) in [
        (format!("{docs}/mismatch.json"), "names another client_id"),
        (format!("{docs}/huge.json"), "larger than"),
        (format!("{docs}/missing.json"), "answered 404"),
        ("https://10.1.2.3/client.json".to_string(), "not allowed"),
        ("https://169.254.169.254/latest/client.json".to_string(), "not allowed"),
        (format!("{}/client.json", docs.replace("https://", "http://")), "https"),
    ] {
        let request = Request { client_id: &url, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: endpoint };
        let response = authorize(&ada, &request.query()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{url}");
        let page = response.text().await.unwrap();
        assert!(page.contains(says), "{url}: {page}");
    }
    // Fetched once while its Cache-Control holds (documents that do not name themselves are not kept).
    let counted = format!("{docs}/counted.json");
    for _ in 0..3 {
        let request = Request { client_id: &counted, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: endpoint };
        assert_eq!(authorize(&ada, &request.query()).await.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "cached as max-age says");
    assert_eq!(token_count(&app).await, 1);
}

/// Registers with `body`; returns the registration.
async fn register_with(app: &TestApp, body: Value) -> reqwest::Response {
    reqwest::Client::new().post(app.url("/oauth/register")).json(&body).send().await.unwrap()
}

async fn registered_clients_are_managed_with_their_registration_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let registration = register(&app, "Managed", &[REDIRECT]).await;
    let (client_id, token) = (registration["client_id"].as_str().unwrap(), registration["registration_access_token"].as_str().unwrap());
    let uri = registration["registration_client_uri"].as_str().unwrap();
    assert_eq!(uri, format!("{}/oauth/register/{client_id}", app.address));
    let issued = registration["client_id_issued_at"].as_i64().unwrap();
    assert!((issued - chrono::Utc::now().timestamp()).abs() < 60);
    let http = reqwest::Client::new();

    let read = http.get(uri).bearer_auth(token).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(json_body(read).await["client_name"], "Managed");
    assert_eq!(oauth_error(http.get(uri).bearer_auth("ghra_wrong").send().await.unwrap()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(http.get(uri).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let changed = json!({ "client_id": client_id, "client_name": "Renamed", "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none" });
    let updated = http.put(uri).bearer_auth(token).json(&changed).send().await.unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    let updated = json_body(updated).await;
    assert_eq!(updated["client_name"], "Renamed");
    assert_eq!(updated["redirect_uris"], json!(["https://app.example/cb"]));

    assert_eq!(http.delete(uri).bearer_auth(token).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(http.get(uri).bearer_auth(token).send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "gone");

    // A client past its lifetime is gone too (default 90 days).
    let registration = register(&app, "Old", &[REDIRECT]).await;
    let client_id = registration["client_id"].as_str().unwrap();
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let row = app::oauth::ssr::entity::clients::Entity::find()
        .filter(app::oauth::ssr::entity::clients::Column::ClientId.eq(client_id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let lifetime = row.expires_at.unwrap() - row.created_at;
    assert_eq!(lifetime.num_days(), 90);
    let expired = app::oauth::ssr::entity::clients::ActiveModel {
        id: sea_orm::ActiveValue::Set(row.id),
        expires_at: sea_orm::ActiveValue::Set(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
        ..Default::default()
    };
    app::oauth::ssr::entity::clients::Entity::update(expired).exec(app.db()).await.unwrap();
    let refused = super::token(&app, &[("grant_type", "authorization_code"), ("code", "x"), ("client_id", client_id)]).await;
    assert_eq!(oauth_error(refused).await, (StatusCode::UNAUTHORIZED, "invalid_client".into()), "register again");

    // Metadata that cannot work is refused with invalid_client_metadata.
    for (body, what) in [
        (json!({ "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"] }), "grant type"),
        (json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt" }), "auth method"),
        (json!({ "redirect_uris": [REDIRECT], "response_types": ["token"] }), "implicit"),
        (json!({ "redirect_uris": "not a list" }), "not JSON metadata"),
    ] {
        assert_eq!(oauth_error(register_with(&app, body).await).await.1, "invalid_client_metadata", "{what}");
    }
}

async fn confidential_clients_authenticate_at_the_token_endpoint(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    // No method named: client_secret_basic (RFC 7591 §2), with a secret.
    let registration = json_body(register_with(&app, json!({ "client_name": "Confidential", "redirect_uris": [REDIRECT] })).await).await;
    assert_eq!(registration["token_endpoint_auth_method"], "client_secret_basic");
    let (client_id, secret) = (registration["client_id"].as_str().unwrap(), registration["client_secret"].as_str().unwrap());
    let pkce = pkce();
    let request =
        Request { client_id, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: server["mcp_endpoint"].as_str().unwrap() };
    let code = param(&sign_in(&ada, &request, &[]).await, "code").unwrap();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
        ])
        .finish();
    let send = |basic: String| {
        reqwest::Client::new()
            .post(app.url("/oauth/token"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(basic)))
            .body(form.clone())
            .send()
    };
    let wrong = send(format!("{client_id}:wrong")).await.unwrap();
    assert_eq!(wrong.headers()[header::WWW_AUTHENTICATE], "Basic realm=\"gatehouse\"");
    assert_eq!(oauth_error(wrong).await, (StatusCode::UNAUTHORIZED, "invalid_client".into()));
    let none = token(&app, &[("grant_type", "authorization_code"), ("code", &code), ("client_id", client_id)]).await;
    assert_eq!(oauth_error(none).await.1, "invalid_client", "a confidential client must authenticate");
    let right = send(format!("{client_id}:{secret}")).await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    // A secret in the body is as good as Basic (and Basic must work for every confidential client).
    let code = param(&sign_in(&ada, &request, &[]).await, "code").unwrap();
    let in_body = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
    )
    .await;
    assert_eq!(in_body.status(), StatusCode::OK);
}

async fn registration_can_be_turned_off_and_is_rate_limited(backend: Backend) {
    let closed =
        spawn_app_with(backend, Options { configure: Box::new(|c| Config { oauth_registration: false, ..c }), ..Options::default() }).await;
    let refused = register_with(&closed, json!({ "redirect_uris": [REDIRECT] })).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let metadata = json_body(reqwest::get(closed.url("/.well-known/oauth-authorization-server")).await.unwrap()).await;
    assert!(metadata.get("registration_endpoint").is_none(), "{metadata}");
    drop(closed);

    let limited = spawn_app_with(
        backend,
        Options { configure: Box::new(|c| Config { oauth_registrations_per_minute: 2, ..c }), ..Options::default() },
    )
    .await;
    for _ in 0..2 {
        assert_eq!(register_with(&limited, json!({ "redirect_uris": [REDIRECT] })).await.status(), StatusCode::CREATED);
    }
    let third = register_with(&limited, json!({ "redirect_uris": [REDIRECT] })).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().get(header::RETRY_AFTER).is_some());
}

async fn the_operator_lists_and_deletes_clients(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let admin = app.user("admin@example.com").await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let registration = register(&app, "To delete", &[REDIRECT]).await;
    let client_id = registration["client_id"].as_str().unwrap();
    let pkce = pkce();
    let request =
        Request { client_id, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: server["mcp_endpoint"].as_str().unwrap() };
    let code = param(&sign_in(&ada, &request, &[]).await, "code").unwrap();
    let access = exchange(&app, client_id, &code, &pkce, REDIRECT).await["access_token"].as_str().unwrap().to_string();

    let rpc = |user: &crate::helpers::User, name: &str, body: String| {
        let request = user
            .client
            .post(format!("{}/rpc/{name}", app.address))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(rpc(&ada, "list_oauth_clients", String::new()).await.status(), StatusCode::FORBIDDEN, "admins only");
    let listed = json_body(rpc(&admin, "list_oauth_clients", String::new()).await).await;
    let row = listed.as_array().unwrap().iter().find(|c| c["client_id"] == client_id).expect("listed").clone();
    assert_eq!(row["live_grants"], 1);
    let deleted = rpc(&admin, "delete_oauth_client", format!("id={}", row["id"].as_str().unwrap())).await;
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert_eq!(
        crate::gateway::post_mcp(server["mcp_endpoint"].as_str().unwrap(), Some(&format!("Bearer {access}"))).await.status(),
        StatusCode::UNAUTHORIZED,
        "its grants ended"
    );
    let audit = json_body(admin.get("/audit?scope=all&per_page=100").await).await.to_string();
    assert!(audit.contains("oauth.client_deleted"), "{audit}");
}

on_both_backends!(metadata_documents_on_this_machine_are_refused_unless_allowed);

/// Anyone can name a client id URL, so by default it may not reach this machine — whatever the
/// upstream policy allows (on SQLite, loopback upstreams are allowed).
async fn metadata_documents_on_this_machine_are_refused_unless_allowed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (docs, cert, hits) = document_server(dir.path()).await;
    let app = spawn_app_with(
        backend,
        Options { configure: Box::new(move |c| Config { oauth_metadata_ca: Some(cert), ..c }), ..Options::default() },
    )
    .await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let pkce = pkce();
    let client_id = format!("{docs}/counted.json");
    let request = Request {
        client_id: &client_id,
        redirect_uri: REDIRECT,
        pkce: &pkce,
        state: "s",
        resource: server["mcp_endpoint"].as_str().unwrap(),
    };
    let response = authorize(&ada, &request.query()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("not allowed"));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing was fetched");
}
