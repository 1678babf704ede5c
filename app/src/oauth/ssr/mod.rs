//! Server-only OAuth logic: the clients Gatehouse knows and the grants they hold.
pub mod clients;
pub mod entity;
pub mod grants;

use tower_sessions::Session;

use crate::error::AppError;

/// The consent form's CSRF token: a hash of the session's id (the cookie's secret value), so
/// it is the same however many times the page is rendered for one session, needs no write,
/// and a page that cannot read the cookie cannot know it; a new session (a login) gets a new one.
pub async fn csrf_token(session: &Session) -> Result<String, AppError> {
    let id = session.id().ok_or_else(|| AppError::new(crate::error::ErrorCode::Unauthenticated, "Sign in again."))?;
    Ok(crate::secrets::sha256_hex(&format!("gatehouse-oauth-csrf:{id}")))
}

/// Whether `presented` is the session's consent CSRF token.
pub async fn csrf_matches(session: &Session, presented: Option<&str>) -> bool {
    match (csrf_token(session).await, presented) {
        (Ok(expected), Some(presented)) => crate::secrets::constant_time_eq(expected.as_bytes(), presented.as_bytes()),
        _ => false,
    }
}
