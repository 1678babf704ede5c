//! `/account`: the signed-in account's own settings.
use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use tower_sessions::Session;
use utoipa::ToSchema;

use app::{accounts::actor::Actor, accounts::ssr, error::AppError, state::AppState};

use super::ApiJson;

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Changes the password; every other session of the account ends, this one stays.
#[utoipa::path(post, path = "/account/password", tag = "account", request_body = PasswordChange,
    responses((status = 204), (status = 401, body = AppError), (status = 403, body = AppError), (status = 422, body = AppError)))]
pub async fn change_password(
    State(state): State<AppState>,
    actor: Actor,
    session: Session,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode, AppError> {
    ssr::change_password(&state, &actor, &session, &body.current_password, body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
