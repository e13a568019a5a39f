//! Cross-cutting request handling: origin checks (CSRF), request metrics, security headers.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Refuses a state-changing request whose `Origin` is not ours.
///
/// Browsers attach `Origin` to every cross-origin request that can change state, so a page
/// elsewhere cannot make a signed-in browser act with its cookies (CSRF); SameSite=Lax
/// cookies are the second layer. Requests without `Origin` come from non-browser clients,
/// which carry no ambient cookies, and pass.
pub async fn check_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state && let Some(origin) = request.headers().get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|origin| {
            state
                .settings
                .allowed_origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin))
        });
        if !allowed {
            return ApiError::forbidden(
                "origin_not_allowed",
                "Requests from this origin are not allowed.",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Counts and times every request by its route template.
pub async fn record_metrics(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    state.metrics.record_http(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Headers every response carries. The CSP allows only our own origin (the web UI is
/// served by the gateway), no framing, no plugins.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob:; \
         connect-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        header::HeaderName::from_static("permissions-policy"),
        "camera=(self), microphone=(self), display-capture=(self), geolocation=()",
    );
    response
}
