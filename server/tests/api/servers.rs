//! Servers over the REST API: create, edit, delete, validation, secrets at rest, isolation.
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::{Backend, Options, json_body, spawn_app, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(
    servers_can_be_created_listed_edited_and_deleted,
    upstream_header_values_are_encrypted_and_never_shown,
    bad_server_input_gets_field_messages,
    upstream_address_policy_follows_the_engine_default,
    servers_of_other_accounts_are_invisible,
);

async fn servers_can_be_created_listed_edited_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let created = ada
        .post(
            "/servers",
            &json!({
                "name": "Docs search", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http",
            }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let server = json_body(created).await;
    let id = server["id"].as_str().unwrap();
    assert_eq!(server["require_token"], true, "tokens are required by default");
    assert_eq!(server["sse_endpoint"], format!("{}/s/{id}/sse", app.address));
    assert_eq!(server["mcp_endpoint"], format!("{}/s/{id}/mcp", app.address));
    assert_eq!(server["token_count"], 0);

    let list = json_body(ada.get("/servers").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let edited = ada
        .put(
            &format!("/servers/{id}"),
            &json!({
                "name": "Docs", "upstream_url": "http://localhost:9/sse", "transport": "sse", "require_token": false,
            }),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let edited = json_body(edited).await;
    assert_eq!(
        (edited["name"].as_str(), edited["transport"].as_str(), edited["require_token"].as_bool()),
        (Some("Docs"), Some("sse"), Some(false))
    );

    let duplicate = ada.post("/servers", &json!({ "name": "Docs", "upstream_url": "http://127.0.0.1:9", "transport": "sse" })).await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    assert!(json_body(duplicate).await["fields"]["name"].is_string());

    assert_eq!(ada.delete(&format!("/servers/{id}")).await.status(), StatusCode::NO_CONTENT);
    let gone = ada.get(&format!("/servers/{id}")).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_body(gone).await["code"], "not_found");
    assert_eq!(ada.delete(&format!("/servers/{id}")).await.status(), StatusCode::NOT_FOUND);
}

async fn upstream_header_values_are_encrypted_and_never_shown(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let secret = "sk-live-very-secret-value";
    let created = ada
        .post("/servers", &json!({
            "name": "Billing", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http",
            "upstream_headers": [{ "name": "Authorization", "value": format!("Bearer {secret}") }, { "name": "X-Team", "value": "blue" }],
        }))
        .await;
    let text = created.text().await.unwrap();
    assert!(!text.contains(secret), "the value is not echoed back: {text}");
    let server: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(server["upstream_header_names"], json!(["authorization", "x-team"]));
    let id = server["id"].as_str().unwrap().to_string();

    let stored = stored_text(&app, "SELECT upstream_headers_ciphertext AS v FROM servers").await;
    assert!(!stored.contains(secret) && !stored.contains("blue"), "encrypted at rest");

    // Editing without values keeps them; dropping a header removes it.
    let edited = ada
        .put(
            &format!("/servers/{id}"),
            &json!({
                "name": "Billing", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http",
                "upstream_headers": [{ "name": "authorization" }],
            }),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    assert_eq!(json_body(edited).await["upstream_header_names"], json!(["authorization"]));
    let model = app::servers::ssr::find_model(
        app.db(),
        app::organisations::OrganisationId(ada.id.parse().unwrap()),
        app::servers::ServerId(id.parse().unwrap()),
    )
    .await
    .unwrap();
    let headers = app::servers::ssr::upstream_headers(&app.state, &model).unwrap();
    assert_eq!(headers.get("authorization").map(String::as_str), Some(format!("Bearer {secret}").as_str()), "kept its value");

    let missing_value = ada
        .put(
            &format!("/servers/{id}"),
            &json!({
                "name": "Billing", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http",
                "upstream_headers": [{ "name": "x-new" }],
            }),
        )
        .await;
    assert_eq!(missing_value.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn bad_server_input_gets_field_messages(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let cases = [
        (json!({ "name": "", "upstream_url": "ftp://x", "transport": "sse" }), vec!["name", "upstream_url"]),
        (json!({ "name": "x", "upstream_url": "https://user:pw@example.com/", "transport": "sse" }), vec!["upstream_url"]),
        (json!({ "name": "x", "upstream_url": "http://10.1.2.3/mcp", "transport": "sse" }), vec!["upstream_url"]),
        (json!({ "name": "x", "upstream_url": "http://169.254.169.254/latest", "transport": "sse" }), vec!["upstream_url"]),
        (json!({ "name": "x", "upstream_url": "http://no-such-host.invalid/", "transport": "sse" }), vec!["upstream_url"]),
        (
            json!({ "name": "x", "upstream_url": "http://127.0.0.1/", "transport": "sse",
            "upstream_headers": [{ "name": "Host", "value": "evil" }] }),
            vec!["upstream_headers"],
        ),
        (
            json!({ "name": "x", "upstream_url": "http://127.0.0.1/", "transport": "sse",
            "upstream_headers": [{ "name": "x-a", "value": "line\r\nInjected: 1" }] }),
            vec!["upstream_headers"],
        ),
    ];
    for (body, fields) in cases {
        let response = ada.post("/servers", &body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error = json_body(response).await;
        let got: Vec<&str> = error["fields"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(got, fields, "{body}");
    }
    let bad_transport =
        ada.post("/servers", &json!({ "name": "x", "upstream_url": "http://127.0.0.1/", "transport": "carrier-pigeon" })).await;
    assert_eq!(bad_transport.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_body(ada.get("/servers").await).await, json!([]), "nothing was created");
}

async fn upstream_address_policy_follows_the_engine_default(backend: Backend) {
    let app = spawn_app_with(backend, Options { upstream_allow_loopback: None, ..Options::default() }).await;
    let ada = app.user("ada@example.com").await;
    let response = ada.post("/servers", &json!({ "name": "local", "upstream_url": "http://127.0.0.1:8080/mcp", "transport": "sse" })).await;
    match backend {
        Backend::Sqlite => assert_eq!(response.status(), StatusCode::CREATED, "the embedded default allows loopback"),
        Backend::Postgres => {
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "a shared deployment refuses loopback");
            let error = json_body(response).await;
            assert!(error["fields"]["upstream_url"].as_str().unwrap().contains("loopback"));
        }
    }
}

async fn servers_of_other_accounts_are_invisible(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let server = ada.server("Ada's", "http://127.0.0.1:9/mcp").await;
    let id = server["id"].as_str().unwrap();
    let body = json!({ "name": "stolen", "upstream_url": "http://127.0.0.1:9/", "transport": "sse" });
    for response in [
        bob.get(&format!("/servers/{id}")).await,
        bob.put(&format!("/servers/{id}"), &body).await,
        bob.delete(&format!("/servers/{id}")).await,
        bob.get(&format!("/servers/{id}/tokens")).await,
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_body(response).await["message"], "No such server.", "same answer as a server that does not exist");
    }
    assert_eq!(json_body(bob.get("/servers").await).await, json!([]));
    assert_eq!(json_body(ada.get(&format!("/servers/{id}")).await).await["name"], "Ada's", "untouched");
}

pub async fn stored_text(app: &crate::helpers::TestApp, sql: &str) -> String {
    let backend = app.db().get_database_backend();
    let rows = app.db().query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
    rows.iter().map(|r| r.try_get::<Option<String>>("", "v").unwrap().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// Runs a statement against `app`'s database directly (a test arranging what an older version
/// left there).
pub async fn execute(app: &crate::helpers::TestApp, sql: &str) {
    let backend = app.db().get_database_backend();
    app.db().execute_raw(Statement::from_string(backend, sql)).await.unwrap();
}
