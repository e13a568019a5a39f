//! Conversations and their members on SQLite. Every event-producing write claims its seq
//! with [`next_seq`] first, under `BEGIN IMMEDIATE`, so the whole change is one ordered step.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, SqliteConnection};
use uuid::Uuid;

use super::chat_rows::{
    ConversationRow, IDS_PER_QUERY, MemberRow, SummaryRow, insert_event, insert_member,
    messages_by_id, next_seq, placeholders,
};
use super::rows::{from_micros, micros};
use super::{BEGIN_WRITE, SqliteStore};
use crate::chat_model::{
    Conversation, ConversationEvent, ConversationSummary, EventKind, Member, MemberRole, NewGroup,
    NewMeeting,
};
use crate::chat_rules::{direct_key, role_from_str, role_to_str, stored_precision};
use crate::rules::{meeting_code_taken_on_unique, not_found_on_foreign_key};
use crate::{Error, Result};

impl SqliteStore {
    pub(super) async fn direct_chat(
        &self,
        id: Uuid,
        user_a: Uuid,
        user_b: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(Conversation, bool)> {
        let now = stored_precision(now);
        let key = direct_key(user_a, user_b);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        // The unique direct_key decides who creates the chat; the loser reads the winner's.
        let created: Option<ConversationRow> = sqlx::query_as(
            "INSERT INTO conversations (id, kind, created_by, created_at, last_activity_at, \
             direct_key) VALUES ($1, 'direct', $2, $3, $3, $4) \
             ON CONFLICT (direct_key) DO NOTHING RETURNING *",
        )
        .bind(id)
        .bind(user_a)
        .bind(micros(now))
        .bind(&key)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(not_found_on_foreign_key)?;
        let Some(created) = created else {
            let existing: ConversationRow =
                sqlx::query_as("SELECT * FROM conversations WHERE direct_key = $1")
                    .bind(&key)
                    .fetch_one(&mut *transaction)
                    .await?;
            return Ok((existing.try_into()?, false));
        };
        // Direct chats have no join events; both members' receipts start at 0.
        for user_id in [user_a, user_b] {
            insert_member(&mut transaction, id, user_id, MemberRole::Member, now, 0).await?;
        }
        transaction.commit().await?;
        Ok((created.try_into()?, true))
    }

    pub(super) async fn insert_group(&self, group: NewGroup) -> Result<Conversation> {
        let now = stored_precision(group.now);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query(
            "INSERT INTO conversations (id, kind, title, avatar_url, created_by, created_at, \
             last_activity_at) VALUES ($1, 'group', $2, $3, $4, $5, $5)",
        )
        .bind(group.id)
        .bind(&group.title)
        .bind(&group.avatar_url)
        .bind(group.creator_id)
        .bind(micros(now))
        .execute(&mut *transaction)
        .await
        .map_err(not_found_on_foreign_key)?;
        let mut joining = vec![(group.creator_id, MemberRole::Admin)];
        for &user_id in &group.member_ids {
            if joining.iter().all(|&(joined, _)| joined != user_id) {
                joining.push((user_id, MemberRole::Member));
            }
        }
        for (user_id, role) in joining {
            Self::join(
                &mut transaction,
                group.id,
                user_id,
                role,
                group.creator_id,
                now,
            )
            .await?;
        }
        let conversation = Self::read_conversation(&mut transaction, group.id).await?;
        transaction.commit().await?;
        Ok(conversation)
    }

    pub(super) async fn insert_meeting(&self, meeting: NewMeeting) -> Result<Conversation> {
        let now = stored_precision(meeting.now);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query(
            "INSERT INTO conversations (id, kind, title, meeting_code, allow_guests, created_by, \
             created_at, last_activity_at) VALUES ($1, 'meeting', $2, $3, $4, $5, $6, $6)",
        )
        .bind(meeting.id)
        .bind(&meeting.title)
        .bind(&meeting.code)
        .bind(meeting.allow_guests)
        .bind(meeting.creator_id)
        .bind(micros(now))
        .execute(&mut *transaction)
        .await
        .map_err(meeting_code_taken_on_unique)?;
        Self::join(
            &mut transaction,
            meeting.id,
            meeting.creator_id,
            MemberRole::Admin,
            meeting.creator_id,
            now,
        )
        .await?;
        let conversation = Self::read_conversation(&mut transaction, meeting.id).await?;
        transaction.commit().await?;
        Ok(conversation)
    }

    /// Adds the member with its `MemberJoined` event. `None` when the user already is a member:
    /// the seq was claimed, so the caller must roll back.
    async fn join(
        transaction: &mut SqliteConnection,
        conversation_id: Uuid,
        user_id: Uuid,
        role: MemberRole,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>> {
        let seq = next_seq(transaction, conversation_id, micros(now))
            .await?
            .ok_or(Error::NotFound)?;
        if !insert_member(transaction, conversation_id, user_id, role, now, seq).await? {
            return Ok(None);
        }
        let event = ConversationEvent {
            conversation_id,
            seq,
            actor_id,
            at: now,
            kind: EventKind::MemberJoined { user_id, role },
        };
        insert_event(transaction, &event).await?;
        Ok(Some(event))
    }

    async fn read_conversation(
        connection: &mut SqliteConnection,
        conversation_id: Uuid,
    ) -> Result<Conversation> {
        let row: ConversationRow = sqlx::query_as("SELECT * FROM conversations WHERE id = $1")
            .bind(conversation_id)
            .fetch_one(connection)
            .await?;
        row.try_into()
    }

    pub(super) async fn conversation_by_id(
        &self,
        conversation_id: Uuid,
    ) -> Result<Option<Conversation>> {
        let row: Option<ConversationRow> =
            sqlx::query_as("SELECT * FROM conversations WHERE id = $1")
                .bind(conversation_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(Conversation::try_from).transpose()
    }

    pub(super) async fn conversation_by_code(&self, code: &str) -> Result<Option<Conversation>> {
        let row: Option<ConversationRow> =
            sqlx::query_as("SELECT * FROM conversations WHERE meeting_code = $1")
                .bind(code)
                .fetch_optional(&self.pool)
                .await?;
        row.map(Conversation::try_from).transpose()
    }

    pub(super) async fn read_member(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<Member>> {
        let row: Option<MemberRow> = sqlx::query_as(
            "SELECT * FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Member::try_from).transpose()
    }

    pub(super) async fn read_members(&self, conversation_id: Uuid) -> Result<Vec<Member>> {
        let rows: Vec<MemberRow> = sqlx::query_as(
            "SELECT * FROM conversation_members WHERE conversation_id = $1 \
             ORDER BY joined_at, joined_seq, user_id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Member::try_from).collect()
    }

    pub(super) async fn insert_member_event(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        role: MemberRole,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>> {
        let now = stored_precision(now);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        let joined = Self::join(
            &mut transaction,
            conversation_id,
            user_id,
            role,
            actor_id,
            now,
        )
        .await?;
        if joined.is_some() {
            transaction.commit().await?;
        }
        Ok(joined)
    }

    pub(super) async fn delete_member(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>> {
        let now = stored_precision(now);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        // An unknown conversation has no members: nothing to remove.
        let Some(seq) = next_seq(&mut transaction, conversation_id, micros(now)).await? else {
            return Ok(None);
        };
        let removed = sqlx::query(
            "DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
        if removed.rows_affected() == 0 {
            return Ok(None);
        }
        let event = ConversationEvent {
            conversation_id,
            seq,
            actor_id,
            at: now,
            kind: EventKind::MemberLeft { user_id },
        };
        insert_event(&mut transaction, &event).await?;
        transaction.commit().await?;
        Ok(Some(event))
    }

    pub(super) async fn update_member_role(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        role: MemberRole,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>> {
        let now = stored_precision(now);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        let seq = next_seq(&mut transaction, conversation_id, micros(now))
            .await?
            .ok_or(Error::NotFound)?;
        let current: Option<(String,)> = sqlx::query_as(
            "SELECT role FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(user_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let (current,) = current.ok_or(Error::NotFound)?;
        if role_from_str(&current)? == role {
            return Ok(None);
        }
        sqlx::query(
            "UPDATE conversation_members SET role = $3 WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(user_id)
        .bind(role_to_str(role))
        .execute(&mut *transaction)
        .await?;
        let event = ConversationEvent {
            conversation_id,
            seq,
            actor_id,
            at: now,
            kind: EventKind::MemberRoleChanged { user_id, role },
        };
        insert_event(&mut transaction, &event).await?;
        transaction.commit().await?;
        Ok(Some(event))
    }

    pub(super) async fn rename(
        &self,
        conversation_id: Uuid,
        title: Option<String>,
        avatar_url: Option<String>,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent> {
        let now = stored_precision(now);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        let seq = next_seq(&mut transaction, conversation_id, micros(now))
            .await?
            .ok_or(Error::NotFound)?;
        sqlx::query("UPDATE conversations SET title = $2, avatar_url = $3 WHERE id = $1")
            .bind(conversation_id)
            .bind(&title)
            .bind(&avatar_url)
            .execute(&mut *transaction)
            .await?;
        let event = ConversationEvent {
            conversation_id,
            seq,
            actor_id,
            at: now,
            kind: EventKind::ConversationRenamed { title, avatar_url },
        };
        insert_event(&mut transaction, &event).await?;
        transaction.commit().await?;
        Ok(event)
    }

    /// The list in two queries. The first takes the page of memberships before it computes,
    /// for those rows only, the counts and the last message's id (correlated subqueries on
    /// indexed columns); the second loads those last messages.
    pub(super) async fn summaries(
        &self,
        user_id: Uuid,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<ConversationSummary>> {
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "WITH page AS ( \
               SELECT c.*, cm.user_id AS member_user_id, cm.role AS member_role, \
                 cm.joined_at AS member_joined_at, cm.delivered_seq AS member_delivered_seq, \
                 cm.read_seq AS member_read_seq \
               FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id \
               WHERE cm.user_id = $1 AND c.last_activity_at < $2 \
               ORDER BY c.last_activity_at DESC, c.id \
               LIMIT $3) \
             SELECT page.*, \
               (SELECT m.id FROM messages m \
                 WHERE m.conversation_id = page.id \
                   AND NOT EXISTS (SELECT 1 FROM message_hides h \
                                    WHERE h.message_id = m.id AND h.user_id = $1) \
                 ORDER BY m.seq DESC LIMIT 1) AS last_message_id, \
               (SELECT count(*) FROM messages m \
                 WHERE m.conversation_id = page.id AND m.seq > page.member_read_seq \
                   AND m.sender_id <> $1 AND m.deleted_at IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM message_hides h \
                                    WHERE h.message_id = m.id AND h.user_id = $1)) \
                 AS unread_count, \
               (SELECT count(*) FROM messages m \
                 WHERE m.conversation_id = page.id AND m.seq > page.member_read_seq \
                   AND m.sender_id <> $1 AND m.deleted_at IS NULL \
                   AND NOT EXISTS (SELECT 1 FROM message_hides h \
                                    WHERE h.message_id = m.id AND h.user_id = $1) \
                   AND EXISTS (SELECT 1 FROM message_mentions mm \
                                WHERE mm.message_id = m.id AND mm.user_id = $1)) \
                 AS mention_count, \
               (SELECT o.user_id FROM conversation_members o \
                 WHERE page.kind = 'direct' AND o.conversation_id = page.id \
                   AND o.user_id <> $1 \
                 LIMIT 1) AS peer_id \
             FROM page \
             ORDER BY page.last_activity_at DESC, page.id",
        )
        .bind(user_id)
        .bind(before.map_or(i64::MAX, micros))
        .bind(i64::from(limit))
        .fetch_all(&mut *connection)
        .await?;
        let last_ids: Vec<Uuid> = rows.iter().filter_map(|row| row.last_message_id).collect();
        let mut last_messages = messages_by_id(&mut connection, &last_ids).await?;
        rows.into_iter()
            .map(|row| {
                Ok(ConversationSummary {
                    membership: row.membership()?,
                    last_message: row.last_message_id.and_then(|id| last_messages.remove(&id)),
                    unread_count: row.unread_count,
                    mention_count: row.mention_count,
                    peer_id: row.peer_id,
                    conversation: row.conversation.try_into()?,
                })
            })
            .collect()
    }

    pub(super) async fn member_conversation_ids(&self, user_id: Uuid) -> Result<Vec<Uuid>> {
        let ids: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT conversation_id FROM conversation_members WHERE user_id = $1 \
             ORDER BY conversation_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    pub(super) async fn co_member_ids(&self, user_id: Uuid) -> Result<Vec<Uuid>> {
        let ids: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT DISTINCT other.user_id FROM conversation_members me \
             JOIN conversation_members other ON other.conversation_id = me.conversation_id \
             WHERE me.user_id = $1 AND other.user_id <> $1 \
             ORDER BY other.user_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Raises the receipts to `seq` capped at `last_seq`, never lowering them: the read marker
    /// too when `read` is set, the delivered marker always.
    pub(super) async fn raise_receipts(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        seq: i64,
        read: bool,
    ) -> Result<Member> {
        let row: Option<MemberRow> = sqlx::query_as(
            "UPDATE conversation_members SET \
               read_seq = CASE WHEN $4 THEN max(read_seq, min($3, \
                 (SELECT last_seq FROM conversations WHERE id = $1))) ELSE read_seq END, \
               delivered_seq = max(delivered_seq, min($3, \
                 (SELECT last_seq FROM conversations WHERE id = $1))) \
             WHERE conversation_id = $1 AND user_id = $2 RETURNING *",
        )
        .bind(conversation_id)
        .bind(user_id)
        .bind(seq)
        .bind(read)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(Error::NotFound)?.try_into()
    }

    pub(super) async fn write_last_seen(&self, user_id: Uuid, at: DateTime<Utc>) -> Result<()> {
        let result = sqlx::query("UPDATE users SET last_seen_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(micros(at))
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    pub(super) async fn read_last_seen(
        &self,
        user_ids: &[Uuid],
    ) -> Result<Vec<(Uuid, Option<DateTime<Utc>>)>> {
        let mut seen = HashMap::new();
        for chunk in user_ids.chunks(IDS_PER_QUERY) {
            let list = placeholders(1, chunk.len());
            // Built from placeholders only; the ids are bound.
            let mut query = sqlx::query_as::<_, (Uuid, Option<i64>)>(AssertSqlSafe(format!(
                "SELECT id, last_seen_at FROM users WHERE id IN ({list})"
            )));
            for id in chunk {
                query = query.bind(*id);
            }
            for (id, at) in query.fetch_all(&self.pool).await? {
                seen.insert(id, at.map(from_micros).transpose()?);
            }
        }
        Ok(user_ids
            .iter()
            .map(|id| (*id, seen.get(id).copied().flatten()))
            .collect())
    }
}
