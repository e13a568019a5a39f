//! Conversation rules both backends share, as pure functions: how kinds, roles and events are
//! spelled in the tables, the key that makes a direct chat unique, how reactions are grouped,
//! and how a user's search text becomes a full-text query that cannot inject query syntax.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::call_rules::{
    call_kind_from_str, call_kind_to_str, call_state_from_str, call_state_to_str,
};
use crate::chat_model::{ConversationKind, EventKind, MemberRole, Message, Reaction};
use crate::{Error, Result};

pub(crate) fn decode_error(what: String) -> Error {
    Error::Query(sqlx::Error::Decode(what.into()))
}

pub(crate) fn conversation_kind_from_str(kind: &str) -> Result<ConversationKind> {
    match kind {
        "direct" => Ok(ConversationKind::Direct),
        "group" => Ok(ConversationKind::Group),
        "meeting" => Ok(ConversationKind::Meeting),
        other => Err(decode_error(format!("unknown conversation kind {other:?}"))),
    }
}

pub(crate) fn role_to_str(role: MemberRole) -> &'static str {
    match role {
        MemberRole::Admin => "admin",
        MemberRole::Member => "member",
    }
}

pub(crate) fn role_from_str(role: &str) -> Result<MemberRole> {
    match role {
        "admin" => Ok(MemberRole::Admin),
        "member" => Ok(MemberRole::Member),
        other => Err(decode_error(format!("unknown member role {other:?}"))),
    }
}

/// The unique key of the direct chat between two users, whichever of them asks:
/// both ids, sorted, joined by `:`.
pub(crate) fn direct_key(user_a: Uuid, user_b: Uuid) -> String {
    let (low, high) = if user_a <= user_b {
        (user_a, user_b)
    } else {
        (user_b, user_a)
    };
    format!("{low}:{high}")
}

/// Truncates to whole microseconds, the precision both backends keep, so that what a write
/// returns equals what a later read returns.
pub(crate) fn stored_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// Mentions as stored: each user once, ordered by id (the order every read returns).
pub(crate) fn normalized_mentions(mentions: &[Uuid]) -> Vec<Uuid> {
    let mut mentions = mentions.to_vec();
    mentions.sort_unstable();
    mentions.dedup();
    mentions
}

/// Groups reaction rows `(message_id, emoji, user_id)`, given in the order the reactions
/// happened, into each message's reactions: emojis by first reaction, users by time.
pub(crate) fn group_reactions(
    rows: impl IntoIterator<Item = (Uuid, String, Uuid)>,
) -> HashMap<Uuid, Vec<Reaction>> {
    let mut by_message: HashMap<Uuid, Vec<Reaction>> = HashMap::new();
    for (message_id, emoji, user_id) in rows {
        let reactions = by_message.entry(message_id).or_default();
        match reactions
            .iter_mut()
            .find(|reaction| reaction.emoji == emoji)
        {
            Some(reaction) => reaction.user_ids.push(user_id),
            None => reactions.push(Reaction {
                emoji,
                user_ids: vec![user_id],
            }),
        }
    }
    by_message
}

/// Mention rows `(message_id, user_id)`, ordered by user id, per message.
pub(crate) fn group_mentions(
    rows: impl IntoIterator<Item = (Uuid, Uuid)>,
) -> HashMap<Uuid, Vec<Uuid>> {
    let mut by_message: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (message_id, user_id) in rows {
        by_message.entry(message_id).or_default().push(user_id);
    }
    by_message
}

/// The words of a search query: runs of letters and digits, lowercased. Everything else
/// (quotes, operators, punctuation) separates words, so no query syntax survives.
pub(crate) fn search_words(query: &str) -> Vec<String> {
    query
        .split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A Postgres `to_tsquery` text requiring every word, the last as a prefix:
/// `'alpha' & 'beta':*`. `None` when there are no words.
pub(crate) fn tsquery(words: &[String]) -> Option<String> {
    let (last, rest) = words.split_last()?;
    let mut terms: Vec<String> = rest.iter().map(|word| format!("'{word}'")).collect();
    terms.push(format!("'{last}':*"));
    Some(terms.join(" & "))
}

/// An FTS5 query requiring every word (adjacent phrases are ANDed), the last as a prefix:
/// `"alpha" "beta"*`. `None` when there are no words.
pub(crate) fn fts5_query(words: &[String]) -> Option<String> {
    let (last, rest) = words.split_last()?;
    let mut terms: Vec<String> = rest.iter().map(|word| format!("\"{word}\"")).collect();
    terms.push(format!("\"{last}\"*"));
    Some(terms.join(" "))
}

/// An event as typed columns of `conversation_events`; which ones are set depends on `kind`.
/// A `MessageCreated` event stores only the message id: the message row is its payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EventColumns {
    pub kind: String,
    pub message_id: Option<Uuid>,
    pub subject_user_id: Option<Uuid>,
    /// `MessageEdited`: the body at edit time.
    pub body: Option<String>,
    pub emoji: Option<String>,
    pub title: Option<String>,
    pub avatar_url: Option<String>,
    /// `ReactionChanged`: whether the reaction was added.
    pub added: Option<bool>,
    /// `MessagePinned`: whether the message was pinned.
    pub pinned: Option<bool>,
    pub role: Option<String>,
    /// `CallLogged` (whose caller is `subject_user_id`): the call, its kind and outcome, and
    /// how long it was connected.
    pub call_id: Option<Uuid>,
    pub call_kind: Option<String>,
    pub call_outcome: Option<String>,
    pub call_duration_seconds: Option<i64>,
}

