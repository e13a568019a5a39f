//! `media`: headless WebRTC participants (`convene_sfu::testing`, webrtc-rs) meet in real
//! meetings of a running Convene, through its public protocol only: users registered over
//! REST, meetings created and joined over REST, `meeting_join` and the publish/subscribe SDP
//! exchange over `/api/v1/ws`. Each participant publishes a synthetic camera (one layer) and
//! microphone and receives everyone else in its meeting. Measures join time, time to first
//! media, packets forwarded per second (what subscribers received, and the node's own
//! counters on `/metrics` when it exposes them), video loss, and the latency a packet takes
//! from publisher to subscriber through the SFU (stamped packets).
//!
//! The participants run in this process, so their cost (webrtc-rs, SRTP) shares the machine
//! with the server under test: on a small machine the numbers are a floor, not a ceiling.

pub mod measure;
pub mod node_metrics;
pub mod signalling;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_sfu::forwarding::MediaKind;
use convene_sfu::testing::{Participant, ParticipantOptions, VideoPattern};
use futures::StreamExt;
use serde::Serialize;

use self::measure::{MeasuredPeer, Window};
use self::signalling::{JoinOutcome, Meeting, MeetingBridge, MeetingSocket};
use crate::bounds;
use crate::metrics::{LatencyAtSecond, LatencyRecorder, LatencySummary, PercentilePoint};
use crate::progress::{LiveCounters, LiveProgress};
use crate::report::{latency_line, table};
use crate::scenarios::setup;
use crate::targets::UserAccount;
use crate::targets::convene::{ConveneTarget, http_client};
use crate::{Error, Result};

/// Most meetings one run creates.
pub const MAX_MEETINGS: u64 = 50;
/// Most participants in one meeting (each receives everyone else: n × (n − 1) flows).
pub const MAX_PARTICIPANTS_PER_MEETING: u64 = 25;
/// Most headless participants one run starts (each is two webrtc-rs peer connections in
/// this process).
pub const MAX_PARTICIPANTS: u64 = 200;
/// Highest synthetic camera bitrate.
pub const MAX_VIDEO_BITS_PER_SECOND: u64 = 4_000_000;
/// Participants joining at once while the run sets up.
const JOIN_CONCURRENCY: usize = 8;
/// How long a participant's publish connection may take to connect.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(20);
/// Late packets of the window still arriving after it ends.
const DRAIN: Duration = Duration::from_millis(500);
/// How long leaving may wait for `meeting_left`.
const LEAVE_PATIENCE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct MediaConfig {
    pub meetings: usize,
    pub participants_per_meeting: usize,
    /// The measured window, after everyone receives everyone.
    pub duration: Duration,
    /// The synthetic camera; 0 publishes no video.
    pub video_bits_per_second: u32,
    pub frames_per_second: u32,
    pub audio: bool,
    /// How long to wait for everyone to receive everyone before measuring anyway.
    pub warmup_timeout: Duration,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            meetings: 2,
            participants_per_meeting: 3,
            duration: Duration::from_secs(10),
            video_bits_per_second: 300_000,
            frames_per_second: 15,
            audio: true,
            warmup_timeout: Duration::from_secs(30),
        }
    }
}

impl MediaConfig {
    pub fn validate(&self) -> Result<()> {
        bounds::check_range("meetings", self.meetings as u64, 1, MAX_MEETINGS)?;
        bounds::check_range(
            "participants per meeting",
            self.participants_per_meeting as u64,
            2,
            MAX_PARTICIPANTS_PER_MEETING,
        )?;
        bounds::check_range(
            "participants",
            (self.meetings * self.participants_per_meeting) as u64,
            2,
            MAX_PARTICIPANTS,
        )?;
        bounds::check_duration("duration", self.duration)?;
        bounds::check_duration("warm-up timeout", self.warmup_timeout)?;
        bounds::check_range(
            "video bits per second",
            u64::from(self.video_bits_per_second),
            0,
            MAX_VIDEO_BITS_PER_SECOND,
        )?;
        bounds::check_range(
            "frames per second",
            u64::from(self.frames_per_second),
            1,
            60,
        )?;
        if self.video_bits_per_second == 0 && !self.audio {
            return Err(Error::InvalidTarget {
                spec: "media".to_owned(),
                reason: "publish video, audio or both".to_owned(),
            });
        }
        Ok(())
    }

