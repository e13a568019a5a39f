//! Message routes: history, send (the REST mirror of the WebSocket), edit, delete, react,
//! pin, receipts, typing, events since a seq, search.

use axum::extract::State;
use axum::http::StatusCode;
use uuid::Uuid;

use crate::api::chat_views::{
    DeleteMessageQuery, EditMessageRequest, EventAck, EventList, EventsQuery,
    ForwardMessageRequest, HistoryQuery, MarkReadRequest, MessageList, ReactRequest, SearchQuery,
    SendMessageRequest, SentMessage,
};
use crate::api::conversations::page_limit;
use crate::api::extract::{Json, Path, Query};
use crate::auth::Authenticated;
use crate::chat::convert;
use crate::chat::operations::{self, Receipt, SendRequest};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

const MAX_SEARCH_QUERY_CHARS: usize = 128;

fn sent(outcome: &convene_store::AppendOutcome) -> ApiResult<(StatusCode, Json<SentMessage>)> {
    let convene_store::EventKind::MessageCreated { message } = &outcome.event.kind else {
        return Err(ApiError::internal());
    };
    let status = if outcome.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(SentMessage {
            duplicate: outcome.duplicate,
            message: convert::message(message),
        }),
    ))
}

/// History, newest first; page back with `before_seq`.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/messages", tag = "messages",
    params(("conversation_id" = Uuid, Path), HistoryQuery),
    responses(
        (status = 200, body = MessageList),
        (status = 403, description = "`not_a_member`", body = ErrorBody),
        (status = 404, description = "`conversation_not_found`", body = ErrorBody),
    ))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(conversation_id): Path<Uuid>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<MessageList>> {
    let limit = page_limit(query.limit, 50, 100)?;
    let messages =
        operations::history(&state, &user, conversation_id, query.before_seq, limit).await?;
    Ok(Json(MessageList {
        messages: messages.iter().map(convert::message).collect(),
    }))
}

/// Send a message. Answered after it is stored; a retry with the same `client_id` returns
/// the original (200 instead of 201).
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/messages", tag = "messages",
    params(("conversation_id" = Uuid, Path)),
    request_body = SendMessageRequest,
    responses(
        (status = 201, body = SentMessage),
        (status = 200, description = "A retry: the original message", body = SentMessage),
        (status = 403, description = "`not_a_member`, `blocked`", body = ErrorBody),
        (status = 422, description = "`empty_message`, `message_too_long`, `invalid_client_id`", body = ErrorBody),
        (status = 429, description = "`message_rate_limited`", body = ErrorBody),
    ))]
pub async fn send(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(conversation_id): Path<Uuid>,
    Json(request): Json<SendMessageRequest>,
) -> ApiResult<(StatusCode, Json<SentMessage>)> {
    let outcome = operations::send_message(
        &state,
        &user,
        SendRequest {
            conversation_id,
            client_id: request.client_id,
            body: request.body,
            reply_to: request.reply_to,
            forwarded_from: None,
        },
    )
    .await?;
    sent(&outcome)
}

/// Forward a message into another conversation.
#[utoipa::path(post, path = "/api/v1/messages/{message_id}/forward", tag = "messages",
    params(("message_id" = Uuid, Path)),
    request_body = ForwardMessageRequest,
    responses((status = 201, body = SentMessage), (status = 404, description = "`message_not_found`", body = ErrorBody)))]
pub async fn forward(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(message_id): Path<Uuid>,
    Json(request): Json<ForwardMessageRequest>,
) -> ApiResult<(StatusCode, Json<SentMessage>)> {
    let outcome = operations::forward_message(
        &state,
        &user,
        message_id,
        request.to_conversation_id,
        request.client_id,
    )
    .await?;
    sent(&outcome)
}

/// Edit your own message.
#[utoipa::path(patch, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}", tag = "messages",
    params(("conversation_id" = Uuid, Path), ("message_id" = Uuid, Path)),
    request_body = EditMessageRequest,
    responses(
        (status = 200, body = EventAck),
        (status = 403, description = "`not_message_sender`", body = ErrorBody),
        (status = 409, description = "`message_deleted`", body = ErrorBody),
    ))]
pub async fn edit(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path((conversation_id, message_id)): Path<(Uuid, Uuid)>,
    Json(request): Json<EditMessageRequest>,
) -> ApiResult<Json<EventAck>> {
    let event =
        operations::edit_message(&state, &user, conversation_id, message_id, request.body).await?;
    Ok(Json(EventAck {
        seq: Some(event.seq),
    }))
}

