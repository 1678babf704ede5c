//! Gatehouse as an MCP client of its upstreams: the server health check and "Detect". It
//! connects with the server's upstream headers, under the operator's address policy, within a
//! bounded time, on its own HTTP client (never the gateway's pool), and says in words a person
//! can act on what it found or why it could not.
//!
//! Streamable HTTP is spoken by rmcp's client, which also negotiates the 2026-07-28 lifecycle
//! (`server/discover`) with a fallback to `initialize`. rmcp no longer has a client for the
//! 2024-11-05 HTTP+SSE transport, so that one is spoken here (`legacy_sse`).
mod legacy_sse;
mod listing;
mod resolver;
mod streamable;

use std::{sync::Arc, time::Duration};

use app::{
    servers::{
        Transport, UpstreamPolicy,
        health::{Discovery, Problem, ProblemKind},
    },
    state::{ProbeTarget, Probed, UpstreamProbe},
};

use crate::gateway::tool_rules::ReadOnlyTools;

pub use listing::discovery_from_lists;

#[derive(Clone)]
pub struct Prober {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest013::Client,
    policy: UpstreamPolicy,
    timeout: Duration,
    /// What a check finds read-only, the gateway's read-only rule knows at once.
    read_only: Arc<ReadOnlyTools>,
    /// Checks (and Detects) that run at once; more wait, within their time.
    permits: tokio::sync::Semaphore,
}

/// How many checks one process runs at once: anyone who may add a server may ask for one, so
/// their cost (a connection, buffers) is bounded.
const PROBES_AT_ONCE: usize = 4;
/// The most an upstream's answers may hold in one check (the 2024-11-05 event stream).
pub const MAX_PROBE_BYTES: usize = 8 * 1024 * 1024;

impl Prober {
    pub fn new(
        policy: UpstreamPolicy,
        connect_timeout: Duration,
        timeout: Duration,
        read_only: Arc<ReadOnlyTools>,
    ) -> anyhow::Result<Self> {
        // reqwest 0.13 (rmcp's) is built without a TLS provider of its own: ring, as everywhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest013::Client::builder()
            .redirect(reqwest013::redirect::Policy::none())
            // As the gateway's client: no proxy, which would bypass the address policy.
            .no_proxy()
            .dns_resolver(Arc::new(resolver::PolicyResolver::new(policy)))
            .connect_timeout(connect_timeout)
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(Self { inner: Arc::new(Inner { client, policy, timeout, read_only, permits: tokio::sync::Semaphore::new(PROBES_AT_ONCE) }) })
    }
}

impl UpstreamProbe for Prober {
    fn probe(&self, target: ProbeTarget) -> Probed {
        let inner = self.inner.clone();
        Box::pin(async move {
            let checked = async {
                let _permit = inner.permits.acquire().await;
                inner.probe(&target).await
            };
            let found = match tokio::time::timeout(inner.timeout, checked).await {
                Ok(found) => found,
                Err(_) => Err(Problem::new(
                    ProblemKind::Slow,
                    format!("It did not finish answering within {} s: the upstream is too slow or stuck.", inner.timeout.as_secs_f32()),
                )),
            };
            if let (Ok(discovery), Some(server)) = (&found, target.server) {
                inner.read_only.learn_checked(server, discovery.tools.iter().map(|t| (t.name.as_str(), t.read_only)));
            }
            found
        })
    }
}

impl Inner {
    async fn probe(&self, target: &ProbeTarget) -> Result<Discovery, Problem> {
        if let Some(refused) = self.refused_literal(&target.url) {
            return Err(refused);
        }
        match target.transport {
            Some(transport) => match self.speak(transport, target).await {
                Err(problem) if problem.kind == ProblemKind::NotMcp => {
                    let other = other(transport);
                    match self.speak(other, target).await {
                        Ok(_) => Err(Problem::new(
                            ProblemKind::WrongTransport,
                            format!(
                                "This URL answers MCP over {}, not {}: change the server's transport to {} (or press Detect).",
                                other.label(),
                                transport.label(),
                                other.label()
                            ),
                        )),
                        Err(_) => Err(problem),
                    }
                }
                spoken => spoken,
            },
            None => match self.speak(Transport::StreamableHttp, target).await {
                Err(first) if first.kind == ProblemKind::NotMcp => self.speak(Transport::Sse, target).await.map_err(|second| {
                    if second.kind == ProblemKind::NotMcp {
                        Problem::new(ProblemKind::NotMcp, format!("Neither transport answered as MCP. {}", first.message))
                    } else {
                        second
                    }
                }),
                spoken => spoken,
            },
        }
    }

