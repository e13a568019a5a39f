//! The pod's live connections, and fan-out: every change is delivered to the local
//! connections of its recipients directly, and to other pods through the bus. The store is
//! the truth; the hub only makes it arrive sooner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use convene_bus::Bus;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::chat::envelope::{Outbound, Route};

/// What a connection's task is told.
#[derive(Debug, Clone)]
pub enum ConnectionCommand {
    Deliver(Outbound),
    /// Deliveries may have been lost: re-read every followed conversation from the store.
    CatchUp,
}

/// The hub's end of one WebSocket connection.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    pub sender: mpsc::Sender<ConnectionCommand>,
    /// Cancelled when the connection's queue overflowed: the connection closes with a
    /// "resync" reason instead of blocking everyone else or dropping silently.
    pub overflowed: CancellationToken,
}

type Connections = HashMap<Uuid, HashMap<Uuid, ConnectionHandle>>;

/// How long a request waits for the bus to take its fan-out (while Redis is away it must not
/// cost 2 s per message; a publish cut short may still go out once the client reconnects,
/// and connections drop repeated seqs).
const PUBLISH_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

pub struct Hub {
    connections: Mutex<Connections>,
    bus: Arc<dyn Bus>,
}

impl Hub {
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        Self {
            connections: Mutex::new(HashMap::new()),
            bus,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a connection; subscribes the pod to the user's bus channel on the first one.
    pub async fn register(&self, user_id: Uuid, connection_id: Uuid, handle: ConnectionHandle) {
        let first = {
            let mut connections = self.lock();
            let of_user = connections.entry(user_id).or_default();
            of_user.insert(connection_id, handle);
            of_user.len() == 1
        };
        if first && let Err(error) = self.bus.subscribe_user(user_id).await {
            // Other pods' events reach this user late (through catch-up after the bus
            // returns), never not at all.
            tracing::warn!(%user_id, error = &error as &dyn std::error::Error, "bus subscribe failed");
        }
    }

    pub async fn unregister(&self, user_id: Uuid, connection_id: Uuid) {
        let last = {
            let mut connections = self.lock();
            match connections.get_mut(&user_id) {
                Some(of_user) => {
                    of_user.remove(&connection_id);
                    let empty = of_user.is_empty();
                    if empty {
                        connections.remove(&user_id);
                    }
                    empty
                }
                None => false,
            }
        };
        if !last {
            return;
        }
        if let Err(error) = self.bus.unsubscribe_user(user_id).await {
            tracing::debug!(%user_id, error = &error as &dyn std::error::Error, "bus unsubscribe failed");
        }
        // A new connection of the user (a reloaded tab) may have registered, and subscribed,
        // while this unsubscribe was on its way: subscribe again so it is not left deaf.
        if self.has_local_connections(user_id)
            && let Err(error) = self.bus.subscribe_user(user_id).await
        {
            tracing::warn!(%user_id, error = &error as &dyn std::error::Error, "bus resubscribe failed");
        }
    }

    /// Every local (user, connection) pair, for the presence heartbeat.
    pub fn local_connections(&self) -> Vec<(Uuid, Uuid)> {
        self.lock()
            .iter()
            .flat_map(|(user_id, of_user)| {
                of_user
                    .keys()
                    .map(move |connection_id| (*user_id, *connection_id))
            })
            .collect()
    }

    pub fn has_local_connections(&self, user_id: Uuid) -> bool {
        self.lock().contains_key(&user_id)
    }

    /// The users with at least one connection on this pod.
    pub fn local_users(&self) -> Vec<Uuid> {
        self.lock().keys().copied().collect()
    }

    #[cfg(test)]
    fn connection_count(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }

    /// Delivers to this pod's connections of `user_ids`, without waiting: a full queue
    /// marks that connection overflowed.
    pub fn deliver_local(&self, user_ids: &[Uuid], outbound: &Outbound) {
        let connections = self.lock();
        for user_id in user_ids {
            let Some(of_user) = connections.get(user_id) else {
                continue;
            };
            for (connection_id, handle) in of_user {
                let wanted = match outbound.route {
                    Route::ToConnection {
                        connection_id: only,
                    } => *connection_id == only,
                    Route::ExceptConnection { connection_id: not } => *connection_id != not,
                    _ => true,
                };
                if wanted {
                    send_or_overflow(handle, ConnectionCommand::Deliver(outbound.clone()));
                }
            }
        }
    }

    /// Delivers locally and publishes to the other pods. Returns false when the bus could
    /// not take it: those recipients catch up from the store when the bus is back or when
    /// they reconnect; callers with ephemeral news (presence) may keep it to send again.
    pub async fn fan_out(&self, user_ids: &[Uuid], outbound: Outbound) -> bool {
        self.deliver_local(user_ids, &outbound);
        let Some(payload) = outbound.to_bus_payload() else {
            return true;
        };
        // The request that changed something waits at most this long for the bus: while
        // Redis is away it must not take 2 s per message. A publish cut short here may still
        // go out once the client reconnects; connections drop repeated seqs.
        match tokio::time::timeout(PUBLISH_WAIT, self.bus.publish(user_ids, payload)).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    n_users = user_ids.len(),
                    "bus publish failed"
                );
                false
            }
            Err(_) => {
                tracing::debug!(n_users = user_ids.len(), "bus publish timed out");
                false
            }
        }
    }

    /// Like [`Hub::fan_out`], to every connection of `user_ids` except `connection_id`.
    pub async fn fan_out_except(
        &self,
        user_ids: &[Uuid],
        outbound: Outbound,
        connection_id: Uuid,
    ) -> bool {
        let outbound = Outbound {
            route: Route::ExceptConnection { connection_id },
            ..outbound
        };
        self.fan_out(user_ids, outbound).await
    }

    /// Tells every local connection to catch up from the store.
    pub fn catch_up_everyone(&self) {
        let connections = self.lock();
        for handle in connections.values().flat_map(HashMap::values) {
            send_or_overflow(handle, ConnectionCommand::CatchUp);
        }
    }
}

