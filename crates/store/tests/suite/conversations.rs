//! Conversations: direct chats (one per pair), groups, meetings, membership as events, the
//! conversation list with its unread and mention counts, receipts, contacts and last seen.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use convene_store::{
    ConversationEvent, ConversationKind, Error, EventKind, MemberRole, NewMeeting, NewMessage,
    Store,
};
use uuid::Uuid;

use super::{at, group, members, send, seqs, t0, text};

pub async fn direct_chat_is_unique_per_pair(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);

    let id = Uuid::new_v4();
    let (chat, created) = store
        .find_or_create_direct(id, alice.id, bob.id, t0())
        .await?;
    assert!(created);
    assert_eq!(chat.id, id);
    assert_eq!(chat.kind, ConversationKind::Direct);
    assert_eq!(chat.title, None);
    assert_eq!(chat.meeting_code, None);
    assert_eq!(chat.created_by, alice.id);
    assert_eq!((chat.created_at, chat.last_activity_at), (t0(), t0()));
    assert_eq!(chat.last_seq, 0, "a direct chat starts without events");
    let member_ids: HashSet<Uuid> = store
        .members(id)
        .await?
        .iter()
        .map(|member| member.user_id)
        .collect();
    assert_eq!(member_ids, HashSet::from([alice.id, bob.id]));
    assert_eq!(store.conversation(id).await?, Some(chat.clone()));

    // From the other side, later, with another id: the same chat.
    let (again, created) = store
        .find_or_create_direct(Uuid::new_v4(), bob.id, alice.id, at(5))
        .await?;
    assert!(!created);
    assert_eq!(again, chat);

    // Both sides at once, many times: exactly one chat is created.
    let tasks: Vec<_> = (0..8)
        .map(|index| {
            let store = Arc::clone(&store);
            let (from, to) = if index % 2 == 0 {
                (alice.id, carol.id)
            } else {
                (carol.id, alice.id)
            };
            tokio::spawn(async move {
                store
                    .find_or_create_direct(Uuid::new_v4(), from, to, at(1))
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await??);
    }
    let ids: HashSet<Uuid> = outcomes.iter().map(|(chat, _)| chat.id).collect();
    assert_eq!(ids.len(), 1, "{outcomes:?}");
    let n_created = outcomes.iter().filter(|(_, created)| *created).count();
    assert_eq!(n_created, 1);
    assert_ne!(outcomes[0].0.id, chat.id);
    let carol_chats = store.conversation_ids_for_user(carol.id).await?;
    assert_eq!(carol_chats, [outcomes[0].0.id]);
    assert_eq!(store.members(outcomes[0].0.id).await?.len(), 2);
    Ok(())
}

pub async fn direct_chat_with_unknown_user_is_not_found(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let users = members(&*store, &["alice"]).await?;
    let id = Uuid::new_v4();
    for (from, to) in [(users[0].id, Uuid::new_v4()), (Uuid::new_v4(), users[0].id)] {
        let outcome = store.find_or_create_direct(id, from, to, t0()).await;
        assert!(matches!(outcome, Err(Error::NotFound)), "{outcome:?}");
    }
    assert_eq!(store.conversation(id).await?, None);
    assert!(
        store
            .conversation_ids_for_user(users[0].id)
            .await?
            .is_empty()
    );
    Ok(())
}

pub async fn group_creation_adds_admin_and_members_with_events(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);

    // Repeated ids and the creator among the members are tolerated.
    let new_group = convene_store::NewGroup {
        avatar_url: Some("https://cdn.example.com/team.png".to_owned()),
        ..group(alice.id, &[bob.id, carol.id, bob.id, alice.id], t0())
    };
    let created = store.create_group(new_group.clone()).await?;
    assert_eq!(created.id, new_group.id);
    assert_eq!(created.kind, ConversationKind::Group);
    assert_eq!(created.title.as_deref(), Some("Team"));
    assert_eq!(created.avatar_url, new_group.avatar_url);
    assert_eq!(created.created_by, alice.id);
    assert_eq!(created.last_seq, 3);
    assert!(!created.allow_guests);
    assert_eq!(store.conversation(created.id).await?, Some(created.clone()));

    let group_members = store.members(created.id).await?;
    let roles: Vec<(Uuid, MemberRole)> = group_members
        .iter()
        .map(|member| (member.user_id, member.role))
        .collect();
    assert_eq!(
        roles,
        [
            (alice.id, MemberRole::Admin),
            (bob.id, MemberRole::Member),
            (carol.id, MemberRole::Member),
        ]
    );
    assert!(group_members.iter().all(|member| member.joined_at == t0()));

    let events = store.events_after(created.id, 0, 100).await?;
    let expected: Vec<ConversationEvent> = roles
        .iter()
        .zip(1..)
        .map(|(&(user_id, role), seq)| ConversationEvent {
            conversation_id: created.id,
            seq,
            actor_id: alice.id,
            at: t0(),
            kind: EventKind::MemberJoined { user_id, role },
        })
        .collect();
    assert_eq!(events, expected);
    Ok(())
}

