//! Blocks between users: idempotent, directional, listed most recent first.

use std::sync::Arc;

use chrono::Duration;
use convene_store::{Error, Store};
use uuid::Uuid;

use super::{create, member, t0, usernames};

pub async fn block_is_idempotent_and_directional(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let bob = create(&*store, member("bob", "Bob")).await?;

    store.block_user(alice.id, bob.id, t0()).await?;
    store
        .block_user(alice.id, bob.id, t0() + Duration::minutes(1))
        .await?;

    assert!(store.is_blocked(alice.id, bob.id).await?);
    assert!(!store.is_blocked(bob.id, alice.id).await?);
    assert_eq!(store.blocked_users(alice.id).await?, [bob]);
    assert!(store.blocked_users(Uuid::new_v4()).await?.is_empty());
    Ok(())
}

pub async fn blocking_unknown_user_is_not_found(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let blocked = store.block_user(alice.id, Uuid::new_v4(), t0()).await;
    assert!(matches!(blocked, Err(Error::NotFound)), "{blocked:?}");
    let blocker = store.block_user(Uuid::new_v4(), alice.id, t0()).await;
    assert!(matches!(blocker, Err(Error::NotFound)), "{blocker:?}");
    assert!(store.blocked_users(alice.id).await?.is_empty());
    Ok(())
}

pub async fn blocked_users_lists_most_recent_first(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let bob = create(&*store, member("bob", "Bob")).await?;
    let carol = create(&*store, member("carol", "Carol")).await?;
    let dave = create(&*store, member("dave", "Dave")).await?;

    store.block_user(alice.id, carol.id, t0()).await?;
    store
        .block_user(alice.id, bob.id, t0() + Duration::minutes(1))
        .await?;
    store
        .block_user(alice.id, dave.id, t0() + Duration::minutes(2))
        .await?;
    let blocked = store.blocked_users(alice.id).await?;
    assert_eq!(usernames(&blocked), ["dave", "bob", "carol"]);

    // Blocking again does not move a block to the top: it keeps its original time.
    store
        .block_user(alice.id, carol.id, t0() + Duration::minutes(3))
        .await?;
    let blocked = store.blocked_users(alice.id).await?;
    assert_eq!(usernames(&blocked), ["dave", "bob", "carol"]);
    Ok(())
}

pub async fn unblock_reports_whether_a_block_existed(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let bob = create(&*store, member("bob", "Bob")).await?;

    assert!(!store.unblock_user(alice.id, bob.id).await?);
    store.block_user(alice.id, bob.id, t0()).await?;
    store.block_user(bob.id, alice.id, t0()).await?;
    assert!(store.unblock_user(alice.id, bob.id).await?);
    assert!(!store.is_blocked(alice.id, bob.id).await?);
    assert!(!store.unblock_user(alice.id, bob.id).await?);
    // Only that direction was lifted.
    assert!(store.is_blocked(bob.id, alice.id).await?);
    Ok(())
}
