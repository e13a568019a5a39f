//! Rows as Postgres stores them, and their conversion to the model.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::{Principal, Session, User};
use crate::rules::kind_from_str;
use crate::{Error, Result};

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: Uuid,
    username: String,
    display_name: String,
    email: Option<String>,
    avatar_url: Option<String>,
    password_hash: Option<String>,
    kind: String,
    guest_expires_at: Option<DateTime<Utc>>,
    token_version: i64,
    failed_login_count: i32,
    locked_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
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
            guest_expires_at: row.guest_expires_at,
            token_version: row.token_version,
            failed_login_count: row.failed_login_count,
            locked_until: row.locked_until,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    user_agent: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Session {
            id: row.id,
            user_id: row.user_id,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            user_agent: row.user_agent,
        }
    }
}

/// A user joined with one of its sessions; session columns carry a `session_` prefix.
#[derive(sqlx::FromRow)]
pub(super) struct PrincipalRow {
    #[sqlx(flatten)]
    user: UserRow,
    session_id: Uuid,
    session_created_at: DateTime<Utc>,
    session_expires_at: DateTime<Utc>,
    session_revoked_at: Option<DateTime<Utc>>,
    session_user_agent: Option<String>,
}

impl TryFrom<PrincipalRow> for Principal {
    type Error = Error;

    fn try_from(row: PrincipalRow) -> Result<Self> {
        let user = User::try_from(row.user)?;
        let session = Session {
            id: row.session_id,
            user_id: user.id,
            created_at: row.session_created_at,
            expires_at: row.session_expires_at,
            revoked_at: row.session_revoked_at,
            user_agent: row.session_user_agent,
        };
        Ok(Principal { user, session })
    }
}

/// Converts every row, failing on the first that does not decode.
pub(super) fn users(rows: Vec<UserRow>) -> Result<Vec<User>> {
    rows.into_iter().map(User::try_from).collect()
}
