//! Messages: gap-free seqs under concurrency, idempotent sends, replies, edits, deletion for
//! everyone and for oneself, reactions, pins, history pages and the event log.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use convene_store::{ConversationEvent, Error, EventKind, Message, NewMessage, Reaction, Store};
use uuid::Uuid;

use super::{at, bodies, created_message, group, members, send, seqs, t0, text};

pub async fn seq_is_gap_free_under_concurrent_sends(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), users[0].id, users[1].id, t0())
        .await?;

    let tasks: Vec<_> = (0..8)
        .map(|task_idx| {
            let store = Arc::clone(&store);
            let sender_id = users[task_idx % 2].id;
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for message_idx in 0..10 {
                    let body = format!("task {task_idx} message {message_idx}");
                    let outcome = store
                        .append_message(text(chat.id, sender_id, &body, at(1)))
                        .await?;
                    assert!(!outcome.duplicate);
                    seqs.push(outcome.event.seq);
                }
                anyhow::Ok(seqs)
            })
        })
        .collect();
    let mut returned = Vec::new();
    for task in tasks {
        let task_seqs = task.await??;
        assert!(
            task_seqs.windows(2).all(|pair| pair[0] < pair[1]),
            "one task's sends are ordered: {task_seqs:?}"
        );
        returned.extend(task_seqs);
    }
    returned.sort_unstable();
    let expected: Vec<i64> = (1..=80).collect();
    assert_eq!(returned, expected);

    let events = store.events_after(chat.id, 0, 1000).await?;
    assert_eq!(seqs(&events), expected);
    assert!(
        events
            .iter()
            .all(|event| created_message(event).seq == event.seq)
    );
    let history = store
        .messages_before(chat.id, users[0].id, None, 1000)
        .await?;
    assert_eq!(history.len(), 80);
    let conversation = store.conversation(chat.id).await?.context("exists")?;
    assert_eq!(conversation.last_seq, 80);
    Ok(())
}

pub async fn retried_send_returns_the_original_message(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (alice, bob) = (&users[0], &users[1]);
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, bob.id, t0())
        .await?;
    let first = NewMessage {
        client_id: "client-1".to_owned(),
        mentions: vec![bob.id],
        ..text(chat.id, alice.id, "hello", at(1))
    };
    let original = store.append_message(first.clone()).await?;
    assert!(!original.duplicate);
    let message = created_message(&original.event).clone();
    assert_eq!(
        message,
        Message {
            id: first.id,
            conversation_id: chat.id,
            seq: 1,
            sender_id: alice.id,
            client_id: "client-1".to_owned(),
            body: "hello".to_owned(),
            reply_to: None,
            forwarded_from: None,
            mentions: vec![bob.id],
            created_at: at(1),
            edited_at: None,
            deleted_at: None,
            pinned_at: None,
            reactions: Vec::new(),
        }
    );
    assert_eq!(original.event.actor_id, alice.id);
    assert_eq!(original.event.at, at(1));
    assert_eq!(store.message(first.id).await?, Some(message.clone()));

    // The retry carries a new id, another body and time: the original wins, nothing is written.
    let retry = store
        .append_message(NewMessage {
            id: Uuid::new_v4(),
            body: "hello again".to_owned(),
            now: at(2),
            ..first.clone()
        })
        .await?;
    assert!(retry.duplicate);
    assert_eq!(retry.event, original.event);
    let conversation = store.conversation(chat.id).await?.context("exists")?;
    assert_eq!(
        (conversation.last_seq, conversation.last_activity_at),
        (1, at(1))
    );
    assert_eq!(
        store.events_after(chat.id, 0, 10).await?,
        std::slice::from_ref(&original.event)
    );

    // The key is (conversation, sender, client id): bob may use the same client id.
    let bobs = store
        .append_message(NewMessage {
            client_id: "client-1".to_owned(),
            ..text(chat.id, bob.id, "hi", at(3))
        })
        .await?;
    assert!(!bobs.duplicate);
    assert_eq!(bobs.event.seq, 2);

    // A retry after later messages still returns the original, as it is now.
    store
        .edit_message(chat.id, first.id, alice.id, "hello!".to_owned(), at(4))
        .await?;
    let late_retry = store.append_message(first).await?;
    assert!(late_retry.duplicate);
    assert_eq!(late_retry.event.seq, 1);
    assert_eq!(created_message(&late_retry.event).body, "hello!");
    Ok(())
}

