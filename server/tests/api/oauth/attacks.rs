//! Each attack the OAuth threat model in SECURITY.md names, refused with the right OAuth error
//! (or, where the answer cannot safely go back to the client, a page here), and nothing issued.
use reqwest::{StatusCode, header};
use serde_json::json;

use super::*;
use crate::helpers::{Backend, json_body, spawn_app, spawn_demo_mcp};
use crate::on_both_backends;

on_both_backends!(
    unregistered_redirect_uris_get_a_page_not_a_redirect,
    pkce_is_required_s256_only_and_checked,
    codes_are_single_use_and_bound_to_their_client_and_redirect,
    resource_must_be_the_signed_in_owners_oauth_endpoint,
    consent_needs_its_csrf_token_this_site_and_refuses_framing,
    the_answer_carries_the_original_state_and_the_issuer,
);

async fn unregistered_redirect_uris_get_a_page_not_a_redirect(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let registration = register(&app, "Web app", &["https://app.example/callback", REDIRECT]).await;
    let client_id = registration["client_id"].as_str().unwrap();
    let pkce = pkce();
    for wrong in [
        "https://app.example/other",
        "https://app.example/callback?extra=1",
        "https://app.example:8443/callback",
        "https://evil.example/callback",
        "http://127.0.0.1:4000/other",
        "http://localhost:4000/callback",
    ] {
        let request = Request { client_id, redirect_uri: wrong, pkce: &pkce, state: "s", resource: endpoint };
        let response = authorize(&ada, &request.query()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{wrong}");
        assert!(response.headers().get(header::LOCATION).is_none(), "never redirected to {wrong}");
        assert!(response.text().await.unwrap().contains("is not one of the redirect URIs"), "{wrong}");
    }
    // Registration refuses what could never be safe.
    for bad in ["http://app.example/callback", "javascript:alert(1)", "https://app.example/cb#x"] {
        let response =
            reqwest::Client::new().post(app.url("/oauth/register")).json(&json!({ "redirect_uris": [bad] })).send().await.unwrap();
        assert_eq!(oauth_error(response).await, (StatusCode::BAD_REQUEST, "invalid_redirect_uri".into()), "{bad}");
    }
    // An unknown client gets a page too.
    let request = Request { client_id: "ghc_unknown", redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: endpoint };
    assert_eq!(authorize(&ada, &request.query()).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(token_count(&app).await, 0);
}

async fn pkce_is_required_s256_only_and_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let registration = register(&app, "App", &[REDIRECT]).await;
    let client_id = registration["client_id"].as_str().unwrap();
    let pkce = pkce();
    let good = Request { client_id, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: endpoint }.query();
    let without = |name: &str| good.split('&').filter(|p| !p.starts_with(&format!("{name}="))).collect::<Vec<_>>().join("&");
    for (query, what) in [
        (without("code_challenge"), "no code_challenge"),
        (without("code_challenge_method"), "no method (plain by default)"),
        (good.replace("code_challenge_method=S256", "code_challenge_method=plain"), "plain"),
    ] {
        let response = authorize(&ada, &query).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{what}");
        let back = url::Url::parse(&location(&response)).unwrap();
        assert!(back.as_str().starts_with(REDIRECT), "{what}: {back}");
        assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"), "{what}");
        assert_eq!(param(&back, "state").as_deref(), Some("s"));
    }
    // A wrong verifier, or none, at the token endpoint.
    let request = Request { client_id, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: endpoint };
    let code = param(&sign_in(&ada, &request, &[]).await, "code").unwrap();
    let attempt = |verifier: Option<String>| {
        let (app, code) = (&app, code.clone());
        async move {
            let mut form =
                vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("client_id", client_id)];
            if let Some(v) = verifier.as_deref() {
                form.push(("code_verifier", v));
            }
            oauth_error(token(app, &form).await).await
        }
    };
    assert_eq!(attempt(None).await, (StatusCode::BAD_REQUEST, "invalid_request".into()));
    assert_eq!(attempt(Some(super::pkce().verifier)).await, (StatusCode::BAD_REQUEST, "invalid_grant".into()));
    assert_eq!(attempt(Some(pkce.challenge.clone())).await.1, "invalid_grant", "the challenge itself is not the verifier");
    assert_eq!(token_count(&app).await, 0, "nothing issued");
}

