//! The life of a one-to-one call, as a pure state machine.
//!
//! A call starts `Ringing`; the callee accepts (`Ongoing`), declines, or lets it ring out
//! (`Missed`); the caller may cancel while it rings; either side hangs up an ongoing call
//! (`Ended`); a call to someone already in a call is `Busy`; a call whose media never
//! connects, or whose participant vanished, is `Failed`. [`Call::apply`] takes one input and
//! the current time and returns the next call or why the input is refused; it owns no
//! socket, task, lock or clock, so every transition and timeout is tested on virtual time.
//!
//! Architecture invariant: no IO. The gateway persists each transition (atomically, so two
//! pods cannot both accept) and tells the participants.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    Voice,
    Video,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    Ringing,
    Ongoing,
    /// Hung up after being answered.
    Ended,
    /// Rang out without an answer.
    Missed,
    Declined,
    /// The callee was already in a call.
    Busy,
    /// The caller gave up while it rang.
    Cancelled,
    /// Media never connected, or a participant's connection vanished.
    Failed,
}

impl CallState {
    pub fn is_final(self) -> bool {
        !matches!(self, CallState::Ringing | CallState::Ongoing)
    }
}

/// Timing rules, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallPolicy {
    /// A call rings this long before it is missed (45 s).
    pub ring_timeout: Duration,
}

