//! Calls on SQLite: one row per call, every transition a compare-and-set on its state, and a
//! final call's `CallLogged` event appended to its conversation in the same transaction.
//! Under `BEGIN IMMEDIATE` writers take turns, so of two transitions from one state the second
//! finds the state already changed.

use chrono::{DateTime, Utc};
use convene_calls::{Call, CallState};
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::chat_rows::{insert_event, next_seq};
use super::rows::{from_micros, micros};
use super::{BEGIN_WRITE, SqliteStore};
use crate::call_rules::{
    call_kind_from_str, call_kind_to_str, call_logged, call_state_from_str, call_state_to_str,
    logged_at, stored_call,
};
use crate::chat_model::ConversationEvent;
use crate::rules::not_found_on_foreign_key;
use crate::{Error, Result};

#[derive(sqlx::FromRow)]
struct CallRow {
    id: Uuid,
    conversation_id: Uuid,
    caller_id: Uuid,
    callee_id: Uuid,
    kind: String,
    state: String,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    answered_by_connection: Option<Uuid>,
}

impl TryFrom<CallRow> for Call {
    type Error = Error;

    fn try_from(row: CallRow) -> Result<Self> {
        Ok(Call {
            id: row.id,
            conversation_id: row.conversation_id,
            caller_id: row.caller_id,
            callee_id: row.callee_id,
            kind: call_kind_from_str(&row.kind)?,
            state: call_state_from_str(&row.state)?,
            started_at: from_micros(row.started_at)?,
            answered_at: row.answered_at.map(from_micros).transpose()?,
            ended_at: row.ended_at.map(from_micros).transpose()?,
            answered_by_connection: row.answered_by_connection,
        })
    }
}

fn calls(rows: Vec<CallRow>) -> Result<Vec<Call>> {
    rows.into_iter().map(Call::try_from).collect()
}

/// Appends the `CallLogged` event of the final `call` to its conversation, inside the
/// caller's transaction. `NotFound` for an unknown conversation.
async fn log_call(connection: &mut SqliteConnection, call: &Call) -> Result<ConversationEvent> {
    let seq = next_seq(connection, call.conversation_id, micros(logged_at(call)))
        .await?
        .ok_or(Error::NotFound)?;
    let event = call_logged(call, seq);
    insert_event(connection, &event).await?;
    Ok(event)
}

impl SqliteStore {
    pub(super) async fn insert_call(&self, call: &Call) -> Result<Option<ConversationEvent>> {
        let call = stored_call(call);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query(
            "INSERT INTO calls (id, conversation_id, caller_id, callee_id, kind, state, \
             started_at, answered_at, ended_at, answered_by_connection) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(call.id)
        .bind(call.conversation_id)
        .bind(call.caller_id)
        .bind(call.callee_id)
        .bind(call_kind_to_str(call.kind))
        .bind(call_state_to_str(call.state))
        .bind(micros(call.started_at))
        .bind(call.answered_at.map(micros))
        .bind(call.ended_at.map(micros))
        .bind(call.answered_by_connection)
        .execute(&mut *transaction)
        .await
        .map_err(not_found_on_foreign_key)?;
        let logged = if call.state.is_final() {
            Some(log_call(&mut transaction, &call).await?)
        } else {
            None
        };
        transaction.commit().await?;
        Ok(logged)
    }

    pub(super) async fn call_by_id(&self, call_id: Uuid) -> Result<Option<Call>> {
        let row: Option<CallRow> = sqlx::query_as("SELECT * FROM calls WHERE id = $1")
            .bind(call_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Call::try_from).transpose()
    }

    /// Only what a transition changes is written; the event is built from the row as stored.
    pub(super) async fn compare_and_set_call(
        &self,
        expected: CallState,
        call: &Call,
    ) -> Result<Option<Option<ConversationEvent>>> {
        let call = stored_call(call);
        let mut transaction = self.pool.begin_with(BEGIN_WRITE).await?;
        let row: Option<CallRow> = sqlx::query_as(
            "UPDATE calls SET state = $3, answered_at = $4, ended_at = $5, \
             answered_by_connection = $6 \
             WHERE id = $1 AND state = $2 RETURNING *",
        )
        .bind(call.id)
        .bind(call_state_to_str(expected))
        .bind(call_state_to_str(call.state))
        .bind(call.answered_at.map(micros))
        .bind(call.ended_at.map(micros))
        .bind(call.answered_by_connection)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored = Call::try_from(row)?;
        let logged = if stored.state.is_final() {
            Some(log_call(&mut transaction, &stored).await?)
        } else {
            None
        };
        transaction.commit().await?;
        Ok(Some(logged))
    }

    pub(super) async fn active_call(&self, user_id: Uuid) -> Result<Option<Call>> {
        let row: Option<CallRow> = sqlx::query_as(
            "SELECT * FROM calls \
             WHERE (caller_id = $1 OR callee_id = $1) AND state IN ('ringing', 'ongoing') \
             ORDER BY started_at DESC, id LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Call::try_from).transpose()
    }

    pub(super) async fn call_history(
        &self,
        user_id: Uuid,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Call>> {
        let rows: Vec<CallRow> = sqlx::query_as(
            "SELECT * FROM calls \
             WHERE (caller_id = $1 OR callee_id = $1) AND started_at < $2 \
             ORDER BY started_at DESC, id LIMIT $3",
        )
        .bind(user_id)
        .bind(before.map_or(i64::MAX, micros))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        calls(rows)
    }

    pub(super) async fn ringing_before(
        &self,
        started_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Call>> {
        let rows: Vec<CallRow> = sqlx::query_as(
            "SELECT * FROM calls WHERE state = 'ringing' AND started_at < $1 \
             ORDER BY started_at, id LIMIT $2",
        )
        .bind(micros(started_before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        calls(rows)
    }
}