    fn participant_options(&self, name: &str) -> ParticipantOptions {
        let mut options = ParticipantOptions::new(name);
        if self.audio {
            options = options.with_audio();
        }
        if self.video_bits_per_second > 0 {
            options = options.with_video(VideoPattern {
                frames_per_second: self.frames_per_second,
                bits_per_second: self.video_bits_per_second,
                ..VideoPattern::default()
            });
        }
        options
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MediaReport {
    pub target: String,
    pub meetings: usize,
    pub participants_per_meeting: usize,
    pub video_bits_per_second: u32,
    pub frames_per_second: u32,
    pub audio: bool,
    pub participants_joined: usize,
    /// `meeting_join` failures by error code (`timeout`, `connection`, `not_admitted`, or the
    /// server's code such as `meeting_full`).
    pub join_failures: BTreeMap<String, u64>,
    /// `meeting_join` sent → `meeting_joined`.
    pub join_latency: LatencySummary,
    /// `meeting_join` sent → the publish connection connected (ICE and DTLS done).
    pub publish_connected_latency: LatencySummary,
    /// `meeting_join` sent → the first media packet received from anyone.
    pub first_media_latency: LatencySummary,
    /// Whether everyone received everyone before the window started.
    pub warmed_up: bool,
    pub warmup_seconds: f64,
    pub measured_seconds: f64,
    pub video_flows: u64,
    pub video_packets_expected: u64,
    pub video_packets_received: u64,
    pub video_loss: f64,
    pub worst_subscriber_video_loss: f64,
    /// RTP packets (audio and video) subscribers received per second: forwarded, as seen by
    /// the receivers.
    pub received_packets_per_second: f64,
    /// The node's `convene_sfu_forwarded_packets_total` over the window, when the target's
    /// `/metrics` has it (`convene serve`'s in-process node).
    pub node_forwarded_packets_per_second: Option<f64>,
    pub node_received_packets_per_second: Option<f64>,
    /// Publisher → SFU → subscriber, per video packet (loopback, same clock).
    pub media_latency: LatencySummary,
    pub media_latency_percentiles: Vec<PercentilePoint>,
    pub media_latency_over_time: Vec<LatencyAtSecond>,
    /// Errors after joining, by code: the server's `error` frames, lost connections,
    /// sessions the server ended, participants' signalling failures, media that never flowed.
    pub errors: BTreeMap<String, u64>,
    /// The machine's 1-, 5- and 15-minute load averages at the end of the window.
    pub load_average: Option<[f64; 3]>,
}

/// One participant in a meeting, and how its joining went.
struct Joined {
    meeting_idx: usize,
    participant: Participant,
    bridge: MeetingBridge,
    join_sent_at: Instant,
    joined_after: Duration,
    publish_connected_after: Option<Duration>,
}

/// Registers `user_count` users and creates `meeting_count` meetings, user `i` in meeting
/// `i % meeting_count`: the first user of each is its host (creator), the others become
/// members with the meeting's code, as an invite link does.
pub(crate) async fn create_meetings(
    target: &ConveneTarget,
    base_url: &str,
    run_id: &str,
    meeting_count: usize,
    user_count: usize,
) -> Result<(Vec<UserAccount>, Vec<Meeting>)> {
    let users = setup::create_users(target, run_id, user_count).await?;
    let http = http_client()?;
    let mut meetings = Vec::with_capacity(meeting_count);
    for meeting_idx in 0..meeting_count {
        let meeting = signalling::create_meeting(
            &http,
            base_url,
            &users[meeting_idx],
            &format!("{run_id} meeting {meeting_idx}"),
        )
        .await?;
        let members = users
            .iter()
            .skip(meeting_idx + meeting_count)
            .step_by(meeting_count);
        futures::stream::iter(members)
            .map(|user| signalling::join_by_code(&http, base_url, user, &meeting))
            .buffer_unordered(setup::REGISTER_CONCURRENCY)
            .collect::<Vec<Result<()>>>()
            .await
            .into_iter()
            .collect::<Result<Vec<()>>>()?;
        meetings.push(meeting);
    }
    Ok((users, meetings))
}

pub(crate) fn count(map: &mut BTreeMap<String, u64>, code: &str, amount: u64) {
    if amount > 0 {
        *map.entry(code.to_owned()).or_default() += amount;
    }
}

/// Joins one user's participant: socket, `meeting_join`, then publishing and subscribing
/// through the bridged signalling.
async fn join_participant(
    base_url: &str,
    user: &UserAccount,
    meeting: &Meeting,
    meeting_idx: usize,
    options: ParticipantOptions,
) -> std::result::Result<Joined, String> {
    let socket = MeetingSocket::connect(base_url, user)
        .await
        .map_err(|_| "connection".to_owned())?;
    let join_sent_at = Instant::now();
    let (session_id, joined_after, socket) = match socket.join(meeting.conversation_id).await {
        JoinOutcome::Joined {
            session_id,
            joined_after,
            socket,
        } => (session_id, joined_after, socket),
        JoinOutcome::Failed { code, .. } => return Err(code),
    };
    let (bridge, relayed) = MeetingBridge::start(socket, session_id);
    let participant = Participant::join_relayed(relayed, options)
        .await
        .map_err(|error| {
            tracing::warn!(error = %format!("{error:#}"), "participant failed to start");
            "participant".to_owned()
        })?;
    let publish_connected_after = participant
        .wait_publishing(PUBLISH_TIMEOUT)
        .await
        .ok()
        .map(|()| join_sent_at.elapsed());
    Ok(Joined {
        meeting_idx,
        participant,
        bridge,
        join_sent_at,
        joined_after,
        publish_connected_after,
    })
}

/// Runs the scenario against `base_url` (a `convene serve` or gateway with media).
pub async fn run(
    base_url: &str,
    config: &MediaConfig,
    counters: Arc<LiveCounters>,
) -> Result<MediaReport> {
    config.validate()?;
    let target = ConveneTarget::new(vec![base_url.to_owned()])?;
    let run_id = setup::run_id();
    let (users, meetings) = create_meetings(
        &target,
        base_url,
        &run_id,
        config.meetings,
        config.meetings * config.participants_per_meeting,
    )
    .await?;

    // One task per participant, so that one participant's setup (building peer connections
    // and their certificates is CPU work) never holds up reading another's `meeting_joined`.
    let permits = Arc::new(tokio::sync::Semaphore::new(JOIN_CONCURRENCY));
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(user_idx, user)| {
            let meeting_idx = user_idx % config.meetings;
            let options = config.participant_options(&user.username);
            let (base_url, user, meeting) = (
                base_url.to_owned(),
                user.clone(),
                meetings[meeting_idx].clone(),
            );
            let permits = permits.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                join_participant(&base_url, &user, &meeting, meeting_idx, options).await
            })
        })
        .collect();
    let mut join_failures = BTreeMap::new();
    let mut joined = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(participant)) => {
                LiveCounters::add(&counters.connected, 1);
                joined.push(participant);
            }
            Ok(Err(code)) => count(&mut join_failures, &code, 1),
            Err(_) => count(&mut join_failures, "task", 1),
        }
    }
    let peers: Vec<MeasuredPeer> = joined
        .iter()
        .map(|joined| MeasuredPeer {
            meeting_idx: joined.meeting_idx,
            stream_id: joined.participant.stream_id(),
            log: joined.participant.media_log(),
        })
        .collect();

    // Measure only once media flows everywhere (or the warm-up gave up).
    let warmup_started = Instant::now();
    // Video starts at a keyframe, later than audio: wait for the camera when there is one.
    let kind = if config.video_bits_per_second > 0 {
        MediaKind::Video
    } else {
        MediaKind::Audio
    };
    let warmed_up = wait_until(config.warmup_timeout, || {
        peers
            .iter()
            .all(|peer| measure::receives_everyone(&peers, peer, kind))
    })
    .await;
    let warmup_seconds = warmup_started.elapsed().as_secs_f64();
    let mut errors = BTreeMap::new();
    let not_receiving = peers
        .iter()
        .filter(|peer| !measure::receives_everyone(&peers, peer, kind))
        .count();
    count(&mut errors, "media_not_flowing", not_receiving as u64);

    let http = http_client()?;
    let node_before = node_metrics::scrape(&http, base_url).await;
    let start = Instant::now();
    {
        let _progress = LiveProgress::start("media", config.duration, counters.clone());
        let ticker = received_packets_ticker(&peers, counters.clone());
        tokio::time::sleep(config.duration).await;
        ticker.abort();
    }
    let end = Instant::now();
    let node_after = node_metrics::scrape(&http, base_url).await;
    let load_average = node_metrics::load_average();
    tokio::time::sleep(DRAIN).await;
    let window = Window { start, end };
    let media = measure::measure(&peers, window);

    let mut join_latency = LatencyRecorder::new();
    let mut publish_connected_latency = LatencyRecorder::new();
    let mut first_media_latency = LatencyRecorder::new();
    for (joined, peer) in joined.iter().zip(&peers) {
        let since_start = joined
            .join_sent_at
            .saturating_duration_since(warmup_started);
        join_latency.record(joined.joined_after, since_start);
        if let Some(after) = joined.publish_connected_after {
            publish_connected_latency.record(after, since_start);
        } else {
            count(&mut errors, "publish_not_connected", 1);
        }
        if let Some(first) = measure::first_arrival(&peer.log) {
            first_media_latency.record(
                first.saturating_duration_since(joined.join_sent_at),
                since_start,
            );
        }
    }

    let participants_joined = joined.len();
    leave_all(joined, &mut errors).await;
    let seconds = window.seconds();
    let node_rate = |read: fn(&node_metrics::NodeCounters) -> Option<u64>| {
        let (before, after) = (read(node_before.as_ref()?)?, read(node_after.as_ref()?)?);
        Some(after.saturating_sub(before) as f64 / seconds)
    };
    Ok(MediaReport {
        target: base_url.to_owned(),
        meetings: config.meetings,
        participants_per_meeting: config.participants_per_meeting,
        video_bits_per_second: config.video_bits_per_second,
        frames_per_second: config.frames_per_second,
        audio: config.audio,
        participants_joined,
        join_failures,
        join_latency: join_latency.summary(),
        publish_connected_latency: publish_connected_latency.summary(),
        first_media_latency: first_media_latency.summary(),
        warmed_up,
        warmup_seconds,
        measured_seconds: seconds,
        video_flows: media.video_flows,
        video_packets_expected: media.video_expected,
        video_packets_received: media.video_received,
        video_loss: media.loss(),
        worst_subscriber_video_loss: media.worst_subscriber_loss,
        received_packets_per_second: media.packets_received_in_window as f64 / seconds,
        node_forwarded_packets_per_second: node_rate(|counters| Some(counters.forwarded_packets)),
        node_received_packets_per_second: node_rate(|counters| counters.received_packets),
        media_latency: media.latency.summary(),
        media_latency_percentiles: media.latency.percentile_curve(),
        media_latency_over_time: media.latency.over_time(),
        errors,
        load_average,
    })
}

