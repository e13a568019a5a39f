//! Full-text search in messages: every word must match (case-insensitively, the last one as a
//! prefix), only in conversations the user belongs to, without deleted or hidden messages.
//! Both backends must give the same answers, so the texts stick to plain ASCII words.

use std::sync::Arc;

use convene_store::{Conversation, Store, User};
use uuid::Uuid;

use super::{at, bodies, group, members, send, t0};

/// Alice, bob and carol; a group of alice and bob, and a direct chat of bob and carol.
async fn setup(store: &dyn Store) -> anyhow::Result<(Vec<User>, Conversation, Conversation)> {
    let users = members(store, &["alice", "bob", "carol"]).await?;
    let team = store
        .create_group(group(users[0].id, &[users[1].id], t0()))
        .await?;
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), users[1].id, users[2].id, t0())
        .await?;
    Ok((users, team, chat))
}

pub async fn search_is_case_insensitive_and_needs_every_word(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let (users, team, _) = setup(&*store).await?;
    let alice = &users[0];
    send(&*store, team.id, alice.id, "The Quick brown fox", at(1)).await?;
    send(&*store, team.id, users[1].id, "a quick lunch", at(2)).await?;
    send(&*store, team.id, alice.id, "slow brown bear", at(3)).await?;

    let found = store.search_messages(alice.id, "QUICK", None, 10).await?;
    assert_eq!(bodies(&found), ["a quick lunch", "The Quick brown fox"]);
    let found = store
        .search_messages(alice.id, "brown quick", None, 10)
        .await?;
    assert_eq!(
        bodies(&found),
        ["The Quick brown fox"],
        "every word, any order"
    );
    let found = store
        .search_messages(alice.id, "fox bear", None, 10)
        .await?;
    assert!(found.is_empty(), "{found:?}");
    // Punctuation around words is ignored.
    let found = store
        .search_messages(alice.id, "  brown,  BEAR! ", None, 10)
        .await?;
    assert_eq!(bodies(&found), ["slow brown bear"]);
    Ok(())
}

pub async fn search_matches_a_prefix_of_the_last_word_only(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let (users, team, _) = setup(&*store).await?;
    let alice = &users[0];
    send(
        &*store,
        team.id,
        alice.id,
        "meeting tomorrow morning",
        at(1),
    )
    .await?;
    send(&*store, team.id, alice.id, "meet me there", at(2)).await?;

    let found = store.search_messages(alice.id, "mee", None, 10).await?;
    assert_eq!(
        bodies(&found),
        ["meet me there", "meeting tomorrow morning"]
    );
    let found = store
        .search_messages(alice.id, "tomorrow mor", None, 10)
        .await?;
    assert_eq!(bodies(&found), ["meeting tomorrow morning"]);
    // Only the last word is a prefix: "meet" must match a whole word here.
    let found = store
        .search_messages(alice.id, "meet morning", None, 10)
        .await?;
    assert!(found.is_empty(), "{found:?}");
    // A word is not matched from its middle.
    let found = store.search_messages(alice.id, "eting", None, 10).await?;
    assert!(found.is_empty(), "{found:?}");
    Ok(())
}

pub async fn search_finds_words_in_member_conversations_only(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let (users, team, chat) = setup(&*store).await?;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);
    send(&*store, team.id, alice.id, "project kickoff", at(1)).await?;
    send(&*store, chat.id, carol.id, "project gossip", at(2)).await?;

    let found = store.search_messages(bob.id, "project", None, 10).await?;
    assert_eq!(bodies(&found), ["project gossip", "project kickoff"]);
    let found = store.search_messages(alice.id, "project", None, 10).await?;
    assert_eq!(bodies(&found), ["project kickoff"]);
    let found = store.search_messages(carol.id, "project", None, 10).await?;
    assert_eq!(bodies(&found), ["project gossip"]);

    // One conversation, still only if the user is in it.
    let found = store
        .search_messages(bob.id, "project", Some(team.id), 10)
        .await?;
    assert_eq!(bodies(&found), ["project kickoff"]);
    let found = store
        .search_messages(alice.id, "project", Some(chat.id), 10)
        .await?;
    assert!(found.is_empty(), "{found:?}");
    let found = store
        .search_messages(Uuid::new_v4(), "project", None, 10)
        .await?;
    assert!(found.is_empty(), "{found:?}");

    // Leaving a conversation leaves its messages behind.
    store
        .remove_member(team.id, alice.id, alice.id, at(3))
        .await?;
    assert!(
        store
            .search_messages(alice.id, "project", None, 10)
            .await?
            .is_empty()
    );
    Ok(())
}

