//! JSON bodies whose every failure is an `AppError`, never axum's plain-text rejection.
use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

use app::error::{AppError, ErrorCode};

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the body as JSON with Content-Type: application/json.",
            )),
            Err(JsonRejection::JsonDataError(e)) => {
                Err(AppError::new(ErrorCode::InvalidInput, format!("The JSON body does not fit: {}", e.body_text())))
            }
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(AppError::new(ErrorCode::InvalidInput, "The body is not valid JSON."))
            }
            Err(JsonRejection::BytesRejection(e)) if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::new(ErrorCode::PayloadTooLarge, "The request body is too large."))
            }
            Err(e) => Err(AppError::new(ErrorCode::InvalidInput, e.body_text())),
        }
    }
}

pub async fn not_found() -> Response {
    AppError::new(ErrorCode::NotFound, "There is no such API route.").into_response()
}
