//! Call rules both backends share, as pure functions: how call kinds and states are spelled in
//! the tables, the precision a stored call keeps, and the `CallLogged` event (the call's line
//! in the chat) that a call becomes when it is final.

use chrono::{DateTime, Utc};
use convene_calls::{Call, CallKind, CallState};

use crate::Result;
use crate::chat_model::{ConversationEvent, EventKind};
use crate::chat_rules::{decode_error, stored_precision};

pub(crate) fn call_kind_to_str(kind: CallKind) -> &'static str {
    match kind {
        CallKind::Voice => "voice",
        CallKind::Video => "video",
    }
}

pub(crate) fn call_kind_from_str(kind: &str) -> Result<CallKind> {
    match kind {
        "voice" => Ok(CallKind::Voice),
        "video" => Ok(CallKind::Video),
        other => Err(decode_error(format!("unknown call kind {other:?}"))),
    }
}

pub(crate) fn call_state_to_str(state: CallState) -> &'static str {
    match state {
        CallState::Ringing => "ringing",
        CallState::Ongoing => "ongoing",
        CallState::Ended => "ended",
        CallState::Missed => "missed",
        CallState::Declined => "declined",
        CallState::Busy => "busy",
        CallState::Cancelled => "cancelled",
        CallState::Failed => "failed",
    }
}

pub(crate) fn call_state_from_str(state: &str) -> Result<CallState> {
    match state {
        "ringing" => Ok(CallState::Ringing),
        "ongoing" => Ok(CallState::Ongoing),
        "ended" => Ok(CallState::Ended),
        "missed" => Ok(CallState::Missed),
        "declined" => Ok(CallState::Declined),
        "busy" => Ok(CallState::Busy),
        "cancelled" => Ok(CallState::Cancelled),
        "failed" => Ok(CallState::Failed),
        other => Err(decode_error(format!("unknown call state {other:?}"))),
    }
}

/// The call as the tables keep it (timestamps in whole microseconds), so that the logged
/// duration is computed from the same instants a later read returns.
pub(crate) fn stored_call(call: &Call) -> Call {
    Call {
        started_at: stored_precision(call.started_at),
        answered_at: call.answered_at.map(stored_precision),
        ended_at: call.ended_at.map(stored_precision),
        ..call.clone()
    }
}

/// When a final call is logged, which is also the conversation's new activity time: when it
/// ended (a call stored final without an end is logged at its start).
pub(crate) fn logged_at(call: &Call) -> DateTime<Utc> {
    call.ended_at.unwrap_or(call.started_at)
}

/// The `CallLogged` event of a final `call` as its conversation's `seq`-th event. The caller
/// is the actor: the store is not told who ended the call, and the call is the caller's doing.
pub(crate) fn call_logged(call: &Call, seq: i64) -> ConversationEvent {
    ConversationEvent {
        conversation_id: call.conversation_id,
        seq,
        actor_id: call.caller_id,
        at: logged_at(call),
        kind: EventKind::CallLogged {
            call_id: call.id,
            caller_id: call.caller_id,
            kind: call.kind,
            outcome: call.state,
            duration_seconds: call.duration().map(|duration| duration.num_seconds()),
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use uuid::Uuid;

    use super::*;

    const STATES: [CallState; 8] = [
        CallState::Ringing,
        CallState::Ongoing,
        CallState::Ended,
        CallState::Missed,
        CallState::Declined,
        CallState::Busy,
        CallState::Cancelled,
        CallState::Failed,
    ];

    #[test]
    fn kinds_and_states_round_trip_through_their_spelling() {
        for kind in [CallKind::Voice, CallKind::Video] {
            assert_eq!(call_kind_from_str(call_kind_to_str(kind)).ok(), Some(kind));
        }
        for state in STATES {
            assert_eq!(
                call_state_from_str(call_state_to_str(state)).ok(),
                Some(state)
            );
        }
        assert!(call_kind_from_str("fax").is_err());
        assert!(call_state_from_str("on hold").is_err());
    }

    #[test]
    fn logged_call_carries_whole_connected_seconds_and_ends_at_the_hangup() {
        let started_at = DateTime::UNIX_EPOCH + Duration::days(20_000);
        let call = Call {
            id: Uuid::new_v4(),
            conversation_id: Uuid::new_v4(),
            caller_id: Uuid::new_v4(),
            callee_id: Uuid::new_v4(),
            kind: CallKind::Video,
            state: CallState::Ended,
            started_at,
            answered_at: Some(started_at + Duration::seconds(5)),
            ended_at: Some(started_at + Duration::milliseconds(65_900)),
            answered_by_connection: Some(Uuid::new_v4()),
        };
        let event = call_logged(&call, 7);
        assert_eq!(
            (event.conversation_id, event.seq, event.actor_id, event.at),
            (
                call.conversation_id,
                7,
                call.caller_id,
                started_at + Duration::milliseconds(65_900)
            )
        );
        assert_eq!(
            event.kind,
            EventKind::CallLogged {
                call_id: call.id,
                caller_id: call.caller_id,
                kind: CallKind::Video,
                outcome: CallState::Ended,
                duration_seconds: Some(60),
            }
        );
        let missed = Call {
            state: CallState::Missed,
            answered_at: None,
            ..call
        };
        assert!(matches!(
            call_logged(&missed, 8).kind,
            EventKind::CallLogged {
                duration_seconds: None,
                ..
            }
        ));
    }
}