pub async fn search_skips_deleted_and_hidden_messages(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (users, team, _) = setup(&*store).await?;
    let (alice, bob) = (&users[0], &users[1]);
    let deleted = send(&*store, team.id, alice.id, "password is hunter2", at(1)).await?;
    let hidden = send(&*store, team.id, bob.id, "password reset link", at(2)).await?;
    send(&*store, team.id, bob.id, "password policy", at(3)).await?;

    store
        .delete_message(team.id, deleted.id, alice.id, at(4))
        .await?;
    store.hide_message(hidden.id, alice.id, at(5)).await?;

    let found = store
        .search_messages(alice.id, "password", None, 10)
        .await?;
    assert_eq!(bodies(&found), ["password policy"]);
    // Hidden only for alice.
    let found = store.search_messages(bob.id, "password", None, 10).await?;
    assert_eq!(bodies(&found), ["password policy", "password reset link"]);
    assert!(
        store
            .search_messages(bob.id, "hunter2", None, 10)
            .await?
            .is_empty()
    );
    Ok(())
}

pub async fn search_follows_edits(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (users, team, _) = setup(&*store).await?;
    let alice = &users[0];
    let message = send(&*store, team.id, alice.id, "see you at noon", at(1)).await?;
    store
        .edit_message(
            team.id,
            message.id,
            alice.id,
            "see you at midnight".to_owned(),
            at(2),
        )
        .await?;
    assert!(
        store
            .search_messages(alice.id, "noon", None, 10)
            .await?
            .is_empty()
    );
    let found = store
        .search_messages(alice.id, "midnight", None, 10)
        .await?;
    assert_eq!(bodies(&found), ["see you at midnight"]);
    assert_eq!(found[0].edited_at, Some(at(2)));
    Ok(())
}

pub async fn search_of_only_punctuation_or_query_syntax_is_safe(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let (users, team, _) = setup(&*store).await?;
    let alice = &users[0];
    send(&*store, team.id, alice.id, "alpha beta gamma", at(1)).await?;

    for query in ["", "   ", "!!!", "&|!:*()'\"", "*", "--", "\\"] {
        let found = store.search_messages(alice.id, query, None, 10).await?;
        assert!(found.is_empty(), "{query:?}: {found:?}");
    }
    // Operators of either engine are just separators between words.
    for query in [
        "alpha & beta",
        "alpha | beta",
        "\"alpha\" beta*",
        "alpha:* !beta",
        "alpha' & 'beta",
        "alpha AND beta",
        "NEAR(alpha beta)",
        "alpha -beta",
        "{alpha} ^beta",
    ] {
        let found = store.search_messages(alice.id, query, None, 10).await;
        let found = found.map_err(|error| anyhow::anyhow!("{query:?}: {error:?}"))?;
        let expect_match = !query.contains("AND") && !query.contains("NEAR");
        assert_eq!(
            found.len(),
            usize::from(expect_match),
            "{query:?}: {found:?}"
        );
    }
    Ok(())
}

pub async fn search_is_newest_first_and_limited(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (users, team, chat) = setup(&*store).await?;
    let bob = &users[1];
    for minutes in 1..=5 {
        let conversation_id = if minutes % 2 == 0 { chat.id } else { team.id };
        send(
            &*store,
            conversation_id,
            bob.id,
            &format!("report {minutes}"),
            at(minutes),
        )
        .await?;
    }
    let found = store.search_messages(bob.id, "report", None, 3).await?;
    assert_eq!(bodies(&found), ["report 5", "report 4", "report 3"]);
    let found = store.search_messages(bob.id, "report 2", None, 10).await?;
    assert_eq!(bodies(&found), ["report 2"]);
    Ok(())
}
