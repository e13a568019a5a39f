//! Call requests from clients, and what they cause.

use axum::http::StatusCode;
use convene_calls::{Call, CallError, CallInput, CallKind, CallState};
use convene_proto::{CallKindView, CallSignalView, CallStateView, CallView, ServerFrame};
use convene_store::{ConversationEvent, ConversationKind, User};
use uuid::Uuid;

use crate::chat::envelope::{Outbound, Route};
use crate::chat::operations::{self, publish_event, require_member};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn call_view(call: &Call) -> CallView {
    CallView {
        id: call.id,
        conversation_id: call.conversation_id,
        caller_id: call.caller_id,
        callee_id: call.callee_id,
        kind: match call.kind {
            CallKind::Voice => CallKindView::Voice,
            CallKind::Video => CallKindView::Video,
        },
        state: state_view(call.state),
        started_at: call.started_at,
        answered_at: call.answered_at,
        ended_at: call.ended_at,
        answered_by_connection: call.answered_by_connection,
        duration_seconds: call.duration().map(|duration| duration.num_seconds()),
    }
}

pub fn state_view(state: CallState) -> CallStateView {
    match state {
        CallState::Ringing => CallStateView::Ringing,
        CallState::Ongoing => CallStateView::Ongoing,
        CallState::Ended => CallStateView::Ended,
        CallState::Missed => CallStateView::Missed,
        CallState::Declined => CallStateView::Declined,
        CallState::Busy => CallStateView::Busy,
        CallState::Cancelled => CallStateView::Cancelled,
        CallState::Failed => CallStateView::Failed,
    }
}

fn call_not_found() -> ApiError {
    ApiError::not_found("call_not_found", "There is no such call.")
}

