//! Decisions both backends make identically, as pure functions: the backends only read rows,
//! ask here what to do, and write the answer inside their transaction.

use chrono::{DateTime, Utc};

use crate::model::{LockoutPolicy, RefreshRotation, Session, User, UserKind};
use crate::{Error, Result};

/// What a refresh-token exchange must do, given the token's `used_at` and its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RotationStep {
    /// The family is revoked or expired, or its guest is: nothing changes.
    Ended,
    /// The token is current: claim it, issue the new one, slide the session's expiry.
    Rotate,
    /// The token was used before.
    Reuse(Reuse),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// A benign race (two tabs refreshing at once): nothing changes.
    WithinGrace,
    /// Treated as theft: the whole family is revoked.
    AfterGrace,
}

pub(crate) fn rotation_step(
    session: &Session,
    user: &User,
    used_at: Option<DateTime<Utc>>,
    rotation: &RefreshRotation,
) -> RotationStep {
    let now = rotation.now;
    let guest_expired = user.kind == UserKind::Guest
        && user
            .guest_expires_at
            .is_some_and(|expires_at| expires_at <= now);
    if session.revoked_at.is_some() || session.expires_at <= now || guest_expired {
        return RotationStep::Ended;
    }
    match used_at {
        None => RotationStep::Rotate,
        Some(used_at) => RotationStep::Reuse(reuse(used_at, rotation)),
    }
}

pub(crate) fn reuse(used_at: DateTime<Utc>, rotation: &RefreshRotation) -> Reuse {
    if rotation.now - used_at <= rotation.reuse_grace {
        Reuse::WithinGrace
    } else {
        Reuse::AfterGrace
    }
}

/// The new `locked_until` after the `failed_login_count`-th consecutive failure: `None` leaves
/// the current value alone (a lock never shortens because the policy says "no lock yet").
pub(crate) fn lock_until(
    policy: LockoutPolicy,
    failed_login_count: i32,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let failures = u32::try_from(failed_login_count).unwrap_or(0);
    let Some(duration) = policy.lock_duration(failures) else {
        return Ok(None);
    };
    now.checked_add_signed(duration)
        .map(Some)
        .ok_or_else(|| Error::Query(sqlx::Error::Encode("lock time out of range".into())))
}

/// A `LIKE` pattern matching values that start with `query`, lowercased to compare with
/// `lower(column)`, with `\` as the escape character (queries use `ESCAPE '\'`) so that a
/// user typing `%` or `_` matches those characters literally.
pub(crate) fn prefix_pattern(query: &str) -> String {
    let mut pattern = String::with_capacity(query.len() + 1);
    for character in query.to_lowercase().chars() {
        if matches!(character, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

pub(crate) fn kind_to_str(kind: UserKind) -> &'static str {
    match kind {
        UserKind::Member => "member",
        UserKind::Guest => "guest",
    }
}

pub(crate) fn kind_from_str(kind: &str) -> Result<UserKind> {
    match kind {
        "member" => Ok(UserKind::Member),
        "guest" => Ok(UserKind::Guest),
        other => Err(Error::Query(sqlx::Error::Decode(
            format!("unknown user kind {other:?}").into(),
        ))),
    }
}

/// Foreign-key violations mean "the user or session you named does not exist".
pub(crate) fn not_found_on_foreign_key(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::Database(database_error) if database_error.is_foreign_key_violation() => {
            Error::NotFound
        }
        _ => Error::from(error),
    }
}

/// `users` has two unique keys, `id` and `username`; callers mint fresh UUIDs, so a unique
/// violation on insert is the username's.
pub(crate) fn username_taken_on_unique(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
            Error::UsernameTaken
        }
        _ => Error::from(error),
    }
}

/// Creating a meeting: ids are fresh UUIDs, so a unique violation is the code's; a
/// foreign-key violation is an unknown creator.
pub(crate) fn meeting_code_taken_on_unique(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
            Error::MeetingCodeTaken
        }
        _ => not_found_on_foreign_key(error),
    }
}

/// Whether `error` is a unique violation (the caller knows which key can collide).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database_error) if database_error.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_pattern_escapes_like_wildcards() {
        assert_eq!(prefix_pattern("Ab"), "ab%");
        assert_eq!(prefix_pattern("50%_a\\b"), "50\\%\\_a\\\\b%");
    }
}