async fn codes_are_single_use_and_bound_to_their_client_and_redirect(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let endpoint = server["mcp_endpoint"].as_str().unwrap();
    let honest = register(&app, "Honest", &[REDIRECT, "http://127.0.0.1/other"]).await;
    let thief = register(&app, "Thief", &[REDIRECT]).await;
    let (honest_id, thief_id) = (honest["client_id"].as_str().unwrap(), thief["client_id"].as_str().unwrap());
    let pkce = pkce();
    let request = Request { client_id: honest_id, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: endpoint };
    let code = param(&sign_in(&ada, &request, &[]).await, "code").unwrap();
    let exchange_as = |client: &str, redirect: &str| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("client_id", client),
            ("code_verifier", pkce.verifier.as_str()),
        ]
        .map(|(n, v)| (n, v.to_string()));
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
            token(app, &form).await
        }
    };
    assert_eq!(oauth_error(exchange_as(thief_id, REDIRECT).await).await.1, "invalid_grant", "another client's code");
    assert_eq!(oauth_error(exchange_as(honest_id, "http://127.0.0.1/other").await).await.1, "invalid_grant", "another redirect URI");
    assert_eq!(token_count(&app).await, 0);

    let first = exchange_as(honest_id, REDIRECT).await;
    assert_eq!(first.status(), StatusCode::OK, "the failed attempts did not spend the code");
    let issued = json_body(first).await;
    let access = issued["access_token"].as_str().unwrap();
    assert_eq!(crate::gateway::post_mcp(endpoint, Some(&format!("Bearer {access}"))).await.status(), StatusCode::OK);
    // Replayed: refused, and what the first use issued is revoked.
    assert_eq!(oauth_error(exchange_as(honest_id, REDIRECT).await).await, (StatusCode::BAD_REQUEST, "invalid_grant".into()));
    assert_eq!(crate::gateway::post_mcp(endpoint, Some(&format!("Bearer {access}"))).await.status(), StatusCode::UNAUTHORIZED);
    let refresh = token(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", issued["refresh_token"].as_str().unwrap()), ("client_id", honest_id)],
    )
    .await;
    assert_eq!(oauth_error(refresh).await.1, "invalid_grant");
    assert_eq!(token_count(&app).await, 1, "one grant, revoked");
    // A code from nowhere.
    let nowhere = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", "ghac_made_up"),
            ("redirect_uri", REDIRECT),
            ("client_id", honest_id),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(oauth_error(nowhere).await.1, "invalid_grant");
    let unknown_client = token(&app, &[("grant_type", "authorization_code"), ("code", "x"), ("client_id", "ghc_nobody")]).await;
    assert_eq!(oauth_error(unknown_client).await, (StatusCode::UNAUTHORIZED, "invalid_client".into()));
    let grant_type = token(&app, &[("grant_type", "password"), ("client_id", honest_id)]).await;
    assert_eq!(oauth_error(grant_type).await.1, "unsupported_grant_type");
}

