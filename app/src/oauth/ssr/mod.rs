//! Server-only OAuth logic: the clients Gatehouse knows and the grants they hold.
pub mod clients;
pub mod entity;
pub mod grants;

use tower_sessions::Session;

use crate::error::AppError;

/// The session key of the consent form's CSRF token (synchronizer token pattern): one random
/// value per session, put in the form, compared when it is posted.
const CSRF_KEY: &str = "oauth_csrf";

/// The session's consent CSRF token, made on first use.
pub async fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await.map_err(AppError::internal)? {
        return Ok(token);
    }
    let token = crate::secrets::random_secret("");
    session.insert(CSRF_KEY, token.clone()).await.map_err(AppError::internal)?;
    Ok(token)
}

/// Whether `presented` is the session's consent CSRF token.
pub async fn csrf_matches(session: &Session, presented: Option<&str>) -> bool {
    match (session.get::<String>(CSRF_KEY).await.ok().flatten(), presented) {
        (Some(expected), Some(presented)) => crate::secrets::constant_time_eq(expected.as_bytes(), presented.as_bytes()),
        _ => false,
    }
}
