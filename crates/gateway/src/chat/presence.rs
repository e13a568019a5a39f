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

/// Presence news the bus could not carry (Redis away), sent again when it is back, latest
/// per user. Bounded: past the cap the oldest news is dropped (contacts then see the truth
/// on their next presence query or reconnect).
#[derive(Debug, Default)]
pub struct PresenceBacklog {
    pending: std::sync::Mutex<Vec<PresenceNews>>,
}

/// Who, online or not, and since when offline.
type PresenceNews = (Uuid, bool, Option<DateTime<Utc>>);

const MAX_BACKLOG: usize = 10_000;

impl PresenceBacklog {
    fn keep(&self, user_id: Uuid, online: bool, last_seen_at: Option<DateTime<Utc>>) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.retain(|(pending_user, _, _)| *pending_user != user_id);
        if pending.len() == MAX_BACKLOG {
            pending.remove(0);
        }
        pending.push((user_id, online, last_seen_at));
    }

    fn take(&self) -> Vec<PresenceNews> {
        std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

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
    if !state.hub.fan_out(&contacts, outbound).await {
        state.presence_backlog.keep(user_id, online, last_seen_at);
    }
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
                            crate::calls::signalling::fail_active_call_of(&state, offline.user_id).await;
                        }
                    }
                    Err(error) => tracing::debug!(error = &error as &dyn std::error::Error, "dead-pod sweep failed"),
                }
            }
        }
    }
}

/// Forwards what the bus brings to local connections until `shutdown`. After a `Resync`
/// (lag, or Redis back after an outage) every connection catches up from the store, and
/// this pod renews and re-announces its users' presence, which Redis may have lost.
pub async fn run_bus_signals(
    state: AppState,
    mut signals: tokio::sync::mpsc::Receiver<convene_bus::BusSignal>,
    shutdown: CancellationToken,
) {
    loop {
        let signal = tokio::select! {
            () = shutdown.cancelled() => return,
            signal = signals.recv() => signal,
        };
        match signal {
            Some(convene_bus::BusSignal::Delivery { user_id, payload }) => {
                match crate::chat::envelope::Outbound::from_bus_payload(&payload) {
                    Some(outbound) => state.hub.deliver_local(&[user_id], &outbound),
                    None => tracing::warn!("dropping a malformed bus payload"),
                }
            }
            Some(convene_bus::BusSignal::Resync) => {
                tracing::info!(
                    "bus resync: connections catch up from the store, presence is renewed"
                );
                state.hub.catch_up_everyone();
                let connections = state.hub.local_connections();
                if let Err(error) = state.bus.heartbeat(&connections, state.clock.now()).await {
                    tracing::debug!(
                        error = &error as &dyn std::error::Error,
                        "presence heartbeat failed"
                    );
                }
                for (user_id, online, last_seen_at) in state.presence_backlog.take() {
                    announce(&state, user_id, online, last_seen_at).await;
                }
                // After every pod's next heartbeat, so a Redis that just restarted empty
                // knows every live connection again before anyone is called offline.
                let refresh_state = state.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(
                        convene_bus::HEARTBEAT_INTERVAL + Duration::from_millis(500),
                    )
                    .await;
                    refresh_contacts_presence(&refresh_state).await;
                });
            }
            None => return,
        }
    }
}

/// After a resync, every local user is told its contacts' presence afresh: news another pod
/// published while this pod was not subscribed yet (Redis just came back) reached nobody,
/// and presence is not in the store to be caught up from. One bus and store read per local
/// user, only on a resync.
async fn refresh_contacts_presence(state: &AppState) {
    let now = state.clock.now();
    for user_id in state.hub.local_users() {
        let contacts = match state.store.contact_ids(user_id).await {
            Ok(contacts) if !contacts.is_empty() => contacts,
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(%user_id, error = &error as &dyn std::error::Error, "presence refresh: reading contacts failed");
                continue;
            }
        };
        let online: std::collections::HashSet<Uuid> =
            match state.bus.online_users(&contacts, now).await {
                Ok(online) => online.into_iter().collect(),
                // Still away: the next resync tries again.
                Err(_) => return,
            };
        let last_seen = match state.store.last_seen(&contacts).await {
            Ok(last_seen) => last_seen,
            Err(_) => continue,
        };
        for (contact_id, last_seen_at) in last_seen {
            let online = online.contains(&contact_id);
            let frame = ServerFrame::Presence {
                user_id: contact_id,
                online,
                last_seen_at: if online { None } else { last_seen_at },
            };
            state
                .hub
                .deliver_local(&[user_id], &Outbound::new(Route::Ephemeral, &frame));
        }
    }
}