pub async fn concurrent_retries_store_one_message(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), users[0].id, users[1].id, t0())
        .await?;
    let send = NewMessage {
        client_id: "same".to_owned(),
        ..text(chat.id, users[0].id, "once", at(1))
    };
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let send = NewMessage {
                id: Uuid::new_v4(),
                ..send.clone()
            };
            tokio::spawn(async move { store.append_message(send).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await??);
    }
    let n_originals = outcomes.iter().filter(|outcome| !outcome.duplicate).count();
    assert_eq!(n_originals, 1);
    let events: HashSet<i64> = outcomes.iter().map(|outcome| outcome.event.seq).collect();
    assert_eq!(events, HashSet::from([1]));
    let first = &outcomes[0].event;
    assert!(outcomes.iter().all(|outcome| &outcome.event == first));
    assert_eq!(
        store
            .conversation(chat.id)
            .await?
            .context("exists")?
            .last_seq,
        1
    );
    Ok(())
}

pub async fn send_to_unknown_conversation_is_not_found(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let outcome = store
        .append_message(text(Uuid::new_v4(), users[0].id, "hello?", t0()))
        .await;
    assert!(matches!(outcome, Err(Error::NotFound)), "{outcome:?}");

    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), users[0].id, users[1].id, t0())
        .await?;
    let unknown_sender = store
        .append_message(text(chat.id, Uuid::new_v4(), "who?", t0()))
        .await;
    assert!(
        matches!(unknown_sender, Err(Error::NotFound)),
        "{unknown_sender:?}"
    );
    assert_eq!(
        store
            .conversation(chat.id)
            .await?
            .context("exists")?
            .last_seq,
        0
    );
    Ok(())
}

pub async fn reply_to_must_be_in_the_conversation(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (alice, bob) = (&users[0], &users[1]);
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, bob.id, t0())
        .await?;
    let team = store.create_group(group(alice.id, &[bob.id], t0())).await?;
    let elsewhere = send(&*store, team.id, bob.id, "in the group", at(1)).await?;
    let question = send(&*store, chat.id, bob.id, "question?", at(2)).await?;

    for reply_to in [elsewhere.id, Uuid::new_v4()] {
        let outcome = store
            .append_message(NewMessage {
                reply_to: Some(reply_to),
                ..text(chat.id, alice.id, "answer", at(3))
            })
            .await;
        assert!(matches!(outcome, Err(Error::NotFound)), "{outcome:?}");
    }
    assert_eq!(
        store
            .conversation(chat.id)
            .await?
            .context("exists")?
            .last_seq,
        1
    );

    // Forwarding keeps the source id, whatever it names.
    let forwarded_from = Uuid::new_v4();
    let answer = store
        .append_message(NewMessage {
            reply_to: Some(question.id),
            forwarded_from: Some(forwarded_from),
            ..text(chat.id, alice.id, "answer", at(3))
        })
        .await?;
    let answer = created_message(&answer.event).clone();
    assert_eq!(answer.seq, 2);
    assert_eq!(answer.reply_to, Some(question.id));
    assert_eq!(answer.forwarded_from, Some(forwarded_from));
    assert_eq!(store.message(answer.id).await?, Some(answer));
    Ok(())
}

pub async fn edit_only_by_sender_and_not_after_delete(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (alice, bob) = (&users[0], &users[1]);
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, bob.id, t0())
        .await?;
    let message = send(&*store, chat.id, alice.id, "helo", at(1)).await?;

    let by_bob = store
        .edit_message(chat.id, message.id, bob.id, "hacked".to_owned(), at(2))
        .await;
    assert!(matches!(by_bob, Err(Error::NotSender)), "{by_bob:?}");

    let edited = store
        .edit_message(chat.id, message.id, alice.id, "hello".to_owned(), at(3))
        .await?;
    assert_eq!(
        edited,
        ConversationEvent {
            conversation_id: chat.id,
            seq: 2,
            actor_id: alice.id,
            at: at(3),
            kind: EventKind::MessageEdited {
                message_id: message.id,
                body: "hello".to_owned(),
                edited_at: at(3),
            },
        }
    );
    let stored = store.message(message.id).await?.context("exists")?;
    assert_eq!(stored.body, "hello");
    assert_eq!(stored.edited_at, Some(at(3)));
    assert_eq!(stored.seq, 1, "an edit does not move the message");

    let unknown = store
        .edit_message(chat.id, Uuid::new_v4(), alice.id, "x".to_owned(), at(4))
        .await;
    assert!(matches!(unknown, Err(Error::NotFound)), "{unknown:?}");
    let wrong_conversation = store
        .edit_message(Uuid::new_v4(), message.id, alice.id, "x".to_owned(), at(4))
        .await;
    assert!(
        matches!(wrong_conversation, Err(Error::NotFound)),
        "{wrong_conversation:?}"
    );

    store
        .delete_message(chat.id, message.id, alice.id, at(5))
        .await?;
    let after_delete = store
        .edit_message(chat.id, message.id, alice.id, "back".to_owned(), at(6))
        .await;
    assert!(
        matches!(after_delete, Err(Error::MessageDeleted)),
        "{after_delete:?}"
    );
    assert_eq!(
        store
            .conversation(chat.id)
            .await?
            .context("exists")?
            .last_seq,
        3
    );
    Ok(())
}

