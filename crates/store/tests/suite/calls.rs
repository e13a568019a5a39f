//! Calls: every field kept, transitions as compare-and-set (one winner under concurrency),
//! final calls logged in the chat with their duration, the active call, call history, the
//! ring-timeout sweep, and call lines replayed with the rest of the event log.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use convene_calls::{Call, CallInput, CallKind, CallPolicy, CallState};
use convene_store::{Conversation, ConversationEvent, Error, EventKind, Store, User};
use uuid::Uuid;

use super::{at, created_message, members, send, seqs, t0};

/// Two members and their direct chat (created at `t0()`, no events yet).
async fn direct_pair(store: &dyn Store) -> anyhow::Result<(User, User, Conversation)> {
    let users = members(store, &["alice", "bob"]).await?;
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), users[0].id, users[1].id, t0())
        .await?;
    let mut users = users.into_iter();
    let alice = users.next().context("alice")?;
    let bob = users.next().context("bob")?;
    Ok((alice, bob, chat))
}

/// A video call from `caller` to `callee`, ringing since `now`.
fn ringing(chat: &Conversation, caller: &User, callee: &User, now: DateTime<Utc>) -> Call {
    Call::start(
        Uuid::new_v4(),
        chat.id,
        caller.id,
        callee.id,
        CallKind::Video,
        false,
        now,
    )
}

fn apply(call: &Call, input: CallInput, now: DateTime<Utc>) -> anyhow::Result<Call> {
    Ok(call.apply(input, now, CallPolicy::default())?)
}

fn accept(call: &Call, connection_id: Uuid, now: DateTime<Utc>) -> anyhow::Result<Call> {
    let by = call.callee_id;
    apply(call, CallInput::Accept { by, connection_id }, now)
}

fn call_ids(calls: &[Call]) -> Vec<Uuid> {
    calls.iter().map(|call| call.id).collect()
}

/// The `CallLogged` event `call` (final) becomes as the conversation's `seq`-th event.
fn logged(call: &Call, seq: i64, duration_seconds: Option<i64>) -> ConversationEvent {
    ConversationEvent {
        conversation_id: call.conversation_id,
        seq,
        actor_id: call.caller_id,
        at: call.ended_at.unwrap_or(call.started_at),
        kind: EventKind::CallLogged {
            call_id: call.id,
            caller_id: call.caller_id,
            kind: call.kind,
            outcome: call.state,
            duration_seconds,
        },
    }
}

pub async fn call_round_trips_through_every_field(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;
    let states = [
        CallState::Ringing,
        CallState::Ongoing,
        CallState::Ended,
        CallState::Missed,
        CallState::Declined,
        CallState::Busy,
        CallState::Cancelled,
        CallState::Failed,
    ];
    let mut created = Vec::new();
    for (index, state) in (0..).zip(states) {
        let started_at = at(index);
        let answered = matches!(
            state,
            CallState::Ongoing | CallState::Ended | CallState::Failed
        );
        let call = Call {
            id: Uuid::new_v4(),
            conversation_id: chat.id,
            caller_id: alice.id,
            callee_id: bob.id,
            kind: if index % 2 == 0 {
                CallKind::Voice
            } else {
                CallKind::Video
            },
            state,
            started_at,
            answered_at: answered.then(|| started_at + Duration::seconds(3)),
            ended_at: state
                .is_final()
                .then(|| started_at + Duration::microseconds(42_123_456)),
            answered_by_connection: answered.then(Uuid::new_v4),
        };
        let event = store.create_call(&call).await?;
        assert_eq!(event.is_some(), state.is_final(), "{state:?}");
        assert_eq!(store.call(call.id).await?.as_ref(), Some(&call));
        created.push(call);
    }
    assert_eq!(store.call(Uuid::new_v4()).await?, None);

    // A transition writes every field it may change.
    let ringing = &created[0];
    let failed = Call {
        state: CallState::Failed,
        answered_at: Some(at(30)),
        ended_at: Some(at(31)),
        answered_by_connection: Some(Uuid::new_v4()),
        ..ringing.clone()
    };
    let written = store.transition_call(CallState::Ringing, &failed).await?;
    assert!(matches!(written, Some(Some(_))), "{written:?}");
    assert_eq!(store.call(ringing.id).await?, Some(failed));
    Ok(())
}

