//! Server types shared by the browser and the server.
use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServerId(pub Uuid);

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A server's name: 1 to 64 characters, no control characters, unique within an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerName(String);

impl ServerName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("Give the server a name.");
        }
        if name.chars().count() > 64 {
            return Err("Use at most 64 characters.");
        }
        if name.chars().any(char::is_control) {
            return Err("A name cannot contain control characters.");
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Transport {
    /// The 2024-11-05 HTTP+SSE transport: `GET /sse` plus a message endpoint.
    Sse,
    /// Streamable HTTP: one endpoint, POST (and GET/DELETE where the server uses them).
    StreamableHttp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::StreamableHttp => "streamable_http",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "sse" => Some(Transport::Sse),
            "streamable_http" => Some(Transport::StreamableHttp),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Transport::Sse => "SSE",
            Transport::StreamableHttp => "Streamable HTTP",
        }
    }
}

/// Which upstream addresses the operator allows (DESIGN.md, Gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
}

impl UpstreamPolicy {
    /// Why `ip` may not be an upstream, if it may not.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        if ip.is_loopback() {
            return (!self.allow_loopback).then_some("loopback addresses are not allowed as upstreams here");
        }
        let special = match ip {
            IpAddr::V4(v4) => v4_is_special(v4),
            IpAddr::V6(v6) => v6_is_special(v6),
        };
        if ip.is_unspecified() || ip.is_multicast() {
            return Some("that address cannot be an upstream");
        }
        if special {
            return (!self.allow_private).then_some("private, link-local and metadata addresses are not allowed as upstreams");
        }
        None
    }
}

fn v4_is_special(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the cloud metadata address
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..=19).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

fn v6_is_special(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    (first & 0xfe00) == 0xfc00 // unique local (fc00::/7), includes fd00:ec2::254
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b // NAT64 to anything
}

/// An upstream URL that passed the syntax rules: http(s), a host, no credentials, no fragment.
/// It is read by the URL standard (the `url` crate), as the gateway's HTTP client reads it, so
/// the host checked here is the host contacted: `http://0x7f.1/` is 127.0.0.1 to both.
/// Address rules (private, loopback, …) are checked against the resolved addresses on save and
/// again at connect time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    raw: String,
    url: url::Url,
}

impl UpstreamUrl {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("Enter the upstream URL of your MCP server.");
        }
        if raw.len() > 2048 {
            return Err("That URL is too long (2048 characters at most).");
        }
        let lower = raw.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err("Use an http:// or https:// URL.");
        }
        // The URL standard silently drops tabs and newlines; a URL that holds them is a mistake.
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("A URL cannot contain spaces.");
        }
        let url = url::Url::parse(raw).map_err(|e| match e {
            url::ParseError::EmptyHost => "The URL needs a host name.",
            url::ParseError::InvalidPort => "The port must be a number from 1 to 65535.",
            _ => "That is not a valid URL.",
        })?;
        if !url.username().is_empty() || url.password().is_some() || raw.split(['/', '?', '#']).nth(2).is_some_and(|a| a.contains('@')) {
            return Err("Put credentials in upstream headers, not in the URL.");
        }
        if url.fragment().is_some() {
            return Err("An upstream URL cannot have a #fragment.");
        }
        if url.host_str().is_none_or(str::is_empty) || url.port() == Some(0) {
            return Err("The URL needs a host name.");
        }
        // The HTTP client sends the URL as an `http::Uri`, which takes fewer characters than
        // the URL standard leaves unescaped (the `upstream_url` fuzz target found one).
        if http::Uri::try_from(url.as_str()).is_err() {
            return Err("That URL has characters an HTTP request cannot carry; percent-encode them.");
        }
        Ok(Self { raw: raw.to_string(), url })
    }

    /// The URL as the owner wrote it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed URL, for the HTTP client.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The host that will be contacted: an address literal, or a name to resolve.
    pub fn host(&self) -> url::Host<&str> {
        self.url.host().expect("an http(s) URL that parsed has a host")
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().expect("http(s) has a default port")
    }

    /// The query as written (after `?`), which may hold a key: sealed at rest like header
    /// values, and never shown.
    pub fn query(&self) -> Option<&str> {
        self.raw.split_once('?').map(|(_, query)| query).filter(|q| !q.is_empty())
    }

    /// The URL as pages, the API and the audit log show it: every query value hidden.
    pub fn redacted(&self) -> String {
        redact_query(&self.raw)
    }

    /// The address an address-literal host names, if it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.host() {
            url::Host::Ipv4(ip) => Some(ip.into()),
            url::Host::Ipv6(ip) => Some(ip.into()),
            url::Host::Domain(_) => None,
        }
    }
}

