//! The SFU registry: which media nodes exist, how loaded they are, and which node hosts
//! which room.
//!
//! Every SFU node heartbeats its record (address, capacity, load, ready or draining); a
//! record older than [`NODE_TTL`] is a dead node. A room is placed by an atomic claim: the
//! first gateway to claim a room picks a node by the pool's [`PlacementPolicy`], and every
//! later claim returns the same node while it lives. A claim on a dead node (or on a node the
//! caller could not reach) is replaced, so the room's participants land on a live node when
//! they rejoin. Choosing a node is the pure function [`choose_node`]; only the claim itself
//! is atomic in the bus.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A node whose record was not refreshed for this long is dead (three missed heartbeats).
pub const NODE_TTL: TimeDelta = TimeDelta::seconds(6);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Takes new rooms.
    Ready,
    /// Keeps its rooms until they empty, takes no new ones (the pod is going away).
    Draining,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PlacementPolicy {
    /// Fill one node before the next, so that empty nodes can be scaled away.
    Packed,
    /// Spread rooms over every node, so that a node failure hits as few meetings as possible.
    #[default]
    Distributed,
}

/// One SFU node as the registry knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SfuNodeRecord {
    pub id: Uuid,
    /// The node's name where it has one: its Kubernetes pod name (`CONVENE_SFU_NODE_NAME`),
    /// which is how the operator finds the pod's record and asks it to drain. Empty for a
    /// node started by hand.
    #[serde(default)]
    pub name: String,
    /// Where gateways reach the node's internal control API (`http://10.0.0.7:8090`).
    pub control_url: String,
    /// Where browsers send media (the node's one ICE candidate).
    pub media_addr: String,
    pub state: NodeState,
    pub max_rooms: u64,
    pub max_participants: u64,
    pub rooms: u64,
    pub participants: u64,
    pub tracks: u64,
    pub forwarded_packets_per_second: u64,
    pub heartbeat_at: DateTime<Utc>,
}

impl SfuNodeRecord {
    pub fn is_alive(&self, now: DateTime<Utc>) -> bool {
        now - self.heartbeat_at < NODE_TTL
    }
}

/// The node a new room goes to, among `nodes` (alive ones, with `claimed_rooms` = rooms
/// claimed on each since, which the load report may not show yet).
pub fn choose_node<'a>(
    nodes: &'a [(SfuNodeRecord, u64)],
    policy: PlacementPolicy,
    exclude: &[Uuid],
    now: DateTime<Utc>,
) -> Option<&'a SfuNodeRecord> {
    let candidates = nodes.iter().filter(|(node, claimed_rooms)| {
        node.state == NodeState::Ready
            && node.is_alive(now)
            && !exclude.contains(&node.id)
            && node.rooms.max(*claimed_rooms) < node.max_rooms
            && node.participants < node.max_participants
    });
    let load = |(node, claimed_rooms): &(SfuNodeRecord, u64)| {
        // Participants weigh more than rooms: they are what costs CPU and bandwidth.
        let rooms = node.rooms.max(*claimed_rooms);
        (rooms * 4 + node.participants, node.id)
    };
    match policy {
        PlacementPolicy::Distributed => candidates.min_by_key(|entry| load(entry)),
        PlacementPolicy::Packed => candidates.max_by_key(|entry| load(entry)),
    }
    .map(|(node, _)| node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u128, rooms: u64, participants: u64) -> (SfuNodeRecord, u64) {
        (
            SfuNodeRecord {
                id: Uuid::from_u128(id),
                name: format!("sfu-{id}"),
                control_url: format!("http://10.0.0.{id}:8090"),
                media_addr: format!("10.0.0.{id}:7882"),
                state: NodeState::Ready,
                max_rooms: 10,
                max_participants: 100,
                rooms,
                participants,
                tracks: 0,
                forwarded_packets_per_second: 0,
                heartbeat_at: Utc::now(),
            },
            rooms,
        )
    }

    #[test]
    fn distributed_picks_the_least_loaded_and_packed_the_fullest_that_fits() {
        let now = Utc::now();
        let nodes = [node(1, 3, 12), node(2, 1, 4), node(3, 9, 40)];
        let chosen = |policy| choose_node(&nodes, policy, &[], now).map(|node| node.id.as_u128());
        assert_eq!(chosen(PlacementPolicy::Distributed), Some(2));
        assert_eq!(chosen(PlacementPolicy::Packed), Some(3));
    }

    #[test]
    fn draining_dead_full_and_excluded_nodes_take_no_rooms() {
        let now = Utc::now();
        let mut draining = node(1, 0, 0);
        draining.0.state = NodeState::Draining;
        let mut dead = node(2, 0, 0);
        dead.0.heartbeat_at = now - TimeDelta::seconds(7);
        let full_of_rooms = node(3, 10, 10);
        let mut claimed_full = node(4, 2, 2);
        claimed_full.1 = 10;
        let full_of_people = node(5, 1, 100);
        let excluded = node(6, 0, 0);
        let nodes = [
            draining,
            dead,
            full_of_rooms,
            claimed_full,
            full_of_people,
            excluded,
        ];
        assert_eq!(
            choose_node(
                &nodes,
                PlacementPolicy::Distributed,
                &[Uuid::from_u128(6)],
                now
            ),
            None
        );
        assert_eq!(
            choose_node(&nodes, PlacementPolicy::Distributed, &[], now)
                .map(|node| node.id.as_u128()),
            Some(6)
        );
    }
}
