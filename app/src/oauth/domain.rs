//! OAuth types both sides share: the scope, redirect URI rules, the errors of RFC 6749 and the
//! views of the consent and Connected apps pages.
use serde::{Deserialize, Serialize};

use crate::servers::ServerRef;
use crate::tokens::TokenView;

/// The one scope Gatehouse grants: calling the granted servers' MCP endpoints. Per-tool rules
/// come later; a client that asks for scopes Gatehouse does not know gets this one.
pub const SCOPE: &str = "mcp";
pub const SCOPES_SUPPORTED: &[&str] = &[SCOPE];

/// What the consent page offers for how long a grant lasts, as (value, label); the value is an
/// [`crate::tokens::Expiry`].
pub const GRANT_LIFETIMES: &[(&str, &str)] =
    &[("never", "Until I revoke it"), ("1y", "1 year"), ("90d", "90 days"), ("30d", "30 days"), ("7d", "7 days"), ("24h", "24 hours")];

/// How a client is known: it registered (RFC 7591), or its client id is its metadata document's URL.
pub const REGISTERED_KIND: &str = "registered";
pub const METADATA_DOCUMENT_KIND: &str = "metadata_document";

/// How long an authorization request waits for consent, and a code for its exchange.
pub const REQUEST_SECONDS: i64 = 600;
pub const CODE_SECONDS: i64 = 60;

/// The operator's OAuth settings (config `oauth_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthSettings {
    pub access_token_seconds: i64,
    /// How long a refresh token may wait to be used; each use issues a fresh one.
    pub refresh_token_seconds: i64,
    /// How long a dynamically registered client lasts; `None`: until deleted.
    pub client_lifetime_seconds: Option<i64>,
    /// Whether dynamic client registration (RFC 7591) is open.
    pub registration_open: bool,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        Self {
            access_token_seconds: 24 * 3600,
            refresh_token_seconds: 90 * 86400,
            client_lifetime_seconds: Some(90 * 86400),
            registration_open: true,
        }
    }
}

/// The scope a client gets for what it asked: the known scopes among them, or [`SCOPE`].
pub fn granted_scope(requested: Option<&str>) -> String {
    let known: Vec<&str> = requested.unwrap_or("").split_whitespace().filter(|s| SCOPES_SUPPORTED.contains(s)).collect();
    if known.is_empty() { SCOPE.to_string() } else { known.join(" ") }
}

/// The error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2 and RFC 8707 §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    InvalidRedirectUri,
    InvalidClientMetadata,
    TemporarilyUnavailable,
    ServerError,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::InvalidTarget => "invalid_target",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            OAuthErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            OAuthErrorCode::ServerError => "server_error",
        }
    }

    /// The HTTP status of a token, registration or revocation endpoint answer.
    pub fn status(self) -> u16 {
        match self {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::ServerError => 500,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// An OAuth error with a description a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    #[serde(rename = "error")]
    pub code: OAuthErrorCode,
    #[serde(rename = "error_description")]
    pub description: String,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }
    pub fn request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }
    pub fn grant(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }
    pub fn client(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }
}

/// A redirect URI a client may register: https, a loopback http address (RFC 8252 §7.3), or a
/// private-use scheme of a native app (`cursor://…`, RFC 8252 §7.1); never a fragment, and none
/// of the schemes a browser would run or read locally.
pub fn check_redirect_uri(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|_| format!("\"{raw}\" is not an absolute URL."))?;
    if url.fragment().is_some() {
        return Err(format!("\"{raw}\" has a fragment (#…), which a redirect URI may not have."));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(url.host_str().unwrap_or("")) => Ok(()),
        "http" => Err(format!("\"{raw}\" uses http on a host other than this machine; use https.")),
        "javascript" | "data" | "file" | "blob" | "about" | "vbscript" | "ftp" | "ws" | "wss" => {
            Err(format!("\"{raw}\" uses a scheme a redirect URI may not use."))
        }
        // A private-use scheme has a dot (reverse domain name) by RFC 8252 §7.1; accept the
        // bare ones clients use too (`cursor://`), but never without a path or host.
        _ if url.cannot_be_a_base() && url.path().is_empty() => Err(format!("\"{raw}\" has no path.")),
        _ => Ok(()),
    }
}

