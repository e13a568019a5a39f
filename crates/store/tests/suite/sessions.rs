//! Sessions (refresh-token families): creation, the principal read, every rotation outcome,
//! revocation and the expiry sweep.

use std::sync::Arc;

use anyhow::Context;
use chrono::Duration;
use convene_store::{Error, NewSession, Principal, RotationOutcome, Session, Store};
use uuid::Uuid;

use super::{GRACE_SECONDS, create, guest, member, rotation, session, t0};

pub async fn create_session_issues_first_refresh_token(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let new_session = session(alice.id, b"first");
    let created = store.create_session(new_session.clone()).await?;
    assert_eq!(
        created,
        Session {
            id: new_session.id,
            user_id: alice.id,
            created_at: t0(),
            expires_at: new_session.expires_at,
            revoked_at: None,
            user_agent: Some("suite/1.0".to_owned()),
        }
    );
    assert_eq!(
        store.session_id_for_refresh_token(b"first").await?,
        Some(created.id)
    );
    assert_eq!(
        store.session_id_for_refresh_token(b"never-issued").await?,
        None
    );
    // The first token is current: it rotates.
    let outcome = store
        .rotate_refresh_token(rotation(b"first", b"second", t0() + Duration::minutes(1)))
        .await?;
    assert!(
        matches!(outcome, RotationOutcome::Rotated { .. }),
        "{outcome:?}"
    );
    Ok(())
}

pub async fn session_for_unknown_user_is_not_found(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let created = store
        .create_session(session(Uuid::new_v4(), b"orphan"))
        .await;
    assert!(matches!(created, Err(Error::NotFound)), "{created:?}");
    assert_eq!(store.session_id_for_refresh_token(b"orphan").await?, None);
    Ok(())
}

pub async fn principal_reads_user_and_session(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let bob = create(&*store, member("bob", "Bob")).await?;
    let created = store.create_session(session(alice.id, b"alice-1")).await?;

    let principal = store.principal(alice.id, created.id).await?;
    assert_eq!(
        principal,
        Some(Principal {
            user: alice.clone(),
            session: created.clone(),
        })
    );
    // The session must belong to the user named in the access token.
    assert_eq!(store.principal(bob.id, created.id).await?, None);
    assert_eq!(store.principal(alice.id, Uuid::new_v4()).await?, None);

    // Revoked sessions are still returned: the caller decides what revocation means.
    store
        .revoke_session(created.id, t0() + Duration::minutes(1))
        .await?;
    let principal = store
        .principal(alice.id, created.id)
        .await?
        .context("revoked session is still readable")?;
    assert_eq!(
        principal.session.revoked_at,
        Some(t0() + Duration::minutes(1))
    );
    Ok(())
}

pub async fn revoking_a_session_is_idempotent(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let created = store.create_session(session(alice.id, b"alice-1")).await?;
    store
        .revoke_session(created.id, t0() + Duration::minutes(1))
        .await?;
    store
        .revoke_session(created.id, t0() + Duration::minutes(2))
        .await?;
    store.revoke_session(Uuid::new_v4(), t0()).await?;
    let principal = store
        .principal(alice.id, created.id)
        .await?
        .context("session exists")?;
    assert_eq!(
        principal.session.revoked_at,
        Some(t0() + Duration::minutes(1))
    );
    Ok(())
}

pub async fn refresh_token_rotation_replaces_token_and_slides_expiry(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let created = store.create_session(session(alice.id, b"token-a")).await?;

    let first = rotation(b"token-a", b"token-b", t0() + Duration::hours(1));
    let outcome = store.rotate_refresh_token(first.clone()).await?;
    let expected_session = Session {
        expires_at: first.new_expires_at,
        ..created.clone()
    };
    assert_eq!(
        outcome,
        RotationOutcome::Rotated {
            session: expected_session.clone(),
            user: alice.clone(),
        }
    );
    assert_eq!(
        store.session_id_for_refresh_token(b"token-b").await?,
        Some(created.id)
    );
    // A used token still names its family (logout with a stale cookie must find it).
    assert_eq!(
        store.session_id_for_refresh_token(b"token-a").await?,
        Some(created.id)
    );
    let principal = store
        .principal(alice.id, created.id)
        .await?
        .context("session exists")?;
    assert_eq!(principal.session, expected_session);

    let second = rotation(b"token-b", b"token-c", t0() + Duration::hours(2));
    let outcome = store.rotate_refresh_token(second.clone()).await?;
    let RotationOutcome::Rotated { session, .. } = outcome else {
        anyhow::bail!("the new token should rotate, got {outcome:?}");
    };
    assert_eq!(session.expires_at, second.new_expires_at);
    Ok(())
}

