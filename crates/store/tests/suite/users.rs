//! Accounts: creation, lookup, profile, search, login lockout and credential changes.

use std::sync::Arc;

use anyhow::Context;
use chrono::Duration;
use convene_store::{Error, LockoutPolicy, LoginFailure, ProfileUpdate, Store, User, UserKind};
use uuid::Uuid;

use super::{create, guest, member, session, t0, usernames};

pub async fn ping_and_pool_stats_report_a_live_pool(store: Arc<dyn Store>) -> anyhow::Result<()> {
    store.ping().await?;
    let stats = store.pool_stats();
    assert!(stats.max_connections > 0, "{stats:?}");
    assert!(
        stats.connections >= 1,
        "the ping left a pooled connection: {stats:?}"
    );
    assert!(stats.connections <= stats.max_connections, "{stats:?}");
    assert!(stats.idle_connections <= stats.connections, "{stats:?}");
    Ok(())
}

pub async fn created_user_reads_back_by_id_and_username(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let new_user = convene_store::NewUser {
        email: Some("alice@example.com".to_owned()),
        ..member("alice", "Alice")
    };
    let created = create(&*store, new_user.clone()).await?;
    let expected = User {
        id: new_user.id,
        username: "alice".to_owned(),
        display_name: "Alice".to_owned(),
        email: Some("alice@example.com".to_owned()),
        avatar_url: None,
        password_hash: new_user.password_hash.clone(),
        kind: UserKind::Member,
        guest_expires_at: None,
        token_version: 0,
        failed_login_count: 0,
        locked_until: None,
        created_at: t0(),
        updated_at: t0(),
    };
    assert_eq!(created, expected);
    assert_eq!(store.user_by_id(new_user.id).await?, Some(expected.clone()));
    assert_eq!(store.user_by_username("alice").await?, Some(expected));
    assert_eq!(store.user_by_username("bob").await?, None);
    assert_eq!(store.user_by_id(Uuid::new_v4()).await?, None);
    Ok(())
}

pub async fn guest_keeps_kind_and_expiry(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let expires_at = t0() + Duration::hours(24);
    let created = create(&*store, guest("guest_7f3a", "Visitor", expires_at)).await?;
    assert_eq!(created.kind, UserKind::Guest);
    assert_eq!(created.guest_expires_at, Some(expires_at));
    assert_eq!(created.password_hash, None);
    assert_eq!(store.user_by_id(created.id).await?, Some(created));
    Ok(())
}

pub async fn username_is_unique(store: Arc<dyn Store>) -> anyhow::Result<()> {
    create(&*store, member("alice", "Alice")).await?;
    let second = store.create_user(member("alice", "Another Alice")).await;
    assert!(matches!(second, Err(Error::UsernameTaken)), "{second:?}");
    // A guest cannot take a member's name either.
    let guest = store
        .create_user(guest("alice", "Guest", t0() + Duration::hours(1)))
        .await;
    assert!(matches!(guest, Err(Error::UsernameTaken)), "{guest:?}");
    let found = store
        .user_by_username("alice")
        .await?
        .context("alice exists")?;
    assert_eq!(found.display_name, "Alice");
    Ok(())
}

pub async fn profile_update_clears_and_sets(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let new_user = convene_store::NewUser {
        email: Some("alice@example.com".to_owned()),
        ..member("alice", "Alice")
    };
    let created = create(&*store, new_user).await?;

    let update = ProfileUpdate {
        display_name: Some("Alice L.".to_owned()),
        email: Some(None),
        avatar_url: Some(Some("https://cdn.example.com/a.png".to_owned())),
    };
    let updated = store
        .update_profile(created.id, update, t0() + Duration::minutes(1))
        .await?;
    assert_eq!(
        updated,
        User {
            display_name: "Alice L.".to_owned(),
            email: None,
            avatar_url: Some("https://cdn.example.com/a.png".to_owned()),
            updated_at: t0() + Duration::minutes(1),
            ..created.clone()
        }
    );

    // Nothing named, nothing changed but the timestamp.
    let untouched = store
        .update_profile(
            created.id,
            ProfileUpdate::default(),
            t0() + Duration::minutes(2),
        )
        .await?;
    assert_eq!(
        untouched,
        User {
            updated_at: t0() + Duration::minutes(2),
            ..updated.clone()
        }
    );

    let update = ProfileUpdate {
        display_name: None,
        email: Some(Some("alice@new.example.com".to_owned())),
        avatar_url: Some(None),
    };
    let updated = store
        .update_profile(created.id, update, t0() + Duration::minutes(3))
        .await?;
    assert_eq!(updated.display_name, "Alice L.");
    assert_eq!(updated.email.as_deref(), Some("alice@new.example.com"));
    assert_eq!(updated.avatar_url, None);
    assert_eq!(updated.created_at, t0());
    assert_eq!(store.user_by_id(created.id).await?, Some(updated));
    Ok(())
}

