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
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(AppError::new(ErrorCode::UnsupportedMediaType, "Send the body as JSON with Content-Type: application/json."));
            }
            Err(JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_)) => {
                return Err(AppError::new(ErrorCode::InvalidInput, "The body is not valid JSON."));
            }
            Err(JsonRejection::BytesRejection(e)) if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(AppError::new(ErrorCode::PayloadTooLarge, "The request body is too large."));
            }
            Err(e) => return Err(AppError::new(ErrorCode::InvalidInput, e.body_text())),
        };
        // Every body of this API is an object; serde would also read a struct from an array
        // (`[null, null]`), which no client means.
        if !value.is_object() {
            return Err(AppError::new(ErrorCode::InvalidInput, "The body must be a JSON object."));
        }
        serde_path_to_error::deserialize(value)
            .map(Self)
            .map_err(|e| AppError::new(ErrorCode::InvalidInput, format!("The JSON body does not fit: {e}")))
    }
}

pub async fn not_found() -> Response {
    AppError::new(ErrorCode::NotFound, "There is no such API route.").into_response()
}
