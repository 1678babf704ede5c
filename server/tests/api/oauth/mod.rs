//! Gatehouse as the OAuth authorization server, through its HTTP endpoints as clients use
//! them: discovery from the 401, registration or a metadata document, PKCE, consent (the
//! form a browser posts), tokens, refresh, revocation. The grants must then work — and end —
//! like any token. The real SDK clients are in end2end/ (Python, TypeScript, mcp-remote).
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{TestApp, User, json_body};

mod attacks;
mod clients;
mod flow;

/// A PKCE pair (RFC 7636): a random verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

pub const REDIRECT: &str = "http://127.0.0.1/callback";

/// Registers a public client with `redirect_uris`; returns the registration.
pub async fn register(app: &TestApp, name: &str, redirect_uris: &[&str]) -> Value {
    let body = json!({ "client_name": name, "redirect_uris": redirect_uris, "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"] });
    let response = reqwest::Client::new().post(app.url("/oauth/register")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    json_body(response).await
}

/// An authorization request's query.
pub struct Request<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub pkce: &'a Pkce,
    pub state: &'a str,
    pub resource: &'a str,
}

impl Request<'_> {
    pub fn query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", self.client_id)
            .append_pair("redirect_uri", self.redirect_uri)
            .append_pair("code_challenge", &self.pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", self.state)
            .append_pair("scope", "mcp")
            .append_pair("resource", self.resource)
            .finish()
    }
}

/// `GET /oauth/authorize?query` in `user`'s browser (cookies, no redirects followed).
pub async fn authorize(user: &User, query: &str) -> reqwest::Response {
    user.client.get(format!("{}/oauth/authorize?{query}", user.base)).send().await.unwrap()
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .unwrap_or_else(|| panic!("a redirect, got {}", response.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// The value of the form input named `name` in `html`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let value = tag.split("value=\"").nth(1)?.split('"').next()?;
    Some(value.replace("&amp;", "&"))
}

/// The consent page the authorization request led to: (its request id, its CSRF token, the HTML).
pub async fn consent_page(user: &User, redirected_to: &str) -> (String, String, String) {
    assert!(redirected_to.starts_with("/oauth/consent?request="), "{redirected_to}");
    let response = user.client.get(format!("{}{redirected_to}", user.base)).header(header::ACCEPT, "text/html").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the consent page");
    let html = response.text().await.unwrap();
    let request = input_value(&html, "request").unwrap_or_else(|| panic!("no request field in {html}"));
    let csrf = input_value(&html, "csrf").expect("a CSRF token");
    (request, csrf, html)
}

/// Posts the consent form as a browser would.
pub async fn answer(user: &User, fields: &[(&str, &str)]) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    user.client
        .post(format!("{}/oauth/authorize", user.base))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Where the answer page sends the browser back to.
pub async fn returned_to(response: reqwest::Response) -> url::Url {
    assert_eq!(response.status(), StatusCode::OK, "the answer page");
    let html = response.text().await.unwrap();
    let href = html.split("id=\"continue\" href=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or_else(|| panic!("{html}"));
    url::Url::parse(&href.replace("&amp;", "&")).unwrap()
}

pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned())
}

/// The whole browser part: authorize, consent to `servers` (the requested one if empty), and
/// the redirect back. Returns the URL the client receives.
pub async fn sign_in(user: &User, request: &Request<'_>, servers: &[&str]) -> url::Url {
    let started = authorize(user, &request.query()).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER, "{}", started.text().await.unwrap_or_default());
    let (id, csrf, html) = consent_page(user, &location(&started)).await;
    let requested = input_value(&html, "server").expect("a server checkbox");
    let mut fields = vec![("request", id.as_str()), ("csrf", csrf.as_str()), ("decision", "allow"), ("lifetime", "90d")];
    if servers.is_empty() {
        fields.push(("server", requested.as_str()));
    }
    for server in servers {
        fields.push(("server", server));
    }
    returned_to(answer(user, &fields).await).await
}

/// `POST /oauth/token` with a form.
pub async fn token(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Exchanges `code` as a public client; returns the token response's JSON, asserting 200.
pub async fn exchange(app: &TestApp, client_id: &str, code: &str, pkce: &Pkce, redirect_uri: &str) -> Value {
    let response = token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    json_body(response).await
}

/// The OAuth error of a refused token request: (status, error code).
pub async fn oauth_error(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body = json_body(response).await;
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "a description a person can act on: {body}");
    (status, body["error"].as_str().unwrap_or_default().to_string())
}

/// How many tokens exist at all (attacks must issue none).
pub async fn token_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    app::tokens::ssr::entity::Entity::find().count(app.db()).await.unwrap()
}

/// A JWT's claims, unverified.
pub fn claims(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}