async fn resource_must_be_the_signed_in_owners_oauth_endpoint(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let eve = app.user("eve@example.com").await;
    let adas = ada.server("ada's", &format!("{demo}/mcp")).await;
    let eves = eve.server("eve's", &format!("{demo}/mcp")).await;
    let registration = register(&app, "App", &[REDIRECT]).await;
    let client_id = registration["client_id"].as_str().unwrap();
    let pkce = pkce();

    // Eve, signed in, is sent a link for Ada's server: she cannot grant it.
    let request = Request { client_id, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: adas["mcp_endpoint"].as_str().unwrap() };
    let started = authorize(&eve, &request.query()).await;
    let consent =
        eve.client.get(format!("{}{}", app.address, location(&started))).header(header::ACCEPT, "text/html").send().await.unwrap();
    let html = consent.text().await.unwrap();
    assert!(html.contains("you may not grant"), "the page says why");
    assert!(input_value(&html, "csrf").is_none(), "no form to post");
    // Posting anyway, with her own CSRF token from a request of her own, is refused.
    let own = Request { client_id, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: eves["mcp_endpoint"].as_str().unwrap() };
    let (_, csrf, _) = consent_page(&eve, &location(&authorize(&eve, &own.query()).await)).await;
    let foreign = location(&started).trim_start_matches("/oauth/consent?request=").to_string();
    let refused =
        answer(&eve, &[("request", &foreign), ("csrf", &csrf), ("decision", "allow"), ("server", adas["id"].as_str().unwrap())]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Nor may she slip Ada's server into a grant for her own.
    let (mine, csrf, _) = consent_page(&eve, &location(&authorize(&eve, &own.query()).await)).await;
    let smuggled =
        answer(&eve, &[("request", &mine), ("csrf", &csrf), ("decision", "allow"), ("server", adas["id"].as_str().unwrap())]).await;
    assert_eq!(smuggled.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Not one of Gatehouse's endpoints, or one without OAuth: invalid_target, back to the client.
    for resource in ["https://elsewhere.example/mcp".to_string(), format!("{}/s/{}/mcp", app.address, uuid::Uuid::now_v7())] {
        let request = Request { client_id, redirect_uri: REDIRECT, pkce: &pkce, state: "s", resource: &resource };
        let back = url::Url::parse(&location(&authorize(&eve, &request.query()).await)).unwrap();
        assert_eq!(param(&back, "error").as_deref(), Some("invalid_target"), "{resource}");
    }
    assert_eq!(token_count(&app).await, 0);
}

async fn consent_needs_its_csrf_token_this_site_and_refuses_framing(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let registration = register(&app, "App", &[REDIRECT]).await;
    let pkce = pkce();
    let request = Request {
        client_id: registration["client_id"].as_str().unwrap(),
        redirect_uri: REDIRECT,
        pkce: &pkce,
        state: "s",
        resource: server["mcp_endpoint"].as_str().unwrap(),
    };
    let to = location(&authorize(&ada, &request.query()).await);
    let page = ada.client.get(format!("{}{to}", app.address)).header(header::ACCEPT, "text/html").send().await.unwrap();
    assert_eq!(page.headers()[header::X_FRAME_OPTIONS], "DENY");
    assert!(page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
    let (id, csrf, _) = consent_page(&ada, &to).await;
    let server_id = server["id"].as_str().unwrap();

    let without = answer(&ada, &[("request", &id), ("decision", "allow"), ("server", server_id)]).await;
    assert_eq!(without.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let wrong = answer(&ada, &[("request", &id), ("csrf", "guessed"), ("decision", "allow"), ("server", server_id)]).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "a wrong CSRF token");
    // Another user's session has another token.
    let eve = app.user("eve@example.com").await;
    let other = answer(&eve, &[("request", &id), ("csrf", &csrf), ("decision", "allow"), ("server", server_id)]).await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    // Cross-site, even with the right token (a page elsewhere posting in Ada's browser).
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("request", id.as_str()), ("csrf", csrf.as_str()), ("decision", "allow"), ("server", server_id)])
        .finish();
    let cross = ada
        .client
        .post(app.url("/oauth/authorize"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN, "cross-site");
    assert_eq!(token_count(&app).await, 0);
    // Unrefused, the same form goes through, once.
    let fields = [("request", id.as_str()), ("csrf", csrf.as_str()), ("decision", "allow"), ("server", server_id)];
    assert!(param(&returned_to(answer(&ada, &fields).await).await, "code").is_some());
    assert_eq!(answer(&ada, &fields).await.status(), StatusCode::NOT_FOUND, "a request is answered once");
}

async fn the_answer_carries_the_original_state_and_the_issuer(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let server = ada.server("docs", &format!("{demo}/mcp")).await;
    let registration = register(&app, "App", &[REDIRECT]).await;
    let pkce = pkce();
    let state = "xyz 123/+=";
    let request = Request {
        client_id: registration["client_id"].as_str().unwrap(),
        redirect_uri: REDIRECT,
        pkce: &pkce,
        state,
        resource: server["mcp_endpoint"].as_str().unwrap(),
    };
    let (id, csrf, _) = consent_page(&ada, &location(&authorize(&ada, &request.query()).await)).await;
    // Fields added to the form (a tampered state, another redirect) change nothing: the request
    // the client made is kept on the server, and only its id is in the form.
    let back = returned_to(
        answer(
            &ada,
            &[
                ("request", &id),
                ("csrf", &csrf),
                ("decision", "allow"),
                ("server", server["id"].as_str().unwrap()),
                ("state", "tampered"),
                ("redirect_uri", "https://evil.example/cb"),
            ],
        )
        .await,
    )
    .await;
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some(state), "exactly the state the client sent");
    // Mix-up defence (RFC 9207): the client compares iss with the issuer it started with.
    assert_eq!(param(&back, "iss").as_deref(), Some(app.address.as_str()));
    // Denied: access_denied, with state and iss too.
    let (id, csrf, _) = consent_page(&ada, &location(&authorize(&ada, &request.query()).await)).await;
    let denied = returned_to(answer(&ada, &[("request", &id), ("csrf", &csrf), ("decision", "deny")]).await).await;
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&denied, "state").as_deref(), Some(state));
    assert_eq!(param(&denied, "iss").as_deref(), Some(app.address.as_str()));
    assert_eq!(token_count(&app).await, 0);
}

