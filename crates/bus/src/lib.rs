//! The bus: what gateway pods share that is not durable: live fan-out of events to the pods
//! where a user is connected, presence (who is online, with heartbeats that expire when a pod
//! dies) and the SFU registry (which media node hosts which room).
//!
//! Two implementations of one trait: [`InProcessBus`] for the single-process embedded
//! default, and [`RedisBus`] (fred) for several gateway pods. Only the binaries' wiring
//! chooses one.
//!
//! Architecture invariant: the bus is a hint, never the truth. Nothing a user was told is
//! saved lives only here; losing Redis may delay events but never loses a message.

mod in_process;
mod redis;
pub mod registry;

pub use in_process::InProcessBus;
pub use redis::{RedisBus, RedisBusOptions};
pub use registry::{NodeState, PlacementPolicy, SfuNodeRecord, choose_node};

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use uuid::Uuid;

/// How often a pod is expected to call [`Bus::heartbeat`] (and [`Bus::sweep_dead_pods`]).
/// The Redis bus forgets a connection or a pod after three missed heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);

/// Identifies one gateway process on the bus.
pub type PodId = Uuid;

/// What the bus hands to the pod that subscribed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusSignal {
    /// `payload` (a serialized server event) for every local connection of `user_id`.
    /// Never an echo of this pod's own `publish`.
    Delivery { user_id: Uuid, payload: Arc<str> },
    /// Deliveries may have been lost (the subscriber lagged, or the connection to Redis was
    /// re-established): every local connection should catch up from the store.
    Resync,
}

/// A user whose last connection went away: offline since `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WentOffline {
    pub user_id: Uuid,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid redis url")]
    InvalidUrl(#[source] fred::error::Error),
    #[error("redis unavailable")]
    Unavailable(#[source] fred::error::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every method is safe to call concurrently. Failures are `Unavailable` and never lose
/// anything durable: the caller has already committed to the store, and clients resync.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<()>;
    /// `in_process` or `redis`, for logs and `/readyz`.
    fn kind(&self) -> &'static str;
    /// This process's id on the bus.
    fn pod_id(&self) -> PodId;
    /// The pod's incoming signals. Returns the receiver once; later calls get `None`.
    /// The channel is bounded; when the pod does not keep up, deliveries are dropped and a
    /// `Resync` is sent instead, never a silent loss.
    fn take_signals(&self) -> Option<mpsc::Receiver<BusSignal>>;
    /// Start receiving `Delivery`s for `user_id` (the pod's first connection of that user
    /// opened). Idempotent.
    async fn subscribe_user(&self, user_id: Uuid) -> Result<()>;
    /// Stop receiving them (the pod's last connection of that user closed). Idempotent.
    async fn unsubscribe_user(&self, user_id: Uuid) -> Result<()>;
    /// Sends `payload` to the other pods where any of `user_ids` is connected. The caller
    /// delivers to its own local connections itself, so a pod keeps serving its users while
    /// Redis is away. A no-op for the in-process bus.
    async fn publish(&self, user_ids: &[Uuid], payload: Arc<str>) -> Result<()>;

    /// Records a new connection of `user_id`; true when the user was offline before (on
    /// every pod).
    async fn connection_opened(
        &self,
        user_id: Uuid,
        connection_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Forgets a connection; true when it was the user's last one anywhere.
    async fn connection_closed(
        &self,
        user_id: Uuid,
        connection_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// The pod's heartbeat: keeps its connections (and itself) alive for a few seconds more.
    /// Called every couple of seconds with every local connection.
    async fn heartbeat(&self, connections: &[(Uuid, Uuid)], now: DateTime<Utc>) -> Result<()>;
    /// Which of `user_ids` have at least one live connection.
    async fn online_users(&self, user_ids: &[Uuid], now: DateTime<Utc>) -> Result<Vec<Uuid>>;
    /// Cleans up after pods whose heartbeat stopped (crashed, killed): their connections are
    /// forgotten, and the users left with none are returned so that the caller can announce
    /// them offline. Safe to call from every pod; each dead pod is swept once.
    async fn sweep_dead_pods(&self, now: DateTime<Utc>) -> Result<Vec<WentOffline>>;
    /// Closes connections; called once at shutdown (this pod's presence is removed).
    async fn close(&self);

    /// Publishes (or refreshes) an SFU node's record; called by the node every
    /// [`HEARTBEAT_INTERVAL`].
    async fn sfu_heartbeat(&self, node: &SfuNodeRecord) -> Result<()>;
    /// Removes a node's record (a clean shutdown); its rooms are placed again when claimed.
    async fn sfu_deregister(&self, node_id: Uuid) -> Result<()>;
    /// Every registered node that is alive at `now`, with the rooms claimed on it.
    async fn sfu_nodes(&self, now: DateTime<Utc>) -> Result<Vec<(SfuNodeRecord, u64)>>;
    /// The node hosting `room`: the live node it is claimed on, or a node chosen by the
    /// placement policy (never one in `exclude`) and claimed atomically, so that every
    /// gateway puts the room's participants on the same node. `None` when no node can take
    /// it. `policy` is the caller's default; one set with
    /// [`Bus::sfu_set_placement_policy`] (the operator's, from the `SfuPool`) wins.
    async fn sfu_claim_room(
        &self,
        room: &str,
        policy: PlacementPolicy,
        exclude: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Option<SfuNodeRecord>>;
    /// The room closed on `node_id`: forget its claim (if it is still that node's).
    async fn sfu_release_room(&self, room: &str, node_id: Uuid) -> Result<()>;

    /// Every registered node record, alive or not (a stale record stays until it is
    /// forgotten or expires from the registry), with the rooms claimed on each. For the
    /// operator, which must see nodes that stopped heartbeating.
    async fn sfu_all_nodes(&self) -> Result<Vec<(SfuNodeRecord, u64)>>;
    /// Forgets a dead node: its record and every room claim still on it, so that gateways
    /// place those rooms again at once. Returns the rooms released.
    async fn sfu_forget_node(&self, node_id: Uuid) -> Result<Vec<String>>;
    /// Asks the node called `node_name` to drain (`true`: finish its meetings, take no new
    /// ones) or to return to service (`false`). The node reads it at its next heartbeat.
    async fn sfu_request_drain(&self, node_name: &str, drain: bool) -> Result<()>;
    /// Whether a drain was requested for `node_name` (and not withdrawn).
    async fn sfu_drain_requested(&self, node_name: &str) -> Result<bool>;
    /// The placement policy new rooms follow from now on, on every gateway.
    async fn sfu_set_placement_policy(&self, policy: PlacementPolicy) -> Result<()>;
    /// The policy set with [`Bus::sfu_set_placement_policy`], if any.
    async fn sfu_placement_policy(&self) -> Result<Option<PlacementPolicy>>;
}
