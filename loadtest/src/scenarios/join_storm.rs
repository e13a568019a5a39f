//! `join-storm`: many users join meetings at once (say 50 users into 10 meetings within one
//! second), as when a meeting's start time comes. Every user's WebSocket is open beforehand,
//! so what is measured is the meeting join itself: `meeting_join` sent → `meeting_joined`,
//! failures by error code, and with `--media` also → the first media packet received (the
//! participant publishes and subscribes through the bridged signalling, as in `media`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_sfu::SessionCommand;
use convene_sfu::testing::{Participant, ParticipantOptions, VideoPattern};
use futures::StreamExt;
use serde::Serialize;

use super::media::signalling::{JoinOutcome, MeetingBridge, MeetingSocket};
use super::media::{self, count, counts_line, measure};
use crate::bounds;
use crate::metrics::{LatencyAtSecond, LatencyRecorder, LatencySummary, PercentilePoint};
use crate::progress::LiveCounters;
use crate::report::{latency_line, table};
use crate::scenarios::setup;
use crate::targets::convene::ConveneTarget;
use crate::{Error, Result};

/// Most users one storm joins.
pub const MAX_STORM_USERS: u64 = 500;
/// Most users in one meeting of a storm without media.
pub const MAX_USERS_PER_MEETING: u64 = 100;
/// Longest spread of the joins.
pub const MAX_WITHIN: Duration = Duration::from_secs(60);
/// The storm starts this long after every socket is open, so that scheduling it is not
/// part of it.
const START_DELAY: Duration = Duration::from_millis(200);
/// How long leaving may wait for `meeting_left`.
const LEAVE_PATIENCE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct JoinStormConfig {
    pub meetings: usize,
    pub users: usize,
    /// The joins are spread evenly over this long (0: all at the same instant).
    pub within: Duration,
    /// Also publish (audio and a small camera) and wait for the first media packet.
    pub media: bool,
    /// With `media`, how long a participant may wait for its first packet.
    pub media_timeout: Duration,
}

impl Default for JoinStormConfig {
    fn default() -> Self {
        Self {
            meetings: 10,
            users: 50,
            within: Duration::from_secs(1),
            media: false,
            media_timeout: Duration::from_secs(20),
        }
    }
}

