//! Signing keys: made on the first token, rotated, retired keys revoked with their tokens.
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, json_body, spawn_app};
use crate::on_both_backends;

on_both_backends!(rotation_keeps_old_tokens_until_the_retired_key_is_revoked, the_secret_never_leaves_the_server);

async fn rotation_keeps_old_tokens_until_the_retired_key_is_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    assert_eq!(json_body(ada.get("/signing-keys").await).await, json!([]), "no key before the first token");
    let (_, old_token) = ada.token("old", "never", &[]).await;
    let first_key = old_token["signing_key_id"].clone();

    let rotated = json_body(ada.post("/signing-keys/rotate", &json!({})).await).await;
    assert_eq!(rotated["state"], "active");
    assert_ne!(rotated["id"], first_key);
    let (_, new_token) = ada.token("new", "never", &[]).await;
    assert_eq!(new_token["signing_key_id"], rotated["id"], "new tokens use the new key");

    let keys = json_body(ada.get("/signing-keys").await).await;
    assert_eq!(keys[0]["id"], rotated["id"], "active key first");
    assert_eq!(keys[1]["state"], "retired");
    assert_eq!(keys[1]["tokens_signed"], 1);
    assert_eq!(keys[1]["live_tokens"], 1, "a retired key still verifies its tokens");
    let old_id = old_token["id"].as_str().unwrap();
    assert_eq!(json_body(ada.get(&format!("/tokens/{old_id}")).await).await["status"], "active");

    let refuse_active = ada.post(&format!("/signing-keys/{}/revoke", rotated["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(refuse_active.status(), StatusCode::CONFLICT, "the active key must be rotated out first");

    let revoked = json_body(ada.post(&format!("/signing-keys/{}/revoke", first_key.as_str().unwrap()), &json!({})).await).await;
    assert_eq!(revoked["state"], "revoked");
    assert_eq!(revoked["live_tokens"], 0);
    let old = json_body(ada.get(&format!("/tokens/{old_id}")).await).await;
    assert_eq!(old["status"], "revoked", "revoking the key ended its token");
    assert_eq!(old["revoked_by"], "signing_key");
    let new_id = new_token["id"].as_str().unwrap();
    assert_eq!(json_body(ada.get(&format!("/tokens/{new_id}")).await).await["status"], "active", "other keys' tokens live on");
    let again = ada.post(&format!("/signing-keys/{}/revoke", first_key.as_str().unwrap()), &json!({})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let bob = app.user("bob@example.com").await;
    let theirs = bob.post(&format!("/signing-keys/{}/revoke", rotated["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND, "another account's key is not there");
}

async fn the_secret_never_leaves_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    ada.token("t", "never", &[]).await;
    let keys = ada.get("/signing-keys").await.text().await.unwrap();
    for field in ["secret", "ciphertext"] {
        assert!(!keys.contains(field), "{keys}");
    }
}
