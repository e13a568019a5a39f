//! `/api/v1/users` (search and profiles, for starting chats) and `/api/v1/blocks`.

use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use crate::api::extract::{Json, Path, Query};
use crate::api::views::{UserList, UserSearchQuery, UserView};
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

const DEFAULT_SEARCH_LIMIT: u32 = 20;
const MAX_SEARCH_LIMIT: u32 = 50;
const MAX_QUERY_CHARS: usize = 64;

/// Find members by the start of their username or display name.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(UserSearchQuery),
    responses(
        (status = 200, body = UserList),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
    ))]
pub async fn search_users(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Query(query): Query<UserSearchQuery>,
) -> ApiResult<Json<UserList>> {
    let text = query.q.trim();
    let n_chars = text.chars().count();
    if n_chars == 0 || n_chars > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`q` must be 1–{MAX_QUERY_CHARS} characters."),
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
    if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` must be 1–{MAX_SEARCH_LIMIT}."),
        ));
    }
    let users = state.store.search_users(text, user.id, limit).await?;
    Ok(Json(UserList {
        users: users.iter().map(UserView::from).collect(),
    }))
}

/// One user's public profile.
#[utoipa::path(get, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = Uuid, Path)),
    responses(
        (status = 200, body = UserView),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    _: Authenticated,
    Path(user_id): Path<Uuid>,
) -> ApiResult<Json<UserView>> {
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(user_not_found)?;
    Ok(Json(UserView::from(&user)))
}

fn user_not_found() -> ApiError {
    ApiError::not_found("user_not_found", "There is no such user.")
}

/// The users I have blocked, most recent first.
#[utoipa::path(get, path = "/api/v1/blocks", tag = "users",
    responses((status = 200, body = UserList)))]
pub async fn list_blocks(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
) -> ApiResult<Json<UserList>> {
    let users = state.store.blocked_users(user.id).await?;
    Ok(Json(UserList {
        users: users.iter().map(UserView::from).collect(),
    }))
}

/// Block a user: they can no longer start a chat with or message me. Idempotent.
#[utoipa::path(put, path = "/api/v1/blocks/{user_id}", tag = "users",
    params(("user_id" = Uuid, Path)),
    responses(
        (status = 204, description = "Blocked"),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        (status = 422, description = "`cannot_block_self`", body = ErrorBody),
    ))]
pub async fn block_user(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(blocked_id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if blocked_id == user.id {
        return Err(ApiError::unprocessable(
            "cannot_block_self",
            "You cannot block yourself.",
        ));
    }
    state
        .store
        .user_by_id(blocked_id)
        .await?
        .ok_or_else(user_not_found)?;
    match state
        .store
        .block_user(user.id, blocked_id, state.clock.now())
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(convene_store::Error::NotFound) => Err(user_not_found()),
        Err(error) => Err(error.into()),
    }
}

/// Unblock a user. Idempotent.
#[utoipa::path(delete, path = "/api/v1/blocks/{user_id}", tag = "users",
    params(("user_id" = Uuid, Path)),
    responses((status = 204, description = "Not blocked (any more)")))]
pub async fn unblock_user(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(blocked_id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.store.unblock_user(user.id, blocked_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
