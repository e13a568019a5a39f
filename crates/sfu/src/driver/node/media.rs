//! Media: publishers' tracks opening, RTP fanned out through the forwarding core, the
//! core's decisions (subscribe, unsubscribe, keyframe requests, speakers) carried out on
//! the peer connections, and the subscribe connection's offers.

use super::*;

impl Node {
    pub(super) fn publisher_track_opened(
        &mut self,
        session_id: Uuid,
        receiver_id: RTCRtpReceiverId,
        rtc_track_id: &str,
        ssrc: u32,
        rid: Option<&str>,
        now: Instant,
    ) {
        let layer = rid.map(layer_of_rid).unwrap_or(0);
        if let Some(track_id) = self
            .sessions
            .get(&session_id)
            .and_then(|s| s.published.get(rtc_track_id))
            .copied()
        {
            // Another simulcast layer of a track already published.
            if let Some(track) = self.tracks.get_mut(&track_id) {
                track.layer_ssrcs[usize::from(layer)] = Some(ssrc);
            }
            return;
        }
        let Some(peer) = self.peers.get_mut(&(session_id, Role::Publish)) else {
            return;
        };
        let transceiver_id: RTCRtpTransceiverId = receiver_id.into();
        let mid = peer
            .connection
            .rtp_transceiver(transceiver_id)
            .and_then(|transceiver| transceiver.mid().clone());
        let Some(mut receiver) = peer.connection.rtp_receiver(receiver_id) else {
            return;
        };
        let kind = match receiver.track().kind() {
            RtpCodecKind::Audio => MediaKind::Audio,
            _ => MediaKind::Video,
        };
        let audio_level_extension_id = receiver
            .get_parameters()
            .rtp_parameters
            .header_extensions
            .iter()
            .find(|extension| extension.uri == rtc::sdp::extmap::AUDIO_LEVEL_URI)
            .map(|extension| extension.id as u8);
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return;
        };
        let mid = mid.unwrap_or_default();
        let declared = session.sources_by_mid.get(&mid);
        let source = declared.map(|source| source.source).unwrap_or(match kind {
            MediaKind::Audio => TrackSource::Microphone,
            MediaKind::Video => TrackSource::Camera,
        });
        let n_layers = declared
            .map(|source| source.layers.clamp(1, 3))
            .unwrap_or(1);
        let track_id = TrackId(self.next_id);
        self.next_id += 1;
        session.published.insert(rtc_track_id.to_owned(), track_id);
        let room = session.room.clone();
        let mut layer_ssrcs = [None; 3];
        layer_ssrcs[usize::from(layer)] = Some(ssrc);
        self.tracks.insert(
            track_id,
            PublisherTrack {
                session: session_id,
                room: room.clone(),
                kind,
                source,
                mid,
                receiver_id,
                audio_level_extension_id,
                layer_ssrcs,
            },
        );
        let participant = session.participant;
        let clock_rate = match kind {
            MediaKind::Audio => OPUS_CLOCK_RATE,
            MediaKind::Video => VP8_CLOCK_RATE,
        };
        self.room_input(
            &room,
            RoomInput::Publish(PublishedTrack {
                id: track_id,
                publisher: participant,
                kind,
                source,
                n_layers,
                clock_rate,
            }),
            now,
        );
        self.load.tracks.fetch_add(1, Ordering::Relaxed);
        self.broadcast_roster(&room);
    }

    pub(super) fn peer_message(
        &mut self,
        (session_id, role): PeerKey,
        message: RTCMessage,
        now: Instant,
    ) {
        match (role, message) {
            (Role::Publish, RTCMessage::RtpPacket(rtc_track_id, packet)) => {
                self.load.received_packets.fetch_add(1, Ordering::Relaxed);
                let Some(track_id) = self
                    .sessions
                    .get(&session_id)
                    .and_then(|session| session.published.get(&rtc_track_id))
                    .copied()
                else {
                    return;
                };
                let Some(track) = self.tracks.get_mut(&track_id) else {
                    return;
                };
                let layer = track
                    .layer_ssrcs
                    .iter()
                    .position(|ssrc| *ssrc == Some(packet.header.ssrc))
                    .unwrap_or(0) as u8;
                let incoming = IncomingRtp {
                    track: track_id,
                    layer,
                    sequence_number: packet.header.sequence_number,
                    timestamp: packet.header.timestamp,
                    keyframe: track.kind == MediaKind::Video
                        && vp8_starts_keyframe(&packet.payload),
                    audio_level: track
                        .audio_level_extension_id
                        .and_then(|id| packet.header.get_extension(id))
                        .and_then(|level| level.first().map(|byte| byte & 0x7f)),
                    size: packet.payload.len() + 12,
                };
                if track.kind == MediaKind::Audio {
                    tracing::trace!(
                        extension_id = ?track.audio_level_extension_id,
                        level = ?incoming.audio_level,
                        "audio level"
                    );
                }
                let room = track.room.clone();
                self.forward(&room, incoming, packet, now);
            }
            (Role::Subscribe, RTCMessage::RtcpPacket(_, packets)) => {
                for packet in packets {
                    let packet = packet.as_any();
                    let requested_ssrc = packet
                        .downcast_ref::<PictureLossIndication>()
                        .map(|pli| pli.media_ssrc)
                        .or_else(|| {
                            packet
                                .downcast_ref::<FullIntraRequest>()
                                .map(|fir| fir.media_ssrc)
                        });
                    let Some(session) = self.sessions.get(&session_id) else {
                        return;
                    };
                    let participant = session.participant;
                    let room = session.room.clone();
                    if let Some(ssrc) = requested_ssrc {
                        let track = session
                            .bindings
                            .iter()
                            .find(|(_, binding)| binding.ssrc == ssrc)
                            .map(|(track, _)| *track);
                        if let Some(track) = track {
                            self.room_input(
                                &room,
                                RoomInput::KeyframeRequest {
                                    subscriber: participant,
                                    track,
                                },
                                now,
                            );
                        }
                    } else if let Some(remb) =
                        packet.downcast_ref::<ReceiverEstimatedMaximumBitrate>()
                    {
                        self.load.bandwidth_reports.fetch_add(1, Ordering::Relaxed);
                        tracing::trace!(%session_id, bitrate = remb.bitrate, "subscriber bandwidth estimate");
                        self.room_input(
                            &room,
                            RoomInput::Bandwidth {
                                subscriber: participant,
                                bits_per_second: remb.bitrate as u64,
                            },
                            now,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn forward(
        &mut self,
        room_name: &str,
        incoming: IncomingRtp,
        packet: rtc::rtp::Packet,
        now: Instant,
    ) {
        let Some(entry) = self.rooms.get_mut(room_name) else {
            return;
        };
        if entry
            .room
            .handle_input(RoomInput::Rtp(incoming), now)
            .is_err()
        {
            return;
        }
        let outputs: Vec<RoomOutput> = std::iter::from_fn(|| entry.room.poll_output()).collect();
        let mut others = Vec::new();
        for output in outputs {
            match output {
                RoomOutput::Forward {
                    subscriber,
                    track,
                    header,
                } => {
                    let Some(session_id) = self.session_of_participant.get(&subscriber).copied()
                    else {
                        continue;
                    };
                    let Some(binding) = self
                        .sessions
                        .get(&session_id)
                        .and_then(|session| session.bindings.get(&track))
                    else {
                        continue;
                    };
                    let Some(payload_type) = binding.payload_type else {
                        continue;
                    };
                    let Some(peer) = self.peers.get_mut(&(session_id, Role::Subscribe)) else {
                        continue;
                    };
                    let mut copy = packet.clone();
                    copy.header.ssrc = binding.ssrc;
                    copy.header.payload_type = payload_type;
                    copy.header.sequence_number = header.sequence_number;
                    copy.header.timestamp = header.timestamp;
                    // The publisher's extension ids mean nothing to this subscriber.
                    copy.header.extensions.clear();
                    copy.header.extension = false;
                    if let Some(mut sender) = peer.connection.rtp_sender(binding.sender_id) {
                        if sender.write_rtp(now, copy).is_ok() {
                            self.load.forwarded_packets.fetch_add(1, Ordering::Relaxed);
                        }
                        self.mark_dirty((session_id, Role::Subscribe));
                    }
                }
                other => others.push(other),
            }
        }
        for output in others {
            self.room_output(room_name, output, now);
        }
    }

    pub(super) fn room_input(&mut self, room_name: &str, input: RoomInput, now: Instant) {
        let Some(entry) = self.rooms.get_mut(room_name) else {
            return;
        };
        if let Err(error) = entry.room.handle_input(input, now) {
            tracing::debug!(%error, "room input refused");
        }
        let mut outputs = Vec::new();
        while let Some(output) = entry.room.poll_output() {
            outputs.push(output);
        }
        for output in outputs {
            self.room_output(room_name, output, now);
        }
    }

    fn room_output(&mut self, room_name: &str, output: RoomOutput, now: Instant) {
        match output {
            RoomOutput::Forward { .. } | RoomOutput::LayerChanged { .. } => {}
            RoomOutput::Subscribed { subscriber, track } => self.subscribe(subscriber, track, now),
            RoomOutput::Unsubscribed { subscriber, track } => {
                let Some(session_id) = self.session_of_participant.get(&subscriber).copied() else {
                    return;
                };
                let Some(session) = self.sessions.get_mut(&session_id) else {
                    return;
                };
                if let Some(binding) = session.bindings.remove(&track) {
                    session.subscribe_renegotiation_needed = true;
                    if let Some(peer) = self.peers.get_mut(&(session_id, Role::Subscribe)) {
                        let _ = peer.connection.remove_track(binding.sender_id);
                    }
                }
            }
            RoomOutput::RequestKeyframe { track, layer } => {
                let Some(publisher_track) = self.tracks.get(&track) else {
                    return;
                };
                let Some(media_ssrc) = publisher_track.layer_ssrcs[usize::from(layer.min(2))]
                else {
                    return;
                };
                let key = (publisher_track.session, Role::Publish);
                let receiver_id = publisher_track.receiver_id;
                if let Some(peer) = self.peers.get_mut(&key) {
                    if let Some(mut receiver) = peer.connection.rtp_receiver(receiver_id) {
                        let _ = receiver.write_rtcp(
                            now,
                            vec![Box::new(PictureLossIndication {
                                sender_ssrc: 0,
                                media_ssrc,
                            })],
                        );
                    }
                    self.mark_dirty(key);
                }
            }
            RoomOutput::ActiveSpeakers(active) => {
                let to_session = |participant: ParticipantId| {
                    self.session_of_participant.get(&participant).copied()
                };
                let event = SessionEvent::ActiveSpeakers {
                    dominant: active.dominant.and_then(to_session),
                    speaking: active.speaking.into_iter().filter_map(to_session).collect(),
                };
                self.broadcast(room_name, event);
            }
            RoomOutput::Closed => {
                // Someone still knocking keeps the room (with a fresh core) for a host to come.
                if let Some(entry) = self.rooms.get_mut(room_name)
                    && !entry.sessions.is_empty()
                {
                    entry.room = Room::new();
                    return;
                }
                self.rooms.remove(room_name);
                self.load
                    .rooms
                    .store(self.rooms.len() as u64, Ordering::Relaxed);
                tracing::info!(room = room_name, "room closed");
                let _ = self.closed_rooms.send(room_name.to_owned());
            }
        }
    }

    fn subscribe(&mut self, subscriber: ParticipantId, track_id: TrackId, now: Instant) {
        let Some(session_id) = self.session_of_participant.get(&subscriber).copied() else {
            return;
        };
        let Some(track) = self.tracks.get(&track_id) else {
            return;
        };
        let (codec, kind) = match track.kind {
            MediaKind::Audio => (opus(), RtpCodecKind::Audio),
            MediaKind::Video => (vp8(), RtpCodecKind::Video),
        };
        let stream = track.stream_id();
        let label = format!(
            "{stream}~{}",
            if kind == RtpCodecKind::Audio {
                "audio"
            } else {
                "video"
            }
        );
        let ssrc = rand::random::<u32>();
        let media_track = MediaStreamTrack::new(
            stream,
            label.clone(),
            label,
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        );
        if !self.peers.contains_key(&(session_id, Role::Subscribe))
            && self.new_peer(session_id, Role::Subscribe, now).is_err()
        {
            return;
        }
        let Some(peer) = self.peers.get_mut(&(session_id, Role::Subscribe)) else {
            return;
        };
        let sender_id = match peer.connection.add_track(media_track) {
            Ok(sender_id) => sender_id,
            Err(error) => {
                tracing::warn!(%error, "adding a subscriber track failed");
                return;
            }
        };
        if let Some(session) = self.sessions.get_mut(&session_id) {
            session.bindings.insert(
                track_id,
                Binding {
                    sender_id,
                    ssrc,
                    payload_type: None,
                    ready: false,
                },
            );
            session.subscribe_renegotiation_needed = true;
        }
    }

    pub(super) fn new_peer(
        &mut self,
        session: Uuid,
        role: Role,
        now: Instant,
    ) -> crate::Result<()> {
        let ufrag = format!("{:016x}", rand::random::<u64>());
        let password = format!("{:032x}", rand::random::<u128>());
        let tcp_addr = self.tcp.as_ref().map(|tcp| tcp.advertised_addr);
        let direction = match role {
            Role::Publish => Direction::Publish,
            Role::Subscribe => Direction::Subscribe,
        };
        let connection =
            new_peer_connection(&ufrag, &password, self.media_addr, tcp_addr, direction, now)
                .map_err(|error| Error::WebRtc(error.to_string()))?;
        self.by_ufrag.insert(ufrag.clone(), (session, role));
        self.peers
            .insert((session, role), Peer { connection, ufrag });
        Ok(())
    }

    pub(super) fn offer_subscriptions(&mut self, session_id: Uuid, now: Instant) {
        let Some(peer) = self.peers.get_mut(&(session_id, Role::Subscribe)) else {
            return;
        };
        let offer = peer
            .connection
            .create_offer(None)
            .and_then(|offer| peer.connection.set_local_description(now, offer));
        if let Err(error) = offer {
            tracing::warn!(%error, "subscribe offer failed");
            return;
        }
        let Some(description) = peer.connection.local_description() else {
            return;
        };
        let sdp = description.sdp.clone();
        self.mark_dirty((session_id, Role::Subscribe));
        if let Some(session) = self.sessions.get_mut(&session_id) {
            session.awaiting_subscribe_answer = true;
            session.subscribe_renegotiation_needed = false;
            // A lagging session's queue may be full: the node never blocks on it, and the
            // offer is kept and delivered later (`retry_undelivered_offers`), since the
            // session waits for nothing else.
            if session
                .events
                .try_send(SessionEvent::SubscribeOffer { sdp: sdp.clone() })
                .is_err()
            {
                session.undelivered_offer = Some(sdp);
            }
        }
    }
}
