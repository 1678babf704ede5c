//! The gateway: `/s/{server}/sse`, `/s/{server}/messages` and `/s/{server}/mcp`. Every request
//! is checked against the in-memory token view, then streamed to and from the upstream.
pub mod error;
pub mod follower;
pub mod limits;
pub mod mcp_session;
pub mod resolver;
pub mod sse;
pub mod streams;
pub mod tool_rules;
pub mod trimmed;
pub mod usage;
pub mod verify;
pub mod view;

pub use verify::LiveCheck;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Path, RawQuery, State},
    http::{HeaderMap, Method, StatusCode, Uri, header, uri::Authority},
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use futures::TryStreamExt;
use url::Url;
use uuid::Uuid;

use app::{servers::Transport, state::AppState};

use self::{
    error::GatewayError,
    follower::Freshness,
    limits::RateLimiter,
    mcp_session::SessionTags,
    sse::{EndpointRewriting, Injector, SessionBindings, ToolHooks},
    streams::{GrantedStream, Holder, StreamGuard, StreamRegistry},
    tool_rules::{ReadOnlyTools, Screened, Source},
    trimmed::TrimmedEvents,
    usage::UsageRecorder,
    verify::{Grant, Refusal},
    view::{AccessIndex, ServerEntry},
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
    /// Requests per second per token, or per client address on servers that need no token
    /// (0: unlimited), and the burst allowed.
    pub requests_per_second: u32,
    pub burst: u32,
    /// Responses open at once per token or address (streams included); 0: unlimited.
    pub max_open_per_token: usize,
}

#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    app: AppState,
    view: Arc<AccessIndex>,
    streams: Arc<StreamRegistry>,
    freshness: Arc<Freshness>,
    sessions: Arc<SessionBindings>,
    tags: SessionTags,
    usage: Arc<UsageRecorder>,
    limiter: RateLimiter,
    client: reqwest::Client,
    settings: GatewaySettings,
    /// Where this deployment is reached, for the host and origin checks.
    public: PublicAddress,
    /// Which tools each upstream says are read-only, for the read-only tool rule.
    read_only: Arc<ReadOnlyTools>,
    identity: Arc<crate::identity::Identity>,
}

/// A request that passed admission: the server, what its token grants, and its place among the
/// holder's open requests (held until the answer's last byte).
struct Admitted {
    server: Arc<ServerEntry>,
    grant: Grant,
    guard: StreamGuard,
}

/// Request headers a client may pass to the upstream; everything else (its `Authorization`,
/// cookies, hop-by-hop headers) stays here.
const FORWARD_REQUEST: &[&str] =
    &["accept", "content-type", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "last-event-id"];
/// Response headers passed back to the client.
const FORWARD_RESPONSE: &[&str] = &["content-type", "mcp-session-id", "mcp-protocol-version", "cache-control", "retry-after"];
const MCP_SESSION_ID: &str = "mcp-session-id";
/// The most of a call's arguments the audit keeps (characters).
const MAX_AUDITED_ARGUMENTS: usize = 16 * 1024;

/// What the gateway shares with the rest of the process: the token view and its freshness, the
/// open streams, usage counts, and what is known of read-only tools.
pub struct Shared {
    pub view: Arc<AccessIndex>,
    pub streams: Arc<StreamRegistry>,
    pub freshness: Arc<Freshness>,
    pub usage: Arc<UsageRecorder>,
    pub read_only: Arc<ReadOnlyTools>,
    /// Signs the assertions that tell upstreams who is calling.
    pub identity: Arc<crate::identity::Identity>,
}

impl Gateway {
    pub fn new(app: AppState, shared: Shared, tags: SessionTags, settings: GatewaySettings) -> anyhow::Result<Self> {
        let Shared { view, streams, freshness, usage, read_only, identity } = shared;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // HTTP(S)_PROXY would send every upstream's name to the proxy and connect through
            // it, past the resolver that applies the address policy: never.
            .no_proxy()
            .dns_resolver(Arc::new(resolver::PolicyResolver::new(app.settings.upstream_policy)))
            .connect_timeout(settings.connect_timeout)
            .pool_idle_timeout(settings.idle_timeout)
            .build()?;
        let public = PublicAddress::of(&app.settings.public_url)?;
        Ok(Self {
            inner: Arc::new(Inner {
                limiter: RateLimiter::new(settings.requests_per_second, settings.burst),
                app,
                view,
                streams,
                freshness,
                sessions: Arc::default(),
                tags,
                usage,
                client,
                settings,
                public,
                read_only,
                identity,
            }),
        })
    }

