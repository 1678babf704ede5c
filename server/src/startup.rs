//! Building and running the whole app: tests call `Application::build` with port 0.
use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{Router, middleware, routing::get};
use http::{HeaderValue, header};
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, file_and_error_handler, generate_route_list};
use tokio::net::TcpListener;
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use tower_sessions::{ExpiredDeletion, Expiry, SessionManagerLayer, cookie::SameSite};
use url::Url;

use app::{
    App,
    accounts::ssr::password::PasswordHasher,
    secrets::Cipher,
    server_fns::TakenFromSession,
    shell,
    state::{AppState, Settings},
};

use crate::{
    api,
    config::Config,
    db,
    gateway::{
        Gateway, GatewaySettings, LiveCheck, Shared,
        follower::{ChangeFollower, Patience},
        mcp_session::SessionTags,
        streams::StreamRegistry,
        tool_rules::ReadOnlyTools,
        usage::{UsageRecorder, run_flusher},
        view::AccessIndex,
    },
    master_key::MasterKey,
    ops,
    origin_check::{TrustedOrigin, refuse_cross_site},
    probe::Prober,
    sessions::DbSessionStore,
};

const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct Application {
    listener: TcpListener,
    router: Router,
    public_url: Url,
    state: AppState,
    follower: ChangeFollower,
    streams: Arc<StreamRegistry>,
    usage: Arc<UsageRecorder>,
    usage_flush: Duration,
    header_read_timeout: Duration,
    tls: Option<Arc<crate::tls::Certificates>>,
    /// `/metrics` on a listener of its own (`metrics_bind`).
    metrics: Option<(TcpListener, Router)>,
    retention: crate::retention::Retention,
    checks: crate::probe::Checks,
    identity: Arc<crate::identity::Identity>,
}

