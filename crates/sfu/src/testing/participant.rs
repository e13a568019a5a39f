//! A headless participant: joins a room through [`SfuNode::join`] as the gateway does for a
//! browser (or through signalling relayed from elsewhere, such as a gateway's WebSocket:
//! [`RelayedSignalling`]), publishes on its own peer connection, answers every subscribe offer,
//! and logs what it sends and receives.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::log::{MediaLog, RemoteStreamKey, SharedMediaLog, lock};
use super::media::VideoPattern;
use super::peer::{Peer, Tasks, local_track};
use super::sdp;
use super::sources::{spawn_audio_source, spawn_video_source};
use crate::forwarding::{MediaKind, TrackSource};
use crate::{
    JoinRequest, PublishedSource, RosterEntry, SessionCommand, SessionCommands, SessionEvent,
    SfuNode, SfuSession,
};

/// Who joins, and what it sends and watches.
#[derive(Debug, Clone)]
pub struct ParticipantOptions {
    pub display_name: String,
    pub audio: bool,
    pub video: Option<VideoPattern>,
    /// When false, every other participant's camera is marked off-screen
    /// (`SessionCommand::Preference`), so this participant receives only audio; a publisher
    /// in the benchmark that should not also be a subscriber.
    pub watch_video: bool,
    /// Receive through this relay instead of straight from the SFU: the SFU's candidate in
    /// every subscribe offer is replaced by it (see [`super::UdpRelay`]).
    pub subscribe_via: Option<SocketAddr>,
    /// Publish through this relay: the same for the SFU's publish answers.
    pub publish_via: Option<SocketAddr>,
}

impl ParticipantOptions {
    /// Publishes nothing and watches everyone.
    pub fn new(display_name: &str) -> Self {
        Self {
            display_name: display_name.to_owned(),
            audio: false,
            video: None,
            watch_video: true,
            subscribe_via: None,
            publish_via: None,
        }
    }

    /// Publishes a microphone and a camera with the default [`VideoPattern`].
    pub fn publishing(display_name: &str) -> Self {
        Self::new(display_name)
            .with_audio()
            .with_video(VideoPattern::default())
    }

    pub fn with_audio(mut self) -> Self {
        self.audio = true;
        self
    }

    pub fn with_video(mut self, pattern: VideoPattern) -> Self {
        self.video = Some(pattern);
        self
    }

    pub fn without_watching_video(mut self) -> Self {
        self.watch_video = false;
        self
    }

    pub fn receiving_via(mut self, relay: SocketAddr) -> Self {
        self.subscribe_via = Some(relay);
        self
    }

    pub fn publishing_via(mut self, relay: SocketAddr) -> Self {
        self.publish_via = Some(relay);
        self
    }
}

/// What the participant learnt from the SFU's signalling.
#[derive(Debug, Default, Clone)]
pub struct Signalling {
    pub roster: Vec<RosterEntry>,
    pub subscribe_offers: Vec<String>,
    pub subscribe_answers_sent: usize,
    pub closed: Option<String>,
    pub errors: Vec<String>,
}

/// A session's signalling carried by something other than the node's own [`SfuSession`]
/// (a load tester drives it through a gateway's WebSocket): the participant sends its commands
/// on `commands` and reads the SFU's events from `events`. Whoever holds the other ends
/// translates them to and from the wire, and sends `Leave` when the participant leaves.
pub struct RelayedSignalling {
    pub session_id: Uuid,
    pub commands: mpsc::Sender<SessionCommand>,
    pub events: mpsc::Receiver<SessionEvent>,
}

/// Where a participant's commands go.
#[derive(Clone)]
enum CommandSink {
    Node(SessionCommands),
    Relayed(mpsc::Sender<SessionCommand>),
}

impl CommandSink {
    async fn send(&self, command: SessionCommand) -> anyhow::Result<()> {
        match self {
            Self::Node(commands) => commands.send(command).await?,
            Self::Relayed(commands) => commands
                .send(command)
                .await
                .map_err(|_| anyhow::anyhow!("the relayed signalling is closed"))?,
        }
        Ok(())
    }
}

/// Where a participant's events come from.
enum EventSource {
    /// Owned here: dropping it (when the participant stops) leaves the room.
    Node(SfuSession),
    Relayed(mpsc::Receiver<SessionEvent>),
}

impl EventSource {
    async fn recv(&mut self) -> Option<SessionEvent> {
        match self {
            Self::Node(session) => session.events.recv().await,
            Self::Relayed(events) => events.recv().await,
        }
    }
}

pub struct Participant {
    pub session_id: Uuid,
    pub display_name: String,
    commands: CommandSink,
    log: SharedMediaLog,
    signalling: Arc<Mutex<Signalling>>,
    publish: Option<Arc<Peer>>,
    subscribe: Arc<Mutex<Option<Arc<Peer>>>>,
    tasks: Tasks,
}

