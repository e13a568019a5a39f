//! A meeting participant's way in through Convene's public protocol: meetings created and
//! joined over REST, and one `/api/v1/ws` per participant whose `meeting_*` frames are bridged
//! to a headless participant of `convene_sfu::testing` as its [`RelayedSignalling`], exactly
//! what a browser tab's JavaScript does between its peer connections and the socket.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use convene_proto::{
    ClientFrame, MeetingParticipantView, MeetingSourceKindView, MeetingSourceView, ServerFrame,
};
use convene_sfu::forwarding::TrackSource;
use convene_sfu::testing::RelayedSignalling;
use convene_sfu::{ParticipantState, RosterEntry, RosterStream, SessionCommand, SessionEvent};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::targets::{CONNECT_TIMEOUT, UserAccount};
use crate::{Error, Result};

/// How long `meeting_join` may take to be answered before it counts as a failure.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Application pings, well inside the server's 25 s heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Events the bridge buffers for the participant (subscribe offers, rosters).
const EVENT_CAPACITY: usize = 256;
const JOIN_REQUEST_ID: &str = "join";
const LEAVE_REQUEST_ID: &str = "leave";

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A meeting created for the run.
#[derive(Debug, Clone)]
pub struct Meeting {
    pub conversation_id: Uuid,
    pub code: String,
}

#[derive(Debug, Deserialize)]
struct CreatedMeeting {
    id: Uuid,
    meeting_code: String,
}

async fn post(
    http: &reqwest::Client,
    url: String,
    user: &UserAccount,
    body: Option<serde_json::Value>,
) -> Result<reqwest::Response> {
    let mut request = http
        .post(&url)
        .bearer_auth(user.access_token.as_deref().unwrap_or_default());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|source| Error::Http {
        url: url.clone(),
        source,
    })?;
    if !response.status().is_success() {
        return Err(Error::HttpStatus {
            url,
            status: response.status().as_u16(),
            body: response.text().await.unwrap_or_default(),
        });
    }
    Ok(response)
}

/// `host` creates a meeting (no guests, unlocked: members are let straight in).
pub async fn create_meeting(
    http: &reqwest::Client,
    base_url: &str,
    host: &UserAccount,
    title: &str,
) -> Result<Meeting> {
    let url = format!("{base_url}/api/v1/conversations/meetings");
    let response = post(
        http,
        url.clone(),
        host,
        Some(json!({"title": title, "allow_guests": false})),
    )
    .await?;
    let created: CreatedMeeting = response
        .json()
        .await
        .map_err(|source| Error::Http { url, source })?;
    Ok(Meeting {
        conversation_id: created.id,
        code: created.meeting_code,
    })
}

/// `user` becomes a member of the meeting with its code, as an invite link does.
pub async fn join_by_code(
    http: &reqwest::Client,
    base_url: &str,
    user: &UserAccount,
    meeting: &Meeting,
) -> Result<()> {
    let url = format!("{base_url}/api/v1/meetings/{}/join", meeting.code);
    post(http, url, user, None).await.map(drop)
}

/// An open, `ready` WebSocket of one user, not in a meeting yet.
pub struct MeetingSocket {
    websocket: Socket,
    url: String,
}

/// How a `meeting_join` ended.
pub enum JoinOutcome {
    /// In the meeting's media room; `joined_after` is from sending `meeting_join` to
    /// `meeting_joined`.
    Joined {
        session_id: Uuid,
        joined_after: Duration,
        socket: Box<MeetingSocket>,
    },
    /// Refused (`error.code`), knocking (`not_admitted`), timed out (`timeout`) or the
    /// connection failed (`connection`).
    Failed { code: String, after: Duration },
}

