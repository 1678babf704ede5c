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

/// Every organisation, with the admin's own role where it is a member.
#[utoipa::path(get, path = "/admin/organisations", tag = "admin",
    responses((status = 200, body = Vec<app::organisations::OrganisationView>), (status = 403, body = AppError)))]
pub async fn organisations(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<Vec<app::organisations::OrganisationView>>, AppError> {
    let admin = actor.admin()?;
    Ok(Json(app::organisations::ssr::list_all(&state, &admin).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationUpdate {
    /// Disable (every token of it is refused, its open servers close, on every process at once)
    /// or enable.
    disabled: bool,
}

#[utoipa::path(patch, path = "/admin/organisations/{id}", tag = "admin", params(("id" = Uuid, Path)), request_body = OrganisationUpdate,
    responses((status = 200, body = app::organisations::OrganisationView), (status = 403, body = AppError), (status = 404, body = AppError)))]
pub async fn update_organisation(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<OrganisationUpdate>,
) -> Result<Json<app::organisations::OrganisationView>, AppError> {
    let admin = actor.admin()?;
    let organisation = app::organisations::OrganisationId(id);
    Ok(Json(app::organisations::ssr::set_disabled(&state, &admin, organisation, body.disabled).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct InviteRequest {
    /// How long the link works: a duration (`30m 12h 7d 2w 90d 1y`) or a date; default 7 days.
    #[serde(default)]
    #[schema(example = "7d")]
    expires: Option<String>,
}

/// Makes a one-use sign-up link (the only way to sign up when `signup` is `invite`).
#[utoipa::path(post, path = "/admin/invites", tag = "admin", request_body = InviteRequest,
    responses((status = 201, body = app::accounts::domain::CreatedInvite), (status = 403, body = AppError), (status = 422, body = AppError)))]
pub async fn invite(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<InviteRequest>,
) -> Result<(axum::http::StatusCode, Json<app::accounts::domain::CreatedInvite>), AppError> {
    let admin = actor.admin()?;
    let expires_at = ssr::invites::expires_at(body.expires.as_deref().unwrap_or("7d"))
        .map_err(|why| AppError::invalid_fields([("expires".to_string(), why)].into()))?;
    Ok((axum::http::StatusCode::CREATED, Json(ssr::invites::create(&state, &admin, expires_at).await?)))
}
