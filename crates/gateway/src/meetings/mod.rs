//! Meeting media: a WebSocket connection's seat in its meeting's SFU room.
//!
//! The gateway checks membership, joins the room on the SFU, relays the browser's
//! negotiation to it, and forwards the room's news (roster, speakers, reactions, re-offers)
//! to the connection. The browser never talks to the SFU except over media.

use convene_proto::{
    ClientFrame, MeetingHostActionView, MeetingParticipantView, MeetingSourceKindView,
    MeetingSourceView, MeetingStreamView, MeetingWaitingView, ServerFrame,
};
use convene_sfu::{
    HostAction, JoinRequest, ParticipantState, PublishedSource, SessionCommand, SessionEvent,
};
use convene_store::{ConversationKind, MemberRole, User, UserKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::chat::envelope::{Outbound, Route};
use crate::chat::hub::ConnectionCommand;
use crate::chat::operations::require_member;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub mod media;
pub mod node_control;

pub use media::{ControlFrame, MediaPlacement};
use media::{MediaError, MediaSession};

/// SDP of a publish offer with three simulcast layers and a screen share stays well under
/// this; it leaves room for the rest of the frame within `MAX_CLIENT_FRAME_BYTES`.
pub const MAX_SDP_BYTES: usize = 30_000;
const MAX_SOURCES: usize = 8;

/// The connection's presence in one meeting; leaving (or dropping it) leaves the room.
pub struct ActiveMeeting {
    pub conversation_id: Uuid,
    pub session_id: Uuid,
    commands: mpsc::Sender<SessionCommand>,
    forwarder: JoinHandle<()>,
}

impl Drop for ActiveMeeting {
    fn drop(&mut self) {
        // The forwarder owns the media session: aborting it drops the session, which leaves.
        self.forwarder.abort();
    }
}

fn unavailable() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "meeting_unavailable",
        "No media server is available for meetings right now. Try again shortly.",
    )
}

pub fn not_in_meeting() -> ApiError {
    ApiError::bad_request("not_in_meeting", "Join the meeting first.")
}

pub async fn join(
    state: &AppState,
    user: &User,
    conversation_id: Uuid,
    request_id: Option<String>,
    ring: bool,
    deliver: mpsc::Sender<ConnectionCommand>,
) -> ApiResult<ActiveMeeting> {
    let (conversation, member) = require_member(state, conversation_id, user.id).await?;
    if conversation.kind == ConversationKind::Direct {
        return Err(ApiError::bad_request(
            "not_a_meeting",
            "A direct chat has calls, not meetings: call the contact instead.",
        ));
    }
    let host = member.role == MemberRole::Admin;
    let request = JoinRequest {
        room: conversation_id.to_string(),
        user_id: user.id,
        display_name: user.display_name.clone(),
        host,
        guest: user.kind == UserKind::Guest,
    };
    let mut session = media::open_session(state, &conversation_id.to_string(), request)
        .await
        .map_err(|error| match error {
            MediaError::Full => ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "meeting_full",
                "The media server is full. Try again shortly.",
            ),
            MediaError::NoNode => unavailable(),
        })?;
    let (session_id, admitted) = (session.session_id, session.admitted);
    let commands = session.commands.clone();
    // The forwarder owns the session from here on.
    let events = std::mem::replace(&mut session.events, mpsc::channel(1).1);
    let joined = ServerFrame::MeetingJoined {
        request_id,
        conversation_id,
        session_id,
        max_sdp_bytes: MAX_SDP_BYTES as u32,
        admitted,
        host,
    };
    // Joined goes first, through the same queue as everything the room says afterwards.
    let _ = deliver
        .send(ConnectionCommand::Deliver(Outbound::new(
            Route::Ephemeral,
            &joined,
        )))
        .await;
    let forwarder = tokio::spawn(forward_events(session, events, conversation_id, deliver));
    if ring && conversation.kind == ConversationKind::Group {
        ring_members(state, user, conversation_id).await;
    }
    Ok(ActiveMeeting {
        conversation_id,
        session_id,
        commands,
        forwarder,
    })
}

