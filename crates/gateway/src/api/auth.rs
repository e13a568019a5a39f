//! `/api/v1/auth/*`: register, login, guest, refresh (rotation with reuse detection), logout.

use axum::extract::State;
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use convene_store::{
    NewSession, NewUser, RefreshRotation, RotationOutcome, Session, User, UserKind,
};
use uuid::Uuid;

use crate::api::extract::{Json, OptionalJson};
use crate::api::views::{
    GuestRequest, LoginRequest, LogoutRequest, MeView, RefreshRequest, RegisterRequest,
    SessionResponse,
};
use crate::auth::cookies::{self, REFRESH_COOKIE};
use crate::auth::extract::{access_token, authenticate};
use crate::auth::password::check_password_strength;
use crate::auth::tokens::{AccessClaims, hash_refresh_token, new_refresh_token};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::validate::{
    GUEST_USERNAME_PREFIX, normalize_display_name, normalize_email, normalize_username,
};

const MAX_USER_AGENT_CHARS: usize = 256;

/// Create an account and sign in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created and signed in", body = SessionResponse),
        (status = 409, description = "`username_taken`", body = ErrorBody),
        (status = 422, description = "`invalid_username`, `weak_password`, `invalid_display_name`, `invalid_email`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Json(request): Json<RegisterRequest>,
) -> ApiResult<impl IntoResponse> {
    let username = normalize_username(&request.username)?;
    let display_name = match &request.display_name {
        Some(display_name) => normalize_display_name(display_name)?,
        None => username.clone(),
    };
    let email = request.email.as_deref().map(normalize_email).transpose()?;
    let mut user_inputs = vec![username.as_str(), display_name.as_str()];
    if let Some(email) = &email {
        user_inputs.push(email.as_str());
    }
    check_password_strength(&request.password, &user_inputs)?;
    // Cheap check first, so a taken name does not cost a hash; the insert still decides.
    if state.store.user_by_username(&username).await?.is_some() {
        return Err(convene_store::Error::UsernameTaken.into());
    }
    let password_hash = state.passwords.hash(request.password).await?;
    let now = state.clock.now();
    let user = state
        .store
        .create_user(NewUser {
            id: Uuid::now_v7(),
            username,
            display_name,
            email,
            password_hash: Some(password_hash),
            kind: UserKind::Member,
            guest_expires_at: None,
            now,
        })
        .await?;
    state.metrics.auth_event("registered");
    tracing::info!(user_id = %user.id, "account registered");
    let (jar, body) =
        start_session(&state, jar, &headers, user, request.refresh_token_in_body).await?;
    Ok((StatusCode::CREATED, jar, body))
}

/// Sign in with username and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionResponse),
        (status = 401, description = "`invalid_credentials` (unknown user and wrong password look the same)", body = ErrorBody),
        (status = 429, description = "`account_locked` after repeated failures (Retry-After says how long), or `rate_limited`", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Json(request): Json<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let invalid_credentials =
        || ApiError::unauthorized("invalid_credentials", "Wrong username or password.");
    let username = request.username.to_ascii_lowercase();
    let user = if username.len() <= 64 {
        state.store.user_by_username(&username).await?
    } else {
        None
    };
    let now = state.clock.now();
    if let Some(user) = &user
        && let Some(locked_until) = user.locked_until.filter(|until| *until > now)
    {
        state.metrics.auth_event("login_refused_locked");
        return Err(account_locked(locked_until, now));
    }
    let stored_hash = user.as_ref().and_then(|user| user.password_hash.clone());
    if !state
        .passwords
        .verify(request.password, stored_hash)
        .await?
    {
        state.metrics.auth_event("login_failed");
        let Some(user) = user.filter(|user| user.kind == UserKind::Member) else {
            return Err(invalid_credentials());
        };
        let failure = state
            .store
            .record_failed_login(user.id, state.settings.lockout, now)
            .await?;
        if let Some(locked_until) = failure.locked_until.filter(|until| *until > now) {
            state.metrics.auth_event("account_locked");
            tracing::warn!(user_id = %user.id, failures = failure.failed_login_count, "account locked");
            return Err(account_locked(locked_until, now));
        }
        return Err(invalid_credentials());
    }
    let Some(user) = user else {
        return Err(invalid_credentials());
    };
    if user.failed_login_count > 0 || user.locked_until.is_some() {
        state.store.clear_failed_logins(user.id).await?;
    }
    state.metrics.auth_event("login_succeeded");
    let (jar, body) =
        start_session(&state, jar, &headers, user, request.refresh_token_in_body).await?;
    Ok((jar, body))
}

fn account_locked(locked_until: DateTime<Utc>, now: DateTime<Utc>) -> ApiError {
    // Rounded up: "retry after 0 s" would invite an immediate, refused retry.
    let seconds = (locked_until - now)
        .num_milliseconds()
        .max(1)
        .unsigned_abs()
        .div_ceil(1000);
    let minutes = seconds.div_ceil(60);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
        format!(
            "Too many failed sign-ins: this account is locked for {minutes} more minute{}.",
            if minutes == 1 { "" } else { "s" }
        ),
    )
    .with_retry_after(seconds)
}

