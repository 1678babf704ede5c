//! What every server-side handler shares, provided to server functions as context.
use axum::extract::FromRef;
use leptos::prelude::*;
use sea_orm::DatabaseConnection;
use tower_sessions::Session;

use crate::accounts::ssr::PasswordHasher;
use crate::error::AppError;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub passwords: PasswordHasher,
    pub leptos_options: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state inside a server function or a page rendered on the server.
pub fn app_state() -> AppState {
    expect_context::<AppState>()
}

/// The request's session (the session layer wraps every route).
pub async fn request_session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(AppError::internal)
}

/// Gives a server function's failure its real HTTP status (server functions answer 500 by
/// default). A plain form post (no JavaScript) is left alone: it must stay a redirect back to
/// the form, which carries the error.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result {
        let form_post = use_context::<http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
        });
        if let (false, Some(response)) = (form_post, use_context::<leptos_axum::ResponseOptions>()) {
            response.set_status(
                http::StatusCode::from_u16(error.code.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
    }
    result
}