/// Rings `recipients` (their clients show an incoming group call).
pub async fn ring(state: &AppState, caller: &User, conversation_id: Uuid, recipients: &[Uuid]) {
    let frame = ServerFrame::MeetingRinging {
        conversation_id,
        from_user_id: caller.id,
        from_display_name: caller.display_name.clone(),
    };
    state
        .hub
        .fan_out(recipients, Outbound::new(Route::Ephemeral, &frame))
        .await;
}

/// The group's other members hear that a meeting started (their clients ring).
async fn ring_members(state: &AppState, caller: &User, conversation_id: Uuid) {
    let members = match state.store.members(conversation_id).await {
        Ok(members) => members,
        Err(error) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "ringing: reading members failed"
            );
            return;
        }
    };
    let others: Vec<Uuid> = members
        .into_iter()
        .map(|member| member.user_id)
        .filter(|user_id| *user_id != caller.id)
        .collect();
    ring(state, caller, conversation_id, &others).await;
}

/// A host action, after re-reading the member's role (an admin demoted since joining is
/// no longer a host).
pub async fn host_command(
    state: &AppState,
    user: &User,
    meeting: &ActiveMeeting,
    action: MeetingHostActionView,
) -> ApiResult<SessionCommand> {
    let (_, member) = require_member(state, meeting.conversation_id, user.id).await?;
    if member.role != MemberRole::Admin {
        return Err(ApiError::forbidden(
            "host_required",
            "Only the meeting's hosts can do that.",
        ));
    }
    let action = match action {
        MeetingHostActionView::Mute { session_id } => HostAction::Mute { session_id },
        MeetingHostActionView::Remove { session_id } => HostAction::Remove { session_id },
        MeetingHostActionView::Admit { session_id } => HostAction::Admit { session_id },
        MeetingHostActionView::Deny { session_id } => HostAction::Deny { session_id },
        MeetingHostActionView::Lock { locked } => HostAction::Lock { locked },
        MeetingHostActionView::EndForAll => HostAction::EndForAll,
    };
    Ok(SessionCommand::Host { action })
}

async fn forward_events(
    _session: MediaSession,
    mut events: mpsc::Receiver<SessionEvent>,
    conversation_id: Uuid,
    deliver: mpsc::Sender<ConnectionCommand>,
) {
    while let Some(event) = events.recv().await {
        let closed = matches!(event, SessionEvent::Closed { .. });
        let frame = event_frame(conversation_id, event);
        if deliver
            .send(ConnectionCommand::Deliver(Outbound::new(
                Route::Ephemeral,
                &frame,
            )))
            .await
            .is_err()
            || closed
        {
            break;
        }
    }
}

fn source_kind_view(source: convene_sfu::driver::TrackSource) -> MeetingSourceKindView {
    match source {
        convene_sfu::driver::TrackSource::Microphone => MeetingSourceKindView::Microphone,
        convene_sfu::driver::TrackSource::Camera => MeetingSourceKindView::Camera,
        convene_sfu::driver::TrackSource::ScreenShare => MeetingSourceKindView::ScreenShare,
    }
}

fn event_frame(conversation_id: Uuid, event: SessionEvent) -> ServerFrame {
    match event {
        SessionEvent::PublishAnswer { sdp } => ServerFrame::MeetingPublishAnswer { sdp },
        SessionEvent::SubscribeOffer { sdp } => ServerFrame::MeetingSubscribeOffer { sdp },
        SessionEvent::Roster {
            participants,
            waiting,
            locked,
        } => ServerFrame::MeetingRoster {
            conversation_id,
            waiting: waiting
                .into_iter()
                .map(|entry| MeetingWaitingView {
                    session_id: entry.session_id,
                    user_id: entry.user_id,
                    display_name: entry.display_name,
                })
                .collect(),
            locked,
            participants: participants
                .into_iter()
                .map(|entry| MeetingParticipantView {
                    session_id: entry.session_id,
                    user_id: entry.user_id,
                    display_name: entry.display_name,
                    audio_muted: entry.state.audio_muted,
                    video_muted: entry.state.video_muted,
                    hand_raised: entry.state.hand_raised,
                    host: entry.host,
                    streams: entry
                        .streams
                        .into_iter()
                        .map(|stream| MeetingStreamView {
                            stream_id: stream.stream_id,
                            source: source_kind_view(stream.source),
                        })
                        .collect(),
                })
                .collect(),
        },
        SessionEvent::ActiveSpeakers { dominant, speaking } => ServerFrame::MeetingSpeakers {
            conversation_id,
            dominant,
            speaking,
        },
        SessionEvent::Reaction { session_id, emoji } => ServerFrame::MeetingReaction {
            conversation_id,
            session_id,
            emoji,
        },
        SessionEvent::Admitted => ServerFrame::MeetingAdmitted { conversation_id },
        SessionEvent::MutedByHost => ServerFrame::MeetingMutedByHost { conversation_id },
        SessionEvent::Closed { reason, rejoin } => ServerFrame::MeetingLeft {
            request_id: None,
            conversation_id,
            reason,
            rejoin,
        },
    }
}

