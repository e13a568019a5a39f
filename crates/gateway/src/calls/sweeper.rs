//! Rings out unanswered calls. Every pod sweeps; the compare-and-set in the store makes
//! each call end once.

use std::time::Duration;

use convene_calls::CallInput;
use tokio_util::sync::CancellationToken;

use crate::calls::signalling::advance;
use crate::state::AppState;

const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Ends ringing calls past the ring timeout as missed.
pub async fn sweep_once(state: &AppState) {
    let deadline = state.clock.now() - state.settings.call_policy.ring_timeout;
    let calls = match state
        .store
        .ringing_calls_started_before(deadline, 100)
        .await
    {
        Ok(calls) => calls,
        Err(error) => {
            tracing::debug!(
                error = &error as &dyn std::error::Error,
                "ring-out sweep failed"
            );
            return;
        }
    };
    for call in calls {
        if let Err(error) = advance(state, call.id, CallInput::Tick, None).await {
            tracing::debug!(code = error.code, call_id = %call.id, "ringing out a call");
        }
    }
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => sweep_once(&state).await,
        }
    }
}
