//! [`RedisBus`]: fan-out over one pub/sub channel per user, presence in one sorted set per
//! user, pod liveness in keys with a TTL. Key names are in [`keys`], the presence scripts in
//! [`scripts`], the tasks behind the pod's signals in [`signals`].

mod keys;
mod scripts;
mod signals;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fred::{
    clients::{Client, SubscriberClient},
    interfaces::{
        ClientLike, EventInterface, HashesInterface, KeysInterface, PubsubInterface, SetsInterface,
    },
    prelude::{Builder, Config, ReconnectPolicy},
};
use tokio::{sync::mpsc, task::JoinHandle};
use uuid::Uuid;

use self::{
    keys::Keys,
    scripts::Scripts,
    signals::{Forwarder, Resubscriber, WantedUsers},
};
use crate::registry::{PlacementPolicy, SfuNodeRecord, choose_node};
use crate::{Bus, BusSignal, Error, HEARTBEAT_INTERVAL, PodId, Result, WentOffline};

/// A node record this much older than its TTL is deleted by whoever reads it.
const DEAD_NODE_RECORD_RETENTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// Claim attempts before giving up when other gateways keep changing the same room's claim.
const CLAIM_ATTEMPTS: usize = 5;

/// A command fails after this long while Redis is away, rather than queueing.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Room in fred's pub/sub broadcast between the socket and the forwarder (fred's default, 32,
/// lags at the first burst).
const PUBSUB_BROADCAST_CAPACITY: usize = 1024;
/// How long a pod holds the right to sweep a dead pod.
const SWEEP_LOCK_TTL: Duration = Duration::from_secs(30);

/// How a [`RedisBus`] names itself and its keys, and how soon silence means death.
#[derive(Debug, Clone)]
pub struct RedisBusOptions {
    /// This process's id on the bus. Default: a random v4 UUID.
    pub pod_id: PodId,
    /// A connection that no heartbeat refreshed for this long is gone. Default: 6 s (three
    /// missed heartbeats at [`HEARTBEAT_INTERVAL`]).
    pub connection_ttl: Duration,
    /// A pod that did not heartbeat for this long is dead, and another pod's
    /// `sweep_dead_pods` forgets its connections. Default: 6 s.
    pub pod_ttl: Duration,
    /// Capacity of the channel returned by `take_signals`. Default: 4096.
    pub signal_capacity: usize,
    /// Start of every key and channel name. Default: `convene:`.
    pub key_prefix: String,
}

impl Default for RedisBusOptions {
    fn default() -> Self {
        Self {
            pod_id: Uuid::new_v4(),
            connection_ttl: 3 * HEARTBEAT_INTERVAL,
            pod_ttl: 3 * HEARTBEAT_INTERVAL,
            signal_capacity: 4096,
            key_prefix: "convene:".to_owned(),
        }
    }
}

