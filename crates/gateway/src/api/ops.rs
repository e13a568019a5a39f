//! Health, readiness, metrics and the OpenAPI document.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::extract::Json;
use crate::api::views::{HealthStatus, ReadinessChecks};
use crate::error::ApiError;
use crate::state::AppState;

const DEPENDENCY_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is alive. Never touches a dependency: a database outage must not make the
/// orchestrator restart healthy pods.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = HealthStatus)))]
pub async fn healthz() -> Json<HealthStatus> {
    Json(HealthStatus {
        status: "ok".into(),
        checks: None,
    })
}

/// Ready for traffic: the store answers and the pod is not draining (503 otherwise). A bus
/// (Redis) outage answers 200 `degraded`: every pod still serves its own clients, and
/// taking all of them out of rotation would turn a partial outage into a full one.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "`ready` or `degraded`", body = HealthStatus),
        (status = 503, description = "`not_ready` or `draining`", body = HealthStatus),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let store = match tokio::time::timeout(DEPENDENCY_CHECK_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "timed out".to_owned(),
    };
    let bus = match tokio::time::timeout(DEPENDENCY_CHECK_TIMEOUT, state.bus.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "timed out".to_owned(),
    };
    let (status_code, status) = if state.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else if store != "ok" {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    } else if bus != "ok" {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "ready")
    };
    let body = HealthStatus {
        status: status.into(),
        checks: Some(ReadinessChecks { store, bus }),
    };
    (status_code, Json(body)).into_response()
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .metrics
        .render(
            state.store.pool_stats(),
            state.media.local.as_ref().map(|node| node.load()),
        )
        .map_err(|_| ApiError::internal())?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// The serialized OpenAPI document, computed once at start-up.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<String>);

/// This document (OpenAPI 3.1), generated from the handlers themselves.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json(Extension(document): Extension<OpenApiJson>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.0.as_str().to_owned(),
    )
        .into_response()
}