/// What a hidden query value is shown as. Sent back unchanged in an edit, it keeps the saved
/// value of that parameter (as an upstream header left without a value does).
pub const HIDDEN_VALUE: &str = "***";

/// `raw` with the value of every query parameter replaced by [`HIDDEN_VALUE`].
pub fn redact_query(raw: &str) -> String {
    let Some((base, query)) = raw.split_once('?') else { return raw.to_string() };
    let hidden: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={HIDDEN_VALUE}"),
            None if pair.is_empty() => String::new(),
            None => format!("{pair}={HIDDEN_VALUE}"),
        })
        .collect();
    format!("{base}?{}", hidden.join("&"))
}

/// `submitted` with each hidden value put back from the `saved` query, parameter by parameter
/// (the n-th `name=***` takes the n-th saved value of `name`). A name with no saved value keeps
/// the marker, which then fails no rule: the owner sees what they sent.
pub fn restore_hidden_values(submitted: &str, saved: Option<&str>) -> String {
    let (Some((base, query)), Some(saved)) = (submitted.trim().split_once('?'), saved) else { return submitted.to_string() };
    // Each saved parameter by name, written as it was saved.
    let mut saved_pairs: Vec<(&str, &str)> = saved.split('&').map(|p| (p.split_once('=').map_or(p, |(n, _)| n), p)).collect();
    let restored: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, HIDDEN_VALUE)) => match saved_pairs.iter().position(|(n, _)| *n == name) {
                Some(at) => saved_pairs.remove(at).1.to_string(),
                None => pair.to_string(),
            },
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", restored.join("&"))
}

/// Headers Gatehouse never lets an owner set upstream: they belong to the connection or are
/// set by the gateway itself.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
    "content-type",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "cookie",
];

pub const MAX_UPSTREAM_HEADERS: usize = 20;

/// An upstream header name: an HTTP token, not one the gateway manages. Stored lower-case.
pub fn parse_header_name(raw: &str) -> Result<String, String> {
    let name = raw.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err("Header names cannot be empty.".into());
    }
    if name.len() > 100 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
        return Err(format!("\"{}\" is not a valid header name.", raw.trim()));
    }
    if RESERVED_HEADERS.contains(&name.as_str()) {
        return Err(format!("Gatehouse sets \"{name}\" itself; choose another header."));
    }
    Ok(name)
}

pub fn check_header_value(name: &str, value: &str) -> Result<(), String> {
    if value.len() > 4096 {
        return Err(format!("The value of \"{name}\" is too long (4096 bytes at most)."));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!("The value of \"{name}\" cannot contain line breaks."));
    }
    Ok(())
}

/// One upstream header in a create or edit request. On edit, a missing value keeps the value
/// already saved under that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HeaderInput {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// A request to create or change a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerInput {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, example = "Docs search"))]
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(min_length = 1, example = "http://127.0.0.1:8931/mcp"))]
    pub upstream_url: String,
    pub transport: Transport,
    #[serde(default = "yes")]
    pub require_token: bool,
    /// Offer OAuth sign-in to MCP clients (discovery metadata, and a 401 that names it). On
    /// unless turned off: Cursor ignores configured headers once a server offers discovery.
    #[serde(default = "yes")]
    pub oauth_enabled: bool,
    /// Replaces the upstream headers when present; absent leaves them as they are.
    #[serde(default)]
    pub upstream_headers: Option<Vec<HeaderInput>>,
    /// Tell the upstream who is calling, in a signed JWT in this header (e.g.
    /// `Gatehouse-Identity`; verify it with the keys at `/.well-known/jwks.json`). Absent or
    /// empty: the upstream is not told.
    #[serde(default)]
    pub identity_header: Option<String>,
    /// Record the tool calls made on it (off by default).
    #[serde(default)]
    pub tool_audit: ToolAudit,
}

/// Whether the gateway records the tool calls made on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ToolAudit {
    /// Nothing is recorded.
    #[default]
    Off,
    /// Who called which tool when, and the outcome.
    Calls,
    /// The same, with each call's arguments (they may hold personal data).
    Arguments,
}

impl ToolAudit {
    pub fn as_str(self) -> &'static str {
        match self {
            ToolAudit::Off => "off",
            ToolAudit::Calls => "calls",
            ToolAudit::Arguments => "arguments",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [ToolAudit::Off, ToolAudit::Calls, ToolAudit::Arguments].into_iter().find(|a| a.as_str() == value)
    }

