//! Discovery: protected resource metadata per hosted endpoint (RFC 9728), the authorization
//! server's metadata (RFC 8414, also at the OpenID discovery path clients probe), and the
//! parameters the gateway's 401 adds to its challenge.
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use sea_orm::EntityTrait;
use serde_json::json;
use uuid::Uuid;

use app::oauth::{OAuthError, SCOPE, SCOPES_SUPPORTED};
use app::servers::ssr::entity as servers;

use super::OAuth;

/// The endpoint kinds a resource URL names.
const ENDPOINTS: &[&str] = &["mcp", "sse"];

/// The server a `resource` (RFC 8707) names, and its canonical form: this deployment's
/// `/s/{id}/mcp` or `/s/{id}/sse`, a trailing slash forgiven.
pub fn resource_server(public_url: &str, resource: &str) -> Option<(Uuid, String)> {
    let path = resource.strip_prefix(public_url)?.trim_end_matches('/');
    let (id, endpoint) = path.strip_prefix("/s/")?.split_once('/')?;
    if !ENDPOINTS.contains(&endpoint) {
        return None;
    }
    let id: Uuid = id.parse().ok()?;
    Some((id, format!("{public_url}/s/{id}/{endpoint}")))
}

/// What the gateway's `WWW-Authenticate` adds for a server that offers OAuth: where its
/// protected resource metadata is, and the scope to ask for (MCP authorization §"Protected
/// Resource Metadata Discovery").
pub fn challenge_params(public_url: &str, server: Uuid, endpoint: &str) -> String {
    format!("resource_metadata=\"{public_url}/.well-known/oauth-protected-resource/s/{server}/{endpoint}\", scope=\"{SCOPE}\"")
}

fn not_found() -> Response {
    let error = json!({ "code": "not_found", "message": "No endpoint here offers OAuth sign-in. Check the URL, or use a token." });
    (StatusCode::NOT_FOUND, Json(error)).into_response()
}

/// `/.well-known/oauth-protected-resource/s/{server}/{mcp|sse}`.
pub async fn protected_resource(State(oauth): State<OAuth>, Path((server, endpoint)): Path<(String, String)>) -> Response {
    let settings = &oauth.app.settings;
    let Some((id, resource)) = resource_server(&settings.public_url, &format!("{}/s/{server}/{endpoint}", settings.public_url)) else {
        return not_found();
    };
    match offers_oauth(&oauth, id).await {
        Ok(true) => Json(json!({
            "resource": resource,
            "authorization_servers": [settings.issuer],
            "scopes_supported": SCOPES_SUPPORTED,
            "bearer_methods_supported": ["header"],
            "resource_documentation": format!("{}/servers/{id}", settings.public_url),
        }))
        .into_response(),
        Ok(false) => not_found(),
        Err(error) => super::OAuthReply(error).into_response(),
    }
}

/// Whether `server` exists and offers OAuth sign-in: the metadata and the authorization
/// endpoint ask the same (a server that needs no token has nothing to sign in to).
pub async fn offers_oauth(oauth: &OAuth, server: Uuid) -> Result<bool, OAuthError> {
    let found = servers::Entity::find_by_id(server).one(&oauth.app.db).await.map_err(|e| {
        tracing::error!(error = %e, "could not read a server for OAuth");
        OAuthError::new(app::oauth::OAuthErrorCode::ServerError, "Gatehouse could not answer now. Try again shortly.")
    })?;
    Ok(found.is_some_and(|s| s.oauth_enabled && s.require_token))
}

/// `/.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
pub async fn authorization_server(State(oauth): State<OAuth>) -> Response {
    let settings = &oauth.app.settings;
    let base = &settings.issuer;
    let auth_methods = ["none", "client_secret_post", "client_secret_basic"];
    let mut document = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES_SUPPORTED,
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{base}/"),
    });
    if settings.oauth.registration_open {
        document["registration_endpoint"] = json!(format!("{base}/oauth/register"));
    }
    Json(document).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_this_deployments_endpoints_only() {
        let base = "https://gh.example";
        let id = Uuid::now_v7();
        let mcp = format!("{base}/s/{id}/mcp");
        assert_eq!(resource_server(base, &mcp), Some((id, mcp.clone())));
        assert_eq!(resource_server(base, &format!("{mcp}/")), Some((id, mcp.clone())));
        assert!(resource_server(base, &format!("{base}/s/{id}/sse")).is_some());
        for other in [
            format!("https://evil.example/s/{id}/mcp"),
            format!("{base}.evil.example/s/{id}/mcp"),
            format!("{base}/s/{id}/messages"),
            format!("{base}/s/not-an-id/mcp"),
            format!("{base}/s/{id}/mcp/extra"),
            format!("{base}/s/{id}/mcp?x=1"),
        ] {
            assert_eq!(resource_server(base, &other), None, "{other}");
        }
    }
}
