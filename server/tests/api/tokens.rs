//! Tokens over the REST API: minting, status, revocation, associations, isolation.
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::helpers::{Backend, json_body, spawn_app};
use crate::on_both_backends;
use crate::servers::stored_text;

on_both_backends!(
    tokens_are_hs256_jwts_signed_with_the_accounts_key,
    token_string_is_shown_once_and_only_its_display_form_is_kept,
    status_is_computed_and_the_list_filters_and_sorts,
    revoking_is_immediate_and_idempotent,
    associations_change_without_a_new_token,
    bad_token_input_gets_field_messages,
    tokens_of_other_accounts_are_invisible,
    many_tokens_can_be_made_at_once,
);

/// Concurrent writers (the first of them also making the account's signing key) all succeed:
/// on SQLite they queue for the write lock instead of failing with "database is locked".
async fn many_tokens_can_be_made_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = std::sync::Arc::new(app.user("ada@example.com").await);
    let created = futures::future::join_all((0..24).map(|i| {
        let ada = ada.clone();
        async move { ada.post("/tokens", &json!({ "description": format!("client {i}"), "expires": "never" })).await.status() }
    }))
    .await;
    assert!(created.iter().all(|s| *s == StatusCode::CREATED), "{created:?}");
    let list = json_body(ada.get("/tokens").await).await;
    assert_eq!(list.as_array().unwrap().len(), 24);
    let keys = json_body(ada.get("/signing-keys").await).await;
    assert_eq!(keys.as_array().unwrap().len(), 1, "one signing key, made once");
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn tokens_are_hs256_jwts_signed_with_the_accounts_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("Docs", "http://127.0.0.1:9/mcp").await;
    let before = Utc::now().timestamp();
    let (token, details) = ada.token("Claude Desktop", "7d", &[&server]).await;

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS");
    let header = decode_part(parts[0]);
    let claims = decode_part(parts[1]);
    assert_eq!(header["alg"], "HS256");
    let keys = json_body(ada.get("/signing-keys").await).await;
    assert_eq!(keys.as_array().unwrap().len(), 1, "the first token made the account's key");
    assert_eq!(keys[0]["state"], "active");
    assert_eq!(header["kid"], keys[0]["id"]);
    assert_eq!(claims["iss"], app.address.as_str());
    assert_eq!(claims["aud"], app.address.as_str());
    assert_eq!(claims["sub"], ada.id.as_str());
    assert_eq!(claims["jti"], details["id"]);
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= before && claims["nbf"] == claims["iat"]);
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 7 * 24 * 3600);

    // The signature verifies with the account's own decrypted secret.
    let key_id: uuid::Uuid = keys[0]["id"].as_str().unwrap().parse().unwrap();
    let key = <app::signing_keys::ssr::entity::Entity as sea_orm::EntityTrait>::find_by_id(key_id).one(app.db()).await.unwrap().unwrap();
    let secret = app::signing_keys::ssr::secret(&app.state, &key).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&[app.address.as_str()]);
    validation.set_issuer(&[app.address.as_str()]);
    use secrecy::ExposeSecret;
    let decoded = jsonwebtoken::decode::<Value>(&token, &jsonwebtoken::DecodingKey::from_secret(secret.expose_secret()), &validation);
    assert!(decoded.is_ok(), "{decoded:?}");

    let never = ada.token("CI", "never", &[]).await.0;
    let claims = decode_part(never.split('.').nth(1).unwrap());
    assert!(claims.get("exp").is_none(), "indefinite tokens carry no exp");
    assert_eq!(json_body(ada.get("/signing-keys").await).await.as_array().unwrap().len(), 1, "one key signs both");
}

async fn token_string_is_shown_once_and_only_its_display_form_is_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let (token, details) = ada.token("laptop", "30d", &[]).await;
    let display = details["display"].as_str().unwrap();
    assert_eq!(display, format!("{}…{}", &token[..8], &token[token.len() - 4..]));
    let id = details["id"].as_str().unwrap();
    let again = json_body(ada.get(&format!("/tokens/{id}")).await).await;
    assert!(again.get("token").is_none());
    assert!(!again.to_string().contains(&token));
    let stored = stored_text(&app, "SELECT display AS v FROM tokens").await;
    assert!(!stored.contains(&token[20..]), "only the display form is stored");
    let key_row = stored_text(&app, "SELECT secret_ciphertext AS v FROM signing_keys").await;
    assert!(!key_row.is_empty(), "the key secret is stored sealed");
}

