//! The JSON shapes of the REST API (a wire contract: snake_case, documented in OpenAPI).

use chrono::{DateTime, Utc};
use convene_store::{User, UserKind};
use serde::{Deserialize, Deserializer, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct RegisterRequest {
    /// 3–32 of a–z, 0–9, `_`, `.`; starts with a letter; case-insensitive.
    pub username: String,
    /// At least 10 characters and not easily guessed.
    pub password: String,
    /// Shown to others; defaults to the username.
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// API clients set this to receive the refresh token in the body instead of a cookie.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub refresh_token_in_body: bool,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub refresh_token_in_body: bool,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct GuestRequest {
    pub display_name: String,
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub refresh_token_in_body: bool,
}

/// Browsers send no body (the refresh cookie is used); API clients send their token.
#[derive(Debug, Default, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct LogoutRequest {
    /// Sign out every session of this account ("log out everywhere"); needs a valid access
    /// token.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub everywhere: bool,
    /// For API clients whose refresh token is not in a cookie.
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct SessionResponse {
    pub user: MeView,
    /// Also set as the `convene_access` HTTP-only cookie.
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    /// Only when the request asked for it (`refresh_token_in_body` or a body token);
    /// browsers get the `convene_refresh` HTTP-only cookie instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub refresh_token: Option<String>,
    pub session_expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Member,
    Guest,
}

impl From<UserKind> for AccountKind {
    fn from(kind: UserKind) -> Self {
        match kind {
            UserKind::Member => AccountKind::Member,
            UserKind::Guest => AccountKind::Guest,
        }
    }
}

/// The signed-in user's own profile.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct MeView {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    pub kind: AccountKind,
    pub guest_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for MeView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            email: user.email.clone(),
            avatar_url: user.avatar_url.clone(),
            kind: user.kind.into(),
            guest_expires_at: user.guest_expires_at,
            created_at: user.created_at,
        }
    }
}

/// What others see of a user (no email).
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct UserView {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub kind: AccountKind,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            avatar_url: user.avatar_url.clone(),
            kind: user.kind.into(),
        }
    }
}

/// Omitted fields stay; `null` clears `email` and `avatar_url`.
#[derive(Debug, Default, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "present_or_null")]
    #[schema(value_type = Option<String>)]
    #[ts(optional, type = "string | null")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_or_null")]
    #[schema(value_type = Option<String>)]
    #[ts(optional, type = "string | null")]
    pub avatar_url: Option<Option<String>>,
}

/// Tells "absent" (outer `None`, via `default`) from "null" (`Some(None)`).
fn present_or_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub refresh_token_in_body: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearchQuery {
    /// Prefix of a username or display name (case-insensitive), 1–64 characters.
    pub q: String,
    /// 1–50, default 20.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct UserList {
    pub users: Vec<UserView>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct HealthStatus {
    /// `ok`, `ready`, `degraded`, `draining`.
    pub status: String,
    /// Per dependency: `ok` or what is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub checks: Option<ReadinessChecks>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct ReadinessChecks {
    pub store: String,
    pub bus: String,
}