pub async fn call_with_unknown_conversation_or_user_is_not_found(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;
    let call = ringing(&chat, &alice, &bob, at(1));
    let busy = Call::start(
        Uuid::new_v4(),
        chat.id,
        alice.id,
        bob.id,
        CallKind::Voice,
        true,
        at(1),
    );
    let unknown = Uuid::new_v4();
    let attempts = [
        Call {
            conversation_id: unknown,
            ..call.clone()
        },
        Call {
            caller_id: unknown,
            ..call.clone()
        },
        Call {
            callee_id: unknown,
            ..call.clone()
        },
        Call {
            conversation_id: unknown,
            ..busy.clone()
        },
        Call {
            callee_id: unknown,
            ..busy
        },
    ];
    for attempt in attempts {
        let outcome = store.create_call(&attempt).await;
        assert!(matches!(outcome, Err(Error::NotFound)), "{outcome:?}");
        assert_eq!(store.call(attempt.id).await?, None);
    }
    let chat = store.conversation(chat.id).await?.context("exists")?;
    assert_eq!(chat.last_seq, 0, "nothing was logged");
    Ok(())
}

pub async fn busy_call_is_logged_at_creation(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;
    let hello = send(&*store, chat.id, alice.id, "call me?", at(1)).await?;
    let busy = Call::start(
        Uuid::new_v4(),
        chat.id,
        alice.id,
        bob.id,
        CallKind::Voice,
        true,
        at(2),
    );
    let event = store
        .create_call(&busy)
        .await?
        .context("a busy call is logged")?;
    assert_eq!(event, logged(&busy, 2, None));
    assert_eq!(store.call(busy.id).await?, Some(busy));

    // The log line moves the conversation like any event, but it is not an unread message.
    let chat_now = store.conversation(chat.id).await?.context("exists")?;
    assert_eq!((chat_now.last_seq, chat_now.last_activity_at), (2, at(2)));
    assert_eq!(store.events_after(chat.id, 1, 10).await?, [event]);
    let list = store.conversations_for_user(bob.id, None, 10).await?;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].conversation, chat_now);
    assert_eq!(list[0].unread_count, 1, "alice's message only");
    assert_eq!(list[0].last_message.as_ref(), Some(&hello));
    let list = store.conversations_for_user(alice.id, None, 10).await?;
    assert_eq!(list[0].unread_count, 0);

    // A ringing call is not logged (yet).
    let call = ringing(&chat, &bob, &alice, at(3));
    assert_eq!(store.create_call(&call).await?, None);
    let chat_now = store.conversation(chat.id).await?.context("exists")?;
    assert_eq!((chat_now.last_seq, chat_now.last_activity_at), (2, at(2)));
    Ok(())
}

