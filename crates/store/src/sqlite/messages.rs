//! Messages on SQLite: appending (idempotent on the client's id), editing, deleting, hiding,
//! reactions, pins, history, the event log and full-text search (FTS5).

use chrono::{DateTime, Utc};
use sqlx::{Sqlite, SqliteConnection, Transaction};
use uuid::Uuid;

use super::chat_rows::{MessageRow, complete_messages, events_after, insert_event, next_seq};
use super::rows::micros;
use super::{BEGIN_WRITE, SqliteStore};
use crate::chat_model::{AppendOutcome, ConversationEvent, EventKind, Message, NewMessage};
use crate::chat_rules::{fts5_query, normalized_mentions, search_words, stored_precision};
use crate::rules::{is_unique_violation, not_found_on_foreign_key};
use crate::{Error, Result};

/// What a change to an existing message must know about it.
struct MessageState {
    sender_id: Uuid,
    deleted: bool,
    pinned: bool,
}

/// A change to one existing message, under way: its seq is claimed and the message's state
/// read. Dropping it rolls everything back (nothing to do, or an error).
struct MessageChange {
    transaction: Transaction<'static, Sqlite>,
    conversation_id: Uuid,
    seq: i64,
    now: DateTime<Utc>,
    state: MessageState,
}

impl MessageChange {
    /// Logs the event the change amounts to and commits.
    async fn commit(mut self, actor_id: Uuid, kind: EventKind) -> Result<ConversationEvent> {
        let event = ConversationEvent {
            conversation_id: self.conversation_id,
            seq: self.seq,
            actor_id,
            at: self.now,
            kind,
        };
        insert_event(&mut self.transaction, &event).await?;
        self.transaction.commit().await?;
        Ok(event)
    }
}

impl SqliteStore {
    pub(super) async fn append(&self, new_message: NewMessage) -> Result<AppendOutcome> {
        let now = stored_precision(new_message.now);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        if let Some(event) = Self::original_send(&mut transaction, &new_message).await? {
            return Ok(AppendOutcome {
                event,
                duplicate: true,
            });
        }
        let conversation_id = new_message.conversation_id;
        let seq = next_seq(&mut transaction, conversation_id, micros(now))
            .await?
            .ok_or(Error::NotFound)?;
        if let Some(reply_to) = new_message.reply_to {
            Self::message_state(&mut transaction, conversation_id, reply_to).await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, body, \
             reply_to, forwarded_from, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new_message.id)
        .bind(conversation_id)
        .bind(seq)
        .bind(new_message.sender_id)
        .bind(&new_message.client_id)
        .bind(&new_message.body)
        .bind(new_message.reply_to)
        .bind(new_message.forwarded_from)
        .bind(micros(now))
        .execute(&mut *transaction)
        .await;
        match inserted {
            Ok(_) => {}
            // The write lock makes the check above final, but should a retry ever slip past
            // it, the unique key still holds: answer with the original.
            Err(error) if is_unique_violation(&error) => {
                transaction.rollback().await?;
                let mut connection = self.pool.acquire().await?;
                return match Self::original_send(&mut connection, &new_message).await? {
                    Some(event) => Ok(AppendOutcome {
                        event,
                        duplicate: true,
                    }),
                    None => Err(Error::from(error)),
                };
            }
            Err(error) => return Err(not_found_on_foreign_key(error)),
        }
        let mentions = normalized_mentions(&new_message.mentions);
        for user_id in &mentions {
            sqlx::query("INSERT INTO message_mentions (message_id, user_id) VALUES ($1, $2)")
                .bind(new_message.id)
                .bind(user_id)
                .execute(&mut *transaction)
                .await
                .map_err(not_found_on_foreign_key)?;
        }
        let event = ConversationEvent {
            conversation_id,
            seq,
            actor_id: new_message.sender_id,
            at: now,
            kind: EventKind::MessageCreated {
                message: Message {
                    id: new_message.id,
                    conversation_id,
                    seq,
                    sender_id: new_message.sender_id,
                    client_id: new_message.client_id,
                    body: new_message.body,
                    reply_to: new_message.reply_to,
                    forwarded_from: new_message.forwarded_from,
                    mentions,
                    created_at: now,
                    edited_at: None,
                    deleted_at: None,
                    pinned_at: None,
                    reactions: Vec::new(),
                },
            },
        };
        insert_event(&mut transaction, &event).await?;
        transaction.commit().await?;
        Ok(AppendOutcome {
            event,
            duplicate: false,
        })
    }

