//! What every server-side handler shares, provided to server functions as context.
use std::{net::SocketAddr, sync::Arc};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use http::request::Parts;
use leptos::prelude::*;
use sea_orm::DatabaseConnection;
use tower_sessions::Session;

use crate::accounts::{AccountView, ssr::PasswordHasher};
use crate::error::AppError;
use crate::secrets::Cipher;
use crate::servers::UpstreamPolicy;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub passwords: PasswordHasher,
    pub cipher: Cipher,
    pub settings: Arc<Settings>,
    pub changes: Arc<crate::events::ChangeFeed>,
    /// The gateway's own token check, so the token inspector answers as the gateway would.
    pub gateway: Arc<dyn GatewayCheck>,
    pub leptos_options: LeptosOptions,
}

/// The gateway's verdicts, from its in-memory view (current with this process's own writes).
pub trait GatewayCheck: Send + Sync {
    /// `token` as one of `account`'s tokens, whatever the server: its id, or why it fails.
    fn verify(&self, account: uuid::Uuid, token: &str) -> Result<uuid::Uuid, crate::tokens::Refusal>;
    /// `token` on a request to `server`: the token's id (`None` when the server requires no
    /// token), or why the gateway would refuse it.
    fn check(&self, server: uuid::Uuid, token: &str) -> Result<Option<uuid::Uuid>, crate::tokens::Refusal>;
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
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Values taken out of the session once per request. A page rendered on the server may
/// build a component (and call its server functions) more than once; every call within one
/// request sees what the first one took.
#[derive(Clone, Default)]
pub struct TakenOnce(Arc<tokio::sync::Mutex<std::collections::HashMap<String, Option<String>>>>);

impl TakenOnce {
    /// Removes `key` from the session, or repeats what this request already removed.
    pub async fn take(&self, session: &Session, key: &str) -> Result<Option<String>, AppError> {
        let mut taken = self.0.lock().await;
        if let Some(value) = taken.get(key) {
            return Ok(value.clone());
        }
        let value = session.remove::<String>(key).await.map_err(AppError::from)?;
        taken.insert(key.to_string(), value.clone());
        Ok(value)
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`), so concurrent writers queue on the busy timeout instead of failing with
/// "database is locked" when a read transaction tries to become a write one. PostgreSQL
/// ignores the option.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() }).await
}

/// The state inside a server function or a page rendered on the server.
pub fn app_state() -> AppState {
    expect_context::<AppState>()
}

/// The request's session (the session layer wraps every route).
pub async fn request_session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(AppError::internal)
}

/// A signed-in account making a request, and where from: what the audit log records.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account: AccountView,
    pub ip: Option<String>,
}

impl Actor {
    pub fn account_id(&self) -> crate::accounts::AccountId {
        self.account.id
    }
}

/// The client's address as this process saw it.
pub fn client_ip(parts: &Parts) -> Option<String> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// The client's address inside a server function.
pub fn request_ip() -> Option<String> {
    use_context::<Parts>().as_ref().and_then(client_ip)
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = Session::from_request_parts(parts, state).await.map_err(|(_, e)| AppError::internal(e))?;
        let account = crate::accounts::ssr::require_account(state, &session).await?;
        Ok(Actor { account, ip: client_ip(parts) })
    }
}

/// An admin making a request; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct AdminActor(pub Actor);

impl FromRequestParts<AppState> for AdminActor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let actor = Actor::from_request_parts(parts, state).await?;
        if actor.account.is_admin() { Ok(AdminActor(actor)) } else { Err(AppError::forbidden()) }
    }
}

/// Opens every server function that needs a login.
pub async fn require_actor() -> Result<(AppState, Actor), AppError> {
    let state = app_state();
    let mut parts = use_context::<Parts>().ok_or_else(|| AppError::internal("no request parts in context"))?;
    let actor = Actor::from_request_parts(&mut parts, &state).await?;
    Ok((state, actor))
}

/// Opens every server function only an admin may call.
pub async fn require_admin_actor() -> Result<(AppState, Actor), AppError> {
    let (state, actor) = require_actor().await?;
    if actor.account.is_admin() { Ok((state, actor)) } else { Err(AppError::forbidden()) }
}

/// Is this server function call a plain HTML form post (no JavaScript)? Such a caller gets a
/// redirect, never the function's return value.
pub fn is_form_post() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    })
}

/// Gives a server function's failure its real HTTP status (server functions answer 500 by
/// default). A plain form post (no JavaScript) is left alone: it must stay a redirect back to
/// the form, which carries the error.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result {
        if let (false, Some(response)) = (is_form_post(), use_context::<leptos_axum::ResponseOptions>()) {
            response.set_status(
                http::StatusCode::from_u16(error.code.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            );
            if let Some(seconds) = error.retry_after {
                response.insert_header(http::header::RETRY_AFTER, seconds.into());
            }
        }
    }
    result
}
