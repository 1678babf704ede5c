//! What operators and scripts use without a browser: API keys, metrics, the client address
//! behind a proxy, TLS, sign-up policy, retention and the master-key check at start.
use reqwest::{StatusCode, header};
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::gateway::post_mcp;
use crate::helpers::{Backend, Options, TestApp, json_body, spawn_app, spawn_app_with, spawn_demo_mcp};
use crate::on_both_backends;
use gatehouse::{Application, Config};

on_both_backends!(
    api_keys_act_as_their_owner_within_their_scope,
    api_keys_and_tokens_stay_on_their_own_side,
    metrics_count_traffic_and_never_name_a_token_or_an_email,
    forwarding_headers_are_believed_only_from_trusted_proxies,
    sign_up_by_invitation_and_closed,
    retention_deletes_old_rows_and_the_view_skips_dead_tokens,
    a_wrong_master_key_stops_the_start,
);

/// A key made over REST; returns `(key, id)`.
async fn api_key(user: &crate::helpers::User, scope: &str) -> (String, String) {
    let response = user.post("/api-keys", &json!({ "description": format!("{scope} script"), "scope": scope, "expires": "30d" })).await;
    assert_eq!(response.status(), StatusCode::CREATED, "create a {scope} key");
    let body = json_body(response).await;
    (body["key"].as_str().unwrap().to_string(), body["details"]["id"].as_str().unwrap().to_string())
}

fn with_key(app: &TestApp, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
    // A fresh client: no cookie jar, as a script has.
    reqwest::Client::new().request(method, app.url(&format!("/api/v1{path}"))).bearer_auth(key)
}

