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
