//! The organisation sweep over the dashboard's server functions: a member of one organisation
//! calling every server function that takes an id with another organisation's ids gets 404,
//! learns nothing, and changes nothing (the REST routes have theirs in `organisations`).
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, User, json_body, spawn_app};
use crate::on_both_backends;

on_both_backends!(every_server_function_answers_404_with_another_organisations_ids);

async fn call(user: &User, endpoint: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    // As the wasm bundle calls them (a plain form post from a page gets a redirect instead).
    let response = user.client.post(format!("{}/rpc/{endpoint}", user.base)).form(fields).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn every_server_function_answers_404_with_another_organisations_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let _operator = app.user("operator@example.com").await;
    let ada = app.user("ada@example.com").await;
    let _carol = app.user("carol@example.com").await;
    let bob = app.user("bob@example.com").await;

    // Ada's organisation, with a server, a token, its key and a second member.
    let acme = json_body(ada.post("/organisations", &json!({ "name": "Acme" })).await).await["id"].as_str().unwrap().to_string();
    let in_acme = |path: &str| ada.client.post(format!("{}/api/v1{path}", ada.base)).header("Gatehouse-Organisation", acme.as_str());
    let server = json_body(
        in_acme("/servers")
            .json(&json!({ "name": "Acme docs", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = json_body(
        in_acme("/tokens")
            .json(&json!({ "description": "Acme laptop", "expires": "never", "server_ids": [server["id"]] }))
            .send()
            .await
            .unwrap(),
    )
    .await["details"]
        .clone();
    let member = in_acme(&format!("/organisations/{acme}/members"))
        .json(&json!({ "email": "carol@example.com", "role": "member" }))
        .send()
        .await
        .unwrap();
    assert_eq!(member.status(), StatusCode::CREATED);
    let carol_id = json_body(member).await["account_id"].as_str().unwrap().to_string();
    let keys = json_body(
        ada.client.get(format!("{}/api/v1/signing-keys", ada.base)).header("Gatehouse-Organisation", acme.as_str()).send().await.unwrap(),
    )
    .await;
    let key = keys[0]["id"].as_str().unwrap().to_string();
    let (server_id, token_id) = (server["id"].as_str().unwrap().to_string(), token["id"].as_str().unwrap().to_string());

    // Bob, in an organisation of his own with objects of his own, chosen in the dashboard.
    let bravo = json_body(bob.post("/organisations", &json!({ "name": "Bravo" })).await).await["id"].as_str().unwrap().to_string();
    let (status, _) = call(&bob, "switch_organisation", &[("id", &bravo)]).await;
    assert!(status.is_success() || status.is_redirection(), "bob switches to Bravo: {status}");
    let own = json_body(
        bob.client
            .post(format!("{}/api/v1/servers", bob.base))
            .header("Gatehouse-Organisation", bravo.as_str())
            .json(&json!({ "name": "Bravo docs", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let own_server = own["id"].as_str().unwrap().to_string();
    let own_token = json_body(
        bob.client
            .post(format!("{}/api/v1/tokens", bob.base))
            .header("Gatehouse-Organisation", bravo.as_str())
            .json(&json!({ "description": "Bravo laptop", "expires": "never", "server_ids": [own_server] }))
            .send()
            .await
            .unwrap(),
    )
    .await["details"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("get_server", vec![("id", &server_id)]),
        (
            "update_server",
            vec![
                ("id", &server_id),
                ("name", "Mine now"),
                ("upstream_url", "http://127.0.0.1:9/mcp"),
                ("transport", "streamable_http"),
                ("require_token", "on"),
            ],
        ),
        ("delete_server", vec![("id", &server_id)]),
        ("check_server", vec![("id", &server_id)]),
        ("server_tool_calls", vec![("id", &server_id)]),
        ("detect_transport", vec![("upstream_url", "http://127.0.0.1:9/mcp"), ("id", &server_id)]),
        ("server_usage", vec![("id", &server_id)]),
        ("server_tokens", vec![("server", &server_id)]),
        ("get_token", vec![("id", &token_id)]),
        ("token_usage", vec![("id", &token_id)]),
        ("revoke_token", vec![("id", &token_id)]),
        ("associate_server", vec![("id", &token_id), ("server", &own_server)]),
        ("associate_server", vec![("id", &own_token), ("server", &server_id)]),
        ("dissociate_server", vec![("id", &token_id), ("server", &server_id)]),
        ("dissociate_server", vec![("id", &own_token), ("server", &server_id)]),
        ("limit_tools", vec![("id", &token_id), ("server", &server_id), ("tools", "echo")]),
        ("allow_networks", vec![("id", &token_id), ("networks", "0.0.0.0/0")]),
        ("limit_tools", vec![("id", &own_token), ("server", &server_id), ("tools", "echo")]),
        ("revoke_signing_key", vec![("id", &key)]),
        ("change_member_role", vec![("account", &carol_id), ("role", "viewer")]),
        ("remove_member", vec![("account", &carol_id)]),
        ("switch_organisation", vec![("id", &acme)]),
    ];
    let secrets = ["Acme", "ada@example.com", "carol@example.com", "Acme docs", "Acme laptop"];
    let mut wrong = Vec::new();
    for (endpoint, fields) in &calls {
        let (status, body) = call(&bob, endpoint, fields).await;
        if status != StatusCode::NOT_FOUND {
            wrong.push(format!("{endpoint} {fields:?}: {status} {body}"));
        }
        if let Some(leak) = secrets.iter().find(|s| body.contains(*s)) {
            wrong.push(format!("{endpoint}: the answer names {leak:?}: {body}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} calls did not answer a bare 404:\n{}", wrong.len(), calls.len(), wrong.join("\n"));

    // Nothing of Acme changed, and Bob's own objects are still his.
    let check = |path: String| ada.client.get(format!("{}/api/v1{path}", ada.base)).header("Gatehouse-Organisation", acme.as_str()).send();
    let server = json_body(check(format!("/servers/{server_id}")).await.unwrap()).await;
    assert_eq!((server["name"].as_str(), server["token_count"].as_u64()), (Some("Acme docs"), Some(1)));
    assert_eq!(json_body(check(format!("/tokens/{token_id}")).await.unwrap()).await["status"], "active");
    let members = json_body(check(format!("/organisations/{acme}/members")).await.unwrap()).await;
    assert!(members.to_string().contains("\"role\":\"member\""), "carol is still a member: {members}");
    let (status, body) = call(&bob, "get_server", &[("id", &own_server)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