/// Polls `condition` every 100 ms; whether it held before `timeout`.
pub(crate) async fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Feeds the progress line: packets received so far, as "deliveries".
fn received_packets_ticker(
    peers: &[MeasuredPeer],
    counters: Arc<LiveCounters>,
) -> tokio::task::JoinHandle<()> {
    let logs: Vec<_> = peers.iter().map(|peer| peer.log.clone()).collect();
    tokio::spawn(async move {
        let mut reported = 0u64;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let total: u64 = logs
                .iter()
                .map(|log| {
                    let log = log
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    log.received
                        .values()
                        .map(|stream| stream.packets() as u64)
                        .sum::<u64>()
                })
                .sum();
            LiveCounters::add(&counters.deliveries, total.saturating_sub(reported));
            reported = total;
        }
    })
}

/// Every participant leaves (`meeting_leave`, as the web app's red button does) and closes
/// its connections; what their bridges and signalling saw is added to `errors`.
async fn leave_all(joined: Vec<Joined>, errors: &mut BTreeMap<String, u64>) {
    let logs = futures::future::join_all(joined.into_iter().map(|joined| async move {
        let signalling_errors = joined.participant.signalling().errors.len() as u64;
        joined.participant.leave().await;
        (
            joined.bridge.finish(LEAVE_PATIENCE).await,
            signalling_errors,
        )
    }))
    .await;
    for (log, signalling_errors) in logs {
        for (code, amount) in log.errors {
            count(errors, &code, amount);
        }
        if log.ended_by_server.is_some() {
            count(errors, "ended_by_server", 1);
        }
        count(errors, "signalling", signalling_errors);
    }
}