pub async fn group_with_unknown_member_creates_nothing(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let new_group = group(users[0].id, &[users[1].id, Uuid::new_v4()], t0());
    let outcome = store.create_group(new_group.clone()).await;
    assert!(matches!(outcome, Err(Error::NotFound)), "{outcome:?}");
    assert_eq!(store.conversation(new_group.id).await?, None);
    assert!(store.members(new_group.id).await?.is_empty());
    assert!(store.events_after(new_group.id, 0, 100).await?.is_empty());
    assert!(
        store
            .conversation_ids_for_user(users[1].id)
            .await?
            .is_empty()
    );

    let unknown_creator = store
        .create_group(group(Uuid::new_v4(), &[users[0].id], t0()))
        .await;
    assert!(
        matches!(unknown_creator, Err(Error::NotFound)),
        "{unknown_creator:?}"
    );
    Ok(())
}

pub async fn meeting_code_is_unique(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let meeting = NewMeeting {
        id: Uuid::new_v4(),
        code: "abc-defg-hij".to_owned(),
        title: Some("Standup".to_owned()),
        creator_id: users[0].id,
        allow_guests: true,
        now: t0(),
    };
    let created = store.create_meeting(meeting.clone()).await?;
    assert_eq!(created.kind, ConversationKind::Meeting);
    assert_eq!(created.meeting_code.as_deref(), Some("abc-defg-hij"));
    assert_eq!(created.title.as_deref(), Some("Standup"));
    assert!(created.allow_guests);
    // The creator's joining is the first event, as in groups.
    assert_eq!(created.last_seq, 1);
    let creator = store
        .member(created.id, users[0].id)
        .await?
        .context("the creator is a member")?;
    assert_eq!(creator.role, MemberRole::Admin);
    assert_eq!(
        store.conversation_by_meeting_code("abc-defg-hij").await?,
        Some(created.clone())
    );
    assert_eq!(
        store.conversation_by_meeting_code("zzz-zzzz-zzz").await?,
        None
    );

    let taken = store
        .create_meeting(NewMeeting {
            id: Uuid::new_v4(),
            creator_id: users[1].id,
            allow_guests: false,
            ..meeting.clone()
        })
        .await;
    assert!(matches!(taken, Err(Error::MeetingCodeTaken)), "{taken:?}");
    assert!(
        store
            .conversation_ids_for_user(users[1].id)
            .await?
            .is_empty()
    );

    let unknown_creator = store
        .create_meeting(NewMeeting {
            id: Uuid::new_v4(),
            code: "new-code-xyz".to_owned(),
            creator_id: Uuid::new_v4(),
            ..meeting
        })
        .await;
    assert!(
        matches!(unknown_creator, Err(Error::NotFound)),
        "{unknown_creator:?}"
    );
    Ok(())
}

