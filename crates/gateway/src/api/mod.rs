//! The router: every route is registered once, through `utoipa_axum`, so the OpenAPI
//! document is generated from the same list that serves requests and cannot drift.

pub mod auth;
pub mod calls;
pub mod chat_views;
pub mod conversations;
pub mod extract;
pub mod me;
pub mod messages;
pub mod ops;
pub mod users;
pub mod views;
pub mod ws;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Router, middleware as axum_middleware};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::middleware;
use crate::rate_limit::limit_auth_by_ip;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Convene API",
        description = "REST API of Convene: accounts, sessions, profiles, conversations and \
                       messages; live events over the WebSocket at /api/v1/ws. Errors are \
                       `{\"error\": {\"code\", \"message\"}}`; see docs/api.md for every code."
    ),
    modifiers(&SessionSecurity),
    tags(
        (name = "auth", description = "Sign up, sign in, sessions"),
        (name = "profile", description = "The signed-in user"),
        (name = "users", description = "Finding and blocking users"),
        (name = "conversations", description = "Direct chats, groups and meetings"),
        (name = "messages", description = "History, sending, reactions, receipts, search"),
        (name = "realtime", description = "The WebSocket and presence"),
        (name = "calls", description = "Voice and video calls"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct SessionSecurity;

impl Modify for SessionSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("convene_access"))),
        );
    }
}

/// Every route, with its OpenAPI description. The auth routes carry the per-IP limit.
fn api_router(state: &AppState) -> OpenApiRouter<AppState> {
    let auth_routes = OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::guest))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .route_layer(axum_middleware::from_fn_with_state(
            state.clone(),
            limit_auth_by_ip,
        ));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth_routes)
        .routes(routes!(me::get_me, me::update_me))
        .routes(routes!(me::change_password))
        .routes(routes!(users::search_users))
        .routes(routes!(users::get_user))
        .routes(routes!(users::list_blocks))
        .routes(routes!(users::block_user, users::unblock_user))
        .routes(routes!(conversations::list))
        .routes(routes!(conversations::start_direct))
        .routes(routes!(conversations::create_group))
        .routes(routes!(conversations::create_meeting))
        .routes(routes!(conversations::join_meeting))
        .routes(routes!(conversations::get, conversations::rename))
        .routes(routes!(conversations::add_member))
        .routes(routes!(
            conversations::update_member,
            conversations::remove_member
        ))
        .routes(routes!(messages::history, messages::send))
        .routes(routes!(messages::forward))
        .routes(routes!(messages::edit, messages::delete))
        .routes(routes!(messages::react))
        .routes(routes!(messages::pin, messages::unpin))
        .routes(routes!(messages::pins))
        .routes(routes!(messages::events))
        .routes(routes!(messages::mark_read))
        .routes(routes!(messages::typing))
        .routes(routes!(messages::search))
        .routes(routes!(ws::connect))
        .routes(routes!(ws::ticket))
        .routes(routes!(ws::presence))
        .routes(routes!(calls::ice_servers))
        .routes(routes!(calls::history))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi_json))
}

/// The gateway's complete HTTP service.
pub fn router(state: AppState) -> Router {
    let (router, document) = api_router(&state).split_for_parts();
    let document_json = document.to_json().unwrap_or_else(|_| "{}".to_owned());
    router
        .fallback({
            let web_ui = crate::web::WebUi::new(state.settings.web_dir.clone());
            move |request: axum::extract::Request| async move { web_ui.serve(request).await }
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This path does not accept that method.",
            )
            .into_response()
        })
        .layer(Extension(ops::OpenApiJson(Arc::new(document_json))))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(axum_middleware::from_fn_with_state(
            state.clone(),
            middleware::check_origin,
        ))
        .layer(axum_middleware::from_fn_with_state(
            state.clone(),
            middleware::record_metrics,
        ))
        .layer(axum_middleware::from_fn(middleware::security_headers))
        // One INFO span per request (exported as a trace when OTLP is on); the response line
        // itself is DEBUG so that the default log level does not print every request.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .with_state(state)
}
