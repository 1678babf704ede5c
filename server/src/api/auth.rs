//! `/api/v1/auth/*`: the same account rules as the dashboard, over JSON.
use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;
use tower_sessions::Session;

use app::{
    accounts::{self, AccountView, NewAccount, ssr},
    error::AppError,
    state::AppState,
};

use super::ApiJson;

#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Creates an account and logs it in.
pub async fn register(
    State(state): State<AppState>,
    session: Session,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<impl IntoResponse, AppError> {
    let new = NewAccount::parse(&body.email, body.password)?;
    let account = ssr::register(&state, new).await?;
    ssr::start_session(&session, account.id).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

pub async fn login(
    State(state): State<AppState>,
    session: Session,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<AccountView>, AppError> {
    accounts::check_login_fields(&body.email, &body.password)?;
    let account = ssr::authenticate(&state, &body.email, &body.password).await?;
    ssr::start_session(&session, account.id).await?;
    Ok(Json(account))
}

pub async fn logout(session: Session) -> Result<StatusCode, AppError> {
    ssr::end_session(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(State(state): State<AppState>, session: Session) -> Result<Json<AccountView>, AppError> {
    Ok(Json(ssr::require_account(&state, &session).await?))
}
