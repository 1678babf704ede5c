//! What every server-side handler shares, provided to server functions as context: the bottom
//! of the crate, importing nothing that imports it back.
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::*;
use sea_orm::DatabaseConnection;

use crate::accounts::ssr::password::PasswordHasher;
use crate::events::ChangeFeed;
use crate::secrets::Cipher;
use crate::servers::UpstreamPolicy;
use crate::servers::health::{Discovery, Problem};
use crate::tokens::Refusal;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub passwords: PasswordHasher,
    pub cipher: Cipher,
    pub settings: Arc<Settings>,
    pub changes: Arc<ChangeFeed>,
    /// The gateway's own token check, so the token inspector answers as the gateway would.
    pub gateway: Arc<dyn GatewayCheck>,
    /// Connects to upstreams as an MCP client: server health and transport detection.
    pub probe: Arc<dyn UpstreamProbe>,
    pub leptos_options: LeptosOptions,
}

/// The gateway's verdicts, from its in-memory view (current with this process's own writes).
pub trait GatewayCheck: Send + Sync {
    /// `token` as one of `account`'s tokens, whatever the server: its id, or why it fails.
    fn verify(&self, account: uuid::Uuid, token: &str) -> Result<uuid::Uuid, Refusal>;
    /// `token` on a request to `server`: the token's id (`None` when the server requires no
    /// token), or why the gateway would refuse it.
    fn check(&self, server: uuid::Uuid, token: &str) -> Result<Option<uuid::Uuid>, Refusal>;
}

/// An upstream to connect to: the URL with its real query, the headers to send, and the
/// transport to speak (`None`: find out by trying both).
#[derive(Clone)]
pub struct ProbeTarget {
    /// The server it belongs to, when it is saved.
    pub server: Option<uuid::Uuid>,
    pub url: url::Url,
    pub transport: Option<crate::servers::Transport>,
    pub headers: Vec<(String, String)>,
}

pub type Probed = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Discovery, Problem>> + Send>>;

/// The server binary's MCP client for upstreams: it connects under the operator's address policy
/// with a bounded time, and says what it found or why it could not.
pub trait UpstreamProbe: Send + Sync {
    fn probe(&self, target: ProbeTarget) -> Probed;
}

/// Deployment facts the handlers need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people and clients reach this deployment, without a trailing slash.
    pub public_url: String,
    /// The `iss` of every token.
    pub issuer: String,
    /// The `aud` of every token.
    pub audience: String,
    pub upstream_policy: UpstreamPolicy,
    /// Who may sign up.
    pub signup: crate::accounts::domain::SignupPolicy,
    pub oauth: crate::oauth::domain::OAuthSettings,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
