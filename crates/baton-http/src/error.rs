//! The one mapping from domain errors (and request rejections) to HTTP answers with the error envelope.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baton_api::error::{ErrorBody, ErrorDetail};
use baton_core::{Error, ErrorCode};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Value,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: json!({}) }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        if matches!(error, Error::Store(_)) {
            // The full text can hold SQL or paths: it goes to the log, never to the client.
            tracing::error!(%error, "store failure");
        }
        Self { code: error.code(), message: error.public_message(), details: error.details() }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match &rejection {
            JsonRejection::JsonSyntaxError(_) => ErrorCode::MalformedJson,
            JsonRejection::JsonDataError(_) => ErrorCode::InvalidBody,
            JsonRejection::MissingJsonContentType(_) => ErrorCode::UnsupportedMediaType,
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
            _ => ErrorCode::InvalidBody,
        };
        Self::new(code, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        // A route whose path parameters do not fit its handler is our bug, not the client's.
        let code = if rejection.status().is_server_error() { ErrorCode::Internal } else { ErrorCode::InvalidArgument };
        Self::new(code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(ErrorCode::InvalidArgument, rejection.body_text())
    }
}

impl ApiError {
    /// The envelope's `error` object, for answers that report several outcomes (batch acknowledgements).
    pub(crate) fn into_detail(self) -> ErrorDetail {
        ErrorDetail { code: self.code.as_str().to_owned(), message: self.message, details: self.details }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ErrorBody { error: self.into_detail() })).into_response()
    }
}
