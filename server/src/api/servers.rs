//! `/servers`: the account's upstream MCP servers.
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use uuid::Uuid;

use app::{
    accounts::actor::Actor,
    error::AppError,
    servers::{ServerId, ServerInput, ServerView, ssr},
    state::AppState,
    tokens::{TokenView, ssr as tokens},
};

use super::ApiJson;

#[utoipa::path(get, path = "/servers", tag = "servers", responses((status = 200, body = Vec<ServerView>), (status = 401, body = AppError)))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<Json<Vec<ServerView>>, AppError> {
    Ok(Json(ssr::list_servers(&state, &actor).await?))
}

#[utoipa::path(post, path = "/servers", tag = "servers", request_body = ServerInput,
    responses((status = 201, body = ServerView), (status = 409, body = AppError), (status = 422, body = AppError)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<ServerInput>,
) -> Result<(StatusCode, Json<ServerView>), AppError> {
    Ok((StatusCode::CREATED, Json(ssr::create_server(&state, &actor, input).await?)))
}

#[utoipa::path(get, path = "/servers/{id}", tag = "servers", params(("id" = Uuid, Path)),
    responses((status = 200, body = ServerView), (status = 404, body = AppError)))]
pub async fn get_one(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<Json<ServerView>, AppError> {
    Ok(Json(ssr::get_server(&state, &actor, ServerId(id)).await?))
}

#[utoipa::path(put, path = "/servers/{id}", tag = "servers", params(("id" = Uuid, Path)), request_body = ServerInput,
    responses((status = 200, body = ServerView), (status = 404, body = AppError), (status = 409, body = AppError), (status = 422, body = AppError)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<ServerInput>,
) -> Result<Json<ServerView>, AppError> {
    Ok(Json(ssr::update_server(&state, &actor, ServerId(id), input).await?))
}

#[utoipa::path(delete, path = "/servers/{id}", tag = "servers", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = AppError)))]
pub async fn delete(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<StatusCode, AppError> {
    ssr::delete_server(&state, &actor, ServerId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tokens that may reach this server.
#[utoipa::path(get, path = "/servers/{id}/tokens", tag = "servers", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<TokenView>), (status = 404, body = AppError)))]
pub async fn tokens(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<Json<Vec<TokenView>>, AppError> {
    Ok(Json(tokens::tokens_of_server(&state, &actor, ServerId(id)).await?))
}
