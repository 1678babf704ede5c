//! Every answer the gateway gives instead of the upstream's: one type with its status, its stable
//! code (clients match on it; never rename one), the reason usage counts it under, and its
//! response (a JSON body `{"code", "message"}`, plus the headers the status calls for).
use std::time::Duration;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use uuid::Uuid;

use app::tokens::Refusal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayError {
    /// The change events could not be read for too long: fail closed.
    Unavailable,
    /// The token (or its absence) does not grant this request.
    Refused(Refusal),
    /// A session opened with another token (or none).
    SessionTokenMismatch,
    /// A session id Gatehouse never handed out.
    UnknownSession,
    RateLimited {
        wait: Duration,
    },
    TooManyOpen {
        max: usize,
    },
    /// A request to a server that needs no token, sent to another host name than this
    /// deployment's (DNS rebinding).
    HostNotAllowed,
    /// A request to a server that needs no token, from a page of another site.
    CrossSiteOrigin,
    /// A token limited to some client addresses, used from another.
    AddressNotAllowed,
    WrongTransport {
        server: Uuid,
        use_instead: &'static str,
    },
    MethodNotAllowed,
    PayloadTooLarge {
        max: usize,
    },
    RequestTimeout {
        after: Duration,
    },
    UpstreamNotAllowed,
    UpstreamUnreachable,
    UpstreamTimeout,
    /// A `tools/call` the token's tool rule refuses: a JSON-RPC error in the body (200), or
    /// on the SSE transport, on the session's stream (`answer: None`, 202).
    ToolNotAllowed {
        answer: Option<bytes::Bytes>,
    },
    /// `Mcp-Method` / `Mcp-Name` disagree with the body (SEP-2243): a JSON-RPC error, 400.
    HeaderMismatch {
        answer: bytes::Bytes,
    },
}

impl GatewayError {
    /// Every stable code, for the test that keeps the README's list whole.
    pub const CODES: &[&str] = &[
        "unavailable",
        "token_required",
        "invalid_token",
        "session_token_mismatch",
        "unknown_session",
        "rate_limited",
        "too_many_streams",
        "host_not_allowed",
        "cross_site_origin",
        "address_not_allowed",
        "wrong_transport",
        "method_not_allowed",
        "payload_too_large",
        "request_timeout",
        "upstream_not_allowed",
        "upstream_unreachable",
        "upstream_timeout",
        "tool_not_allowed",
        "header_mismatch",
    ];

    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Refused(_) | GatewayError::SessionTokenMismatch => StatusCode::UNAUTHORIZED,
            GatewayError::UnknownSession | GatewayError::WrongTransport { .. } => StatusCode::NOT_FOUND,
            GatewayError::RateLimited { .. } | GatewayError::TooManyOpen { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::HostNotAllowed | GatewayError::CrossSiteOrigin | GatewayError::AddressNotAllowed => StatusCode::FORBIDDEN,
            GatewayError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            GatewayError::UpstreamNotAllowed | GatewayError::UpstreamUnreachable => StatusCode::BAD_GATEWAY,
            GatewayError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::ToolNotAllowed { answer: Some(_) } => StatusCode::OK,
            GatewayError::ToolNotAllowed { answer: None } => StatusCode::ACCEPTED,
            GatewayError::HeaderMismatch { .. } => StatusCode::BAD_REQUEST,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::Unavailable => "unavailable",
            GatewayError::Refused(refusal) if refusal.token_sent() => "invalid_token",
            GatewayError::Refused(_) => "token_required",
            GatewayError::SessionTokenMismatch => "session_token_mismatch",
            GatewayError::UnknownSession => "unknown_session",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::TooManyOpen { .. } => "too_many_streams",
            GatewayError::HostNotAllowed => "host_not_allowed",
            GatewayError::CrossSiteOrigin => "cross_site_origin",
            GatewayError::AddressNotAllowed => "address_not_allowed",
            GatewayError::WrongTransport { .. } => "wrong_transport",
            GatewayError::MethodNotAllowed => "method_not_allowed",
            GatewayError::PayloadTooLarge { .. } => "payload_too_large",
            GatewayError::RequestTimeout { .. } => "request_timeout",
            GatewayError::UpstreamNotAllowed => "upstream_not_allowed",
            GatewayError::UpstreamUnreachable => "upstream_unreachable",
            GatewayError::UpstreamTimeout => "upstream_timeout",
            GatewayError::ToolNotAllowed { .. } => "tool_not_allowed",
            GatewayError::HeaderMismatch { .. } => "header_mismatch",
        }
    }

    /// What usage counts the request under: the refusal's own reason, or the code.
    pub fn reason(&self) -> &'static str {
        match self {
            GatewayError::Refused(refusal) => refusal.reason(),
            other => other.code(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            GatewayError::Unavailable => "Gatehouse cannot confirm that this token is still valid right now. Try again shortly.".into(),
            GatewayError::Refused(refusal) => refusal.message(),
            GatewayError::SessionTokenMismatch => "This session was opened with a different token; use that token.".into(),
            GatewayError::UnknownSession => {
                "Gatehouse did not open this session. Open a new one (initialize, or GET /sse for the SSE transport).".into()
            }
            GatewayError::RateLimited { .. } => "This token is sending requests too fast; slow down.".into(),
            GatewayError::TooManyOpen { max } => {
                format!("This token already has {max} open requests or streams; close one first.")
            }
            GatewayError::HostNotAllowed => {
                "This server needs no token, so it answers only requests sent to this Gatehouse's own host name.".into()
            }
            GatewayError::CrossSiteOrigin => "This server needs no token, so it does not answer requests from pages of other sites.".into(),
            GatewayError::AddressNotAllowed => {
                "This token is not from an allowed address: it may be used only from the addresses its owner listed.".into()
            }
            GatewayError::WrongTransport { server, use_instead } => {
                format!("This server uses the other MCP transport; connect to /s/{server}/{use_instead}.")
            }
            GatewayError::MethodNotAllowed => "Use POST, GET or DELETE.".into(),
            GatewayError::PayloadTooLarge { max } => format!("The request body is larger than {max} bytes."),
            GatewayError::RequestTimeout { after } => {
                format!("The request body did not arrive within {}.", app::error::in_words(*after))
            }
            GatewayError::UpstreamNotAllowed => "This server's upstream address is not allowed by this Gatehouse's policy. \
                Its owner should point it elsewhere."
                .into(),
            GatewayError::UpstreamUnreachable => {
                "The MCP server behind this endpoint could not be reached. Its owner should check that it is running.".into()
            }
            GatewayError::UpstreamTimeout => "The MCP server behind this endpoint did not answer in time.".into(),
            GatewayError::ToolNotAllowed { .. } => "This token may not call that tool on this server.".into(),
            GatewayError::HeaderMismatch { .. } => "The Mcp-Method or Mcp-Name header does not match the request body.".into(),
        }
    }
}