fn refused(error: CallError) -> ApiError {
    let code = match error {
        CallError::Ended => "call_ended",
        CallError::NotCallee => "not_callee",
        CallError::NotCaller => "not_caller",
        CallError::NotParticipant => return call_not_found(),
        CallError::NotRinging => "call_not_ringing",
        CallError::NotOngoing => "call_not_ongoing",
    };
    ApiError::new(
        StatusCode::CONFLICT,
        code,
        format!("{}.", capitalize(&error.to_string())),
    )
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Tells every connection of both participants where the call stands; the request that
/// caused it gets its `request_id` back on the connection that sent it.
async fn announce(state: &AppState, call: &Call, request: Option<(Uuid, Option<String>)>) {
    let frame = ServerFrame::CallUpdate {
        request_id: None,
        call: call_view(call),
    };
    let participants = [call.caller_id, call.callee_id];
    match request {
        Some((connection_id, request_id)) if request_id.is_some() => {
            let answer = ServerFrame::CallUpdate {
                request_id,
                call: call_view(call),
            };
            state
                .hub
                .fan_out_except(
                    &participants,
                    Outbound::new(Route::Ephemeral, &frame),
                    connection_id,
                )
                .await;
            state
                .hub
                .fan_out(
                    &participants,
                    Outbound::new(Route::ToConnection { connection_id }, &answer),
                )
                .await;
        }
        _ => {
            state
                .hub
                .fan_out(&participants, Outbound::new(Route::Ephemeral, &frame))
                .await;
        }
    }
}

async fn log(state: &AppState, logged: Option<ConversationEvent>) {
    if let Some(event) = logged
        && let Err(error) = publish_event(state, &event, &[]).await
    {
        tracing::warn!(code = error.code, "publishing a call log entry failed");
    }
}

/// Applies `input` to the stored call and persists it if no other pod changed it first
/// (then it re-reads and tries once more). Announces the result.
pub async fn advance(
    state: &AppState,
    call_id: Uuid,
    input: CallInput,
    request: Option<(Uuid, Option<String>)>,
) -> ApiResult<Call> {
    for _ in 0..3 {
        let current = state
            .store
            .call(call_id)
            .await?
            .ok_or_else(call_not_found)?;
        let next = current
            .apply(input, state.clock.now(), state.settings.call_policy)
            .map_err(refused)?;
        if next == current {
            return Ok(current);
        }
        if let Some(logged) = state.store.transition_call(current.state, &next).await? {
            announce(state, &next, request).await;
            log(state, logged).await;
            return Ok(next);
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "call_changed",
        "The call changed meanwhile; try again.",
    ))
}

/// Starts a call to the other member of a direct chat.
pub async fn invite(
    state: &AppState,
    caller: &User,
    connection_id: Uuid,
    request_id: Option<String>,
    conversation_id: Uuid,
    kind: CallKindView,
) -> ApiResult<Call> {
    let (conversation, _) = require_member(state, conversation_id, caller.id).await?;
    if conversation.kind != ConversationKind::Direct {
        return Err(ApiError::unprocessable(
            "not_a_direct_chat",
            "One-to-one calls start from a direct chat; group calls are meetings.",
        ));
    }
    let callee_id = state
        .store
        .members(conversation_id)
        .await?
        .into_iter()
        .map(|member| member.user_id)
        .find(|member_id| *member_id != caller.id)
        .ok_or_else(operations::conversation_not_found)?;
    if state.store.is_blocked(callee_id, caller.id).await?
        || state.store.is_blocked(caller.id, callee_id).await?
    {
        return Err(ApiError::forbidden("blocked", "You cannot call this user."));
    }
    if state.store.active_call_of(caller.id).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_in_call",
            "You are already in a call.",
        ));
    }
    let callee_busy = state.store.active_call_of(callee_id).await?.is_some();
    let call = Call::start(
        Uuid::now_v7(),
        conversation_id,
        caller.id,
        callee_id,
        match kind {
            CallKindView::Voice => CallKind::Voice,
            CallKindView::Video => CallKind::Video,
        },
        callee_busy,
        state.clock.now(),
    );
    let logged = state.store.create_call(&call).await?;
    state.metrics.chat_event(if callee_busy {
        "call_busy"
    } else {
        "call_started"
    });
    announce(state, &call, Some((connection_id, request_id))).await;
    log(state, logged).await;
    Ok(call)
}

/// Relays negotiation to the other participant: to the callee's answering connection, or
/// to the caller's connections (the tab that placed the call is the one that listens).
pub async fn relay_signal(
    state: &AppState,
    sender: &User,
    connection_id: Uuid,
    call_id: Uuid,
    signal: CallSignalView,
) -> ApiResult<()> {
    check_signal(&signal)?;
    let call = state
        .store
        .call(call_id)
        .await?
        .ok_or_else(call_not_found)?;
    if !call.is_participant(sender.id) {
        return Err(call_not_found());
    }
    if call.state.is_final() {
        return Err(refused(CallError::Ended));
    }
    let outbound = Outbound::new(
        Route::Ephemeral,
        &ServerFrame::CallSignal {
            call_id,
            from_user_id: sender.id,
            signal,
        },
    );
    if sender.id == call.caller_id {
        // Before the answer the callee has no chosen connection yet: the offer waits on
        // the caller's side until `call_update` says ongoing, so only answered calls relay.
        let Some(answering) = call.answered_by_connection else {
            return Err(refused(CallError::NotOngoing));
        };
        let targeted = Outbound {
            route: Route::ToConnection {
                connection_id: answering,
            },
            ..outbound
        };
        state.hub.fan_out(&[call.callee_id], targeted).await;
    } else {
        if call.answered_by_connection != Some(connection_id) {
            return Err(ApiError::forbidden(
                "not_the_answering_connection",
                "This call was answered on another device.",
            ));
        }
        state.hub.fan_out(&[call.caller_id], outbound).await;
    }
    Ok(())
}

