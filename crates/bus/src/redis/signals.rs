//! The two tasks behind a pod's signals.
//!
//! The forwarder turns fred's pub/sub broadcast into the pod's bounded channel of
//! [`BusSignal`]s. It never waits for the consumer: when the channel is full, deliveries are
//! dropped and one `Resync` is owed, sent as soon as there is room. A lag of fred's broadcast
//! owes a `Resync` too.
//!
//! The resubscriber re-subscribes the pod's users after every (re)connection of the
//! subscriber client, and only then asks the forwarder for a `Resync`: a client that catches
//! up from the store after that misses nothing that is published later.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use fred::{clients::SubscriberClient, interfaces::PubsubInterface, types::Message};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use super::keys::{self, Keys};
use crate::{BusSignal, PodId};

/// The users this pod wants deliveries for. It outlives failed `SUBSCRIBE`s: what could not
/// be subscribed is subscribed at the next reconnection.
pub(super) type WantedUsers = Arc<Mutex<HashSet<Uuid>>>;

pub(super) fn lock_wanted(wanted: &WantedUsers) -> std::sync::MutexGuard<'_, HashSet<Uuid>> {
    // The set stays consistent whatever panicked while holding it.
    wanted.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) struct Forwarder {
    pub(super) pod_id: PodId,
    pub(super) keys: Keys,
    /// A channel can still deliver after its user was unsubscribed (a re-subscription after
    /// a reconnection may land after the `UNSUBSCRIBE`): such deliveries are dropped here.
    pub(super) wanted: WantedUsers,
    pub(super) messages: broadcast::Receiver<Message>,
    pub(super) resync_requests: mpsc::Receiver<()>,
    pub(super) signals: mpsc::Sender<BusSignal>,
}