async fn status_is_computed_and_the_list_filters_and_sorts(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let (_, live) = ada.token("live", "never", &[]).await;
    let (_, old) = ada.token("old", "1h", &[]).await;
    let (_, gone) = ada.token("gone", "90d", &[]).await;
    ada.post(&format!("/tokens/{}/revoke", gone["id"].as_str().unwrap()), &json!({})).await;
    // Time passes for "old": move its expiry into the past, as the clock would.
    set_token_time(&app, "old", TokenTime::ExpiresAt, Utc::now() - chrono::Duration::minutes(5)).await;
    let status_of = |list: &Value, id: &Value| list.as_array().unwrap().iter().find(|t| t["id"] == *id).map(|t| t["status"].clone());
    let all = json_body(ada.get("/tokens").await).await;
    assert_eq!(status_of(&all, &live["id"]), Some(json!("active")));
    assert_eq!(status_of(&all, &old["id"]), Some(json!("expired")));
    assert_eq!(status_of(&all, &gone["id"]), Some(json!("revoked")), "revoked tokens stay listed");
    for (status, expected) in [("active", &live), ("expired", &old), ("revoked", &gone)] {
        let filtered = json_body(ada.get(&format!("/tokens?status={status}")).await).await;
        let ids: Vec<&Value> = filtered.as_array().unwrap().iter().map(|t| &t["id"]).collect();
        assert_eq!(ids, vec![&expected["id"]], "{status}");
    }
    assert_eq!(ada.get("/tokens?status=sleepy").await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    set_token_time(&app, "old", TokenTime::LastUsedAt, Utc::now()).await;
    let by_use = json_body(ada.get("/tokens?sort=last_used").await).await;
    assert_eq!(by_use[0]["id"], old["id"], "the used one first, never-used after");
    assert!(by_use[0]["last_used_at"].is_string() && by_use[1]["last_used_at"].is_null());
}

async fn revoking_is_immediate_and_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let (_, token) = ada.token("to revoke", "never", &[]).await;
    let id = token["id"].as_str().unwrap();
    let events_before = count(&app, "SELECT COUNT(*) AS n FROM events").await;
    let first = json_body(ada.post(&format!("/tokens/{id}/revoke"), &json!({})).await).await;
    assert_eq!(first["status"], "revoked");
    assert_eq!(first["revoked_by"], "owner");
    let revoked_at = first["revoked_at"].clone();
    assert!(revoked_at.is_string());
    let events_after = count(&app, "SELECT COUNT(*) AS n FROM events").await;
    assert_eq!(events_after, events_before + 1, "the revocation wrote one change event");

    let second = ada.post(&format!("/tokens/{id}/revoke"), &json!({})).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(json_body(second).await["revoked_at"], revoked_at, "the first revocation time stands");
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM events").await, events_after, "no second event");
}

async fn associations_change_without_a_new_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let docs = ada.server("Docs", "http://127.0.0.1:9/mcp").await;
    let crm = ada.server("CRM", "http://127.0.0.1:9/mcp").await;
    let (_, token) = ada.token("agent", "never", &[&docs]).await;
    let id = token["id"].as_str().unwrap();
    assert_eq!(token["servers"], json!([{ "id": docs["id"], "name": "Docs" }]));

    let path = format!("/tokens/{id}/servers/{}", crm["id"].as_str().unwrap());
    let added = json_body(ada.put(&path, &json!({})).await).await;
    assert_eq!(added["servers"].as_array().unwrap().len(), 2);
    assert_eq!(json_body(ada.put(&path, &json!({})).await).await["servers"], added["servers"], "idempotent");
    let on_crm = json_body(ada.get(&format!("/servers/{}/tokens", crm["id"].as_str().unwrap())).await).await;
    assert_eq!(on_crm[0]["id"], token["id"]);
    assert_eq!(json_body(ada.get(&format!("/servers/{}", crm["id"].as_str().unwrap())).await).await["token_count"], 1);

    let removed = json_body(ada.delete(&path).await).await;
    assert_eq!(removed["servers"], json!([{ "id": docs["id"], "name": "Docs" }]));

    ada.delete(&format!("/servers/{}", docs["id"].as_str().unwrap())).await;
    assert_eq!(json_body(ada.get(&format!("/tokens/{id}")).await).await["servers"], json!([]), "deleting a server drops its associations");
}

