//! The one error type every handler returns. Clients get a stable `snake_case` code and a
//! sentence; the internal cause is logged here and never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use ts_rs::TS;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429 and 503 answers.
    pub retry_after: Option<u64>,
}

/// The error body every endpoint answers with: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_credentials`; see docs/api.md.
    pub code: String,
    /// A human sentence; may change between versions.
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side; please try again.",
        )
    }

    pub fn store_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "The database is unreachable right now; please try again shortly.",
        )
        .with_retry_after(2)
    }

    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests; slow down and retry after the time in Retry-After.",
        )
        .with_retry_after(retry_after_seconds)
    }
}

impl From<convene_store::Error> for ApiError {
    fn from(error: convene_store::Error) -> Self {
        match error {
            convene_store::Error::Unavailable(ref cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                ApiError::store_unavailable()
            }
            convene_store::Error::UsernameTaken => ApiError::new(
                StatusCode::CONFLICT,
                "username_taken",
                "That username is taken; choose another.",
            ),
            convene_store::Error::NotFound => {
                ApiError::not_found("not_found", "The requested record does not exist.")
            }
            other => {
                tracing::error!(error = &other as &dyn std::error::Error, "store error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
