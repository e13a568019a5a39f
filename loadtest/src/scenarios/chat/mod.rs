//! `chat`: N users in K group conversations send at an aggregate rate for a duration; every
//! recipient measures send-to-receive latency (the send time travels in the text) and checks
//! seqs per conversation for gaps and duplicates (see [`crate::sequence`] for what each count
//! means). A recipient that stalls below the final seq, or is told `resync_required`, asks
//! history for the rest; what arrives that way counts as a live-stream gap, not as delivered
//! live. After the run, each recipient's still-missing seqs are checked against the
//! conversation's history (final gaps: lost messages), and history itself is checked for a
//! client id stored twice. Latency is measured from each message's scheduled send time
//! (open loop); how late sends fired is reported apart as `send_lag`.
//!
//! With `reconnect` (the `chaos` scenario), a client whose socket closes connects again to the
//! next gateway, resumes from its cursor and resends its unacknowledged messages with the same
//! client ids, as a real client does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::watch;

mod client;

use self::client::{UserOutcome, UserPlan, merge, run_user, subscribe};
use super::setup::{self, Population};
use crate::metrics::{LatencyAtSecond, LatencyRecorder, LatencySummary, PercentilePoint};
use crate::progress::{LiveCounters, LiveProgress};
use crate::sequence::client_ids_stored_twice;
use crate::targets::{ConversationRef, Target, TargetKind, UserAccount};
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
    /// How late each send fired against its open-loop schedule (the tester's own lag, and the
    /// time a reconnecting client could not send). Both latencies above are measured from the
    /// scheduled time, so they already include it.
    pub send_lag: LatencySummary,
    pub connect_latency: LatencySummary,
    pub delivery_latency_over_time: Vec<LatencyAtSecond>,
    pub delivery_percentile_curve: Vec<PercentilePoint>,
    /// Errors by code (failed sends, error frames, failed connects).
    pub errors: BTreeMap<String, u64>,
    /// Final gaps: seqs in history that a recipient never received, not even by asking
    /// history (lost messages), summed over recipients.
    pub gaps: u64,
    /// Live-stream gaps: seqs a recipient did not get on the live stream (pushed events,
    /// including a resume's replay) and got only from history (`fetch_events` / `history`)
    /// after a stall or a `resync_required`, summed over recipients. Repaired, so not in
    /// `gaps`.
    pub live_stream_gaps: u64,
    /// Seqs a recipient received more than once, summed over recipients.
    pub duplicates: u64,
    /// New seqs carrying a message (sender's client id) a recipient had already received
    /// under another seq, summed over recipients: a retried send stored twice.
    pub duplicate_messages: u64,
    /// History entries, per conversation, repeating a client id stored under an earlier seq.
    pub client_ids_stored_twice: u64,
    /// `resync_required` frames received (each answered by a history fetch).
    pub resyncs: u64,
    pub reconnects: u64,
    /// Sends still unacknowledged at the end.
    pub unacked: u64,
}

impl ChatReport {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Every kind of duplicate: seqs twice, a message under two seqs at a recipient, a client
    /// id twice in history.
    pub fn all_duplicates(&self) -> u64 {
        self.duplicates + self.duplicate_messages + self.client_ids_stored_twice
    }
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
    let (last_seqs, client_ids_stored_twice) =
        read_histories(target.as_ref(), &users, &conversations, &membership).await?;
    let last_seqs = Arc::new(last_seqs);
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
        send_lag: outcome.send_lag.summary(),
        connect_latency: connect_latency.summary(),
        delivery_latency_over_time: outcome.delivery_latency.over_time(),
        delivery_percentile_curve: outcome.delivery_latency.percentile_curve(),
        errors: outcome.errors,
        gaps,
        live_stream_gaps: outcome.live_stream_gaps,
        duplicates: outcome.duplicates,
        duplicate_messages: outcome.repeated_messages,
        client_ids_stored_twice,
        resyncs: outcome.resyncs,
        reconnects: outcome.reconnects,
        unacked: outcome.unacked,
    })
}

/// The newest seq of each conversation, read from history by one of its members, and how
/// many history entries repeat a client id (summed over conversations).
async fn read_histories(
    target: &dyn Target,
    users: &[UserAccount],
    conversations: &[ConversationRef],
    membership: &[usize],
) -> Result<(HashMap<String, i64>, u64)> {
    let mut last_seqs = HashMap::new();
    let mut stored_twice = 0;
    for (conversation_index, conversation) in conversations.iter().enumerate() {
        let Some(member) = membership
            .iter()
            .position(|&index| index == conversation_index)
            .map(|user_index| &users[user_index])
        else {
            continue;
        };
        let entries = target
            .history(member, conversation, conversation.base_seq)
            .await?;
        stored_twice +=
            client_ids_stored_twice(entries.iter().map(|entry| entry.client_id.as_deref()));
        last_seqs.insert(
            conversation.conversation_id.clone(),
            entries
                .iter()
                .map(|entry| entry.seq)
                .max()
                .unwrap_or(conversation.base_seq),
        );
    }
    Ok((last_seqs, stored_twice))
}

#[cfg(test)]
mod tests {
    use super::*;

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
