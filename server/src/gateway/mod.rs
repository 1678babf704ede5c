//! The gateway: `/s/{server}/sse`, `/s/{server}/messages` and `/s/{server}/mcp`. Every request
//! is checked against the in-memory token view, then streamed to and from the upstream.
pub mod follower;
pub mod limits;
pub mod resolver;
pub mod sse;
pub mod streams;
pub mod usage;
pub mod verify;
pub mod view;

pub use verify::ViewCheck;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Body,
    extract::{ConnectInfo, Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use futures::TryStreamExt;
use serde_json::json;
use url::Url;
use uuid::Uuid;

use app::{servers::Transport, state::AppState};

use self::{
    follower::Freshness,
    limits::RateLimiter,
    sse::{EndpointRewriting, SessionBindings},
    streams::{Guarded, StreamRegistry},
    usage::UsageRecorder,
    verify::{Grant, Refusal},
    view::{ServerEntry, TokenView},
};

/// Gateway limits and timeouts.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub connect_timeout: Duration,
    /// How long the upstream may take to answer with headers.
    pub response_timeout: Duration,
    pub max_body_bytes: usize,
    /// How long idle upstream connections are kept for reuse.
    pub idle_timeout: Duration,
    /// How long a client may take to send a request body.
    pub body_read_timeout: Duration,
    /// Refuse (503) when the change events could not be read for this long.
    pub max_staleness: Duration,
    /// Requests per second per token (0: unlimited), and the burst allowed.
    pub requests_per_second: u32,
    pub burst: u32,
    /// Responses open at once per token (streams included); 0: unlimited.
    pub max_open_per_token: usize,
}

#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    app: AppState,
    view: Arc<TokenView>,
    streams: Arc<StreamRegistry>,
    freshness: Arc<Freshness>,
    sessions: Arc<SessionBindings>,
    usage: Arc<UsageRecorder>,
    limiter: RateLimiter,
    client: reqwest::Client,
    settings: GatewaySettings,
}

/// Request headers a client may pass to the upstream; everything else (its `Authorization`,
/// cookies, hop-by-hop headers) stays here.
const FORWARD_REQUEST: &[&str] = &[
    "accept", "content-type", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "last-event-id",
];
/// Response headers passed back to the client.
const FORWARD_RESPONSE: &[&str] = &["content-type", "mcp-session-id", "mcp-protocol-version", "cache-control", "retry-after"];