pub async fn refresh_token_reuse_within_grace_is_recently_rotated(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let created = store.create_session(session(alice.id, b"token-a")).await?;
    let rotated_at = t0() + Duration::hours(1);
    let first = rotation(b"token-a", b"token-b", rotated_at);
    store.rotate_refresh_token(first.clone()).await?;
    let rotated_session = Session {
        expires_at: first.new_expires_at,
        ..created
    };

    // A second tab presents the same token a moment later, and at the edge of the window.
    for delay in [Duration::seconds(3), Duration::seconds(GRACE_SECONDS)] {
        let outcome = store
            .rotate_refresh_token(rotation(b"token-a", b"token-x", rotated_at + delay))
            .await?;
        assert_eq!(
            outcome,
            RotationOutcome::RecentlyRotated {
                session: rotated_session.clone(),
                user: alice.clone(),
            }
        );
    }
    // Nothing changed: no new token was issued, and the current one still rotates.
    assert_eq!(store.session_id_for_refresh_token(b"token-x").await?, None);
    let outcome = store
        .rotate_refresh_token(rotation(
            b"token-b",
            b"token-c",
            rotated_at + Duration::minutes(1),
        ))
        .await?;
    assert!(
        matches!(outcome, RotationOutcome::Rotated { .. }),
        "{outcome:?}"
    );
    Ok(())
}

pub async fn refresh_token_reuse_after_grace_revokes_family(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let created = store.create_session(session(alice.id, b"token-a")).await?;
    let rotated_at = t0() + Duration::hours(1);
    store
        .rotate_refresh_token(rotation(b"token-a", b"token-b", rotated_at))
        .await?;

    let replayed_at = rotated_at + Duration::seconds(GRACE_SECONDS + 1);
    let outcome = store
        .rotate_refresh_token(rotation(b"token-a", b"token-x", replayed_at))
        .await?;
    assert_eq!(
        outcome,
        RotationOutcome::Reused {
            session_id: created.id,
            user_id: alice.id,
        }
    );
    let principal = store
        .principal(alice.id, created.id)
        .await?
        .context("session exists")?;
    assert_eq!(principal.session.revoked_at, Some(replayed_at));
    // The legitimate holder's current token is dead too.
    let outcome = store
        .rotate_refresh_token(rotation(b"token-b", b"token-c", replayed_at))
        .await?;
    assert_eq!(outcome, RotationOutcome::Ended);
    Ok(())
}

pub async fn unknown_refresh_token_is_unknown(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let outcome = store
        .rotate_refresh_token(rotation(b"never-issued", b"token-b", t0()))
        .await?;
    assert_eq!(outcome, RotationOutcome::Unknown);
    assert_eq!(store.session_id_for_refresh_token(b"token-b").await?, None);
    Ok(())
}

pub async fn revoked_session_rotation_ends(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let created = store.create_session(session(alice.id, b"token-a")).await?;
    store
        .revoke_session(created.id, t0() + Duration::minutes(1))
        .await?;
    let outcome = store
        .rotate_refresh_token(rotation(
            b"token-a",
            b"token-b",
            t0() + Duration::minutes(2),
        ))
        .await?;
    assert_eq!(outcome, RotationOutcome::Ended);
    assert_eq!(store.session_id_for_refresh_token(b"token-b").await?, None);
    Ok(())
}

pub async fn expired_session_rotation_ends(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let new_session = session(alice.id, b"token-a");
    let expires_at = new_session.expires_at;
    let created = store.create_session(new_session).await?;
    let outcome = store
        .rotate_refresh_token(rotation(b"token-a", b"token-b", expires_at))
        .await?;
    assert_eq!(outcome, RotationOutcome::Ended);
    let principal = store
        .principal(alice.id, created.id)
        .await?
        .context("session exists")?;
    assert_eq!(principal.session.expires_at, expires_at);
    Ok(())
}