impl JoinStormConfig {
    pub fn validate(&self) -> Result<()> {
        bounds::check_range("meetings", self.meetings as u64, 1, media::MAX_MEETINGS)?;
        bounds::check_range(
            "users",
            self.users as u64,
            self.meetings as u64,
            MAX_STORM_USERS,
        )?;
        let per_meeting = self.users.div_ceil(self.meetings) as u64;
        if self.media {
            bounds::check_range("users", self.users as u64, 1, media::MAX_PARTICIPANTS)?;
            bounds::check_range(
                "users per meeting",
                per_meeting,
                1,
                media::MAX_PARTICIPANTS_PER_MEETING,
            )?;
        } else {
            bounds::check_range("users per meeting", per_meeting, 1, MAX_USERS_PER_MEETING)?;
        }
        if self.within > MAX_WITHIN {
            return Err(Error::AboveCap {
                setting: "within (seconds)",
                value: self.within.as_secs(),
                cap: MAX_WITHIN.as_secs(),
            });
        }
        bounds::check_duration("media timeout", self.media_timeout)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct JoinStormReport {
    pub target: String,
    pub meetings: usize,
    pub users: usize,
    pub within_ms: u64,
    pub media: bool,
    pub joined: usize,
    /// Failed joins by error code (`timeout`, `connection`, `not_admitted`, or the server's
    /// code such as `meeting_full` or `meeting_unavailable`).
    pub failures: BTreeMap<String, u64>,
    /// From the first `meeting_join` sent to the last answer.
    pub storm_seconds: f64,
    /// `meeting_join` sent → `meeting_joined`.
    pub join_latency: LatencySummary,
    pub join_latency_percentiles: Vec<PercentilePoint>,
    pub join_latency_over_time: Vec<LatencyAtSecond>,
    /// With `media`: `meeting_join` sent → the first media packet received from anyone.
    pub first_media_latency: Option<LatencySummary>,
    pub first_media_percentiles: Option<Vec<PercentilePoint>>,
    /// Errors after joining, by code (as in `media`), and `no_media` for participants that
    /// received nothing within the media timeout.
    pub errors: BTreeMap<String, u64>,
    /// The machine's 1-, 5- and 15-minute load averages after the storm.
    pub load_average: Option<[f64; 3]>,
}

/// One user's join, and what is left to close.
struct StormJoin {
    join_latency: Option<Duration>,
    failure: Option<String>,
    sent_at: Instant,
    first_media: Option<Duration>,
    participant: Option<Participant>,
    bridge: Option<MeetingBridge>,
    /// Without media, the commands end of the bridged signalling, to leave through.
    leave: Option<tokio::sync::mpsc::Sender<SessionCommand>>,
    signalling_failed: bool,
}

impl StormJoin {
    fn failed(code: String, sent_at: Instant) -> Self {
        Self {
            join_latency: None,
            failure: Some(code),
            sent_at,
            first_media: None,
            participant: None,
            bridge: None,
            leave: None,
            signalling_failed: false,
        }
    }
}

/// A small camera and a microphone: a storm measures joining, not bandwidth.
fn storm_participant(name: &str) -> ParticipantOptions {
    ParticipantOptions::new(name)
        .with_audio()
        .with_video(VideoPattern {
            frames_per_second: 10,
            bits_per_second: 100_000,
            ..VideoPattern::default()
        })
}

async fn join_at(
    start_at: Instant,
    socket: MeetingSocket,
    conversation_id: uuid::Uuid,
    name: String,
    config: JoinStormConfig,
) -> StormJoin {
    tokio::time::sleep_until(start_at.into()).await;
    let sent_at = Instant::now();
    let (session_id, joined_after, socket) = match socket.join(conversation_id).await {
        JoinOutcome::Joined {
            session_id,
            joined_after,
            socket,
        } => (session_id, joined_after, socket),
        JoinOutcome::Failed { code, .. } => return StormJoin::failed(code, sent_at),
    };
    let (bridge, relayed) = MeetingBridge::start(socket, session_id);
    let mut join = StormJoin {
        join_latency: Some(joined_after),
        failure: None,
        sent_at,
        first_media: None,
        participant: None,
        bridge: Some(bridge),
        leave: None,
        signalling_failed: false,
    };
    if !config.media {
        join.leave = Some(relayed.commands);
        return join;
    }
    match Participant::join_relayed(relayed, storm_participant(&name)).await {
        Ok(participant) => {
            let log = participant.media_log();
            media::wait_until(config.media_timeout, || {
                measure::first_arrival(&log).is_some()
            })
            .await;
            join.first_media =
                measure::first_arrival(&log).map(|first| first.saturating_duration_since(sent_at));
            join.participant = Some(participant);
        }
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "participant failed to start");
            join.signalling_failed = true;
        }
    }
    join
}