impl MeetingSocket {
    /// Opens `/api/v1/ws` with the user's Bearer token and waits for `ready`.
    pub async fn connect(base_url: &str, user: &UserAccount) -> Result<Self> {
        let url = format!(
            "{}/api/v1/ws",
            base_url
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        );
        let websocket_error = |source| Error::WebSocket {
            url: url.clone(),
            source: Box::new(source),
        };
        let header = |value: String| {
            HeaderValue::from_str(&value).map_err(|error| Error::Protocol {
                peer: url.clone(),
                detail: format!("invalid header value: {error}"),
            })
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(websocket_error)?;
        let token = user.access_token.as_deref().unwrap_or_default();
        request
            .headers_mut()
            .insert("authorization", header(format!("Bearer {token}"))?);
        request
            .headers_mut()
            .insert("origin", header(base_url.to_owned())?);
        let (mut websocket, _) = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(request, None, true),
        )
        .await
        .map_err(|_| Error::Timeout {
            what: format!("the websocket handshake with {url}"),
        })?
        .map_err(websocket_error)?;
        tokio::time::timeout(CONNECT_TIMEOUT, async {
            while let Some(message) = websocket.next().await {
                if let Message::Text(text) = message.map_err(websocket_error)?
                    && let Ok(ServerFrame::Ready { .. }) = serde_json::from_str(&text)
                {
                    return Ok(());
                }
            }
            Err(Error::ConnectionClosed)
        })
        .await
        .map_err(|_| Error::Timeout {
            what: format!("`ready` from {url}"),
        })??;
        Ok(Self { websocket, url })
    }

    async fn send(&mut self, frame: &ClientFrame) -> Result<()> {
        let text = serde_json::to_string(frame)?;
        self.websocket
            .send(Message::text(text))
            .await
            .map_err(|source| Error::WebSocket {
                url: self.url.clone(),
                source: Box::new(source),
            })
    }

    /// Sends `meeting_join` and waits for its answer; anything else that arrives first is
    /// ignored (chat traffic of the user's other conversations).
    pub async fn join(mut self, conversation_id: Uuid) -> JoinOutcome {
        let started = Instant::now();
        let failed = |code: &str| JoinOutcome::Failed {
            code: code.to_owned(),
            after: started.elapsed(),
        };
        let frame = ClientFrame::MeetingJoin {
            request_id: Some(JOIN_REQUEST_ID.to_owned()),
            conversation_id,
            ring: false,
        };
        if self.send(&frame).await.is_err() {
            return failed("connection");
        }
        let answer = tokio::time::timeout(JOIN_TIMEOUT, async {
            while let Some(message) = self.websocket.next().await {
                let Ok(Message::Text(text)) = message else {
                    continue;
                };
                match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(ServerFrame::MeetingJoined {
                        session_id,
                        admitted,
                        ..
                    }) => return Ok((session_id, admitted)),
                    Ok(ServerFrame::Error { request_id, error })
                        if request_id.as_deref() == Some(JOIN_REQUEST_ID) =>
                    {
                        return Err(error.code);
                    }
                    _ => {}
                }
            }
            Err("connection".to_owned())
        })
        .await;
        match answer {
            Err(_) => failed("timeout"),
            Ok(Err(code)) => failed(&code),
            Ok(Ok((_, false))) => failed("not_admitted"),
            Ok(Ok((session_id, true))) => JoinOutcome::Joined {
                session_id,
                joined_after: started.elapsed(),
                socket: Box::new(self),
            },
        }
    }
}

/// What a bridge saw that a report counts: error codes the server sent, and whether the
/// server ended the session by itself.
#[derive(Debug, Default, Clone)]
pub struct BridgeLog {
    pub errors: BTreeMap<String, u64>,
    pub ended_by_server: Option<String>,
}