/// `localhost`, `127.0.0.1` and `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// Whether `presented` is one of `registered`: compared exactly as strings, except that a
/// loopback http URI matches on any port (RFC 8252 §7.3: native apps listen on whichever port
/// is free, and Claude Code's metadata document lists them without one).
pub fn redirect_matches(registered: &[String], presented: &str) -> bool {
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    let Ok(wanted) = url::Url::parse(presented) else { return false };
    if wanted.scheme() != "http" || !is_loopback_host(wanted.host_str().unwrap_or("")) {
        return false;
    }
    registered.iter().filter_map(|r| url::Url::parse(r).ok()).any(|r| {
        r.scheme() == "http"
            && r.host_str() == wanted.host_str()
            && r.path() == wanted.path()
            && r.query() == wanted.query()
            && r.username() == wanted.username()
            && r.password().is_none()
            && wanted.password().is_none()
    })
}

/// A PKCE `code_challenge` (S256: 43 characters of base64url) or `code_verifier` (43 to 128
/// unreserved characters, RFC 7636 §4.1).
pub fn well_formed_verifier(text: &str) -> bool {
    (43..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// What the consent page shows and asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    /// The authorization request the form answers.
    pub request: uuid::Uuid,
    pub csrf: String,
    pub client_name: String,
    pub client_id: String,
    /// `registered` (dynamic registration) or `metadata_document` (its client id is a URL).
    pub client_kind: String,
    /// Where the answer goes: the redirect URI's host (or scheme, for a native app).
    pub redirect_host: String,
    pub redirect_uri: String,
    pub scope: String,
    /// The server named by the request's `resource`.
    pub requested: ServerRef,
    /// Every server the owner could grant (OAuth offered), the requested one first.
    pub servers: Vec<ServerRef>,
}

/// A client with grants on the Connected apps page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectedApp {
    pub client: uuid::Uuid,
    pub name: String,
    pub client_id: String,
    pub grants: Vec<TokenView>,
}

/// A client as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClientView {
    pub id: uuid::Uuid,
    pub client_id: String,
    pub name: String,
    pub kind: String,
    pub redirect_uris: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Grants that still stand.
    pub live_grants: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_on_any_port_and_nothing_else_is_loosened() {
        let registered = vec!["http://127.0.0.1/callback".to_string(), "https://app.example/cb".to_string()];
        assert!(redirect_matches(&registered, "http://127.0.0.1:53712/callback"));
        assert!(redirect_matches(&registered, "http://127.0.0.1/callback"));
        assert!(redirect_matches(&registered, "https://app.example/cb"));
        for refused in [
            "http://127.0.0.1:53712/other",
            "http://127.0.0.1:53712/callback?x=1",
            "http://localhost:53712/callback",
            "https://app.example:8443/cb",
            "https://app.example/cb?x=1",
            "https://app.example/cb/",
            "https://app.example/c",
            "https://evil.example/cb",
        ] {
            assert!(!redirect_matches(&registered, refused), "{refused}");
        }
    }

    #[test]
    fn redirect_uris_a_client_may_register() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418",
            "http://localhost/cb",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "https://a.example/cb#frag",
            "/relative",
            "file:///etc/passwd",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_scopes_fall_back_to_the_one_granted() {
        assert_eq!(granted_scope(None), "mcp");
        assert_eq!(granted_scope(Some("openid profile")), "mcp");
        assert_eq!(granted_scope(Some("mcp offline_access")), "mcp");
    }

    #[test]
    fn verifiers_are_43_to_128_unreserved_characters() {
        assert!(well_formed_verifier(&"a".repeat(43)));
        assert!(well_formed_verifier(&"A-._~1".repeat(20)));
        assert!(!well_formed_verifier(&"a".repeat(42)));
        assert!(!well_formed_verifier(&"a".repeat(129)));
        assert!(!well_formed_verifier(&format!("{}+", "a".repeat(43))));
    }
}
