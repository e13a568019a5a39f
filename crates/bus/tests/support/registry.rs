#![allow(clippy::unwrap_used, clippy::expect_used)]

//! SFU registry behaviour every `Bus` implementation must have. `pods` are several gateways'
//! views of the same bus (one for the in-process bus).

use chrono::{TimeDelta, Utc};
use convene_bus::{Bus, NodeState, PlacementPolicy, SfuNodeRecord};
use uuid::Uuid;

fn node(rooms: u64) -> SfuNodeRecord {
    SfuNodeRecord {
        id: Uuid::new_v4(),
        name: String::new(),
        control_url: "http://127.0.0.1:1".to_owned(),
        media_addr: "127.0.0.1:2".to_owned(),
        state: NodeState::Ready,
        max_rooms: 3,
        max_participants: 100,
        rooms,
        participants: rooms * 2,
        tracks: 0,
        forwarded_packets_per_second: 0,
        heartbeat_at: Utc::now(),
    }
}

pub async fn rooms_are_spread_claimed_once_and_replaced_when_their_node_dies(
    pods: &[&dyn Bus],
) -> anyhow::Result<()> {
    let first_gateway = pods[0];
    let other_gateway = *pods.last().unwrap();
    let now = Utc::now();
    let (a, b) = (node(0), node(0));
    first_gateway.sfu_heartbeat(&a).await?;
    other_gateway.sfu_heartbeat(&b).await?;
    assert_eq!(first_gateway.sfu_nodes(now).await?.len(), 2);

    // Distributed: two new rooms land on different nodes, whoever claims them.
    let room_1 = first_gateway
        .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[], now)
        .await?
        .expect("a node takes room 1");
    let room_2 = other_gateway
        .sfu_claim_room("room-2", PlacementPolicy::Distributed, &[], now)
        .await?
        .expect("a node takes room 2");
    assert_ne!(room_1.id, room_2.id);
    // Every later claim of a room, from any gateway, gives the same node.
    for pod in pods {
        let again = pod
            .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[], now)
            .await?;
        assert_eq!(again.map(|node| node.id), Some(room_1.id));
    }

    // Draining: room 1's node keeps room 1 but takes nothing new.
    let (mut draining, other) = if room_1.id == a.id {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    };
    draining.state = NodeState::Draining;
    first_gateway.sfu_heartbeat(&draining).await?;
    let kept = first_gateway
        .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[], now)
        .await?;
    assert_eq!(kept.map(|node| node.id), Some(draining.id));
    let room_3 = first_gateway
        .sfu_claim_room("room-3", PlacementPolicy::Packed, &[], now)
        .await?;
    assert_eq!(room_3.map(|node| node.id), Some(other.id));

    // The draining node stops heartbeating (it died): room 1 moves to the live node.
    let later = now + TimeDelta::seconds(7);
    let mut still_alive = other.clone();
    still_alive.heartbeat_at = later;
    other_gateway.sfu_heartbeat(&still_alive).await?;
    let moved = other_gateway
        .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[], later)
        .await?;
    assert_eq!(moved.map(|node| node.id), Some(other.id));

    // A gateway that could not reach the claimed node excludes it: nothing else is left.
    let unreachable = first_gateway
        .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[other.id], later)
        .await?;
    assert_eq!(unreachable, None);

    // Rooms close: their claims go, and a full node has space again.
    for room in ["room-1", "room-2", "room-3"] {
        first_gateway.sfu_release_room(room, other.id).await?;
    }
    let (record, claimed) = first_gateway
        .sfu_nodes(later)
        .await?
        .into_iter()
        .find(|(node, _)| node.id == other.id)
        .expect("the live node is listed");
    assert_eq!(record.id, other.id);
    assert_eq!(claimed, 0, "every claim on the live node was released");
    first_gateway.sfu_deregister(other.id).await?;
    assert!(first_gateway.sfu_nodes(later).await?.is_empty());
    Ok(())
}

/// What the operator relies on: it sees dead nodes, forgets them with their claims, asks a
/// named node to drain and back, and sets the placement policy every gateway follows.
pub async fn the_operator_forgets_dead_nodes_drains_by_name_and_sets_placement(
    pods: &[&dyn Bus],
) -> anyhow::Result<()> {
    let gateway = pods[0];
    let operator = *pods.last().unwrap();
    let now = Utc::now();
    let (mut a, mut b) = (node(0), node(0));
    a.name = "main-aaaaa".to_owned();
    b.name = "main-bbbbb".to_owned();
    gateway.sfu_heartbeat(&a).await?;
    gateway.sfu_heartbeat(&b).await?;

    // The operator's policy wins over the gateway's default: packed fills one node first.
    assert_eq!(operator.sfu_placement_policy().await?, None);
    operator
        .sfu_set_placement_policy(PlacementPolicy::Packed)
        .await?;
    assert_eq!(
        gateway.sfu_placement_policy().await?,
        Some(PlacementPolicy::Packed)
    );
    let first = gateway
        .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[], now)
        .await?
        .expect("a node takes room 1");
    let second = gateway
        .sfu_claim_room("room-2", PlacementPolicy::Distributed, &[], now)
        .await?
        .expect("a node takes room 2");
    assert_eq!(first.id, second.id, "packed puts both rooms on one node");
    let (dead, alive) = if first.id == a.id { (a, b) } else { (b, a) };

    // The node dies: `sfu_nodes` no longer lists it, `sfu_all_nodes` still does.
    let later = now + TimeDelta::seconds(7);
    let mut alive = alive;
    alive.heartbeat_at = later;
    gateway.sfu_heartbeat(&alive).await?;
    let listed: Vec<_> = gateway.sfu_nodes(later).await?;
    assert_eq!(listed.len(), 1);
    let all = operator.sfu_all_nodes().await?;
    let (stale, claimed) = all
        .iter()
        .find(|(node, _)| node.id == dead.id)
        .expect("the dead node's record is still there");
    assert_eq!(stale.name, dead.name);
    assert_eq!(*claimed, 2);

    // Forgetting it releases exactly its claims; the rooms go to the live node.
    assert_eq!(
        operator.sfu_forget_node(dead.id).await?,
        vec!["room-1".to_owned(), "room-2".to_owned()]
    );
    assert!(operator.sfu_forget_node(dead.id).await?.is_empty());
    assert!(
        operator
            .sfu_all_nodes()
            .await?
            .iter()
            .all(|(node, _)| node.id != dead.id)
    );
    let moved = gateway
        .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[], later)
        .await?;
    assert_eq!(moved.map(|node| node.id), Some(alive.id));
    // A claim that moved is no longer the old node's to release.
    gateway.sfu_release_room("room-1", dead.id).await?;
    let again = gateway
        .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[], later)
        .await?;
    assert_eq!(again.map(|node| node.id), Some(alive.id));

    // Drain requests are by name, and can be withdrawn.
    assert!(!gateway.sfu_drain_requested(&alive.name).await?);
    operator.sfu_request_drain(&alive.name, true).await?;
    assert!(gateway.sfu_drain_requested(&alive.name).await?);
    assert!(!gateway.sfu_drain_requested(&dead.name).await?);
    operator.sfu_request_drain(&alive.name, false).await?;
    assert!(!gateway.sfu_drain_requested(&alive.name).await?);

    gateway.sfu_release_room("room-1", alive.id).await?;
    let (_, claimed) = operator
        .sfu_all_nodes()
        .await?
        .into_iter()
        .find(|(node, _)| node.id == alive.id)
        .expect("the live node is listed");
    assert_eq!(claimed, 0);
    Ok(())
}
