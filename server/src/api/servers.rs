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
    servers::{
        HeaderInput, ServerId, ServerInput, ServerView, ToolCallPage,
        health::{Discovery, ServerHealth},
        ssr,
    },
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

/// Connects to the server's upstream now: reachable or not, and what it offers.
#[utoipa::path(post, path = "/servers/{id}/check", tag = "servers", params(("id" = Uuid, Path)),
    responses((status = 200, body = ServerHealth), (status = 404, body = AppError)))]
pub async fn check(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<Json<ServerHealth>, AppError> {
    Ok(Json(ssr::check_server(&state, &actor, ServerId(id)).await?))
}

/// An upstream to find the transport of.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct DetectInput {
    pub upstream_url: String,
    /// Headers to send; absent: none (or, with `server_id`, the server's saved ones).
    #[serde(default)]
    pub upstream_headers: Option<Vec<HeaderInput>>,
    /// A saved server whose hidden query values and header values fill the gaps.
    #[serde(default)]
    pub server_id: Option<Uuid>,
}

/// Finds which transport answers as MCP at a URL, by trying both: 200 with what the upstream
/// said of itself, or 422 saying why neither worked.
#[utoipa::path(post, path = "/servers/detect", tag = "servers", request_body = DetectInput,
    responses((status = 200, body = Discovery), (status = 422, body = AppError)))]
pub async fn detect(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<DetectInput>,
) -> Result<Json<Discovery>, AppError> {
    let found = ssr::detect_transport(&state, &actor, input.server_id.map(ServerId), &input.upstream_url, input.upstream_headers).await?;
    Ok(Json(found))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct CallsQuery {
    /// The `next` of the previous page: calls older than it.
    pub before: Option<Uuid>,
    /// Calls per page (1–500, default 50).
    pub limit: Option<u64>,
}

/// The tool calls recorded on the server (when it records them), newest first, a page at a time.
#[utoipa::path(get, path = "/servers/{id}/tool-calls", tag = "servers", params(("id" = Uuid, Path), CallsQuery),
    responses((status = 200, body = ToolCallPage), (status = 404, body = AppError)))]
pub async fn tool_calls(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    axum::extract::Query(query): axum::extract::Query<CallsQuery>,
) -> Result<Json<ToolCallPage>, AppError> {
    let limit = query.limit.unwrap_or(app::servers::tool_calls_ssr::PAGE);
    Ok(Json(app::servers::tool_calls_ssr::page(&state.db, &actor, ServerId(id), query.before, limit).await?))
}

/// Every recorded tool call of the server (the newest 100,000), oldest first, one JSON object a
/// line (`application/x-ndjson`), for export.
#[utoipa::path(get, path = "/servers/{id}/tool-calls.jsonl", tag = "servers", params(("id" = Uuid, Path)),
    responses((status = 200, description = "One ToolCallView per line", content_type = "application/x-ndjson"), (status = 404, body = AppError)))]
pub async fn tool_calls_export(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let calls = app::servers::tool_calls_ssr::export(&state.db, &actor, ServerId(id)).await?;
    let mut lines = String::new();
    for call in &calls {
        lines.push_str(&serde_json::to_string(call).map_err(AppError::internal)?);
        lines.push('\n');
    }
    let disposition = format!("attachment; filename=\"tool-calls-{id}.jsonl\"");
    Ok(([(http::header::CONTENT_TYPE, "application/x-ndjson".to_string()), (http::header::CONTENT_DISPOSITION, disposition)], lines))
}
