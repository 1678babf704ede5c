//! What Gatehouse finds when it connects to a server's upstream: up or down, and what the
//! upstream offers (its tools, prompts and resources). Shared by the browser and the server.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::domain::Transport;

/// What went wrong, in kinds a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ProblemKind {
    /// Nothing answered: refused, unknown host, no route, TLS failure.
    Unreachable,
    /// It connected but did not finish answering in time.
    Slow,
    /// It answers MCP on the other transport.
    WrongTransport,
    /// It answered, but not as an MCP server (a web page, another API, a 404).
    NotMcp,
    /// It refused Gatehouse (401 or 403): the upstream headers are missing or wrong.
    Unauthorized,
    /// An MCP server that answered the handshake or a listing with an error.
    McpError,
    /// The operator's address policy forbids the address.
    AddressRefused,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Unreachable => "unreachable",
            ProblemKind::Slow => "slow",
            ProblemKind::WrongTransport => "wrong_transport",
            ProblemKind::NotMcp => "not_mcp",
            ProblemKind::Unauthorized => "unauthorized",
            ProblemKind::McpError => "mcp_error",
            ProblemKind::AddressRefused => "address_refused",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            ProblemKind::Unreachable,
            ProblemKind::Slow,
            ProblemKind::WrongTransport,
            ProblemKind::NotMcp,
            ProblemKind::Unauthorized,
            ProblemKind::McpError,
            ProblemKind::AddressRefused,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}

/// Why a check failed: its kind and a sentence for the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
}

impl Problem {
    /// The message as a person reads it: an upstream's own words may be in it, so control
    /// characters are dropped (PostgreSQL refuses NUL) and it is cut at 1,000 characters.
    pub fn new(kind: ProblemKind, message: impl Into<String>) -> Self {
        let message: String = message.into().chars().filter(|c| !c.is_control()).take(1000).collect();
        Self { kind, message }
    }
}

/// One tool as the upstream lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Annotated `readOnlyHint: true`: the "read-only tools" rule allows it.
    pub read_only: bool,
    /// The tool's annotations as the upstream sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub annotations: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PromptInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResourceInfo {
    pub uri: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What an upstream said about itself when Gatehouse connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Discovery {
    /// The transport it answered on.
    pub transport: Transport,
    pub protocol_version: String,
    pub server_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    #[serde(default)]
    pub tools: Vec<ToolInfo>,
    #[serde(default)]
    pub prompts: Vec<PromptInfo>,
    #[serde(default)]
    pub resources: Vec<ResourceInfo>,
}

/// At most this many tools, prompts and resources are kept from one check.
pub const MAX_LISTED: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum HealthStatus {
    /// Not checked yet.
    Unchecked,
    Up,
    Down,
}

/// A server's health: the last check, and the last discovery that worked (kept while it is
/// down, so its tools can still be chosen for a rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerHealth {
    pub status: HealthStatus,
    pub checked_at: Option<DateTime<Utc>>,
    /// When the current status began.
    pub since: Option<DateTime<Utc>>,
    /// How long the last check took, in milliseconds.
    pub latency_ms: Option<u32>,
    /// Why it is down.
    pub problem: Option<Problem>,
    pub discovery: Option<Discovery>,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Unchecked => "unchecked",
            HealthStatus::Up => "up",
            HealthStatus::Down => "down",
        }
    }
}

impl ServerHealth {
    pub fn unchecked() -> Self {
        Self { status: HealthStatus::Unchecked, checked_at: None, since: None, latency_ms: None, problem: None, discovery: None }
    }

    /// "Up · 12 tools · checked 2 minutes ago", "Down since 14:02: connection refused…".
    pub fn summary(&self, now: DateTime<Utc>) -> String {
        match (self.status, self.checked_at) {
            (HealthStatus::Up, Some(checked)) => {
                let tools = self.discovery.as_ref().map_or(0, |d| d.tools.len());
                let plural = if tools == 1 { "" } else { "s" };
                format!("Up · {tools} tool{plural} · checked {}", crate::components::relative(checked, now))
            }
            (HealthStatus::Down, Some(_)) => {
                let since = self.since.map(|at| format!(" since {}", since_label(at, now))).unwrap_or_default();
                let why = self.problem.as_ref().map(|p| format!(": {}", p.message)).unwrap_or_default();
                format!("Down{since}{why}")
            }
            _ => "Not checked yet".into(),
        }
    }
}

/// A time of day for today, a date and time otherwise (UTC, as every time on the pages).
fn since_label(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if at.date_naive() == now.date_naive() { at.format("%H:%M UTC").to_string() } else { crate::components::format_time(at) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(status: HealthStatus, tools: usize, problem: Option<Problem>) -> ServerHealth {
        let at = "2026-12-07T14:02:00Z".parse().unwrap();
        let discovery = Discovery {
            transport: Transport::StreamableHttp,
            protocol_version: "2025-11-25".into(),
            server_name: "demo".into(),
            server_version: None,
            tools: (0..tools)
                .map(|i| ToolInfo { name: format!("t{i}"), title: None, description: None, read_only: false, annotations: None })
                .collect(),
            prompts: vec![],
            resources: vec![],
        };
        ServerHealth { status, checked_at: Some(at), since: Some(at), latency_ms: Some(3), problem, discovery: Some(discovery) }
    }

    #[test]
    fn summaries_read_as_the_page_shows_them() {
        let now = "2026-12-07T14:04:10Z".parse().unwrap();
        assert_eq!(health(HealthStatus::Up, 12, None).summary(now), "Up · 12 tools · checked 3 minutes ago");
        assert_eq!(health(HealthStatus::Up, 1, None).summary(now), "Up · 1 tool · checked 3 minutes ago");
        let refused = Problem::new(ProblemKind::Unreachable, "connection refused");
        assert_eq!(health(HealthStatus::Down, 0, Some(refused.clone())).summary(now), "Down since 14:02 UTC: connection refused");
        let tomorrow = "2026-12-08T09:00:00Z".parse().unwrap();
        assert_eq!(health(HealthStatus::Down, 0, Some(refused)).summary(tomorrow), "Down since 2026-12-07 14:02 UTC: connection refused");
        assert_eq!(ServerHealth::unchecked().summary(now), "Not checked yet");
    }

    #[test]
    fn problem_kinds_read_back_what_they_write() {
        for kind in
            [ProblemKind::Unreachable, ProblemKind::Slow, ProblemKind::WrongTransport, ProblemKind::NotMcp, ProblemKind::Unauthorized]
        {
            assert_eq!(ProblemKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ProblemKind::parse("bogus"), None);
    }
}