impl Application {
    /// Connects to the database, applies pending migrations, loads the master key and binds
    /// the listener. Nothing is served until `run_until_stopped`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let tls = config.tls_files()?.map(|(cert, key)| crate::tls::Certificates::load(cert, key)).transpose()?;
        let listener = TcpListener::bind(config.bind).await?;
        let bound = listener.local_addr()?;
        let public_url = config.public_url(bound);
        let Opened { state, view, master_key, read_only } = open(&config, &public_url, bound).await?;
        app::servers::ssr::seal_stored_queries(&state).await.map_err(|e| anyhow::anyhow!("sealing upstream URL queries: {e}"))?;
        let streams = Arc::new(StreamRegistry::default());
        let patience = Patience {
            poll: Duration::from_millis(config.events_poll_ms.max(1)),
            gap_watch: Duration::from_millis(config.events_gap_watch_ms),
            reconcile: (config.events_reconcile_ms > 0).then(|| Duration::from_millis(config.events_reconcile_ms)),
        };
        let (follower, freshness) = ChangeFollower::start(state.clone(), view.clone(), streams.clone(), patience).await?;
        let metrics = crate::metrics::page::Sources {
            state: state.clone(),
            streams: streams.clone(),
            freshness: freshness.clone(),
            handle: crate::metrics::handle(),
            allow_remote: config.metrics_allow_remote,
        };
        let usage = Arc::new(UsageRecorder::default());
        let tags = SessionTags::new(master_key.bytes());
        let identity = crate::identity::Identity::new(state.clone());
        identity.refresh().await.map_err(|e| anyhow::anyhow!("loading the identity keys: {e}"))?;
        let gateway = Gateway::new(
            state.clone(),
            Shared {
                view,
                streams: streams.clone(),
                freshness,
                usage: usage.clone(),
                read_only: read_only.clone(),
                identity: identity.clone(),
            },
            tags,
            GatewaySettings {
                connect_timeout: Duration::from_millis(config.upstream_connect_timeout_ms),
                response_timeout: Duration::from_millis(config.upstream_response_timeout_ms),
                max_body_bytes: config.gateway_max_body_bytes,
                body_read_timeout: config.body_read_timeout(),
                idle_timeout: Duration::from_millis(config.upstream_idle_timeout_ms),
                max_staleness: Duration::from_millis(config.events_max_staleness_ms),
                requests_per_second: config.token_requests_per_second,
                burst: config.token_burst,
                max_open_per_token: config.token_max_open,
            },
        )?;
        let (main_metrics, own_metrics) = match config.metrics_bind {
            None => (Some(metrics), None),
            Some(address) => {
                let listener = TcpListener::bind(address).await.map_err(|e| anyhow::anyhow!("metrics_bind {address}: {e}"))?;
                let router = Router::new()
                    .route("/metrics", get(crate::metrics::page::serve_metrics))
                    .with_state(crate::metrics::page::Sources { allow_remote: true, ..metrics });
                (None, Some((listener, router)))
            }
        };
        let metadata_ca = match &config.oauth_metadata_ca {
            Some(path) => Some(std::fs::read(path).map_err(|e| anyhow::anyhow!("oauth_metadata_ca {}: {e}", path.display()))?),
            None => None,
        };
        // Anyone may name a client id URL, so its fetch has a policy of its own, stricter than
        // the upstreams' (those are set by signed-in owners): no loopback or private address
        // unless the operator says so for metadata documents in particular.
        let metadata_policy = app::servers::UpstreamPolicy {
            allow_loopback: config.oauth_metadata_allow_loopback,
            allow_private: config.oauth_metadata_allow_private,
        };
        let documents = crate::oauth::documents::ClientDocuments::new(metadata_policy, metadata_ca.as_deref())?;
        let oauth = crate::oauth::OAuth::new(state.clone(), documents, config.oauth_registrations_per_minute);
        let router = router(state.clone(), &config, &public_url, gateway, oauth, main_metrics)
            .route("/.well-known/jwks.json", get(crate::identity::serve_jwks).with_state(identity.clone()));
        Ok(Self {
            listener,
            router,
            public_url,
            state,
            follower,
            streams,
            usage,
            usage_flush: Duration::from_millis(config.usage_flush_ms.max(10)),
            header_read_timeout: Duration::from_millis(config.header_read_timeout_ms.max(100)),
            tls,
            metrics: own_metrics,
            retention: crate::retention::Retention::from_config(&config),
            identity,
            checks: crate::probe::Checks {
                interval: (config.upstream_check_interval_s > 0).then(|| Duration::from_secs(config.upstream_check_interval_s)),
                read_only,
            },
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The gateway's usage recorder (tests flush it on demand).
    pub fn usage(&self) -> Arc<UsageRecorder> {
        self.usage.clone()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let address = self.address();
        let Application {
            listener,
            router,
            public_url,
            state,
            follower,
            streams,
            usage,
            usage_flush,
            header_read_timeout,
            tls,
            metrics,
            retention,
            checks,
            identity,
        } = self;
        let store = DbSessionStore::new(state.db.clone());
        let db = state.db.clone();
        let sweeper = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                every.tick().await;
                if let Err(err) = store.delete_expired().await {
                    tracing::warn!(%err, "could not delete expired sessions");
                }
                if let Err(err) = app::accounts::ssr::throttle::forget_old(&db, chrono::Utc::now()).await {
                    tracing::warn!(%err, "could not delete old login counters");
                }
            }
        });
        let follower = tokio::spawn(follower.run());
        let flusher = tokio::spawn(run_flusher(usage.clone(), state.db.clone(), usage_flush));
        let trimmer = tokio::spawn(crate::memory::give_back_after_streams_end(streams.clone(), Duration::from_secs(5)));
        let retainer = tokio::spawn(retention.run(state.clone()));
        let checker = tokio::spawn(checks.run(state.clone()));
        let rotator = tokio::spawn(identity.run());
        let reloader = tls.clone().map(|certificates| tokio::spawn(certificates.watch()));
        let metrics_server = metrics.map(|(listener, router)| {
            tokio::spawn(crate::serve::serve(listener, router, header_read_timeout, None, std::future::pending(), Duration::ZERO))
        });
        tracing::info!(%address, %public_url, "Gatehouse is listening");
        let stopping = async move {
            shutdown.await;
            // Open streams would hold the shutdown forever; end them so requests drain.
            streams.end_all();
        };
        let acceptor = tls.as_ref().map(|certificates| certificates.acceptor());
        crate::serve::serve(listener, router, header_read_timeout, acceptor, stopping, Duration::from_secs(30)).await;
        for task in [Some(retainer), Some(checker), Some(rotator), reloader, metrics_server].into_iter().flatten() {
            task.abort();
        }
        sweeper.abort();
        follower.abort();
        flusher.abort();
        trimmer.abort();
        if let Err(err) = usage.flush(&state.db).await {
            tracing::warn!(%err, "could not write the last usage counts");
        }
        state.db.close_by_ref().await.ok();
        tracing::info!("Gatehouse stopped");
        Ok(())
    }
}

/// What `serve` and every command of the CLI start from: the configured database, migrated,
/// and the app's state over it, with the master key checked against the stored signing keys.
pub struct Opened {
    pub state: AppState,
    /// The gateway's token view, empty until loaded (`serve`'s follower loads it).
    pub view: Arc<AccessIndex>,
    pub master_key: MasterKey,
    /// What this process knows of read-only tools: shared by the gateway and the health checks.
    pub read_only: Arc<ReadOnlyTools>,
}