    pub fn router(self) -> Router {
        // Browser clients (the MCP Inspector) call endpoints from their own origin: preflights
        // are answered here, before any token check, and the challenge and session headers are
        // readable. Tokens travel in `Authorization`, never cookies, so no site gains anything
        // a script could not do with the token itself; servers that need no token still refuse
        // pages of other sites (`PublicAddress::check`).
        let cors = tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::Any)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers(
                std::iter::once("authorization")
                    .chain(FORWARD_REQUEST.iter().copied())
                    .map(http::HeaderName::from_static)
                    .collect::<Vec<_>>(),
            )
            .expose_headers(
                ["www-authenticate", "mcp-session-id", "mcp-protocol-version", "x-gatehouse-refusal", "retry-after"]
                    .map(http::HeaderName::from_static),
            );
        Router::new()
            .route("/{server}/mcp", any(streamable_http))
            .route("/{server}/sse", get(sse_stream))
            .route("/{server}/messages", post(sse_message))
            .layer(cors)
            .with_state(self)
    }

    /// The server, the grant and a place among the holder's open requests, or the refusal.
    /// Refusals are counted here; what happens after admission is counted by [`Self::counted`].
    fn admit(&self, server: &str, headers: &HeaderMap, authority: Option<&Authority>, peer: SocketAddr) -> Result<Admitted, GatewayError> {
        if !self.inner.freshness.is_fresh(self.inner.settings.max_staleness) {
            return Err(GatewayError::Unavailable);
        }
        let view = self.inner.view.read();
        let server = server.parse::<Uuid>().ok().and_then(|id| view.servers.get(&id).cloned());
        let authorization = headers.get(header::AUTHORIZATION);
        let Some(server) = server else {
            // An unknown server is refused like a foreign one: nothing says whether it exists.
            let refusal = verify::bearer(authorization).map(|_| Refusal::NotForThisServer).unwrap_or_else(|r| r);
            return Err(refusal.into());
        };
        if !server.require_token {
            // Nothing but the network stands in front of a server that needs no token, so a
            // page of another site must not reach it through the browser (DNS rebinding).
            if let Err(error) = self.inner.public.check(headers, authority) {
                return Err(self.refused(None, server.id, error));
            }
        }
        let settings = &self.inner.app.settings;
        let checking = std::time::Instant::now();
        let checked = verify::check(&view, &server, authorization, &settings.issuer, &settings.audience, chrono::Utc::now());
        metrics::histogram!(crate::metrics::TOKEN_CHECK_SECONDS).record(checking.elapsed().as_secs_f64());
        let grant = match checked {
            Ok(grant) => grant,
            Err(refusal) => {
                tracing::info!(server = %server.id, reason = refusal.reason(), "gateway refused a request");
                let token = refusal
                    .signature_verified()
                    .then(|| verify::bearer(authorization).ok().and_then(app::tokens::ssr::claimed_token_id))
                    .flatten();
                return Err(self.refused(token, server.id, refusal.into()));
            }
        };
        if let Some(token) = grant.token
            && let Some(networks) = view.tokens.get(&token).and_then(|t| t.networks.as_deref())
            && !app::tokens::networks::allows(networks, peer.ip())
        {
            drop(view);
            tracing::info!(server = %server.id, %token, client = %peer.ip(), "gateway refused a token outside its allowed addresses");
            return Err(self.refused(Some(token), server.id, GatewayError::AddressNotAllowed));
        }
        drop(view);
        let holder = grant.token.map_or(Holder::Address(peer.ip()), Holder::Token);
        if let Err(wait) = self.inner.limiter.check(holder) {
            return Err(self.refused(grant.token, server.id, GatewayError::RateLimited { wait }));
        }
        let guard = match self.inner.streams.try_register(grant.token, server.id, holder, self.inner.settings.max_open_per_token) {
            Ok(guard) => guard,
            Err(at_limit) => return Err(self.refused(grant.token, server.id, GatewayError::TooManyOpen { max: at_limit.0 })),
        };
        if let Some(token) = grant.token {
            self.inner.usage.admitted(token, Some(peer.ip().to_string()));
            if grant.unnamed
                && let Ok(presented) = verify::bearer(authorization)
            {
                self.inner.usage.name(token, presented);
            }
        }
        Ok(Admitted { server, grant, guard })
    }

    /// The response to a request for `server`'s `endpoint`. A 401 for a server that offers
    /// OAuth names its protected resource metadata, so that clients can sign in (RFC 9728 §5.1).
    fn answer(&self, server: &str, endpoint: &str, result: Result<Response, GatewayError>) -> Response {
        let error = match result {
            Ok(response) => return response,
            Err(error) => error,
        };
        let mut response = error.into_response();
        if response.status() != StatusCode::UNAUTHORIZED {
            return response;
        }
        let offers_oauth = server.parse::<Uuid>().ok().filter(|id| self.inner.view.read().servers.get(id).is_some_and(|s| s.oauth));
        if let Some(id) = offers_oauth
            && let Some(challenge) = response.headers().get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok())
        {
            let params = crate::oauth::challenge_params(&self.inner.app.settings.public_url, id, endpoint);
            if let Ok(value) = http::HeaderValue::from_str(&format!("{challenge}, {params}")) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }

    /// Counts a request that failed as `error` and returns the error.
    fn refused(&self, token: Option<Uuid>, server: Uuid, error: GatewayError) -> GatewayError {
        self.inner.usage.failed(token, server, error.reason());
        let server = server.to_string();
        metrics::counter!(crate::metrics::GATEWAY_REQUESTS, "server" => server.clone(), "outcome" => "failed").increment(1);
        metrics::counter!(crate::metrics::GATEWAY_REFUSALS, "server" => server, "reason" => error.reason()).increment(1);
        error
    }

    /// Counts what became of an admitted request: a success only when the upstream answered.
    fn counted(&self, token: Option<Uuid>, server: Uuid, result: Result<Response, GatewayError>) -> Result<Response, GatewayError> {
        match result {
            Ok(response) => {
                self.inner.usage.answered(token, server);
                metrics::counter!(crate::metrics::GATEWAY_REQUESTS, "server" => server.to_string(), "outcome" => "answered").increment(1);
                Ok(response)
            }
            Err(error) => Err(self.refused(token, server, error)),
        }
    }

    fn upstream_request(
        &self,
        method: Method,
        url: Url,
        server: &ServerEntry,
        grant: &Grant,
        headers: &HeaderMap,
    ) -> reqwest::RequestBuilder {
        let mut forwarded = reqwest::header::HeaderMap::new();
        for name in FORWARD_REQUEST {
            if let Some(value) = headers.get(*name) {
                forwarded.insert(*name, value.clone());
            }
        }
        for (name, value) in &server.headers {
            forwarded.insert(name.clone(), value.clone());
        }
        if let (Some(identity), Some(token)) = (&server.identity, grant.token)
            && let Some(assertion) = self.assertion(server, &identity.audience, token)
        {
            forwarded.insert(identity.header.clone(), assertion);
        }
        self.inner.client.request(method, url).headers(forwarded)
    }

    /// The signed statement of who holds `token`, for `server`'s upstream.
    fn assertion(&self, server: &ServerEntry, audience: &str, token: Uuid) -> Option<http::HeaderValue> {
        let caller = {
            let view = self.inner.view.read();
            let entry = view.tokens.get(&token)?;
            let role = view.members.get(&entry.maker)?.iter().find(|(org, _)| *org == entry.organisation)?.1;
            crate::identity::Caller {
                sub: entry.maker,
                email: view.emails.get(&entry.maker).map(|e| e.to_string()).unwrap_or_default(),
                org: entry.organisation,
                role: role.as_str(),
                token_id: token,
            }
        };
        self.inner.identity.assertion(server.id, audience, &caller)
    }

    /// An upstream whose address the operator's policy refuses is never contacted.
    fn allowed_upstream(server: &ServerEntry) -> Result<(), GatewayError> {
        match server.refused {
            Some(reason) => {
                tracing::warn!(server = %server.id, reason, "upstream address refused by policy");
                Err(GatewayError::UpstreamNotAllowed)
            }
            None => Ok(()),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, server: Uuid) -> Result<reqwest::Response, GatewayError> {
        let sent = std::time::Instant::now();
        match tokio::time::timeout(self.inner.settings.response_timeout, request.send()).await {
            Ok(Ok(response)) => {
                metrics::histogram!(crate::metrics::UPSTREAM_SECONDS, "server" => server.to_string()).record(sent.elapsed().as_secs_f64());
                Ok(response)
            }
            Ok(Err(err)) if !err.is_timeout() => {
                tracing::warn!(%server, error = %err, "upstream unreachable");
                Err(GatewayError::UpstreamUnreachable)
            }
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(%server, "upstream too slow");
                Err(GatewayError::UpstreamTimeout)
            }
        }
    }

    async fn read_body(&self, body: Body) -> Result<bytes::Bytes, GatewayError> {
        let settings = &self.inner.settings;
        match tokio::time::timeout(settings.body_read_timeout, axum::body::to_bytes(body, settings.max_body_bytes)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(_)) => Err(GatewayError::PayloadTooLarge { max: settings.max_body_bytes }),
            Err(_) => Err(GatewayError::RequestTimeout { after: settings.body_read_timeout }),
        }
    }

    /// Decides on a request body under the token's tool rule and the SEP-2243 headers. A batch's
    /// refused calls are counted here (the rest of it goes on); a request refused whole is
    /// counted with the other refusals.
    /// Screens a request body under the token's tool rule, counting its calls by tool and
    /// recording the refused ones on servers that audit them. Returns the calls forwarded, for
    /// the audit once the upstream answered.
    fn screen(
        &self,
        body: bytes::Bytes,
        headers: &HeaderMap,
        server: &ServerEntry,
        grant: &Grant,
    ) -> Result<(Screened, Vec<tool_rules::Called>), GatewayError> {
        let read_only = |tool: &str| self.inner.read_only.is_read_only(server.id, tool);
        let called = match grant.token {
            Some(_) => tool_rules::called_tools(
                &body,
                server.tool_audit != app::servers::ToolAudit::Off,
                server.tool_audit == app::servers::ToolAudit::Arguments,
            ),
            None => Vec::new(),
        };
        // A server that audits its calls reads every body strictly, as under a rule that allows
        // every tool: a body it cannot read exactly (an escaped method, a key given twice) is
        // refused rather than run unrecorded.
        let audits = server.tool_audit != app::servers::ToolAudit::Off && grant.token.is_some();
        let rule = grant.tools.as_deref().or(audits.then_some(&tool_rules::EVERY_TOOL));
        let screened = tool_rules::screen(body, headers, rule, read_only);
        let refused: Vec<&str> = match &screened {
            Ok(screened) => screened.refused_tools.iter().map(String::as_str).collect(),
            // The whole body was refused: every call in it was.
            Err(_) => called.iter().map(|c| c.tool.as_str()).collect(),
        };
        let mut forwarded = Vec::new();
        if let Some(token) = grant.token {
            let mut left = refused;
            for call in &called {
                let was_refused = left.iter().position(|r| *r == call.tool).map(|at| left.swap_remove(at)).is_some();
                self.inner.usage.tool_called(token, server.id, &call.tool, was_refused);
                if was_refused {
                    self.audit_call(server, token, call, "refused");
                } else if screened.is_ok() {
                    forwarded.push(call.clone());
                }
            }
        }
        let screened = screened.inspect_err(|refused| {
            tracing::info!(server = %server.id, reason = refused.reason(), "gateway refused a JSON-RPC request");
        })?;
        for tool in &screened.refused_tools {
            tracing::info!(server = %server.id, tool, "tool call refused by the token's tool rule");
            self.inner.usage.failed(grant.token, server.id, "tool_not_allowed");
        }
        Ok((screened, forwarded))
    }

    /// Records one tool call on a server that audits them.
    fn audit_call(&self, server: &ServerEntry, token: Uuid, call: &tool_rules::Called, outcome: &str) {
        if server.tool_audit == app::servers::ToolAudit::Off {
            return;
        }
        let Some(member) = self.inner.view.read().tokens.get(&token).map(|t| t.maker) else { return };
        self.inner.usage.tool_call(usage::AuditedCall {
            server: server.id,
            token,
            member,
            // The client's words: control characters dropped (PostgreSQL refuses NUL) and cut to
            // the column's 128 characters; arguments cut at MAX_AUDITED_ARGUMENTS bytes.
            tool: call.tool.chars().filter(|c| !c.is_control()).take(128).collect(),
            outcome: outcome.to_string(),
            arguments: call.arguments.as_deref().map(|a| match a.char_indices().nth(MAX_AUDITED_ARGUMENTS) {
                Some((cut, _)) => format!("{}…", &a[..cut]),
                None => a.to_string(),
            }),
        });
    }

    /// Records the forwarded calls with what the upstream answered.
    fn audit_forwarded(
        &self,
        server: &ServerEntry,
        grant: &Grant,
        calls: &[tool_rules::Called],
        sent: &Result<reqwest::Response, GatewayError>,
    ) {
        let (Some(token), false) = (grant.token, calls.is_empty()) else { return };
        let outcome = match sent {
            Ok(response) if response.status().is_success() => "ok".to_string(),
            Ok(response) => format!("upstream_http_{}", response.status().as_u16()),
            Err(error) => error.code().to_string(),
        };
        for call in calls {
            self.audit_call(server, token, call, &outcome);
        }
    }

    /// The upstream's answer with `tools/list` trimmed and the batch's refusals added: an event
    /// stream event by event, a JSON answer whole (bounded like a request body).
    async fn rewritten_body(
        &self,
        upstream: reqwest::Response,
        admitted: Admitted,
        screened: &Screened,
    ) -> Result<(Head, Body), GatewayError> {
        let mut head = upstream_head(&upstream);
        let rule = admitted.grant.tools.clone();
        let server = admitted.server.id;
        if is_event_stream(&head.headers) {
            let events = TrimmedEvents::new(
                Box::pin(upstream.bytes_stream().map_err(io_error)),
                rule,
                server,
                self.inner.read_only.clone(),
                &screened.refusals,
            );
            let stream = GrantedStream::new(Box::pin(events), admitted.guard, admitted.grant.expires_at);
            return Ok((head, Body::from_stream(stream)));
        }
        let limit = self.inner.settings.max_body_bytes.saturating_mul(4);
        let mut answer = Vec::new();
        let mut chunks = upstream.bytes_stream();
        while let Some(chunk) = chunks.try_next().await.map_err(|_| GatewayError::UpstreamUnreachable)? {
            if answer.len() + chunk.len() > limit {
                tracing::warn!(%server, limit, "an upstream JSON answer to trim was too large");
                return Err(GatewayError::UpstreamUnreachable);
            }
            answer.extend_from_slice(&chunk);
        }
        let source = Source { server, read_only: &self.inner.read_only };
        let merged = tool_rules::merged_json(&answer, rule.as_deref(), source, &screened.refusals);
        head.headers.remove(header::CONTENT_LENGTH);
        drop(admitted);
        Ok((head, Body::from(merged)))
    }

    /// The upstream's answer as a body that ends when the grant does.
    fn granted_body(upstream: reqwest::Response, admitted: Admitted) -> (Head, Body) {
        let head = upstream_head(&upstream);
        let stream = GrantedStream::new(Box::pin(upstream.bytes_stream().map_err(io_error)), admitted.guard, admitted.grant.expires_at);
        (head, Body::from_stream(stream))
    }
}

