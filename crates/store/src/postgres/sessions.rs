//! Sessions and refresh-token rotation on Postgres.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::PostgresStore;
use super::rows::{PrincipalRow, SessionRow};
use crate::Result;
use crate::model::{NewSession, Principal, RefreshRotation, RotationOutcome, Session};
use crate::rules::{Reuse, RotationStep, not_found_on_foreign_key, reuse, rotation_step};

/// A user joined with one session, columns named as [`PrincipalRow`] expects.
macro_rules! select_principal {
    () => {
        "SELECT users.*, sessions.id AS session_id, sessions.created_at AS session_created_at, \
         sessions.expires_at AS session_expires_at, sessions.revoked_at AS session_revoked_at, \
         sessions.user_agent AS session_user_agent \
         FROM sessions JOIN users ON users.id = sessions.user_id "
    };
}

impl PostgresStore {
    pub(super) async fn insert_session(&self, new_session: NewSession) -> Result<Session> {
        let mut transaction = self.pool.begin().await?;
        let row: SessionRow = sqlx::query_as(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, user_agent) \
             VALUES ($1, $2, $3, $4, $5) RETURNING *",
        )
        .bind(new_session.id)
        .bind(new_session.user_id)
        .bind(new_session.now)
        .bind(new_session.expires_at)
        .bind(&new_session.user_agent)
        .fetch_one(&mut *transaction)
        .await
        .map_err(not_found_on_foreign_key)?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)",
        )
        .bind(&new_session.refresh_token_hash)
        .bind(new_session.id)
        .bind(new_session.now)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(row.into())
    }

    pub(super) async fn read_principal(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<Principal>> {
        let row: Option<PrincipalRow> = sqlx::query_as(concat!(
            select_principal!(),
            "WHERE sessions.id = $2 AND sessions.user_id = $1"
        ))
        .bind(user_id)
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Principal::try_from).transpose()
    }

    /// The token row is locked (`FOR UPDATE`) for the whole exchange, so concurrent rotations
    /// of one token are serialized: the first claims it, the others then see it used.
    pub(super) async fn rotate(&self, rotation: RefreshRotation) -> Result<RotationOutcome> {
        let mut transaction = self.pool.begin().await?;
        let token: Option<(Uuid, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(&rotation.presented_hash)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some((session_id, used_at)) = token else {
            return Ok(RotationOutcome::Unknown);
        };
        let row: PrincipalRow =
            sqlx::query_as(concat!(select_principal!(), "WHERE sessions.id = $1"))
                .bind(session_id)
                .fetch_one(&mut *transaction)
                .await?;
        let Principal { user, session } = Principal::try_from(row)?;

        let reuse = match rotation_step(&session, &user, used_at, &rotation) {
            RotationStep::Ended => return Ok(RotationOutcome::Ended),
            RotationStep::Reuse(reuse) => reuse,
            RotationStep::Rotate => {
                match Self::claim(&mut transaction, &rotation, session_id).await? {
                    Claim::Issued(session) => {
                        transaction.commit().await?;
                        return Ok(RotationOutcome::Rotated { session, user });
                    }
                    // Another exchange claimed the token between our read and our update: judge
                    // this one as a reuse of it.
                    Claim::LostTo { used_at } => reuse(used_at, &rotation),
                    Claim::Vanished => return Ok(RotationOutcome::Unknown),
                }
            }
        };

        match reuse {
            Reuse::WithinGrace => Ok(RotationOutcome::RecentlyRotated { session, user }),
            Reuse::AfterGrace => {
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(session_id)
                .bind(rotation.now)
                .execute(&mut *transaction)
                .await?;
                transaction.commit().await?;
                Ok(RotationOutcome::Reused {
                    session_id,
                    user_id: user.id,
                })
            }
        }
    }

    /// Marks the presented token used, but only if it is still unused (so two exchanges can
    /// never both succeed, whatever the locking), then issues its successor and slides the
    /// session's expiry.
    async fn claim(
        transaction: &mut sqlx::PgConnection,
        rotation: &RefreshRotation,
        session_id: Uuid,
    ) -> Result<Claim> {
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
        )
        .bind(&rotation.presented_hash)
        .bind(rotation.now)
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            let used_at: Option<(DateTime<Utc>,)> = sqlx::query_as(
                "SELECT used_at FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
            )
            .bind(&rotation.presented_hash)
            .fetch_optional(&mut *transaction)
            .await?;
            return Ok(match used_at {
                Some((used_at,)) => Claim::LostTo { used_at },
                None => Claim::Vanished,
            });
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)",
        )
        .bind(&rotation.new_hash)
        .bind(session_id)
        .bind(rotation.now)
        .execute(&mut *transaction)
        .await?;
        let row: SessionRow =
            sqlx::query_as("UPDATE sessions SET expires_at = $2 WHERE id = $1 RETURNING *")
                .bind(session_id)
                .bind(rotation.new_expires_at)
                .fetch_one(&mut *transaction)
                .await?;
        Ok(Claim::Issued(row.into()))
    }
}

enum Claim {
    /// The token was ours: its successor is issued; the session as updated.
    Issued(Session),
    /// A concurrent exchange used it first.
    LostTo { used_at: DateTime<Utc> },
    /// The token is gone (its session was deleted meanwhile).
    Vanished,
}