    /// How it is stored: nothing when off.
    pub fn stored(self) -> Option<String> {
        (self != ToolAudit::Off).then(|| self.as_str().to_string())
    }
}

/// One recorded tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolCallView {
    #[cfg_attr(feature = "ssr", schema(value_type = uuid::Uuid))]
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub tool: String,
    /// `ok`, `refused` (the token's tool rule), `upstream_error` (HTTP status), `unreachable`, …
    pub outcome: String,
    /// The member whose token made the call.
    pub member: String,
    #[cfg_attr(feature = "ssr", schema(value_type = uuid::Uuid))]
    pub token_id: uuid::Uuid,
    /// The call's arguments (JSON), when the server records them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// A page of recorded tool calls, newest first; `next` names the page after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ToolCallPage {
    pub calls: Vec<ToolCallView>,
    /// Pass as `before` for the next (older) page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<uuid::Uuid>))]
    pub next: Option<uuid::Uuid>,
}

/// The header name the form suggests for identity assertions.
pub const DEFAULT_IDENTITY_HEADER: &str = "Gatehouse-Identity";

fn yes() -> bool {
    true
}

/// A token's place on a server's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerRef {
    #[cfg_attr(feature = "ssr", schema(value_type = uuid::Uuid))]
    pub id: ServerId,
    pub name: String,
    /// Which of the server's tools the token may call (in a token's list of servers); absent:
    /// every tool.
    #[serde(default, skip_serializing_if = "crate::tools::ToolRule::is_all")]
    pub tools: crate::tools::ToolRule,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerView {
    #[cfg_attr(feature = "ssr", schema(value_type = uuid::Uuid))]
    pub id: ServerId,
    /// The organisation it belongs to.
    pub organisation_id: uuid::Uuid,
    /// Its organisation's name.
    pub organisation: String,
    pub name: String,
    pub upstream_url: String,
    pub transport: Transport,
    pub require_token: bool,
    pub oauth_enabled: bool,
    /// The header that carries the caller's identity to the upstream (lower-case), if any.
    pub identity_header: Option<String>,
    /// Whether tool calls are recorded.
    pub tool_audit: ToolAudit,
    /// Only the names: values are never shown after saving.
    pub upstream_header_names: Vec<String>,
    /// The hosted endpoints clients connect to.
    pub sse_endpoint: String,
    pub mcp_endpoint: String,
    pub token_count: u64,
    /// What the last check of the upstream found.
    pub health: super::health::ServerHealth,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ServerView {
    /// Clients may sign in with OAuth here (a server that needs no token has nothing to sign in to).
    pub fn offers_oauth(&self) -> bool {
        self.oauth_enabled && self.require_token
    }

    /// The hosted endpoint that works for this server: the one of its transport.
    pub fn endpoint(&self) -> &str {
        match self.transport {
            Transport::StreamableHttp => &self.mcp_endpoint,
            Transport::Sse => &self.sse_endpoint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEFAULT: UpstreamPolicy = UpstreamPolicy { allow_loopback: false, allow_private: false };

    #[test]
    fn query_values_are_hidden_and_come_back_from_the_saved_query() {
        let url = UpstreamUrl::parse("https://mcp.example.com/mcp?api_key=s3cret&region=eu&flag").unwrap();
        assert_eq!(url.query(), Some("api_key=s3cret&region=eu&flag"));
        assert_eq!(url.redacted(), "https://mcp.example.com/mcp?api_key=***&region=***&flag=***");
        assert_eq!(UpstreamUrl::parse("https://x.example/mcp").unwrap().redacted(), "https://x.example/mcp");
        assert_eq!(UpstreamUrl::parse("https://x.example/mcp?").unwrap().query(), None);
        let saved = url.query();
        // Sent back as shown: every value restored.
        assert_eq!(restore_hidden_values(&url.redacted(), saved), "https://mcp.example.com/mcp?api_key=s3cret&region=eu&flag");
        // One value changed, one parameter dropped, one added without a saved value.
        assert_eq!(
            restore_hidden_values("https://mcp.example.com/v2?region=us&api_key=***&new=***", saved),
            "https://mcp.example.com/v2?region=us&api_key=s3cret&new=***"
        );
        assert_eq!(restore_hidden_values("https://x.example/?a=***", None), "https://x.example/?a=***", "nothing saved");
        let twice = "https://x.example/?k=1&k=2";
        assert_eq!(restore_hidden_values(&redact_query(twice), Some("k=1&k=2")), twice, "repeated names in order");
    }

    #[test]
    fn urls_must_be_http_with_a_host_and_no_credentials() {
        assert!(UpstreamUrl::parse("https://mcp.example.com/sse").is_ok());
        assert!(UpstreamUrl::parse("http://127.0.0.1:8080/mcp").is_ok());
        assert!(UpstreamUrl::parse("http://[::1]:8080/mcp").is_ok());
        for bad in [
            "",
            "ftp://x.example",
            "file:///etc/passwd",
            "https://",
            "https://user:pw@x.example/",
            "https://x.example/#frag",
            "https://x.example/a b",
            "javascript:alert(1)",
            "//x.example",
        ] {
            assert!(UpstreamUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn host_and_port_are_found() {
        let u = UpstreamUrl::parse("http://[::1]:8080/mcp").unwrap();
        assert_eq!((u.ip(), u.port()), (Some("::1".parse().unwrap()), 8080));
        let u = UpstreamUrl::parse("https://MCP.example.com/sse?x=1").unwrap();
        assert_eq!((u.host(), u.port()), (url::Host::Domain("mcp.example.com"), 443));
        assert_eq!(u.as_str(), "https://MCP.example.com/sse?x=1", "kept as written");
    }

    /// Hosts the URL standard reads differently from how they look: what the gateway's client
    /// contacts is what the check sees.
    #[test]
    fn hosts_are_read_as_the_url_standard_reads_them() {
        for (raw, ip) in [
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://127.1:80/", "127.0.0.1"),
            ("http://0251.0376.0251.0376/", "169.254.169.254"),
            ("http://[::ffff:7f00:1]/", "::ffff:127.0.0.1"),
        ] {
            let url = UpstreamUrl::parse(raw).unwrap();
            assert_eq!(url.ip(), Some(ip.parse().unwrap()), "{raw}");
            assert!(DEFAULT.refuses(url.ip().unwrap()).is_some(), "{raw}");
        }
        for bad in ["http://x.example:99999/", "http://x.example:80:80/", "http://[::1/", "http://a@/x", "http://x.example:0/"] {
            assert!(UpstreamUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn private_loopback_link_local_and_metadata_are_refused_by_default() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(DEFAULT.refuses(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "1.1.1.1"] {
            assert!(DEFAULT.refuses(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }

    #[test]
    fn the_operator_can_allow_loopback_or_private() {
        let loopback = UpstreamPolicy { allow_loopback: true, allow_private: false };
        assert!(loopback.refuses("127.0.0.1".parse().unwrap()).is_none());
        assert!(loopback.refuses("10.0.0.1".parse().unwrap()).is_some());
        let private = UpstreamPolicy { allow_loopback: false, allow_private: true };
        assert!(private.refuses("10.0.0.1".parse().unwrap()).is_none());
        assert!(private.refuses("127.0.0.1".parse().unwrap()).is_some());
    }

    #[test]
    fn header_names_are_tokens_and_not_reserved() {
        assert_eq!(parse_header_name(" X-Api-Key ").unwrap(), "x-api-key");
        assert!(parse_header_name("Authorization").is_ok(), "an upstream credential is the point");
        for bad in ["", "Host", "content-length", "X Api", "x:y", "mcp-session-id"] {
            assert!(parse_header_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_header_value("x", "a\r\nInjected: 1").is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ServerName::parse("  Docs  ").unwrap().as_str(), "Docs");
        assert!(ServerName::parse("").is_err());
        assert!(ServerName::parse(&"n".repeat(65)).is_err());
        assert!(ServerName::parse("a\u{7}b").is_err());
    }

    proptest! {
        #[test]
        fn url_parse_never_panics(raw in "\\PC{0,200}") {
            if let Ok(url) = UpstreamUrl::parse(&raw) {
                prop_assert!(url.as_str().to_ascii_lowercase().starts_with("http"));
                prop_assert!(!url.host().to_string().is_empty());
                let _ = url.port();
            }
        }

        #[test]
        fn every_private_v4_is_refused(a in 0u8..=255, b in 0u8..=255, c in 0u8..=255, d in 0u8..=255) {
            let ip = Ipv4Addr::new(a, b, c, d);
            if ip.is_private() || ip.is_loopback() || ip.is_link_local() {
                prop_assert!(DEFAULT.refuses(IpAddr::V4(ip)).is_some());
            }
        }
    }
}
