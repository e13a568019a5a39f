//! `chat`: N users in K group conversations send at an aggregate rate for a duration; every
//! recipient measures send-to-receive latency (the send time travels in the text) and checks
//! seqs per conversation for gaps and duplicates. After the run, each recipient's missing seqs
//! are checked against the conversation's history, so only a message that exists and never
//! arrived counts as a gap.
//!
//! With `reconnect` (the `chaos` scenario), a client whose socket closes connects again to the
//! next gateway, resumes from its cursor and resends its unacknowledged messages with the same
//! client ids, as a real client does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::watch;

use super::setup::{self, Population};
use crate::metrics::{LatencyAtSecond, LatencyRecorder, LatencySummary, PercentilePoint};
use crate::progress::{LiveCounters, LiveProgress};
use crate::sequence::{Observation, SequenceTracker};
use crate::targets::{
    Connection, ConversationRef, Incoming, Outgoing, Target, TargetKind, UserAccount,
};
use crate::{Error, Result, bounds};

/// What to run.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub users: usize,
    pub conversations: usize,
    /// Messages per second, all users together.
    pub rate_per_second: f64,
    pub duration: Duration,
    /// Approximate size of each message body.
    pub message_bytes: usize,
    /// After sending stops, how long to wait for the last deliveries.
    pub drain_timeout: Duration,
    /// Reconnect closed sockets (to the next gateway) and resume (the chaos scenario).
    pub reconnect: bool,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            users: 20,
            conversations: 4,
            rate_per_second: 10.0,
            duration: Duration::from_secs(10),
            message_bytes: 64,
            drain_timeout: Duration::from_secs(15),
            reconnect: false,
        }
    }
}

impl ChatConfig {
    pub fn validate(&self) -> Result<()> {
        bounds::check_range("--users", self.users as u64, 2, bounds::MAX_USERS)?;
        bounds::check_range(
            "--conversations",
            self.conversations as u64,
            1,
            bounds::MAX_CONVERSATIONS,
        )?;
        if self.users < 2 * self.conversations {
            return Err(Error::BelowMinimum {
                setting: "--users (two per conversation)",
                minimum: 2 * self.conversations as u64,
            });
        }
        bounds::check_range(
            "--rate",
            self.rate_per_second.ceil() as u64,
            1,
            bounds::MAX_RATE_PER_SECOND,
        )?;
        bounds::check_duration("--duration", self.duration)?;
        bounds::check_range("--message-bytes", self.message_bytes as u64, 16, 4_000)?;
        Ok(())
    }
}

/// The result of one chat run.
#[derive(Debug, Clone, Serialize)]
pub struct ChatReport {
    pub target: TargetKind,
    pub base_urls: Vec<String>,
    pub users: usize,
    pub conversations: usize,
    pub rate_per_second: f64,
    pub duration_seconds: f64,
    pub sent: u64,
    pub acked: u64,
    /// Retries answered as duplicates (the same client id): expected after reconnects.
    pub acked_as_duplicate: u64,
    /// Every message should reach every other member of its conversation.
    pub expected_deliveries: u64,
    pub deliveries: u64,
    /// Deliveries from the first send to the last delivery.
    pub deliveries_per_second: f64,
    pub measured_seconds: f64,
    pub delivery_latency: LatencySummary,
    pub ack_latency: LatencySummary,
    pub connect_latency: LatencySummary,
    pub delivery_latency_over_time: Vec<LatencyAtSecond>,
    pub delivery_percentile_curve: Vec<PercentilePoint>,
    /// Errors by code (failed sends, error frames, failed connects).
    pub errors: BTreeMap<String, u64>,
    /// Seqs in history that a recipient never received.
    pub gaps: u64,
    /// Seqs a recipient received more than once.
    pub duplicates: u64,
    /// Seqs a recipient got only by asking (`fetch_events` / history) after a stall.
    pub repaired_by_fetch: u64,
    pub reconnects: u64,
    /// Sends still unacknowledged at the end.
    pub unacked: u64,
}

