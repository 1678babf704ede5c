//! Admin: disable and enable accounts, change roles; password changes end other sessions.
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, client, json_body, spawn_app};
use crate::on_both_backends;

on_both_backends!(admins_disable_and_enable_accounts, only_admins_reach_admin_routes, password_change_ends_other_sessions);

async fn admins_disable_and_enable_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.user("admin@example.com").await;
    let ada = app.user("ada@example.com").await;
    let list = json_body(admin.get("/admin/accounts").await).await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    let disabled = admin.patch(&format!("/admin/accounts/{}", ada.id), &json!({ "status": "disabled" })).await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(json_body(disabled).await["status"], "disabled");
    assert_eq!(ada.get("/auth/me").await.status(), StatusCode::UNAUTHORIZED, "its session ended");
    let login = ada.post("/auth/login", &json!({ "email": "ada@example.com", "password": "correct horse battery" })).await;
    assert_eq!(json_body(login).await["code"], "account_disabled");

    // Nothing to change answers 422 from REST as from the dashboard (one rule in ssr).
    let nothing = admin.patch(&format!("/admin/accounts/{}", ada.id), &json!({})).await;
    assert_eq!(nothing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_body(nothing).await["message"], "Give a status or a role to change.");

    let self_disable = admin.patch(&format!("/admin/accounts/{}", admin.id), &json!({ "status": "disabled" })).await;
    assert_eq!(self_disable.status(), StatusCode::CONFLICT);
    let self_demote = admin.patch(&format!("/admin/accounts/{}", admin.id), &json!({ "role": "user" })).await;
    assert_eq!(self_demote.status(), StatusCode::CONFLICT);

    admin.patch(&format!("/admin/accounts/{}", ada.id), &json!({ "status": "active", "role": "admin" })).await;
    let back = ada.post("/auth/login", &json!({ "email": "ada@example.com", "password": "correct horse battery" })).await;
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(json_body(back).await["role"], "admin");

    let ada_log = json_body(ada.get("/audit").await).await;
    let actions: Vec<&str> = ada_log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(
        actions.contains(&"account.disabled") && actions.contains(&"account.enabled") && actions.contains(&"account.role_changed"),
        "{actions:?}"
    );
    let disabled_entry = ada_log["entries"].as_array().unwrap().iter().find(|e| e["action"] == "account.disabled").unwrap();
    assert_eq!(disabled_entry["actor_email"], "admin@example.com");

    let unknown = admin.patch(&format!("/admin/accounts/{}", uuid::Uuid::new_v4()), &json!({ "status": "disabled" })).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

async fn only_admins_reach_admin_routes(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.user("admin@example.com").await;
    let ada = app.user("ada@example.com").await;
    assert_eq!(ada.get("/admin/accounts").await.status(), StatusCode::FORBIDDEN);
    let attempt = ada.patch(&format!("/admin/accounts/{}", admin.id), &json!({ "status": "disabled" })).await;
    assert_eq!(attempt.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(admin.get("/auth/me").await).await["status"], "active");
    let anonymous = client().get(app.url("/api/v1/admin/accounts")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn password_change_ends_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let here = app.user("ada@example.com").await;
    let elsewhere = client();
    let login = elsewhere
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);

    let wrong = here.post("/account/password", &json!({ "current_password": "nope nope nope", "new_password": "a brand new one" })).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(json_body(wrong).await["fields"]["current_password"].is_string());
    let short = here.post("/account/password", &json!({ "current_password": "correct horse battery", "new_password": "short" })).await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let changed =
        here.post("/account/password", &json!({ "current_password": "correct horse battery", "new_password": "a brand new one" })).await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(here.get("/auth/me").await.status(), StatusCode::OK, "this session stays");
    let other = elsewhere.get(app.url("/api/v1/auth/me")).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "the other session ended");
    assert_eq!(app.login("ada@example.com", "correct horse battery").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("ada@example.com", "a brand new one").await.status(), StatusCode::OK);
}