impl Participant {
    pub async fn join(
        node: &SfuNode,
        room: &str,
        options: ParticipantOptions,
    ) -> anyhow::Result<Self> {
        let session = node
            .join(JoinRequest {
                room: room.to_owned(),
                user_id: Uuid::new_v4(),
                display_name: options.display_name.clone(),
                host: false,
                guest: false,
            })
            .await
            .context("joining the room")?;
        let session_id = session.id;
        let commands = CommandSink::Node(session.commands());
        Self::start(session_id, commands, EventSource::Node(session), options).await
    }

    /// Starts a participant whose session was joined elsewhere (a gateway's `meeting_join`):
    /// it publishes and subscribes through `signalling` exactly as [`Participant::join`] does
    /// through the node's session.
    pub async fn join_relayed(
        signalling: RelayedSignalling,
        options: ParticipantOptions,
    ) -> anyhow::Result<Self> {
        Self::start(
            signalling.session_id,
            CommandSink::Relayed(signalling.commands),
            EventSource::Relayed(signalling.events),
            options,
        )
        .await
    }

    async fn start(
        session_id: Uuid,
        commands: CommandSink,
        events: EventSource,
        options: ParticipantOptions,
    ) -> anyhow::Result<Self> {
        let log = SharedMediaLog::default();
        let signalling = Arc::new(Mutex::new(Signalling::default()));
        let subscribe = Arc::new(Mutex::new(None));
        let tasks = Tasks::default();

        let publish = if options.audio || options.video.is_some() {
            Some(Arc::new(
                publish(&options, &commands, &log, &tasks, session_id).await?,
            ))
        } else {
            None
        };
        tasks.spawn(
            SignallingTask {
                events,
                commands: commands.clone(),
                session_id,
                options: options.clone(),
                publish: publish.clone(),
                subscribe: subscribe.clone(),
                signalling: signalling.clone(),
                log: log.clone(),
                tasks: tasks.clone(),
                hidden_streams: HashSet::new(),
            }
            .run(),
        );
        Ok(Self {
            session_id,
            display_name: options.display_name,
            commands,
            log,
            signalling,
            publish,
            subscribe,
            tasks,
        })
    }

    /// The stream id under which the others receive this participant's microphone and camera.
    pub fn stream_id(&self) -> String {
        self.session_id.to_string()
    }

    /// Reads the media log without copying it.
    pub fn media<R>(&self, read: impl FnOnce(&MediaLog) -> R) -> R {
        read(&lock(&self.log))
    }

    /// The media log itself, for a harness that reads it after the participant is gone.
    pub fn media_log(&self) -> SharedMediaLog {
        self.log.clone()
    }

    pub fn signalling(&self) -> Signalling {
        self.signalling
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Packets received of `from`'s track of this kind (0 before it arrives).
    pub fn packets_from(&self, from: &Participant, kind: MediaKind) -> usize {
        self.media(|log| {
            log.received(&from.stream_id(), kind)
                .map_or(0, |stream| stream.packets())
        })
    }

    /// When the subscribe connection (media from the SFU) connected; `None` before.
    pub fn subscribe_connected_at(&self) -> Option<Instant> {
        self.subscribe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|peer| peer.connected_at())
    }

    /// Sends a PLI for `from`'s camera, as a browser does when it cannot decode.
    pub async fn request_keyframe(&self, from: &Participant) -> anyhow::Result<()> {
        let peer = self
            .subscribe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .context("not receiving anything yet")?;
        peer.request_keyframe(&RemoteStreamKey {
            stream_id: from.stream_id(),
            kind: MediaKind::Video,
        })
        .await
    }

    /// The publish connection's state; `None` when publishing nothing.
    pub fn publish_state(&self) -> Option<RTCPeerConnectionState> {
        self.publish.as_ref().map(|peer| *peer.state().borrow())
    }

    /// The subscribe connection's state; `None` before the first subscribe offer.
    pub fn subscribe_state(&self) -> Option<RTCPeerConnectionState> {
        self.subscribe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|peer| *peer.state().borrow())
    }

    pub fn keyframe_requests_received(&self) -> usize {
        self.media(|log| log.sent_video.keyframe_requests.len())
    }

    pub async fn wait_publishing(&self, timeout: Duration) -> anyhow::Result<()> {
        match &self.publish {
            Some(peer) => peer.wait_connected(timeout).await,
            None => Ok(()),
        }
    }

    /// Sends a command of this participant's session (state, reactions, views…).
    pub async fn send(&self, command: SessionCommand) -> anyhow::Result<()> {
        self.commands.send(command).await
    }

    /// Leaves the room (`SessionCommand::Leave`), then stops.
    pub async fn leave(self) {
        let _ = self.commands.send(SessionCommand::Leave).await;
        self.close().await;
    }

    /// Stops sending and receiving and closes both peer connections. Dropping the session
    /// (in the signalling task) also leaves the room.
    pub async fn close(self) {
        self.tasks.stop().await;
        let subscribe = self
            .subscribe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        for peer in self.publish.iter().chain(subscribe.iter()) {
            peer.close().await;
        }
    }
}

