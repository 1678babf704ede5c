//! Gatehouse as the OAuth authorization server for its hosted endpoints (MCP authorization spec
//! 2026-07-28): discovery (RFC 9728, RFC 8414), client ID metadata documents and dynamic
//! registration (RFC 7591/7592), authorization code with PKCE and a consent page, tokens with
//! refresh rotation, and revocation (RFC 7009). The grants are ordinary Gatehouse tokens
//! (`app::oauth::ssr::grants`), so the gateway needs nothing new to check or cut them.
//!
//! Two routers: the machine endpoints (metadata, token, register, revoke) take no cookies and
//! answer any origin (the MCP Inspector runs in a browser); the authorization endpoint and its
//! consent form are the dashboard's, behind its sessions and cross-site checks.
use std::sync::Arc;

use axum::{
    Json, Router,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use tower_http::cors::{Any, CorsLayer};

use app::{oauth::OAuthError, state::AppState};

mod authorize;
pub mod documents;
mod metadata;
mod register;
mod token;

pub use metadata::{challenge_params, resource_server};

/// The most parameters an OAuth request may carry: every endpoint reads fewer than twenty, and
/// the consent form one per server ticked.
const MAX_PARAMS: usize = 200;
/// The longest value: URLs, `state` and tokens all fit (the columns that keep them hold 2048).
const MAX_VALUE: usize = 2048;
/// The largest body an OAuth endpoint reads: a form or a registration is a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Query or form parameters, each at most once (RFC 6749 §3.1) except those named repeatable.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Refused: more than [`MAX_PARAMS`], or a name given twice (the name).
    pub fn parse(raw: &[u8], repeatable: &[&str]) -> Result<Self, String> {
        let mut params = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (name, value) in url::form_urlencoded::parse(raw) {
            // No database stores a NUL in text (PostgreSQL refuses it), and no OAuth value has one.
            if name.contains('\0') || value.contains('\0') {
                return Err(format!("The parameter {name} holds a NUL character."));
            }
            if value.len() > MAX_VALUE {
                return Err(format!("The parameter {name} is longer than {MAX_VALUE} bytes."));
            }
            if params.len() == MAX_PARAMS {
                return Err(format!("There are more than {MAX_PARAMS} parameters."));
            }
            if !repeatable.contains(&name.as_ref()) && !seen.insert(name.clone()) {
                return Err(format!("The parameter {name} is given twice."));
            }
            params.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(params))
    }

    /// A parameter's value; an empty one counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the OAuth endpoints share.
#[derive(Clone)]
pub struct OAuth {
    pub app: AppState,
    pub documents: Arc<documents::ClientDocuments>,
    registrations: Arc<crate::gateway::limits::RateLimiter>,
}

impl OAuth {
    pub fn new(app: AppState, documents: documents::ClientDocuments, registrations_per_minute: u32) -> Self {
        let registrations = crate::gateway::limits::RateLimiter::per_minute(registrations_per_minute);
        Self { app, documents: Arc::new(documents), registrations: Arc::new(registrations) }
    }

    /// Metadata, token, registration and revocation: no sessions, any origin.
    pub fn machine_router(&self) -> Router {
        let cors = CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([http::Method::GET, http::Method::POST, http::Method::PUT, http::Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, http::HeaderName::from_static("mcp-protocol-version")]);
        Router::new()
            .route("/.well-known/oauth-protected-resource/s/{server}/{endpoint}", get(metadata::protected_resource))
            .route("/.well-known/oauth-authorization-server", get(metadata::authorization_server))
            .route("/.well-known/openid-configuration", get(metadata::authorization_server))
            .route("/oauth/token", post(token::token))
            .route("/oauth/revoke", post(token::revoke))
            .route("/oauth/register", post(register::register))
            .route("/oauth/register/{client_id}", get(register::read).put(register::update).delete(register::delete))
            .layer(cors)
            .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
            .with_state(self.clone())
    }

    /// The authorization endpoint and the consent form's answer, for the dashboard's router.
    pub fn browser_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new().route("/oauth/authorize", get(authorize::start).post(authorize::answer)).with_state(self.clone())
    }
}

/// An OAuth error as the token, registration and revocation endpoints answer it (RFC 6749
/// §5.2): JSON `{error, error_description}`, never cached.
pub struct OAuthReply(pub OAuthError);

impl From<OAuthError> for OAuthReply {
    fn from(error: OAuthError) -> Self {
        Self(error)
    }
}

impl IntoResponse for OAuthReply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, Json(&self.0)).into_response();
        no_store(&mut response);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"gatehouse\""));
        }
        response
    }
}

/// Token answers hold credentials: no cache may keep them (RFC 6749 §5.1).
fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A small page of Gatehouse's own outside the dashboard: `head` (already escaped) goes in the
/// head after the title, `main` (already escaped) is the page; it cannot be framed.
fn plain_page(status: StatusCode, title: &str, head: &str, main: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head}\
         <title>{title} · Gatehouse</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body class=\"bg-slate-50 text-slate-900\"><main class=\"mx-auto max-w-xl p-8 text-sm\">{main}</main></body></html>",
        title = escape(title),
        css = app::site::STYLESHEET,
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A page for a sign-in that cannot go back to the app (its client or redirect URI is not
/// known, so redirecting would hand the answer to whoever wrote the link).
fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let main = format!(
        "<div role=\"alert\" class=\"rounded-xl border border-rose-200 bg-rose-50 p-6 text-rose-800\">\
         <p class=\"font-semibold\">{title}</p><p class=\"mt-1\" data-oauth-error>{message}</p></div>\
         <p class=\"mt-4\"><a href=\"/\" class=\"underline\">Go to the dashboard</a></p>",
        title = escape(title),
        message = escape(message),
    );
    plain_page(status, title, "", &main)
}

/// The answer to the consent form: a page that sends the browser on to the client's redirect
/// URI. Not a redirect: the dashboard's CSP says `form-action 'self'`, and browsers apply that
/// to a form's redirects, so a 303 to the client would be blocked. A refresh (and a link, for
/// browsers that ask before opening an app's own scheme) is a new navigation instead.
fn returning_page(to: &str) -> Response {
    let to = escape(to);
    let head = format!("<meta http-equiv=\"refresh\" content=\"0;url={to}\">");
    let main = format!(
        "<p>Returning to the app…</p><p class=\"mt-2\"><a id=\"continue\" href=\"{to}\" class=\"underline\">Continue</a> if nothing happens.</p>"
    );
    let mut response = plain_page(StatusCode::OK, "Returning to the app", &head, &main);
    no_store(&mut response);
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The address a request came from, as the trusted-proxy middleware settled it.
fn client_ip(peer: std::net::SocketAddr) -> Option<String> {
    Some(peer.ip().to_string())
}