/// SDP and candidates are opaque to the server, but bounded and plausible.
fn check_signal(signal: &CallSignalView) -> ApiResult<()> {
    let invalid = |why: &str| {
        ApiError::unprocessable(
            "invalid_signal",
            format!("Invalid signalling message: {why}."),
        )
    };
    match signal {
        CallSignalView::Description { sdp_type, sdp } => {
            if !matches!(
                sdp_type.as_str(),
                "offer" | "answer" | "pranswer" | "rollback"
            ) {
                return Err(invalid("unknown description type"));
            }
            if sdp_type != "rollback" && !sdp.starts_with("v=0") {
                return Err(invalid("the SDP does not start with v=0"));
            }
            if sdp.len() > 24 * 1024 {
                return Err(invalid("the SDP is too large"));
            }
        }
        CallSignalView::Candidate {
            candidate, sdp_mid, ..
        } => {
            if !(candidate.is_empty() || candidate.starts_with("candidate:"))
                || candidate.len() > 1024
            {
                return Err(invalid("not an ICE candidate"));
            }
            if sdp_mid.as_ref().is_some_and(|mid| mid.len() > 64) {
                return Err(invalid("sdpMid is too long"));
            }
        }
        CallSignalView::MediaState { .. } => {}
    }
    Ok(())
}

/// A connection went away: a call it answered fails, and a caller with no connection left
/// cannot continue either.
pub async fn hang_up_calls_of_connection(
    state: &AppState,
    user_id: Uuid,
    connection_id: Uuid,
    last_connection: bool,
) {
    let Ok(Some(call)) = state.store.active_call_of(user_id).await else {
        return;
    };
    let answered_here = call.answered_by_connection == Some(connection_id);
    let caller_gone = call.caller_id == user_id && last_connection;
    if (answered_here || caller_gone)
        && let Err(error) = advance(state, call.id, CallInput::Fail, None).await
    {
        tracing::debug!(code = error.code, "ending the call of a closed connection");
    }
}

/// A participant reports that the media could not be established (or broke for good).
pub async fn fail(
    state: &AppState,
    user: &User,
    connection_id: Uuid,
    request_id: Option<String>,
    call_id: Uuid,
) -> ApiResult<Call> {
    let call = state
        .store
        .call(call_id)
        .await?
        .ok_or_else(call_not_found)?;
    if !call.is_participant(user.id) {
        return Err(call_not_found());
    }
    advance(
        state,
        call_id,
        CallInput::Fail,
        Some((connection_id, request_id)),
    )
    .await
}

/// A user vanished with their pod (swept offline): their call cannot go on.
pub async fn fail_active_call_of(state: &AppState, user_id: Uuid) {
    if let Ok(Some(call)) = state.store.active_call_of(user_id).await
        && let Err(error) = advance(state, call.id, CallInput::Fail, None).await
    {
        tracing::debug!(code = error.code, "ending the call of a vanished user");
    }
}

/// Every participant's request on a call, by connection.
pub async fn accept(
    state: &AppState,
    user: &User,
    connection_id: Uuid,
    request_id: Option<String>,
    call_id: Uuid,
) -> ApiResult<Call> {
    advance(
        state,
        call_id,
        CallInput::Accept {
            by: user.id,
            connection_id,
        },
        Some((connection_id, request_id)),
    )
    .await
}

pub async fn decline(
    state: &AppState,
    user: &User,
    connection_id: Uuid,
    request_id: Option<String>,
    call_id: Uuid,
) -> ApiResult<Call> {
    advance(
        state,
        call_id,
        CallInput::Decline { by: user.id },
        Some((connection_id, request_id)),
    )
    .await
}

pub async fn hang_up(
    state: &AppState,
    user: &User,
    connection_id: Uuid,
    request_id: Option<String>,
    call_id: Uuid,
) -> ApiResult<Call> {
    advance(
        state,
        call_id,
        CallInput::Hangup { by: user.id },
        Some((connection_id, request_id)),
    )
    .await
}