/// Creates the publish connection, offers its tracks with their sources, and starts the
/// synthetic sources; the answer comes back through the signalling task.
async fn publish(
    options: &ParticipantOptions,
    commands: &CommandSink,
    log: &SharedMediaLog,
    tasks: &Tasks,
    session_id: Uuid,
) -> anyhow::Result<Peer> {
    let peer = Peer::new(log.clone(), tasks.clone()).await?;
    let stream_id = format!("{session_id}-published");
    if options.audio {
        let (track, ssrc) = local_track(&stream_id, MediaKind::Audio);
        peer.connection.add_track(track.clone()).await?;
        spawn_audio_source(tasks, track, ssrc, peer.state(), log.clone());
    }
    if let Some(pattern) = options.video {
        let (track, ssrc) = local_track(&stream_id, MediaKind::Video);
        peer.connection.add_track(track.clone()).await?;
        spawn_video_source(tasks, track, ssrc, pattern, peer.state(), log.clone());
    }
    let offer = peer.connection.create_offer(None).await?;
    peer.connection.set_local_description(offer).await?;
    let sdp = peer.gathered_local_sdp().await?;
    let sources = sdp::media_sections(&sdp)
        .into_iter()
        .map(|(kind, mid)| PublishedSource {
            mid,
            source: if kind == "audio" {
                TrackSource::Microphone
            } else {
                TrackSource::Camera
            },
            layers: 1,
        })
        .collect();
    commands
        .send(SessionCommand::PublishOffer { sdp, sources })
        .await?;
    Ok(peer)
}

struct SignallingTask {
    events: EventSource,
    commands: CommandSink,
    session_id: Uuid,
    options: ParticipantOptions,
    publish: Option<Arc<Peer>>,
    subscribe: Arc<Mutex<Option<Arc<Peer>>>>,
    signalling: Arc<Mutex<Signalling>>,
    log: SharedMediaLog,
    tasks: Tasks,
    hidden_streams: HashSet<String>,
}

impl SignallingTask {
    async fn run(mut self) {
        while let Some(event) = self.events.recv().await {
            if let Err(error) = self.handle(event).await {
                tracing::warn!(%error, "participant signalling failed");
                self.update(|signalling| signalling.errors.push(format!("{error:#}")));
            }
        }
    }

    fn update(&self, change: impl FnOnce(&mut Signalling)) {
        change(
            &mut self
                .signalling
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    async fn handle(&mut self, event: SessionEvent) -> anyhow::Result<()> {
        match event {
            SessionEvent::PublishAnswer { sdp } => {
                let Some(peer) = &self.publish else {
                    bail!("a publish answer without a publish offer");
                };
                let sdp = match self.options.publish_via {
                    Some(relay) => sdp::with_candidates_at(&sdp, relay),
                    None => sdp,
                };
                peer.connection
                    .set_remote_description(RTCSessionDescription::answer(sdp)?)
                    .await?;
            }
            SessionEvent::SubscribeOffer { sdp } => {
                self.update(|signalling| signalling.subscribe_offers.push(sdp.clone()));
                let sdp = match self.options.subscribe_via {
                    Some(relay) => sdp::with_candidates_at(&sdp, relay),
                    None => sdp,
                };
                let peer = self.subscribe_peer().await?;
                peer.connection
                    .set_remote_description(RTCSessionDescription::offer(sdp)?)
                    .await?;
                let answer = peer.connection.create_answer(None).await?;
                peer.connection.set_local_description(answer).await?;
                let sdp = peer.gathered_local_sdp().await?;
                self.commands
                    .send(SessionCommand::SubscribeAnswer { sdp })
                    .await?;
                self.update(|signalling| signalling.subscribe_answers_sent += 1);
            }
            SessionEvent::Roster {
                participants: roster,
                ..
            } => {
                if !self.options.watch_video {
                    self.hide_cameras(&roster).await?;
                }
                self.update(|signalling| signalling.roster = roster);
            }
            SessionEvent::Closed { reason, .. } => {
                self.update(|signalling| signalling.closed = Some(reason));
            }
            _ => {}
        }
        Ok(())
    }

    async fn subscribe_peer(&self) -> anyhow::Result<Arc<Peer>> {
        let existing = self
            .subscribe
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(peer) = existing {
            return Ok(peer);
        }
        let peer = Arc::new(Peer::new(self.log.clone(), self.tasks.clone()).await?);
        *self
            .subscribe
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(peer.clone());
        Ok(peer)
    }

    async fn hide_cameras(&mut self, roster: &[RosterEntry]) -> anyhow::Result<()> {
        let others = roster
            .iter()
            .filter(|entry| entry.session_id != self.session_id);
        for stream in others.flat_map(|entry| entry.streams.iter()) {
            if self.hidden_streams.insert(stream.stream_id.clone()) {
                self.commands
                    .send(SessionCommand::Preference {
                        stream_id: stream.stream_id.clone(),
                        visible: false,
                        max_layer: 0,
                    })
                    .await?;
            }
        }
        Ok(())
    }
}
