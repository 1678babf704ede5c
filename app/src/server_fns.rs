//! What every server function shares: the state and session of the request it serves, and how
//! its answer reaches a plain HTML form (no JavaScript) as well as the browser's fetch.
use std::{collections::HashMap, sync::Arc};

use leptos::prelude::*;
use tower_sessions::Session;

use crate::error::AppError;
use crate::state::AppState;

/// The state inside a server function or a page rendered on the server.
pub fn app_state() -> AppState {
    expect_context::<AppState>()
}

/// The request's session (the session layer wraps every route).
pub async fn request_session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(AppError::internal)
}

/// Values taken out of the session once per request. A page rendered on the server may
/// build a component (and call its server functions) more than once; every call within one
/// request sees what the first one took.
#[derive(Clone, Default)]
pub struct TakenFromSession(Arc<tokio::sync::Mutex<HashMap<String, Option<String>>>>);

impl TakenFromSession {
    /// Removes `key` from the session, or repeats what this request already removed.
    pub async fn take(&self, session: &Session, key: &str) -> Result<Option<String>, AppError> {
        let mut taken = self.0.lock().await;
        if let Some(value) = taken.get(key) {
            return Ok(value.clone());
        }
        let value = session.remove::<String>(key).await.map_err(AppError::from)?;
        taken.insert(key.to_string(), value.clone());
        Ok(value)
    }
}

/// Is this server function call a plain HTML form post (no JavaScript)? Such a caller gets a
/// redirect, never the function's return value.
pub fn is_form_post() -> bool {
    use_context::<http::request::Parts>()
        .is_some_and(|parts| parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html")))
}

/// Gives a server function's failure its real HTTP status (server functions answer 500 by
/// default). A plain form post (no JavaScript) is left alone: it must stay a redirect back to
/// the form, which carries the error.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result
        && let (false, Some(response)) = (is_form_post(), use_context::<leptos_axum::ResponseOptions>())
    {
        response.set_status(error.code.status());
        if let Some(seconds) = error.retry_after {
            response.insert_header(http::header::RETRY_AFTER, seconds.into());
        }
    }
    result
}