pub async fn unknown_user_update_is_not_found(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let nobody = Uuid::new_v4();
    let policy = LockoutPolicy {
        threshold: 3,
        base: Duration::minutes(1),
        max: Duration::hours(1),
    };
    let profile = store
        .update_profile(nobody, ProfileUpdate::default(), t0())
        .await;
    assert!(matches!(profile, Err(Error::NotFound)), "{profile:?}");
    let password = store.set_password(nobody, "$argon2id$new", t0()).await;
    assert!(matches!(password, Err(Error::NotFound)), "{password:?}");
    let revoked = store.revoke_all_sessions(nobody, t0()).await;
    assert!(matches!(revoked, Err(Error::NotFound)), "{revoked:?}");
    let failed = store.record_failed_login(nobody, policy, t0()).await;
    assert!(matches!(failed, Err(Error::NotFound)), "{failed:?}");
    let cleared = store.clear_failed_logins(nobody).await;
    assert!(matches!(cleared, Err(Error::NotFound)), "{cleared:?}");
    Ok(())
}

pub async fn search_matches_prefix_case_insensitive_and_skips_guests(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let caller = create(&*store, member("almost", "Al Most")).await?;
    create(&*store, member("alice", "Alice Liddell")).await?;
    create(&*store, member("alfred", "Batman's Butler")).await?;
    create(&*store, member("bob", "ALBERT Bob")).await?;
    create(&*store, member("carol", "Carol")).await?;
    create(
        &*store,
        guest("guest_al", "Alan the Guest", t0() + Duration::days(1)),
    )
    .await?;

    let found = store.search_users("AL", caller.id, 10).await?;
    assert_eq!(usernames(&found), ["alfred", "alice", "bob"]);
    assert!(found.iter().all(|user| user.kind == UserKind::Member));

    let found = store.search_users("ali", caller.id, 10).await?;
    assert_eq!(usernames(&found), ["alice"]);
    // A prefix, not a substring.
    assert!(
        store
            .search_users("liddell", caller.id, 10)
            .await?
            .is_empty()
    );
    // The caller appears to others.
    let found = store.search_users("alm", Uuid::new_v4(), 10).await?;
    assert_eq!(usernames(&found), ["almost"]);
    Ok(())
}

pub async fn search_escapes_like_wildcards_and_respects_limit(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let caller = create(&*store, member("zed", "Zed")).await?;
    create(&*store, member("a_b", "First")).await?;
    create(&*store, member("axb", "Second")).await?;
    create(&*store, member("x1", "100% Real")).await?;
    create(&*store, member("x2", "Xavier")).await?;
    create(&*store, member("x3", "Xena")).await?;

    let found = store.search_users("a_", caller.id, 10).await?;
    assert_eq!(usernames(&found), ["a_b"]);
    let found = store.search_users("100%", caller.id, 10).await?;
    assert_eq!(usernames(&found), ["x1"]);
    assert!(store.search_users("%", caller.id, 10).await?.is_empty());
    assert!(store.search_users("\\", caller.id, 10).await?.is_empty());

    let found = store.search_users("x", caller.id, 2).await?;
    assert_eq!(usernames(&found), ["x1", "x2"]);
    Ok(())
}