/// Join as a guest with only a display name; the guest account expires (24 h by default).
#[utoipa::path(post, path = "/api/v1/auth/guest", tag = "auth",
    request_body = GuestRequest,
    responses(
        (status = 201, description = "Guest signed in", body = SessionResponse),
        (status = 422, description = "`invalid_display_name`", body = ErrorBody),
    ))]
pub async fn guest(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Json(request): Json<GuestRequest>,
) -> ApiResult<impl IntoResponse> {
    let display_name = normalize_display_name(&request.display_name)?;
    let now = state.clock.now();
    let mut suffix = [0u8; 6];
    rand::fill(&mut suffix);
    let suffix: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
    let user = state
        .store
        .create_user(NewUser {
            id: Uuid::now_v7(),
            username: format!("{GUEST_USERNAME_PREFIX}{suffix}"),
            display_name,
            email: None,
            password_hash: None,
            kind: UserKind::Guest,
            guest_expires_at: Some(now + state.settings.guest_ttl),
            now,
        })
        .await?;
    state.metrics.auth_event("guest_joined");
    let (jar, body) =
        start_session(&state, jar, &headers, user, request.refresh_token_in_body).await?;
    Ok((StatusCode::CREATED, jar, body))
}

/// Exchange the refresh token for a new access token and a new refresh token.
///
/// Every refresh token works once. Presenting a used one again (after a short grace window
/// for concurrent tabs) means it was copied: the whole session is revoked.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body(content = RefreshRequest, description = "Optional: browsers send no body and use the cookie"),
    responses(
        (status = 200, description = "New tokens", body = SessionResponse),
        (status = 401, description = "`unauthenticated`, `invalid_token`, `session_expired`, `refresh_token_reused`", body = ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    jar: CookieJar,
    OptionalJson(request): OptionalJson<RefreshRequest>,
) -> Response {
    match refresh_session(&state, jar, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// The refresh flow; failures that end the session also clear its cookies.
async fn refresh_session(
    state: &AppState,
    jar: CookieJar,
    request: RefreshRequest,
) -> ApiResult<Response> {
    let secure = state.settings.cookie_secure;
    let body_transport = request.refresh_token.is_some();
    let Some(presented) = request.refresh_token.or_else(|| {
        jar.get(REFRESH_COOKIE)
            .map(|cookie| cookie.value().to_owned())
    }) else {
        return Err(ApiError::unauthorized(
            "unauthenticated",
            "No refresh token was sent.",
        ));
    };
    let now = state.clock.now();
    let new_refresh_token = new_refresh_token();
    let outcome = state
        .store
        .rotate_refresh_token(RefreshRotation {
            presented_hash: hash_refresh_token(&presented),
            new_hash: hash_refresh_token(&new_refresh_token),
            // Capped at a guest's expiry by the session expiry computed below.
            new_expires_at: now + state.settings.refresh_token_ttl,
            reuse_grace: state.settings.refresh_reuse_grace,
            now,
        })
        .await?;
    let ended = |jar: CookieJar, error: ApiError| {
        Ok((cookies::without_session_cookies(jar, secure), error).into_response())
    };
    match outcome {
        RotationOutcome::Rotated { session, user } => {
            state.metrics.auth_event("refresh_rotated");
            let session_expires_at = session_expiry(state, &user, now).min(session.expires_at);
            let (access_token, access_expires_at) = mint_access(state, &user, &session, now)?;
            let jar = cookies::with_access_cookie(
                jar,
                access_token.clone(),
                access_expires_at,
                now,
                secure,
            );
            let (jar, refresh_token) = if body_transport {
                (jar, Some(new_refresh_token))
            } else {
                (
                    cookies::with_refresh_cookie(
                        jar,
                        new_refresh_token,
                        session_expires_at,
                        now,
                        secure,
                    ),
                    None,
                )
            };
            Ok((
                jar,
                Json(SessionResponse {
                    user: MeView::from(&user),
                    access_token,
                    access_token_expires_at: access_expires_at,
                    refresh_token,
                    session_expires_at,
                }),
            )
                .into_response())
        }
        RotationOutcome::RecentlyRotated { session, user } => {
            // Another tab refreshed a moment ago and its response set the new refresh
            // cookie; answer with an access token only and leave that cookie alone.
            state.metrics.auth_event("refresh_concurrent");
            let (access_token, access_expires_at) = mint_access(state, &user, &session, now)?;
            let jar = cookies::with_access_cookie(
                jar,
                access_token.clone(),
                access_expires_at,
                now,
                secure,
            );
            Ok((
                jar,
                Json(SessionResponse {
                    user: MeView::from(&user),
                    access_token,
                    access_token_expires_at: access_expires_at,
                    refresh_token: None,
                    session_expires_at: session.expires_at,
                }),
            )
                .into_response())
        }
        RotationOutcome::Reused {
            session_id,
            user_id,
        } => {
            state.metrics.auth_event("refresh_token_reused");
            tracing::warn!(%user_id, %session_id, "refresh token reused: session revoked");
            ended(
                jar,
                ApiError::unauthorized(
                    "refresh_token_reused",
                    "This sign-in was used from somewhere else, so it has been ended for safety. \
                     Sign in again.",
                ),
            )
        }
        RotationOutcome::Ended => ended(
            jar,
            ApiError::unauthorized("session_expired", "This session has ended; sign in again."),
        ),
        RotationOutcome::Unknown => ended(
            jar,
            ApiError::unauthorized("invalid_token", "The refresh token is not valid."),
        ),
    }
}

/// Sign out this session, or every session of the account with `{"everywhere": true}`.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    request_body(content = LogoutRequest, description = "Optional"),
    responses(
        (status = 204, description = "Signed out; cookies cleared. Idempotent."),
        (status = 401, description = "`unauthenticated` when `everywhere` is asked without a valid access token", body = ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    OptionalJson(request): OptionalJson<LogoutRequest>,
) -> ApiResult<impl IntoResponse> {
    let now = state.clock.now();
    let access = match access_token(&headers) {
        Some(token) => authenticate(&state, &token).await.ok(),
        None => None,
    };
    if request.everywhere {
        let Some(access) = access else {
            return Err(ApiError::unauthorized(
                "unauthenticated",
                "Signing out everywhere needs a valid access token.",
            ));
        };
        state.store.revoke_all_sessions(access.user.id, now).await?;
        state.metrics.auth_event("logout_everywhere");
    } else {
        let refresh_token = request.refresh_token.or_else(|| {
            jar.get(REFRESH_COOKIE)
                .map(|cookie| cookie.value().to_owned())
        });
        let session_id = match refresh_token {
            Some(token) => {
                state
                    .store
                    .session_id_for_refresh_token(&hash_refresh_token(&token))
                    .await?
            }
            None => None,
        }
        .or(access.map(|access| access.session.id));
        if let Some(session_id) = session_id {
            state.store.revoke_session(session_id, now).await?;
        }
        state.metrics.auth_event("logout");
    }
    Ok((
        StatusCode::NO_CONTENT,
        cookies::without_session_cookies(jar, state.settings.cookie_secure),
    ))
}

/// Creates a session for `user` and answers with its tokens (cookies or body).
pub(crate) async fn start_session(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    user: User,
    refresh_token_in_body: bool,
) -> ApiResult<(CookieJar, Json<SessionResponse>)> {
    let now = state.clock.now();
    let refresh_token = new_refresh_token();
    let session_expires_at = session_expiry(state, &user, now);
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.chars().take(MAX_USER_AGENT_CHARS).collect());
    let session = state
        .store
        .create_session(NewSession {
            id: Uuid::now_v7(),
            user_id: user.id,
            refresh_token_hash: hash_refresh_token(&refresh_token),
            expires_at: session_expires_at,
            user_agent,
            now,
        })
        .await?;
    let secure = state.settings.cookie_secure;
    let (access_token, access_expires_at) = mint_access(state, &user, &session, now)?;
    let jar =
        cookies::with_access_cookie(jar, access_token.clone(), access_expires_at, now, secure);
    let (jar, body_refresh_token) = if refresh_token_in_body {
        (jar, Some(refresh_token))
    } else {
        (
            cookies::with_refresh_cookie(jar, refresh_token, session_expires_at, now, secure),
            None,
        )
    };
    Ok((
        jar,
        Json(SessionResponse {
            user: MeView::from(&user),
            access_token,
            access_token_expires_at: access_expires_at,
            refresh_token: body_refresh_token,
            session_expires_at,
        }),
    ))
}

/// A session lasts the refresh-token lifetime, and never beyond a guest's expiry.
fn session_expiry(state: &AppState, user: &User, now: DateTime<Utc>) -> DateTime<Utc> {
    let expires_at = now + state.settings.refresh_token_ttl;
    match user.guest_expires_at {
        Some(guest_expires_at) => expires_at.min(guest_expires_at),
        None => expires_at,
    }
}

fn mint_access(
    state: &AppState,
    user: &User,
    session: &Session,
    now: DateTime<Utc>,
) -> ApiResult<(String, DateTime<Utc>)> {
    let expires_at = (now + state.settings.access_token_ttl).min(session.expires_at);
    let claims = AccessClaims {
        sub: user.id,
        sid: session.id,
        ver: user.token_version,
        iat: now.timestamp(),
        exp: expires_at.timestamp(),
    };
    let token = state.tokens.mint_access_token(&claims).map_err(|error| {
        tracing::error!(%error, "minting an access token failed");
        ApiError::internal()
    })?;
    Ok((token, expires_at))
}
