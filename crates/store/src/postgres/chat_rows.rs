//! Conversation, member, message and event rows as Postgres stores them, and the loaders that
//! assemble whole messages (with mentions and reactions) and events from them in a fixed
//! number of queries, whatever the number of rows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::chat_model::{Conversation, ConversationEvent, Member, MemberRole, Message};
use crate::chat_rules::{
    EventColumns, conversation_kind_from_str, group_mentions, group_reactions, role_from_str,
    role_to_str,
};
use crate::{Error, Result};

#[derive(sqlx::FromRow)]
pub(super) struct ConversationRow {
    id: Uuid,
    kind: String,
    title: Option<String>,
    avatar_url: Option<String>,
    meeting_code: Option<String>,
    allow_guests: bool,
    created_by: Uuid,
    created_at: DateTime<Utc>,
    last_seq: i64,
    last_activity_at: DateTime<Utc>,
}

impl TryFrom<ConversationRow> for Conversation {
    type Error = Error;

    fn try_from(row: ConversationRow) -> Result<Self> {
        Ok(Conversation {
            id: row.id,
            kind: conversation_kind_from_str(&row.kind)?,
            title: row.title,
            avatar_url: row.avatar_url,
            meeting_code: row.meeting_code,
            allow_guests: row.allow_guests,
            created_by: row.created_by,
            created_at: row.created_at,
            last_seq: row.last_seq,
            last_activity_at: row.last_activity_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MemberRow {
    conversation_id: Uuid,
    user_id: Uuid,
    role: String,
    joined_at: DateTime<Utc>,
    delivered_seq: i64,
    read_seq: i64,
}

impl TryFrom<MemberRow> for Member {
    type Error = Error;

    fn try_from(row: MemberRow) -> Result<Self> {
        Ok(Member {
            conversation_id: row.conversation_id,
            user_id: row.user_id,
            role: role_from_str(&row.role)?,
            joined_at: row.joined_at,
            delivered_seq: row.delivered_seq,
            read_seq: row.read_seq,
        })
    }
}

/// One row of a user's conversation list: the conversation, the user's membership (columns
/// prefixed `member_`) and the per-user figures.
#[derive(sqlx::FromRow)]
pub(super) struct SummaryRow {
    #[sqlx(flatten)]
    pub conversation: ConversationRow,
    member_user_id: Uuid,
    member_role: String,
    member_joined_at: DateTime<Utc>,
    member_delivered_seq: i64,
    member_read_seq: i64,
    pub last_message_id: Option<Uuid>,
    pub unread_count: i64,
    pub mention_count: i64,
    pub peer_id: Option<Uuid>,
}

impl SummaryRow {
    pub(super) fn membership(&self) -> Result<Member> {
        Member::try_from(MemberRow {
            conversation_id: self.conversation.id,
            user_id: self.member_user_id,
            role: self.member_role.clone(),
            joined_at: self.member_joined_at,
            delivered_seq: self.member_delivered_seq,
            read_seq: self.member_read_seq,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: Uuid,
    conversation_id: Uuid,
    seq: i64,
    sender_id: Uuid,
    client_id: String,
    body: String,
    reply_to: Option<Uuid>,
    forwarded_from: Option<Uuid>,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    pinned_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    conversation_id: Uuid,
    seq: i64,
    actor_id: Uuid,
    at: DateTime<Utc>,
    kind: String,
    message_id: Option<Uuid>,
    subject_user_id: Option<Uuid>,
    body: Option<String>,
    emoji: Option<String>,
    title: Option<String>,
    avatar_url: Option<String>,
    added: Option<bool>,
    pinned: Option<bool>,
    role: Option<String>,
    call_id: Option<Uuid>,
    call_kind: Option<String>,
    call_outcome: Option<String>,
    call_duration_seconds: Option<i64>,
}

impl EventRow {
    fn into_columns(self) -> (Uuid, i64, Uuid, DateTime<Utc>, EventColumns) {
        let columns = EventColumns {
            kind: self.kind,
            message_id: self.message_id,
            subject_user_id: self.subject_user_id,
            body: self.body,
            emoji: self.emoji,
            title: self.title,
            avatar_url: self.avatar_url,
            added: self.added,
            pinned: self.pinned,
            role: self.role,
            call_id: self.call_id,
            call_kind: self.call_kind,
            call_outcome: self.call_outcome,
            call_duration_seconds: self.call_duration_seconds,
        };
        (
            self.conversation_id,
            self.seq,
            self.actor_id,
            self.at,
            columns,
        )
    }
}

/// Completes message rows with their mentions and reactions, keeping the rows' order.
pub(super) async fn complete_messages(
    connection: &mut PgConnection,
    rows: Vec<MessageRow>,
) -> Result<Vec<Message>> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let reaction_rows: Vec<(Uuid, String, Uuid)> = sqlx::query_as(
        "SELECT message_id, emoji, user_id FROM message_reactions \
         WHERE message_id = ANY($1) ORDER BY seq",
    )
    .bind(&ids)
    .fetch_all(&mut *connection)
    .await?;
    let mention_rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT message_id, user_id FROM message_mentions \
         WHERE message_id = ANY($1) ORDER BY message_id, user_id",
    )
    .bind(&ids)
    .fetch_all(&mut *connection)
    .await?;
    let mut reactions = group_reactions(reaction_rows);
    let mut mentions = group_mentions(mention_rows);
    rows.into_iter()
        .map(|row| {
            Ok(Message {
                mentions: mentions.remove(&row.id).unwrap_or_default(),
                reactions: reactions.remove(&row.id).unwrap_or_default(),
                id: row.id,
                conversation_id: row.conversation_id,
                seq: row.seq,
                sender_id: row.sender_id,
                client_id: row.client_id,
                body: row.body,
                reply_to: row.reply_to,
                forwarded_from: row.forwarded_from,
                created_at: row.created_at,
                edited_at: row.edited_at,
                deleted_at: row.deleted_at,
                pinned_at: row.pinned_at,
            })
        })
        .collect()
}

/// The messages with these ids (those that exist), by id.
pub(super) async fn messages_by_id(
    connection: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Message>> {
    let rows: Vec<MessageRow> = sqlx::query_as("SELECT * FROM messages WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(&mut *connection)
        .await?;
    let messages = complete_messages(connection, rows).await?;
    Ok(messages
        .into_iter()
        .map(|message| (message.id, message))
        .collect())
}

/// Events with `seq > after_seq`, oldest first, at most `limit`; message-created events carry
/// their message as it is now.
pub(super) async fn events_after(
    connection: &mut PgConnection,
    conversation_id: Uuid,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<ConversationEvent>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT * FROM conversation_events WHERE conversation_id = $1 AND seq > $2 \
         ORDER BY seq LIMIT $3",
    )
    .bind(conversation_id)
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(&mut *connection)
    .await?;
    let created: Vec<Uuid> = rows
        .iter()
        .filter(|row| row.kind == "message_created")
        .filter_map(|row| row.message_id)
        .collect();
    let mut messages = messages_by_id(connection, &created).await?;
    rows.into_iter()
        .map(|row| {
            let (conversation_id, seq, actor_id, at, columns) = row.into_columns();
            let message = if columns.is_message_created() {
                columns.message_id.and_then(|id| messages.remove(&id))
            } else {
                None
            };
            Ok(ConversationEvent {
                conversation_id,
                seq,
                actor_id,
                at,
                kind: columns.into_kind(at, message)?,
            })
        })
        .collect()
}

/// Writes `event` to the log. The caller took its seq from `next_seq` in the same
/// transaction.
pub(super) async fn insert_event(
    connection: &mut PgConnection,
    event: &ConversationEvent,
) -> Result<()> {
    let columns = EventColumns::of(&event.kind);
    sqlx::query(
        "INSERT INTO conversation_events (conversation_id, seq, actor_id, at, kind, message_id, \
         subject_user_id, body, emoji, title, avatar_url, added, pinned, role, call_id, \
         call_kind, call_outcome, call_duration_seconds) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(event.conversation_id)
    .bind(event.seq)
    .bind(event.actor_id)
    .bind(event.at)
    .bind(&columns.kind)
    .bind(columns.message_id)
    .bind(columns.subject_user_id)
    .bind(&columns.body)
    .bind(&columns.emoji)
    .bind(&columns.title)
    .bind(&columns.avatar_url)
    .bind(columns.added)
    .bind(columns.pinned)
    .bind(columns.role.as_deref())
    .bind(columns.call_id)
    .bind(columns.call_kind.as_deref())
    .bind(columns.call_outcome.as_deref())
    .bind(columns.call_duration_seconds)
    .execute(connection)
    .await?;
    Ok(())
}

/// Claims the conversation's next seq and moves its activity time to `now`; `None` for an
/// unknown conversation. The UPDATE locks the conversation's row until the transaction ends:
/// concurrent appends wait here one after another, and a rollback does not spend the seq.
pub(super) async fn next_seq(
    connection: &mut PgConnection,
    conversation_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let seq: Option<(i64,)> = sqlx::query_as(
        "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $2 \
         WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation_id)
    .bind(now)
    .fetch_optional(connection)
    .await?;
    Ok(seq.map(|(seq,)| seq))
}

/// Adds a member whose receipts start at `joined_seq`; false when already a member.
pub(super) async fn insert_member(
    connection: &mut PgConnection,
    conversation_id: Uuid,
    user_id: Uuid,
    role: MemberRole,
    joined_at: DateTime<Utc>,
    joined_seq: i64,
) -> Result<bool> {
    let result = sqlx::query(
        "INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, \
         joined_seq, delivered_seq, read_seq) VALUES ($1, $2, $3, $4, $5, $5, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(role_to_str(role))
    .bind(joined_at)
    .bind(joined_seq)
    .execute(connection)
    .await
    .map_err(crate::rules::not_found_on_foreign_key)?;
    Ok(result.rows_affected() == 1)
}
