//! Configuration in layers: defaults, then an optional `gatehouse.toml`, then `GATEHOUSE_*`
//! environment variables and `DATABASE_URL`.
// `figment::Error` is large (it carries the whole provenance of a value); it is made once, at
// start, so boxing it would buy nothing.
#![allow(clippy::result_large_err)]
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// The URL people and clients use to reach this deployment. Defaults to `http://{bind}`.
    /// Cookies are marked Secure when it is https.
    pub public_url: Option<Url>,
    /// `sqlite://…` (the embedded default) or `postgres://…`.
    pub database_url: String,
    /// Where the embedded defaults keep their files (database, master key).
    pub data_dir: PathBuf,
    /// Base64 of 32 bytes. When unset, `{data_dir}/master.key` is used, created on first run.
    #[serde(skip_serializing)]
    pub master_key: Option<SecretString>,
    /// The built site (wasm, JS, CSS, public assets).
    pub site_root: PathBuf,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `gatehouse=debug,info`. `RUST_LOG` wins when set.
    pub log_level: String,
    /// A login session ends after this many seconds without a request.
    pub session_idle_seconds: u64,
    /// How many password hashes may run at once (each takes 19 MiB for ~a CPU-tick). The
    /// default is half the cores, so a flood of logins never takes every core from the gateway.
    pub max_concurrent_hashes: usize,
    /// Largest database pool.
    pub database_max_connections: u32,
    /// The `aud` claim of tokens. Defaults to the public URL.
    pub token_audience: Option<String>,
    /// May upstream URLs point at loopback addresses? Defaults to yes on the embedded SQLite
    /// default (local servers, tests) and no on PostgreSQL deployments.
    pub upstream_allow_loopback: Option<bool>,
    /// May upstream URLs point at private, link-local or metadata addresses?
    pub upstream_allow_private: bool,
    /// Connecting to an upstream gives up after this long (→ 502).
    pub upstream_connect_timeout_ms: u64,
    /// An upstream must answer with headers within this long (→ 504).
    pub upstream_response_timeout_ms: u64,
    /// Idle connections to upstreams are kept for reuse this long.
    pub upstream_idle_timeout_ms: u64,
    /// Each server's upstream is checked (health and discovery) this often; 0: only when it is
    /// saved or someone presses "Check now".
    pub upstream_check_interval_s: u64,
    /// A check gives up after this long and reports the upstream as slow.
    pub upstream_check_timeout_ms: u64,
    /// How long a client may take to send a request's headers before its connection is closed.
    pub header_read_timeout_ms: u64,
    /// How long a client may take to send a request's body (→ 408), so a slow sender cannot
    /// hold a connection for ever; dashboard and API answers must also start within it.
    pub body_read_timeout_ms: u64,
    /// Largest request body the gateway forwards (→ 413).
    pub gateway_max_body_bytes: usize,
    /// How often change events are polled (PostgreSQL NOTIFY also wakes the poll at once).
    pub events_poll_ms: u64,
    /// The gateway refuses with 503 after failing to read change events for this long.
    pub events_max_staleness_ms: u64,
    /// A sequence number a transaction took but has not committed is watched for this long
    /// (read again on every poll), so a late commit is applied as soon as it lands.
    pub events_gap_watch_ms: u64,
    /// The whole view is compared with the database this often, and whatever differs is read
    /// again: the bound on how late any change can be applied, however it was missed (0: never).
    pub events_reconcile_ms: u64,
    /// Last-used times and usage counts are written in one batch this often (and at shutdown).
    pub usage_flush_ms: u64,
    /// Requests per second one token may send (0: unlimited), and the burst it may use. Chosen
    /// from real SDK sessions (Python 1.x and 2.x, TypeScript, rmcp; bench/CLIENT_SESSIONS.md has the
    /// table): no SDK retries a 429, and Python sessions die on one, so the limits sit well
    /// above legitimate use. A session plus a 100-call batch is 105 requests within 0.3 s, three
    /// back-to-back batches 305 in about 1 s: the burst covers that. An agent between model
    /// turns sustains a few requests a second; 100/s refills the burst in 3 s and still holds a
    /// runaway loop (about 300/s here) or a flood (630/s) to a third or less.
    pub token_requests_per_second: u32,
    pub token_burst: u32,
    /// Requests or streams one token may have open at once (0: unlimited). 100 concurrent calls
    /// of a 1 s tool keep 101 open in every SDK (the session's own stream holds one).
    pub token_max_open: usize,
    /// Who may sign up: `open` (anyone), `invite` (with an invite link an admin made) or
    /// `closed` (nobody; the operator makes accounts with `gatehouse account create`). The very
    /// first account can always be made.
    pub signup: app::accounts::domain::SignupPolicy,
    /// Reverse proxies (CIDRs or addresses) whose `Forwarded` / `X-Forwarded-For` headers are
    /// believed for the client's address. Empty: the headers are ignored.
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// The header those proxies write the client's address in: `x-forwarded-for` or
    /// `forwarded`. Only that one is read.
    pub trusted_proxy_header: crate::client_addr::ForwardingHeader,
    /// Serve `/metrics` on a listener of its own at this address (e.g. `127.0.0.1:9464`).
    /// Unset: on the main listener, to loopback clients only.
    pub metrics_bind: Option<SocketAddr>,
    /// Serve `/metrics` on the main listener to any client, not only loopback ones.
    pub metrics_allow_remote: bool,
    /// HTTPS: a PEM certificate chain and its private key, read again when they change. Both or
    /// neither.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Days a revoked or expired token is kept before it is deleted with its links and usage
    /// (0: for ever). 90 days covers a quarter's look back at what a token did; the audit log
    /// keeps its creation and revocation far longer.
    pub retain_dead_tokens_days: u32,
    /// Days change events are kept. Every process applies them within milliseconds and a
    /// starting process loads the whole view, so a week is only for reading back by hand.
    pub retain_events_days: u32,
    /// Days of hourly usage kept for the charts: 400 covers a year against the year before.
    pub retain_usage_days: u32,
    /// Days of audit log kept: two years, the longest, because incidents and audits look back.
    pub retain_audit_days: u32,
    /// Seconds an OAuth access token lasts. A day, longer than the usual hour, because here it
    /// costs little: Gatehouse revokes a grant instantly (and ends its streams), so a short
    /// lifetime buys no safety, while clients' refresh handling is uneven (some refresh only
    /// after a failed call, some lose the refresh token) and each failed refresh is a user
    /// signing in again.
    pub oauth_access_token_seconds: u64,
    /// Days a refresh token may wait to be used; each use issues a fresh one, so a client in
    /// use never has to sign in again, and one left alone for a quarter does.
    pub oauth_refresh_token_days: u64,
    /// Days a dynamically registered client lasts (0: until deleted); clients register again
    /// when theirs is gone. 90, like the MCP OAuth Gateway's CLIENT_LIFETIME.
    pub oauth_client_lifetime_days: u64,
    /// Accept dynamic client registration (RFC 7591). Off: only clients with a metadata document.
    pub oauth_registration: bool,
    /// Registrations one address may make per minute (a burst of that many, then that rate).
    pub oauth_registrations_per_minute: u32,
    /// Extra CA certificates (PEM) trusted when fetching client ID metadata documents, beside
    /// the public roots: for clients published on an internal CA.
    pub oauth_metadata_ca: Option<PathBuf>,
    /// Fetch client metadata documents from loopback or private addresses. Off: anyone can
    /// name a client id URL, so it must not reach this machine or its network.
    pub oauth_metadata_allow_loopback: bool,
    pub oauth_metadata_allow_private: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            database_url: "sqlite://data/gatehouse.db".into(),
            data_dir: PathBuf::from("data"),
            master_key: None,
            site_root: PathBuf::from(app::site::ROOT),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            session_idle_seconds: 12 * 60 * 60,
            max_concurrent_hashes: std::thread::available_parallelism().map(|n| (n.get() / 2).max(1)).unwrap_or(1),
            database_max_connections: 10,
            token_audience: None,
            upstream_allow_loopback: None,
            upstream_allow_private: false,
            upstream_connect_timeout_ms: 5_000,
            upstream_response_timeout_ms: 30_000,
            upstream_idle_timeout_ms: 60_000,
            upstream_check_interval_s: 300,
            upstream_check_timeout_ms: 10_000,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            gateway_max_body_bytes: 4 * 1024 * 1024,
            events_poll_ms: 50,
            events_max_staleness_ms: 3_000,
            events_gap_watch_ms: 10 * 60 * 1000,
            events_reconcile_ms: 30_000,
            usage_flush_ms: 5_000,
            token_requests_per_second: 100,
            token_burst: 300,
            token_max_open: 128,
            signup: app::accounts::domain::SignupPolicy::Open,
            trusted_proxies: Default::default(),
            trusted_proxy_header: Default::default(),
            metrics_bind: None,
            metrics_allow_remote: false,
            tls_cert: None,
            tls_key: None,
            retain_dead_tokens_days: 90,
            retain_events_days: 7,
            retain_usage_days: 400,
            retain_audit_days: 730,
            oauth_access_token_seconds: 24 * 3600,
            oauth_refresh_token_days: 90,
            oauth_client_lifetime_days: 90,
            oauth_registration: true,
            oauth_registrations_per_minute: 10,
            oauth_metadata_ca: None,
            oauth_metadata_allow_loopback: false,
            oauth_metadata_allow_private: false,
        }
    }
}

