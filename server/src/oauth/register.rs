//! Dynamic client registration (RFC 7591) and its management through the registration access
//! token (RFC 7592), rate limited per address and off when the operator says so.
use std::net::SocketAddr;

use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use app::oauth::{
    OAuthError, OAuthErrorCode,
    ssr::clients::{self, ClientMetadata},
};

use super::{OAuth, OAuthReply, no_store};

/// The largest registration body read: metadata is a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

fn metadata(body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    if body.len() > MAX_BODY {
        return Err(OAuthError::new(OAuthErrorCode::InvalidClientMetadata, format!("The metadata is larger than {MAX_BODY} bytes.")));
    }
    serde_json::from_slice(body)
        .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidClientMetadata, format!("The body is not JSON client metadata: {e}.")))
}

fn registration_token(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(app::tokens::bearer_token)
}

fn answered(status: StatusCode, body: impl serde::Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    no_store(&mut response);
    response
}

/// `POST /oauth/register`.
pub async fn register(State(oauth): State<OAuth>, ConnectInfo(peer): ConnectInfo<SocketAddr>, body: Bytes) -> Response {
    if let Err(wait) = oauth.registrations.check(crate::gateway::streams::Holder::Address(peer.ip())) {
        let error =
            OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, "Too many registrations from this address; wait and try again.");
        let mut response = answered(StatusCode::TOO_MANY_REQUESTS, error);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return response;
    }
    let result = async { clients::register(&oauth.app, metadata(&body)?, super::client_ip(peer)).await }.await;
    match result {
        Ok(registration) => answered(StatusCode::CREATED, registration),
        Err(e) if e.code == OAuthErrorCode::AccessDenied => answered(StatusCode::FORBIDDEN, e),
        Err(e) => OAuthReply(e).into_response(),
    }
}

/// `GET /oauth/register/{client_id}` (RFC 7592 §2.1).
pub async fn read(State(oauth): State<OAuth>, Path(client_id): Path<String>, headers: HeaderMap) -> Response {
    match clients::read(&oauth.app, &client_id, registration_token(&headers)).await {
        Ok(registration) => answered(StatusCode::OK, registration),
        Err(e) => OAuthReply(e).into_response(),
    }
}

/// `PUT /oauth/register/{client_id}` (RFC 7592 §2.2).
pub async fn update(State(oauth): State<OAuth>, Path(client_id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async { clients::update(&oauth.app, &client_id, registration_token(&headers), metadata(&body)?).await }.await;
    match result {
        Ok(registration) => answered(StatusCode::OK, registration),
        Err(e) => OAuthReply(e).into_response(),
    }
}

/// `DELETE /oauth/register/{client_id}` (RFC 7592 §2.3): the client and its grants end.
pub async fn delete(State(oauth): State<OAuth>, Path(client_id): Path<String>, headers: HeaderMap) -> Response {
    match clients::delete_registered(&oauth.app, &client_id, registration_token(&headers)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => OAuthReply(e).into_response(),
    }
}
