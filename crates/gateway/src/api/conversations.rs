//! `/api/v1/conversations`, `/api/v1/meetings/{code}/join`: starting, listing and managing
//! conversations. Every route checks membership (see `chat::operations`).

use axum::extract::State;
use axum::http::StatusCode;
use convene_store::MemberRole;
use uuid::Uuid;

use crate::api::chat_views::{
    AddMemberRequest, ConversationDetail, ConversationList, ConversationListQuery,
    CreateGroupRequest, CreateMeetingRequest, EventAck, RenameRequest, StartDirectRequest,
    UpdateMemberRequest,
};
use crate::api::extract::{Json, Path, Query};
use crate::auth::Authenticated;
use crate::chat::{convert, operations};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use convene_proto::{ConversationView, MemberRoleView};

/// `limit` within 1..=max, `default` when absent.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> ApiResult<u32> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` must be 1–{max}."),
        ));
    }
    Ok(limit)
}

/// My conversations, most recent activity first, with unread and mention counts.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations",
    params(ConversationListQuery),
    responses((status = 200, body = ConversationList)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Query(query): Query<ConversationListQuery>,
) -> ApiResult<Json<ConversationList>> {
    let limit = page_limit(query.limit, 50, 100)?;
    let summaries = state
        .store
        .conversations_for_user(user.id, query.before, limit)
        .await?;
    Ok(Json(ConversationList {
        conversations: summaries.iter().map(convert::summary).collect(),
    }))
}

/// Start (or reopen) the direct chat with a user.
#[utoipa::path(post, path = "/api/v1/conversations/direct", tag = "conversations",
    request_body = StartDirectRequest,
    responses(
        (status = 200, body = ConversationView),
        (status = 403, description = "`blocked`, `guest_not_allowed`", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        (status = 422, description = "`cannot_chat_with_self`", body = ErrorBody),
    ))]
pub async fn start_direct(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Json(request): Json<StartDirectRequest>,
) -> ApiResult<Json<ConversationView>> {
    let conversation = operations::start_direct(&state, &user, request.user_id).await?;
    Ok(Json(convert::conversation(&conversation)))
}

/// Create a group; the creator becomes its admin.
#[utoipa::path(post, path = "/api/v1/conversations/groups", tag = "conversations",
    request_body = CreateGroupRequest,
    responses(
        (status = 201, body = ConversationView),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_title`, `too_many_members`, `invalid_avatar_url`", body = ErrorBody),
    ))]
pub async fn create_group(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Json(request): Json<CreateGroupRequest>,
) -> ApiResult<(StatusCode, Json<ConversationView>)> {
    let avatar_url = request
        .avatar_url
        .as_deref()
        .map(crate::validate::normalize_avatar_url)
        .transpose()?;
    let conversation = operations::create_group(
        &state,
        &user,
        &request.title,
        avatar_url,
        request.member_ids,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(convert::conversation(&conversation)),
    ))
}

/// Create a meeting with a fresh code like `abc-defg-hij`.
#[utoipa::path(post, path = "/api/v1/conversations/meetings", tag = "conversations",
    request_body = CreateMeetingRequest,
    responses((status = 201, body = ConversationView)))]
pub async fn create_meeting(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Json(request): Json<CreateMeetingRequest>,
) -> ApiResult<(StatusCode, Json<ConversationView>)> {
    let conversation = operations::create_meeting(
        &state,
        &user,
        request.title.as_deref(),
        request.allow_guests,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(convert::conversation(&conversation)),
    ))
}

/// Join a meeting by its code (idempotent).
#[utoipa::path(post, path = "/api/v1/meetings/{code}/join", tag = "conversations",
    params(("code" = String, Path, description = "`abc-defg-hij`")),
    responses(
        (status = 200, body = ConversationView),
        (status = 403, description = "`guests_not_allowed`", body = ErrorBody),
        (status = 404, description = "`meeting_not_found`", body = ErrorBody),
    ))]
pub async fn join_meeting(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(code): Path<String>,
) -> ApiResult<Json<ConversationView>> {
    let conversation = operations::join_meeting(&state, &user, &code).await?;
    Ok(Json(convert::conversation(&conversation)))
}

/// A conversation with its members and their receipt markers.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}", tag = "conversations",
    params(("conversation_id" = Uuid, Path)),
    responses(
        (status = 200, body = ConversationDetail),
        (status = 403, description = "`not_a_member`", body = ErrorBody),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(conversation_id): Path<Uuid>,
) -> ApiResult<Json<ConversationDetail>> {
    let (conversation, _) = operations::require_member(&state, conversation_id, user.id).await?;
    let members = state.store.members(conversation_id).await?;
    Ok(Json(ConversationDetail {
        conversation: convert::conversation(&conversation),
        members: members.iter().map(convert::member).collect(),
    }))
}

/// Rename a group or meeting (admins).
#[utoipa::path(patch, path = "/api/v1/conversations/{conversation_id}", tag = "conversations",
    params(("conversation_id" = Uuid, Path)),
    request_body = RenameRequest,
    responses(
        (status = 200, body = EventAck),
        (status = 403, description = "`admin_required`, `not_a_member`", body = ErrorBody),
    ))]
pub async fn rename(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(conversation_id): Path<Uuid>,
    Json(request): Json<RenameRequest>,
) -> ApiResult<Json<EventAck>> {
    let event = operations::rename(
        &state,
        &user,
        conversation_id,
        &request.title,
        request.avatar_url,
    )
    .await?;
    Ok(Json(EventAck {
        seq: Some(event.seq),
    }))
}

/// Add a member to a group (admins).
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/members", tag = "conversations",
    params(("conversation_id" = Uuid, Path)),
    request_body = AddMemberRequest,
    responses(
        (status = 200, description = "`seq` is null when the user already was a member", body = EventAck),
        (status = 403, description = "`admin_required`", body = ErrorBody),
    ))]
pub async fn add_member(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(conversation_id): Path<Uuid>,
    Json(request): Json<AddMemberRequest>,
) -> ApiResult<Json<EventAck>> {
    let event = operations::add_member(&state, &user, conversation_id, request.user_id).await?;
    Ok(Json(EventAck {
        seq: event.map(|event| event.seq),
    }))
}

/// Promote or demote a member (admins).
#[utoipa::path(patch, path = "/api/v1/conversations/{conversation_id}/members/{user_id}", tag = "conversations",
    params(("conversation_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    request_body = UpdateMemberRequest,
    responses((status = 200, body = EventAck)))]
pub async fn update_member(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path((conversation_id, member_id)): Path<(Uuid, Uuid)>,
    Json(request): Json<UpdateMemberRequest>,
) -> ApiResult<Json<EventAck>> {
    let role = match request.role {
        MemberRoleView::Admin => MemberRole::Admin,
        MemberRoleView::Member => MemberRole::Member,
    };
    let event = operations::set_role(&state, &user, conversation_id, member_id, role).await?;
    Ok(Json(EventAck {
        seq: event.map(|event| event.seq),
    }))
}

/// Remove a member (admins), or leave (your own id).
#[utoipa::path(delete, path = "/api/v1/conversations/{conversation_id}/members/{user_id}", tag = "conversations",
    params(("conversation_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = EventAck)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path((conversation_id, member_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<EventAck>> {
    let event = operations::remove_member(&state, &user, conversation_id, member_id).await?;
    Ok(Json(EventAck {
        seq: event.map(|event| event.seq),
    }))
}
