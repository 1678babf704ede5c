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