pub async fn guest_rotation_ends_at_guest_expiry(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let guest_expires_at = t0() + Duration::hours(2);
    let visitor = create(&*store, guest("guest_1", "Visitor", guest_expires_at)).await?;
    store
        .create_session(session(visitor.id, b"token-a"))
        .await?;

    let outcome = store
        .rotate_refresh_token(rotation(b"token-a", b"token-b", t0() + Duration::hours(1)))
        .await?;
    assert!(
        matches!(outcome, RotationOutcome::Rotated { .. }),
        "{outcome:?}"
    );
    // The session itself would last longer; the guest does not.
    let outcome = store
        .rotate_refresh_token(rotation(b"token-b", b"token-c", guest_expires_at))
        .await?;
    assert_eq!(outcome, RotationOutcome::Ended);
    Ok(())
}

pub async fn concurrent_rotation_rotates_once(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let created = store.create_session(session(alice.id, b"token-a")).await?;
    let now = t0() + Duration::hours(1);

    let tasks: Vec<_> = (0..8u8)
        .map(|index| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let new_hash = [b"token-new-".as_slice(), &[index]].concat();
                store
                    .rotate_refresh_token(rotation(b"token-a", &new_hash, now))
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await??);
    }

    let mut kinds: Vec<&str> = outcomes
        .iter()
        .map(|outcome| match outcome {
            RotationOutcome::Rotated { .. } => "rotated",
            RotationOutcome::RecentlyRotated { .. } => "recently_rotated",
            RotationOutcome::Reused { .. } => "reused",
            RotationOutcome::Ended => "ended",
            RotationOutcome::Unknown => "unknown",
        })
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [["recently_rotated"; 7].as_slice(), &["rotated"]].concat()
    );

    let mut issued = 0;
    for index in 0..8u8 {
        let new_hash = [b"token-new-".as_slice(), &[index]].concat();
        if store.session_id_for_refresh_token(&new_hash).await? == Some(created.id) {
            issued += 1;
        }
    }
    assert_eq!(issued, 1, "exactly one successor token exists");
    Ok(())
}

pub async fn expired_sessions_are_deleted(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let bob = create(&*store, member("bob", "Bob")).await?;
    let short = store
        .create_session(NewSession {
            expires_at: t0() + Duration::hours(1),
            ..session(alice.id, b"short")
        })
        .await?;
    let edge = store
        .create_session(NewSession {
            expires_at: t0() + Duration::hours(2),
            ..session(alice.id, b"edge")
        })
        .await?;
    let long = store
        .create_session(NewSession {
            expires_at: t0() + Duration::hours(3),
            ..session(bob.id, b"long")
        })
        .await?;

    // Strictly before `now`: a session expiring exactly now stays for this sweep.
    assert_eq!(
        store
            .delete_expired_sessions(t0() + Duration::hours(2))
            .await?,
        1
    );
    assert_eq!(store.principal(alice.id, short.id).await?, None);
    assert_eq!(store.session_id_for_refresh_token(b"short").await?, None);
    assert!(store.principal(alice.id, edge.id).await?.is_some());
    assert!(store.principal(bob.id, long.id).await?.is_some());

    assert_eq!(
        store
            .delete_expired_sessions(t0() + Duration::days(1))
            .await?,
        2
    );
    assert_eq!(store.session_id_for_refresh_token(b"long").await?, None);
    assert_eq!(
        store
            .delete_expired_sessions(t0() + Duration::days(1))
            .await?,
        0
    );
    // Users outlive their sessions.
    assert!(store.user_by_id(alice.id).await?.is_some());
    Ok(())
}

pub async fn ws_tickets_are_taken_once_and_expire(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let created = store.create_session(session(alice.id, b"alice-1")).await?;
    let expires_at = t0() + Duration::seconds(30);
    store
        .create_ws_ticket(b"ticket-1", alice.id, created.id, expires_at)
        .await?;
    store
        .create_ws_ticket(b"ticket-2", alice.id, created.id, expires_at)
        .await?;
    assert_eq!(
        store.consume_ws_ticket(b"ticket-1", t0()).await?,
        Some((alice.id, created.id))
    );
    assert_eq!(
        store.consume_ws_ticket(b"ticket-1", t0()).await?,
        None,
        "once only"
    );
    assert_eq!(store.consume_ws_ticket(b"unknown", t0()).await?, None);
    // Presented after expiry: refused (and gone).
    assert_eq!(
        store.consume_ws_ticket(b"ticket-2", expires_at).await?,
        None
    );
    let unknown_session = store
        .create_ws_ticket(b"ticket-3", alice.id, Uuid::new_v4(), expires_at)
        .await;
    assert!(
        matches!(unknown_session, Err(convene_store::Error::NotFound)),
        "{unknown_session:?}"
    );
    Ok(())
}