impl From<Refusal> for GatewayError {
    fn from(refusal: Refusal) -> Self {
        GatewayError::Refused(refusal)
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        // Refusals inside MCP are JSON-RPC answers, which clients show as the call's error.
        match &self {
            GatewayError::ToolNotAllowed { answer: Some(answer) } | GatewayError::HeaderMismatch { answer } => {
                let mut response = (self.status(), answer.clone()).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response.headers_mut().insert("x-gatehouse-refusal", HeaderValue::from_static(self.code()));
                return response;
            }
            GatewayError::ToolNotAllowed { answer: None } => {
                let mut response = self.status().into_response();
                response.headers_mut().insert("x-gatehouse-refusal", HeaderValue::from_static(self.code()));
                return response;
            }
            _ => {}
        }
        let message = self.message();
        let mut response = (self.status(), Json(json!({ "code": self.code(), "message": message }))).into_response();
        let headers = response.headers_mut();
        match &self {
            GatewayError::Refused(refusal) => {
                headers.insert("x-gatehouse-refusal", HeaderValue::from_static(refusal.reason()));
                challenge(headers, refusal.token_sent(), &message);
            }
            GatewayError::SessionTokenMismatch => challenge(headers, true, &message),
            GatewayError::RateLimited { wait } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs_f64().ceil().max(1.0) as u64));
            }
            GatewayError::TooManyOpen { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        response
    }
}

/// `WWW-Authenticate` (RFC 6750): `error="invalid_token"` only when a token was sent.
fn challenge(headers: &mut http::HeaderMap, token_sent: bool, message: &str) {
    let challenge = if token_sent {
        let description = message.replace('"', "'");
        format!("Bearer realm=\"gatehouse\", error=\"invalid_token\", error_description=\"{description}\"")
    } else {
        "Bearer realm=\"gatehouse\"".to_string()
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        headers.insert(header::WWW_AUTHENTICATE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Operators and client authors read the codes in the README; none may be missing there.
    #[test]
    fn the_readme_lists_every_gateway_error_code() {
        let readme = include_str!("../../../README.md");
        let missing: Vec<&&str> = GatewayError::CODES.iter().filter(|code| !readme.contains(&format!("`{code}`"))).collect();
        assert!(missing.is_empty(), "README.md does not list {missing:?}");
    }

    #[test]
    fn codes_are_the_listed_ones() {
        let samples = [
            GatewayError::Unavailable,
            GatewayError::Refused(Refusal::Missing),
            GatewayError::Refused(Refusal::Revoked),
            GatewayError::SessionTokenMismatch,
            GatewayError::UnknownSession,
            GatewayError::RateLimited { wait: Duration::from_millis(10) },
            GatewayError::TooManyOpen { max: 1 },
            GatewayError::HostNotAllowed,
            GatewayError::CrossSiteOrigin,
            GatewayError::AddressNotAllowed,
            GatewayError::WrongTransport { server: Uuid::nil(), use_instead: "sse" },
            GatewayError::MethodNotAllowed,
            GatewayError::PayloadTooLarge { max: 1 },
            GatewayError::RequestTimeout { after: Duration::from_secs(1) },
            GatewayError::UpstreamNotAllowed,
            GatewayError::UpstreamUnreachable,
            GatewayError::UpstreamTimeout,
            GatewayError::ToolNotAllowed { answer: None },
            GatewayError::HeaderMismatch { answer: bytes::Bytes::new() },
        ];
        let codes: Vec<&str> = samples.iter().map(GatewayError::code).collect();
        assert_eq!(codes, GatewayError::CODES);
    }
}
