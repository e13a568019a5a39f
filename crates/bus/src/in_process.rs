use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::registry::{PlacementPolicy, SfuNodeRecord, choose_node};
use crate::{Bus, BusSignal, PodId, Result, WentOffline};

/// The bus of a single `convene serve` process: every connection is local, so there is
/// nothing to fan out, nothing that can die without the process, and nothing that can be
/// unreachable. Presence is a map in memory.
#[derive(Debug, Clone)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pod_id: PodId,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Each user's open connections; a user without any has no entry.
    connections: HashMap<Uuid, HashSet<Uuid>>,
    /// Kept so that the receiver stays open (and silent) until `close`.
    signal_tx: Option<mpsc::Sender<BusSignal>>,
    signal_rx: Option<mpsc::Receiver<BusSignal>>,
    sfu_nodes: HashMap<Uuid, SfuNodeRecord>,
    /// Room → the node it is claimed on.
    sfu_claims: HashMap<String, Uuid>,
    /// Names of the nodes asked to drain.
    sfu_drain_requests: HashSet<String>,
    sfu_placement_policy: Option<PlacementPolicy>,
}

impl InProcessBus {
    /// A bus with a random pod id.
    pub fn new() -> Self {
        Self::with_pod_id(Uuid::new_v4())
    }

    pub fn with_pod_id(pod_id: PodId) -> Self {
        let (signal_tx, signal_rx) = mpsc::channel(1);
        let state = State {
            connections: HashMap::new(),
            signal_tx: Some(signal_tx),
            signal_rx: Some(signal_rx),
            sfu_nodes: HashMap::new(),
            sfu_claims: HashMap::new(),
            sfu_drain_requests: HashSet::new(),
            sfu_placement_policy: None,
        };
        Self {
            inner: Arc::new(Inner {
                pod_id,
                state: Mutex::new(state),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the maps consistent, whatever panicked while holding the lock.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "in_process"
    }

    fn pod_id(&self) -> PodId {
        self.inner.pod_id
    }

    /// A receiver that never yields anything (there is no other pod), closed by `close`.
    fn take_signals(&self) -> Option<mpsc::Receiver<BusSignal>> {
        self.state().signal_rx.take()
    }

    async fn subscribe_user(&self, _user_id: Uuid) -> Result<()> {
        Ok(())
    }

    async fn unsubscribe_user(&self, _user_id: Uuid) -> Result<()> {
        Ok(())
    }

    async fn publish(&self, _user_ids: &[Uuid], _payload: Arc<str>) -> Result<()> {
        Ok(())
    }

    async fn connection_opened(
        &self,
        user_id: Uuid,
        connection_id: Uuid,
        _now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut state = self.state();
        let connections = state.connections.entry(user_id).or_default();
        let was_offline = connections.is_empty();
        connections.insert(connection_id);
        Ok(was_offline)
    }

    async fn connection_closed(
        &self,
        user_id: Uuid,
        connection_id: Uuid,
        _now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut state = self.state();
        let Some(connections) = state.connections.get_mut(&user_id) else {
            return Ok(false);
        };
        let existed = connections.remove(&connection_id);
        let went_offline = existed && connections.is_empty();
        if connections.is_empty() {
            state.connections.remove(&user_id);
        }
        Ok(went_offline)
    }

    /// Nothing expires in one process: connections live until closed.
    async fn heartbeat(&self, _connections: &[(Uuid, Uuid)], _now: DateTime<Utc>) -> Result<()> {
        Ok(())
    }

    async fn online_users(&self, user_ids: &[Uuid], _now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let state = self.state();
        Ok(user_ids
            .iter()
            .filter(|user_id| state.connections.contains_key(user_id))
            .copied()
            .collect())
    }

    /// There is no other pod to die.
    async fn sweep_dead_pods(&self, _now: DateTime<Utc>) -> Result<Vec<WentOffline>> {
        Ok(Vec::new())
    }

    async fn close(&self) {
        let mut state = self.state();
        state.connections.clear();
        state.signal_tx = None;
    }

    async fn sfu_heartbeat(&self, node: &SfuNodeRecord) -> Result<()> {
        self.state().sfu_nodes.insert(node.id, node.clone());
        Ok(())
    }

    async fn sfu_deregister(&self, node_id: Uuid) -> Result<()> {
        self.state().sfu_nodes.remove(&node_id);
        Ok(())
    }

    async fn sfu_nodes(&self, now: DateTime<Utc>) -> Result<Vec<(SfuNodeRecord, u64)>> {
        Ok(self.state().alive_nodes(now))
    }

    async fn sfu_claim_room(
        &self,
        room: &str,
        policy: PlacementPolicy,
        exclude: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Option<SfuNodeRecord>> {
        let mut state = self.state();
        let policy = state.sfu_placement_policy.unwrap_or(policy);
        let nodes = state.alive_nodes(now);
        if let Some(claimed) = state.sfu_claims.get(room)
            && !exclude.contains(claimed)
            && let Some((node, _)) = nodes.iter().find(|(node, _)| node.id == *claimed)
        {
            return Ok(Some(node.clone()));
        }
        let chosen = choose_node(&nodes, policy, exclude, now).cloned();
        if let Some(node) = &chosen {
            state.sfu_claims.insert(room.to_owned(), node.id);
        }
        Ok(chosen)
    }

    async fn sfu_release_room(&self, room: &str, node_id: Uuid) -> Result<()> {
        let mut state = self.state();
        if state.sfu_claims.get(room) == Some(&node_id) {
            state.sfu_claims.remove(room);
        }
        Ok(())
    }

    async fn sfu_all_nodes(&self) -> Result<Vec<(SfuNodeRecord, u64)>> {
        let state = self.state();
        let mut nodes: Vec<_> = state
            .sfu_nodes
            .values()
            .map(|node| (node.clone(), state.claimed_rooms(node.id)))
            .collect();
        nodes.sort_by_key(|(node, _)| node.id);
        Ok(nodes)
    }

    async fn sfu_forget_node(&self, node_id: Uuid) -> Result<Vec<String>> {
        let mut state = self.state();
        state.sfu_nodes.remove(&node_id);
        let mut released: Vec<String> = state
            .sfu_claims
            .iter()
            .filter(|(_, claimed)| **claimed == node_id)
            .map(|(room, _)| room.clone())
            .collect();
        for room in &released {
            state.sfu_claims.remove(room);
        }
        released.sort();
        Ok(released)
    }

    async fn sfu_request_drain(&self, node_name: &str, drain: bool) -> Result<()> {
        let mut state = self.state();
        if drain {
            state.sfu_drain_requests.insert(node_name.to_owned());
        } else {
            state.sfu_drain_requests.remove(node_name);
        }
        Ok(())
    }

    async fn sfu_drain_requested(&self, node_name: &str) -> Result<bool> {
        Ok(self.state().sfu_drain_requests.contains(node_name))
    }

    async fn sfu_set_placement_policy(&self, policy: PlacementPolicy) -> Result<()> {
        self.state().sfu_placement_policy = Some(policy);
        Ok(())
    }

    async fn sfu_placement_policy(&self) -> Result<Option<PlacementPolicy>> {
        Ok(self.state().sfu_placement_policy)
    }
}

impl State {
    fn alive_nodes(&self, now: DateTime<Utc>) -> Vec<(SfuNodeRecord, u64)> {
        self.sfu_nodes
            .values()
            .filter(|node| node.is_alive(now))
            .map(|node| (node.clone(), self.claimed_rooms(node.id)))
            .collect()
    }

    fn claimed_rooms(&self, node_id: Uuid) -> u64 {
        self.sfu_claims
            .values()
            .filter(|id| **id == node_id)
            .count() as u64
    }
}
