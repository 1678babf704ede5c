//! Login sessions: cookie flags, id rotation, server-side logout, idle expiry, and refusal of
//! cross-site state changes.
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Backend, Options, json_body, session_cookie, spawn_app, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(
    session_cookie_is_http_only_and_same_site,
    behind_https_the_session_cookie_is_secure,
    login_issues_a_new_session_id,
    logout_deletes_the_session_on_the_server,
    me_without_a_session_is_401,
    sessions_end_after_idle_time,
    cross_site_state_changes_are_refused,
    no_route_changes_anything_for_a_cross_site_request,
);

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

async fn session_cookie_is_http_only_and_same_site(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.register("ada@example.com", "analytical engine").await;
    let cookie = session_cookie(&response).expect("sign-up sets the session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http public URL: no Secure flag ({cookie})");
    assert!(cookie.contains("Max-Age="), "idle expiry is on the cookie too ({cookie})");
}

async fn behind_https_the_session_cookie_is_secure(backend: Backend) {
    let public_url = url::Url::parse("https://gatehouse.example").unwrap();
    let app = spawn_app_with(backend, Options { public_url: Some(public_url), ..Default::default() }).await;
    let response = app.register("ada@example.com", "analytical engine").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = session_cookie(&response).expect("sign-up sets the session cookie");
    for flag in ["Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
}

async fn login_issues_a_new_session_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let registered = app.register("ada@example.com", "analytical engine").await;
    let before = cookie_value(&session_cookie(&registered).unwrap());
    let login = app.login("ada@example.com", "analytical engine").await;
    assert_eq!(login.status(), StatusCode::OK);
    let after = cookie_value(&session_cookie(&login).expect("login sets a cookie"));
    assert_ne!(before, after, "the session id changes at login");

    // The id from before login is worthless now.
    let stale = reqwest::Client::new().get(app.url("/api/v1/auth/me")).header(header::COOKIE, &before).send().await.unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let fresh = reqwest::Client::new().get(app.url("/api/v1/auth/me")).header(header::COOKIE, &after).send().await.unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
}

async fn logout_deletes_the_session_on_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let registered = app.register("ada@example.com", "analytical engine").await;
    let cookie = cookie_value(&session_cookie(&registered).unwrap());
    let logout = app.post_json("/api/v1/auth/logout", &json!({})).await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me().await.status(), StatusCode::UNAUTHORIZED);
    // Replaying the old cookie does not bring the session back.
    let replay = reqwest::Client::new().get(app.url("/api/v1/auth/me")).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

async fn me_without_a_session_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.me().await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(response).await["code"], "unauthenticated");
}

async fn sessions_end_after_idle_time(backend: Backend) {
    let app = spawn_app_with(backend, Options { session_idle_seconds: 2, ..Options::default() }).await;
    let registered = app.register("ada@example.com", "analytical engine").await;
    let cookie = cookie_value(&session_cookie(&registered).unwrap());
    let client = reqwest::Client::new();
    let me = || client.get(app.url("/api/v1/auth/me")).header(header::COOKIE, &cookie).send();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(me().await.unwrap().status(), StatusCode::OK, "activity inside the window keeps it alive");
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    assert_eq!(me().await.unwrap().status(), StatusCode::UNAUTHORIZED, "idle past the window ends it");
}

