//! Rows as SQLite stores them, and their conversion to the model. Timestamps are INTEGER
//! microseconds since the Unix epoch (see `migrations/sqlite/0001_accounts.sql` for why), so
//! every timestamp crosses this boundary through [`micros`] and [`from_micros`].

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::{Principal, Session, User};
use crate::rules::kind_from_str;
use crate::{Error, Result};

/// Truncates to whole microseconds, the precision Postgres keeps too.
pub(super) fn micros(timestamp: DateTime<Utc>) -> i64 {
    timestamp.timestamp_micros()
}

pub(super) fn from_micros(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| {
        Error::Query(sqlx::Error::Decode(
            format!("timestamp {micros} out of range").into(),
        ))
    })
}

fn from_optional_micros(micros: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    micros.map(from_micros).transpose()
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: Uuid,
    username: String,
    display_name: String,
    email: Option<String>,
    avatar_url: Option<String>,
    password_hash: Option<String>,
    kind: String,
    guest_expires_at: Option<i64>,
    token_version: i64,
    failed_login_count: i32,
    locked_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self> {
        Ok(User {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            email: row.email,
            avatar_url: row.avatar_url,
            password_hash: row.password_hash,
            kind: kind_from_str(&row.kind)?,
            guest_expires_at: from_optional_micros(row.guest_expires_at)?,
            token_version: row.token_version,
            failed_login_count: row.failed_login_count,
            locked_until: from_optional_micros(row.locked_until)?,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    user_agent: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = Error;

    fn try_from(row: SessionRow) -> Result<Self> {
        Ok(Session {
            id: row.id,
            user_id: row.user_id,
            created_at: from_micros(row.created_at)?,
            expires_at: from_micros(row.expires_at)?,
            revoked_at: from_optional_micros(row.revoked_at)?,
            user_agent: row.user_agent,
        })
    }
}

/// A user joined with one of its sessions; session columns carry a `session_` prefix.
#[derive(sqlx::FromRow)]
pub(super) struct PrincipalRow {
    #[sqlx(flatten)]
    user: UserRow,
    session_id: Uuid,
    session_created_at: i64,
    session_expires_at: i64,
    session_revoked_at: Option<i64>,
    session_user_agent: Option<String>,
}

impl TryFrom<PrincipalRow> for Principal {
    type Error = Error;

    fn try_from(row: PrincipalRow) -> Result<Self> {
        let user = User::try_from(row.user)?;
        let session = Session::try_from(SessionRow {
            id: row.session_id,
            user_id: user.id,
            created_at: row.session_created_at,
            expires_at: row.session_expires_at,
            revoked_at: row.session_revoked_at,
            user_agent: row.session_user_agent,
        })?;
        Ok(Principal { user, session })
    }
}

/// Converts every row, failing on the first that does not decode.
pub(super) fn users(rows: Vec<UserRow>) -> Result<Vec<User>> {
    rows.into_iter().map(User::try_from).collect()
}
