//! One simulated chat client of the `chat` scenario: it sends on its schedule, receives
//! everything, accounts seqs, and at the end waits until it has its conversation up to the
//! final seq (asking for what it lacks after a stall). With `reconnect` it connects again
//! (to the next gateway), resumes from its cursor and resends what was not acknowledged with
//! the same client ids, as a real client does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::ChatConfig;
use crate::Result;
use crate::metrics::LatencyRecorder;
use crate::progress::LiveCounters;
use crate::sequence::{Observation, SequenceTracker};
use crate::targets::{Connection, ConversationRef, Incoming, Outgoing, Target, UserAccount};

/// The text of a message: its *scheduled* send time (µs since the epoch) first, so that any
/// recipient can measure latency from when the open-loop schedule said it should go (a load
/// tester that falls behind its schedule then shows its own lag in the latency instead of
/// hiding it: no coordinated omission), then padding.
fn message_text(scheduled_micros: u64, message_bytes: usize) -> String {
    let mut text = format!("lt {scheduled_micros} ");
    while text.len() < message_bytes {
        text.push('x');
    }
    text
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

/// The send time in a message text, if it is one of ours.
fn sent_at_micros(text: &str) -> Option<u64> {
    text.strip_prefix("lt ")?.split(' ').next()?.parse().ok()
}

/// What one user's task measured.
#[derive(Default)]
pub(super) struct UserOutcome {
    pub(super) delivery_latency: LatencyRecorder,
    pub(super) ack_latency: LatencyRecorder,
    /// How late each send fired against its scheduled time (the tester's own lag, and the
    /// time a reconnecting client could not send); already included in both latencies.
    pub(super) send_lag: LatencyRecorder,
    pub(super) sent: u64,
    pub(super) acked: u64,
    pub(super) acked_as_duplicate: u64,
    pub(super) deliveries: u64,
    pub(super) last_delivery: Option<Instant>,
    pub(super) errors: BTreeMap<String, u64>,
    pub(super) duplicates: u64,
    pub(super) repeated_messages: u64,
    pub(super) live_stream_gaps: u64,
    pub(super) resyncs: u64,
    pub(super) reconnects: u64,
    pub(super) unacked: u64,
    pub(super) tracker: Option<SequenceTracker>,
}

pub(super) struct UserPlan {
    pub(super) user: UserAccount,
    pub(super) user_index: usize,
    pub(super) conversation: ConversationRef,
    pub(super) send_interval: Duration,
    pub(super) first_send_offset: Duration,
}

pub(super) fn merge(total: &mut UserOutcome, user: UserOutcome) {
    total.delivery_latency.merge(&user.delivery_latency);
    total.ack_latency.merge(&user.ack_latency);
    total.send_lag.merge(&user.send_lag);
    total.sent += user.sent;
    total.acked += user.acked;
    total.acked_as_duplicate += user.acked_as_duplicate;
    total.deliveries += user.deliveries;
    total.last_delivery = total.last_delivery.max(user.last_delivery);
    for (code, count) in user.errors {
        *total.errors.entry(code).or_default() += count;
    }
    total.duplicates += user.duplicates;
    total.repeated_messages += user.repeated_messages;
    total.live_stream_gaps += user.live_stream_gaps;
    total.resyncs += user.resyncs;
    total.reconnects += user.reconnects;
    total.unacked += user.unacked;
}

/// Asks for the conversation's events after `cursor` and waits for the answer.
pub(super) async fn subscribe(
    connection: &mut Connection,
    conversation: &ConversationRef,
    cursor: i64,
) -> Result<()> {
    connection
        .send(Outgoing::Subscribe {
            cursors: vec![(conversation.conversation_id.clone(), cursor)],
        })
        .await?;
    Ok(())
}

/// How long a recipient waits, once it knows the final seq, before asking for what it lacks.
const STALL_BEFORE_FETCH: Duration = Duration::from_secs(2);
/// How long a client waits before connecting again after its socket closed (grows per
/// attempt, with jitter).
const RECONNECT_BASE_DELAY: Duration = Duration::from_millis(200);
const MAX_RECONNECT_ATTEMPTS: u32 = 20;

struct PendingSend {
    text: String,
    /// When the schedule said to send it (ack latency is measured from here).
    scheduled_at: Instant,
}

/// One simulated user: sends on its schedule, receives everything, and at the end waits until
/// it has its conversation up to the final seq.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_user(
    target: Arc<dyn Target>,
    plan: UserPlan,
    connection: Connection,
    config: ChatConfig,
    started: Instant,
    counters: Arc<LiveCounters>,
    sending_done: tokio::sync::mpsc::Sender<()>,
    mut last_seqs: watch::Receiver<Option<Arc<HashMap<String, i64>>>>,
) -> UserOutcome {
    let mut outcome = UserOutcome::default();
    let mut tracker = SequenceTracker::new(plan.conversation.base_seq);
    // The wall clock at `started`, to put scheduled instants into message texts.
    let started_micros = unix_micros().saturating_sub(started.elapsed().as_micros() as u64);
    let mut connection = Some(connection);
    let mut pending: BTreeMap<String, PendingSend> = BTreeMap::new();
    let client_id_prefix = format!("{}-", plan.user.username);
    let send_until = started + config.duration;
    let drain_deadline = send_until + config.drain_timeout;
    let mut next_send = started + plan.first_send_offset;
    let mut message_index = 0u64;
    let mut sending_done = Some(sending_done);
    let mut final_seq: Option<i64> = None;
    let mut caught_up_check = tokio::time::interval(Duration::from_millis(100));
    let mut fetched_at: Option<Instant> = None;
    let mut behind_since: Option<Instant> = None;
    let count_error = |outcome: &mut UserOutcome, code: &str| {
        *outcome.errors.entry(code.to_owned()).or_default() += 1;
        LiveCounters::add(&counters.errors, 1);
    };

    loop {
        let now = Instant::now();
        if now >= drain_deadline {
            break;
        }
        if let Some(final_seq) = final_seq
            && tracker.cursor() >= final_seq
        {
            break;
        }
        if now >= send_until
            && pending.is_empty()
            && let Some(done) = sending_done.take()
        {
            let _ = done.send(()).await;
        }
        let Some(active) = connection.as_mut() else {
            // Reconnect (only with `reconnect`; otherwise the connection is gone for good).
            if !config.reconnect || outcome.reconnects >= u64::from(MAX_RECONNECT_ATTEMPTS) {
                break;
            }
            outcome.reconnects += 1;
            let attempt = outcome.reconnects as u32;
            let delay = RECONNECT_BASE_DELAY * attempt.min(10)
                + Duration::from_millis(rand::random::<u64>() % 200);
            tokio::time::sleep(delay).await;
            let gateway_index = plan.user_index + attempt as usize;
            match target.connect(&plan.user, gateway_index).await {
                Ok(mut reconnected) => {
                    if subscribe(&mut reconnected, &plan.conversation, tracker.cursor())
                        .await
                        .is_ok()
                    {
                        // Resend what was not acknowledged, with the same client ids.
                        for (client_id, send) in &pending {
                            let _ = reconnected
                                .send(Outgoing::Send {
                                    conversation_id: plan.conversation.conversation_id.clone(),
                                    client_id: client_id.clone(),
                                    text: send.text.clone(),
                                })
                                .await;
                        }
                        connection = Some(reconnected);
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, user = %plan.user.username, "reconnect failed");
                }
            }
            continue;
        };
        let sending = now < send_until;
        let send_timer = tokio::time::sleep_until(next_send.into());
        tokio::select! {
            _ = send_timer, if sending => {
                message_index += 1;
                let scheduled_at = next_send;
                next_send += plan.send_interval;
                let fired_at = Instant::now();
                outcome.send_lag.record(fired_at.saturating_duration_since(scheduled_at), scheduled_at.duration_since(started));
                let client_id = format!("{client_id_prefix}{message_index}");
                let scheduled_micros = started_micros + scheduled_at.duration_since(started).as_micros() as u64;
                let text = message_text(scheduled_micros, config.message_bytes);
                pending.insert(client_id.clone(), PendingSend { text: text.clone(), scheduled_at });
                outcome.sent += 1;
                LiveCounters::add(&counters.sent, 1);
                let request = Outgoing::Send {
                    conversation_id: plan.conversation.conversation_id.clone(),
                    client_id,
                    text,
                };
                if active.send(request).await.is_err() {
                    connection = None;
                }
            }
            incoming = active.incoming.recv() => {
                let Some(incoming) = incoming else {
                    connection = None;
                    continue;
                };
                match incoming {
                    Incoming::Event { conversation_id, seq, message, via_fetch } => {
                        if conversation_id != plan.conversation.conversation_id {
                            continue;
                        }
                        let client_id = message.as_ref().map(|message| message.client_id.as_str());
                        if tracker.observe_event(seq, client_id, via_fetch) != Observation::New {
                            continue;
                        }
                        let Some(message) = message else { continue };
                        if message.client_id.starts_with(&client_id_prefix) {
                            continue;
                        }
                        outcome.deliveries += 1;
                        LiveCounters::add(&counters.deliveries, 1);
                        let received = Instant::now();
                        outcome.last_delivery = Some(received);
                        if let Some(sent_micros) = sent_at_micros(&message.text) {
                            let latency = Duration::from_micros(unix_micros().saturating_sub(sent_micros));
                            outcome.delivery_latency.record(latency, received.duration_since(started));
                        }
                    }
                    Incoming::SendAcked { client_id, duplicate, .. } => {
                        if let Some(send) = pending.remove(&client_id) {
                            outcome.acked += 1;
                            if duplicate {
                                outcome.acked_as_duplicate += 1;
                            }
                            outcome.ack_latency.record(send.scheduled_at.elapsed(), send.scheduled_at.duration_since(started));
                        }
                    }
                    Incoming::SendFailed { client_id, code } => {
                        pending.remove(&client_id);
                        count_error(&mut outcome, &code);
                    }
                    Incoming::Error { code, .. } => count_error(&mut outcome, &code),
                    Incoming::ResyncRequired { conversation_id } => {
                        // The server says live events were dropped: ask history from the
                        // cursor at once, as a real client does. What that fetch brings counts
                        // as live-stream gaps.
                        outcome.resyncs += 1;
                        if conversation_id.as_ref().is_none_or(|id| *id == plan.conversation.conversation_id) {
                            fetched_at = Some(Instant::now());
                            let request = Outgoing::Fetch {
                                conversation_id: plan.conversation.conversation_id.clone(),
                                after_seq: tracker.cursor(),
                            };
                            if active.send(request).await.is_err() {
                                connection = None;
                            }
                        }
                    }
                    Incoming::Subscribed => {}
                    Incoming::Closed { reason } => {
                        tracing::debug!(user = %plan.user.username, %reason, "connection closed");
                        if !config.reconnect {
                            count_error(&mut outcome, "connection_closed");
                        }
                        connection = None;
                    }
                }
            }
            _ = caught_up_check.tick() => {}
            changed = last_seqs.changed(), if final_seq.is_none() => {
                if changed.is_ok()
                    && let Some(seqs) = last_seqs.borrow().as_ref()
                {
                    final_seq = Some(seqs.get(&plan.conversation.conversation_id).copied().unwrap_or(plan.conversation.base_seq));
                }
            }
        }
        // Once the final seq is known, a recipient that stalls below it asks for the rest,
        // as a client that notices a gap does.
        if let (Some(final_seq), Some(active)) = (final_seq, connection.as_ref())
            && tracker.cursor() < final_seq
        {
            let since = *behind_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= STALL_BEFORE_FETCH
                && fetched_at.is_none_or(|at| at.elapsed() >= STALL_BEFORE_FETCH)
            {
                fetched_at = Some(Instant::now());
                let _ = active
                    .send(Outgoing::Fetch {
                        conversation_id: plan.conversation.conversation_id.clone(),
                        after_seq: tracker.cursor(),
                    })
                    .await;
            }
        }
    }
    if let Some(done) = sending_done.take() {
        let _ = done.send(()).await;
    }
    outcome.unacked = pending.len() as u64;
    outcome.duplicates = tracker.duplicates();
    outcome.repeated_messages = tracker.repeated_messages();
    outcome.live_stream_gaps = tracker.live_stream_gaps();
    outcome.tracker = Some(tracker);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_time_is_read_back_from_the_text() {
        let text = message_text(unix_micros(), 64);
        assert!(text.len() >= 64);
        let sent = sent_at_micros(&text).unwrap();
        assert!(sent > 1_700_000_000_000_000);
        assert_eq!(sent_at_micros("hello"), None);
    }
}