async fn cross_site_state_changes_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let evil_origin = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header(header::ORIGIN, "https://evil.example")
        .json(&json!({ "email": "ada@example.com", "password": "analytical engine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(evil_origin.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(evil_origin).await["code"], "cross_origin");

    let cross_site_form = app
        .client
        .post(app.url("/rpc/register"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("email", "ada@example.com"), ("password", "analytical engine")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site_form.status(), StatusCode::FORBIDDEN);

    // Neither attempt created the account.
    let login = app.login("ada@example.com", "analytical engine").await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);

    let same_origin = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header(header::ORIGIN, app.address.as_str())
        .header("sec-fetch-site", "same-origin")
        .json(&json!({ "email": "ada@example.com", "password": "analytical engine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), StatusCode::CREATED);
}

/// Rows in every table: what a refused request must leave as it was.
async fn row_counts(app: &crate::helpers::TestApp) -> Vec<(&'static str, i64)> {
    use sea_orm::{ConnectionTrait, Statement};
    let mut counts = Vec::new();
    for table in [
        "accounts",
        "audit_events",
        "events",
        "instance_claims",
        "login_throttles",
        "refusal_buckets",
        "servers",
        "sessions",
        "signing_keys",
        "token_servers",
        "tokens",
        "usage_buckets",
    ] {
        let backend = app.db().get_database_backend();
        let row = app.db().query_one_raw(Statement::from_string(backend, format!("SELECT COUNT(*) FROM {table}"))).await.unwrap().unwrap();
        counts.push((table, row.try_get_by_index::<i64>(0).unwrap()));
    }
    counts
}

/// Every state-changing route there is (each REST operation in the OpenAPI document, each
/// server function), sent with a valid session cookie from another site, in the three ways a
/// browser can label it: each is refused with 403 before anything changes.
async fn no_route_changes_anything_for_a_cross_site_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let demo = crate::helpers::spawn_demo_mcp().await;
    let (server, _) = crate::gateway::served(&ada, &demo, "streamable_http").await;
    // Real ids of each kind, so each route would act if it were not refused.
    let ids = |value: &Value| value.as_array().unwrap()[0]["id"].as_str().unwrap().to_string();
    let token_id = ids(&json_body(ada.get("/tokens").await).await);
    let key_id = ids(&json_body(ada.get("/signing-keys").await).await);
    let id_for = |collection: &str| match collection {
        "tokens" => token_id.clone(),
        "signing-keys" => key_id.clone(),
        "accounts" | "users" => ada.id.clone(),
        _ => server["id"].as_str().unwrap().to_string(),
    };

    let spec = json_body(app.get("/api/v1/openapi.json").await).await;
    let mut routes: Vec<(reqwest::Method, String)> = Vec::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch", "delete"] {
            if operations.get(method).is_some() {
                let mut concrete = String::new();
                let mut previous = "";
                for part in path.split('/') {
                    concrete.push_str(&if part.starts_with('{') { id_for(previous) } else { part.to_string() });
                    concrete.push('/');
                    previous = part;
                }
                concrete.pop();
                routes.push((method.to_uppercase().parse().unwrap(), format!("/api/v1{concrete}")));
            }
        }
    }
    let rest = routes.len();
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        if method != http::Method::GET {
            routes.push((method.as_str().parse().unwrap(), path.to_string()));
        }
    }
    assert!(rest >= 10 && routes.len() >= rest + 10, "{rest} REST operations, {} routes in all", routes.len());

    let before = row_counts(&app).await;
    let labels: [&[(&str, &str)]; 3] = [
        &[("origin", "https://evil.example")],
        &[("sec-fetch-site", "cross-site")],
        &[("origin", "null"), ("sec-fetch-site", "same-site")],
    ];
    let mut tried = 0;
    for (method, path) in &routes {
        for label in labels {
            let mut request = ada.client.request(method.clone(), app.url(path)).header(header::CONTENT_TYPE, "application/json").body("{}");
            for (name, value) in label {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path} with {label:?}");
            tried += 1;
        }
    }
    assert_eq!(row_counts(&app).await, before, "a refused request added or removed rows");
    let token = json_body(ada.get(&format!("/tokens/{token_id}")).await).await;
    assert_eq!(token["status"], "active", "the token is not revoked: {token}");
    // The session itself survived every refused logout.
    assert_eq!(ada.get("/auth/me").await.status(), StatusCode::OK);
    eprintln!("cross-site requests: {} routes × {} labels = {tried}, all 403, no row changed", routes.len(), labels.len());
}