fn io_error(err: reqwest::Error) -> std::io::Error {
    std::io::Error::other(err)
}

/// `/s/{server}/mcp`: Streamable HTTP, passed through (POST, and GET/DELETE where used).
async fn streamable_http(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    Path(server): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let admitted = gateway.admit(&server, &headers, uri.authority(), peer)?;
        let (token, server) = (admitted.grant.token, admitted.server.id);
        let result = gateway.streamable(admitted, method, headers, body).await;
        gateway.counted(token, server, result)
    }
    .await;
    gateway.answer(&server, "mcp", result)
}

impl Gateway {
    async fn streamable(&self, admitted: Admitted, method: Method, mut headers: HeaderMap, body: Body) -> Result<Response, GatewayError> {
        let server = admitted.server.clone();
        let token = admitted.grant.token;
        if server.transport != Transport::StreamableHttp {
            return Err(GatewayError::WrongTransport { server: server.id, use_instead: "sse" });
        }
        if !matches!(method, Method::POST | Method::GET | Method::DELETE) {
            return Err(GatewayError::MethodNotAllowed);
        }
        Self::allowed_upstream(&server)?;
        if let Some(tagged) = headers.get(MCP_SESSION_ID) {
            let session = self.inner.tags.for_upstream(server.id, token, tagged)?;
            headers.insert(MCP_SESSION_ID, session);
        }
        let bytes = self.read_body(body).await?;
        let (screened, calls) = self.screen(bytes, &headers, &server, &admitted.grant)?;
        let request =
            self.upstream_request(method, server.upstream.clone(), &server, &admitted.grant, &headers).body(screened.forward.clone());
        let sent = self.send(request, server.id).await;
        self.audit_forwarded(&server, &admitted.grant, &calls, &sent);
        let upstream = sent?;
        let grant = admitted.grant.clone();
        let (mut head, body) = if screened.changes_answer(grant.tools.is_some()) {
            self.rewritten_body(upstream, admitted, &screened).await?
        } else {
            Self::granted_body(upstream, admitted)
        };
        if let Some(session) = head.headers.remove(MCP_SESSION_ID)
            && let Some(tagged) = self.inner.tags.for_client(server.id, token, &session)
        {
            head.headers.insert(MCP_SESSION_ID, tagged);
        }
        Ok(self.stream_back(head, server.id, &grant, body))
    }
}