/// Delete a message for me, or for everyone (`?for_everyone=true`).
#[utoipa::path(delete, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}", tag = "messages",
    params(("conversation_id" = Uuid, Path), ("message_id" = Uuid, Path), DeleteMessageQuery),
    responses((status = 200, body = EventAck), (status = 403, description = "`not_message_sender`", body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path((conversation_id, message_id)): Path<(Uuid, Uuid)>,
    Query(query): Query<DeleteMessageQuery>,
) -> ApiResult<Json<EventAck>> {
    let event = operations::delete_message(
        &state,
        &user,
        conversation_id,
        message_id,
        query.for_everyone,
    )
    .await?;
    Ok(Json(EventAck {
        seq: event.map(|event| event.seq),
    }))
}

/// Toggle my reaction.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/reactions", tag = "messages",
    params(("conversation_id" = Uuid, Path), ("message_id" = Uuid, Path)),
    request_body = ReactRequest,
    responses((status = 200, body = EventAck), (status = 422, description = "`invalid_emoji`", body = ErrorBody)))]
pub async fn react(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path((conversation_id, message_id)): Path<(Uuid, Uuid)>,
    Json(request): Json<ReactRequest>,
) -> ApiResult<Json<EventAck>> {
    let event =
        operations::react(&state, &user, conversation_id, message_id, &request.emoji).await?;
    Ok(Json(EventAck {
        seq: Some(event.seq),
    }))
}

/// Pin a message (group admins; anyone elsewhere).
#[utoipa::path(put, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/pin", tag = "messages",
    params(("conversation_id" = Uuid, Path), ("message_id" = Uuid, Path)),
    responses((status = 200, body = EventAck), (status = 403, description = "`admin_required`", body = ErrorBody)))]
pub async fn pin(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path((conversation_id, message_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<EventAck>> {
    let event = operations::pin(&state, &user, conversation_id, message_id, true).await?;
    Ok(Json(EventAck {
        seq: event.map(|event| event.seq),
    }))
}

/// Unpin a message.
#[utoipa::path(delete, path = "/api/v1/conversations/{conversation_id}/messages/{message_id}/pin", tag = "messages",
    params(("conversation_id" = Uuid, Path), ("message_id" = Uuid, Path)),
    responses((status = 200, body = EventAck)))]
pub async fn unpin(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path((conversation_id, message_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<EventAck>> {
    let event = operations::pin(&state, &user, conversation_id, message_id, false).await?;
    Ok(Json(EventAck {
        seq: event.map(|event| event.seq),
    }))
}

/// Pinned messages, most recently pinned first.
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/pins", tag = "messages",
    params(("conversation_id" = Uuid, Path)),
    responses((status = 200, body = MessageList)))]
pub async fn pins(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(conversation_id): Path<Uuid>,
) -> ApiResult<Json<MessageList>> {
    operations::require_member(&state, conversation_id, user.id).await?;
    let messages = state.store.pinned_messages(conversation_id).await?;
    Ok(Json(MessageList {
        messages: messages.iter().map(convert::message).collect(),
    }))
}

/// Everything that happened after `after_seq` (at most 500; `complete` says if more remain).
#[utoipa::path(get, path = "/api/v1/conversations/{conversation_id}/events", tag = "messages",
    params(("conversation_id" = Uuid, Path), EventsQuery),
    responses((status = 200, body = EventList)))]
pub async fn events(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(conversation_id): Path<Uuid>,
    Query(query): Query<EventsQuery>,
) -> ApiResult<Json<EventList>> {
    let (events, complete) =
        operations::events_after(&state, &user, conversation_id, query.after_seq).await?;
    Ok(Json(EventList { events, complete }))
}

/// I have read everything up to `seq` (blue ticks for the senders).
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/read", tag = "messages",
    params(("conversation_id" = Uuid, Path)),
    request_body = MarkReadRequest,
    responses((status = 204, description = "Marked")))]
pub async fn mark_read(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(conversation_id): Path<Uuid>,
    Json(request): Json<MarkReadRequest>,
) -> ApiResult<StatusCode> {
    operations::mark(&state, &user, conversation_id, request.seq, Receipt::Read).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// I am typing (shown to the others for a few seconds).
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/typing", tag = "messages",
    params(("conversation_id" = Uuid, Path)),
    responses((status = 204, description = "Sent")))]
pub async fn typing(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Path(conversation_id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    operations::typing(&state, &user, conversation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Full-text search in my conversations, newest first.
#[utoipa::path(get, path = "/api/v1/search/messages", tag = "messages",
    params(SearchQuery),
    responses((status = 200, body = MessageList), (status = 400, description = "`invalid_query`", body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Authenticated { user, .. }: Authenticated,
    Query(query): Query<SearchQuery>,
) -> ApiResult<Json<MessageList>> {
    let text = query.q.trim();
    let n_chars = text.chars().count();
    if n_chars == 0 || n_chars > MAX_SEARCH_QUERY_CHARS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`q` must be 1–{MAX_SEARCH_QUERY_CHARS} characters."),
        ));
    }
    let limit = page_limit(query.limit, 50, 100)?;
    if let Some(conversation_id) = query.conversation_id {
        operations::require_member(&state, conversation_id, user.id).await?;
    }
    let messages = state
        .store
        .search_messages(user.id, text, query.conversation_id, limit)
        .await?;
    Ok(Json(MessageList {
        messages: messages.iter().map(convert::message).collect(),
    }))
}
