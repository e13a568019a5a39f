//! `Authenticated`: the extractor every protected handler takes. It accepts the access
//! token as `Authorization: Bearer …` (API clients) or the `convene_access` cookie
//! (browsers), then checks the session and user in the store, and the per-user rate limit.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use convene_store::{Session, User, UserKind};

use crate::auth::cookies::ACCESS_COOKIE;
use crate::auth::tokens::TokenError;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub session: Session,
}

/// The raw access token of a request, if any: the Bearer header wins over the cookie.
pub fn access_token(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    CookieJar::from_headers(headers)
        .get(ACCESS_COOKIE)
        .map(|cookie| cookie.value().to_owned())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = access_token(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized(
                "unauthenticated",
                "Sign in first: no access token was sent.",
            )
        })?;
        let authenticated = authenticate(state, &token).await?;
        state.rate_limits.check_user(authenticated.user.id)?;
        Ok(authenticated)
    }
}

/// Verifies an access token against the keys, the clock and the store.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Authenticated, ApiError> {
    let now = state.clock.now();
    let claims = state
        .tokens
        .verify_access_token(token, now)
        .map_err(|error| match error {
            TokenError::Expired => ApiError::unauthorized(
                "token_expired",
                "The access token has expired; refresh the session.",
            ),
            TokenError::Invalid => {
                ApiError::unauthorized("invalid_token", "The access token is not valid.")
            }
        })?;
    authenticate_session(state, claims.sub, claims.sid, Some(claims.ver)).await
}

/// Checks that a session is live: not revoked or expired, its user's token version (when a
/// token carried one) current, a guest not expired.
pub async fn authenticate_session(
    state: &AppState,
    user_id: uuid::Uuid,
    session_id: uuid::Uuid,
    token_version: Option<i64>,
) -> Result<Authenticated, ApiError> {
    let now = state.clock.now();
    let revoked = || ApiError::unauthorized("session_revoked", "This session has been signed out.");
    let principal = state
        .store
        .principal(user_id, session_id)
        .await?
        .ok_or_else(revoked)?;
    if principal.session.revoked_at.is_some()
        || token_version.is_some_and(|version| principal.user.token_version != version)
    {
        return Err(revoked());
    }
    if principal.session.expires_at <= now {
        return Err(ApiError::unauthorized(
            "session_expired",
            "This session has expired.",
        ));
    }
    if principal.user.kind == UserKind::Guest
        && principal
            .user
            .guest_expires_at
            .is_some_and(|expires_at| expires_at <= now)
    {
        return Err(ApiError::unauthorized(
            "guest_expired",
            "This guest pass has expired; join again or create an account.",
        ));
    }
    Ok(Authenticated {
        user: principal.user,
        session: principal.session,
    })
}