async fn bad_token_input_gets_field_messages(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let cases = [
        (json!({ "description": "", "expires": "7d" }), vec!["description"]),
        (json!({ "description": "x", "expires": "yesterday" }), vec!["expires"]),
        (json!({ "description": "x", "expires": "2020-01-01" }), vec!["expires"]),
        (json!({ "description": "x", "expires": "0d" }), vec!["expires"]),
        (json!({ "description": "x", "expires": "7d", "server_ids": [uuid::Uuid::new_v4()] }), vec!["server_ids"]),
        (json!({ "description": "x".repeat(201), "expires": "" }), vec!["description", "expires"]),
    ];
    for (body, fields) in cases {
        let response = ada.post("/tokens", &body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error = json_body(response).await;
        let got: Vec<&str> = error["fields"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(got, fields, "{body}");
    }
    assert_eq!(json_body(ada.get("/tokens").await).await, json!([]));
    assert_eq!(json_body(ada.get("/signing-keys").await).await, json!([]), "no key is made for a refused token");
}

async fn tokens_of_other_accounts_are_invisible(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let ada_server = ada.server("Ada's", "http://127.0.0.1:9/mcp").await;
    let bob_server = bob.server("Bob's", "http://127.0.0.1:9/mcp").await;
    let (_, ada_token) = ada.token("ada", "never", &[&ada_server]).await;
    let (_, bob_token) = bob.token("bob", "never", &[&bob_server]).await;
    let ada_id = ada_token["id"].as_str().unwrap();
    let bob_id = bob_token["id"].as_str().unwrap();
    let ada_server_id = ada_server["id"].as_str().unwrap();

    for response in [
        bob.get(&format!("/tokens/{ada_id}")).await,
        bob.post(&format!("/tokens/{ada_id}/revoke"), &json!({})).await,
        bob.put(&format!("/tokens/{ada_id}/servers/{}", bob_server["id"].as_str().unwrap()), &json!({})).await,
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    // Bob's own token cannot be pointed at Ada's server.
    let cross = bob.put(&format!("/tokens/{bob_id}/servers/{ada_server_id}"), &json!({})).await;
    assert_eq!(cross.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_body(cross).await["message"], "No such server.");
    let cross_create = bob.post("/tokens", &json!({ "description": "x", "expires": "7d", "server_ids": [ada_server_id] })).await;
    assert_eq!(cross_create.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let bob_list = json_body(bob.get("/tokens").await).await;
    assert_eq!(bob_list.as_array().unwrap().len(), 1);
    assert_eq!(json_body(ada.get(&format!("/tokens/{ada_id}")).await).await["status"], "active", "untouched");
    let ada_keys = json_body(ada.get("/signing-keys").await).await;
    let bob_keys = json_body(bob.get("/signing-keys").await).await;
    assert_ne!(ada_keys[0]["id"], bob_keys[0]["id"], "each account has its own key");
}

pub async fn count(app: &crate::helpers::TestApp, sql: &str) -> i64 {
    let backend = app.db().get_database_backend();
    let row = app.db().query_one_raw(sea_orm::Statement::from_string(backend, sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

pub enum TokenTime {
    ExpiresAt,
    LastUsedAt,
}

/// Moves a token's clock-driven field, as time passing (or the gateway) would.
pub async fn set_token_time(app: &crate::helpers::TestApp, description: &str, field: TokenTime, at: chrono::DateTime<Utc>) {
    use app::tokens::ssr::entity::{Column, Entity};
    let column = match field {
        TokenTime::ExpiresAt => Column::ExpiresAt,
        TokenTime::LastUsedAt => Column::LastUsedAt,
    };
    Entity::update_many().col_expr(column, Expr::value(at)).filter(Column::Description.eq(description)).exec(app.db()).await.unwrap();
}
