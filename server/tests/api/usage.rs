//! Usage the owner can see (charts, sparklines, refusal reasons), tokens expiring soon, and
//! the token inspector, through real gateway traffic and server-rendered pages.
use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::gateway::{ada_token_id, post_mcp, served};
use crate::helpers::{Backend, Options, User, json_body, spawn_app, spawn_app_with, spawn_demo_mcp};
use crate::on_both_backends;

on_both_backends!(
    charts_count_requests_and_refusals_by_reason,
    tokens_expiring_within_a_week_are_badged_and_filtered,
    the_inspector_explains_every_verdict_without_keeping_the_token,
);

pub(crate) async fn page(user: &User, path: &str) -> String {
    let response = user.client.get(format!("{}{path}", user.base)).header(header::ACCEPT, "text/html").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.unwrap()
}

/// The value of `attribute` on the element that carries `marker`.
fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let start = html.find(marker)?;
    let tag_end = start + html[start..].find('>')?;
    let tag_start = html[..start].rfind('<')?;
    let tag = &html[tag_start..tag_end];
    let at = tag.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}

/// The cell values of the refusal reasons table row for `reason`.
pub(crate) fn reason_row(html: &str, reason: &str) -> Vec<String> {
    let start = html.find(&format!("data-reason=\"{reason}\"")).unwrap_or_else(|| panic!("no row for {reason}"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let text = &cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()];
            text.replace("<!>", "").trim().to_string()
        })
        .collect()
}

