//! Sessions: joining (or knocking), the participant's commands, hosts' controls, leaving,
//! and what everyone in the room is told.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::sansio::Protocol;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::*;

impl Node {
    pub(super) fn handle_command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Join {
                request,
                events,
                reply,
            } => {
                let _ = reply.send(self.join(request, events, now));
            }
            Command::Session { session, command } => {
                if let Err(error) = self.session_command(session, command, now) {
                    tracing::debug!(%session, %error, "session command failed");
                    let reason = format!("negotiation failed: {error}");
                    self.close_session(session, &reason, false, now);
                }
            }
        }
    }

    fn join(
        &mut self,
        request: JoinRequest,
        events: mpsc::Sender<SessionEvent>,
        now: Instant,
    ) -> crate::Result<(Uuid, bool)> {
        if !self.rooms.contains_key(&request.room) && self.rooms.len() >= self.config.max_rooms {
            return Err(Error::Full("rooms"));
        }
        if self.sessions.len() >= self.config.max_participants {
            return Err(Error::Full("participants"));
        }
        let locked = self
            .rooms
            .get(&request.room)
            .is_some_and(|entry| entry.locked);
        let admitted = request.host || !(locked || request.guest);
        let session_id = Uuid::now_v7();
        let participant = ParticipantId(self.next_id());
        self.session_of_participant.insert(participant, session_id);
        self.sessions.insert(
            session_id,
            Session {
                room: request.room.clone(),
                participant,
                user_id: request.user_id,
                display_name: request.display_name,
                state: ParticipantState::default(),
                host: request.host,
                admitted,
                events,
                sources_by_mid: HashMap::new(),
                published: HashMap::new(),
                bindings: HashMap::new(),
                awaiting_subscribe_answer: false,
                subscribe_renegotiation_needed: false,
                subscribe_connected: false,
                undelivered_offer: None,
            },
        );
        self.rooms
            .entry(request.room.clone())
            .or_insert_with(|| RoomEntry {
                room: Room::new(),
                sessions: Vec::new(),
                locked: false,
            })
            .sessions
            .push(session_id);
        self.load
            .rooms
            .store(self.rooms.len() as u64, Ordering::Relaxed);
        self.load
            .participants
            .store(self.sessions.len() as u64, Ordering::Relaxed);
        if admitted {
            self.room_input(&request.room, RoomInput::Join(participant), now);
        }
        self.broadcast_roster(&request.room);
        tracing::info!(room = request.room, session = %session_id, admitted, "participant joined");
        Ok((session_id, admitted))
    }

    fn session_command(
        &mut self,
        session_id: Uuid,
        command: SessionCommand,
        now: Instant,
    ) -> crate::Result<()> {
        let Some(session) = self.sessions.get(&session_id) else {
            return Err(Error::UnknownSession);
        };
        if !session.admitted && command != SessionCommand::Leave {
            // Knocking: nothing but leaving until a host lets them in.
            tracing::debug!(%session_id, "command from a session still knocking ignored");
            return Ok(());
        }
        let webrtc = |error: rtc::shared::error::Error| Error::WebRtc(error.to_string());
        match command {
            SessionCommand::PublishOffer { sdp, sources } => {
                self.unpublish_missing(session_id, &sources, now);
                if let Some(session) = self.sessions.get_mut(&session_id) {
                    session.sources_by_mid = sources
                        .into_iter()
                        .map(|source| (source.mid.clone(), source))
                        .collect();
                }
                if !self.peers.contains_key(&(session_id, Role::Publish)) {
                    self.new_peer(session_id, Role::Publish, now)?;
                }
                let peer = self
                    .peers
                    .get_mut(&(session_id, Role::Publish))
                    .ok_or(Error::UnknownSession)?;
                let offer = RTCSessionDescription::offer(sdp).map_err(webrtc)?;
                peer.connection
                    .set_remote_description(now, offer)
                    .map_err(webrtc)?;
                let answer = peer.connection.create_answer(None).map_err(webrtc)?;
                peer.connection
                    .set_local_description(now, answer)
                    .map_err(webrtc)?;
                let sdp = peer
                    .connection
                    .local_description()
                    .map(|description| description.sdp.clone())
                    .unwrap_or_default();
                self.mark_dirty((session_id, Role::Publish));
                if let Some(session) = self.sessions.get(&session_id) {
                    let _ = session.events.try_send(SessionEvent::PublishAnswer { sdp });
                }
            }
            SessionCommand::SubscribeAnswer { sdp } => {
                let peer = self
                    .peers
                    .get_mut(&(session_id, Role::Subscribe))
                    .ok_or(Error::UnknownSession)?;
                let answer = RTCSessionDescription::answer(sdp).map_err(webrtc)?;
                peer.connection
                    .set_remote_description(now, answer)
                    .map_err(webrtc)?;
                let Some(session) = self.sessions.get_mut(&session_id) else {
                    return Ok(());
                };
                session.awaiting_subscribe_answer = false;
                for binding in session.bindings.values_mut() {
                    if let Some(mut sender) = peer.connection.rtp_sender(binding.sender_id) {
                        binding.payload_type = sender
                            .get_parameters()
                            .rtp_parameters
                            .codecs
                            .first()
                            .map(|codec| codec.payload_type);
                    }
                }
                self.mark_dirty((session_id, Role::Subscribe));
                self.subscriptions_ready(session_id, now);
            }
            SessionCommand::Preference {
                stream_id: wanted_stream,
                visible,
                max_layer,
            } => {
                let Some(session) = self.sessions.get(&session_id) else {
                    return Ok(());
                };
                let participant = session.participant;
                let room = session.room.clone();
                let tracks: Vec<TrackId> = self
                    .tracks
                    .iter()
                    .filter(|(_, track)| {
                        track.kind == MediaKind::Video && track.stream_id() == wanted_stream
                    })
                    .map(|(id, _)| *id)
                    .collect();
                for track in tracks {
                    self.room_input(
                        &room,
                        RoomInput::Preference {
                            subscriber: participant,
                            track,
                            preference: ViewPreference { visible, max_layer },
                        },
                        now,
                    );
                }
            }
            SessionCommand::State(state) => {
                if let Some(session) = self.sessions.get_mut(&session_id) {
                    session.state = state;
                    let room = session.room.clone();
                    self.broadcast_roster(&room);
                }
            }
            SessionCommand::Reaction { emoji } => {
                if let Some(session) = self.sessions.get(&session_id) {
                    let room = session.room.clone();
                    self.broadcast(&room, SessionEvent::Reaction { session_id, emoji });
                }
            }
            SessionCommand::Host { action } => self.host_action(session_id, action, now),
            SessionCommand::Leave => self.close_session(session_id, LEFT, false, now),
        }
        Ok(())
    }

    /// A re-offer that no longer lists a track (a stopped screen share) unpublishes it.
    fn unpublish_missing(&mut self, session_id: Uuid, sources: &[PublishedSource], now: Instant) {
        let mids: BTreeSet<&str> = sources.iter().map(|source| source.mid.as_str()).collect();
        let gone: Vec<(String, TrackId)> = self
            .sessions
            .get(&session_id)
            .map(|session| {
                session
                    .published
                    .iter()
                    .filter(|(_, track)| {
                        self.tracks
                            .get(track)
                            .is_some_and(|track| !mids.contains(track.mid.as_str()))
                    })
                    .map(|(rtc_id, track)| (rtc_id.clone(), *track))
                    .collect()
            })
            .unwrap_or_default();
        for (rtc_id, track) in gone {
            if let Some(session) = self.sessions.get_mut(&session_id) {
                session.published.remove(&rtc_id);
            }
            if let Some(removed) = self.tracks.remove(&track) {
                self.load.tracks.fetch_sub(1, Ordering::Relaxed);
                self.room_input(&removed.room, RoomInput::Unpublish(track), now);
                self.broadcast_roster(&removed.room);
            }
        }
    }

    pub(super) fn close_session(
        &mut self,
        session_id: Uuid,
        reason: &str,
        rejoin: bool,
        now: Instant,
    ) {
        let Some(session) = self.sessions.remove(&session_id) else {
            return;
        };
        let _ = session.events.try_send(SessionEvent::Closed {
            reason: reason.to_owned(),
            rejoin,
        });
        for role in [Role::Publish, Role::Subscribe] {
            if let Some(mut peer) = self.peers.remove(&(session_id, role)) {
                let _ = peer.connection.close();
                while let Some(datagram) = peer.connection.poll_write() {
                    self.send(&datagram);
                }
                self.by_ufrag.remove(&peer.ufrag);
            }
        }
        self.by_addr.retain(|_, key| key.0 != session_id);
        let published: Vec<TrackId> = session.published.values().copied().collect();
        for track in published {
            if self.tracks.remove(&track).is_some() {
                self.load.tracks.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if let Some(entry) = self.rooms.get_mut(&session.room) {
            entry.sessions.retain(|id| *id != session_id);
        }
        // Leaving unpublishes this participant's tracks for everyone else.
        if session.admitted {
            self.room_input(&session.room, RoomInput::Leave(session.participant), now);
        }
        // A room nobody is in any more (only knockers had been waiting) goes too.
        if self
            .rooms
            .get(&session.room)
            .is_some_and(|entry| entry.sessions.is_empty())
        {
            self.rooms.remove(&session.room);
            self.load
                .rooms
                .store(self.rooms.len() as u64, Ordering::Relaxed);
            let _ = self.closed_rooms.send(session.room.clone());
        }
        self.session_of_participant.remove(&session.participant);
        self.load
            .participants
            .store(self.sessions.len() as u64, Ordering::Relaxed);
        self.broadcast_roster(&session.room);
        tracing::info!(room = session.room, session = %session_id, reason, "participant left");
    }

    pub(super) fn broadcast(&self, room_name: &str, event: SessionEvent) {
        let Some(entry) = self.rooms.get(room_name) else {
            return;
        };
        for session_id in &entry.sessions {
            if let Some(session) = self.sessions.get(session_id) {
                let _ = session.events.try_send(event.clone());
            }
        }
    }

    /// Everyone in the room learns who is in it; hosts also learn who is knocking.
    pub(super) fn broadcast_roster(&self, room_name: &str) {
        let Some(entry) = self.rooms.get(room_name) else {
            return;
        };
        let mut participants = Vec::new();
        let mut waiting = Vec::new();
        for session_id in &entry.sessions {
            let Some(session) = self.sessions.get(session_id) else {
                continue;
            };
            if !session.admitted {
                waiting.push(WaitingEntry {
                    session_id: *session_id,
                    user_id: session.user_id,
                    display_name: session.display_name.clone(),
                });
                continue;
            }
            let mut streams: Vec<RosterStream> = session
                .published
                .values()
                .filter_map(|track| self.tracks.get(track))
                .filter(|track| track.kind == MediaKind::Video)
                .map(|track| RosterStream {
                    stream_id: track.stream_id(),
                    source: track.source,
                })
                .collect();
            streams.sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
            participants.push(RosterEntry {
                session_id: *session_id,
                user_id: session.user_id,
                display_name: session.display_name.clone(),
                state: session.state,
                host: session.host,
                streams,
            });
        }
        for session_id in &entry.sessions {
            let Some(session) = self.sessions.get(session_id) else {
                continue;
            };
            // Someone knocking sees nobody; only hosts see who knocks.
            let event = SessionEvent::Roster {
                participants: if session.admitted {
                    participants.clone()
                } else {
                    Vec::new()
                },
                waiting: if session.host {
                    waiting.clone()
                } else {
                    Vec::new()
                },
                locked: entry.locked,
            };
            let _ = session.events.try_send(event);
        }
    }

    /// Tells the forwarding core which of the session's subscriptions can now be delivered:
    /// the subscribe connection is up and the browser answered the offer with their senders.
    pub(super) fn subscriptions_ready(&mut self, session_id: Uuid, now: Instant) {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        if !session.subscribe_connected {
            return;
        }
        let mut ready = Vec::new();
        for (track, binding) in &mut session.bindings {
            if binding.payload_type.is_some() && !binding.ready {
                binding.ready = true;
                ready.push(*track);
            }
        }
        let (participant, room) = (session.participant, session.room.clone());
        for track in ready {
            self.room_input(
                &room,
                RoomInput::SubscriptionReady {
                    subscriber: participant,
                    track,
                },
                now,
            );
        }
    }

    fn host_action(&mut self, host_session: Uuid, action: HostAction, now: Instant) {
        let Some(host) = self.sessions.get(&host_session) else {
            return;
        };
        if !host.host {
            tracing::debug!(session = %host_session, "host action from a participant who is not a host ignored");
            return;
        }
        let room = host.room.clone();
        // A host acts on their own room only.
        let in_room = |node: &Self, target: Uuid| {
            node.sessions
                .get(&target)
                .is_some_and(|session| session.room == room)
        };
        match action {
            HostAction::Mute { session_id } if in_room(self, session_id) => {
                if let Some(target) = self.sessions.get_mut(&session_id) {
                    target.state.audio_muted = true;
                    let _ = target.events.try_send(SessionEvent::MutedByHost);
                }
                self.broadcast_roster(&room);
            }
            HostAction::Remove { session_id } if in_room(self, session_id) => {
                self.close_session(
                    session_id,
                    "a host removed you from the meeting",
                    false,
                    now,
                );
            }
            HostAction::Admit { session_id } if in_room(self, session_id) => {
                let Some(target) = self.sessions.get_mut(&session_id) else {
                    return;
                };
                if target.admitted {
                    return;
                }
                target.admitted = true;
                let participant = target.participant;
                let _ = target.events.try_send(SessionEvent::Admitted);
                self.room_input(&room, RoomInput::Join(participant), now);
                self.broadcast_roster(&room);
            }
            HostAction::Deny { session_id } if in_room(self, session_id) => {
                if self
                    .sessions
                    .get(&session_id)
                    .is_some_and(|target| !target.admitted)
                {
                    self.close_session(session_id, "a host did not let you in", false, now);
                }
            }
            HostAction::Lock { locked } => {
                if let Some(entry) = self.rooms.get_mut(&room) {
                    entry.locked = locked;
                }
                self.broadcast_roster(&room);
            }
            HostAction::EndForAll => {
                let everyone: Vec<Uuid> = self
                    .rooms
                    .get(&room)
                    .map(|entry| entry.sessions.clone())
                    .unwrap_or_default();
                for session_id in everyone {
                    self.close_session(
                        session_id,
                        "a host ended the meeting for everyone",
                        false,
                        now,
                    );
                }
            }
            _ => {
                tracing::debug!(session = %host_session, "host action on someone not in the room ignored")
            }
        }
    }
}
