//! `/tokens`: bearer tokens, their status, revocation and server associations.
use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use app::{
    accounts::actor::Actor,
    error::AppError,
    servers::ServerId,
    state::AppState,
    tokens::{CreatedToken, NetworksInput, NewTokenInput, TokenId, TokenView, ssr},
    tools::ToolRule,
};

use super::ApiJson;

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// `all` (the default), `active`, `expired`, `revoked`, or `expiring` (active and expiring soon).
    status: Option<String>,
    /// `created` (newest first, the default) or `last_used` (most recently used first).
    sort: Option<String>,
}

#[utoipa::path(get, path = "/tokens", tag = "tokens", params(ListQuery),
    responses((status = 200, body = Vec<TokenView>), (status = 422, body = AppError)))]
pub async fn list(State(state): State<AppState>, actor: Actor, Query(q): Query<ListQuery>) -> Result<Json<Vec<TokenView>>, AppError> {
    let query = ssr::TokenQuery::parse(q.status.as_deref(), q.sort.as_deref())?;
    Ok(Json(ssr::list_tokens(&state, &actor, &query).await?))
}

/// Creates a token. The response is the only time the token string is shown.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewTokenInput,
    responses((status = 201, body = CreatedToken), (status = 422, body = AppError)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<NewTokenInput>,
) -> Result<(StatusCode, Json<CreatedToken>), AppError> {
    Ok((StatusCode::CREATED, Json(ssr::create_token(&state, &actor, input).await?)))
}

#[utoipa::path(get, path = "/tokens/{id}", tag = "tokens", params(("id" = Uuid, Path)),
    responses((status = 200, body = TokenView), (status = 404, body = AppError)))]
pub async fn get_one(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<Json<TokenView>, AppError> {
    Ok(Json(ssr::get_token(&state, &actor, TokenId(id)).await?))
}

/// Revokes a token; it stops working at once. Revoking twice is harmless.
#[utoipa::path(post, path = "/tokens/{id}/revoke", tag = "tokens", params(("id" = Uuid, Path)),
    responses((status = 200, body = TokenView), (status = 404, body = AppError)))]
pub async fn revoke(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<Json<TokenView>, AppError> {
    Ok(Json(ssr::revoke_token(&state, &actor, TokenId(id)).await?))
}

/// Lets the token reach the server (both must be yours). No new token is needed.
#[utoipa::path(put, path = "/tokens/{id}/servers/{server_id}", tag = "tokens",
    params(("id" = Uuid, Path), ("server_id" = Uuid, Path)),
    responses((status = 200, body = TokenView), (status = 404, body = AppError), (status = 409, body = AppError)))]
pub async fn associate(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, server_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<TokenView>, AppError> {
    Ok(Json(ssr::associate(&state, &actor, TokenId(id), ServerId(server_id)).await?))
}

#[utoipa::path(delete, path = "/tokens/{id}/servers/{server_id}", tag = "tokens",
    params(("id" = Uuid, Path), ("server_id" = Uuid, Path)),
    responses((status = 200, body = TokenView), (status = 404, body = AppError)))]
pub async fn dissociate(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, server_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<TokenView>, AppError> {
    Ok(Json(ssr::dissociate(&state, &actor, TokenId(id), ServerId(server_id)).await?))
}

/// Limits which of the server's tools the token may call: `{"mode": "all"}` (the default),
/// `{"mode": "read_only"}` (tools the upstream annotates `readOnlyHint`), or
/// `{"mode": "only", "tools": ["echo", "add"]}`. The gateway applies it to the next request.
#[utoipa::path(put, path = "/tokens/{id}/servers/{server_id}/tools", tag = "tokens",
    params(("id" = Uuid, Path), ("server_id" = Uuid, Path)), request_body = ToolRule,
    responses((status = 200, body = TokenView), (status = 404, body = AppError), (status = 409, body = AppError),
        (status = 422, body = AppError)))]
pub async fn limit_tools(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, server_id)): Path<(Uuid, Uuid)>,
    ApiJson(rule): ApiJson<ToolRule>,
) -> Result<Json<TokenView>, AppError> {
    Ok(Json(ssr::set_tool_rule(&state, &actor, TokenId(id), ServerId(server_id), rule).await?))
}

/// Limits the client addresses the token may be used from: CIDRs or addresses, checked against
/// the client's address (as the trusted proxies give it) on every request; an empty list allows
/// any address. The gateway applies it to the next request.
#[utoipa::path(put, path = "/tokens/{id}/networks", tag = "tokens", params(("id" = Uuid, Path)), request_body = NetworksInput,
    responses((status = 200, body = TokenView), (status = 404, body = AppError), (status = 422, body = AppError)))]
pub async fn allow_networks(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<NetworksInput>,
) -> Result<Json<TokenView>, AppError> {
    Ok(Json(ssr::set_allowed_networks(&state, &actor, TokenId(id), input.allowed_networks).await?))
}
