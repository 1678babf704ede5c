//! `/admin/accounts`: every account, for admins.
use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use app::{
    accounts::{AccountId, AccountStatus, AccountView, Role, actor::Actor, ssr},
    error::AppError,
    state::AppState,
};

use super::ApiJson;

#[utoipa::path(get, path = "/admin/accounts", tag = "admin", responses((status = 200, body = Vec<AccountView>), (status = 403, body = AppError)))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<Json<Vec<AccountView>>, AppError> {
    actor.admin()?;
    Ok(Json(ssr::list_accounts(&state.db).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct AccountUpdate {
    /// Disable (no login, every token stops working) or enable.
    status: Option<AccountStatus>,
    role: Option<Role>,
}

#[utoipa::path(patch, path = "/admin/accounts/{id}", tag = "admin", params(("id" = Uuid, Path)), request_body = AccountUpdate,
    responses((status = 200, body = AccountView), (status = 403, body = AppError), (status = 404, body = AppError), (status = 409, body = AppError)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<AccountUpdate>,
) -> Result<Json<AccountView>, AppError> {
    let admin = actor.admin()?;
    Ok(Json(ssr::update_account(&state, &admin, AccountId(id), body.status, body.role).await?))
}