/// `/s/{server}/sse`: the upstream's event stream, with its endpoint rewritten.
async fn sse_stream(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let admitted = gateway.admit(&server, &headers, uri.authority(), peer)?;
        let (token, server) = (admitted.grant.token, admitted.server.id);
        let result = gateway.sse(admitted, headers).await;
        gateway.counted(token, server, result)
    }
    .await;
    gateway.answer(&server, "sse", result)
}

impl Gateway {
    async fn sse(&self, admitted: Admitted, headers: HeaderMap) -> Result<Response, GatewayError> {
        let server = admitted.server.clone();
        if server.transport != Transport::Sse {
            return Err(GatewayError::WrongTransport { server: server.id, use_instead: "mcp" });
        }
        Self::allowed_upstream(&server)?;
        let request = self
            .upstream_request(Method::GET, server.upstream.clone(), &server, &admitted.grant, &headers)
            .header(header::ACCEPT, "text/event-stream");
        let upstream = self.send(request, server.id).await?;
        let head = upstream_head(&upstream);
        let Admitted { grant, guard, .. } = admitted;
        let mut rewritten = EndpointRewriting::new(
            Box::pin(upstream.bytes_stream().map_err(io_error)),
            server.upstream.clone(),
            server.id,
            grant.token,
            self.inner.sessions.clone(),
        );
        if let Some(token) = grant.token {
            // The rule is read at each tools/list answer, so a changed rule applies to an open
            // stream at once; refused calls are answered on this stream.
            let (inject, inbox) = Injector::channel();
            let (view, server) = (self.inner.view.clone(), server.id);
            let rule = Arc::new(move || view.read().links.get(&(token, server)).cloned().flatten());
            rewritten = rewritten.with_tools(ToolHooks { rule, inject, inbox, read_only: self.inner.read_only.clone() });
        }
        let body = Body::from_stream(GrantedStream::new(rewritten, guard, grant.expires_at));
        Ok(self.stream_back(head, server.id, &grant, body))
    }
}

