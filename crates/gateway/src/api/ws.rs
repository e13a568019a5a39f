//! The WebSocket endpoint, its one-time tickets, and presence lookups.

use std::collections::HashSet;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::Duration;
use uuid::Uuid;

use crate::api::chat_views::{PresenceEntry, PresenceList, PresenceQuery, WebSocketTicket};
use crate::api::extract::{Json, Query};
use crate::auth::Authenticated;
use crate::auth::extract::{access_token, authenticate, authenticate_session};
use crate::auth::tokens::{hash_refresh_token, new_refresh_token};
use crate::chat::connection;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

const TICKET_TTL_SECONDS: i64 = 30;
const MAX_PRESENCE_USERS: usize = 200;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebSocketQuery {
    /// A ticket from `POST /api/v1/ws/ticket`, for clients that cannot send the cookie.
    pub ticket: Option<String>,
}

/// What each WebSocket reads from its TCP stream at a time.
const WS_READ_BUFFER_BYTES: usize = 8 * 1024;

/// Open the WebSocket (JSON frames; see docs/protocol.md). Authenticated by the session
/// cookie, a bearer token, or a one-time `ticket`.
#[utoipa::path(get, path = "/api/v1/ws", tag = "realtime",
    params(WebSocketQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, description = "`unauthenticated`, `invalid_ticket`, …", body = ErrorBody),
        (status = 403, description = "`origin_not_allowed`", body = ErrorBody),
    ))]
pub async fn connect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<WebSocketQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    // Browsers always send Origin on a WebSocket handshake: a page elsewhere must not open
    // one with the user's cookies (cross-site WebSocket hijacking).
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|origin| {
            state
                .settings
                .allowed_origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin))
        });
        if !allowed {
            return Err(ApiError::forbidden(
                "origin_not_allowed",
                "WebSockets from this origin are not allowed.",
            ));
        }
    }
    if state.is_draining() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "This server is shutting down; reconnect.",
        )
        .with_retry_after(1));
    }
    let authenticated = match query.ticket {
        Some(ticket) => {
            let now = state.clock.now();
            let (user_id, session_id) = state
                .store
                .consume_ws_ticket(&hash_refresh_token(&ticket), now)
                .await?
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "invalid_ticket",
                        "The ticket is unknown, used or expired.",
                    )
                })?;
            authenticate_session(&state, user_id, session_id, None).await?
        }
        None => {
            let token = access_token(&headers).ok_or_else(|| {
                ApiError::unauthorized(
                    "unauthenticated",
                    "Sign in first: no access token was sent.",
                )
            })?;
            authenticate(&state, &token).await?
        }
    };
    let upgrade = upgrade.map_err(|_| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "This endpoint speaks the WebSocket protocol only.",
        )
    })?;
    let shutdown = state.shutdown.clone();
    let tasks = state.connection_tasks.clone();
    let user = authenticated.user;
    let session_id = authenticated.session.id;
    Ok(upgrade
        // tungstenite's default 128 KiB read buffer per socket was most of an idle
        // connection's ~140 KiB; client frames are small, and a larger one still fits
        // (the buffer grows up to the frame limit).
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .max_message_size(convene_proto::MAX_CLIENT_FRAME_BYTES)
        .max_frame_size(convene_proto::MAX_CLIENT_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            tasks.spawn(connection::run(state, socket, user, session_id, shutdown));
        }))
}

/// A one-time ticket to open the WebSocket, valid 30 seconds.
#[utoipa::path(post, path = "/api/v1/ws/ticket", tag = "realtime",
    responses((status = 201, body = WebSocketTicket)))]
pub async fn ticket(
    State(state): State<AppState>,
    Authenticated { user, session }: Authenticated,
) -> ApiResult<(StatusCode, Json<WebSocketTicket>)> {
    let ticket = new_refresh_token();
    let expires_at = state.clock.now() + Duration::seconds(TICKET_TTL_SECONDS);
    state
        .store
        .create_ws_ticket(
            &hash_refresh_token(&ticket),
            user.id,
            session.id,
            expires_at,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(WebSocketTicket { ticket, expires_at }),
    ))
}

/// Online state and last seen of my contacts (people I share a conversation with); others
/// are left out.
#[utoipa::path(get, path = "/api/v1/presence", tag = "realtime",
    params(PresenceQuery),
    responses((status = 200, body = PresenceList), (status = 400, description = "`invalid_query`", body = ErrorBody)))]
pub async fn presence(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Query(query): Query<PresenceQuery>,
) -> ApiResult<Json<PresenceList>> {
    let requested: Vec<Uuid> = query
        .user_ids
        .split(',')
        .filter(|id| !id.trim().is_empty())
        .map(|id| id.trim().parse::<Uuid>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_query",
                "`user_ids` is a comma-separated list of user ids.",
            )
        })?;
    if requested.len() > MAX_PRESENCE_USERS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("At most {MAX_PRESENCE_USERS} users at once."),
        ));
    }
    let contacts: HashSet<Uuid> = state
        .store
        .contact_ids(user.id)
        .await?
        .into_iter()
        .collect();
    let visible: Vec<Uuid> = requested
        .into_iter()
        .filter(|id| contacts.contains(id))
        .collect();
    let online: HashSet<Uuid> = match state.bus.online_users(&visible, state.clock.now()).await {
        Ok(online) => online.into_iter().collect(),
        Err(error) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "presence: bus unavailable"
            );
            HashSet::new()
        }
    };
    let last_seen = state.store.last_seen(&visible).await?;
    Ok(Json(PresenceList {
        presence: last_seen
            .into_iter()
            .map(|(user_id, last_seen_at)| PresenceEntry {
                user_id,
                online: online.contains(&user_id),
                last_seen_at,
            })
            .collect(),
    }))
}