    /// The creation event of the message this send already produced, if it is a retry.
    async fn original_send(
        connection: &mut SqliteConnection,
        new_message: &NewMessage,
    ) -> Result<Option<ConversationEvent>> {
        let seq: Option<(i64,)> = sqlx::query_as(
            "SELECT seq FROM messages \
             WHERE conversation_id = $1 AND sender_id = $2 AND client_id = $3",
        )
        .bind(new_message.conversation_id)
        .bind(new_message.sender_id)
        .bind(&new_message.client_id)
        .fetch_optional(&mut *connection)
        .await?;
        let Some((seq,)) = seq else {
            return Ok(None);
        };
        let events = events_after(connection, new_message.conversation_id, seq - 1, 1).await?;
        Ok(events.into_iter().next())
    }

    /// `NotFound` unless the message belongs to the conversation.
    async fn message_state(
        connection: &mut SqliteConnection,
        conversation_id: Uuid,
        message_id: Uuid,
    ) -> Result<MessageState> {
        let state: Option<(Uuid, bool, bool)> = sqlx::query_as(
            "SELECT sender_id, deleted_at IS NOT NULL, pinned_at IS NOT NULL FROM messages \
             WHERE id = $1 AND conversation_id = $2",
        )
        .bind(message_id)
        .bind(conversation_id)
        .fetch_optional(connection)
        .await?;
        let (sender_id, deleted, pinned) = state.ok_or(Error::NotFound)?;
        Ok(MessageState {
            sender_id,
            deleted,
            pinned,
        })
    }