on_both_backends!(oversized_repeated_or_nul_parameters_are_refused_cheaply);

/// Parameter lists are bounded and read in linear time; values that no column could store
/// (a NUL, more than 2048 bytes) are refused as bad requests, never a server error.
async fn oversized_repeated_or_nul_parameters_are_refused_cheaply(backend: Backend) {
    let app = spawn_app(backend).await;
    let registration = register(&app, "App", &[REDIRECT]).await;
    let client_id = registration["client_id"].as_str().unwrap();
    let many: Vec<(String, String)> = (0..5000).map(|i| (format!("p{i}"), "x".to_string())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let started = std::time::Instant::now();
    assert_eq!(oauth_error(token(&app, &many).await).await.1, "invalid_request");
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    let long = "a".repeat(3000);
    for form in [
        vec![("grant_type", "refresh_token"), ("client_id", client_id), ("refresh_token", "a\0b")],
        vec![("grant_type", "refresh_token"), ("client_id", client_id), ("refresh_token", long.as_str())],
        vec![("grant_type", "refresh_token"), ("grant_type", "refresh_token"), ("client_id", client_id)],
    ] {
        assert_eq!(oauth_error(token(&app, &form).await).await, (StatusCode::BAD_REQUEST, "invalid_request".into()));
    }
    let big = json!({ "redirect_uris": [format!("https://app.example/{}", "a".repeat(3000))] });
    let response = reqwest::Client::new().post(app.url("/oauth/register")).json(&big).send().await.unwrap();
    assert_eq!(oauth_error(response).await.1, "invalid_redirect_uri");
    let nul = json!({ "redirect_uris": [REDIRECT], "client_name": "a\u{0}b" });
    let response = reqwest::Client::new().post(app.url("/oauth/register")).json(&nul).send().await.unwrap();
    assert_eq!(oauth_error(response).await.1, "invalid_client_metadata");
    let huge = reqwest::Client::new().post(app.url("/oauth/register")).body(vec![b' '; 200 * 1024]).send().await.unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
