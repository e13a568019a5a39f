//! Presence behaviour every `Bus` implementation must have.

use chrono::Utc;
use convene_bus::Bus;
use uuid::Uuid;

pub async fn online_until_last_connection_closes(bus: &dyn Bus) -> anyhow::Result<()> {
    let (user_id, other_user_id) = (Uuid::new_v4(), Uuid::new_v4());
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let now = Utc::now();
    let users = [user_id, other_user_id];

    assert!(bus.online_users(&users, now).await?.is_empty());
    assert!(
        bus.connection_opened(user_id, first, now).await?,
        "first connection: came online"
    );
    assert!(
        !bus.connection_opened(user_id, second, now).await?,
        "second: already online"
    );
    assert_eq!(bus.online_users(&users, now).await?, vec![user_id]);

    assert!(
        !bus.connection_closed(user_id, first, now).await?,
        "one connection is left"
    );
    assert_eq!(bus.online_users(&users, now).await?, vec![user_id]);
    assert!(
        bus.connection_closed(user_id, second, now).await?,
        "the last one closed"
    );
    assert!(bus.online_users(&users, now).await?.is_empty());

    assert!(
        !bus.connection_closed(user_id, second, now).await?,
        "closing twice does not announce the user offline twice"
    );
    assert!(
        bus.connection_opened(user_id, first, now).await?,
        "online again"
    );
    assert!(bus.connection_closed(user_id, first, now).await?);
    Ok(())
}

pub async fn heartbeat_keeps_connections_online(bus: &dyn Bus) -> anyhow::Result<()> {
    let (user_id, connection_id) = (Uuid::new_v4(), Uuid::new_v4());
    let now = Utc::now();
    assert!(bus.connection_opened(user_id, connection_id, now).await?);
    bus.heartbeat(&[(user_id, connection_id)], now).await?;
    assert_eq!(bus.online_users(&[user_id], now).await?, vec![user_id]);
    assert!(
        bus.sweep_dead_pods(now).await?.is_empty(),
        "nothing is dead"
    );
    assert!(bus.connection_closed(user_id, connection_id, now).await?);
    Ok(())
}