async fn api_keys_act_as_their_owner_within_their_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await; // the first account: an admin
    let bob = app.user("bob@example.com").await;
    let (read, _) = api_key(&ada, "read").await;
    let (write, write_id) = api_key(&ada, "write").await;
    let (admin, _) = api_key(&ada, "admin").await;

    // Read: GET only.
    assert_eq!(with_key(&app, reqwest::Method::GET, "/servers", &read).send().await.unwrap().status(), StatusCode::OK);
    let refused = with_key(&app, reqwest::Method::POST, "/servers", &read)
        .json(&json!({ "name": "docs", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(json_body(refused).await["message"].as_str().unwrap().contains("write scope"));

    // Write: changes the owner's objects, from another site too (no ambient credential), but
    // not the admin routes.
    let created = with_key(&app, reqwest::Method::POST, "/servers", &write)
        .header(header::ORIGIN, "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({ "name": "docs", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "a key is not a cookie: the cross-site check does not apply");
    let server = json_body(created).await;
    assert_eq!(with_key(&app, reqwest::Method::GET, "/admin/accounts", &write).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(with_key(&app, reqwest::Method::GET, "/admin/accounts", &admin).send().await.unwrap().status(), StatusCode::OK);

    // The owner's objects only: bob's key sees none of ada's.
    let (bobs, _) = api_key(&bob, "write").await;
    let path = format!("/servers/{}", server["id"].as_str().unwrap());
    assert_eq!(with_key(&app, reqwest::Method::GET, &path, &bobs).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // A user's key may not have the admin scope; a key may not make a bigger one.
    let response = bob.post("/api-keys", &json!({ "description": "x", "scope": "admin", "expires": "7d" })).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = with_key(&app, reqwest::Method::POST, "/api-keys", &write)
        .json(&json!({ "description": "bigger", "scope": "admin", "expires": "7d" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Only an admin-scoped key sees every account's audit log; others see their own.
    let bobs_entry = |page: serde_json::Value| page["entries"].as_array().unwrap().iter().any(|e| e["actor_email"] == "bob@example.com");
    let read_all = with_key(&app, reqwest::Method::GET, "/audit?scope=all", &read).send().await.unwrap();
    assert!(!bobs_entry(json_body(read_all).await), "a read key of an admin sees only its own account's log");
    let admin_all = with_key(&app, reqwest::Method::GET, "/audit?scope=all", &admin).send().await.unwrap();
    assert!(bobs_entry(json_body(admin_all).await), "an admin key sees everything");
    // Basic credentials (a proxy in front may ask for them) are not Gatehouse's: the session
    // still counts, and the cross-site check still guards it.
    let basic = ada.client.get(format!("{}/api/v1/servers", app.address)).basic_auth("proxy", Some("secret")).send().await.unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let forged = ada
        .client
        .post(format!("{}/api/v1/servers", app.address))
        .basic_auth("proxy", Some("secret"))
        .header(header::ORIGIN, "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({ "name": "forged", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "Basic credentials do not turn the cross-site check off");

    // A key cannot change the password, through REST or the dashboard's server function.
    let rest = with_key(&app, reqwest::Method::POST, "/account/password", &write)
        .json(&json!({ "current_password": "correct horse battery", "new_password": "a whole new password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::FORBIDDEN);
    let rpc = reqwest::Client::new()
        .post(app.url("/rpc/change_password"))
        .bearer_auth(&write)
        .form(&[("current_password", "correct horse battery"), ("new_password", "a whole new password")])
        .send()
        .await
        .unwrap();
    assert_eq!(rpc.status(), StatusCode::FORBIDDEN, "{}", rpc.text().await.unwrap());

    // The audit log names the key that acted.
    let log = json_body(ada.get("/audit").await).await;
    let entry = log["entries"].as_array().unwrap().iter().find(|e| e["action"] == "server.created").expect("server.created logged").clone();
    assert_eq!(entry["via"], "api_key");
    assert_eq!(entry["api_key_id"], write_id.as_str());

    // Last used is recorded; revoked → 401 at the next request.
    let keys = json_body(ada.get("/api-keys").await).await;
    let listed = keys.as_array().unwrap().iter().find(|k| k["id"] == write_id.as_str()).unwrap().clone();
    assert!(listed["last_used_at"].is_string(), "{listed}");
    assert!(!listed.to_string().contains(&write), "the key itself is never listed");
    assert_eq!(ada.post(&format!("/api-keys/{write_id}/revoke"), &json!({})).await.status(), StatusCode::OK);
    let after = with_key(&app, reqwest::Method::GET, "/servers", &write).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert!(json_body(after).await["message"].as_str().unwrap().contains("revoked"));
}

async fn api_keys_and_tokens_stay_on_their_own_side(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("demo", &format!("{demo}/mcp")).await;
    let (token, _) = ada.token("client", "7d", &[&server]).await;
    let (key, _) = api_key(&ada, "admin").await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {token}"))).await.status(), StatusCode::OK);
    assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {key}"))).await.status(), StatusCode::UNAUTHORIZED, "the gateway refuses API keys");
    let response = with_key(&app, reqwest::Method::GET, "/servers", &token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the API refuses MCP tokens");
    assert!(json_body(response).await["message"].as_str().unwrap().contains("API key"));
    let unknown = with_key(&app, reqwest::Method::GET, "/servers", "ghk_not-a-real-key").send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    // The OpenAPI document describes both ways in.
    let doc = json_body(app.get("/api/v1/openapi.json").await).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["scheme"], "bearer", "{schemes}");
    assert_eq!(schemes["session"]["in"], "cookie", "{schemes}");
}

/// Every `name{labels} value` line of a scrape whose name starts with `prefix`.
fn samples(scrape: &str, prefix: &str) -> Vec<String> {
    scrape.lines().filter(|l| l.starts_with(prefix)).map(str::to_string).collect()
}

fn total(scrape: &str, name: &str, label: &str) -> f64 {
    samples(scrape, name).iter().filter(|l| l.contains(label)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

async fn metrics_count_traffic_and_never_name_a_token_or_an_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("demo", &format!("{demo}/mcp")).await;
    let server_id = server["id"].as_str().unwrap().to_string();
    let (token, details) = ada.token("client", "7d", &[&server]).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let scrape = || async { app.get("/metrics").await.text().await.unwrap() };
    let before = scrape().await;
    let label = format!("server=\"{server_id}\"");
    for _ in 0..3 {
        assert_eq!(post_mcp(endpoint, Some(&format!("Bearer {token}"))).await.status(), StatusCode::OK);
    }
    assert_eq!(post_mcp(endpoint, Some("Bearer nonsense")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("ada@example.com", "wrong password!").await.status(), StatusCode::UNAUTHORIZED);
    let after = scrape().await;
    let answered = |s: &str| {
        total(s, "gatehouse_gateway_requests_total", &format!("{label},outcome=\"answered\""))
            + total(s, "gatehouse_gateway_requests_total", &format!("outcome=\"answered\",{label}"))
    };
    assert!(
        answered(&after) - answered(&before) >= 3.0,
        "answered requests counted:\n{}",
        samples(&after, "gatehouse_gateway_requests").join("\n")
    );
    assert!(total(&after, "gatehouse_gateway_refusals_total", &label) > total(&before, "gatehouse_gateway_refusals_total", &label));
    assert!(total(&after, "gatehouse_upstream_response_seconds_count", &label) >= 3.0);
    assert!(total(&after, "gatehouse_token_check_seconds_count", "") >= 4.0);
    assert!(total(&after, "gatehouse_logins_total", "failed") >= 1.0);
    for gauge in [
        "gatehouse_gateway_open_streams",
        "gatehouse_events_behind",
        "gatehouse_events_seconds_since_read",
        "gatehouse_db_pool_connections",
    ] {
        assert!(!samples(&after, gauge).is_empty(), "{gauge} is served");
    }
    for secret in [token.as_str(), "ada@example.com", details["id"].as_str().unwrap(), &ada.id] {
        assert!(!after.contains(secret), "{secret} appears in /metrics");
    }

    // Its own listener when metrics_bind is set (any client may scrape it there); the main one
    // then has none.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bind: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let own =
        spawn_app_with(backend, Options { configure: Box::new(move |c| Config { metrics_bind: Some(bind), ..c }), ..Options::default() })
            .await;
    assert_eq!(own.get("/metrics").await.status(), StatusCode::NOT_FOUND);
    let scraped =
        reqwest::Client::new().get(format!("http://{bind}/metrics")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.text().await.unwrap().contains("gatehouse_gateway_open_streams"));
}

/// The IP the audit log recorded for the last failed login.
async fn failed_login_ip(app: &TestApp) -> Option<String> {
    let row = app
        .db()
        .query_one_raw(sea_orm::Statement::from_string(
            app.db().get_database_backend(),
            "SELECT ip FROM audit_events WHERE action = 'account.login_failed' ORDER BY id DESC LIMIT 1",
        ))
        .await
        .unwrap()?;
    row.try_get::<Option<String>>("", "ip").unwrap()
}

async fn forwarded_login(app: &TestApp, header: &str, value: &str) {
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/login"))
        .header(header, value)
        .json(&json!({ "email": "ada@example.com", "password": "not the password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

async fn forwarding_headers_are_believed_only_from_trusted_proxies(backend: Backend) {
    // No setting: the headers are ignored.
    let plain = spawn_app(backend).await;
    plain.user("ada@example.com").await;
    forwarded_login(&plain, "x-forwarded-for", "203.0.113.9").await;
    assert_eq!(failed_login_ip(&plain).await.as_deref(), Some("127.0.0.1"));

    // Trusted: the client's address drives the audit log (and throttling, last used).
    let trusting = spawn_app_with(
        backend,
        Options {
            configure: Box::new(|c| Config { trusted_proxies: serde_json::from_value(json!("127.0.0.1/32, 10.0.0.0/8")).unwrap(), ..c }),
            ..Options::default()
        },
    )
    .await;
    trusting.user("ada@example.com").await;
    forwarded_login(&trusting, "x-forwarded-for", "198.51.100.1, 203.0.113.9").await;
    assert_eq!(failed_login_ip(&trusting).await.as_deref(), Some("203.0.113.9"), "the nearest untrusted hop");
    // Only the header the proxies write: a Forwarded header the proxy passed through as the
    // client sent it does not count.
    forwarded_login(&trusting, "forwarded", "for=198.51.100.77").await;
    assert_eq!(failed_login_ip(&trusting).await.as_deref(), Some("127.0.0.1"), "a client's own Forwarded is ignored");
    let rfc7239 = spawn_app_with(
        backend,
        Options {
            configure: Box::new(|c| Config {
                trusted_proxies: serde_json::from_value(json!("127.0.0.1")).unwrap(),
                trusted_proxy_header: gatehouse::client_addr::ForwardingHeader::Forwarded,
                ..c
            }),
            ..Options::default()
        },
    )
    .await;
    rfc7239.user("ada@example.com").await;
    forwarded_login(&rfc7239, "forwarded", "for=\"[2001:db8::7]:4711\";proto=https").await;
    assert_eq!(failed_login_ip(&rfc7239).await.as_deref(), Some("2001:db8::7"));
    // /metrics through a proxy on this host is not a loopback client's request.
    let proxied = reqwest::Client::new().get(trusting.url("/metrics")).header("x-forwarded-for", "127.0.0.1").send().await.unwrap();
    assert_eq!(proxied.status(), StatusCode::FORBIDDEN);

    // Trusting other peers only: this test's loopback requests are not believed.
    let elsewhere = spawn_app_with(
        backend,
        Options {
            configure: Box::new(|c| Config { trusted_proxies: serde_json::from_value(json!(["10.0.0.0/8"])).unwrap(), ..c }),
            ..Options::default()
        },
    )
    .await;
    elsewhere.user("ada@example.com").await;
    forwarded_login(&elsewhere, "x-forwarded-for", "203.0.113.9").await;
    assert_eq!(failed_login_ip(&elsewhere).await.as_deref(), Some("127.0.0.1"));
}

async fn register(app: &TestApp, email: &str, invite: Option<&str>) -> reqwest::Response {
    let mut body = json!({ "email": email, "password": "correct horse battery" });
    if let Some(code) = invite {
        body["invite"] = json!(code);
    }
    app.post_json("/api/v1/auth/register", &body).await
}

fn invite_code(url: &str) -> String {
    url.split("invite=").nth(1).unwrap().to_string()
}

async fn sign_up_by_invitation_and_closed(backend: Backend) {
    use app::accounts::domain::SignupPolicy;
    let app =
        spawn_app_with(backend, Options { configure: Box::new(|c| Config { signup: SignupPolicy::Invite, ..c }), ..Options::default() })
            .await;
    // The very first account can always be made.
    let ada = app.user("ada@example.com").await;
    let refused = register(&app, "bob@example.com", None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(json_body(refused).await["message"].as_str().unwrap().contains("invitation"));
    // Without an invite, a taken email gets the same answer as a free one.
    let taken = register(&app, "ada@example.com", None).await;
    assert_eq!(taken.status(), StatusCode::FORBIDDEN, "nothing says ada has an account");

    let made = ada.post("/admin/invites", &json!({ "expires": "1d" })).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let invite = json_body(made).await;
    assert!(invite["url"].as_str().unwrap().starts_with(&format!("{}/signup?invite=", app.address)));
    let code = invite_code(invite["url"].as_str().unwrap());
    assert_eq!(register(&app, "bob@example.com", Some("not-a-code")).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(register(&app, "bob@example.com", Some(&code)).await.status(), StatusCode::CREATED);
    let reused = register(&app, "carol@example.com", Some(&code)).await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY, "one use");
    assert!(json_body(reused).await["fields"]["invite"].is_string());

    // An expired invite.
    let second = json_body(ada.post("/admin/invites", &json!({})).await).await;
    let code = invite_code(second["url"].as_str().unwrap());
    {
        use app::accounts::ssr::invites::entity as invites;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let id: uuid::Uuid = second["id"].as_str().unwrap().parse().unwrap();
        invites::Entity::update_many()
            .col_expr(invites::Column::ExpiresAt, Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)))
            .filter(invites::Column::Id.eq(id))
            .exec(app.db())
            .await
            .unwrap();
    }
    assert_eq!(register(&app, "carol@example.com", Some(&code)).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A user may not make invites.
    let bob = crate::helpers::client();
    bob.post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "bob@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bob.post(app.url("/api/v1/admin/invites")).json(&json!({})).send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // Closed: nobody but the first account (and the operator's CLI).
    let closed =
        spawn_app_with(backend, Options { configure: Box::new(|c| Config { signup: SignupPolicy::Closed, ..c }), ..Options::default() })
            .await;
    let admin = closed.user("ada@example.com").await;
    let code = invite_code(json_body(admin.post("/admin/invites", &json!({})).await).await["url"].as_str().unwrap());
    assert_eq!(register(&closed, "bob@example.com", None).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(register(&closed, "bob@example.com", Some(&code)).await.status(), StatusCode::FORBIDDEN);
}

async fn retention_deletes_old_rows_and_the_view_skips_dead_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("demo", &format!("{demo}/mcp")).await;
    let (_, live) = ada.token("live", "7d", &[&server]).await;
    let (old_token, dead) = ada.token("dead", "7d", &[&server]).await;
    let (_, recent) = ada.token("recently revoked", "7d", &[&server]).await;
    for token in [&dead, &recent] {
        assert_eq!(ada.post(&format!("/tokens/{}/revoke", token["id"].as_str().unwrap()), &json!({})).await.status(), StatusCode::OK);
    }
    // Through the entities, so each engine stores the times (and ids) in its own format.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let long_ago = chrono::Utc::now() - chrono::Duration::days(800);
    let db = app.db();
    use app::tokens::ssr::entity as tokens;
    let dead_id: uuid::Uuid = dead["id"].as_str().unwrap().parse().unwrap();
    tokens::Entity::update_many()
        .col_expr(tokens::Column::RevokedAt, Expr::value(long_ago))
        .filter(tokens::Column::Id.eq(dead_id))
        .exec(db)
        .await
        .unwrap();
    use app::audit::ssr::entity as audit;
    audit::Entity::update_many()
        .col_expr(audit::Column::CreatedAt, Expr::value(long_ago))
        .filter(audit::Column::Action.eq("account.signed_up"))
        .exec(db)
        .await
        .unwrap();
    use app::events::entity as events;
    let first = events::Entity::find().all(db).await.unwrap().into_iter().map(|e| e.seq).min().unwrap();
    events::Entity::update_many()
        .col_expr(events::Column::CreatedAt, Expr::value(long_ago))
        .filter(events::Column::Seq.eq(first))
        .exec(db)
        .await
        .unwrap();
    let audit_before = count(&app, "audit_events").await;
    let events_before = count(&app, "events").await;

    let retention = gatehouse::retention::Retention::from_config(&Config::default());
    let removed = retention.apply(&app.state).await.unwrap();
    assert_eq!(removed.tokens, 1, "only the token dead for longer than 90 days");
    assert_eq!((removed.audit, removed.events), (1, 1));
    assert_eq!(count(&app, "audit_events").await, audit_before - 1);
    assert_eq!(count(&app, "events").await, events_before - 1 + 1, "the purge wrote its own event");
    let listed = json_body(ada.get("/tokens").await).await;
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&live["id"].as_str().unwrap()) && ids.contains(&recent["id"].as_str().unwrap()));
    assert!(!ids.contains(&dead["id"].as_str().unwrap()));
    // Nothing that can never be accepted again is loaded at start; such a token is refused as
    // one the gateway does not know.
    let view = gatehouse::gateway::view::AccessIndex::empty();
    view.load(&app.state).await.unwrap();
    {
        let held = view.read();
        assert!(held.tokens.contains_key(&live["id"].as_str().unwrap().parse().unwrap()));
        assert!(!held.tokens.contains_key(&recent["id"].as_str().unwrap().parse().unwrap()), "revoked tokens are not loaded");
    }
    let response = post_mcp(server["mcp_endpoint"].as_str().unwrap(), Some(&format!("Bearer {old_token}"))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(json_body(response).await["message"].as_str().unwrap().contains("does not know the token"), "refused as unknown");
    // 0 keeps for ever.
    let forever = gatehouse::retention::Retention { dead_tokens_days: 0, events_days: 0, usage_days: 0, audit_days: 0 };
    assert_eq!(forever.apply(&app.state).await.unwrap(), gatehouse::retention::Removed::default());
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let row = app
        .db()
        .query_one_raw(sea_orm::Statement::from_string(app.db().get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table}")))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn a_wrong_master_key_stops_the_start(backend: Backend) {
    use base64::Engine;
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("demo", &format!("{demo}/mcp")).await;
    ada.token("client", "7d", &[&server]).await; // makes the signing key
    let wrong = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let config = Config { bind: "127.0.0.1:0".parse().unwrap(), master_key: Some(wrong.into()), ..app.config.clone() };
    let err = Application::build(config).await.err().expect("a wrong master key must stop the start");
    let message = format!("{err:#}");
    assert!(message.contains("cannot be decrypted with the configured master key"), "{message}");
    assert!(message.contains("GATEHOUSE_MASTER_KEY"), "says what to do: {message}");
}

on_both_backends!(https_on_its_own_with_certificates_read_again_when_they_change);

/// A self-signed certificate for 127.0.0.1, as (certificate PEM, key PEM).
fn certificate() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    (made.cert.pem(), made.key_pair.serialize_pem())
}

fn trusting(cert_pem: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn https_on_its_own_with_certificates_read_again_when_they_change(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (first_cert, first_key) = certificate();
    std::fs::write(&cert_path, &first_cert).unwrap();
    std::fs::write(&key_path, &first_key).unwrap();
    let (c, k) = (cert_path.clone(), key_path.clone());
    let app = spawn_app_with(
        backend,
        Options { configure: Box::new(move |config| Config { tls_cert: Some(c), tls_key: Some(k), ..config }), ..Options::default() },
    )
    .await;
    let https = app.address.replace("http://", "https://");

    let response = trusting(&first_cert).get(format!("{https}/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000", "the public URL is https");
    assert!(reqwest::get(app.url("/healthz")).await.is_err(), "plain HTTP is not served on a TLS listener");

    // A renewed certificate is served without a restart; until then the old one is.
    let (second_cert, second_key) = certificate();
    assert!(trusting(&second_cert).get(format!("{https}/healthz")).send().await.is_err(), "not yet the new certificate");
    std::fs::write(&key_path, &second_key).unwrap();
    std::fs::write(&cert_path, &second_cert).unwrap();
    let started = std::time::Instant::now();
    loop {
        if trusting(&second_cert).get(format!("{https}/healthz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "the renewed certificate was not picked up");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // A broken renewal keeps the last good certificate.
    std::fs::write(&cert_path, "not a certificate").unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(trusting(&second_cert).get(format!("{https}/healthz")).send().await.unwrap().status(), StatusCode::OK);

    // A start with a bad certificate fails at once, saying which file.
    let config = Config { bind: "127.0.0.1:0".parse().unwrap(), ..app.config.clone() };
    let err = Application::build(config).await.err().expect("an unreadable certificate stops the start");
    assert!(format!("{err:#}").contains("cert.pem"), "{err:#}");
    let config = Config { bind: "127.0.0.1:0".parse().unwrap(), tls_key: None, ..app.config.clone() };
    let err = Application::build(config).await.err().expect("a certificate without a key stops the start");
    assert!(format!("{err:#}").contains("must be set together"), "{err:#}");
}

on_both_backends!(tokens_made_before_fingerprints_learn_theirs_on_first_use);

async fn tokens_made_before_fingerprints_learn_theirs_on_first_use(backend: Backend) {
    use app::tokens::ssr::entity as tokens;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("demo", &format!("{demo}/mcp")).await;
    let (token, details) = ada.token("old client", "7d", &[&server]).await;
    let id: uuid::Uuid = details["id"].as_str().unwrap().parse().unwrap();
    let fingerprint = app::secrets::sha256_hex(&token);
    assert_eq!(details["fingerprint"], fingerprint[..12], "new tokens have one at once");
    // As a token made before migration 6 is: no fingerprint.
    tokens::Entity::update_many()
        .col_expr(tokens::Column::Fingerprint, Expr::value(Option::<String>::None))
        .filter(tokens::Column::Id.eq(id))
        .exec(app.db())
        .await
        .unwrap();
    // A process that starts now holds it without one; its first use records it.
    let second = crate::helpers::spawn_second_process_with(&app, |c| Config { usage_flush_ms: 50, ..c }).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap().replace(&app.address, &second.address);
    assert_eq!(post_mcp(&endpoint, Some(&format!("Bearer {token}"))).await.status(), StatusCode::OK);
    let started = std::time::Instant::now();
    loop {
        let stored = tokens::Entity::find_by_id(id).one(app.db()).await.unwrap().unwrap().fingerprint;
        if stored.as_deref() == Some(fingerprint.as_str()) {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the fingerprint was not learned: {stored:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

on_both_backends!(racing_sign_ups_on_an_empty_invite_only_installation_let_in_one);

/// The first account may always sign up; eight racing at once on an empty installation with
/// `signup = invite` must not all count as the first.
async fn racing_sign_ups_on_an_empty_invite_only_installation_let_in_one(backend: Backend) {
    use app::accounts::domain::SignupPolicy;
    let app =
        spawn_app_with(backend, Options { configure: Box::new(|c| Config { signup: SignupPolicy::Invite, ..c }), ..Options::default() })
            .await;
    let attempts = (0..8).map(|i| {
        let app = &app;
        async move { register(app, &format!("racer{i}@example.com"), None).await.status() }
    });
    let statuses = futures::future::join_all(attempts).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN), "{statuses:?}");
    assert_eq!(count(&app, "accounts").await, 1);
}