pub async fn membership_add_remove_role_are_events_and_idempotent(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);
    let team = store.create_group(group(alice.id, &[bob.id], t0())).await?;
    assert_eq!(team.last_seq, 2);

    let joined = store
        .add_member(team.id, carol.id, MemberRole::Member, bob.id, at(1))
        .await?;
    let joined = joined.context("carol was not a member")?;
    assert_eq!(
        joined,
        ConversationEvent {
            conversation_id: team.id,
            seq: 3,
            actor_id: bob.id,
            at: at(1),
            kind: EventKind::MemberJoined {
                user_id: carol.id,
                role: MemberRole::Member,
            },
        }
    );
    let carol_member = store.member(team.id, carol.id).await?.context("member")?;
    assert_eq!(carol_member.joined_at, at(1));
    // Adding again changes nothing and spends no seq.
    let again = store
        .add_member(team.id, carol.id, MemberRole::Admin, alice.id, at(2))
        .await?;
    assert_eq!(again, None);
    assert_eq!(store.member(team.id, carol.id).await?, Some(carol_member));

    let promoted = store
        .set_member_role(team.id, carol.id, MemberRole::Admin, alice.id, at(3))
        .await?
        .context("the role changed")?;
    assert_eq!(promoted.seq, 4);
    assert_eq!(
        promoted.kind,
        EventKind::MemberRoleChanged {
            user_id: carol.id,
            role: MemberRole::Admin,
        }
    );
    let unchanged = store
        .set_member_role(team.id, carol.id, MemberRole::Admin, alice.id, at(4))
        .await?;
    assert_eq!(unchanged, None);
    let outsider = store
        .set_member_role(team.id, Uuid::new_v4(), MemberRole::Admin, alice.id, at(4))
        .await;
    assert!(matches!(outsider, Err(Error::NotFound)), "{outsider:?}");

    let left = store
        .remove_member(team.id, carol.id, carol.id, at(5))
        .await?
        .context("carol was a member")?;
    assert_eq!(left.seq, 5);
    assert_eq!(left.actor_id, carol.id);
    assert_eq!(left.kind, EventKind::MemberLeft { user_id: carol.id });
    assert_eq!(store.member(team.id, carol.id).await?, None);
    assert_eq!(
        store
            .remove_member(team.id, carol.id, alice.id, at(6))
            .await?,
        None
    );

    let events = store.events_after(team.id, 2, 100).await?;
    assert_eq!(seqs(&events), [3, 4, 5]);
    let conversation = store.conversation(team.id).await?.context("exists")?;
    assert_eq!(conversation.last_seq, 5);
    assert_eq!(conversation.last_activity_at, at(5));

    // An unknown conversation: nobody can join it, and nobody is in it.
    let nowhere = Uuid::new_v4();
    let added = store
        .add_member(nowhere, bob.id, MemberRole::Member, alice.id, at(7))
        .await;
    assert!(matches!(added, Err(Error::NotFound)), "{added:?}");
    assert_eq!(
        store.remove_member(nowhere, bob.id, bob.id, at(7)).await?,
        None
    );
    let unknown_user = store
        .add_member(team.id, Uuid::new_v4(), MemberRole::Member, alice.id, at(7))
        .await;
    assert!(
        matches!(unknown_user, Err(Error::NotFound)),
        "{unknown_user:?}"
    );
    assert_eq!(
        store
            .conversation(team.id)
            .await?
            .context("exists")?
            .last_seq,
        5
    );
    Ok(())
}