    async fn speak(&self, transport: Transport, target: &ProbeTarget) -> Result<Discovery, Problem> {
        match transport {
            Transport::StreamableHttp => streamable::discover(&self.client, target).await,
            Transport::Sse => legacy_sse::discover(&self.client, target).await,
        }
    }

    /// An address-literal host the policy refuses (host names are checked by the resolver).
    fn refused_literal(&self, url: &url::Url) -> Option<Problem> {
        let ip: std::net::IpAddr = match url.host()? {
            url::Host::Ipv4(ip) => ip.into(),
            url::Host::Ipv6(ip) => ip.into(),
            url::Host::Domain(_) => return None,
        };
        self.policy.refuses(ip).map(|why| Problem::new(ProblemKind::AddressRefused, format!("{ip}: {why}.")))
    }
}

fn other(transport: Transport) -> Transport {
    match transport {
        Transport::Sse => Transport::StreamableHttp,
        Transport::StreamableHttp => Transport::Sse,
    }
}

/// A failed HTTP exchange, in the owner's words: unreachable (and why), too slow, or refused
/// by the address policy.
fn unreachable(err: &reqwest013::Error, url: &url::Url) -> Problem {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    let mut deepest = err.to_string();
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<resolver::Refused>() {
            return Problem::new(ProblemKind::AddressRefused, format!("{refused}."));
        }
        deepest = e.to_string();
        source = e.source();
    }
    let place = match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        _ => url.to_string(),
    };
    if err.is_timeout() {
        return Problem::new(ProblemKind::Slow, format!("{place} did not answer in time."));
    }
    if err.is_connect() {
        return Problem::new(ProblemKind::Unreachable, format!("Could not connect to {place}: {deepest}."));
    }
    Problem::new(ProblemKind::Unreachable, format!("The connection to {place} failed: {deepest}."))
}

/// A non-success HTTP status, in the owner's words.
fn status_problem(status: u16) -> Problem {
    let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    match status {
        401 | 403 => Problem::new(
            ProblemKind::Unauthorized,
            format!("The upstream refused Gatehouse (HTTP {status} {reason}): check the upstream headers it needs."),
        ),
        429 | 500..=599 => Problem::new(ProblemKind::Unreachable, format!("The upstream answered HTTP {status} {reason}.")),
        _ => Problem::new(ProblemKind::NotMcp, format!("It answered HTTP {status} {reason}, not as an MCP server: check the URL.")),
    }
}

/// The periodic checks: every server whose last check is older than `interval` is checked by
/// one process, and each process learns what the others' checks found about read-only tools.
pub struct Checks {
    pub interval: Option<Duration>,
    pub read_only: Arc<ReadOnlyTools>,
}

/// How many upstreams one process checks at once.
const CHECKS_AT_ONCE: usize = 4;

impl Checks {
    pub async fn run(self, state: app::state::AppState) {
        let tick = self.interval.map_or(Duration::from_secs(30), |every| every.min(Duration::from_secs(30)));
        let mut every = tokio::time::interval(tick);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut learned_until = chrono::DateTime::UNIX_EPOCH;
        loop {
            every.tick().await;
            if let Some(interval) = self.interval
                && let Err(err) = app::servers::ssr::check_due(&state, interval, CHECKS_AT_ONCE).await
            {
                tracing::warn!(%err, "could not run the periodic upstream checks");
            }
            match app::servers::health_ssr::discoveries_since(&state.db, learned_until).await {
                Ok(found) => {
                    for (server, checked_at, discovery) in found {
                        self.read_only.learn_checked(server, discovery.tools.iter().map(|t| (t.name.as_str(), t.read_only)));
                        learned_until = learned_until.max(checked_at);
                    }
                }
                Err(err) => tracing::warn!(%err, "could not read the upstream checks"),
            }
        }
    }
}