impl Config {
    /// The body deadline, at least 0.1 s.
    pub fn body_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.body_read_timeout_ms.max(100))
    }

    /// Reads the layers. `file` defaults to `gatehouse.toml` in the working directory and may
    /// be absent.
    pub fn load(file: Option<&Path>) -> Result<Self, figment::Error> {
        let file = file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("gatehouse.toml"));
        // The file must hold only known settings (a typo is an error), but the GATEHOUSE_
        // environment namespace is shared with tools and tests, so there only settings count.
        let known = Self::setting_names();
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("GATEHOUSE_").filter(move |key| known.iter().any(|k| key == k.as_str())))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .extract()
    }

    fn setting_names() -> Vec<String> {
        let defaults = serde_json::to_value(Config::default()).expect("the defaults serialise");
        let mut names: Vec<String> = defaults.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        names.extend(
            [
                "public_url",
                "master_key",
                "token_audience",
                "upstream_allow_loopback",
                "metrics_bind",
                "tls_cert",
                "tls_key",
                "oauth_metadata_ca",
            ]
            .map(String::from),
        );
        names
    }

    pub fn oauth(&self) -> app::oauth::OAuthSettings {
        let days = |d: u64| (d.min(100 * 366) * 86400) as i64;
        app::oauth::OAuthSettings {
            access_token_seconds: self.oauth_access_token_seconds.clamp(60, 366 * 86400) as i64,
            refresh_token_seconds: days(self.oauth_refresh_token_days.max(1)),
            client_lifetime_seconds: (self.oauth_client_lifetime_days > 0).then(|| days(self.oauth_client_lifetime_days)),
            registration_open: self.oauth_registration,
        }
    }

    pub fn upstream_policy(&self) -> app::servers::UpstreamPolicy {
        app::servers::UpstreamPolicy {
            allow_loopback: self.upstream_allow_loopback.unwrap_or_else(|| self.database_url.starts_with("sqlite")),
            allow_private: self.upstream_allow_private,
        }
    }

    /// The public URL: as configured, else this listener's own address (https with TLS on).
    pub fn public_url(&self, bound: SocketAddr) -> Url {
        let scheme = if self.tls_cert.is_some() { "https" } else { "http" };
        self.public_url.clone().unwrap_or_else(|| Url::parse(&format!("{scheme}://{bound}")).expect("a socket address makes a URL"))
    }

    /// The TLS files, when both are set; one without the other is an error.
    pub fn tls_files(&self) -> anyhow::Result<Option<(&Path, &Path)>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => Ok(None),
            _ => anyhow::bail!("tls_cert and tls_key (GATEHOUSE_TLS_CERT, GATEHOUSE_TLS_KEY) must be set together"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_nothing_set() {
        figment::Jail::expect_with(|_| {
            let config = Config::load(None)?;
            assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
            assert_eq!(config.database_url, "sqlite://data/gatehouse.db");
            Ok(())
        });
    }

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("gatehouse.toml", "bind = \"127.0.0.1:4000\"\nlog_level = \"debug\"\n")?;
            jail.set_env("GATEHOUSE_LOG_LEVEL", "warn");
            jail.set_env("DATABASE_URL", "postgres://localhost/gh");
            let config = Config::load(None)?;
            assert_eq!(config.bind.port(), 4000);
            assert_eq!(config.log_level, "warn");
            assert_eq!(config.database_url, "postgres://localhost/gh");
            Ok(())
        });
    }

    #[test]
    fn unrelated_gatehouse_variables_are_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("GATEHOUSE_BIN", "/usr/bin/gatehouse");
            jail.set_env("GATEHOUSE_MASTER_KEY", "a2V5");
            jail.set_env("GATEHOUSE_PUBLIC_URL", "https://gw.example.com");
            let config = Config::load(None)?;
            assert_eq!(config.public_url.unwrap().as_str(), "https://gw.example.com/");
            assert!(config.master_key.is_some());
            Ok(())
        });
    }

    #[test]
    fn unknown_settings_are_an_error_not_a_silent_default() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("gatehouse.toml", "bnid = \"127.0.0.1:4000\"\n")?;
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }
}