pub async fn delete_for_everyone_erases_body(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (alice, bob) = (&users[0], &users[1]);
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, bob.id, t0())
        .await?;
    let message = send(&*store, chat.id, alice.id, "secret plans", at(1)).await?;
    store
        .toggle_reaction(chat.id, message.id, bob.id, "👍", at(2))
        .await?;
    store
        .set_message_pinned(chat.id, message.id, true, bob.id, at(3))
        .await?;

    let deleted = store
        .delete_message(chat.id, message.id, bob.id, at(4))
        .await?;
    assert_eq!(deleted.seq, 4);
    assert_eq!(deleted.actor_id, bob.id);
    assert_eq!(
        deleted.kind,
        EventKind::MessageDeleted {
            message_id: message.id
        }
    );

    let stored = store
        .message(message.id)
        .await?
        .context("kept as deleted")?;
    assert_eq!(stored.body, "");
    assert_eq!(stored.deleted_at, Some(at(4)));
    assert_eq!(stored.pinned_at, None, "deleting unpins");
    assert!(store.pinned_messages(chat.id).await?.is_empty());
    // Still in everyone's history, as "deleted".
    let history = store.messages_before(chat.id, alice.id, None, 10).await?;
    assert_eq!(history, std::slice::from_ref(&stored));
    // A client replaying the log sees the message as it is now.
    let events = store.events_after(chat.id, 0, 10).await?;
    assert_eq!(created_message(&events[0]), &stored);

    let again = store
        .delete_message(chat.id, message.id, alice.id, at(5))
        .await;
    assert!(matches!(again, Err(Error::MessageDeleted)), "{again:?}");
    let reaction = store
        .toggle_reaction(chat.id, message.id, alice.id, "😮", at(5))
        .await;
    assert!(
        matches!(reaction, Err(Error::MessageDeleted)),
        "{reaction:?}"
    );
    let unknown = store
        .delete_message(chat.id, Uuid::new_v4(), alice.id, at(5))
        .await;
    assert!(matches!(unknown, Err(Error::NotFound)), "{unknown:?}");
    assert_eq!(
        store
            .conversation(chat.id)
            .await?
            .context("exists")?
            .last_seq,
        4
    );
    Ok(())
}

pub async fn hide_is_per_user(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (alice, bob) = (&users[0], &users[1]);
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, bob.id, t0())
        .await?;
    let first = send(&*store, chat.id, bob.id, "first", at(1)).await?;
    send(&*store, chat.id, bob.id, "second", at(2)).await?;

    store.hide_message(first.id, alice.id, at(3)).await?;
    store.hide_message(first.id, alice.id, at(4)).await?;
    let alice_history = store.messages_before(chat.id, alice.id, None, 10).await?;
    assert_eq!(bodies(&alice_history), ["second"]);
    let bob_history = store.messages_before(chat.id, bob.id, None, 10).await?;
    assert_eq!(bodies(&bob_history), ["second", "first"]);
    // Not an event: nobody else sees a change.
    let conversation = store.conversation(chat.id).await?.context("exists")?;
    assert_eq!(
        (conversation.last_seq, conversation.last_activity_at),
        (2, at(2))
    );
    // The message itself is untouched.
    assert_eq!(store.message(first.id).await?, Some(first));

    let unknown = store.hide_message(Uuid::new_v4(), alice.id, at(5)).await;
    assert!(matches!(unknown, Err(Error::NotFound)), "{unknown:?}");
    Ok(())
}