impl Default for CallPolicy {
    fn default() -> Self {
        Self {
            ring_timeout: Duration::seconds(45),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub caller_id: Uuid,
    pub callee_id: Uuid,
    pub kind: CallKind,
    pub state: CallState,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The callee's connection that answered; signalling goes only there.
    pub answered_by_connection: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallInput {
    /// The callee accepted on one of its connections.
    Accept {
        by: Uuid,
        connection_id: Uuid,
    },
    Decline {
        by: Uuid,
    },
    /// The caller gave up.
    Cancel {
        by: Uuid,
    },
    /// Either participant ended an ongoing call.
    Hangup {
        by: Uuid,
    },
    /// Time passed; a ringing call past its timeout becomes missed.
    Tick,
    /// Media could not be established, or a participant disappeared.
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("the call has already ended")]
    Ended,
    #[error("only the callee can do that")]
    NotCallee,
    #[error("only the caller can do that")]
    NotCaller,
    #[error("not a participant of this call")]
    NotParticipant,
    #[error("the call is not ringing")]
    NotRinging,
    #[error("the call is not ongoing")]
    NotOngoing,
}

impl Call {
    /// A new call. `callee_busy` (already ringing or in another call) ends it at once.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        id: Uuid,
        conversation_id: Uuid,
        caller_id: Uuid,
        callee_id: Uuid,
        kind: CallKind,
        callee_busy: bool,
        now: DateTime<Utc>,
    ) -> Self {
        let state = if callee_busy {
            CallState::Busy
        } else {
            CallState::Ringing
        };
        Self {
            id,
            conversation_id,
            caller_id,
            callee_id,
            kind,
            state,
            started_at: now,
            answered_at: None,
            ended_at: state.is_final().then_some(now),
            answered_by_connection: None,
        }
    }

    pub fn is_participant(&self, user_id: Uuid) -> bool {
        user_id == self.caller_id || user_id == self.callee_id
    }

    /// When a ringing call rings out; `None` otherwise.
    pub fn deadline(&self, policy: CallPolicy) -> Option<DateTime<Utc>> {
        (self.state == CallState::Ringing).then(|| self.started_at + policy.ring_timeout)
    }

    /// How long the call was connected, for the log.
    pub fn duration(&self) -> Option<Duration> {
        Some(self.ended_at? - self.answered_at?)
    }

    /// The call after `input` at `now`, or why the input does not apply. `Ok` with an
    /// unchanged call means nothing happened (a `Tick` before the deadline).
    pub fn apply(
        &self,
        input: CallInput,
        now: DateTime<Utc>,
        policy: CallPolicy,
    ) -> Result<Call, CallError> {
        // A ringing call past its deadline is missed whatever else arrives: an answer after
        // 45 s must not connect a call the caller has been told rang out.
        if let Some(deadline) = self.deadline(policy)
            && now >= deadline
        {
            return match input {
                CallInput::Tick => Ok(self.finish(CallState::Missed, now)),
                _ => Err(CallError::NotRinging),
            };
        }
        if self.state.is_final() {
            return match input {
                CallInput::Tick => Ok(self.clone()),
                _ => Err(CallError::Ended),
            };
        }
        match input {
            CallInput::Tick => Ok(self.clone()),
            CallInput::Accept { by, connection_id } => {
                self.require_callee(by)?;
                self.require(CallState::Ringing, CallError::NotRinging)?;
                Ok(Call {
                    state: CallState::Ongoing,
                    answered_at: Some(now),
                    answered_by_connection: Some(connection_id),
                    ..self.clone()
                })
            }
            CallInput::Decline { by } => {
                self.require_callee(by)?;
                self.require(CallState::Ringing, CallError::NotRinging)?;
                Ok(self.finish(CallState::Declined, now))
            }
            CallInput::Cancel { by } => {
                if by != self.caller_id {
                    return Err(if self.is_participant(by) {
                        CallError::NotCaller
                    } else {
                        CallError::NotParticipant
                    });
                }
                self.require(CallState::Ringing, CallError::NotRinging)?;
                Ok(self.finish(CallState::Cancelled, now))
            }
            CallInput::Hangup { by } => {
                if !self.is_participant(by) {
                    return Err(CallError::NotParticipant);
                }
                match self.state {
                    CallState::Ongoing => Ok(self.finish(CallState::Ended, now)),
                    // Hanging up a ringing call: the caller cancels, the callee declines.
                    CallState::Ringing if by == self.caller_id => {
                        Ok(self.finish(CallState::Cancelled, now))
                    }
                    CallState::Ringing => Ok(self.finish(CallState::Declined, now)),
                    _ => Err(CallError::NotOngoing),
                }
            }
            CallInput::Fail => Ok(self.finish(CallState::Failed, now)),
        }
    }

    fn require(&self, state: CallState, error: CallError) -> Result<(), CallError> {
        if self.state == state {
            Ok(())
        } else {
            Err(error)
        }
    }

    fn require_callee(&self, by: Uuid) -> Result<(), CallError> {
        if by == self.callee_id {
            Ok(())
        } else if by == self.caller_id {
            Err(CallError::NotCallee)
        } else {
            Err(CallError::NotParticipant)
        }
    }

    fn finish(&self, state: CallState, now: DateTime<Utc>) -> Call {
        Call {
            state,
            ended_at: Some(now),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        caller: Uuid,
        callee: Uuid,
        stranger: Uuid,
        t0: DateTime<Utc>,
        policy: CallPolicy,
    }

    fn fixture() -> Fixture {
        Fixture {
            caller: Uuid::from_u128(1),
            callee: Uuid::from_u128(2),
            stranger: Uuid::from_u128(3),
            t0: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            policy: CallPolicy::default(),
        }
    }

    fn ringing(f: &Fixture) -> Call {
        Call::start(
            Uuid::from_u128(9),
            Uuid::from_u128(8),
            f.caller,
            f.callee,
            CallKind::Video,
            false,
            f.t0,
        )
    }

    fn at(f: &Fixture, seconds: i64) -> DateTime<Utc> {
        f.t0 + Duration::seconds(seconds)
    }

    #[test]
    fn accepted_call_is_ongoing_then_ended_with_a_duration() {
        let f = fixture();
        let connection = Uuid::from_u128(77);
        let call = ringing(&f)
            .apply(
                CallInput::Accept {
                    by: f.callee,
                    connection_id: connection,
                },
                at(&f, 5),
                f.policy,
            )
            .unwrap();
        assert_eq!(call.state, CallState::Ongoing);
        assert_eq!(call.answered_by_connection, Some(connection));
        // Once answered, the ring timeout no longer applies.
        let call = call.apply(CallInput::Tick, at(&f, 600), f.policy).unwrap();
        assert_eq!(call.state, CallState::Ongoing);
        let call = call
            .apply(CallInput::Hangup { by: f.caller }, at(&f, 257), f.policy)
            .unwrap();
        assert_eq!(call.state, CallState::Ended);
        assert_eq!(call.duration(), Some(Duration::seconds(252)));
    }

    #[test]
    fn unanswered_call_is_missed_at_the_deadline_and_not_before() {
        let f = fixture();
        let call = ringing(&f);
        assert_eq!(call.deadline(f.policy), Some(at(&f, 45)));
        assert_eq!(
            call.apply(CallInput::Tick, at(&f, 44), f.policy)
                .unwrap()
                .state,
            CallState::Ringing
        );
        let missed = call.apply(CallInput::Tick, at(&f, 45), f.policy).unwrap();
        assert_eq!(missed.state, CallState::Missed);
        assert_eq!(missed.ended_at, Some(at(&f, 45)));
        assert_eq!(missed.duration(), None);
        assert_eq!(missed.deadline(f.policy), None);
    }

    #[test]
    fn an_answer_after_the_deadline_is_refused() {
        let f = fixture();
        let late = ringing(&f).apply(
            CallInput::Accept {
                by: f.callee,
                connection_id: Uuid::nil(),
            },
            at(&f, 46),
            f.policy,
        );
        assert_eq!(late, Err(CallError::NotRinging));
    }

    #[test]
    fn decline_and_cancel_end_a_ringing_call() {
        let f = fixture();
        assert_eq!(
            ringing(&f)
                .apply(CallInput::Decline { by: f.callee }, at(&f, 3), f.policy)
                .unwrap()
                .state,
            CallState::Declined
        );
        assert_eq!(
            ringing(&f)
                .apply(CallInput::Cancel { by: f.caller }, at(&f, 3), f.policy)
                .unwrap()
                .state,
            CallState::Cancelled
        );
        assert_eq!(
            ringing(&f)
                .apply(CallInput::Hangup { by: f.caller }, at(&f, 3), f.policy)
                .unwrap()
                .state,
            CallState::Cancelled
        );
        assert_eq!(
            ringing(&f)
                .apply(CallInput::Hangup { by: f.callee }, at(&f, 3), f.policy)
                .unwrap()
                .state,
            CallState::Declined
        );
    }

    #[test]
    fn only_the_right_participant_may_act() {
        let f = fixture();
        let call = ringing(&f);
        let now = at(&f, 1);
        assert_eq!(
            call.apply(
                CallInput::Accept {
                    by: f.caller,
                    connection_id: Uuid::nil()
                },
                now,
                f.policy
            ),
            Err(CallError::NotCallee)
        );
        assert_eq!(
            call.apply(
                CallInput::Accept {
                    by: f.stranger,
                    connection_id: Uuid::nil()
                },
                now,
                f.policy
            ),
            Err(CallError::NotParticipant)
        );
        assert_eq!(
            call.apply(CallInput::Decline { by: f.caller }, now, f.policy),
            Err(CallError::NotCallee)
        );
        assert_eq!(
            call.apply(CallInput::Cancel { by: f.callee }, now, f.policy),
            Err(CallError::NotCaller)
        );
        assert_eq!(
            call.apply(CallInput::Cancel { by: f.stranger }, now, f.policy),
            Err(CallError::NotParticipant)
        );
        assert_eq!(
            call.apply(CallInput::Hangup { by: f.stranger }, now, f.policy),
            Err(CallError::NotParticipant)
        );
    }

    #[test]
    fn ongoing_calls_cannot_be_answered_declined_or_cancelled() {
        let f = fixture();
        let call = ringing(&f)
            .apply(
                CallInput::Accept {
                    by: f.callee,
                    connection_id: Uuid::nil(),
                },
                at(&f, 2),
                f.policy,
            )
            .unwrap();
        let now = at(&f, 3);
        assert_eq!(
            call.apply(
                CallInput::Accept {
                    by: f.callee,
                    connection_id: Uuid::nil()
                },
                now,
                f.policy
            ),
            Err(CallError::NotRinging)
        );
        assert_eq!(
            call.apply(CallInput::Decline { by: f.callee }, now, f.policy),
            Err(CallError::NotRinging)
        );
        assert_eq!(
            call.apply(CallInput::Cancel { by: f.caller }, now, f.policy),
            Err(CallError::NotRinging)
        );
    }

    #[test]
    fn ended_calls_refuse_everything_but_time() {
        let f = fixture();
        let ended = ringing(&f)
            .apply(CallInput::Decline { by: f.callee }, at(&f, 2), f.policy)
            .unwrap();
        for input in [
            CallInput::Accept {
                by: f.callee,
                connection_id: Uuid::nil(),
            },
            CallInput::Decline { by: f.callee },
            CallInput::Cancel { by: f.caller },
            CallInput::Hangup { by: f.caller },
            CallInput::Fail,
        ] {
            assert_eq!(
                ended.apply(input, at(&f, 3), f.policy),
                Err(CallError::Ended),
                "{input:?}"
            );
        }
        assert_eq!(
            ended.apply(CallInput::Tick, at(&f, 100), f.policy).unwrap(),
            ended
        );
    }

    #[test]
    fn calling_a_busy_callee_ends_at_once() {
        let f = fixture();
        let call = Call::start(
            Uuid::from_u128(9),
            Uuid::from_u128(8),
            f.caller,
            f.callee,
            CallKind::Voice,
            true,
            f.t0,
        );
        assert_eq!(call.state, CallState::Busy);
        assert_eq!(call.ended_at, Some(f.t0));
        assert_eq!(call.deadline(f.policy), None);
    }

    #[test]
    fn failures_end_ringing_and_ongoing_calls() {
        let f = fixture();
        assert_eq!(
            ringing(&f)
                .apply(CallInput::Fail, at(&f, 1), f.policy)
                .unwrap()
                .state,
            CallState::Failed
        );
        let ongoing = ringing(&f)
            .apply(
                CallInput::Accept {
                    by: f.callee,
                    connection_id: Uuid::nil(),
                },
                at(&f, 1),
                f.policy,
            )
            .unwrap();
        let failed = ongoing.apply(CallInput::Fail, at(&f, 9), f.policy).unwrap();
        assert_eq!(failed.state, CallState::Failed);
        assert_eq!(failed.duration(), Some(Duration::seconds(8)));
    }

    #[test]
    fn custom_ring_timeout_is_honoured() {
        let f = fixture();
        let policy = CallPolicy {
            ring_timeout: Duration::seconds(10),
        };
        let call = ringing(&f);
        assert_eq!(
            call.apply(CallInput::Tick, at(&f, 9), policy)
                .unwrap()
                .state,
            CallState::Ringing
        );
        assert_eq!(
            call.apply(CallInput::Tick, at(&f, 10), policy)
                .unwrap()
                .state,
            CallState::Missed
        );
    }
}