    /// Starts a change to an existing message: claims the conversation's next seq first
    /// (taking the write lock, so the state read next is final until commit), then reads the
    /// message. `NotFound` for an unknown conversation or a message not in it.
    async fn change_message(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<MessageChange> {
        let now = stored_precision(now);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        let seq = next_seq(&mut transaction, conversation_id, micros(now))
            .await?
            .ok_or(Error::NotFound)?;
        let state = Self::message_state(&mut transaction, conversation_id, message_id).await?;
        Ok(MessageChange {
            transaction,
            conversation_id,
            seq,
            now,
            state,
        })
    }

    pub(super) async fn edit(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        editor_id: Uuid,
        body: String,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent> {
        let mut change = self
            .change_message(conversation_id, message_id, now)
            .await?;
        if change.state.sender_id != editor_id {
            return Err(Error::NotSender);
        }
        if change.state.deleted {
            return Err(Error::MessageDeleted);
        }
        sqlx::query("UPDATE messages SET body = $2, edited_at = $3 WHERE id = $1")
            .bind(message_id)
            .bind(&body)
            .bind(micros(change.now))
            .execute(&mut *change.transaction)
            .await?;
        let edited_at = change.now;
        let kind = EventKind::MessageEdited {
            message_id,
            body,
            edited_at,
        };
        change.commit(editor_id, kind).await
    }

    pub(super) async fn delete_for_everyone(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent> {
        let mut change = self
            .change_message(conversation_id, message_id, now)
            .await?;
        if change.state.deleted {
            return Err(Error::MessageDeleted);
        }
        // The body goes (the search index follows by trigger); a deleted message is no longer
        // pinned. Reactions and mentions stay, with nothing left to show them on.
        sqlx::query(
            "UPDATE messages SET body = '', deleted_at = $2, pinned_at = NULL WHERE id = $1",
        )
        .bind(message_id)
        .bind(micros(change.now))
        .execute(&mut *change.transaction)
        .await?;
        change
            .commit(actor_id, EventKind::MessageDeleted { message_id })
            .await
    }

    pub(super) async fn hide(
        &self,
        message_id: Uuid,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO message_hides (message_id, user_id, hidden_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(message_id)
        .bind(user_id)
        .bind(micros(now))
        .execute(&self.pool)
        .await
        .map_err(not_found_on_foreign_key)?;
        Ok(())
    }

    pub(super) async fn toggle(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        user_id: Uuid,
        emoji: &str,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent> {
        let mut change = self
            .change_message(conversation_id, message_id, now)
            .await?;
        if change.state.deleted {
            return Err(Error::MessageDeleted);
        }
        let removed = sqlx::query(
            "DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
        )
        .bind(message_id)
        .bind(user_id)
        .bind(emoji)
        .execute(&mut *change.transaction)
        .await?
        .rows_affected()
            > 0;
        if !removed {
            sqlx::query(
                "INSERT INTO message_reactions (message_id, user_id, emoji, created_at, seq) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(message_id)
            .bind(user_id)
            .bind(emoji)
            .bind(micros(change.now))
            .bind(change.seq)
            .execute(&mut *change.transaction)
            .await
            .map_err(not_found_on_foreign_key)?;
        }
        let kind = EventKind::ReactionChanged {
            message_id,
            user_id,
            emoji: emoji.to_owned(),
            added: !removed,
        };
        change.commit(user_id, kind).await
    }

    pub(super) async fn pin(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        pinned: bool,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>> {
        let mut change = self
            .change_message(conversation_id, message_id, now)
            .await?;
        if change.state.pinned == pinned {
            return Ok(None);
        }
        if change.state.deleted {
            return Err(Error::MessageDeleted);
        }
        sqlx::query("UPDATE messages SET pinned_at = $2 WHERE id = $1")
            .bind(message_id)
            .bind(pinned.then_some(micros(change.now)))
            .execute(&mut *change.transaction)
            .await?;
        let kind = EventKind::MessagePinned { message_id, pinned };
        change.commit(actor_id, kind).await.map(Some)
    }

    pub(super) async fn message_by_id(&self, message_id: Uuid) -> Result<Option<Message>> {
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<MessageRow> = sqlx::query_as("SELECT * FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_all(&mut *connection)
            .await?;
        Ok(complete_messages(&mut connection, rows).await?.pop())
    }

    pub(super) async fn history(
        &self,
        conversation_id: Uuid,
        viewer_id: Uuid,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT m.* FROM messages m \
             WHERE m.conversation_id = $1 AND m.seq < $3 \
               AND NOT EXISTS (SELECT 1 FROM message_hides h \
                                WHERE h.message_id = m.id AND h.user_id = $2) \
             ORDER BY m.seq DESC LIMIT $4",
        )
        .bind(conversation_id)
        .bind(viewer_id)
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&mut *connection)
        .await?;
        complete_messages(&mut connection, rows).await
    }

    pub(super) async fn pinned(&self, conversation_id: Uuid) -> Result<Vec<Message>> {
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT * FROM messages WHERE conversation_id = $1 AND pinned_at IS NOT NULL \
             ORDER BY pinned_at DESC, seq DESC",
        )
        .bind(conversation_id)
        .fetch_all(&mut *connection)
        .await?;
        complete_messages(&mut connection, rows).await
    }

    pub(super) async fn events(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ConversationEvent>> {
        let mut connection = self.pool.acquire().await?;
        events_after(&mut connection, conversation_id, after_seq, limit).await
    }

    /// The query is rebuilt from the words of `query` (see [`fts5_query`]), so user text never
    /// reaches FTS5's query syntax; no words, no results.
    pub(super) async fn search(
        &self,
        user_id: Uuid,
        query: &str,
        conversation_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let Some(match_query) = fts5_query(&search_words(query)) else {
            return Ok(Vec::new());
        };
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT m.* FROM messages_search \
             JOIN messages m ON m.search_rowid = messages_search.rowid \
             JOIN conversation_members cm \
               ON cm.conversation_id = m.conversation_id AND cm.user_id = $1 \
             WHERE messages_search MATCH $2 \
               AND ($3 IS NULL OR m.conversation_id = $3) \
               AND m.deleted_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM message_hides h \
                                WHERE h.message_id = m.id AND h.user_id = $1) \
             ORDER BY m.created_at DESC, m.seq DESC \
             LIMIT $4",
        )
        .bind(user_id)
        .bind(match_query)
        .bind(conversation_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *connection)
        .await?;
        complete_messages(&mut connection, rows).await
    }
}
