//! The node's task: one loop over the socket, the command channel and the earliest timer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId, RTCRtpTransceiverId};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::peer::{Direction, OPUS_CLOCK_RATE, VP8_CLOCK_RATE, new_peer_connection, opus, vp8};
use super::tcp::TcpEvent;
use super::wire::{stun_local_ufrag, vp8_starts_keyframe};
use super::{
    HostAction, JoinRequest, LoadCounters, ParticipantState, PublishedSource, RosterEntry,
    RosterStream, SessionCommand, SessionEvent, SfuConfig, WaitingEntry,
};
use crate::Error;

mod media;
mod sessions;
use crate::forwarding::{
    IncomingRtp, MediaKind, ParticipantId, PublishedTrack, Room, RoomInput, RoomOutput, TrackId,
    TrackSource, ViewPreference,
};

/// The reason of a session its participant ended.
const LEFT: &str = "left";

pub(crate) enum Command {
    Join {
        request: JoinRequest,
        events: mpsc::Sender<SessionEvent>,
        reply: oneshot::Sender<crate::Result<(Uuid, bool)>>,
    },
    Session {
        session: Uuid,
        command: SessionCommand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    Publish,
    Subscribe,
}

type PeerKey = (Uuid, Role);

struct Peer {
    connection: RTCPeerConnection,
    ufrag: String,
}

struct RoomEntry {
    room: Room,
    /// In joining order, for the roster; includes those knocking.
    sessions: Vec<Uuid>,
    locked: bool,
}

struct Session {
    room: String,
    participant: ParticipantId,
    user_id: Uuid,
    display_name: String,
    state: ParticipantState,
    host: bool,
    /// False while knocking: not in the forwarding core, no peer connections.
    admitted: bool,
    events: mpsc::Sender<SessionEvent>,
    sources_by_mid: HashMap<String, PublishedSource>,
    /// rtc's track id (the browser's msid) → the room's track.
    published: HashMap<String, TrackId>,
    /// What this session receives: the room's track → our sender on the subscribe connection.
    bindings: HashMap<TrackId, Binding>,
    awaiting_subscribe_answer: bool,
    subscribe_renegotiation_needed: bool,
    /// The subscribe connection finished ICE and DTLS: SRTP can be sent.
    subscribe_connected: bool,
    /// A subscribe offer the session's event queue had no room for.
    undelivered_offer: Option<String>,
}

struct Binding {
    sender_id: RTCRtpSenderId,
    ssrc: u32,
    /// Known once the browser has answered the offer that added the sender.
    payload_type: Option<u8>,
    /// The forwarding core was told it can deliver this track.
    ready: bool,
}

struct PublisherTrack {
    session: Uuid,
    room: String,
    kind: MediaKind,
    source: TrackSource,
    mid: String,
    receiver_id: RTCRtpReceiverId,
    audio_level_extension_id: Option<u8>,
    layer_ssrcs: [Option<u32>; 3],
}

impl PublisherTrack {
    fn stream_id(&self) -> String {
        stream_id(self.session, self.source)
    }
}

fn stream_id(session: Uuid, source: TrackSource) -> String {
    match source {
        TrackSource::ScreenShare => format!("{session}~screen"),
        TrackSource::Camera | TrackSource::Microphone => session.to_string(),
    }
}

fn layer_of_rid(rid: &str) -> u8 {
    match rid {
        "q" | "l" | "0" => 0,
        "h" | "m" | "1" => 1,
        _ => 2,
    }
}

/// The ICE-TCP side: its candidate address, the listener's news, and a writer per
/// connected browser.
pub(crate) struct TcpMedia {
    pub(crate) advertised_addr: SocketAddr,
    events: mpsc::Receiver<TcpEvent>,
    writers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
}

impl TcpMedia {
    pub(crate) fn new(advertised_addr: SocketAddr, events: mpsc::Receiver<TcpEvent>) -> Self {
        Self {
            advertised_addr,
            events,
            writers: HashMap::new(),
        }
    }
}

pub(crate) struct Node {
    socket: UdpSocket,
    media_addr: SocketAddr,
    tcp: Option<TcpMedia>,
    config: SfuConfig,
    load: Arc<LoadCounters>,
    rooms: HashMap<String, RoomEntry>,
    sessions: HashMap<Uuid, Session>,
    peers: HashMap<PeerKey, Peer>,
    by_ufrag: HashMap<String, PeerKey>,
    by_addr: HashMap<SocketAddr, PeerKey>,
    session_of_participant: HashMap<ParticipantId, Uuid>,
    tracks: HashMap<TrackId, PublisherTrack>,
    next_id: u64,
    dirty: VecDeque<PeerKey>,
    dirty_set: HashSet<PeerKey>,
    closed_rooms: mpsc::UnboundedSender<String>,
}

impl Node {
    pub(crate) fn new(
        socket: UdpSocket,
        media_addr: SocketAddr,
        tcp: Option<TcpMedia>,
        config: SfuConfig,
        load: Arc<LoadCounters>,
        closed_rooms: mpsc::UnboundedSender<String>,
    ) -> Self {
        Self {
            socket,
            media_addr,
            tcp,
            config,
            load,
            rooms: HashMap::new(),
            sessions: HashMap::new(),
            peers: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            session_of_participant: HashMap::new(),
            tracks: HashMap::new(),
            next_id: 1,
            dirty: VecDeque::new(),
            dirty_set: HashSet::new(),
            closed_rooms,
        }
    }

    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        shutdown: CancellationToken,
    ) {
        let mut buffer = vec![0u8; 2048];
        loop {
            let deadline = self
                .next_timeout()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                () = shutdown.cancelled() => break,
                command = commands.recv() => match command {
                    Some(command) => self.handle_command(command, Instant::now()),
                    None => break,
                },
                received = self.socket.recv_from(&mut buffer) => match received {
                    Ok((n_bytes, peer_addr)) => {
                        self.handle_datagram(&buffer[..n_bytes], peer_addr, TransportProtocol::UDP, Instant::now());
                    }
                    Err(error) => tracing::debug!(%error, "media socket receive failed"),
                },
                Some(event) = async {
                    match self.tcp.as_mut() {
                        Some(tcp) => tcp.events.recv().await,
                        None => std::future::pending().await,
                    }
                } => self.handle_tcp_event(event, Instant::now()),
                () = tokio::time::sleep_until(deadline.into()) => self.handle_timeouts(Instant::now()),
            }
            self.pump_dirty(Instant::now());
        }
        let sessions: Vec<Uuid> = self.sessions.keys().copied().collect();
        for session in sessions {
            self.close_session(
                session,
                "the media server is shutting down",
                true,
                Instant::now(),
            );
        }
        self.pump_dirty(Instant::now());
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn next_timeout(&mut self) -> Option<Instant> {
        let peers = self
            .peers
            .values_mut()
            .filter_map(|peer| peer.connection.poll_timeout());
        let rooms = self
            .rooms
            .values()
            .filter_map(|entry| entry.room.poll_timeout());
        peers.chain(rooms).min()
    }

