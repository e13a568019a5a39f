//! Who is online: connections are recorded on the bus with heartbeats; contacts hear when a
//! user comes online or goes offline, also when the pod that held the user dies.

use std::time::Duration;

use chrono::{DateTime, Utc};
use convene_proto::ServerFrame;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::chat::envelope::{Outbound, Route};
use crate::state::AppState;

/// How often the pod renews its connections on the bus (they expire after ~3 missed beats).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// How often the pod looks for dead pods whose users must be announced offline.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(3);

/// Tells the user's contacts (co-members) that the user came online or went offline.
pub async fn announce(
    state: &AppState,
    user_id: Uuid,
    online: bool,
    last_seen_at: Option<DateTime<Utc>>,
) {
    let contacts = match state.store.contact_ids(user_id).await {
        Ok(contacts) => contacts,
        Err(error) => {
            tracing::warn!(%user_id, error = &error as &dyn std::error::Error, "presence: reading contacts failed");
            return;
        }
    };
    if contacts.is_empty() {
        return;
    }
    let outbound = Outbound::new(
        Route::Ephemeral,
        &ServerFrame::Presence {
            user_id,
            online,
            last_seen_at,
        },
    );
    state.hub.fan_out(&contacts, outbound).await;
}

/// A user's last connection anywhere closed at `at`.
pub async fn went_offline(state: &AppState, user_id: Uuid, at: DateTime<Utc>) {
    if let Err(error) = state.store.set_last_seen(user_id, at).await {
        tracing::warn!(%user_id, error = &error as &dyn std::error::Error, "storing last seen failed");
    }
    announce(state, user_id, false, Some(at)).await;
}

/// Renews this pod's connections and sweeps dead pods until `shutdown`.
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = heartbeat.tick() => {
                let connections = state.hub.local_connections();
                if let Err(error) = state.bus.heartbeat(&connections, state.clock.now()).await {
                    tracing::debug!(error = &error as &dyn std::error::Error, "presence heartbeat failed");
                }
            }
            _ = sweep.tick() => {
                match state.bus.sweep_dead_pods(state.clock.now()).await {
                    Ok(gone) => {
                        for offline in gone {
                            went_offline(&state, offline.user_id, offline.at).await;
                        }
                    }
                    Err(error) => tracing::debug!(error = &error as &dyn std::error::Error, "dead-pod sweep failed"),
                }
            }
        }
    }
}