pub async fn run(
    base_url: &str,
    config: &JoinStormConfig,
    counters: Arc<LiveCounters>,
) -> Result<JoinStormReport> {
    config.validate()?;
    let target = ConveneTarget::new(vec![base_url.to_owned()])?;
    let run_id = setup::run_id();
    let (users, meetings) =
        media::create_meetings(&target, base_url, &run_id, config.meetings, config.users).await?;

    let mut failures = BTreeMap::new();
    let sockets: Vec<(usize, Result<MeetingSocket>)> =
        futures::stream::iter(users.iter().enumerate())
            .map(|(user_idx, user)| async move {
                (user_idx, MeetingSocket::connect(base_url, user).await)
            })
            .buffer_unordered(setup::CONNECT_CONCURRENCY)
            .collect()
            .await;

    let storm_start = Instant::now() + START_DELAY;
    let mut joins = Vec::new();
    for (user_idx, socket) in sockets {
        let socket = match socket {
            Ok(socket) => socket,
            Err(error) => {
                tracing::warn!(%error, "connecting a storm user failed");
                count(&mut failures, "connection", 1);
                continue;
            }
        };
        LiveCounters::add(&counters.connected, 1);
        let offset = config.within.mul_f64(user_idx as f64 / config.users as f64);
        joins.push(tokio::spawn(join_at(
            storm_start + offset,
            socket,
            meetings[user_idx % config.meetings].conversation_id,
            users[user_idx].username.clone(),
            config.clone(),
        )));
    }
    let mut results = Vec::with_capacity(joins.len());
    for join in joins {
        match join.await {
            Ok(result) => results.push(result),
            Err(_) => count(&mut failures, "task", 1),
        }
    }

    let mut join_latency = LatencyRecorder::new();
    let mut first_media = LatencyRecorder::new();
    let mut errors = BTreeMap::new();
    let mut storm_end = storm_start;
    for result in &results {
        let since_start = result.sent_at.saturating_duration_since(storm_start);
        if let Some(latency) = result.join_latency {
            join_latency.record(latency, since_start);
            storm_end = storm_end.max(result.sent_at + latency);
            LiveCounters::add(&counters.deliveries, 1);
        }
        if let Some(code) = &result.failure {
            count(&mut failures, code, 1);
            LiveCounters::add(&counters.errors, 1);
        }
        if config.media && result.join_latency.is_some() {
            match result.first_media {
                Some(latency) => first_media.record(latency, since_start),
                None => count(&mut errors, "no_media", 1),
            }
        }
        if result.signalling_failed {
            count(&mut errors, "participant", 1);
        }
    }
    let joined = join_latency.count() as usize;
    let load_average = media::node_metrics::load_average();
    leave_all(results, &mut errors).await;

    Ok(JoinStormReport {
        target: base_url.to_owned(),
        meetings: config.meetings,
        users: config.users,
        within_ms: u64::try_from(config.within.as_millis()).unwrap_or(u64::MAX),
        media: config.media,
        joined,
        failures,
        storm_seconds: storm_end
            .saturating_duration_since(storm_start)
            .as_secs_f64(),
        join_latency: join_latency.summary(),
        join_latency_percentiles: join_latency.percentile_curve(),
        join_latency_over_time: join_latency.over_time(),
        first_media_latency: config.media.then(|| first_media.summary()),
        first_media_percentiles: config.media.then(|| first_media.percentile_curve()),
        errors,
        load_average,
    })
}

async fn leave_all(results: Vec<StormJoin>, errors: &mut BTreeMap<String, u64>) {
    let logs = futures::future::join_all(results.into_iter().map(|result| async move {
        let mut signalling_errors = 0;
        if let Some(participant) = result.participant {
            signalling_errors = participant.signalling().errors.len() as u64;
            participant.leave().await;
        }
        if let Some(leave) = result.leave {
            let _ = leave.send(SessionCommand::Leave).await;
        }
        let log = match result.bridge {
            Some(bridge) => Some(bridge.finish(LEAVE_PATIENCE).await),
            None => None,
        };
        (log, signalling_errors)
    }))
    .await;
    for (log, signalling_errors) in logs {
        if let Some(log) = log {
            for (code, amount) in log.errors {
                count(errors, &code, amount);
            }
            if log.ended_by_server.is_some() {
                count(errors, "ended_by_server", 1);
            }
        }
        count(errors, "signalling", signalling_errors);
    }
}

/// The human summary table.
pub fn summary(report: &JoinStormReport) -> String {
    let mut rows = vec![
        ("target", report.target.clone()),
        (
            "storm",
            format!(
                "{} users into {} meetings within {} ms{}",
                report.users,
                report.meetings,
                report.within_ms,
                if report.media { ", with media" } else { "" }
            ),
        ),
        (
            "joined",
            format!(
                "{} in {:.2} s | failures {}",
                report.joined,
                report.storm_seconds,
                counts_line(&report.failures)
            ),
        ),
        ("join", latency_line(&report.join_latency)),
    ];
    if let Some(first_media) = &report.first_media_latency {
        rows.push(("first media", latency_line(first_media)));
    }
    rows.push(("errors", counts_line(&report.errors)));
    rows.push(("load average", media::load_line(report.load_average)));
    table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_is_bounded() {
        assert!(JoinStormConfig::default().validate().is_ok());
        let too_many = JoinStormConfig {
            users: 501,
            meetings: 50,
            ..JoinStormConfig::default()
        };
        assert!(too_many.validate().is_err());
        let crowded_media = JoinStormConfig {
            users: 60,
            meetings: 2,
            media: true,
            ..JoinStormConfig::default()
        };
        assert!(crowded_media.validate().is_err());
        let fewer_users_than_meetings = JoinStormConfig {
            users: 5,
            meetings: 10,
            ..JoinStormConfig::default()
        };
        assert!(fewer_users_than_meetings.validate().is_err());
    }
}