fn check_sdp(sdp: &str) -> ApiResult<()> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(ApiError::bad_request(
            "sdp_too_large",
            "That session description is too large.",
        ));
    }
    if !sdp.starts_with("v=0") {
        return Err(ApiError::bad_request(
            "invalid_sdp",
            "That is not a session description.",
        ));
    }
    Ok(())
}

fn published_sources(sources: Vec<MeetingSourceView>) -> ApiResult<Vec<PublishedSource>> {
    if sources.len() > MAX_SOURCES {
        return Err(ApiError::bad_request(
            "too_many_sources",
            "Publish at most 8 tracks.",
        ));
    }
    sources
        .into_iter()
        .map(|source| {
            if source.mid.is_empty() || source.mid.len() > 16 || !(1..=3).contains(&source.layers) {
                return Err(ApiError::bad_request(
                    "invalid_source",
                    "Each source needs its transceiver's mid and 1 to 3 layers.",
                ));
            }
            Ok(PublishedSource {
                mid: source.mid,
                source: match source.source {
                    MeetingSourceKindView::Microphone => {
                        convene_sfu::driver::TrackSource::Microphone
                    }
                    MeetingSourceKindView::Camera => convene_sfu::driver::TrackSource::Camera,
                    MeetingSourceKindView::ScreenShare => {
                        convene_sfu::driver::TrackSource::ScreenShare
                    }
                },
                layers: source.layers,
            })
        })
        .collect()
}

fn check_emoji(emoji: &str) -> ApiResult<()> {
    let n_chars = emoji.chars().count();
    if n_chars == 0 || n_chars > 8 || emoji.chars().any(|c| c.is_ascii()) {
        return Err(ApiError::bad_request(
            "invalid_reaction",
            "A reaction is one emoji.",
        ));
    }
    Ok(())
}

/// Turns a meeting frame into the SFU command it asks for, after checking it.
pub fn command_of(frame: ClientFrame) -> ApiResult<SessionCommand> {
    Ok(match frame {
        ClientFrame::MeetingPublish { sdp, sources } => {
            check_sdp(&sdp)?;
            SessionCommand::PublishOffer {
                sdp,
                sources: published_sources(sources)?,
            }
        }
        ClientFrame::MeetingSubscribeAnswer { sdp } => {
            check_sdp(&sdp)?;
            SessionCommand::SubscribeAnswer { sdp }
        }
        ClientFrame::MeetingView {
            stream_id,
            visible,
            max_layer,
        } => {
            if stream_id.len() > 64 || max_layer > 2 {
                return Err(ApiError::bad_request(
                    "invalid_view",
                    "Name a stream and a layer from 0 to 2.",
                ));
            }
            SessionCommand::Preference {
                stream_id,
                visible,
                max_layer,
            }
        }
        ClientFrame::MeetingState {
            audio_muted,
            video_muted,
            hand_raised,
        } => SessionCommand::State(ParticipantState {
            audio_muted,
            video_muted,
            hand_raised,
        }),
        ClientFrame::MeetingReaction { emoji } => {
            check_emoji(&emoji)?;
            SessionCommand::Reaction { emoji }
        }
        _ => SessionCommand::Leave,
    })
}

impl ActiveMeeting {
    pub async fn send(&self, command: SessionCommand) -> ApiResult<()> {
        self.commands.send(command).await.map_err(|_| unavailable())
    }
}