pub async fn open(config: &Config, public_url: &Url, bound: SocketAddr) -> anyhow::Result<Opened> {
    let db = db::connect(&config.database_url, config.database_max_connections).await?;
    db::migrate(&db).await?;
    let master_key = MasterKey::load_or_create(config.master_key.as_ref(), &config.data_dir)?;
    let leptos_options = LeptosOptions::builder()
        .output_name(app::site::OUTPUT_NAME)
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir(app::site::PKG_DIR)
        .site_addr(bound)
        .env(if app::site::ENV == "DEV" { leptos::config::Env::DEV } else { leptos::config::Env::PROD })
        .build();
    let base = public_url.as_str().trim_end_matches('/').to_string();
    let settings = Settings {
        issuer: base.clone(),
        audience: config.token_audience.clone().unwrap_or_else(|| base.clone()),
        public_url: base,
        upstream_policy: config.upstream_policy(),
        signup: config.signup,
        oauth: config.oauth(),
    };
    let view = Arc::new(AccessIndex::empty());
    let check = Arc::new(LiveCheck::new(view.clone(), &settings.issuer, &settings.audience));
    let read_only = Arc::new(ReadOnlyTools::default());
    let probe = Prober::new(
        settings.upstream_policy,
        Duration::from_millis(config.upstream_connect_timeout_ms),
        Duration::from_millis(config.upstream_check_timeout_ms.max(100)),
        read_only.clone(),
    )?;
    let state = AppState {
        gateway: check,
        probe: Arc::new(probe),
        db,
        passwords: PasswordHasher::new(config.max_concurrent_hashes),
        cipher: Cipher::new(master_key.bytes()),
        settings: Arc::new(settings),
        changes: Arc::default(),
        leptos_options,
    };
    // A wrong master key would otherwise start a server that refuses every token.
    let (undecryptable, keys) =
        app::signing_keys::ssr::undecryptable_keys(&state).await.map_err(|e| anyhow::anyhow!("reading the signing keys: {e}"))?;
    if undecryptable > 0 {
        anyhow::bail!(
            "{undecryptable} of the {keys} signing keys in the database cannot be decrypted with the configured master key ({}). \
             This database was made with another master key: set GATEHOUSE_MASTER_KEY (or {}) to that key and start again. \
             No signing key, token or server was changed.",
            master_key.source(),
            config.data_dir.join("master.key").display(),
        );
    }
    Ok(Opened { state, view, master_key, read_only })
}

/// The dashboard's page routes, worked out once per process. Working them out renders the app
/// with resource loading switched off by a flag that is global to the process (leptos_server's
/// `SuppressResourceLoad`); a page of another app in the same process whose resource first
/// polls meanwhile waits for ever (leptos issue #4773). A server builds one app, before it
/// listens; the tests build hundreds side by side, and a page then hung now and again.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

fn router(
    state: AppState,
    config: &Config,
    public_url: &Url,
    gateway: Gateway,
    oauth: crate::oauth::OAuth,
    metrics: Option<crate::metrics::page::Sources>,
) -> Router {
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(crate::sessions::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(public_url.scheme() == "https")
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(config.session_idle_seconds.min(i64::MAX as u64) as i64)));

    let routes = page_routes();
    let options = state.leptos_options.clone();
    // The bundle, stylesheet and script, as the build compressed them (`.br`, `.gz`) for
    // clients that accept it: the wasm is a fifth of its size in brotli.
    let pkg = ServeDir::new(std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir)).precompressed_br().precompressed_gzip();
    // The dashboard and API: sessions, CSRF checks and a small body limit.
    let dashboard: Router = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .nest("/api/v1", api::router())
        .merge(oauth.browser_router())
        .nest_service(&format!("/{}", options.site_pkg_dir), pkg)
        .leptos_routes_with_context(&state, routes, || provide_context(TakenFromSession::default()), move || shell(options.clone()))
        .fallback(file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(TrustedOrigin(public_url.clone()), refuse_cross_site))
        .layer(sessions)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // A body sent a byte at a time (slowhttptest -B) ends here rather than hold the
        // connection; the gateway keeps its own deadline, as its answers are streams.
        .layer(middleware::from_fn_with_state(config.body_read_timeout(), answer_within))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .with_state(state);
    let dashboard = match metrics {
        Some(sources) => dashboard.route("/metrics", get(crate::metrics::page::serve_metrics).with_state(sources)),
        None => dashboard,
    };
    // Browsers that reached an https deployment keep to https (not preloaded, not subdomains:
    // those are the domain owner's choices).
    let hsts = (public_url.scheme() == "https").then(|| HeaderValue::from_static("max-age=31536000"));
    // The gateway: Bearer tokens only, no sessions or cookies.
    dashboard
        .nest_service("/s", gateway.router())
        .merge(oauth.machine_router().layer(middleware::from_fn_with_state(config.body_read_timeout(), answer_within)))
        .layer(tower::util::option_layer(hsts.map(|v| SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, v))))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(middleware::from_fn(crate::panics::catch_panics))
        .layer(middleware::from_fn(crate::unread_body::close_if_body_unread))
        .layer(middleware::from_fn_with_state(
            Arc::new((config.trusted_proxies.clone(), config.trusted_proxy_header)),
            crate::client_addr::believe_trusted_proxies,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Dashboard and API requests must have their body read and their answer started within
/// `deadline` (408 otherwise, and the connection is closed).
async fn answer_within(
    axum::extract::State(deadline): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!("The request did not arrive in time (within {}).", app::error::in_words(deadline));
            let mut response = app::error::AppError::new(app::error::ErrorCode::RequestTimeout, message).into_response();
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
