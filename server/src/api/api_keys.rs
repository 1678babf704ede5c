//! `/api-keys`: the signed-in account's API keys.
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use uuid::Uuid;

use app::{
    accounts::actor::Actor,
    api_keys::{ApiKeyView, CreatedApiKey, NewApiKeyInput, ssr},
    error::AppError,
    state::AppState,
};

use super::ApiJson;

#[utoipa::path(get, path = "/api-keys", tag = "api-keys", responses((status = 200, body = Vec<ApiKeyView>)))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<Json<Vec<ApiKeyView>>, AppError> {
    Ok(Json(ssr::list(&state, Some(actor.account_id())).await?))
}

/// Makes a key. The response is the only time the key is shown. Its scope may not exceed
/// the owner's role, nor the scope of the key making it.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", request_body = NewApiKeyInput,
    responses((status = 201, body = CreatedApiKey), (status = 422, body = AppError)))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<NewApiKeyInput>,
) -> Result<(StatusCode, Json<CreatedApiKey>), AppError> {
    Ok((StatusCode::CREATED, Json(ssr::create(&state, &actor, input).await?)))
}

/// Revokes a key: its next request gets 401. Revoking twice is harmless.
#[utoipa::path(post, path = "/api-keys/{id}/revoke", tag = "api-keys", params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKeyView), (status = 404, body = AppError)))]
pub async fn revoke(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<Json<ApiKeyView>, AppError> {
    Ok(Json(ssr::revoke(&state, &actor, id).await?))
}