impl ChatReport {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The text of a message: the send time (µs since the epoch) first, so that any recipient
/// can measure latency, then padding.
fn message_text(message_bytes: usize) -> String {
    let micros = unix_micros();
    let mut text = format!("lt {micros} ");
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
struct UserOutcome {
    delivery_latency: LatencyRecorder,
    ack_latency: LatencyRecorder,
    sent: u64,
    acked: u64,
    acked_as_duplicate: u64,
    deliveries: u64,
    last_delivery: Option<Instant>,
    errors: BTreeMap<String, u64>,
    duplicates: u64,
    repaired_by_fetch: u64,
    reconnects: u64,
    unacked: u64,
    tracker: Option<SequenceTracker>,
}

struct UserPlan {
    user: UserAccount,
    user_index: usize,
    conversation: ConversationRef,
    send_interval: Duration,
    first_send_offset: Duration,
}

/// Runs the scenario on `target`. `on_sending` is told when every client is connected and
/// sending starts (the chaos scenario starts its disruptions then).
pub async fn run(
    target: Arc<dyn Target>,
    config: &ChatConfig,
    counters: Arc<LiveCounters>,
    on_sending: Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<ChatReport> {
    config.validate()?;
    let run_id = setup::run_id();
    let Population {
        users,
        conversations,
        membership,
    } = setup::populate(target.as_ref(), &run_id, config.users, config.conversations).await?;

    let mut connect_latency = LatencyRecorder::new();
    let opened = futures::stream::iter(users.iter().enumerate().map(|(user_index, user)| {
        let target = target.clone();
        let conversation = conversations[membership[user_index]].clone();
        async move {
            let mut connection = target.connect(user, user_index).await?;
            subscribe(&mut connection, &conversation, conversation.base_seq).await?;
            setup::wait_subscribed(&mut connection).await?;
            Ok::<_, Error>(connection)
        }
    }))
    .buffered(setup::CONNECT_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    let mut connections = Vec::with_capacity(users.len());
    for connection in opened {
        let connection = connection?;
        connect_latency.record(connection.connect_latency, Duration::ZERO);
        LiveCounters::add(&counters.connected, 1);
        connections.push(connection);
    }

    let per_user_rate = config.rate_per_second / users.len() as f64;
    let send_interval = Duration::from_secs_f64(1.0 / per_user_rate);
    let (last_seqs_tx, last_seqs_rx) = watch::channel(None::<Arc<HashMap<String, i64>>>);
    let (sending_done_tx, mut sending_done_rx) = tokio::sync::mpsc::channel(users.len());
    let progress = LiveProgress::start("chat", config.duration, counters.clone());
    let started = Instant::now();
    if let Some(on_sending) = on_sending {
        let _ = on_sending.send(());
    }
    let mut tasks = Vec::with_capacity(users.len());
    for (user_index, connection) in connections.into_iter().enumerate() {
        let plan = UserPlan {
            user: users[user_index].clone(),
            user_index,
            conversation: conversations[membership[user_index]].clone(),
            send_interval,
            first_send_offset: send_interval.mul_f64(rand::random::<f64>()),
        };
        tasks.push(tokio::spawn(run_user(
            target.clone(),
            plan,
            connection,
            config.clone(),
            started,
            counters.clone(),
            sending_done_tx.clone(),
            last_seqs_rx.clone(),
        )));
    }
    drop(sending_done_tx);

    // Once every task has its sends acknowledged (or gave up), the conversations' logs are
    // final: tell the tasks how far each went, so each knows when it has everything.
    let mut done = 0;
    while done < users.len() && sending_done_rx.recv().await.is_some() {
        done += 1;
    }
    drop(progress);
    let last_seqs =
        Arc::new(read_last_seqs(target.as_ref(), &users, &conversations, &membership).await?);
    let _ = last_seqs_tx.send(Some(last_seqs.clone()));

    let mut outcome = UserOutcome::default();
    let mut gaps = 0;
    for (user_index, task) in tasks.into_iter().enumerate() {
        let user_outcome = task.await.map_err(|error| Error::Protocol {
            peer: "load tester".to_owned(),
            detail: format!("a user task failed: {error}"),
        })?;
        let conversation = &conversations[membership[user_index]];
        let last_seq = last_seqs
            .get(&conversation.conversation_id)
            .copied()
            .unwrap_or(conversation.base_seq);
        if let Some(tracker) = &user_outcome.tracker {
            gaps += tracker.missing_up_to(last_seq).len() as u64;
        }
        merge(&mut outcome, user_outcome);
    }
    let measured = outcome
        .last_delivery
        .map_or(config.duration, |last| last.duration_since(started))
        .max(Duration::from_millis(1));
    let expected_deliveries = conversations
        .iter()
        .enumerate()
        .map(|(index, conversation)| {
            let members = membership.iter().filter(|&&m| m == index).count() as u64;
            let last_seq = last_seqs
                .get(&conversation.conversation_id)
                .copied()
                .unwrap_or(conversation.base_seq);
            (last_seq - conversation.base_seq).max(0) as u64 * members.saturating_sub(1)
        })
        .sum();
    Ok(ChatReport {
        target: target.kind(),
        base_urls: target.base_urls().to_vec(),
        users: users.len(),
        conversations: conversations.len(),
        rate_per_second: config.rate_per_second,
        duration_seconds: config.duration.as_secs_f64(),
        sent: outcome.sent,
        acked: outcome.acked,
        acked_as_duplicate: outcome.acked_as_duplicate,
        expected_deliveries,
        deliveries: outcome.deliveries,
        deliveries_per_second: outcome.deliveries as f64 / measured.as_secs_f64(),
        measured_seconds: measured.as_secs_f64(),
        delivery_latency: outcome.delivery_latency.summary(),
        ack_latency: outcome.ack_latency.summary(),
        connect_latency: connect_latency.summary(),
        delivery_latency_over_time: outcome.delivery_latency.over_time(),
        delivery_percentile_curve: outcome.delivery_latency.percentile_curve(),
        errors: outcome.errors,
        gaps,
        duplicates: outcome.duplicates,
        repaired_by_fetch: outcome.repaired_by_fetch,
        reconnects: outcome.reconnects,
        unacked: outcome.unacked,
    })
}

/// The newest seq of each conversation, read from history by one of its members.
async fn read_last_seqs(
    target: &dyn Target,
    users: &[UserAccount],
    conversations: &[ConversationRef],
    membership: &[usize],
) -> Result<HashMap<String, i64>> {
    let mut last_seqs = HashMap::new();
    for (conversation_index, conversation) in conversations.iter().enumerate() {
        let Some(member) = membership
            .iter()
            .position(|&index| index == conversation_index)
            .map(|user_index| &users[user_index])
        else {
            continue;
        };
        let seqs = target
            .history_seqs(member, conversation, conversation.base_seq)
            .await?;
        last_seqs.insert(
            conversation.conversation_id.clone(),
            seqs.iter().copied().max().unwrap_or(conversation.base_seq),
        );
    }
    Ok(last_seqs)
}

fn merge(total: &mut UserOutcome, user: UserOutcome) {
    total.delivery_latency.merge(&user.delivery_latency);
    total.ack_latency.merge(&user.ack_latency);
    total.sent += user.sent;
    total.acked += user.acked;
    total.acked_as_duplicate += user.acked_as_duplicate;
    total.deliveries += user.deliveries;
    total.last_delivery = total.last_delivery.max(user.last_delivery);
    for (code, count) in user.errors {
        *total.errors.entry(code).or_default() += count;
    }
    total.duplicates += user.duplicates;
    total.repaired_by_fetch += user.repaired_by_fetch;
    total.reconnects += user.reconnects;
    total.unacked += user.unacked;
}

/// Asks for the conversation's events after `cursor` and waits for the answer.
async fn subscribe(
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
    sent_at: Instant,
}

/// One simulated user: sends on its schedule, receives everything, and at the end waits until
/// it has its conversation up to the final seq.
#[allow(clippy::too_many_arguments)]
async fn run_user(
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
                next_send += plan.send_interval;
                let client_id = format!("{client_id_prefix}{message_index}");
                let text = message_text(config.message_bytes);
                pending.insert(client_id.clone(), PendingSend { text: text.clone(), sent_at: Instant::now() });
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
                    Incoming::Event { conversation_id, seq, message } => {
                        if conversation_id != plan.conversation.conversation_id {
                            continue;
                        }
                        if tracker.observe(seq) == Observation::Duplicate {
                            continue;
                        }
                        if fetched_at.is_some() {
                            outcome.repaired_by_fetch += 1;
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
                            outcome.ack_latency.record(send.sent_at.elapsed(), send.sent_at.duration_since(started));
                        }
                    }
                    Incoming::SendFailed { client_id, code } => {
                        pending.remove(&client_id);
                        count_error(&mut outcome, &code);
                    }
                    Incoming::Error { code, .. } => count_error(&mut outcome, &code),
                    Incoming::ResyncRequired { .. } => count_error(&mut outcome, "resync_required"),
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
    outcome.tracker = Some(tracker);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_time_is_read_back_from_the_text() {
        let text = message_text(64);
        assert!(text.len() >= 64);
        let sent = sent_at_micros(&text).unwrap();
        assert!(sent > 1_700_000_000_000_000);
        assert_eq!(sent_at_micros("hello"), None);
    }

    #[test]
    fn too_few_users_per_conversation_are_refused() {
        let config = ChatConfig {
            users: 3,
            conversations: 2,
            ..ChatConfig::default()
        };
        assert!(config.validate().is_err());
        assert!(ChatConfig::default().validate().is_ok());
    }
}
