//! `/organisations`: the organisations the signed-in account belongs to, their members and
//! invitations. Servers, tokens and keys are reached through the other routes, which act within
//! the credential's organisation: an API key's own, or the one chosen in the dashboard.
use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use uuid::Uuid;

use app::{
    accounts::actor::Actor,
    error::AppError,
    organisations::{CreatedInvitation, MemberView, OrganisationId, OrganisationView, Role, TokensOfRemoved, ssr},
    state::AppState,
};

use super::ApiJson;

/// The actor acting within organisation `id` (see [`Actor::acting_within`]).
async fn within(state: &AppState, actor: Actor, id: Uuid) -> Result<Actor, AppError> {
    actor.acting_within(state, OrganisationId(id)).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationInput {
    pub name: String,
}

#[utoipa::path(get, path = "/organisations", tag = "organisations",
    responses((status = 200, body = Vec<OrganisationView>, description = "The organisations the account belongs to, its personal one first")))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<Json<Vec<OrganisationView>>, AppError> {
    Ok(Json(ssr::list_for(&state.db, actor.account.id.0).await?))
}

#[utoipa::path(post, path = "/organisations", tag = "organisations", request_body = OrganisationInput,
    responses((status = 201, body = OrganisationView, description = "Made, with the account as its owner"), (status = 422, body = AppError)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<OrganisationInput>,
) -> Result<(StatusCode, Json<OrganisationView>), AppError> {
    Ok((StatusCode::CREATED, Json(ssr::create(&state, &actor, &input.name).await?)))
}

#[utoipa::path(get, path = "/organisations/{id}", tag = "organisations", params(("id" = Uuid, Path)),
    responses((status = 200, body = OrganisationView), (status = 404, body = AppError)))]
pub async fn get_one(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<Json<OrganisationView>, AppError> {
    let actor = within(&state, actor, id).await?;
    Ok(Json(ssr::get(&state, &actor.account, actor.organisation()).await?))
}

#[utoipa::path(put, path = "/organisations/{id}", tag = "organisations", params(("id" = Uuid, Path)), request_body = OrganisationInput,
    responses((status = 200, body = OrganisationView, description = "Renamed (owners)"), (status = 403, body = AppError), (status = 404, body = AppError)))]
pub async fn rename(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<OrganisationInput>,
) -> Result<Json<OrganisationView>, AppError> {
    let actor = within(&state, actor, id).await?;
    Ok(Json(ssr::rename(&state, &actor, &input.name).await?))
}

#[utoipa::path(delete, path = "/organisations/{id}", tag = "organisations", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted with everything it owns; its tokens stop at once (owners; never a personal one)"),
        (status = 403, body = AppError), (status = 404, body = AppError), (status = 409, body = AppError)))]
pub async fn delete(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<StatusCode, AppError> {
    let actor = within(&state, actor, id).await?;
    app::organisations::deletion::delete(&state, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organisations/{id}/members", tag = "organisations", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<MemberView>), (status = 404, body = AppError)))]
pub async fn members(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<Json<Vec<MemberView>>, AppError> {
    let actor = within(&state, actor, id).await?;
    Ok(Json(ssr::members(&state, &actor).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// An existing account's email (invite anyone else with a link).
    pub email: String,
    pub role: Role,
}

#[utoipa::path(post, path = "/organisations/{id}/members", tag = "organisations", params(("id" = Uuid, Path)), request_body = NewMember,
    responses((status = 201, body = MemberView), (status = 403, body = AppError), (status = 404, body = AppError), (status = 409, body = AppError)))]
pub async fn add_member(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<NewMember>,
) -> Result<(StatusCode, Json<MemberView>), AppError> {
    let actor = within(&state, actor, id).await?;
    Ok((StatusCode::CREATED, Json(ssr::add_member(&state, &actor, &input.email, input.role).await?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub role: Role,
}

#[utoipa::path(put, path = "/organisations/{id}/members/{account}", tag = "organisations",
    params(("id" = Uuid, Path), ("account" = Uuid, Path)), request_body = RoleInput,
    responses((status = 200, body = MemberView, description = "The new role applies to the member's next request and to their tokens at once"),
        (status = 403, body = AppError), (status = 404, body = AppError), (status = 409, body = AppError)))]
pub async fn set_role(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, account)): Path<(Uuid, Uuid)>,
    ApiJson(input): ApiJson<RoleInput>,
) -> Result<Json<MemberView>, AppError> {
    let actor = within(&state, actor, id).await?;
    Ok(Json(ssr::set_role(&state, &actor, account, input.role).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Removal {
    /// Hand the member's tokens to this member (their account id) instead of revoking them.
    pub hand_to: Option<Uuid>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Removed {
    /// How many of their tokens were revoked or handed on.
    pub tokens: u64,
}

#[utoipa::path(delete, path = "/organisations/{id}/members/{account}", tag = "organisations",
    params(("id" = Uuid, Path), ("account" = Uuid, Path), Removal),
    responses((status = 200, body = Removed, description = "Removed (or, for one's own account, left); their live streams end at once"),
        (status = 403, body = AppError), (status = 404, body = AppError), (status = 409, body = AppError)))]
pub async fn remove_member(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, account)): Path<(Uuid, Uuid)>,
    Query(removal): Query<Removal>,
) -> Result<Json<Removed>, AppError> {
    let actor = within(&state, actor, id).await?;
    let tokens = removal.hand_to.map_or(TokensOfRemoved::Revoke, TokensOfRemoved::HandTo);
    Ok(Json(Removed { tokens: ssr::remove_member(&state, &actor, account, tokens).await? }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    pub role: Role,
    /// Only the account with this email may accept it.
    #[serde(default)]
    pub email: Option<String>,
    /// How many days it works (1 to 90; 7 when left out).
    #[serde(default)]
    pub days: Option<i64>,
}

#[utoipa::path(post, path = "/organisations/{id}/invitations", tag = "organisations", params(("id" = Uuid, Path)), request_body = NewInvitation,
    responses((status = 201, body = CreatedInvitation, description = "A one-use link; it lets its invitee sign up whatever the sign-up setting"),
        (status = 403, body = AppError), (status = 404, body = AppError), (status = 422, body = AppError)))]
pub async fn invite(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<CreatedInvitation>), AppError> {
    let actor = within(&state, actor, id).await?;
    Ok((StatusCode::CREATED, Json(ssr::invite(&state, &actor, input.role, input.email.as_deref(), input.days).await?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// The code from the invitation link (`ghi_…`).
    pub code: String,
}

#[utoipa::path(post, path = "/invitations/accept", tag = "organisations", request_body = Acceptance,
    responses((status = 200, body = OrganisationView, description = "Joined"), (status = 403, body = AppError, description = "The invitation names another email"),
        (status = 409, body = AppError), (status = 422, body = AppError, description = "Used, expired or unknown")))]
pub async fn accept(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<Acceptance>,
) -> Result<Json<OrganisationView>, AppError> {
    Ok(Json(ssr::accept(&state, &actor.account, &input.code).await?))
}
