//! The authorization endpoint (RFC 6749 §4.1.1 with PKCE, RFC 8707 `resource`, RFC 9207 `iss`).
//!
//! `GET /oauth/authorize` checks the request; one that cannot go back to the client (unknown
//! client, unregistered redirect URI) gets a page here, never a redirect. Everything else
//! wrong goes back to the client as an error. A good request is stored and the browser goes to
//! the consent page (through the login page when nobody is signed in), which posts its answer
//! back to `POST /oauth/authorize`.
use std::net::SocketAddr;

use axum::{
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

use app::accounts::actor::{Actor, Via};
use app::oauth::{
    OAuthError, granted_scope,
    ssr::{
        clients::{self, ClientModel},
        grants::{self, AuthorizationRequest, Decision, answer_url},
    },
    well_formed_verifier,
};

use super::{OAuth, Params, error_page};

/// The client a `client_id` names: a metadata document's URL, or a registered id.
pub async fn resolve_client(oauth: &OAuth, client_id: &str) -> Result<ClientModel, OAuthError> {
    if client_id.starts_with("https://") {
        let document = oauth.documents.fetch(client_id).await?;
        return clients::remember_document(&oauth.app, client_id, document).await;
    }
    if client_id.starts_with("http://") {
        return Err(OAuthError::client("A client_id URL must use https."));
    }
    clients::find(&oauth.app, client_id).await?.ok_or_else(|| {
        OAuthError::client("This client is not registered here (or its registration expired). The app should register again.")
    })
}

/// `GET /oauth/authorize`.
pub async fn start(State(oauth): State<OAuth>, RawQuery(query): RawQuery) -> Response {
    let cannot = |message: &str| error_page(StatusCode::BAD_REQUEST, "This sign-in link does not work", message);
    let params = match Params::parse(query.unwrap_or_default().as_bytes(), &[]) {
        Ok(params) => params,
        Err(why) => return cannot(&why),
    };
    let Some(client_id) = params.get("client_id") else { return cannot("The app sent no client_id.") };
    let client = match resolve_client(&oauth, client_id).await {
        Ok(client) => client,
        Err(e) => return cannot(&e.description),
    };
    let Some(redirect_uri) = params.get("redirect_uri") else { return cannot("The app sent no redirect_uri.") };
    if !app::oauth::redirect_matches(&clients::redirect_uris(&client), redirect_uri) {
        return cannot(&format!("{redirect_uri} is not one of the redirect URIs {} registered.", client.name));
    }
    let settings = &oauth.app.settings;
    let state = params.get("state");
    let back = |error: &str, description: &str| {
        Redirect::to(&answer_url(redirect_uri, &[("error", error), ("error_description", description)], state, &settings.issuer))
            .into_response()
    };
    if params.get("response_type") != Some("code") {
        return back("unsupported_response_type", "Gatehouse supports response_type=code only.");
    }
    let Some(challenge) = params.get("code_challenge") else {
        return back("invalid_request", "code_challenge is missing: Gatehouse requires PKCE with S256.");
    };
    if params.get("code_challenge_method") != Some("S256") {
        return back("invalid_request", "code_challenge_method must be S256 (plain is not accepted).");
    }
    if challenge.len() != 43 || !well_formed_verifier(challenge) {
        return back("invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the verifier.");
    }
    let Some(resource) = params.get("resource") else {
        return back("invalid_target", "resource is missing: send the MCP endpoint's URL (RFC 8707).");
    };
    let Some((server, resource)) = super::resource_server(&settings.public_url, resource) else {
        return back("invalid_target", "resource must be one of this Gatehouse's MCP endpoints (…/s/{server}/mcp or /sse).");
    };
    match super::metadata::offers_oauth(&oauth, server).await {
        Ok(true) => {}
        Ok(false) => return back("invalid_target", "That endpoint does not offer OAuth sign-in (or does not exist)."),
        Err(e) => return back("server_error", &e.description),
    }
    let request = AuthorizationRequest {
        client: client.id,
        redirect_uri: redirect_uri.to_string(),
        code_challenge: challenge.to_string(),
        state: state.map(str::to_string),
        scope: granted_scope(params.get("scope")),
        resource,
        server,
    };
    match grants::begin(&oauth.app, request).await {
        Ok(id) => Redirect::to(&format!("/oauth/consent?request={id}")).into_response(),
        Err(e) => back("server_error", &e.description),
    }
}

/// `POST /oauth/authorize`: the consent form's answer. Only the signed-in owner, with the
/// session's CSRF token, from this site (the dashboard's cross-site check runs first).
pub async fn answer(State(oauth): State<OAuth>, ConnectInfo(peer): ConnectInfo<SocketAddr>, session: Session, body: Bytes) -> Response {
    let refused = |status: StatusCode, message: &str| error_page(status, "This answer was not accepted", message);
    let params = match Params::parse(&body, &["server"]) {
        Ok(params) => params,
        Err(why) => return refused(StatusCode::BAD_REQUEST, &why),
    };
    let account = match app::accounts::ssr::require_account(&oauth.app, &session).await {
        Ok(account) => account,
        Err(_) => return refused(StatusCode::UNAUTHORIZED, "You are not signed in. Start again from the app."),
    };
    if !app::oauth::ssr::csrf_matches(&session, params.get("csrf")).await {
        return refused(StatusCode::FORBIDDEN, "The form's security token is missing or stale. Go back, reload the page and answer again.");
    }
    let Some(request) = params.get("request").and_then(|r| r.parse().ok()) else {
        return refused(StatusCode::BAD_REQUEST, "The form does not say which sign-in it answers.");
    };
    let decision = match params.get("decision") {
        Some("allow") => {
            let servers = params.all("server").filter_map(|s| s.parse().ok()).collect();
            Decision::Allow { servers, lifetime: params.get("lifetime").unwrap_or("90d").to_string() }
        }
        Some("deny") => Decision::Deny,
        _ => return refused(StatusCode::BAD_REQUEST, "Choose Allow or Deny."),
    };
    // The consent acts within the requested server's organisation (`grants::decide` finds it).
    let within = app::accounts::actor::Within::personal(&account);
    let actor = Actor { account, ip: super::client_ip(peer), via: Via::Session, within };
    match grants::decide(&oauth.app, &actor, request, decision).await {
        Ok(to) => super::returning_page(&to),
        Err(e) => {
            let status = e.code.status();
            let message = e.fields.values().next().cloned().unwrap_or(e.message);
            refused(status, &message)
        }
    }
}