/// The task that carries one participant's signalling between its socket and its peer
/// connections. Dropping it stops the task (and so closes the socket).
pub struct MeetingBridge {
    log: Arc<Mutex<BridgeLog>>,
    left: watch::Receiver<bool>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl MeetingBridge {
    /// Starts bridging a joined socket; the participant gets the other ends.
    pub fn start(socket: Box<MeetingSocket>, session_id: Uuid) -> (Self, RelayedSignalling) {
        let (commands_tx, commands) = mpsc::channel(EVENT_CAPACITY);
        let (events, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let (left_tx, left) = watch::channel(false);
        let log = Arc::new(Mutex::new(BridgeLog::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(
            BridgeTask {
                socket,
                commands,
                events,
                left: left_tx,
                log: log.clone(),
                leaving: false,
            }
            .run(stop.clone()),
        );
        let signalling = RelayedSignalling {
            session_id,
            commands: commands_tx,
            events: events_rx,
        };
        (
            Self {
                log,
                left,
                stop,
                task: Some(task),
            },
            signalling,
        )
    }

    pub fn log(&self) -> BridgeLog {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (at most `patience`) for `meeting_left`, which follows the participant's `Leave`,
    /// then closes the socket.
    pub async fn finish(mut self, patience: Duration) -> BridgeLog {
        let _ = tokio::time::timeout(patience, self.left.wait_for(|left| *left)).await;
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        self.log()
    }
}

impl Drop for MeetingBridge {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct BridgeTask {
    socket: Box<MeetingSocket>,
    commands: mpsc::Receiver<SessionCommand>,
    events: mpsc::Sender<SessionEvent>,
    left: watch::Sender<bool>,
    log: Arc<Mutex<BridgeLog>>,
    /// `meeting_leave` went out: answers the participant still sends (to re-offers the others'
    /// leaving caused) are refused with `not_in_meeting`, which is no error of the run.
    leaving: bool,
}

impl BridgeTask {
    async fn run(mut self, stop: CancellationToken) {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.reset();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                command = self.commands.recv() => {
                    // The participant is gone: nothing more to carry.
                    let Some(command) = command else { break };
                    self.leaving |= command == SessionCommand::Leave;
                    if let Some(frame) = client_frame(command)
                        && self.socket.send(&frame).await.is_err()
                    {
                        self.count_error("connection");
                        break;
                    }
                }
                message = self.socket.websocket.next() => match message {
                    Some(Ok(Message::Text(text))) => self.handle(&text).await,
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        if !*self.left.borrow() {
                            self.count_error("connection");
                        }
                        break;
                    }
                },
                _ = heartbeat.tick() => {
                    let _ = self.socket.send(&ClientFrame::Ping { request_id: None }).await;
                }
            }
        }
        let _ = self.socket.websocket.close(None).await;
    }

    fn count_error(&self, code: &str) {
        *self
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .errors
            .entry(code.to_owned())
            .or_default() += 1;
    }

    async fn handle(&mut self, text: &str) {
        let Ok(frame) = serde_json::from_str::<ServerFrame>(text) else {
            return;
        };
        let event = match frame {
            ServerFrame::MeetingPublishAnswer { sdp } => SessionEvent::PublishAnswer { sdp },
            ServerFrame::MeetingSubscribeOffer { sdp } => SessionEvent::SubscribeOffer { sdp },
            ServerFrame::MeetingRoster {
                participants,
                locked,
                ..
            } => SessionEvent::Roster {
                participants: participants.into_iter().map(roster_entry).collect(),
                waiting: Vec::new(),
                locked,
            },
            ServerFrame::MeetingLeft {
                request_id,
                reason,
                rejoin,
                ..
            } => {
                if request_id.as_deref() != Some(LEAVE_REQUEST_ID) {
                    self.log
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .ended_by_server = Some(reason.clone());
                }
                let _ = self.left.send(true);
                SessionEvent::Closed { reason, rejoin }
            }
            ServerFrame::Error { error, .. } => {
                if !self.leaving {
                    self.count_error(&error.code);
                }
                return;
            }
            _ => return,
        };
        // A participant that stopped reading has been closed; its events no longer matter.
        let _ = self.events.send(event).await;
    }
}

/// The wire frame of a participant's command; `None` for what a load test never sends.
fn client_frame(command: SessionCommand) -> Option<ClientFrame> {
    Some(match command {
        SessionCommand::PublishOffer { sdp, sources } => ClientFrame::MeetingPublish {
            sdp,
            sources: sources
                .into_iter()
                .map(|published| MeetingSourceView {
                    mid: published.mid,
                    source: source_view(published.source),
                    layers: published.layers,
                })
                .collect(),
        },
        SessionCommand::SubscribeAnswer { sdp } => ClientFrame::MeetingSubscribeAnswer { sdp },
        SessionCommand::Preference {
            stream_id,
            visible,
            max_layer,
        } => ClientFrame::MeetingView {
            stream_id,
            visible,
            max_layer,
        },
        SessionCommand::State(state) => ClientFrame::MeetingState {
            audio_muted: state.audio_muted,
            video_muted: state.video_muted,
            hand_raised: state.hand_raised,
        },
        SessionCommand::Reaction { emoji } => ClientFrame::MeetingReaction { emoji },
        SessionCommand::Leave => ClientFrame::MeetingLeave {
            request_id: Some(LEAVE_REQUEST_ID.to_owned()),
        },
        SessionCommand::Host { .. } => return None,
    })
}

fn source_view(source: TrackSource) -> MeetingSourceKindView {
    match source {
        TrackSource::Microphone => MeetingSourceKindView::Microphone,
        TrackSource::Camera => MeetingSourceKindView::Camera,
        TrackSource::ScreenShare => MeetingSourceKindView::ScreenShare,
    }
}

fn track_source(source: MeetingSourceKindView) -> TrackSource {
    match source {
        MeetingSourceKindView::Microphone => TrackSource::Microphone,
        MeetingSourceKindView::Camera => TrackSource::Camera,
        MeetingSourceKindView::ScreenShare => TrackSource::ScreenShare,
    }
}

fn roster_entry(view: MeetingParticipantView) -> RosterEntry {
    RosterEntry {
        session_id: view.session_id,
        user_id: view.user_id,
        display_name: view.display_name,
        state: ParticipantState {
            audio_muted: view.audio_muted,
            video_muted: view.video_muted,
            hand_raised: view.hand_raised,
        },
        host: view.host,
        streams: view
            .streams
            .into_iter()
            .map(|stream| RosterStream {
                stream_id: stream.stream_id,
                source: track_source(stream.source),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_sfu::PublishedSource;

    #[test]
    fn a_publish_offer_becomes_meeting_publish_with_its_sources() {
        let frame = client_frame(SessionCommand::PublishOffer {
            sdp: "v=0\r\n".to_owned(),
            sources: vec![
                PublishedSource {
                    mid: "0".to_owned(),
                    source: TrackSource::Microphone,
                    layers: 1,
                },
                PublishedSource {
                    mid: "1".to_owned(),
                    source: TrackSource::Camera,
                    layers: 1,
                },
            ],
        });
        let json = serde_json::to_value(frame).unwrap();
        assert_eq!(
            json,
            json!({"type": "meeting_publish", "sdp": "v=0\r\n", "sources": [
                {"mid": "0", "source": "microphone", "layers": 1},
                {"mid": "1", "source": "camera", "layers": 1},
            ]})
        );
    }

    #[test]
    fn leave_carries_the_request_id_its_answer_is_recognised_by() {
        let json = serde_json::to_value(client_frame(SessionCommand::Leave)).unwrap();
        assert_eq!(
            json,
            json!({"type": "meeting_leave", "request_id": "leave"})
        );
    }

    #[test]
    fn a_roster_entry_keeps_who_publishes_what() {
        let session_id = Uuid::new_v4();
        let view: MeetingParticipantView = serde_json::from_value(json!({
            "session_id": session_id, "user_id": Uuid::new_v4(), "display_name": "Ada",
            "audio_muted": true, "video_muted": false, "hand_raised": false, "host": true,
            "streams": [{"stream_id": session_id.to_string(), "source": "camera"}],
        }))
        .unwrap();
        let entry = roster_entry(view);
        assert_eq!(entry.session_id, session_id);
        assert!(entry.state.audio_muted);
        assert_eq!(entry.streams[0].source, TrackSource::Camera);
    }
}