impl EventColumns {
    pub(crate) fn of(kind: &EventKind) -> Self {
        let columns = |kind: &str| EventColumns {
            kind: kind.to_owned(),
            ..EventColumns::default()
        };
        match kind {
            EventKind::CallLogged {
                call_id,
                caller_id,
                kind,
                outcome,
                duration_seconds,
            } => EventColumns {
                subject_user_id: Some(*caller_id),
                call_id: Some(*call_id),
                call_kind: Some(call_kind_to_str(*kind).to_owned()),
                call_outcome: Some(call_state_to_str(*outcome).to_owned()),
                call_duration_seconds: *duration_seconds,
                ..columns("call_logged")
            },
            EventKind::MessageCreated { message } => EventColumns {
                message_id: Some(message.id),
                ..columns("message_created")
            },
            EventKind::MessageEdited {
                message_id, body, ..
            } => EventColumns {
                message_id: Some(*message_id),
                body: Some(body.clone()),
                ..columns("message_edited")
            },
            EventKind::MessageDeleted { message_id } => EventColumns {
                message_id: Some(*message_id),
                ..columns("message_deleted")
            },
            EventKind::ReactionChanged {
                message_id,
                user_id,
                emoji,
                added,
            } => EventColumns {
                message_id: Some(*message_id),
                subject_user_id: Some(*user_id),
                emoji: Some(emoji.clone()),
                added: Some(*added),
                ..columns("reaction_changed")
            },
            EventKind::MessagePinned { message_id, pinned } => EventColumns {
                message_id: Some(*message_id),
                pinned: Some(*pinned),
                ..columns("message_pinned")
            },
            EventKind::MemberJoined { user_id, role } => EventColumns {
                subject_user_id: Some(*user_id),
                role: Some(role_to_str(*role).to_owned()),
                ..columns("member_joined")
            },
            EventKind::MemberLeft { user_id } => EventColumns {
                subject_user_id: Some(*user_id),
                ..columns("member_left")
            },
            EventKind::MemberRoleChanged { user_id, role } => EventColumns {
                subject_user_id: Some(*user_id),
                role: Some(role_to_str(*role).to_owned()),
                ..columns("member_role_changed")
            },
            EventKind::ConversationRenamed { title, avatar_url } => EventColumns {
                title: title.clone(),
                avatar_url: avatar_url.clone(),
                ..columns("conversation_renamed")
            },
        }
    }

    /// The event these columns spell. `message` is the created message, loaded by the caller,
    /// for `message_created` rows (it is the message as it is now, edits and deletion included).
    pub(crate) fn into_kind(
        self,
        at: DateTime<Utc>,
        message: Option<Message>,
    ) -> Result<EventKind> {
        let missing = |column: &str| decode_error(format!("{} event without {column}", self.kind));
        let message_id = || self.message_id.ok_or_else(|| missing("message_id"));
        let subject_user_id = || {
            self.subject_user_id
                .ok_or_else(|| missing("subject_user_id"))
        };
        let role = || {
            self.role
                .as_deref()
                .ok_or_else(|| missing("role"))
                .and_then(role_from_str)
        };
        Ok(match self.kind.as_str() {
            "call_logged" => EventKind::CallLogged {
                call_id: self.call_id.ok_or_else(|| missing("call_id"))?,
                caller_id: subject_user_id()?,
                kind: self
                    .call_kind
                    .as_deref()
                    .ok_or_else(|| missing("call_kind"))
                    .and_then(call_kind_from_str)?,
                outcome: self
                    .call_outcome
                    .as_deref()
                    .ok_or_else(|| missing("call_outcome"))
                    .and_then(call_state_from_str)?,
                duration_seconds: self.call_duration_seconds,
            },
            "message_created" => EventKind::MessageCreated {
                message: message.ok_or_else(|| missing("its message"))?,
            },
            "message_edited" => EventKind::MessageEdited {
                message_id: message_id()?,
                body: self.body.clone().ok_or_else(|| missing("body"))?,
                edited_at: at,
            },
            "message_deleted" => EventKind::MessageDeleted {
                message_id: message_id()?,
            },
            "reaction_changed" => EventKind::ReactionChanged {
                message_id: message_id()?,
                user_id: subject_user_id()?,
                emoji: self.emoji.clone().ok_or_else(|| missing("emoji"))?,
                added: self.added.ok_or_else(|| missing("added"))?,
            },
            "message_pinned" => EventKind::MessagePinned {
                message_id: message_id()?,
                pinned: self.pinned.ok_or_else(|| missing("pinned"))?,
            },
            "member_joined" => EventKind::MemberJoined {
                user_id: subject_user_id()?,
                role: role()?,
            },
            "member_left" => EventKind::MemberLeft {
                user_id: subject_user_id()?,
            },
            "member_role_changed" => EventKind::MemberRoleChanged {
                user_id: subject_user_id()?,
                role: role()?,
            },
            "conversation_renamed" => EventKind::ConversationRenamed {
                title: self.title.clone(),
                avatar_url: self.avatar_url.clone(),
            },
            other => return Err(decode_error(format!("unknown event kind {other:?}"))),
        })
    }