impl Gateway {
    pub fn new(
        app: AppState,
        view: Arc<TokenView>,
        streams: Arc<StreamRegistry>,
        freshness: Arc<Freshness>,
        usage: Arc<UsageRecorder>,
        settings: GatewaySettings,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(resolver::PolicyResolver::new(app.settings.upstream_policy)))
            .connect_timeout(settings.connect_timeout)
            .pool_idle_timeout(settings.idle_timeout)
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                limiter: RateLimiter::new(settings.requests_per_second, settings.burst),
                app, view, streams, freshness, sessions: Arc::default(), usage, client, settings,
            }),
        })
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/{server}/mcp", any(streamable_http))
            .route("/{server}/sse", get(sse_stream))
            .route("/{server}/messages", post(sse_message))
            .with_state(self)
    }

    /// The server and the grant for this request, or the answer refusing it.
    fn admit(&self, server: &str, headers: &HeaderMap, peer: SocketAddr) -> Result<(Arc<ServerEntry>, Grant), Response> {
        if !self.inner.freshness.is_fresh(self.inner.settings.max_staleness) {
            return Err(failure(StatusCode::SERVICE_UNAVAILABLE, "unavailable",
                "Gatehouse cannot confirm that this token is still valid right now. Try again shortly."));
        }
        let view = self.inner.view.read();
        let server = server.parse::<Uuid>().ok().and_then(|id| view.servers.get(&id).cloned());
        let authorization = headers.get(header::AUTHORIZATION);
        let Some(server) = server else {
            // An unknown server is refused like a foreign one: nothing says whether it exists.
            let refusal = verify::bearer(authorization).map(|_| Refusal::NotForThisServer).unwrap_or_else(|r| r);
            return Err(refuse(&refusal));
        };
        let settings = &self.inner.app.settings;
        match verify::check(&view, &server, authorization, &settings.issuer, &settings.audience, chrono::Utc::now()) {
            Ok(grant) => {
                if let Some(token) = grant.token {
                    self.within_limits(token, server.id)?;
                    self.inner.usage.admitted(token, server.id, Some(peer.ip().to_string()));
                }
                Ok((server, grant))
            }
            Err(refusal) => {
                tracing::info!(server = %server.id, reason = refusal.reason(), "gateway refused a request");
                let token = refusal.signature_verified().then(|| verify::bearer(authorization).ok().and_then(verify::claimed_id)).flatten();
                self.inner.usage.refused(token, server.id, refusal.reason());
                Err(refuse(&refusal))
            }
        }
    }

    fn within_limits(&self, token: Uuid, server: Uuid) -> Result<(), Response> {
        if let Err(wait) = self.inner.limiter.check(token) {
            self.inner.usage.refused(Some(token), server, "rate_limited");
            return Err(too_many("This token is sending requests too fast; slow down.", wait));
        }
        let max = self.inner.settings.max_open_per_token;
        if max > 0 && self.inner.streams.open_for_token(token) >= max {
            self.inner.usage.refused(Some(token), server, "too_many_streams");
            return Err(too_many(&format!("This token already has {max} open requests or streams; close one first."), Duration::from_secs(1)));
        }
        Ok(())
    }

    fn upstream_request(&self, method: Method, url: Url, server: &ServerEntry, headers: &HeaderMap) -> reqwest::RequestBuilder {
        let mut forwarded = reqwest::header::HeaderMap::new();
        for name in FORWARD_REQUEST {
            if let Some(value) = headers.get(*name) {
                forwarded.insert(*name, value.clone());
            }
        }
        for (name, value) in &server.headers {
            forwarded.insert(name.clone(), value.clone());
        }
        self.inner.client.request(method, url).headers(forwarded)
    }

    /// An upstream whose address the operator's policy refuses is never contacted.
    fn allowed_upstream(server: &ServerEntry) -> Result<(), Response> {
        match server.refused {
            Some(reason) => {
                tracing::warn!(server = %server.id, reason, "upstream address refused by policy");
                Err(failure(StatusCode::BAD_GATEWAY, "upstream_not_allowed",
                    "This server's upstream address is not allowed by this Gatehouse's policy. Its owner should point it elsewhere."))
            }
            None => Ok(()),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, server: Uuid) -> Result<reqwest::Response, Response> {
        match tokio::time::timeout(self.inner.settings.response_timeout, request.send()).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(err)) if err.is_timeout() => Err(upstream_timeout(server)),
            Ok(Err(err)) => {
                tracing::warn!(%server, error = %err, "upstream unreachable");
                Err(failure(StatusCode::BAD_GATEWAY, "upstream_unreachable",
                    "The MCP server behind this endpoint could not be reached. Its owner should check that it is running."))
            }
            Err(_) => Err(upstream_timeout(server)),
        }
    }

    async fn read_body(&self, body: Body) -> Result<bytes::Bytes, Response> {
        let settings = &self.inner.settings;
        match tokio::time::timeout(settings.body_read_timeout, axum::body::to_bytes(body, settings.max_body_bytes)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(_)) => Err(failure(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large",
                &format!("The request body is larger than {} bytes.", settings.max_body_bytes))),
            Err(_) => Err(failure(StatusCode::REQUEST_TIMEOUT, "request_timeout",
                &format!("The request body did not arrive within {}.", app::error::in_words(settings.body_read_timeout)))),
        }
    }

    /// Sends `request` upstream and streams the answer back.
    async fn relay(&self, request: reqwest::RequestBuilder, server: Uuid, grant: &Grant) -> Result<Response, Response> {
        let upstream = self.send(request, server).await?;
        let head = upstream_head(&upstream);
        let body = self.guarded_body(Box::pin(upstream.bytes_stream().map_err(io_error)), server, grant);
        Ok(self.stream_back(head, server, grant, body))
    }

    fn guarded_body<S>(&self, stream: S, server: Uuid, grant: &Grant) -> Body
    where
        S: futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Unpin + 'static,
    {
        let guard = self.inner.streams.register(grant.token, server);
        Body::from_stream(Guarded::new(stream, guard, grant.expires_at))
    }
}

fn io_error(err: reqwest::Error) -> std::io::Error {
    std::io::Error::other(err)
}

