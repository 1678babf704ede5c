//! A Streamable HTTP upstream, through rmcp's client: the lifecycle (`server/discover`, or
//! `initialize` for servers before 2026-07-28), then the tools, prompts and resources it offers.
use std::collections::HashMap;

use http::{HeaderName, HeaderValue};
use rmcp::{
    RoleClient,
    model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion},
    service::{ClientInitializeError, ClientLifecycleMode, ClientServiceExt, ServiceError},
    transport::{
        StreamableHttpClientTransport,
        streamable_http_client::{StreamableHttpClientTransportConfig, StreamableHttpError},
    },
};
use serde_json::Value;

use app::{
    servers::{
        Transport,
        health::{Discovery, Problem, ProblemKind},
    },
    state::ProbeTarget,
};

type Client = reqwest013::Client;

pub async fn discover(client: &Client, target: &ProbeTarget) -> Result<Discovery, Problem> {
    let headers: HashMap<HeaderName, HeaderValue> = target
        .headers
        .iter()
        .filter_map(|(name, value)| Some((HeaderName::try_from(name.as_str()).ok()?, HeaderValue::try_from(value.as_str()).ok()?)))
        .collect();
    // One event is bounded; the whole check is bounded by its time (Prober's timeout).
    let config = StreamableHttpClientTransportConfig::with_uri(target.url.as_str())
        .custom_headers(headers)
        .max_sse_event_size(super::MAX_PROBE_BYTES);
    let transport = StreamableHttpClientTransport::with_client(client.clone(), config);
    let me = ClientConfig::new(ClientCapabilities::default(), Implementation::new("gatehouse-check", env!("CARGO_PKG_VERSION")));
    let lifecycle = ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::LATEST],
        legacy_version: Some(ProtocolVersion::LATEST_WITH_INITIALIZE),
    };
    let running = me.serve_with_lifecycle(transport, lifecycle).await.map_err(|e| initialize_problem(e, &target.url))?;
    let found = list(&running).await;
    let _ = running.cancel().await;
    found
}

async fn list(running: &rmcp::service::RunningService<RoleClient, ClientConfig>) -> Result<Discovery, Problem> {
    let info = running.peer_info().ok_or_else(|| Problem::new(ProblemKind::McpError, "The server did not describe itself."))?;
    let server = serde_json::to_value(&*info).unwrap_or_default();
    let peer = running.peer();
    let capabilities = &info.capabilities;
    let tools = match capabilities.tools {
        Some(_) => as_json(peer.list_all_tools().await.map_err(|e| listing_problem("tools", e))?),
        None => Vec::new(),
    };
    let prompts = match capabilities.prompts {
        Some(_) => as_json(peer.list_all_prompts().await.map_err(|e| listing_problem("prompts", e))?),
        None => Vec::new(),
    };
    let resources = match capabilities.resources {
        Some(_) => as_json(peer.list_all_resources().await.map_err(|e| listing_problem("resources", e))?),
        None => Vec::new(),
    };
    Ok(super::discovery_from_lists(Transport::StreamableHttp, &server, &tools, &prompts, &resources))
}

fn as_json<T: serde::Serialize>(items: Vec<T>) -> Vec<Value> {
    items.iter().filter_map(|item| serde_json::to_value(item).ok()).collect()
}

fn listing_problem(what: &str, err: ServiceError) -> Problem {
    match err {
        ServiceError::McpError(error) => Problem::new(ProblemKind::McpError, format!("Listing its {what} failed: {}.", error.message)),
        ServiceError::Timeout { .. } => Problem::new(ProblemKind::Slow, format!("Listing its {what} took too long.")),
        other => Problem::new(ProblemKind::McpError, format!("Listing its {what} failed: {other}.")),
    }
}

fn initialize_problem(err: ClientInitializeError, url: &url::Url) -> Problem {
    match err {
        ClientInitializeError::TransportError { error, .. } => {
            match error.downcast::<StreamableHttpClientTransport<Client>, RoleClient>() {
                Ok(error) => transport_problem(error, url),
                Err(other) => Problem::new(ProblemKind::NotMcp, format!("It did not answer as an MCP server: {other}.")),
            }
        }
        ClientInitializeError::JsonRpcError(error) => {
            Problem::new(ProblemKind::McpError, format!("It refused the MCP handshake: {} (code {}).", error.message, error.code.0))
        }
        ClientInitializeError::NoCompatibleProtocolVersion { server_supported, .. } => Problem::new(
            ProblemKind::McpError,
            format!(
                "It speaks only protocol versions Gatehouse does not: {}.",
                server_supported.iter().map(ProtocolVersion::as_str).collect::<Vec<_>>().join(", ")
            ),
        ),
        other => Problem::new(ProblemKind::NotMcp, format!("It did not answer as an MCP server: {other}.")),
    }
}

fn transport_problem(err: StreamableHttpError<reqwest013::Error>, url: &url::Url) -> Problem {
    match err {
        StreamableHttpError::Client(e) => super::unreachable(&e, url),
        StreamableHttpError::HttpStatus(status) => super::status_problem(status.status),
        StreamableHttpError::AuthRequired(_) => super::status_problem(401),
        StreamableHttpError::InsufficientScope(_) => super::status_problem(403),
        StreamableHttpError::UnexpectedServerResponse(text) => match http_status(&text) {
            Some(status) => super::status_problem(status),
            None => Problem::new(ProblemKind::NotMcp, format!("It did not answer as an MCP server: {}.", first_line(&text))),
        },
        StreamableHttpError::UnexpectedContentType(content_type) => Problem::new(
            ProblemKind::NotMcp,
            format!(
                "It answered with {}, not MCP (JSON or an event stream): check the URL.",
                content_type.as_deref().unwrap_or("no content type")
            ),
        ),
        StreamableHttpError::Deserialize(_) => {
            Problem::new(ProblemKind::NotMcp, "It answered with JSON that is not an MCP message: check the URL.")
        }
        other => Problem::new(ProblemKind::NotMcp, format!("It did not answer as an MCP server: {}.", first_line(&other.to_string()))),
    }
}

/// The status of rmcp's "HTTP 405 Method Not Allowed: <body>".
fn http_status(text: &str) -> Option<u16> {
    text.strip_prefix("HTTP ")?.get(..3)?.parse().ok()
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_from_rmcp_messages() {
        assert_eq!(http_status("HTTP 405 Method Not Allowed: <html>"), Some(405));
        assert_eq!(http_status("HTTP 404 Not Found: "), Some(404));
        assert_eq!(http_status("something else"), None);
    }
}