pub async fn joining_member_has_read_the_history_before_joining(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);
    let team = store.create_group(group(alice.id, &[bob.id], t0())).await?;
    send(&*store, team.id, alice.id, "before carol", at(1)).await?;
    let joined = store
        .add_member(team.id, carol.id, MemberRole::Member, alice.id, at(2))
        .await?
        .context("joined")?;
    let carol_member = store.member(team.id, carol.id).await?.context("member")?;
    assert_eq!(carol_member.read_seq, joined.seq);
    assert_eq!(carol_member.delivered_seq, joined.seq);
    send(&*store, team.id, bob.id, "after carol", at(3)).await?;

    let list = store.conversations_for_user(carol.id, None, 10).await?;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].unread_count, 1);
    // Bob, a member from the start, has alice's message unread; his own does not count.
    let list = store.conversations_for_user(bob.id, None, 10).await?;
    assert_eq!(list[0].unread_count, 1);
    let alice_list = store.conversations_for_user(alice.id, None, 10).await?;
    assert_eq!(alice_list[0].unread_count, 1);
    Ok(())
}

pub async fn rename_is_an_event_and_moves_activity(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice"]).await?;
    let team = store.create_group(group(users[0].id, &[], t0())).await?;
    let renamed = store
        .rename_conversation(
            team.id,
            Some("Renamed".to_owned()),
            Some("https://cdn.example.com/r.png".to_owned()),
            users[0].id,
            at(1),
        )
        .await?;
    assert_eq!(renamed.seq, 2);
    assert_eq!(
        renamed.kind,
        EventKind::ConversationRenamed {
            title: Some("Renamed".to_owned()),
            avatar_url: Some("https://cdn.example.com/r.png".to_owned()),
        }
    );
    let conversation = store.conversation(team.id).await?.context("exists")?;
    assert_eq!(conversation.title.as_deref(), Some("Renamed"));
    assert_eq!(conversation.last_activity_at, at(1));

    // Clearing both is a rename too.
    store
        .rename_conversation(team.id, None, None, users[0].id, at(2))
        .await?;
    let conversation = store.conversation(team.id).await?.context("exists")?;
    assert_eq!((conversation.title, conversation.avatar_url), (None, None));
    assert_eq!(store.events_after(team.id, 0, 10).await?.len(), 3);

    let unknown = store
        .rename_conversation(Uuid::new_v4(), None, None, users[0].id, at(3))
        .await;
    assert!(matches!(unknown, Err(Error::NotFound)), "{unknown:?}");
    Ok(())
}