    /// Whether the event's payload is a message row to load.
    pub(crate) fn is_message_created(&self) -> bool {
        self.kind == "message_created"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(query: &str) -> Vec<String> {
        search_words(query)
    }

    #[test]
    fn search_words_drop_query_syntax() {
        assert_eq!(words("Hello, World!"), ["hello", "world"]);
        assert_eq!(
            words("a'b & c:* | !d \"e\" (f) NEAR g*"),
            ["a", "b", "c", "d", "e", "f", "near", "g"]
        );
        assert!(words(" &|!:*'\"()- ").is_empty());
        assert_eq!(words("Ünïcode 42x"), ["ünïcode", "42x"]);
    }

    #[test]
    fn queries_and_every_word_with_the_last_as_prefix() {
        assert_eq!(
            tsquery(&words("quick BRO")).as_deref(),
            Some("'quick' & 'bro':*")
        );
        assert_eq!(
            fts5_query(&words("quick BRO")).as_deref(),
            Some("\"quick\" \"bro\"*")
        );
        assert_eq!(tsquery(&words("one")).as_deref(), Some("'one':*"));
        assert_eq!(tsquery(&[]), None);
        assert_eq!(fts5_query(&words("?!")), None);
    }

    #[test]
    fn direct_key_ignores_argument_order() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(direct_key(a, b), direct_key(b, a));
        assert_ne!(direct_key(a, b), direct_key(a, Uuid::new_v4()));
    }

    #[test]
    fn reactions_group_by_emoji_in_order_of_first_reaction() {
        let message = Uuid::new_v4();
        let other = Uuid::new_v4();
        let (u1, u2, u3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let rows = [
            (message, "👍".to_owned(), u2),
            (other, "🎉".to_owned(), u1),
            (message, "❤️".to_owned(), u1),
            (message, "👍".to_owned(), u3),
        ];
        let grouped = group_reactions(rows);
        assert_eq!(
            grouped[&message],
            [
                Reaction {
                    emoji: "👍".to_owned(),
                    user_ids: vec![u2, u3]
                },
                Reaction {
                    emoji: "❤️".to_owned(),
                    user_ids: vec![u1]
                },
            ]
        );
        assert_eq!(grouped[&other].len(), 1);
    }

    #[test]
    fn event_columns_round_trip() {
        let at = DateTime::UNIX_EPOCH;
        let kinds = [
            EventKind::CallLogged {
                call_id: Uuid::new_v4(),
                caller_id: Uuid::new_v4(),
                kind: convene_calls::CallKind::Video,
                outcome: convene_calls::CallState::Ended,
                duration_seconds: Some(252),
            },
            EventKind::CallLogged {
                call_id: Uuid::new_v4(),
                caller_id: Uuid::new_v4(),
                kind: convene_calls::CallKind::Voice,
                outcome: convene_calls::CallState::Missed,
                duration_seconds: None,
            },
            EventKind::MessageEdited {
                message_id: Uuid::new_v4(),
                body: "new".to_owned(),
                edited_at: at,
            },
            EventKind::MessageDeleted {
                message_id: Uuid::new_v4(),
            },
            EventKind::ReactionChanged {
                message_id: Uuid::new_v4(),
                user_id: Uuid::new_v4(),
                emoji: "👍".to_owned(),
                added: false,
            },
            EventKind::MessagePinned {
                message_id: Uuid::new_v4(),
                pinned: true,
            },
            EventKind::MemberJoined {
                user_id: Uuid::new_v4(),
                role: MemberRole::Admin,
            },
            EventKind::MemberLeft {
                user_id: Uuid::new_v4(),
            },
            EventKind::MemberRoleChanged {
                user_id: Uuid::new_v4(),
                role: MemberRole::Member,
            },
            EventKind::ConversationRenamed {
                title: Some("Team".to_owned()),
                avatar_url: None,
            },
        ];
        for kind in kinds {
            let decoded = EventColumns::of(&kind).into_kind(at, None).ok();
            assert_eq!(decoded, Some(kind));
        }
    }
}
