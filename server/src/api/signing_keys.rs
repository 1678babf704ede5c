//! `/signing-keys`: rotate the active key, revoke retired ones. Secrets are never returned.
use axum::{
    Json,
    extract::{Path, State},
};
use uuid::Uuid;

use app::{
    accounts::actor::Actor,
    error::AppError,
    signing_keys::{SigningKeyView, ssr},
    state::AppState,
};

#[utoipa::path(get, path = "/signing-keys", tag = "signing-keys", responses((status = 200, body = Vec<SigningKeyView>)))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<Json<Vec<SigningKeyView>>, AppError> {
    Ok(Json(ssr::list(&state, &actor).await?))
}

/// Makes a new active key; the old one is retired and keeps verifying its tokens.
#[utoipa::path(post, path = "/signing-keys/rotate", tag = "signing-keys", responses((status = 200, body = SigningKeyView)))]
pub async fn rotate(State(state): State<AppState>, actor: Actor) -> Result<Json<SigningKeyView>, AppError> {
    Ok(Json(ssr::rotate(&state, &actor).await?))
}

/// Revokes a retired key: every token it signed stops working.
#[utoipa::path(post, path = "/signing-keys/{id}/revoke", tag = "signing-keys", params(("id" = Uuid, Path)),
    responses((status = 200, body = SigningKeyView), (status = 404, body = AppError), (status = 409, body = AppError)))]
pub async fn revoke(State(state): State<AppState>, actor: Actor, Path(id): Path<Uuid>) -> Result<Json<SigningKeyView>, AppError> {
    Ok(Json(ssr::revoke(&state, &actor, id).await?))
}