pub async fn reactions_toggle_and_group_by_emoji(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);
    let team = store
        .create_group(group(alice.id, &[bob.id, carol.id], t0()))
        .await?;
    let message = send(&*store, team.id, alice.id, "lunch?", at(1)).await?;

    let added = store
        .toggle_reaction(team.id, message.id, carol.id, "👍", at(2))
        .await?;
    assert_eq!(
        added,
        ConversationEvent {
            conversation_id: team.id,
            seq: 5,
            actor_id: carol.id,
            at: at(2),
            kind: EventKind::ReactionChanged {
                message_id: message.id,
                user_id: carol.id,
                emoji: "👍".to_owned(),
                added: true,
            },
        }
    );
    store
        .toggle_reaction(team.id, message.id, alice.id, "🍕", at(3))
        .await?;
    store
        .toggle_reaction(team.id, message.id, bob.id, "👍", at(4))
        .await?;
    store
        .toggle_reaction(team.id, message.id, bob.id, "🍕", at(5))
        .await?;

    let stored = store.message(message.id).await?.context("exists")?;
    assert_eq!(
        stored.reactions,
        [
            Reaction {
                emoji: "👍".to_owned(),
                user_ids: vec![carol.id, bob.id],
            },
            Reaction {
                emoji: "🍕".to_owned(),
                user_ids: vec![alice.id, bob.id],
            },
        ]
    );

    // Toggling again takes it back: one event either way.
    let removed = store
        .toggle_reaction(team.id, message.id, carol.id, "👍", at(6))
        .await?;
    assert_eq!(removed.seq, 9);
    assert!(matches!(
        removed.kind,
        EventKind::ReactionChanged { added: false, .. }
    ));
    // With carol's gone, 👍 now dates from bob's reaction, after alice's 🍕.
    let stored = store.message(message.id).await?.context("exists")?;
    assert_eq!(
        stored.reactions,
        [
            Reaction {
                emoji: "🍕".to_owned(),
                user_ids: vec![alice.id, bob.id],
            },
            Reaction {
                emoji: "👍".to_owned(),
                user_ids: vec![bob.id],
            },
        ]
    );
    let history = store.messages_before(team.id, carol.id, None, 1).await?;
    assert_eq!(history, [stored]);

    let unknown = store
        .toggle_reaction(team.id, Uuid::new_v4(), bob.id, "👍", at(7))
        .await;
    assert!(matches!(unknown, Err(Error::NotFound)), "{unknown:?}");
    Ok(())
}

pub async fn pin_and_unpin_are_events(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (alice, bob) = (&users[0], &users[1]);
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, bob.id, t0())
        .await?;
    let first = send(&*store, chat.id, alice.id, "first", at(1)).await?;
    let second = send(&*store, chat.id, bob.id, "second", at(2)).await?;

    let pinned = store
        .set_message_pinned(chat.id, second.id, true, alice.id, at(3))
        .await?
        .context("it was not pinned")?;
    assert_eq!(pinned.seq, 3);
    assert_eq!(
        pinned.kind,
        EventKind::MessagePinned {
            message_id: second.id,
            pinned: true,
        }
    );
    assert_eq!(
        store
            .set_message_pinned(chat.id, second.id, true, bob.id, at(4))
            .await?,
        None
    );
    store
        .set_message_pinned(chat.id, first.id, true, bob.id, at(5))
        .await?;
    let pins = store.pinned_messages(chat.id).await?;
    assert_eq!(
        bodies(&pins),
        ["first", "second"],
        "most recently pinned first"
    );
    assert_eq!(pins[1].pinned_at, Some(at(3)));

    let unpinned = store
        .set_message_pinned(chat.id, first.id, false, alice.id, at(6))
        .await?
        .context("it was pinned")?;
    assert_eq!(
        unpinned.kind,
        EventKind::MessagePinned {
            message_id: first.id,
            pinned: false,
        }
    );
    assert_eq!(
        store
            .set_message_pinned(chat.id, first.id, false, alice.id, at(7))
            .await?,
        None
    );
    assert_eq!(bodies(&store.pinned_messages(chat.id).await?), ["second"]);
    assert_eq!(
        store
            .conversation(chat.id)
            .await?
            .context("exists")?
            .last_seq,
        5
    );

    store
        .delete_message(chat.id, first.id, alice.id, at(8))
        .await?;
    let deleted = store
        .set_message_pinned(chat.id, first.id, true, alice.id, at(9))
        .await;
    assert!(matches!(deleted, Err(Error::MessageDeleted)), "{deleted:?}");
    let unknown = store
        .set_message_pinned(chat.id, Uuid::new_v4(), true, alice.id, at(9))
        .await;
    assert!(matches!(unknown, Err(Error::NotFound)), "{unknown:?}");
    Ok(())
}

