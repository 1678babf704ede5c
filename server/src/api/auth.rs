//! `/auth/*`: the same account rules as the dashboard, over JSON.
use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode, header},
    response::AppendHeaders,
};
use serde::Deserialize;
use tower_sessions::Session;
use utoipa::ToSchema;

use app::{
    accounts::{self, AccountView, NewAccount, ssr},
    error::AppError,
    state::AppState,
};

use super::ApiJson;

#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    #[serde(default)]
    #[schema(min_length = 1)]
    email: String,
    #[serde(default)]
    #[schema(min_length = 1)]
    password: String,
    /// The code of an invite link (its `invite` query value); needed when sign-up is by invitation.
    #[serde(default)]
    invite: Option<String>,
}

/// Creates an account (the first one is admin) and logs it in.
#[utoipa::path(post, path = "/auth/register", tag = "auth", security(()), request_body = Credentials,
    responses((status = 201, body = AccountView), (status = 403, body = AppError), (status = 409, body = AppError), (status = 422, body = AppError)))]
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, DeviceCookie, Json<AccountView>), AppError> {
    let new = NewAccount::parse(&body.email, body.password)?;
    let admission = ssr::Admission::Public { invite: body.invite.as_deref() };
    let account = ssr::register(&state, new, Some(peer.ip().to_string()), admission).await?;
    ssr::start_session(&session, account.id, 0).await?;
    let cookie = ssr::device::cookie_for(&state, account.email.as_str(), None)?;
    Ok((StatusCode::CREATED, AppendHeaders([(header::SET_COOKIE, cookie)]), Json(account)))
}

/// The device cookie a successful sign-up or login gives (see `ssr::device`).
type DeviceCookie = AppendHeaders<[(header::HeaderName, header::HeaderValue); 1]>;

/// Logs in under a new session id. Repeated failures are throttled: 429 with `Retry-After`.
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()), request_body = Credentials,
    responses((status = 200, body = AccountView), (status = 401, body = AppError), (status = 403, body = AppError), (status = 422, body = AppError),
        (status = 429, body = AppError, headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(DeviceCookie, Json<AccountView>), AppError> {
    accounts::check_login_fields(&body.email, &body.password)?;
    let device = ssr::device::recognised(&state, headers.get(header::COOKIE), &body.email);
    let ip = Some(peer.ip().to_string());
    let (account, epoch) = ssr::authenticate(&state, &body.email, &body.password, ip, device.clone()).await?;
    ssr::start_session(&session, account.id, epoch).await?;
    let cookie = ssr::device::cookie_for(&state, &body.email, device)?;
    Ok((AppendHeaders([(header::SET_COOKIE, cookie)]), Json(account)))
}

/// Ends the session and deletes it on the server.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(session: Session) -> Result<StatusCode, AppError> {
    ssr::end_session(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = AccountView), (status = 401, body = AppError)))]
pub async fn me(State(state): State<AppState>, session: Session) -> Result<Json<AccountView>, AppError> {
    Ok(Json(ssr::require_account(&state, &session).await?))
}
