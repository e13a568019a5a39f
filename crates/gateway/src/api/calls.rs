//! `/api/v1/calls/*`: what browsers need for calls.

use axum::extract::State;

use crate::api::extract::Json;
use crate::auth::Authenticated;
use crate::state::AppState;
use crate::turn::IceServers;

/// STUN and TURN servers for `RTCPeerConnection`, with TURN credentials for me that expire
/// (`CONVENE_TURN_CREDENTIAL_TTL_SECONDS`). Empty when none are configured (calls then work
/// on networks where peers reach each other directly).
#[utoipa::path(get, path = "/api/v1/calls/ice-servers", tag = "calls",
    responses((status = 200, body = IceServers)))]
pub async fn ice_servers(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
) -> Json<IceServers> {
    Json(state.settings.turn.ice_servers(user.id, state.clock.now()))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallHistoryQuery {
    /// Only calls started before this time (the next older page).
    pub before: Option<chrono::DateTime<chrono::Utc>>,
    /// 1–100, default 50.
    pub limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct CallList {
    /// Newest first; incoming when `callee_id` is me.
    pub calls: Vec<convene_proto::CallView>,
}

/// My call history: incoming, outgoing, missed; voice and video; with durations.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls",
    params(CallHistoryQuery),
    responses((status = 200, body = CallList)))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    crate::api::extract::Query(query): crate::api::extract::Query<CallHistoryQuery>,
) -> crate::error::ApiResult<Json<CallList>> {
    let limit = crate::api::conversations::page_limit(query.limit, 50, 100)?;
    let calls = state
        .store
        .calls_for_user(user.id, query.before, limit)
        .await?;
    Ok(Json(CallList {
        calls: calls.iter().map(crate::calls::call_view).collect(),
    }))
}