/// The bus shared by gateway pods, on Redis.
///
/// Two connections: `client` for commands and `subscriber` for the pod's user channels
/// (a subscribed connection can run nothing else).
pub struct RedisBus {
    client: Client,
    subscriber: SubscriberClient,
    options: RedisBusOptions,
    keys: Keys,
    scripts: Scripts,
    wanted: WantedUsers,
    signals: Mutex<Option<mpsc::Receiver<BusSignal>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl RedisBus {
    /// [`RedisBus::connect_with`] the default options.
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, RedisBusOptions::default())
    }

    /// Checks the URL and starts connecting in the background. It does not wait for Redis:
    /// a pod must start (and answer `/healthz`) while Redis is down, commands fail after 2 s
    /// meanwhile, and the clients keep reconnecting with backoff for as long as the process
    /// runs. Must be called within a Tokio runtime.
    pub fn connect_with(url: &str, options: RedisBusOptions) -> Result<Self> {
        let config = Config::from_url(url).map_err(Error::InvalidUrl)?;
        let mut builder = Builder::from_config(config);
        builder
            .with_connection_config(|connection| {
                connection.connection_timeout = COMMAND_TIMEOUT;
                connection.internal_command_timeout = COMMAND_TIMEOUT;
            })
            .with_performance_config(|performance| {
                // A command must fail fast while Redis is away, not queue forever.
                performance.default_command_timeout = COMMAND_TIMEOUT;
            })
            // 0 = retry forever; 100 ms doubling to 2 s.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        let client = builder.build().map_err(Error::InvalidUrl)?;
        builder.with_performance_config(|performance| {
            performance.broadcast_channel_capacity = PUBSUB_BROADCAST_CAPACITY;
        });
        let subscriber = builder
            .build_subscriber_client()
            .map_err(Error::InvalidUrl)?;

        let keys = Keys::new(&options.key_prefix);
        let wanted = WantedUsers::default();
        let (signal_tx, signal_rx) = mpsc::channel(options.signal_capacity.max(1));
        let (resync_tx, resync_rx) = mpsc::channel(1);
        // Both receivers exist before the connections start, so nothing is missed.
        let forwarder = Forwarder {
            pod_id: options.pod_id,
            keys: keys.clone(),
            wanted: wanted.clone(),
            messages: subscriber.message_rx(),
            resync_requests: resync_rx,
            signals: signal_tx,
        };
        let resubscriber = Resubscriber {
            subscriber: subscriber.clone(),
            keys: keys.clone(),
            wanted: wanted.clone(),
            reconnections: subscriber.reconnect_rx(),
            resync_requests: resync_tx,
        };
        let tasks = vec![
            tokio::spawn(forwarder.run()),
            tokio::spawn(resubscriber.run()),
            tokio::spawn(keep_connecting(client.clone(), client.connect())),
            tokio::spawn(keep_connecting(subscriber.clone(), subscriber.connect())),
        ];
        Ok(Self {
            client,
            subscriber,
            options,
            keys,
            scripts: Scripts::new(),
            wanted,
            signals: Mutex::new(Some(signal_rx)),
            tasks,
        })
    }

    /// Validates a Redis URL without connecting (configuration checks at start-up).
    pub fn check_url(url: &str) -> Result<()> {
        Config::from_url(url).map(drop).map_err(Error::InvalidUrl)
    }

    /// Runs one of the presence scripts on the command connection.
    async fn run_script<R: fred::types::FromValue>(
        &self,
        script: &scripts::Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<R> {
        script
            .run(&self.client, keys, args)
            .await
            .map_err(Error::Unavailable)
    }

    /// The SFU registry as stored: node id → JSON record, and node id → rooms claimed.
    async fn sfu_records(&self) -> Result<(HashMap<String, String>, HashMap<String, i64>)> {
        let records: HashMap<String, String> = self
            .client
            .hgetall(self.keys.sfu_nodes())
            .await
            .map_err(Error::Unavailable)?;
        let claimed: HashMap<String, i64> = self
            .client
            .hgetall(self.keys.sfu_claimed())
            .await
            .map_err(Error::Unavailable)?;
        Ok((records, claimed))
    }

    /// Sweeps one pod's connections; returns the users left with none.
    async fn sweep_pod(
        &self,
        pod_id: PodId,
        sweep: Sweep,
        now: DateTime<Utc>,
    ) -> Result<Vec<WentOffline>> {
        let keys = vec![
            self.keys.pod_users(pod_id),
            self.keys.pod(pod_id),
            self.keys.pods(),
        ];
        let args = vec![
            unix_millis(now).to_string(),
            self.keys.presence_prefix().to_owned(),
            keys::pod_member_prefix(pod_id),
            pod_id.to_string(),
            match sweep {
                Sweep::DeadPod => "dead",
                Sweep::Expired => "live",
            }
            .to_owned(),
        ];
        let offline: Vec<String> = self.run_script(&self.scripts.sweep_pod, keys, args).await?;
        Ok(offline
            .iter()
            .filter_map(|user_id| Uuid::parse_str(user_id).ok())
            .map(|user_id| WentOffline { user_id, at: now })
            .collect())
    }
}