impl Forwarder {
    pub(super) async fn run(mut self) {
        let mut resync_owed = false;
        loop {
            tokio::select! {
                biased;
                permit = self.signals.reserve(), if resync_owed => match permit {
                    Ok(permit) => {
                        permit.send(BusSignal::Resync);
                        resync_owed = false;
                    }
                    Err(_closed) => return,
                },
                request = self.resync_requests.recv() => match request {
                    Some(()) => resync_owed = true,
                    None => return,
                },
                message = self.messages.recv() => match message {
                    Ok(message) => {
                        let Some(delivery) = self.delivery(&message) else { continue };
                        if resync_owed {
                            // The owed `Resync` covers it; the channel is still full.
                            continue;
                        }
                        match self.signals.try_send(delivery) {
                            Ok(()) => {}
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                tracing::warn!(pod_id = %self.pod_id, "bus signals full: dropping deliveries until a resync");
                                resync_owed = true;
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => return,
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n_lost)) => {
                        tracing::warn!(pod_id = %self.pod_id, n_lost, "redis pub/sub lagged: resync");
                        resync_owed = true;
                    }
                    // fred closes its broadcast channels when the client quits.
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    /// `None` for this pod's own publications and for anything that is not an envelope on a
    /// user's channel.
    fn delivery(&self, message: &Message) -> Option<BusSignal> {
        let Some(user_id) = self.keys.user_of_channel(&message.channel) else {
            tracing::debug!(channel = %message.channel, "message on a channel that is not a user's");
            return None;
        };
        let text = message.value.as_str()?;
        let Some((origin, payload)) = keys::decode_envelope(&text) else {
            tracing::warn!(%user_id, "malformed bus envelope");
            return None;
        };
        if origin == self.pod_id || !lock_wanted(&self.wanted).contains(&user_id) {
            return None;
        }
        Some(BusSignal::Delivery {
            user_id,
            payload: Arc::from(payload),
        })
    }
}

pub(super) struct Resubscriber {
    pub(super) subscriber: SubscriberClient,
    pub(super) keys: Keys,
    pub(super) wanted: WantedUsers,
    pub(super) reconnections: broadcast::Receiver<fred::types::config::Server>,
    pub(super) resync_requests: mpsc::Sender<()>,
}

/// Between attempts to re-subscribe while the connection is up but commands fail.
const RESUBSCRIBE_RETRY: Duration = Duration::from_millis(500);

impl Resubscriber {
    pub(super) async fn run(mut self) {
        // fred announces the first connection like a reconnection. Deliveries can only have
        // been missed before it if someone wanted them already.
        let mut connected_before = false;
        loop {
            match self.reconnections.recv().await {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
            let channels: Vec<String> = lock_wanted(&self.wanted)
                .iter()
                .map(|user_id| self.keys.user_channel(*user_id))
                .collect();
            let resync = connected_before || !channels.is_empty();
            connected_before = true;
            if !channels.is_empty() {
                self.resubscribe(channels).await;
            }
            if resync {
                // Full means a request is already pending: one `Resync` covers both.
                let _ = self.resync_requests.try_send(());
            }
        }
    }

    async fn resubscribe(&self, channels: Vec<String>) {
        let n_channels = channels.len();
        loop {
            match self.subscriber.subscribe(channels.clone()).await {
                Ok(()) => {
                    tracing::info!(n_channels, "re-subscribed to redis channels");
                    self.unsubscribe_unwanted(channels).await;
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, n_channels, "re-subscribing to redis channels failed");
                    tokio::time::sleep(RESUBSCRIBE_RETRY).await;
                }
            }
        }
    }
}

impl Resubscriber {
    /// Users unsubscribed while the re-subscription was on its way were subscribed again by
    /// it: undo that (their `unsubscribe_user` came first and will not be repeated).
    async fn unsubscribe_unwanted(&self, channels: Vec<String>) {
        let unwanted: Vec<String> = {
            let wanted = lock_wanted(&self.wanted);
            channels
                .into_iter()
                .filter(|channel| {
                    self.keys
                        .user_of_channel(channel)
                        .is_some_and(|user_id| !wanted.contains(&user_id))
                })
                .collect()
        };
        if !unwanted.is_empty()
            && let Err(error) = self.subscriber.unsubscribe(unwanted).await
        {
            // The forwarder drops their deliveries meanwhile; the next reconnection forgets
            // them for good.
            tracing::debug!(%error, "unsubscribing users no longer wanted failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use fred::types::{MessageKind, Value, config::Server};

    use super::*;

    struct Fixture {
        pod_id: PodId,
        keys: Keys,
        wanted: WantedUsers,
        messages: broadcast::Sender<Message>,
        resync_requests: mpsc::Sender<()>,
        signals: mpsc::Receiver<BusSignal>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Fixture {
        fn start(broadcast_capacity: usize, signal_capacity: usize) -> Self {
            let pod_id = Uuid::new_v4();
            let keys = Keys::new("test:");
            let (messages, messages_rx) = broadcast::channel(broadcast_capacity);
            let (resync_requests, resync_rx) = mpsc::channel(1);
            let (signal_tx, signals) = mpsc::channel(signal_capacity);
            let wanted = WantedUsers::default();
            let forwarder = Forwarder {
                pod_id,
                keys: keys.clone(),
                wanted: wanted.clone(),
                messages: messages_rx,
                resync_requests: resync_rx,
                signals: signal_tx,
            };
            let task = tokio::spawn(forwarder.run());
            Self {
                pod_id,
                keys,
                wanted,
                messages,
                resync_requests,
                signals,
                task,
            }
        }

        /// A publication to `user_id`, whom this pod wants deliveries for.
        fn publish(&self, origin: PodId, user_id: Uuid, payload: &str) {
            lock_wanted(&self.wanted).insert(user_id);
            self.publish_to_whoever(origin, user_id, payload);
        }

        fn publish_to_whoever(&self, origin: PodId, user_id: Uuid, payload: &str) {
            let message = Message {
                channel: self.keys.user_channel(user_id).into(),
                value: Value::from(keys::encode_envelope(origin, payload)),
                kind: MessageKind::Message,
                server: Server::new("127.0.0.1", 6379),
            };
            self.messages.send(message).expect("the forwarder listens");
        }

        /// Lets the forwarder run until it waits again (current-thread runtime).
        async fn settle(&self) {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }

        fn received(&mut self) -> Vec<BusSignal> {
            std::iter::from_fn(|| self.signals.try_recv().ok()).collect()
        }
    }

    fn delivery(user_id: Uuid, payload: &str) -> BusSignal {
        BusSignal::Delivery {
            user_id,
            payload: Arc::from(payload),
        }
    }

    #[tokio::test]
    async fn deliveries_from_other_pods_pass_and_echoes_do_not() {
        let mut fixture = Fixture::start(16, 16);
        let (user_id, other_pod) = (Uuid::new_v4(), Uuid::new_v4());
        fixture.publish(fixture.pod_id, user_id, "echo");
        fixture.publish(other_pod, user_id, "hello");
        fixture.settle().await;
        assert_eq!(fixture.received(), vec![delivery(user_id, "hello")]);
        fixture.task.abort();
    }

    #[tokio::test]
    async fn deliveries_for_users_the_pod_no_longer_wants_are_dropped() {
        let mut fixture = Fixture::start(16, 16);
        let (wanted, unwanted, other_pod) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        fixture.publish_to_whoever(other_pod, unwanted, "late");
        fixture.publish(other_pod, wanted, "hello");
        fixture.settle().await;
        assert_eq!(fixture.received(), vec![delivery(wanted, "hello")]);
        fixture.task.abort();
    }

    #[tokio::test]
    async fn full_channel_drops_deliveries_for_one_resync_when_there_is_room() {
        let mut fixture = Fixture::start(16, 2);
        let (user_id, other_pod) = (Uuid::new_v4(), Uuid::new_v4());
        for payload in ["1", "2", "3", "4"] {
            fixture.publish(other_pod, user_id, payload);
        }
        fixture.settle().await;
        assert_eq!(fixture.signals.recv().await, Some(delivery(user_id, "1")));
        fixture.settle().await;
        // "3" and "4" were dropped; the room "1" left went to the resync.
        assert_eq!(
            fixture.received(),
            vec![delivery(user_id, "2"), BusSignal::Resync]
        );
        fixture.publish(other_pod, user_id, "5");
        fixture.settle().await;
        assert_eq!(fixture.received(), vec![delivery(user_id, "5")]);
        fixture.task.abort();
    }

    #[tokio::test]
    async fn lagging_behind_redis_owes_a_resync() {
        let mut fixture = Fixture::start(2, 16);
        let (user_id, other_pod) = (Uuid::new_v4(), Uuid::new_v4());
        // The forwarder does not run in between: the broadcast overwrites "1".
        for payload in ["1", "2", "3"] {
            fixture.publish(other_pod, user_id, payload);
        }
        fixture.settle().await;
        assert_eq!(
            fixture.received(),
            vec![
                BusSignal::Resync,
                delivery(user_id, "2"),
                delivery(user_id, "3")
            ]
        );
        fixture.task.abort();
    }

    #[tokio::test]
    async fn resync_request_is_forwarded_once() {
        let mut fixture = Fixture::start(16, 16);
        fixture
            .resync_requests
            .send(())
            .await
            .expect("the forwarder listens");
        fixture.settle().await;
        assert_eq!(fixture.received(), vec![BusSignal::Resync]);
        fixture.task.abort();
    }
}