async fn charts_count_requests_and_refusals_by_reason(backend: Backend) {
    let app = spawn_app_with(backend, Options { usage_flush_ms: 100, ..Options::default() }).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = served(&ada, &demo, "streamable_http").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap().to_string();
    let token_id = ada_token_id(&ada, "client").await;
    let (unlinked, _) = ada.token("not for this server", "1h", &[]).await;
    let (revoked, revoked_details) = ada.token("revoked one", "1h", &[&server]).await;
    ada.post(&format!("/tokens/{}/revoke", revoked_details["id"].as_str().unwrap()), &json!({})).await;

    for _ in 0..4 {
        assert_eq!(post_mcp(&endpoint, Some(&format!("Bearer {token}"))).await.status(), StatusCode::OK);
    }
    let tampered = tamper(&token);
    for (authorization, times) in
        [(format!("Bearer {revoked}"), 2), (format!("Bearer {unlinked}"), 1), (format!("Bearer {tampered}"), 1), (String::new(), 3)]
    {
        for _ in 0..times {
            let sent = (!authorization.is_empty()).then_some(authorization.as_str());
            assert_eq!(post_mcp(&endpoint, sent).await.status(), StatusCode::UNAUTHORIZED);
        }
    }

    // Counts reach the pages with the next flush.
    let deadline = Instant::now() + Duration::from_secs(10);
    let server_page = loop {
        let html = page(&ada, &format!("/servers/{}", server["id"].as_str().unwrap())).await;
        if html.contains("data-reason=\"missing\"")
            && reason_row(&html, "missing").get(1).map(String::as_str) == Some("3")
            && attribute_after(&html, "data-chart=\"hourly\"", "data-requests").as_deref() == Some("4")
        {
            break html;
        }
        assert!(Instant::now() < deadline, "usage never reached the server page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        attribute_after(&server_page, "data-chart=\"hourly\"", "data-refusals").as_deref(),
        Some("7"),
        "every refusal at this server"
    );
    assert_eq!(attribute_after(&server_page, "data-chart=\"daily\"", "data-requests").as_deref(), Some("4"));
    assert_eq!(reason_row(&server_page, "revoked"), ["Revoked token", "2", "2"]);
    assert_eq!(reason_row(&server_page, "unassociated"), ["Token not associated with this server", "1", "1"]);
    assert_eq!(reason_row(&server_page, "bad_signature"), ["Bad signature", "1", "1"]);
    assert_eq!(reason_row(&server_page, "expired"), ["Expired token", "0", "0"], "the main reasons show even at zero");
    assert!(
        server_page.contains("<svg") && server_page.contains("4 requests and 7 refusals in the last 24 hours"),
        "an SVG with a summary"
    );

    let token_page = page(&ada, &format!("/tokens/{token_id}")).await;
    assert_eq!(attribute_after(&token_page, "data-chart=\"hourly\"", "data-requests").as_deref(), Some("4"));
    assert_eq!(
        attribute_after(&token_page, "data-chart=\"hourly\"", "data-refusals").as_deref(),
        Some("0"),
        "the tampered token is not counted against it"
    );
    assert!(token_page.contains("4 requests</title>") || token_page.contains("4 requests, 0 refusals</title>"), "a tooltip per bar");
    let revoked_page = page(&ada, &format!("/tokens/{}", revoked_details["id"].as_str().unwrap())).await;
    assert_eq!(
        attribute_after(&revoked_page, "data-chart=\"hourly\"", "data-refusals").as_deref(),
        Some("2"),
        "a revoked token's refusals are its own"
    );

    let list = page(&ada, "/tokens").await;
    assert_eq!(
        attribute_after(&list, "data-sparkline=\"4\"", "aria-label").as_deref(),
        Some("4 requests in the last 24 hours"),
        "a sparkline per token"
    );
    let overview = page(&ada, "/").await;
    assert_eq!(
        attribute_after(&overview, "data-chart=\"hourly\"", "data-requests").as_deref(),
        Some("4"),
        "the overview adds up every token"
    );
    assert_eq!(
        attribute_after(&overview, "data-chart=\"hourly\"", "data-refusals").as_deref(),
        Some("7"),
        "and every refusal at its servers"
    );

    // Another account sees none of it.
    let bob = app.user("bob@example.com").await;
    let response = bob
        .client
        .get(format!("{}/servers/{}", bob.base, server["id"].as_str().unwrap()))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn tokens_expiring_within_a_week_are_badged_and_filtered(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", "http://127.0.0.1:9/mcp").await;
    ada.token("three days", "3d", &[&server]).await;
    ada.token("a month", "30d", &[&server]).await;
    ada.token("forever", "never", &[&server]).await;
    let (_, gone) = ada.token("revoked soon", "2d", &[]).await;
    ada.post(&format!("/tokens/{}/revoke", gone["id"].as_str().unwrap()), &json!({})).await;

    let expiring = json_body(ada.get("/tokens?status=expiring").await).await;
    let names: Vec<&str> = expiring.as_array().unwrap().iter().map(|t| t["description"].as_str().unwrap()).collect();
    assert_eq!(names, ["three days"], "only active tokens within 7 days");

    let list = page(&ada, "/tokens?status=expiring").await;
    assert!(list.contains("three days") && !list.contains("a month") && !list.contains("revoked soon"));
    assert!(list.contains("expires in 3 days") || list.contains("expires in 2 days"), "the badge says when");
    assert!(list.contains(r#"aria-current="page""#) && list.contains("Expiring soon"));
    let all = page(&ada, "/tokens").await;
    assert_eq!(all.matches("expires in ").count(), 1, "one badge in the full list");
    let server_page = page(&ada, &format!("/servers/{}", server["id"].as_str().unwrap())).await;
    assert_eq!(server_page.matches("expires in ").count(), 1, "and on its server");
}

/// The token with one signature character changed (inside the signature: the last character
/// carries unused bits, so changing it may change nothing).
fn tamper(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let at = chars.len() - 10;
    chars[at] = if chars[at] == 'x' { 'y' } else { 'x' };
    chars.into_iter().collect()
}

async fn inspect(user: &User, token: &str) -> (StatusCode, Value) {
    let response = user.client.post(format!("{}/rpc/inspect_token", user.base)).form(&[("token", token)]).send().await.unwrap();
    (response.status(), json_body(response).await)
}

fn verdict<'a>(inspection: &'a Value, server: &str) -> (bool, &'a str) {
    let entry =
        inspection["servers"].as_array().unwrap().iter().find(|s| s["name"] == server).unwrap_or_else(|| panic!("no verdict for {server}"));
    (entry["accepted"].as_bool().unwrap(), entry["reason"].as_str().unwrap())
}

async fn the_inspector_explains_every_verdict_without_keeping_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let docs = ada.server("docs", "http://127.0.0.1:9/mcp").await;
    ada.server("search", "http://127.0.0.1:9/mcp").await;
    let (token, details) = ada.token("laptop", "7d", &[&docs]).await;

    let (status, good) = inspect(&ada, &format!("Bearer {token}")).await;
    assert_eq!(status, StatusCode::OK, "{good}");
    assert!(good["problem"].is_null(), "{good}");
    assert_eq!(good["token"]["description"], "laptop");
    assert_eq!(verdict(&good, "docs"), (true, "Accepted."));
    assert_eq!(verdict(&good, "search"), (false, "Not associated with this server."));
    assert!(good["header"].as_str().unwrap().contains("\"alg\": \"HS256\""), "the decoded header");
    assert!(good["claims"].as_str().unwrap().contains(details["id"].as_str().unwrap()), "the decoded claims");
    let labels: Vec<&str> = good["times"].as_array().unwrap().iter().map(|t| t[0].as_str().unwrap()).collect();
    assert_eq!(labels, ["Issued", "Valid from", "Expires"]);

    // Someone else's token is only "not one of this organisation's tokens".
    let (status, foreign) = inspect(&bob, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(foreign["problem"], "Not one of this organisation's tokens.");
    assert!(foreign["token"].is_null(), "nothing about ada's token leaks to bob");

    let tampered = tamper(&token);
    let (_, bad) = inspect(&ada, &tampered).await;
    assert!(bad["problem"].as_str().unwrap().starts_with("Bad signature"), "{bad}");
    assert!(!verdict(&bad, "docs").0);

    ada.post(&format!("/tokens/{}/revoke", details["id"].as_str().unwrap()), &json!({})).await;
    let (_, revoked) = inspect(&ada, &token).await;
    let (accepted, reason) = verdict(&revoked, "docs");
    assert!(!accepted);
    assert!(reason.starts_with("Revoked at ") && reason.ends_with("UTC."), "{reason}");
    assert_eq!(revoked["token"]["status"], "revoked");

    // A token signed by a key revoked since.
    let (second, _) = ada.token("desktop", "never", &[&docs]).await;
    assert_eq!(ada.post("/signing-keys/rotate", &json!({})).await.status(), StatusCode::OK);
    let keys = json_body(ada.get("/signing-keys").await).await;
    let old = keys.as_array().unwrap().iter().find(|k| k["state"] == "retired").unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(ada.post(&format!("/signing-keys/{old}/revoke"), &json!({})).await.status(), StatusCode::OK);
    let (_, key_revoked) = inspect(&ada, &second).await;
    let reason = key_revoked["problem"].as_str().unwrap();
    assert!(reason.starts_with("Signed by a key that was revoked at "), "{reason}");

    for (garbage, field) in [("", "Paste a token."), ("not a jwt", "A JWT has three parts"), ("a.b.c", "base64url")] {
        let (status, body) = inspect(&ada, garbage).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{garbage:?}");
        assert!(body["fields"]["token"].as_str().unwrap().contains(field), "{garbage:?}: {body}");
    }

    // Inspecting is not recorded anywhere.
    let stored = crate::servers::stored_text(&app, "SELECT detail || action AS v FROM audit_events").await;
    assert!(!stored.contains(&second[second.len() - 20..]) && !stored.contains("inspect"), "{stored}");
}
