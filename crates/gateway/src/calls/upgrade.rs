//! Adding a third person to a one-to-one call: the call moves to the SFU.
//!
//! A peer-to-peer call carries exactly two people. Adding someone creates a group with the
//! three of them (the call's participants and the new person, as WhatsApp does), tells both
//! participants' connections `call_moved` so that their clients join the group's meeting
//! media without anyone hanging up, ends the peer-to-peer call (logged as an ordinary
//! answered call), and rings the new person.

use convene_calls::CallState;
use convene_proto::ServerFrame;
use convene_store::User;
use uuid::Uuid;

use crate::calls::signalling::hang_up;
use crate::chat::envelope::{Outbound, Route};
use crate::chat::operations;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn add_participant(
    state: &AppState,
    user: &User,
    connection_id: Uuid,
    request_id: Option<String>,
    call_id: Uuid,
    added_user_id: Uuid,
) -> ApiResult<Uuid> {
    let call = state
        .store
        .call(call_id)
        .await?
        .ok_or_else(|| ApiError::not_found("call_not_found", "There is no such call."))?;
    let participants = [call.caller_id, call.callee_id];
    if !participants.contains(&user.id) {
        return Err(ApiError::not_found(
            "call_not_found",
            "There is no such call.",
        ));
    }
    if call.state != CallState::Ongoing {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "call_not_ongoing",
            "People can be added once the call is answered.",
        ));
    }
    if participants.contains(&added_user_id) {
        return Err(ApiError::bad_request(
            "already_in_call",
            "That person is already in the call.",
        ));
    }
    let other_id = if call.caller_id == user.id {
        call.callee_id
    } else {
        call.caller_id
    };
    let mut names = Vec::new();
    for id in [user.id, other_id, added_user_id] {
        let person = state
            .store
            .user_by_id(id)
            .await?
            .ok_or_else(|| ApiError::not_found("user_not_found", "There is no such user."))?;
        names.push(person.display_name);
    }
    // The group checks blocks and guests like any group the user creates.
    let title = format!("{}, {} and {}", names[0], names[1], names[2]);
    let title: String = title.chars().take(100).collect();
    let group =
        operations::create_group(state, user, &title, None, vec![other_id, added_user_id]).await?;
    let moved = ServerFrame::CallMoved {
        call_id,
        conversation_id: group.id,
    };
    state
        .hub
        .fan_out(&participants, Outbound::new(Route::Ephemeral, &moved))
        .await;
    hang_up(state, user, connection_id, request_id, call_id).await?;
    crate::meetings::ring(state, user, group.id, &[added_user_id]).await;
    Ok(group.id)
}
