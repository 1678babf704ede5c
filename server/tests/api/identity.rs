//! Identity for upstreams: a server that asks for it gets, on every request through the
//! gateway, a short-lived EdDSA JWT naming the caller, which verifies against the keys Gatehouse
//! publishes at /.well-known/jwks.json — and never the client's own token.
use std::sync::{Arc, Mutex};

use axum::{Router, http::HeaderMap, routing::any};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, User, json_body, spawn_app, spawn_second_process};
use crate::on_both_backends;

on_both_backends!(the_upstream_is_told_who_is_calling_in_a_verifiable_assertion, the_identity_header_is_checked_and_can_be_turned_off,);

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// An upstream that records the headers of the test's own requests (`post_mcp`'s initialize,
/// from the client named "raw"; not the health checks') and answers each with a JSON-RPC result.
async fn recording_upstream() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let router = Router::new().route(
        "/mcp",
        any(move |headers: HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                if body.contains(r#""name":"raw""#) {
                    kept.lock().unwrap().push(headers);
                }
                ([(axum::http::header::CONTENT_TYPE, "application/json")], r#"{"jsonrpc":"2.0","id":1,"result":{}}"#)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/mcp"), seen)
}

async fn through_gateway(server: &Value, token: &str) {
    let response = crate::gateway::post_mcp(server["mcp_endpoint"].as_str().unwrap(), Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

fn last_assertion(seen: &Seen, header: &str) -> Option<String> {
    let seen = seen.lock().unwrap();
    let last = seen.last().expect("the upstream saw a request");
    assert!(last.get("authorization").is_none(), "the client's token never reaches the upstream");
    last.get(header).map(|v| v.to_str().unwrap().to_string())
}

/// Verifies `assertion` with the key the JWKS names, as an upstream would.
async fn verify(app: &TestApp, assertion: &str, audience: &str) -> Value {
    let jwks = app.client.get(app.url("/.well-known/jwks.json")).send().await.unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    assert!(jwks.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let jwks: Value = jwks.json().await.unwrap();
    let header = jsonwebtoken::decode_header(assertion).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.expect("a kid");
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).expect("the kid is published");
    assert_eq!((&jwk["kty"], &jwk["crv"], &jwk["alg"]), (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA")));
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[app.address.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(assertion, &key, &validation).expect("the assertion verifies").claims
}

async fn server_with_identity(ada: &User, upstream: &str, header: Option<&str>) -> StatusCode {
    let response = ada
        .post("/servers", &json!({ "name": "who", "upstream_url": format!("{upstream}?key=s3cret"), "transport": "streamable_http", "identity_header": header }))
        .await;
    response.status()
}

async fn the_upstream_is_told_who_is_calling_in_a_verifiable_assertion(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let (upstream, seen) = recording_upstream().await;
    assert_eq!(server_with_identity(&ada, &upstream, Some("Gatehouse-Identity")).await, StatusCode::CREATED);
    let server = json_body(ada.get("/servers").await).await[0].clone();
    assert_eq!(server["identity_header"], "gatehouse-identity");
    let (token, details) = ada.token("client", "1h", &[&server]).await;
    through_gateway(&server, &token).await;

    let assertion = last_assertion(&seen, "gatehouse-identity").expect("the upstream is told who is calling");
    // The audience is the upstream URL without its query, which holds a secret.
    let claims = verify(&app, &assertion, &upstream).await;
    assert_eq!(claims["sub"], ada.id.as_str());
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["role"], "owner");
    assert_eq!(claims["token_id"], details["id"]);
    assert_eq!(claims["org"], server["organisation_id"]);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(lifetime > 0 && lifetime <= 60, "short-lived: {lifetime} s");
    assert!(!assertion.contains("s3cret") && !claims.to_string().contains("s3cret"));

    // Another process signs with the same published keys.
    let second = spawn_second_process(&app).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap().replace(&app.address, &second.address);
    let response = crate::gateway::post_mcp(&endpoint, Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let from_second = last_assertion(&seen, "gatehouse-identity").unwrap();
    assert_eq!(verify(&app, &from_second, &upstream).await["sub"], ada.id.as_str());
    let (first_kid, second_kid) =
        (jsonwebtoken::decode_header(&assertion).unwrap().kid, jsonwebtoken::decode_header(&from_second).unwrap().kid);
    assert_eq!(first_kid, second_kid, "one deployment, one signing key");
}

async fn the_identity_header_is_checked_and_can_be_turned_off(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let (upstream, seen) = recording_upstream().await;
    for (bad, why) in [("Host", "sets \"host\" itself"), ("x y", "not a valid header name"), ("Authorization", "not Authorization")] {
        let response = ada
            .post("/servers", &json!({ "name": "bad", "upstream_url": upstream, "transport": "streamable_http", "identity_header": bad }))
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body = json_body(response).await;
        assert!(body["fields"]["identity_header"].as_str().unwrap().contains(why), "{bad}: {body}");
    }
    let clash = ada
        .post(
            "/servers",
            &json!({ "name": "bad", "upstream_url": upstream, "transport": "streamable_http", "identity_header": "X-Key",
                     "upstream_headers": [{ "name": "x-key", "value": "1" }] }),
        )
        .await;
    assert_eq!(clash.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Off by default: nothing is added.
    assert_eq!(server_with_identity(&ada, &upstream, None).await, StatusCode::CREATED);
    let server = json_body(ada.get("/servers").await).await[0].clone();
    assert!(server["identity_header"].is_null());
    let (token, _) = ada.token("client", "1h", &[&server]).await;
    through_gateway(&server, &token).await;
    assert_eq!(last_assertion(&seen, "gatehouse-identity"), None);
    // Turned on, then off again, by PUT: the next request follows.
    let id = server["id"].as_str().unwrap();
    let on =
        json!({ "name": "who", "upstream_url": server["upstream_url"], "transport": "streamable_http", "identity_header": "X-Caller" });
    assert_eq!(ada.put(&format!("/servers/{id}"), &on).await.status(), StatusCode::OK);
    through_gateway(&server, &token).await;
    assert!(last_assertion(&seen, "x-caller").is_some());
    let off = json!({ "name": "who", "upstream_url": server["upstream_url"], "transport": "streamable_http" });
    assert_eq!(ada.put(&format!("/servers/{id}"), &off).await.status(), StatusCode::OK);
    through_gateway(&server, &token).await;
    assert_eq!(last_assertion(&seen, "x-caller"), None);
}