/// `/s/{server}/messages?…`: a message into an SSE session, from the token that opened it.
async fn sse_message(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    Path(server): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let admitted = gateway.admit(&server, &headers, uri.authority(), peer)?;
        let (token, server) = (admitted.grant.token, admitted.server.id);
        let result = gateway.sse_message(admitted, query, headers, body).await;
        gateway.counted(token, server, result)
    }
    .await;
    gateway.answer(&server, "sse", result)
}

impl Gateway {
    async fn sse_message(
        &self,
        admitted: Admitted,
        query: Option<String>,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response, GatewayError> {
        let server = admitted.server.clone();
        let binding = self.inner.sessions.get(server.id, query.as_deref().unwrap_or("")).ok_or(GatewayError::UnknownSession)?;
        if binding.token != admitted.grant.token {
            return Err(GatewayError::SessionTokenMismatch);
        }
        Self::allowed_upstream(&server)?;
        let bytes = self.read_body(body).await?;
        let (screened, calls) =
            self.screen(bytes, &headers, &server, &admitted.grant).map_err(|refused| match (&refused, &binding.inject) {
                // On this transport every answer travels on the session's stream.
                (GatewayError::ToolNotAllowed { answer: Some(answer) }, Some(inject)) => {
                    inject.send(answer);
                    GatewayError::ToolNotAllowed { answer: None }
                }
                _ => refused,
            })?;
        if let Some(inject) = &binding.inject {
            screened.refusals.iter().for_each(|answer| _ = inject.send(answer));
        }
        let request = self.upstream_request(Method::POST, binding.upstream, &server, &admitted.grant, &headers).body(screened.forward);
        let sent = self.send(request, server.id).await;
        self.audit_forwarded(&server, &admitted.grant, &calls, &sent);
        let upstream = sent?;
        let grant = admitted.grant.clone();
        let (head, body) = Self::granted_body(upstream, admitted);
        Ok(self.stream_back(head, server.id, &grant, body))
    }
}

struct Head {
    status: StatusCode,
    headers: HeaderMap,
}

/// Whether an answer is an event stream (SSE), which goes on event by event.
fn is_event_stream(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"))
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
        if is_event_stream(&head.headers) {
            response = response.header("x-accel-buffering", "no");
        }
        tracing::debug!(%server, token = ?grant.token, status = %head.status, "proxied");
        response.body(body).unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

/// This deployment's public host and origin. Requests to servers that need no token must name
/// that host (`Host`), and when a browser says where they come from (`Origin`), come from it.
struct PublicAddress {
    host: String,
    port: u16,
    origin: String,
}

impl PublicAddress {
    fn of(public_url: &str) -> anyhow::Result<Self> {
        let url = Url::parse(public_url)?;
        let host = url.host_str().ok_or_else(|| anyhow::anyhow!("the public URL {public_url} has no host"))?;
        let port = url.port_or_known_default().ok_or_else(|| anyhow::anyhow!("the public URL {public_url} has no port"))?;
        Ok(Self { host: host.to_ascii_lowercase(), port, origin: url.origin().ascii_serialization() })
    }

    /// `authority` is the request URI's, which HTTP/2 sends instead of `Host`.
    fn check(&self, headers: &HeaderMap, authority: Option<&Authority>) -> Result<(), GatewayError> {
        let default_port = if self.origin.starts_with("https:") { 443 } else { 80 };
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<Authority>().ok());
        let host_matches = host.as_ref().or(authority).is_some_and(|a| {
            let host = a.host().trim_start_matches('[').trim_end_matches(']');
            let ours = self.host.trim_start_matches('[').trim_end_matches(']');
            // A deployment on loopback answers to each of loopback's names: no other site
            // can be given one of them.
            let same = host.eq_ignore_ascii_case(ours) || (is_loopback(ours) && is_loopback(host));
            same && a.port_u16().unwrap_or(default_port) == self.port
        });
        if !host_matches {
            return Err(GatewayError::HostNotAllowed);
        }
        match headers.get(header::ORIGIN) {
            Some(origin) if origin.as_bytes() != self.origin.as_bytes() => Err(GatewayError::CrossSiteOrigin),
            _ => Ok(()),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
