//! API errors and the JSON envelope every error response carries.
//!
//! Handlers return [`ApiError`]; it becomes a response with the status and an
//! [`ErrorInfo`] extension but no body yet. The request-context middleware
//! ([`crate::http::request_context`]) renders the envelope, because only it
//! knows the request id. Errors that axum or tower produce themselves (405,
//! 413, extractor rejections) reach that middleware as plain text and are
//! wrapped there too, so no error leaves the server without the envelope.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What an error response says, before the request id is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// Stable machine-readable code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl ApiError {
    /// Any status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 for a query string the API cannot use.
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", message)
    }

    /// 404 for an unknown resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "database error");
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "The database is not answering; try again shortly.",
            ),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "The server failed to handle this request; it has been logged.",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.extensions_mut().insert(ErrorInfo {
            code: self.code,
            message: self.message,
        });
        res
    }
}

/// The code for a status when nothing more specific is known.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "rate_limited",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "error",
    }
}