/// `/s/{server}/mcp`: Streamable HTTP, passed through (POST, and GET/DELETE where used).
async fn streamable_http(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(server): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Response> {
    let (server, grant) = gateway.admit(&server, &headers, peer)?;
    if server.transport != Transport::StreamableHttp {
        return Err(wrong_transport(server.id, "sse"));
    }
    if !matches!(method, Method::POST | Method::GET | Method::DELETE) {
        return Err(failure(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Use POST, GET or DELETE."));
    }
    Gateway::allowed_upstream(&server)?;
    let bytes = gateway.read_body(body).await?;
    let request = gateway.upstream_request(method, server.upstream.clone(), &server, &headers).body(bytes);
    gateway.relay(request, server.id, &grant).await
}

/// `/s/{server}/sse`: the upstream's event stream, with its endpoint rewritten.
async fn sse_stream(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let (server, grant) = gateway.admit(&server, &headers, peer)?;
    if server.transport != Transport::Sse {
        return Err(wrong_transport(server.id, "mcp"));
    }
    Gateway::allowed_upstream(&server)?;
    let request = gateway
        .upstream_request(Method::GET, server.upstream.clone(), &server, &headers)
        .header(header::ACCEPT, "text/event-stream");
    let upstream = gateway.send(request, server.id).await?;
    let head = upstream_head(&upstream);
    let rewritten = EndpointRewriting::new(
        Box::pin(upstream.bytes_stream().map_err(io_error)),
        server.upstream.clone(),
        server.id,
        grant.token,
        gateway.inner.sessions.clone(),
    );
    let body = gateway.guarded_body(rewritten, server.id, &grant);
    Ok(gateway.stream_back(head, server.id, &grant, body))
}

/// `/s/{server}/messages?…`: a message into an SSE session, from the token that opened it.
async fn sse_message(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(server): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Response> {
    let (server, grant) = gateway.admit(&server, &headers, peer)?;
    let Some(binding) = gateway.inner.sessions.get(server.id, query.as_deref().unwrap_or("")) else {
        return Err(failure(StatusCode::NOT_FOUND, "unknown_session",
            "No open SSE session has this message URL. Open /sse first and use the endpoint it sends."));
    };
    if binding.token != grant.token {
        return Err(refuse_with(true, "session_token_mismatch", "This session was opened with a different token; use that token."));
    }
    Gateway::allowed_upstream(&server)?;
    let bytes = gateway.read_body(body).await?;
    let request = gateway.upstream_request(Method::POST, binding.upstream, &server, &headers).body(bytes);
    gateway.relay(request, server.id, &grant).await
}

struct Head {
    status: StatusCode,
    headers: HeaderMap,
}

fn upstream_head(upstream: &reqwest::Response) -> Head {
    Head { status: upstream.status(), headers: upstream.headers().clone() }
}

impl Gateway {
    /// Streams the upstream's answer back, ended by revocation or by the token's expiry.
    fn stream_back(&self, head: Head, server: Uuid, grant: &Grant, body: Body) -> Response {
        let mut response = Response::builder().status(head.status);
        for name in FORWARD_RESPONSE {
            if let Some(value) = head.headers.get(*name) {
                response = response.header(*name, value);
            }
        }
        let is_stream = head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_stream {
            response = response.header("x-accel-buffering", "no");
        }
        tracing::debug!(%server, token = ?grant.token, status = %head.status, "proxied");
        response.body(body).unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

fn too_many(message: &str, wait: Duration) -> Response {
    let mut response = failure(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn upstream_timeout(server: Uuid) -> Response {
    tracing::warn!(%server, "upstream too slow");
    failure(StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", "The MCP server behind this endpoint did not answer in time.")
}

fn wrong_transport(server: Uuid, use_instead: &str) -> Response {
    failure(StatusCode::NOT_FOUND, "wrong_transport",
        &format!("This server uses the other MCP transport; connect to /s/{server}/{use_instead}."))
}

fn failure(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// 401 with `WWW-Authenticate` (RFC 6750).
fn refuse(refusal: &Refusal) -> Response {
    let code = if refusal.token_sent() { "invalid_token" } else { "token_required" };
    let mut response = refuse_with(refusal.token_sent(), code, &refusal.message());
    response.headers_mut().insert("x-gatehouse-refusal", HeaderValue::from_static(refusal.reason()));
    response
}

fn refuse_with(token_sent: bool, code: &str, message: &str) -> Response {
    let challenge = if token_sent {
        let description = message.replace('"', "'");
        format!("Bearer realm=\"gatehouse\", error=\"invalid_token\", error_description=\"{description}\"")
    } else {
        "Bearer realm=\"gatehouse\"".to_string()
    };
    let mut response = failure(StatusCode::UNAUTHORIZED, code, message);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
