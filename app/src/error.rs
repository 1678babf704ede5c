//! The one error type that crosses the app's boundaries: server functions, the REST API and
//! the pages all speak it. Internal causes are logged on the server and never shown.
use std::collections::BTreeMap;

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients match on these, so never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    InvalidInput,
    EmailUnavailable,
    Conflict,
    InvalidCredentials,
    AccountDisabled,
    Unauthenticated,
    Forbidden,
    CrossOrigin,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    RequestTimeout,
    TooManyAttempts,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            ErrorCode::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::EmailUnavailable | ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::InvalidCredentials | ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::AccountDisabled | ErrorCode::Forbidden | ErrorCode::CrossOrigin => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A duration as a person reads it: "0.7 seconds", "30 seconds".
pub fn in_words(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds == seconds.trunc() { format!("{seconds:.0} seconds") } else { format!("{seconds:.1} seconds") }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// Field name → what is wrong with it, in words for the person filling the form.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Seconds to wait before trying again (sent as `Retry-After` too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), fields: BTreeMap::new(), retry_after: None }
    }

    /// A validation failure naming each bad field.
    pub fn invalid_fields(fields: BTreeMap<String, String>) -> Self {
        Self { code: ErrorCode::InvalidInput, message: "Please correct the highlighted fields.".into(), fields, retry_after: None }
    }

    pub fn with_field(mut self, name: &str, message: impl Into<String>) -> Self {
        self.fields.insert(name.into(), message.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The database cannot be reached: a 503 the client may retry.
    pub fn unavailable() -> Self {
        Self::new(ErrorCode::Unavailable, "The database is unavailable right now. Try again shortly.")
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "Your session has ended. Please log in again.")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("No such {what}."))
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "You do not have permission to do that.")
    }

    /// Logs the cause and returns an error that says nothing about it.
    #[cfg(feature = "ssr")]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(ErrorCode::Internal, "Something went wrong on our side. Please try again.")
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                Self::new(ErrorCode::InvalidInput, "The form was incomplete. Please fill it in again.")
            }
            ServerFnErrorErr::Request(_) => {
                Self::new(ErrorCode::Unavailable, "Could not reach Gatehouse. Check your connection and try again.")
            }
            other => Self::new(ErrorCode::Internal, format!("Something went wrong: {other}")),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sea_orm::DbErr> for AppError {
    /// A database that cannot be reached is a 503 the client may retry, not an internal error.
    fn from(err: sea_orm::DbErr) -> Self {
        if database_unavailable(&err) {
            tracing::warn!(%err, "database unavailable");
            Self::unavailable()
        } else {
            Self::internal(err)
        }
    }
}

/// Session storage lives in the database too: its backend failing is the database being away.
#[cfg(feature = "ssr")]
impl From<tower_sessions::session::Error> for AppError {
    fn from(err: tower_sessions::session::Error) -> Self {
        use tower_sessions::{session::Error, session_store::Error as Store};
        match err {
            Error::Store(Store::Backend(why)) => {
                tracing::warn!(%why, "session storage unavailable");
                Self::unavailable()
            }
            err => Self::internal(err),
        }
    }
}

/// Whether `err` says the database could not be reached or went away mid-statement (rather
/// than refusing the statement): no connection, a broken socket, or PostgreSQL shutting down
/// or not yet accepting connections (SQLSTATE class 08, 57P01–57P03).
#[cfg(feature = "ssr")]
fn database_unavailable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx::Error};
    let runtime = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else { return false };
    match sqlx.as_ref() {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Database(db) => db.code().is_some_and(|code| code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = self.code.status();
        let retry_after = self.retry_after;
        let mut response = (status, axum::Json(self)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