pub async fn failed_logins_lock_then_clear(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let user = create(&*store, member("alice", "Alice")).await?;
    let policy = LockoutPolicy {
        threshold: 3,
        base: Duration::minutes(1),
        max: Duration::hours(1),
    };
    let at = |seconds| t0() + Duration::seconds(seconds);

    let unlocked = |failed_login_count| LoginFailure {
        failed_login_count,
        locked_until: None,
    };
    assert_eq!(
        store.record_failed_login(user.id, policy, at(0)).await?,
        unlocked(1)
    );
    assert_eq!(
        store.record_failed_login(user.id, policy, at(1)).await?,
        unlocked(2)
    );
    assert_eq!(
        store.record_failed_login(user.id, policy, at(2)).await?,
        LoginFailure {
            failed_login_count: 3,
            locked_until: Some(at(2) + Duration::minutes(1)),
        }
    );
    let fourth = LoginFailure {
        failed_login_count: 4,
        locked_until: Some(at(3) + Duration::minutes(2)),
    };
    assert_eq!(
        store.record_failed_login(user.id, policy, at(3)).await?,
        fourth
    );

    let stored = store.user_by_id(user.id).await?.context("alice exists")?;
    assert_eq!(stored.failed_login_count, fourth.failed_login_count);
    assert_eq!(stored.locked_until, fourth.locked_until);

    store.clear_failed_logins(user.id).await?;
    let stored = store.user_by_id(user.id).await?.context("alice exists")?;
    assert_eq!((stored.failed_login_count, stored.locked_until), (0, None));
    assert_eq!(
        store.record_failed_login(user.id, policy, at(4)).await?,
        unlocked(1)
    );
    Ok(())
}

pub async fn failed_login_below_threshold_keeps_existing_lock(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let user = create(&*store, member("alice", "Alice")).await?;
    let strict = LockoutPolicy {
        threshold: 1,
        base: Duration::minutes(5),
        max: Duration::hours(1),
    };
    let locked = store.record_failed_login(user.id, strict, t0()).await?;
    assert_eq!(locked.locked_until, Some(t0() + Duration::minutes(5)));

    // A policy that does not lock yet leaves the existing lock alone.
    let lenient = LockoutPolicy {
        threshold: 10,
        ..strict
    };
    let later = store
        .record_failed_login(user.id, lenient, t0() + Duration::minutes(1))
        .await?;
    assert_eq!(
        later,
        LoginFailure {
            failed_login_count: 2,
            locked_until: Some(t0() + Duration::minutes(5)),
        }
    );
    Ok(())
}

pub async fn set_password_bumps_version_and_revokes_sessions(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let bob = create(&*store, member("bob", "Bob")).await?;
    let live = store.create_session(session(alice.id, b"alice-1")).await?;
    let earlier = store.create_session(session(alice.id, b"alice-2")).await?;
    let bobs = store.create_session(session(bob.id, b"bob-1")).await?;
    let revoked_earlier_at = t0() + Duration::minutes(1);
    store.revoke_session(earlier.id, revoked_earlier_at).await?;

    let changed_at = t0() + Duration::minutes(5);
    let updated = store
        .set_password(alice.id, "$argon2id$new", changed_at)
        .await?;
    assert_eq!(
        updated,
        User {
            password_hash: Some("$argon2id$new".to_owned()),
            token_version: 1,
            updated_at: changed_at,
            ..alice.clone()
        }
    );
    assert_eq!(store.user_by_id(alice.id).await?, Some(updated));

    let revoked_at = |principal: Option<convene_store::Principal>| {
        principal.map(|principal| principal.session.revoked_at)
    };
    assert_eq!(
        revoked_at(store.principal(alice.id, live.id).await?),
        Some(Some(changed_at))
    );
    // An already revoked session keeps its original revocation time.
    assert_eq!(
        revoked_at(store.principal(alice.id, earlier.id).await?),
        Some(Some(revoked_earlier_at))
    );
    assert_eq!(
        revoked_at(store.principal(bob.id, bobs.id).await?),
        Some(None)
    );
    let bob_now = store.user_by_id(bob.id).await?.context("bob exists")?;
    assert_eq!(bob_now.token_version, 0);
    Ok(())
}

pub async fn revoke_all_sessions_bumps_version_every_time(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let alice = create(&*store, member("alice", "Alice")).await?;
    let first = store.create_session(session(alice.id, b"alice-1")).await?;
    let second = store.create_session(session(alice.id, b"alice-2")).await?;

    store
        .revoke_all_sessions(alice.id, t0() + Duration::minutes(1))
        .await?;
    for session_id in [first.id, second.id] {
        let principal = store
            .principal(alice.id, session_id)
            .await?
            .context("session still exists")?;
        assert_eq!(
            principal.session.revoked_at,
            Some(t0() + Duration::minutes(1))
        );
        assert_eq!(principal.user.token_version, 1);
    }

    // Logging out everywhere again still invalidates outstanding access tokens.
    store
        .revoke_all_sessions(alice.id, t0() + Duration::minutes(2))
        .await?;
    let user = store.user_by_id(alice.id).await?.context("alice exists")?;
    assert_eq!(user.token_version, 2);
    assert_eq!(user.updated_at, alice.updated_at);
    Ok(())
}
