//! The REST API under `/api/v1`: JSON in, JSON out, errors with stable codes.
mod auth;
mod json;

use axum::{Router, routing::{get, post}};

use app::state::AppState;

pub use json::ApiJson;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .fallback(json::not_found)
}
