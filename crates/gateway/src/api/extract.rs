//! Extractors whose rejections are our JSON errors instead of axum's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with `Content-Type: application/json`.",
            ),
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::bad_request("invalid_json", "The body is not valid JSON.")
            }
            // Wrong types, missing or unknown fields: say which, it is the client's own input.
            JsonRejection::JsonDataError(error) => {
                ApiError::unprocessable("invalid_request", error.body_text())
            }
            JsonRejection::BytesRejection(error)
                if error.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                body_too_large()
            }
            other => ApiError::bad_request("invalid_request", other.body_text()),
        }
    }
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "The request body is larger than this endpoint accepts.",
    )
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", rejection.body_text())
    }
}

/// A JSON body that may be absent: an empty body is `T::default()`. Used where browsers
/// post nothing (refresh and logout ride on cookies) and API clients post a token.
#[derive(Debug, Default)]
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let has_json_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    body_too_large()
                } else {
                    ApiError::bad_request("invalid_request", rejection.body_text())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !has_json_type {
            return Err(JsonRejection::MissingJsonContentType(Default::default()).into());
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|error| match error.classify() {
                serde_json::error::Category::Data => {
                    ApiError::unprocessable("invalid_request", error.to_string())
                }
                _ => ApiError::bad_request("invalid_json", "The body is not valid JSON."),
            })
    }
}