    fn retry_undelivered_offers(&mut self) {
        for session in self.sessions.values_mut() {
            let Some(sdp) = session.undelivered_offer.take() else {
                continue;
            };
            if let Err(tokio::sync::mpsc::error::TrySendError::Full(
                SessionEvent::SubscribeOffer { sdp },
            )) = session
                .events
                .try_send(SessionEvent::SubscribeOffer { sdp })
            {
                session.undelivered_offer = Some(sdp);
            }
        }
    }

    fn mark_dirty(&mut self, key: PeerKey) {
        if self.dirty_set.insert(key) {
            self.dirty.push_back(key);
        }
    }

    fn handle_timeouts(&mut self, now: Instant) {
        let due: Vec<PeerKey> = self
            .peers
            .iter_mut()
            .filter_map(|(key, peer)| {
                peer.connection
                    .poll_timeout()
                    .is_some_and(|at| at <= now)
                    .then_some(*key)
            })
            .collect();
        for key in due {
            if let Some(peer) = self.peers.get_mut(&key) {
                if let Err(error) = peer.connection.handle_timeout(now) {
                    tracing::debug!(%error, "peer timeout handling failed");
                }
                self.mark_dirty(key);
            }
        }
        let due_rooms: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, entry)| entry.room.poll_timeout().is_some_and(|at| at <= now))
            .map(|(name, _)| name.clone())
            .collect();
        for name in due_rooms {
            self.room_input(&name, RoomInput::Timeout, now);
        }
    }

    fn handle_tcp_event(&mut self, event: TcpEvent, now: Instant) {
        let Some(tcp) = self.tcp.as_mut() else {
            return;
        };
        match event {
            TcpEvent::Opened { peer_addr, writer } => {
                tcp.writers.insert(peer_addr, writer);
            }
            TcpEvent::Packet { peer_addr, packet } => {
                self.handle_datagram(&packet, peer_addr, TransportProtocol::TCP, now);
            }
            TcpEvent::Closed { peer_addr } => {
                tcp.writers.remove(&peer_addr);
                self.by_addr.remove(&peer_addr);
            }
        }
    }

    /// Sends what a peer connection wrote, on the transport its selected pair uses.
    fn send(&self, datagram: &TaggedBytesMut) {
        match datagram.transport.transport_protocol {
            TransportProtocol::TCP => {
                let writer = self
                    .tcp
                    .as_ref()
                    .and_then(|tcp| tcp.writers.get(&datagram.transport.peer_addr));
                if let Some(writer) = writer
                    && writer.try_send(datagram.message.to_vec()).is_err()
                {
                    tracing::trace!("ice-tcp send dropped");
                }
            }
            _ => {
                if self
                    .socket
                    .try_send_to(&datagram.message, datagram.transport.peer_addr)
                    .is_err()
                {
                    tracing::trace!("media socket send dropped");
                }
            }
        }
    }

    fn handle_datagram(
        &mut self,
        datagram: &[u8],
        peer_addr: SocketAddr,
        protocol: TransportProtocol,
        now: Instant,
    ) {
        let key = match stun_local_ufrag(datagram) {
            Some(ufrag) => match self.by_ufrag.get(&ufrag) {
                Some(key) => {
                    // Learn (or, after a network change, re-learn) where the peer is.
                    self.by_addr.insert(peer_addr, *key);
                    *key
                }
                None => return,
            },
            None => match self.by_addr.get(&peer_addr) {
                Some(key) => *key,
                None => return,
            },
        };
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let _ = peer.connection.handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                // rtc matches this against its host candidate, so it is the advertised
                // address, not what the socket is bound to.
                local_addr: match (protocol, &self.tcp) {
                    (TransportProtocol::TCP, Some(tcp)) => tcp.advertised_addr,
                    _ => self.media_addr,
                },
                peer_addr,
                ecn: None,
                transport_protocol: protocol,
            },
            message: BytesMut::from(datagram),
        });
        self.mark_dirty(key);
    }

    /// Drains every peer connection that was touched, until none has anything left.
    fn pump_dirty(&mut self, now: Instant) {
        while let Some(key) = self.dirty.pop_front() {
            self.dirty_set.remove(&key);
            self.pump(key, now);
        }
        let renegotiate: Vec<Uuid> = self
            .sessions
            .iter()
            .filter(|(_, session)| {
                session.subscribe_renegotiation_needed && !session.awaiting_subscribe_answer
            })
            .map(|(id, _)| *id)
            .collect();
        for session in renegotiate {
            self.offer_subscriptions(session, now);
        }
        self.retry_undelivered_offers();
        while let Some(key) = self.dirty.pop_front() {
            self.dirty_set.remove(&key);
            self.pump(key, now);
        }
    }

    fn pump(&mut self, key: PeerKey, now: Instant) {
        loop {
            let mut progressed = false;
            let Some(peer) = self.peers.get_mut(&key) else {
                return;
            };
            let mut datagrams = Vec::new();
            while let Some(datagram) = peer.connection.poll_write() {
                datagrams.push(datagram);
            }
            let mut events = Vec::new();
            while let Some(event) = peer.connection.poll_event() {
                events.push(event);
            }
            let mut messages = Vec::new();
            while let Some(TaggedRTCMessage { message, .. }) = peer.connection.poll_read() {
                messages.push(message);
            }
            progressed |= !datagrams.is_empty() || !events.is_empty() || !messages.is_empty();
            for datagram in &datagrams {
                self.send(datagram);
            }
            for event in events {
                self.peer_event(key, event, now);
            }
            for message in messages {
                self.peer_message(key, message, now);
            }
            if !progressed {
                return;
            }
        }
    }

    fn peer_event(
        &mut self,
        (session, role): PeerKey,
        event: RTCPeerConnectionEvent,
        now: Instant,
    ) {
        match event {
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                tracing::debug!(%session, ?role, %state, "peer connection state");
                if state == RTCPeerConnectionState::Failed {
                    self.close_session(session, "the media connection failed", true, now);
                } else if state == RTCPeerConnectionState::Connected && role == Role::Subscribe {
                    if let Some(session) = self.sessions.get_mut(&session) {
                        session.subscribe_connected = true;
                    }
                    self.subscriptions_ready(session, now);
                }
            }
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init))
                if role == Role::Publish =>
            {
                self.publisher_track_opened(
                    session,
                    init.receiver_id,
                    &init.track_id,
                    init.ssrc,
                    init.rid.as_deref(),
                    now,
                );
            }
            _ => {}
        }
    }
}