fn send_or_overflow(handle: &ConnectionHandle, command: ConnectionCommand) {
    if handle.overflowed.is_cancelled() {
        return;
    }
    if let Err(mpsc::error::TrySendError::Full(_)) = handle.sender.try_send(command) {
        handle.overflowed.cancel();
    }
}

#[cfg(test)]
mod tests {
    use convene_bus::InProcessBus;
    use convene_proto::ServerFrame;

    use super::*;

    fn frame() -> Outbound {
        Outbound::new(Route::Ephemeral, &ServerFrame::Pong { request_id: None })
    }

    #[tokio::test]
    async fn a_full_queue_overflows_that_connection_only() {
        let hub = Hub::new(Arc::new(InProcessBus::new()));
        let (slow_sender, _slow_receiver) = mpsc::channel(2);
        let (fast_sender, mut fast_receiver) = mpsc::channel(16);
        let slow = ConnectionHandle {
            sender: slow_sender,
            overflowed: CancellationToken::new(),
        };
        let fast = ConnectionHandle {
            sender: fast_sender,
            overflowed: CancellationToken::new(),
        };
        let (slow_user, fast_user) = (Uuid::now_v7(), Uuid::now_v7());
        hub.register(slow_user, Uuid::now_v7(), slow.clone()).await;
        hub.register(fast_user, Uuid::now_v7(), fast.clone()).await;
        for _ in 0..3 {
            hub.deliver_local(&[slow_user, fast_user], &frame());
            assert!(
                fast_receiver.try_recv().is_ok(),
                "the fast reader gets every frame"
            );
        }
        assert!(
            slow.overflowed.is_cancelled(),
            "the third frame did not fit"
        );
        assert!(!fast.overflowed.is_cancelled());
        assert_eq!(hub.connection_count(), 2);
    }

    #[tokio::test]
    async fn catch_up_reaches_every_local_connection() {
        let hub = Hub::new(Arc::new(InProcessBus::new()));
        let mut receivers = Vec::new();
        for _ in 0..3 {
            let (sender, receiver) = mpsc::channel(4);
            hub.register(
                Uuid::now_v7(),
                Uuid::now_v7(),
                ConnectionHandle {
                    sender,
                    overflowed: CancellationToken::new(),
                },
            )
            .await;
            receivers.push(receiver);
        }
        hub.catch_up_everyone();
        for receiver in &mut receivers {
            assert!(matches!(
                receiver.try_recv(),
                Ok(ConnectionCommand::CatchUp)
            ));
        }
    }
}
