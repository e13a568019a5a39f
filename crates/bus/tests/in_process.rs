//! The single-process bus: presence in memory, no fan-out.

#[path = "support/presence.rs"]
mod presence;
#[path = "support/registry.rs"]
mod registry;

use std::{sync::Arc, time::Duration};

use convene_bus::{Bus, InProcessBus};
use uuid::Uuid;

#[tokio::test]
async fn presence_online_until_last_connection_closes() -> anyhow::Result<()> {
    presence::online_until_last_connection_closes(&InProcessBus::new()).await
}

#[tokio::test]
async fn heartbeat_keeps_connections_online() -> anyhow::Result<()> {
    presence::heartbeat_keeps_connections_online(&InProcessBus::new()).await
}

#[tokio::test]
async fn publish_is_local_only_and_signals_stay_silent() -> anyhow::Result<()> {
    let bus = InProcessBus::new();
    let user_id = Uuid::new_v4();
    let mut signals = bus
        .take_signals()
        .expect("the first take gets the receiver");
    assert!(
        bus.take_signals().is_none(),
        "the receiver is handed out once"
    );

    bus.subscribe_user(user_id).await?;
    bus.publish(&[user_id], Arc::from("{}")).await?;
    bus.unsubscribe_user(user_id).await?;
    let waited = tokio::time::timeout(Duration::from_millis(50), signals.recv()).await;
    assert!(
        waited.is_err(),
        "the in-process bus never signals: {waited:?}"
    );

    bus.close().await;
    assert_eq!(signals.recv().await, None, "closing ends the signals");
    Ok(())
}

#[tokio::test]
async fn close_forgets_presence() -> anyhow::Result<()> {
    let bus = InProcessBus::with_pod_id(Uuid::nil());
    assert_eq!(bus.pod_id(), Uuid::nil());
    let user_id = Uuid::new_v4();
    let now = chrono::Utc::now();
    bus.connection_opened(user_id, Uuid::new_v4(), now).await?;
    bus.close().await;
    assert!(bus.online_users(&[user_id], now).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn sfu_rooms_are_spread_claimed_once_and_replaced_when_their_node_dies() -> anyhow::Result<()>
{
    let bus = InProcessBus::new();
    registry::rooms_are_spread_claimed_once_and_replaced_when_their_node_dies(&[&bus]).await
}

#[tokio::test]
async fn sfu_the_operator_forgets_dead_nodes_drains_by_name_and_sets_placement()
-> anyhow::Result<()> {
    let bus = InProcessBus::new();
    registry::the_operator_forgets_dead_nodes_drains_by_name_and_sets_placement(&[&bus]).await
}
