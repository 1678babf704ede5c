//! `/audit`: the audit log, newest first, in pages.
use axum::{
    Json,
    extract::{Query, State},
};
use serde::Deserialize;
use utoipa::IntoParams;

use app::{
    accounts::actor::Actor,
    audit::{AuditPage, ssr},
    error::AppError,
    state::AppState,
};

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// 1-based page number.
    page: Option<u32>,
    /// Entries per page, 1 to 200 (default 50; larger values are taken as 200).
    per_page: Option<u32>,
    /// Admins only: `all` shows every account's entries.
    scope: Option<String>,
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = AuditPage)))]
pub async fn list(State(state): State<AppState>, actor: Actor, Query(q): Query<AuditQuery>) -> Result<Json<AuditPage>, AppError> {
    let everything = q.scope.as_deref() == Some("all");
    let page =
        ssr::list(&state.db, &actor, everything, q.page.map_or(1, u64::from), q.per_page.map_or_else(ssr::default_per_page, u64::from))
            .await?;
    Ok(Json(page))
}
