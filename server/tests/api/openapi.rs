//! The OpenAPI document describes exactly the routes the API serves.
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Backend, json_body, spawn_app};
use crate::on_both_backends;

on_both_backends!(every_documented_route_is_served);

async fn every_documented_route_is_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.user("admin@example.com").await;
    let doc = json_body(admin.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap()).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut checked = 0;
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap() {
            let concrete = path
                .replace("{id}", &uuid::Uuid::new_v4().to_string())
                .replace("{server_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{account}", &uuid::Uuid::new_v4().to_string());
            let method: Method = method.to_uppercase().parse().unwrap();
            if concrete.ends_with("/logout") || concrete.ends_with("/password") || concrete.ends_with("/rotate") {
                continue; // would change this session's state mid-sweep; covered by their own tests
            }
            let response = admin
                .client
                .request(method.clone(), app.url(&format!("/api/v1{concrete}")))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!status.is_server_error(), "{method} {path} → {status}");
            if status == StatusCode::NOT_FOUND {
                let body: Value = json_body(response).await;
                assert_ne!(body["message"], "There is no such API route.", "{method} {path} is documented but not routed");
            }
            checked += 1;
        }
    }
    assert!(checked >= 18, "checked {checked} operations");
    for expected in [
        "/servers/{id}",
        "/tokens/{id}/revoke",
        "/tokens/{id}/servers/{server_id}",
        "/signing-keys/{id}/revoke",
        "/audit",
        "/admin/accounts/{id}",
        "/organisations",
        "/organisations/{id}/members/{account}",
        "/organisations/{id}/invitations",
        "/invitations/accept",
        "/admin/organisations/{id}",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
}