pub async fn conversation_list_orders_by_activity_with_unread_and_mentions(
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);
    let (with_bob, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, bob.id, at(0))
        .await?;
    let team = store
        .create_group(group(alice.id, &[bob.id, carol.id], at(1)))
        .await?;
    let (with_carol, _) = store
        .find_or_create_direct(Uuid::new_v4(), carol.id, alice.id, at(2))
        .await?;

    send(&*store, with_bob.id, bob.id, "hi alice", at(3)).await?;
    let mention = store
        .append_message(NewMessage {
            mentions: vec![alice.id, alice.id, carol.id],
            ..text(team.id, bob.id, "@alice @carol look", at(4))
        })
        .await?;
    let mention = super::created_message(&mention.event).clone();
    assert_eq!(mention.mentions.len(), 2, "mentions are stored once each");
    let from_carol = send(&*store, team.id, carol.id, "hello", at(5)).await?;
    let own = send(&*store, team.id, alice.id, "mine", at(6)).await?;

    let list = store.conversations_for_user(alice.id, None, 10).await?;
    let ids: Vec<Uuid> = list.iter().map(|row| row.conversation.id).collect();
    assert_eq!(ids, [team.id, with_bob.id, with_carol.id]);
    let figures: Vec<(i64, i64, Option<Uuid>)> = list
        .iter()
        .map(|row| (row.unread_count, row.mention_count, row.peer_id))
        .collect();
    assert_eq!(
        figures,
        [(2, 1, None), (1, 0, Some(bob.id)), (0, 0, Some(carol.id)),]
    );
    assert_eq!(list[0].last_message.as_ref(), Some(&own));
    assert_eq!(list[0].membership.role, MemberRole::Admin);
    assert_eq!(list[0].membership.user_id, alice.id);
    assert_eq!(list[0].conversation.last_activity_at, at(6));
    assert_eq!(
        list[1].last_message.as_ref().map(|m| m.body.as_str()),
        Some("hi alice")
    );
    assert_eq!(list[2].last_message, None);

    // Reading up to the mention clears it; hiding carol's message takes it out of the count.
    store.mark_read(team.id, alice.id, mention.seq).await?;
    store.hide_message(from_carol.id, alice.id, at(7)).await?;
    // Deleted for everyone: no longer unread, but still the last message (shown as deleted).
    let last_from_bob = send(&*store, with_bob.id, bob.id, "oops", at(8)).await?;
    store
        .delete_message(with_bob.id, last_from_bob.id, bob.id, at(9))
        .await?;
    // Alice hides her own last message: the list shows the one before.
    store.hide_message(own.id, alice.id, at(10)).await?;

    let list = store.conversations_for_user(alice.id, None, 10).await?;
    let ids: Vec<Uuid> = list.iter().map(|row| row.conversation.id).collect();
    assert_eq!(ids, [with_bob.id, team.id, with_carol.id]);
    assert_eq!((list[0].unread_count, list[0].mention_count), (1, 0));
    let last = list[0].last_message.as_ref().context("a last message")?;
    assert_eq!((last.id, last.body.as_str()), (last_from_bob.id, ""));
    assert!(last.deleted_at.is_some());
    assert_eq!((list[1].unread_count, list[1].mention_count), (0, 0));
    assert_eq!(
        list[1].last_message.as_ref().map(|m| m.id),
        Some(mention.id)
    );

    // Carol's view of the same group: the mention counts for her, and her own message not.
    let carol_list = store.conversations_for_user(carol.id, None, 10).await?;
    let carol_team = carol_list
        .iter()
        .find(|row| row.conversation.id == team.id)
        .context("carol is in the team")?;
    assert_eq!((carol_team.unread_count, carol_team.mention_count), (2, 1));
    assert_eq!(carol_team.last_message.as_ref().map(|m| m.id), Some(own.id));
    Ok(())
}

pub async fn conversation_list_pages_by_activity(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol", "dave"]).await?;
    let alice = &users[0];
    let mut chats = Vec::new();
    for (minutes, peer) in (1..).zip(&users[1..]) {
        let (chat, _) = store
            .find_or_create_direct(Uuid::new_v4(), alice.id, peer.id, at(minutes))
            .await?;
        chats.push(chat.id);
    }
    // Newest activity first: dave (3), carol (2), bob (1).
    let first = store.conversations_for_user(alice.id, None, 2).await?;
    let first_ids: Vec<Uuid> = first.iter().map(|row| row.conversation.id).collect();
    assert_eq!(first_ids, [chats[2], chats[1]]);
    let cursor = first[1].conversation.last_activity_at;
    let rest = store
        .conversations_for_user(alice.id, Some(cursor), 2)
        .await?;
    let rest_ids: Vec<Uuid> = rest.iter().map(|row| row.conversation.id).collect();
    assert_eq!(rest_ids, [chats[0]]);
    assert!(
        store
            .conversations_for_user(users[1].id, Some(at(1)), 10)
            .await?
            .is_empty()
    );
    assert!(
        store
            .conversations_for_user(Uuid::new_v4(), None, 10)
            .await?
            .is_empty()
    );
    Ok(())
}

