//! `/audit`: the audit log, newest first, in pages.
use axum::{Json, extract::{Query, State}};
use serde::Deserialize;
use utoipa::IntoParams;

use app::{
    audit::{AuditPage, ssr},
    error::AppError,
    state::{Actor, AppState},
};

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// 1-based page number.
    page: Option<u64>,
    /// Entries per page, 1 to 200 (default 50).
    per_page: Option<u64>,
    /// Admins only: `all` shows every account's entries.
    scope: Option<String>,
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = AuditPage)))]
pub async fn list(State(state): State<AppState>, actor: Actor, Query(q): Query<AuditQuery>) -> Result<Json<AuditPage>, AppError> {
    let everything = q.scope.as_deref() == Some("all");
    let page = ssr::list(&state.db, &actor.account, everything, q.page.unwrap_or(1), q.per_page.unwrap_or_else(ssr::default_per_page)).await?;
    Ok(Json(page))
}
