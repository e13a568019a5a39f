//! `/api/v1/me`: the signed-in user's own profile and password.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum_extra::extract::CookieJar;
use convene_store::{ProfileUpdate, UserKind};

use crate::api::auth::start_session;
use crate::api::extract::Json;
use crate::api::views::{ChangePasswordRequest, MeView, SessionResponse, UpdateProfileRequest};
use crate::auth::Authenticated;
use crate::auth::password::check_password_strength;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::validate::{normalize_avatar_url, normalize_display_name, normalize_email};

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "profile",
    responses(
        (status = 200, body = MeView),
        (status = 401, description = "`unauthenticated`, `invalid_token`, `token_expired`, `session_revoked`, `session_expired`, `guest_expired`", body = ErrorBody),
    ))]
pub async fn get_me(Authenticated { user, .. }: Authenticated) -> Json<MeView> {
    Json(MeView::from(&user))
}

/// Change display name, email or avatar.
#[utoipa::path(patch, path = "/api/v1/me", tag = "profile",
    request_body = UpdateProfileRequest,
    responses(
        (status = 200, body = MeView),
        (status = 403, description = "`guest_not_allowed`: guests can change only their display name", body = ErrorBody),
        (status = 422, description = "`invalid_display_name`, `invalid_email`, `invalid_avatar_url`", body = ErrorBody),
    ))]
pub async fn update_me(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Json(request): Json<UpdateProfileRequest>,
) -> ApiResult<Json<MeView>> {
    if user.kind == UserKind::Guest && (request.email.is_some() || request.avatar_url.is_some()) {
        return Err(ApiError::forbidden(
            "guest_not_allowed",
            "Guests can change only their display name.",
        ));
    }
    // Validate everything before writing anything.
    let update = ProfileUpdate {
        display_name: request
            .display_name
            .as_deref()
            .map(normalize_display_name)
            .transpose()?,
        email: request
            .email
            .map(|email| email.as_deref().map(normalize_email).transpose())
            .transpose()?,
        avatar_url: request
            .avatar_url
            .map(|url| url.as_deref().map(normalize_avatar_url).transpose())
            .transpose()?,
    };
    let user = state
        .store
        .update_profile(user.id, update, state.clock.now())
        .await?;
    Ok(Json(MeView::from(&user)))
}

/// Change the password. Every session of the account is signed out, and this device gets a
/// fresh session.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "profile",
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Changed; a new session for this device", body = SessionResponse),
        (status = 401, description = "`invalid_credentials`: the current password is wrong", body = ErrorBody),
        (status = 403, description = "`guest_not_allowed`", body = ErrorBody),
        (status = 422, description = "`weak_password`", body = ErrorBody),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Authenticated { user, .. }: Authenticated,
    Json(request): Json<ChangePasswordRequest>,
) -> ApiResult<impl IntoResponse> {
    if user.kind == UserKind::Guest {
        return Err(ApiError::forbidden(
            "guest_not_allowed",
            "Guests have no password.",
        ));
    }
    let mut user_inputs = vec![user.username.as_str(), user.display_name.as_str()];
    if let Some(email) = &user.email {
        user_inputs.push(email.as_str());
    }
    check_password_strength(&request.new_password, &user_inputs)?;
    if !state
        .passwords
        .verify(request.current_password, user.password_hash.clone())
        .await?
    {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "The current password is wrong.",
        ));
    }
    let password_hash = state.passwords.hash(request.new_password).await?;
    let user = state
        .store
        .set_password(user.id, &password_hash, state.clock.now())
        .await?;
    state.metrics.auth_event("password_changed");
    tracing::info!(user_id = %user.id, "password changed; all sessions revoked");
    start_session(&state, jar, &headers, user, request.refresh_token_in_body).await
}