pub async fn transition_is_compare_and_set(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;
    let call = ringing(&chat, &alice, &bob, at(1));
    store.create_call(&call).await?;
    let answered_at = at(1) + Duration::seconds(5);

    // Expecting the wrong state writes nothing.
    let answered = accept(&call, Uuid::new_v4(), answered_at)?;
    assert_eq!(
        store.transition_call(CallState::Ongoing, &answered).await?,
        None
    );
    assert_eq!(store.call(call.id).await?.as_ref(), Some(&call));
    let unknown = Call {
        id: Uuid::new_v4(),
        ..answered.clone()
    };
    assert_eq!(
        store.transition_call(CallState::Ringing, &unknown).await?,
        None
    );

    // Eight pods answer at once, each on its own connection: exactly one wins.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let answered = accept(&call, Uuid::new_v4(), answered_at);
            tokio::spawn(async move {
                let answered = answered?;
                let outcome = store.transition_call(CallState::Ringing, &answered).await?;
                anyhow::Ok((answered, outcome))
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (answered, outcome) = task.await??;
        if let Some(logged) = outcome {
            assert_eq!(logged, None, "answering is not final");
            winners.push(answered);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one answer is written");
    let ongoing = store.call(call.id).await?.context("exists")?;
    assert_eq!(ongoing, winners[0], "the winner's connection is kept");

    // The same for eight hang-ups at different times: one is written and logged.
    let tasks: Vec<_> = (0..8)
        .map(|task_idx| {
            let store = Arc::clone(&store);
            let ended = apply(
                &ongoing,
                CallInput::Hangup { by: alice.id },
                at(2) + Duration::seconds(task_idx),
            );
            tokio::spawn(async move {
                let ended = ended?;
                let outcome = store.transition_call(CallState::Ongoing, &ended).await?;
                anyhow::Ok((ended, outcome))
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (ended, outcome) = task.await??;
        if let Some(logged) = outcome {
            winners.push((ended, logged.context("ending is logged")?));
        }
    }
    assert_eq!(winners.len(), 1, "exactly one hang-up is written");
    let (ended, event) = &winners[0];
    assert_eq!(store.call(call.id).await?.as_ref(), Some(ended));
    assert_eq!(
        store.events_after(chat.id, 0, 10).await?,
        std::slice::from_ref(event)
    );
    assert_eq!(event.seq, 1);

    // A final call stays final.
    let declined = Call {
        state: CallState::Declined,
        ..ended.clone()
    };
    assert_eq!(
        store.transition_call(CallState::Ringing, &declined).await?,
        None
    );
    assert_eq!(store.call(call.id).await?.as_ref(), Some(ended));
    Ok(())
}

pub async fn final_transition_logs_the_call_with_duration(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;

    // Answered after 5 s, hung up 4:12 later.
    let call = ringing(&chat, &alice, &bob, at(1));
    store.create_call(&call).await?;
    let answered = accept(&call, Uuid::new_v4(), at(1) + Duration::seconds(5))?;
    store.transition_call(CallState::Ringing, &answered).await?;
    let ended = apply(
        &answered,
        CallInput::Hangup { by: bob.id },
        at(1) + Duration::seconds(257),
    )?;
    let event = store
        .transition_call(CallState::Ongoing, &ended)
        .await?
        .context("written")?
        .context("logged")?;
    assert_eq!(event, logged(&ended, 1, Some(252)));

    // Nobody answered: missed, without a duration.
    let unanswered = ringing(&chat, &bob, &alice, at(10));
    store.create_call(&unanswered).await?;
    let missed = apply(&unanswered, CallInput::Tick, at(10) + Duration::seconds(45))?;
    assert_eq!(missed.state, CallState::Missed);
    let event = store
        .transition_call(CallState::Ringing, &missed)
        .await?
        .context("written")?
        .context("logged")?;
    assert_eq!(event, logged(&missed, 2, None));

    let chat_now = store.conversation(chat.id).await?.context("exists")?;
    assert_eq!(
        (chat_now.last_seq, chat_now.last_activity_at),
        (2, at(10) + Duration::seconds(45))
    );
    Ok(())
}

pub async fn non_final_transition_logs_nothing(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;
    let call = ringing(&chat, &alice, &bob, at(1));
    assert_eq!(store.create_call(&call).await?, None);
    let answered = accept(&call, Uuid::new_v4(), at(1) + Duration::seconds(5))?;
    assert_eq!(
        store.transition_call(CallState::Ringing, &answered).await?,
        Some(None)
    );
    assert_eq!(store.call(call.id).await?, Some(answered));
    let chat_now = store.conversation(chat.id).await?.context("exists")?;
    assert_eq!(chat_now, chat, "no seq spent, no activity");
    let events = store.events_after(chat.id, 0, 10).await?;
    assert!(events.is_empty(), "{events:?}");
    Ok(())
}

pub async fn active_call_is_ringing_or_ongoing_only(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;
    let carol = members(&*store, &["carol"]).await?.remove(0);
    let (with_carol, _) = store
        .find_or_create_direct(Uuid::new_v4(), carol.id, alice.id, t0())
        .await?;
    assert_eq!(store.active_call_of(alice.id).await?, None);

    // A busy call was never active.
    let busy = Call::start(
        Uuid::new_v4(),
        chat.id,
        bob.id,
        alice.id,
        CallKind::Voice,
        true,
        at(1),
    );
    store.create_call(&busy).await?;
    assert_eq!(store.active_call_of(alice.id).await?, None);

    let call = ringing(&chat, &alice, &bob, at(2));
    store.create_call(&call).await?;
    for user in [&alice, &bob] {
        assert_eq!(store.active_call_of(user.id).await?.as_ref(), Some(&call));
    }
    assert_eq!(store.active_call_of(carol.id).await?, None);

    let ongoing = accept(&call, Uuid::new_v4(), at(2) + Duration::seconds(5))?;
    store.transition_call(CallState::Ringing, &ongoing).await?;
    assert_eq!(store.active_call_of(bob.id).await?.as_ref(), Some(&ongoing));

    // Carol rings alice meanwhile: alice's newest active call is carol's.
    let from_carol = ringing(&with_carol, &carol, &alice, at(3));
    store.create_call(&from_carol).await?;
    assert_eq!(
        store.active_call_of(alice.id).await?.as_ref(),
        Some(&from_carol)
    );
    assert_eq!(store.active_call_of(bob.id).await?.as_ref(), Some(&ongoing));

    let ended = apply(&ongoing, CallInput::Hangup { by: bob.id }, at(4))?;
    store.transition_call(CallState::Ongoing, &ended).await?;
    assert_eq!(store.active_call_of(bob.id).await?, None);
    let cancelled = apply(&from_carol, CallInput::Cancel { by: carol.id }, at(3))?;
    store
        .transition_call(CallState::Ringing, &cancelled)
        .await?;
    for user in [&alice, &bob, &carol] {
        assert_eq!(store.active_call_of(user.id).await?, None);
    }
    Ok(())
}

pub async fn call_history_is_newest_first_for_both_sides(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;
    let carol = members(&*store, &["carol"]).await?.remove(0);
    let (alice_carol, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, carol.id, t0())
        .await?;
    let (bob_carol, _) = store
        .find_or_create_direct(Uuid::new_v4(), bob.id, carol.id, t0())
        .await?;
    let calls = [
        ringing(&chat, &alice, &bob, at(1)),
        ringing(&chat, &bob, &alice, at(2)),
        ringing(&alice_carol, &carol, &alice, at(3)),
        ringing(&bob_carol, &bob, &carol, at(4)),
    ];
    // Stored out of order: the order comes from `started_at`.
    for index in [2, 0, 3, 1] {
        store.create_call(&calls[index]).await?;
    }
    let ids =
        |indexes: &[usize]| -> Vec<Uuid> { indexes.iter().map(|&index| calls[index].id).collect() };

    let history = store.calls_for_user(alice.id, None, 10).await?;
    assert_eq!(
        history,
        [calls[2].clone(), calls[1].clone(), calls[0].clone()]
    );
    let history = store.calls_for_user(bob.id, None, 10).await?;
    assert_eq!(call_ids(&history), ids(&[3, 1, 0]));
    let history = store.calls_for_user(carol.id, None, 10).await?;
    assert_eq!(call_ids(&history), ids(&[3, 2]));

    // Pages: `before` is exclusive, so the last call's start is the next page's bound.
    let page = store.calls_for_user(alice.id, None, 2).await?;
    assert_eq!(call_ids(&page), ids(&[2, 1]));
    let before = page.last().map(|call| call.started_at);
    let page = store.calls_for_user(alice.id, before, 2).await?;
    assert_eq!(call_ids(&page), ids(&[0]));
    let page = store.calls_for_user(alice.id, Some(at(1)), 2).await?;
    assert!(page.is_empty(), "{page:?}");

    let strangers = store.calls_for_user(Uuid::new_v4(), None, 10).await?;
    assert!(strangers.is_empty(), "{strangers:?}");
    Ok(())
}

pub async fn ringing_calls_past_a_time_are_listed_oldest_first(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;
    let calls: Vec<Call> = [3, 1, 5, 2]
        .into_iter()
        .map(|minute| ringing(&chat, &alice, &bob, at(minute)))
        .collect();
    for call in &calls {
        store.create_call(call).await?;
    }
    // Calls past ringing are never swept.
    let answered = ringing(&chat, &bob, &alice, t0());
    store.create_call(&answered).await?;
    let ongoing = accept(&answered, Uuid::new_v4(), t0() + Duration::seconds(5))?;
    store.transition_call(CallState::Ringing, &ongoing).await?;
    let busy = Call::start(
        Uuid::new_v4(),
        chat.id,
        bob.id,
        alice.id,
        CallKind::Voice,
        true,
        t0(),
    );
    store.create_call(&busy).await?;

    let (at1, at2, at3, at5) = (&calls[1], &calls[3], &calls[0], &calls[2]);
    let due = store.ringing_calls_started_before(at(3), 10).await?;
    assert_eq!(
        due,
        [at1.clone(), at2.clone()],
        "started_before is exclusive"
    );
    let due = store.ringing_calls_started_before(at(10), 10).await?;
    assert_eq!(call_ids(&due), [at1.id, at2.id, at3.id, at5.id]);
    let due = store.ringing_calls_started_before(at(10), 2).await?;
    assert_eq!(call_ids(&due), [at1.id, at2.id]);

    let missed = apply(at1, CallInput::Tick, at(1) + Duration::seconds(45))?;
    store.transition_call(CallState::Ringing, &missed).await?;
    let due = store.ringing_calls_started_before(at(10), 10).await?;
    assert_eq!(call_ids(&due), [at2.id, at3.id, at5.id]);
    let none_due = store.ringing_calls_started_before(at(1), 10).await?;
    assert!(none_due.is_empty(), "{none_due:?}");
    Ok(())
}

pub async fn call_events_replay_with_events_after(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (alice, bob, chat) = direct_pair(&*store).await?;
    let first = send(&*store, chat.id, alice.id, "there?", at(1)).await?;
    let busy = Call::start(
        Uuid::new_v4(),
        chat.id,
        alice.id,
        bob.id,
        CallKind::Voice,
        true,
        at(2),
    );
    let busy_event = store.create_call(&busy).await?.context("logged")?;
    let call = ringing(&chat, &bob, &alice, at(3));
    store.create_call(&call).await?;
    let answered = accept(&call, Uuid::new_v4(), at(3) + Duration::seconds(5))?;
    store.transition_call(CallState::Ringing, &answered).await?;
    let during = send(&*store, chat.id, bob.id, "link: …", at(4)).await?;
    let ended = apply(&answered, CallInput::Hangup { by: alice.id }, at(5))?;
    let ended_event = store
        .transition_call(CallState::Ongoing, &ended)
        .await?
        .flatten()
        .context("logged")?;

    let replayed = store.events_after(chat.id, 0, 100).await?;
    assert_eq!(seqs(&replayed), [1, 2, 3, 4]);
    assert_eq!(created_message(&replayed[0]), &first);
    assert_eq!(replayed[1], busy_event);
    assert_eq!(created_message(&replayed[2]), &during);
    assert_eq!(replayed[3], ended_event);
    assert_eq!(ended_event, logged(&ended, 4, Some(115)));

    // A client that saw the busy line misses only what came after it.
    let missed = store.events_after(chat.id, busy_event.seq, 100).await?;
    assert_eq!(missed, replayed[2..]);
    Ok(())
}
