//! The token endpoint (RFC 6749 §3.2: the authorization code and refresh token grants) and the
//! revocation endpoint (RFC 7009). Bodies are form-encoded; clients authenticate with HTTP Basic,
//! with `client_secret` in the body, or (public clients) with `client_id` alone.
use std::net::SocketAddr;

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;

use app::oauth::{
    OAuthError, OAuthErrorCode,
    ssr::{
        clients::{self, ClientModel},
        grants,
    },
};

use super::{OAuth, OAuthReply, Params, no_store};

/// A form body, each parameter at most once.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::request("Send the parameters form-encoded (Content-Type: application/x-www-form-urlencoded)."));
    }
    Params::parse(body, &[]).map_err(OAuthError::request)
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name)
}

/// The client making the request, authenticated as it registered.
async fn authenticated_client(oauth: &OAuth, headers: &HeaderMap, params: &Params) -> Result<ClientModel, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(value) if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value[6..].trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::client("The Basic credentials are not valid base64."))?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| OAuthError::client("The Basic credentials need client_id:secret."))?;
            // RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
            let unform =
                |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default();
            Some((unform(id), unform(secret)))
        }
        _ => None,
    };
    let body_id = param(params, "client_id");
    let (client_id, secret) = match (&basic, body_id) {
        (Some((id, _)), Some(body)) if id != body => {
            return Err(OAuthError::request("client_id in the body differs from the Basic credentials."));
        }
        (Some((id, secret)), _) => (id.clone(), Some(secret.clone())),
        (None, Some(id)) => (id.to_string(), param(params, "client_secret").map(str::to_string)),
        (None, None) => return Err(OAuthError::client("client_id is missing (in the body, or as HTTP Basic credentials).")),
    };
    let client = clients::find(&oauth.app, &client_id)
        .await?
        .ok_or_else(|| OAuthError::client("This client is not known here (or its registration expired). Register again."))?;
    clients::authenticate(&client, secret.as_deref())?;
    Ok(client)
}

/// `POST /oauth/token`.
pub async fn token(State(oauth): State<OAuth>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, body: Bytes) -> Response {
    match issue(&oauth, peer, &headers, &body).await {
        Ok(issued) => {
            let mut response = Json(issued).into_response();
            no_store(&mut response);
            response
        }
        Err(e) => OAuthReply(e).into_response(),
    }
}

async fn issue(oauth: &OAuth, peer: SocketAddr, headers: &HeaderMap, body: &[u8]) -> Result<grants::IssuedTokens, OAuthError> {
    let params = form(headers, body)?;
    let grant_type = param(&params, "grant_type").ok_or_else(|| OAuthError::request("grant_type is missing."))?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type {grant_type} is not supported; use authorization_code or refresh_token."),
        ));
    }
    let client = authenticated_client(oauth, headers, &params).await?;
    let settings = &oauth.app.settings;
    let resource =
        match param(&params, "resource") {
            Some(raw) => Some(super::resource_server(&settings.public_url, raw).map(|(_, canonical)| canonical).ok_or_else(|| {
                OAuthError::new(OAuthErrorCode::InvalidTarget, "resource must be one of this Gatehouse's MCP endpoints.")
            })?),
            None => None,
        };
    let ip = super::client_ip(peer);
    if grant_type == "authorization_code" {
        let (code, redirect_uri, verifier) = (param(&params, "code"), param(&params, "redirect_uri"), param(&params, "code_verifier"));
        grants::exchange_code(&oauth.app, &client, code, redirect_uri, verifier, resource.as_deref(), ip).await
    } else {
        grants::refresh(&oauth.app, &client, param(&params, "refresh_token"), resource.as_deref(), ip).await
    }
}

/// `POST /oauth/revoke`: 200 whether or not the token was known (RFC 7009 §2.2).
pub async fn revoke(State(oauth): State<OAuth>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params = form(&headers, &body)?;
        let token = param(&params, "token").ok_or_else(|| OAuthError::request("token is missing."))?;
        let client = authenticated_client(&oauth, &headers, &params).await?;
        grants::revoke(&oauth.app, &client, token, super::client_ip(peer)).await
    }
    .await;
    match result {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(e) => OAuthReply(e).into_response(),
    }
}