pub async fn receipts_are_monotonic_and_capped(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol"]).await?;
    let (alice, bob, carol) = (&users[0], &users[1], &users[2]);
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, bob.id, t0())
        .await?;
    for minutes in 1..=3 {
        send(&*store, chat.id, alice.id, "ping", at(minutes)).await?;
    }

    let member = store.mark_delivered(chat.id, bob.id, 2).await?;
    assert_eq!((member.delivered_seq, member.read_seq), (2, 0));
    let member = store.mark_read(chat.id, bob.id, 1).await?;
    assert_eq!((member.delivered_seq, member.read_seq), (2, 1));
    let member = store.mark_read(chat.id, bob.id, 0).await?;
    assert_eq!(
        (member.delivered_seq, member.read_seq),
        (2, 1),
        "never lowered"
    );
    let member = store.mark_read(chat.id, bob.id, 99).await?;
    assert_eq!(
        (member.delivered_seq, member.read_seq),
        (3, 3),
        "capped at last_seq"
    );
    let member = store.mark_delivered(chat.id, bob.id, 1).await?;
    assert_eq!((member.delivered_seq, member.read_seq), (3, 3));
    assert_eq!(store.member(chat.id, bob.id).await?, Some(member));
    // Alice's markers are hers alone.
    let alice_member = store.member(chat.id, alice.id).await?.context("member")?;
    assert_eq!((alice_member.delivered_seq, alice_member.read_seq), (0, 0));

    let outsider = store.mark_read(chat.id, carol.id, 1).await;
    assert!(matches!(outsider, Err(Error::NotFound)), "{outsider:?}");
    let outsider = store.mark_delivered(chat.id, carol.id, 1).await;
    assert!(matches!(outsider, Err(Error::NotFound)), "{outsider:?}");
    let nowhere = store.mark_read(Uuid::new_v4(), bob.id, 1).await;
    assert!(matches!(nowhere, Err(Error::NotFound)), "{nowhere:?}");
    Ok(())
}

pub async fn contacts_are_co_members(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob", "carol", "dave", "erin"]).await?;
    let (alice, bob, carol, dave, erin) = (&users[0], &users[1], &users[2], &users[3], &users[4]);
    let (chat, _) = store
        .find_or_create_direct(Uuid::new_v4(), alice.id, bob.id, t0())
        .await?;
    let team = store
        .create_group(group(carol.id, &[alice.id, bob.id], t0()))
        .await?;
    let other = store.create_group(group(dave.id, &[], t0())).await?;

    let mut expected = vec![bob.id, carol.id];
    expected.sort_unstable();
    let mut contacts = store.contact_ids(alice.id).await?;
    contacts.sort_unstable();
    assert_eq!(contacts, expected, "each contact once, never the user");
    assert!(store.contact_ids(dave.id).await?.is_empty());
    assert!(store.contact_ids(erin.id).await?.is_empty());

    let mut expected = vec![chat.id, team.id];
    expected.sort_unstable();
    let mut ids = store.conversation_ids_for_user(alice.id).await?;
    ids.sort_unstable();
    assert_eq!(ids, expected);
    assert_eq!(store.conversation_ids_for_user(dave.id).await?, [other.id]);

    // Leaving the group ends the contact with carol.
    store
        .remove_member(team.id, alice.id, alice.id, at(1))
        .await?;
    assert_eq!(store.contact_ids(alice.id).await?, [bob.id]);
    Ok(())
}

pub async fn last_seen_round_trips(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let users = members(&*store, &["alice", "bob"]).await?;
    let (alice, bob) = (&users[0], &users[1]);
    let unknown = Uuid::new_v4();
    assert!(store.last_seen(&[]).await?.is_empty());
    assert_eq!(store.last_seen(&[alice.id]).await?, [(alice.id, None)]);

    store.set_last_seen(alice.id, at(1)).await?;
    store.set_last_seen(alice.id, at(2)).await?;
    // In the order asked, unknown users included.
    assert_eq!(
        store.last_seen(&[bob.id, unknown, alice.id]).await?,
        [(bob.id, None), (unknown, None), (alice.id, Some(at(2))),]
    );
    let missing = store.set_last_seen(unknown, at(3)).await;
    assert!(matches!(missing, Err(Error::NotFound)), "{missing:?}");
    // The user record is unaffected.
    assert_eq!(store.user_by_id(alice.id).await?, Some(alice.clone()));
    Ok(())
}