/// What a sweep removes from a pod.
#[derive(Debug, Clone, Copy)]
enum Sweep {
    /// All of its connections: its heartbeat stopped.
    DeadPod,
    /// The connections its heartbeat left out, once they expire.
    Expired,
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn unix_millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Bus for RedisBus {
    async fn ping(&self) -> Result<()> {
        // The command connection only. Waiting for the subscriber connection as well made
        // subscriptions taken right after it came up lose their first deliveries now and
        // then (4 runs in 25 of this crate's Redis tests; fred's first-connection
        // resubscription racing them); a subscription queued before it connects does not.
        self.client
            .ping::<String>(None)
            .await
            .map(drop)
            .map_err(Error::Unavailable)
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    fn pod_id(&self) -> PodId {
        self.options.pod_id
    }

    fn take_signals(&self) -> Option<mpsc::Receiver<BusSignal>> {
        self.signals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// On failure the user stays wanted, and is subscribed at the next reconnection.
    async fn subscribe_user(&self, user_id: Uuid) -> Result<()> {
        signals::lock_wanted(&self.wanted).insert(user_id);
        self.subscriber
            .subscribe(self.keys.user_channel(user_id))
            .await
            .map_err(Error::Unavailable)
    }

    async fn unsubscribe_user(&self, user_id: Uuid) -> Result<()> {
        signals::lock_wanted(&self.wanted).remove(&user_id);
        self.subscriber
            .unsubscribe(self.keys.user_channel(user_id))
            .await
            .map_err(Error::Unavailable)
    }

    async fn publish(&self, user_ids: &[Uuid], payload: Arc<str>) -> Result<()> {
        if user_ids.is_empty() {
            return Ok(());
        }
        let envelope = keys::encode_envelope(self.options.pod_id, &payload);
        let pipeline = self.client.pipeline();
        let unique: HashSet<&Uuid> = user_ids.iter().collect();
        for user_id in unique {
            // Queued in the pipeline; sent by `all`.
            let () = pipeline
                .publish(self.keys.user_channel(*user_id), envelope.as_str())
                .await
                .map_err(Error::Unavailable)?;
        }
        let _n_receivers: Vec<i64> = pipeline.all().await.map_err(Error::Unavailable)?;
        Ok(())
    }

    async fn connection_opened(
        &self,
        user_id: Uuid,
        connection_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let pod_id = self.options.pod_id;
        let keys = vec![
            self.keys.presence(user_id),
            self.keys.pod(pod_id),
            self.keys.pods(),
            self.keys.pod_users(pod_id),
        ];
        let args = vec![
            unix_millis(now).to_string(),
            (unix_millis(now) + millis(self.options.connection_ttl)).to_string(),
            keys::presence_member(pod_id, connection_id),
            millis(self.options.pod_ttl).to_string(),
            pod_id.to_string(),
            user_id.to_string(),
        ];
        let was_offline: i64 = self
            .run_script(&self.scripts.connection_opened, keys, args)
            .await?;
        Ok(was_offline == 1)
    }

    async fn connection_closed(
        &self,
        user_id: Uuid,
        connection_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let pod_id = self.options.pod_id;
        let keys = vec![self.keys.presence(user_id), self.keys.pod_users(pod_id)];
        let args = vec![
            unix_millis(now).to_string(),
            keys::presence_member(pod_id, connection_id),
            keys::pod_member_prefix(pod_id),
            user_id.to_string(),
        ];
        let went_offline: i64 = self
            .run_script(&self.scripts.connection_closed, keys, args)
            .await?;
        Ok(went_offline == 1)
    }

    async fn heartbeat(&self, connections: &[(Uuid, Uuid)], now: DateTime<Utc>) -> Result<()> {
        let pod_id = self.options.pod_id;
        let keys = vec![
            self.keys.pod(pod_id),
            self.keys.pods(),
            self.keys.pod_users(pod_id),
        ];
        let mut args = Vec::with_capacity(5 + 2 * connections.len());
        args.extend([
            millis(self.options.pod_ttl).to_string(),
            pod_id.to_string(),
            (unix_millis(now) + millis(self.options.connection_ttl)).to_string(),
            self.keys.presence_prefix().to_owned(),
            keys::pod_member_prefix(pod_id),
        ]);
        for (user_id, connection_id) in connections {
            args.push(user_id.to_string());
            args.push(keys::presence_member(pod_id, *connection_id));
        }
        self.run_script(&self.scripts.heartbeat, keys, args).await
    }

    async fn online_users(&self, user_ids: &[Uuid], now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = user_ids
            .iter()
            .map(|user_id| self.keys.presence(*user_id))
            .collect();
        let args = vec![unix_millis(now).to_string()];
        let online: Vec<usize> = self
            .run_script(&self.scripts.online_users, keys, args)
            .await?;
        // Lua indexes from 1.
        Ok(online
            .into_iter()
            .filter_map(|index| user_ids.get(index.checked_sub(1)?).copied())
            .collect())
    }

    async fn sweep_dead_pods(&self, now: DateTime<Utc>) -> Result<Vec<WentOffline>> {
        let keys = vec![self.keys.pods()];
        let args = vec![
            self.keys.pod_prefix().to_owned(),
            self.keys.sweep_lock_prefix().to_owned(),
            self.options.pod_id.to_string(),
            millis(SWEEP_LOCK_TTL).to_string(),
        ];
        let claimed: Vec<String> = self
            .run_script(&self.scripts.claim_dead_pods, keys, args)
            .await?;
        // A claimed pod that is not swept (an error) is retried when its lock expires.
        let mut offline = Vec::new();
        for pod_id in claimed
            .iter()
            .filter_map(|pod_id| Uuid::parse_str(pod_id).ok())
        {
            tracing::info!(%pod_id, "sweeping a dead pod");
            offline.extend(self.sweep_pod(pod_id, Sweep::DeadPod, now).await?);
        }
        // Connections of this pod that its heartbeat stopped refreshing.
        offline.extend(
            self.sweep_pod(self.options.pod_id, Sweep::Expired, now)
                .await?,
        );
        Ok(offline)
    }

    async fn close(&self) {
        let pod_id = self.options.pod_id;
        let keys = vec![self.keys.pod_users(pod_id), self.keys.pod(pod_id)];
        let args = vec![
            self.keys.presence_prefix().to_owned(),
            keys::pod_member_prefix(pod_id),
        ];
        // Without a connection the script could only time out; the pod's liveness key
        // expires on its own and another pod sweeps it.
        if self.client.is_connected()
            && let Err(error) = self
                .run_script::<()>(&self.scripts.pod_closed, keys, args)
                .await
        {
            tracing::warn!(%error, "removing this pod's presence from redis failed");
        }
        for task in &self.tasks {
            task.abort();
        }
        // QUIT waits for a connection; without one there is nothing to say goodbye to.
        if self.subscriber.is_connected()
            && let Err(error) = self.subscriber.quit().await
        {
            tracing::debug!(%error, "closing the redis subscriber connection failed");
        }
        if self.client.is_connected()
            && let Err(error) = self.client.quit().await
        {
            tracing::debug!(%error, "closing the redis connection failed");
        }
    }

    async fn sfu_heartbeat(&self, node: &SfuNodeRecord) -> Result<()> {
        let json = serde_json::to_string(node).unwrap_or_default();
        self.client
            .hset::<(), _, _>(self.keys.sfu_nodes(), (node.id.to_string(), json))
            .await
            .map_err(Error::Unavailable)
    }

    async fn sfu_deregister(&self, node_id: Uuid) -> Result<()> {
        self.client
            .hdel::<(), _, _>(self.keys.sfu_nodes(), node_id.to_string())
            .await
            .map_err(Error::Unavailable)
    }

    async fn sfu_nodes(&self, now: DateTime<Utc>) -> Result<Vec<(SfuNodeRecord, u64)>> {
        let (records, claimed) = self.sfu_records().await?;
        let mut alive = Vec::new();
        for (id, json) in records {
            let Ok(node) = serde_json::from_str::<SfuNodeRecord>(&json) else {
                continue;
            };
            if node.is_alive(now) {
                let claimed_rooms = claimed.get(&id).copied().unwrap_or(0).max(0) as u64;
                alive.push((node, claimed_rooms));
            } else if now - node.heartbeat_at
                > crate::registry::NODE_TTL + DEAD_NODE_RECORD_RETENTION
            {
                let _ = self
                    .client
                    .hdel::<(), _, _>(self.keys.sfu_nodes(), &id)
                    .await;
                let _ = self
                    .client
                    .hdel::<(), _, _>(self.keys.sfu_claimed(), &id)
                    .await;
                let _ = self
                    .client
                    .del::<(), _>(self.keys.sfu_node_rooms(&id))
                    .await;
            }
        }
        alive.sort_by_key(|(node, _)| node.id);
        Ok(alive)
    }

    async fn sfu_claim_room(
        &self,
        room: &str,
        policy: PlacementPolicy,
        exclude: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Option<SfuNodeRecord>> {
        let claim_key = self.keys.sfu_claim(room);
        let policy = self.sfu_placement_policy().await?.unwrap_or(policy);
        for _ in 0..CLAIM_ATTEMPTS {
            let current: Option<String> = self
                .client
                .get(&claim_key)
                .await
                .map_err(Error::Unavailable)?;
            let nodes = self.sfu_nodes(now).await?;
            if let Some(current) = &current
                && let Some((node, _)) = nodes.iter().find(|(node, _)| {
                    node.id.to_string() == *current && !exclude.contains(&node.id)
                })
            {
                return Ok(Some(node.clone()));
            }
            let Some(chosen) = choose_node(&nodes, policy, exclude, now) else {
                return Ok(None);
            };
            let current = current.unwrap_or_default();
            let keys = vec![
                claim_key.clone(),
                self.keys.sfu_claimed(),
                self.keys.sfu_node_rooms(&chosen.id.to_string()),
                self.keys.sfu_node_rooms(&current),
            ];
            let args = vec![current, chosen.id.to_string(), room.to_owned()];
            let moved: i64 = self
                .run_script(&self.scripts.sfu_claim_room, keys, args)
                .await?;
            if moved == 1 {
                return Ok(Some(chosen.clone()));
            }
        }
        Ok(None)
    }

    async fn sfu_release_room(&self, room: &str, node_id: Uuid) -> Result<()> {
        let node_id = node_id.to_string();
        let keys = vec![
            self.keys.sfu_claim(room),
            self.keys.sfu_claimed(),
            self.keys.sfu_node_rooms(&node_id),
        ];
        let _: i64 = self
            .run_script(
                &self.scripts.sfu_release_room,
                keys,
                vec![node_id, room.to_owned()],
            )
            .await?;
        Ok(())
    }

    async fn sfu_all_nodes(&self) -> Result<Vec<(SfuNodeRecord, u64)>> {
        let (records, claimed) = self.sfu_records().await?;
        let mut nodes: Vec<_> = records
            .into_values()
            .filter_map(|json| serde_json::from_str::<SfuNodeRecord>(&json).ok())
            .map(|node| {
                let claimed_rooms = claimed.get(&node.id.to_string()).copied().unwrap_or(0);
                (node, claimed_rooms.max(0) as u64)
            })
            .collect();
        nodes.sort_by_key(|(node, _)| node.id);
        Ok(nodes)
    }

    async fn sfu_forget_node(&self, node_id: Uuid) -> Result<Vec<String>> {
        let node_id = node_id.to_string();
        let keys = vec![
            self.keys.sfu_nodes(),
            self.keys.sfu_claimed(),
            self.keys.sfu_node_rooms(&node_id),
        ];
        let mut released: Vec<String> = self
            .run_script(
                &self.scripts.sfu_forget_node,
                keys,
                vec![node_id, self.keys.sfu_claim_prefix()],
            )
            .await?;
        released.sort();
        Ok(released)
    }

    async fn sfu_request_drain(&self, node_name: &str, drain: bool) -> Result<()> {
        let key = self.keys.sfu_drain_requests();
        let result = if drain {
            self.client.sadd::<(), _, _>(key, node_name).await
        } else {
            self.client.srem::<(), _, _>(key, node_name).await
        };
        result.map_err(Error::Unavailable)
    }

    async fn sfu_drain_requested(&self, node_name: &str) -> Result<bool> {
        self.client
            .sismember(self.keys.sfu_drain_requests(), node_name)
            .await
            .map_err(Error::Unavailable)
    }

    async fn sfu_set_placement_policy(&self, policy: PlacementPolicy) -> Result<()> {
        self.client
            .set::<(), _, _>(
                self.keys.sfu_placement_policy(),
                placement_policy_name(policy),
                None,
                None,
                false,
            )
            .await
            .map_err(Error::Unavailable)
    }

    async fn sfu_placement_policy(&self) -> Result<Option<PlacementPolicy>> {
        let stored: Option<String> = self
            .client
            .get(self.keys.sfu_placement_policy())
            .await
            .map_err(Error::Unavailable)?;
        Ok(stored.as_deref().and_then(|name| match name {
            "packed" => Some(PlacementPolicy::Packed),
            "distributed" => Some(PlacementPolicy::Distributed),
            _ => None,
        }))
    }
}

/// Keeps `client` connecting until it is told to quit. fred's reconnect policy covers
/// connections that drop once up; a first connection that fails (the pod started before
/// Redis) ends fred's connection task (`first`) instead, so this starts it again, with the
/// same backoff as the policy. Aborted by `close`.
async fn keep_connecting(client: impl ClientLike, first: fred::types::ConnectHandle) {
    let mut connection = first;
    let mut delay = Duration::from_millis(100);
    loop {
        match connection.await {
            // The client quit (`close`), or the task is gone.
            Ok(Ok(())) | Err(_) => return,
            Ok(Err(error)) => {
                tracing::debug!(%error, "connecting to redis failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                connection = client.connect();
            }
        }
    }
}

fn placement_policy_name(policy: PlacementPolicy) -> &'static str {
    match policy {
        PlacementPolicy::Packed => "packed",
        PlacementPolicy::Distributed => "distributed",
    }
}