pub async fn history_pages_newest_first(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), users[0].id, users[1].id, t0())
        .await?;
    for (minutes, body) in (1..).zip(["one", "two", "three", "four", "five"]) {
        send(
            &*store,
            chat.id,
            users[minutes as usize % 2].id,
            body,
            at(minutes),
        )
        .await?;
    }
    let viewer = users[0].id;
    let page = store.messages_before(chat.id, viewer, None, 2).await?;
    assert_eq!(bodies(&page), ["five", "four"]);
    let page = store.messages_before(chat.id, viewer, Some(4), 2).await?;
    assert_eq!(bodies(&page), ["three", "two"]);
    let page = store.messages_before(chat.id, viewer, Some(2), 2).await?;
    assert_eq!(bodies(&page), ["one"]);
    assert!(
        store
            .messages_before(chat.id, viewer, Some(1), 2)
            .await?
            .is_empty()
    );
    assert!(
        store
            .messages_before(Uuid::new_v4(), viewer, None, 2)
            .await?
            .is_empty()
    );
    Ok(())
}

pub async fn events_after_replays_everything_missed(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);
    let team = store.create_group(group(alice.id, &[bob.id], t0())).await?;
    // Bob has seen everything up to here; then, while he is away:
    let seen = team.last_seq;
    let hello = send(&*store, team.id, alice.id, "helo", at(1)).await?;
    store
        .edit_message(team.id, hello.id, alice.id, "hello".to_owned(), at(2))
        .await?;
    store
        .add_member(
            team.id,
            carol.id,
            convene_store::MemberRole::Member,
            alice.id,
            at(3),
        )
        .await?;
    store
        .toggle_reaction(team.id, hello.id, carol.id, "👋", at(4))
        .await?;
    store
        .set_message_pinned(team.id, hello.id, true, alice.id, at(5))
        .await?;
    store
        .rename_conversation(team.id, Some("Crew".to_owned()), None, alice.id, at(6))
        .await?;
    let doomed = send(&*store, team.id, carol.id, "typo", at(7)).await?;
    store
        .delete_message(team.id, doomed.id, carol.id, at(8))
        .await?;
    store
        .remove_member(team.id, carol.id, carol.id, at(9))
        .await?;

    let missed = store.events_after(team.id, seen, 100).await?;
    assert_eq!(seqs(&missed), (seen + 1..=seen + 9).collect::<Vec<_>>());
    let actors: Vec<Uuid> = missed.iter().map(|event| event.actor_id).collect();
    assert_eq!(
        actors,
        [
            alice.id, alice.id, alice.id, carol.id, alice.id, alice.id, carol.id, carol.id,
            carol.id
        ]
    );
    let times: Vec<_> = missed.iter().map(|event| event.at).collect();
    assert_eq!(times, (1..=9).map(at).collect::<Vec<_>>());

    // The created message is shown as it is now: edited, reacted to, pinned.
    let now_hello = store.message(hello.id).await?.context("exists")?;
    assert_eq!(now_hello.body, "hello");
    assert_eq!(now_hello.pinned_at, Some(at(5)));
    let kinds: Vec<EventKind> = missed.into_iter().map(|event| event.kind).collect();
    let deleted_typo = store.message(doomed.id).await?.context("exists")?;
    assert_eq!(
        kinds,
        [
            EventKind::MessageCreated { message: now_hello },
            EventKind::MessageEdited {
                message_id: hello.id,
                body: "hello".to_owned(),
                edited_at: at(2),
            },
            EventKind::MemberJoined {
                user_id: carol.id,
                role: convene_store::MemberRole::Member,
            },
            EventKind::ReactionChanged {
                message_id: hello.id,
                user_id: carol.id,
                emoji: "👋".to_owned(),
                added: true,
            },
            EventKind::MessagePinned {
                message_id: hello.id,
                pinned: true,
            },
            EventKind::ConversationRenamed {
                title: Some("Crew".to_owned()),
                avatar_url: None,
            },
            EventKind::MessageCreated {
                message: deleted_typo,
            },
            EventKind::MessageDeleted {
                message_id: doomed.id,
            },
            EventKind::MemberLeft { user_id: carol.id },
        ]
    );

    // In pages: the limit, then the rest.
    let page = store.events_after(team.id, seen, 4).await?;
    assert_eq!(seqs(&page), (seen + 1..=seen + 4).collect::<Vec<_>>());
    let rest = store.events_after(team.id, seen + 4, 100).await?;
    assert_eq!(rest.len(), 5);
    assert!(store.events_after(team.id, seen + 9, 100).await?.is_empty());
    Ok(())
}