pub(crate) fn load_line(load_average: Option<[f64; 3]>) -> String {
    load_average.map_or_else(
        || "unknown".to_owned(),
        |[one, five, fifteen]| format!("{one:.2} {five:.2} {fifteen:.2} (1, 5, 15 min)"),
    )
}

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "not exposed".to_owned(), |rate| format!("{rate:.0}/s"))
}

pub(crate) fn counts_line(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.iter()
        .map(|(code, count)| format!("{code} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The human summary table.
pub fn summary(report: &MediaReport) -> String {
    let video = if report.video_bits_per_second == 0 {
        "no video".to_owned()
    } else {
        format!(
            "video {} kbit/s at {} fps",
            report.video_bits_per_second / 1000,
            report.frames_per_second
        )
    };
    let rows = [
        ("target", report.target.clone()),
        (
            "load",
            format!(
                "{} meetings x {} participants, {video}{}, {:.1} s measured",
                report.meetings,
                report.participants_per_meeting,
                if report.audio { " + audio" } else { "" },
                report.measured_seconds
            ),
        ),
        (
            "joined",
            format!(
                "{} | failures {}",
                report.participants_joined,
                counts_line(&report.join_failures)
            ),
        ),
        ("join", latency_line(&report.join_latency)),
        (
            "publishing",
            latency_line(&report.publish_connected_latency),
        ),
        ("first media", latency_line(&report.first_media_latency)),
        (
            "warm-up",
            format!(
                "{:.1} s, {}",
                report.warmup_seconds,
                if report.warmed_up {
                    "everyone received everyone"
                } else {
                    "NOT everyone received everyone"
                }
            ),
        ),
        (
            "forwarded",
            format!(
                "received by subscribers {:.0}/s | node forwarded {} | node received {}",
                report.received_packets_per_second,
                rate(report.node_forwarded_packets_per_second),
                rate(report.node_received_packets_per_second)
            ),
        ),
        (
            "video loss",
            format!(
                "{:.3}% of {} packets over {} flows (worst subscriber {:.3}%)",
                report.video_loss * 100.0,
                report.video_packets_expected,
                report.video_flows,
                report.worst_subscriber_video_loss * 100.0
            ),
        ),
        ("media latency", latency_line(&report.media_latency)),
        ("errors", counts_line(&report.errors)),
        ("load average", load_line(report.load_average)),
    ];
    table(&rows)
}
