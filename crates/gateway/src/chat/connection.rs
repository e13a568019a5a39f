//! One WebSocket connection: a task that owns the connection's state (which conversations it
//! follows and up to which seq), reads client frames, and writes server frames in seq order.
//!
//! Ordering and completeness: every conversation event carries its seq. The connection keeps
//! a cursor per conversation; an event at `cursor + 1` is sent, an older one is a duplicate
//! and dropped, a newer one means something is missing, and the gap is read from the store
//! first. So a client sees each event once, in order, whatever the bus did.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use convene_proto::{ClientFrame, ErrorView, ResumeCursor, ServerFrame};
use convene_store::User;
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth::extract::authenticate_session;
use crate::calls;
use crate::chat::convert;
use crate::chat::envelope::{Outbound, Route};
use crate::chat::hub::{ConnectionCommand, ConnectionHandle};
use crate::chat::operations::{self, MAX_EVENTS_PER_FETCH, Receipt, SendRequest};
use crate::chat::presence;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Frames waiting for a slow client before the connection is closed with "resync".
pub const QUEUE_CAPACITY: usize = 1024;
/// The client must send something at least this often.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(25);
/// A write that takes longer than this means the client is gone or hopelessly slow.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Typing frames from one connection are forwarded at most this often per conversation.
const TYPING_MIN_INTERVAL: Duration = Duration::from_secs(2);
/// Conversations followed by one connection (the newest by activity).
const MAX_FOLLOWED_CONVERSATIONS: u32 = 1000;

/// Close codes (4000–4999 are the application's).
pub const CLOSE_HEARTBEAT_TIMEOUT: u16 = 4000;
/// The session was signed out or expired; sign in again.
pub const CLOSE_SESSION_ENDED: u16 = 4001;
/// The client was too slow; reconnect and resume.
pub const CLOSE_RESYNC: u16 = 4008;
/// Going away (the server is shutting down); reconnect (to another pod).
pub const CLOSE_GOING_AWAY: u16 = 1001;

struct Connection {
    state: AppState,
    user: User,
    /// Re-checked on every heartbeat: a socket must not outlive its session (logout,
    /// password change, refresh-token theft, guest expiry).
    session_id: Uuid,
    connection_id: Uuid,
    /// Conversation → newest seq sent. Filled by `resume`.
    cursors: HashMap<Uuid, i64>,
    resumed: bool,
    last_typing: HashMap<Uuid, Instant>,
    socket: futures::stream::SplitSink<WebSocket, Message>,
    /// This connection's own queue, for the meeting's news to join the other frames.
    deliver: mpsc::Sender<ConnectionCommand>,
    meeting: Option<crate::meetings::ActiveMeeting>,
}

enum Flow {
    Continue,
    Close(u16, &'static str),
}

pub async fn run(
    state: AppState,
    socket: WebSocket,
    user: User,
    session_id: Uuid,
    shutdown: CancellationToken,
) {
    let connection_id = Uuid::now_v7();
    let (sender, mut commands) = mpsc::channel(QUEUE_CAPACITY);
    let overflowed = CancellationToken::new();
    state
        .hub
        .register(
            user.id,
            connection_id,
            ConnectionHandle {
                sender: sender.clone(),
                overflowed: overflowed.clone(),
            },
        )
        .await;
    state.metrics.websocket_opened();
    match state
        .bus
        .connection_opened(user.id, connection_id, state.clock.now())
        .await
    {
        Ok(true) => presence::announce(&state, user.id, true, None).await,
        Ok(false) => {}
        Err(error) => {
            // The bus is away: contacts on this pod hear it now, the others when the bus
            // is back (every pod re-announces its users then).
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "presence: recording the connection failed"
            );
            presence::announce(&state, user.id, true, None).await;
        }
    }
    let user_id = user.id;
    let (sink, mut stream) = socket.split();
    let mut connection = Connection {
        state: state.clone(),
        user,
        session_id,
        connection_id,
        cursors: HashMap::new(),
        resumed: false,
        last_typing: HashMap::new(),
        socket: sink,
        deliver: sender,
        meeting: None,
    };
    tracing::debug!(%user_id, %connection_id, "websocket connected");
    let flow = connection
        .serve(&mut stream, &mut commands, &overflowed, &shutdown)
        .await;
    if let Flow::Close(code, reason) = flow {
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        let _ = tokio::time::timeout(SEND_TIMEOUT, connection.socket.send(close)).await;
    }
    // Flushes the close handshake (including the reply to a client's Close frame, which the
    // WebSocket layer queued) so clients see a clean close, not 1006.
    let _ = tokio::time::timeout(SEND_TIMEOUT, connection.socket.close()).await;
    state.hub.unregister(user_id, connection_id).await;
    state.metrics.websocket_closed();
    let now = state.clock.now();
    let last_connection = match state
        .bus
        .connection_closed(user_id, connection_id, now)
        .await
    {
        Ok(true) => {
            presence::went_offline(&state, user_id, now).await;
            true
        }
        Ok(false) => false,
        Err(error) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "presence: forgetting the connection failed"
            );
            // Without the bus only this pod's view is known: with no connection left here,
            // say offline (another pod that still has one re-announces online when the bus
            // is back).
            let gone_here = !state.hub.has_local_connections(user_id);
            if gone_here {
                presence::went_offline(&state, user_id, now).await;
            }
            gone_here
        }
    };
    calls::hang_up_calls_of_connection(&state, user_id, connection_id, last_connection).await;
    tracing::debug!(%user_id, %connection_id, "websocket closed");
}

impl Connection {
    async fn serve(
        &mut self,
        stream: &mut futures::stream::SplitStream<WebSocket>,
        commands: &mut mpsc::Receiver<ConnectionCommand>,
        overflowed: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> Flow {
        let ready = ServerFrame::Ready {
            connection_id: self.connection_id,
            user_id: self.user.id,
            heartbeat_interval_ms: u32::try_from(HEARTBEAT_INTERVAL.as_millis())
                .unwrap_or(u32::MAX),
            server_time: self.state.clock.now(),
        };
        if self.send(&ready).await.is_err() {
            return Flow::Close(CLOSE_GOING_AWAY, "write failed");
        }
        let mut last_heard = Instant::now();
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut session_check =
            tokio::time::interval(self.state.settings.websocket_session_check_interval);
        session_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        session_check.tick().await;
        loop {
            let step = tokio::select! {
                () = overflowed.cancelled() => {
                    self.state.metrics.websocket_overflowed();
                    return Flow::Close(CLOSE_RESYNC, "resync");
                }
                () = shutdown.cancelled() => return Flow::Close(CLOSE_GOING_AWAY, "server shutting down"),
                incoming = stream.next() => {
                    last_heard = Instant::now();
                    match incoming {
                        Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
                        Some(Ok(Message::Binary(_))) => self.send(&error_frame(None, ApiError::bad_request(
                            "invalid_frame", "Frames are JSON text."))).await,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                        Some(Ok(Message::Close(_))) | None => return Flow::Continue,
                        Some(Err(error)) => {
                            tracing::debug!(%error, "websocket read failed");
                            return Flow::Continue;
                        }
                    }
                }
                command = commands.recv() => match command {
                    Some(ConnectionCommand::Deliver(outbound)) => self.on_delivery(outbound).await,
                    Some(ConnectionCommand::CatchUp) => self.catch_up().await,
                    None => return Flow::Close(CLOSE_GOING_AWAY, "server shutting down"),
                },
                _ = session_check.tick() => {
                    match authenticate_session(&self.state, self.user.id, self.session_id, None).await {
                        Ok(_) => Ok(()),
                        Err(error) if error.status == axum::http::StatusCode::UNAUTHORIZED => {
                            let _ = self.send(&error_frame(None, error)).await;
                            return Flow::Close(CLOSE_SESSION_ENDED, "session ended");
                        }
                        // The store is away: keep the socket; check again later.
                        Err(_) => Ok(()),
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > HEARTBEAT_INTERVAL * 2 {
                        return Flow::Close(CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout");
                    }

                    self.write(Message::Ping(Default::default())).await
                }
            };
            if step.is_err() {
                return Flow::Continue;
            }
        }
    }

    async fn write(&mut self, message: Message) -> Result<(), ()> {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    async fn send(&mut self, frame: &ServerFrame) -> Result<(), ()> {
        let outbound = Outbound::new(Route::Ephemeral, frame);
        self.write_json(&outbound.frame_json).await
    }

    async fn write_json(&mut self, json: &str) -> Result<(), ()> {
        self.write(Message::Text(Utf8Bytes::from(json))).await
    }

    async fn on_text(&mut self, text: &str) -> Result<(), ()> {
        if text.len() > convene_proto::MAX_CLIENT_FRAME_BYTES {
            return self
                .send(&error_frame(
                    None,
                    ApiError::bad_request("frame_too_large", "That frame is too large."),
                ))
                .await;
        }
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(error) => {
                let request_id = request_id_of(text);
                let error =
                    ApiError::bad_request("invalid_frame", format!("Not a valid frame: {error}."));
                return self.send(&error_frame(request_id, error)).await;
            }
        };
        if let Err(error) = self.state.rate_limits.check_user(self.user.id) {
            return self
                .send(&error_frame(frame_request_id(&frame), error))
                .await;
        }
        let request_id = frame_request_id(&frame);
        match self.handle(frame).await {
            Ok(Some(answer)) => self.send(&answer).await,
            Ok(None) => Ok(()),
            Err(error) => self.send(&error_frame(request_id, error)).await,
        }
    }

    /// Runs one client request; returns the answer frame, if the request has one.
    async fn handle(&mut self, frame: ClientFrame) -> ApiResult<Option<ServerFrame>> {
        let state = self.state.clone();
        let user = self.user.clone();
        Ok(match frame {
            ClientFrame::Resume {
                request_id,
                cursors,
            } => {
                self.resume(&cursors).await?;
                Some(ServerFrame::Resumed { request_id })
            }
            ClientFrame::FetchEvents {
                request_id,
                conversation_id,
                after_seq,
            } => {
                let (events, complete) =
                    operations::events_after(&state, &user, conversation_id, after_seq).await?;
                Some(ServerFrame::Events {
                    request_id,
                    conversation_id,
                    events,
                    complete,
                })
            }
            ClientFrame::SendMessage {
                request_id,
                conversation_id,
                client_id,
                body,
                reply_to,
            } => {
                let outcome = operations::send_message(
                    &state,
                    &user,
                    SendRequest {
                        conversation_id,
                        client_id: client_id.clone(),
                        body,
                        reply_to,
                        forwarded_from: None,
                    },
                )
                .await?;
                // The message ends the sender's typing; typing again is news at once.
                self.last_typing.remove(&conversation_id);
                Some(message_sent(request_id, client_id, &outcome)?)
            }
            ClientFrame::ForwardMessage {
                request_id,
                message_id,
                to_conversation_id,
                client_id,
            } => {
                let outcome = operations::forward_message(
                    &state,
                    &user,
                    message_id,
                    to_conversation_id,
                    client_id.clone(),
                )
                .await?;
                Some(message_sent(request_id, client_id, &outcome)?)
            }
            ClientFrame::EditMessage {
                request_id,
                conversation_id,
                message_id,
                body,
            } => {
                let event =
                    operations::edit_message(&state, &user, conversation_id, message_id, body)
                        .await?;
                Some(ServerFrame::Ok {
                    request_id,
                    seq: Some(event.seq),
                })
            }
            ClientFrame::DeleteMessage {
                request_id,
                conversation_id,
                message_id,
                for_everyone,
            } => {
                let event = operations::delete_message(
                    &state,
                    &user,
                    conversation_id,
                    message_id,
                    for_everyone,
                )
                .await?;
                Some(ServerFrame::Ok {
                    request_id,
                    seq: event.map(|event| event.seq),
                })
            }
            ClientFrame::React {
                request_id,
                conversation_id,
                message_id,
                emoji,
            } => {
                let event =
                    operations::react(&state, &user, conversation_id, message_id, &emoji).await?;
                Some(ServerFrame::Ok {
                    request_id,
                    seq: Some(event.seq),
                })
            }
            ClientFrame::PinMessage {
                request_id,
                conversation_id,
                message_id,
                pinned,
            } => {
                let event =
                    operations::pin(&state, &user, conversation_id, message_id, pinned).await?;
                Some(ServerFrame::Ok {
                    request_id,
                    seq: event.map(|event| event.seq),
                })
            }
            ClientFrame::Typing { conversation_id } => {
                let now = Instant::now();
                let recent = self
                    .last_typing
                    .get(&conversation_id)
                    .is_some_and(|last| now.duration_since(*last) < TYPING_MIN_INTERVAL);
                if !recent {
                    operations::typing(&state, &user, conversation_id).await?;
                    // Only conversations the user may type in are remembered.
                    self.last_typing.insert(conversation_id, now);
                }
                None
            }
            ClientFrame::MarkRead {
                request_id,
                conversation_id,
                seq,
            } => {
                operations::mark(&state, &user, conversation_id, seq, Receipt::Read).await?;
                Some(ServerFrame::Ok {
                    request_id,
                    seq: None,
                })
            }
            ClientFrame::MarkDelivered {
                conversation_id,
                seq,
            } => {
                operations::mark(&state, &user, conversation_id, seq, Receipt::Delivered).await?;
                None
            }
            ClientFrame::CallInvite {
                request_id,
                conversation_id,
                kind,
            } => {
                calls::signalling::invite(
                    &state,
                    &user,
                    self.connection_id,
                    request_id,
                    conversation_id,
                    kind,
                )
                .await?;
                None
            }
            ClientFrame::CallAccept {
                request_id,
                call_id,
            } => {
                calls::signalling::accept(&state, &user, self.connection_id, request_id, call_id)
                    .await?;
                None
            }
            ClientFrame::CallDecline {
                request_id,
                call_id,
            } => {
                calls::signalling::decline(&state, &user, self.connection_id, request_id, call_id)
                    .await?;
                None
            }
            ClientFrame::CallHangup {
                request_id,
                call_id,
                failed: true,
            } => {
                calls::signalling::fail(&state, &user, self.connection_id, request_id, call_id)
                    .await?;
                None
            }
            ClientFrame::CallHangup {
                request_id,
                call_id,
                failed: false,
            } => {
                calls::signalling::hang_up(&state, &user, self.connection_id, request_id, call_id)
                    .await?;
                None
            }
            ClientFrame::CallAddParticipant {
                request_id,
                call_id,
                user_id,
            } => {
                calls::upgrade::add_participant(
                    &state,
                    &user,
                    self.connection_id,
                    request_id,
                    call_id,
                    user_id,
                )
                .await?;
                None
            }
            ClientFrame::CallSignal { call_id, signal } => {
                calls::signalling::relay_signal(&state, &user, self.connection_id, call_id, signal)
                    .await?;
                None
            }
            ClientFrame::Ping { request_id } => Some(ServerFrame::Pong { request_id }),
            ClientFrame::MeetingJoin {
                request_id,
                conversation_id,
                ring,
            } => {
                // One meeting per connection: joining another leaves the first.
                self.meeting = None;
                let meeting = crate::meetings::join(
                    &state,
                    &user,
                    conversation_id,
                    request_id,
                    ring,
                    self.deliver.clone(),
                )
                .await?;
                self.meeting = Some(meeting);
                None
            }
            ClientFrame::MeetingHost { request_id, action } => {
                let meeting = self
                    .meeting
                    .as_ref()
                    .ok_or_else(crate::meetings::not_in_meeting)?;
                let command = crate::meetings::host_command(&state, &user, meeting, action).await?;
                meeting.send(command).await?;
                Some(ServerFrame::Ok {
                    request_id,
                    seq: None,
                })
            }
            ClientFrame::MeetingLeave { request_id } => {
                let meeting = self
                    .meeting
                    .take()
                    .ok_or_else(crate::meetings::not_in_meeting)?;
                let _ = meeting.send(convene_sfu::SessionCommand::Leave).await;
                Some(ServerFrame::MeetingLeft {
                    request_id,
                    conversation_id: meeting.conversation_id,
                    reason: "left".to_owned(),
                    rejoin: false,
                })
            }
            frame @ (ClientFrame::MeetingPublish { .. }
            | ClientFrame::MeetingSubscribeAnswer { .. }
            | ClientFrame::MeetingView { .. }
            | ClientFrame::MeetingState { .. }
            | ClientFrame::MeetingReaction { .. }) => {
                let meeting = self
                    .meeting
                    .as_ref()
                    .ok_or_else(crate::meetings::not_in_meeting)?;
                meeting.send(crate::meetings::command_of(frame)?).await?;
                None
            }
        })
    }

    async fn on_delivery(&mut self, outbound: Outbound) -> Result<(), ()> {
        match outbound.route {
            Route::Event {
                conversation_id,
                seq,
            } => {
                if !self.resumed {
                    // Resume will read it from the store.
                    return Ok(());
                }
                let Some(cursor) = self.cursors.get(&conversation_id).copied() else {
                    // Not followed (yet): `conversation_added` sets the cursor.
                    return Ok(());
                };
                if seq <= cursor {
                    return Ok(());
                }
                if seq == cursor + 1 {
                    self.cursors.insert(conversation_id, seq);
                    return self.write_json(&outbound.frame_json).await;
                }
                // A gap: earlier events are late or lost; read them from the store.
                self.replay(conversation_id, cursor).await
            }
            Route::ConversationAdded {
                conversation_id,
                seq,
            } => {
                if !self.resumed || self.cursors.contains_key(&conversation_id) {
                    return Ok(());
                }
                self.cursors.insert(conversation_id, seq);
                self.write_json(&outbound.frame_json).await?;
                // Events between the summary and now are replayed right away.
                self.replay(conversation_id, seq).await
            }
            Route::ConversationRemoved { conversation_id } => {
                if self.cursors.remove(&conversation_id).is_some() {
                    self.write_json(&outbound.frame_json).await?;
                }
                Ok(())
            }
            Route::Ephemeral | Route::ToConnection { .. } | Route::ExceptConnection { .. } => {
                self.write_json(&outbound.frame_json).await
            }
        }
    }

    /// Sends the events after `after_seq` from the store, in order, and moves the cursor.
    async fn replay(&mut self, conversation_id: Uuid, after_seq: i64) -> Result<(), ()> {
        let events = match self
            .state
            .store
            .events_after(conversation_id, after_seq, MAX_EVENTS_PER_FETCH)
            .await
        {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "replay: reading events failed"
                );
                let frame = ServerFrame::ResyncRequired {
                    conversation_id: Some(conversation_id),
                    reason: "the server could not read missed events".into(),
                };
                return self.send(&frame).await;
            }
        };
        let full_page = events.len() >= MAX_EVENTS_PER_FETCH as usize;
        for event in &events {
            let cursor = self
                .cursors
                .get(&conversation_id)
                .copied()
                .unwrap_or(after_seq);
            if event.seq <= cursor {
                continue;
            }
            // The user left (or was removed) at this event: it is the last one they get.
            let left = matches!(event.kind, convene_store::EventKind::MemberLeft { user_id } if user_id == self.user.id);
            self.cursors.insert(conversation_id, event.seq);
            self.send(&ServerFrame::Event {
                event: convert::event(event),
            })
            .await?;
            if left {
                self.cursors.remove(&conversation_id);
                return self
                    .send(&ServerFrame::ConversationRemoved { conversation_id })
                    .await;
            }
        }
        if full_page {
            // Too far behind to stream: the client reloads this conversation's history.
            if let Ok(Some(conversation)) = self.state.store.conversation(conversation_id).await {
                self.cursors.insert(conversation_id, conversation.last_seq);
            }
            let frame = ServerFrame::ResyncRequired {
                conversation_id: Some(conversation_id),
                reason: "too many missed events; reload the history".into(),
            };
            return self.send(&frame).await;
        }
        Ok(())
    }

    /// Brings the client up to date from the store: replays what it missed in the
    /// conversations it knows, announces the ones it does not, and forgets the ones the
    /// user left. Used by `resume` (with the client's cursors) and after a bus outage (with
    /// the connection's own).
    async fn reconcile(&mut self, known: HashMap<Uuid, i64>) -> ApiResult<()> {
        let summaries = self
            .state
            .store
            .conversations_for_user(self.user.id, None, MAX_FOLLOWED_CONVERSATIONS)
            .await?;
        let member_of: HashSet<Uuid> = summaries
            .iter()
            .map(|summary| summary.conversation.id)
            .collect();
        for conversation_id in known.keys().filter(|id| !member_of.contains(id)) {
            self.cursors.remove(conversation_id);
            let _ = self
                .send(&ServerFrame::ConversationRemoved {
                    conversation_id: *conversation_id,
                })
                .await;
        }
        for summary in &summaries {
            let conversation_id = summary.conversation.id;
            match known.get(&conversation_id) {
                Some(seq) => {
                    self.cursors.insert(conversation_id, *seq);
                    if summary.conversation.last_seq > *seq {
                        let _ = self.replay(conversation_id, *seq).await;
                    }
                }
                None => {
                    self.cursors
                        .insert(conversation_id, summary.conversation.last_seq);
                    let frame = ServerFrame::ConversationAdded {
                        conversation: convert::summary(summary),
                    };
                    let _ = self.send(&frame).await;
                }
            }
        }
        Ok(())
    }

    async fn resume(&mut self, cursors: &[ResumeCursor]) -> ApiResult<()> {
        let known = cursors
            .iter()
            .map(|cursor| (cursor.conversation_id, cursor.seq.max(0)))
            .collect();
        self.cursors.clear();
        self.resumed = false;
        if let Err(error) = self.reconcile(known).await {
            let frame = ServerFrame::ResyncRequired {
                conversation_id: None,
                reason: "the server could not read what you missed; resume again".into(),
            };
            let _ = self.send(&frame).await;
            return Err(error);
        }
        self.resumed = true;
        Ok(())
    }

    async fn catch_up(&mut self) -> Result<(), ()> {
        if !self.resumed {
            return Ok(());
        }
        let known = self.cursors.clone();
        if let Err(error) = self.reconcile(known).await {
            let frame = ServerFrame::ResyncRequired {
                conversation_id: None,
                reason: error.message,
            };
            return self.send(&frame).await;
        }
        Ok(())
    }
}

fn message_sent(
    request_id: Option<String>,
    client_id: String,
    outcome: &convene_store::AppendOutcome,
) -> ApiResult<ServerFrame> {
    let convene_store::EventKind::MessageCreated { message } = &outcome.event.kind else {
        tracing::error!("append_message answered with an event that is not a message creation");
        return Err(ApiError::internal());
    };
    Ok(ServerFrame::MessageSent {
        request_id,
        client_id,
        duplicate: outcome.duplicate,
        message: convert::message(message),
    })
}

fn error_frame(request_id: Option<String>, error: ApiError) -> ServerFrame {
    ServerFrame::Error {
        request_id,
        error: ErrorView {
            code: error.code.to_owned(),
            message: error.message,
        },
    }
}

fn frame_request_id(frame: &ClientFrame) -> Option<String> {
    match frame {
        ClientFrame::Resume { request_id, .. }
        | ClientFrame::FetchEvents { request_id, .. }
        | ClientFrame::SendMessage { request_id, .. }
        | ClientFrame::ForwardMessage { request_id, .. }
        | ClientFrame::EditMessage { request_id, .. }
        | ClientFrame::DeleteMessage { request_id, .. }
        | ClientFrame::React { request_id, .. }
        | ClientFrame::PinMessage { request_id, .. }
        | ClientFrame::MarkRead { request_id, .. }
        | ClientFrame::CallInvite { request_id, .. }
        | ClientFrame::CallAccept { request_id, .. }
        | ClientFrame::CallDecline { request_id, .. }
        | ClientFrame::CallHangup { request_id, .. }
        | ClientFrame::CallAddParticipant { request_id, .. }
        | ClientFrame::MeetingJoin { request_id, .. }
        | ClientFrame::MeetingHost { request_id, .. }
        | ClientFrame::MeetingLeave { request_id }
        | ClientFrame::Ping { request_id } => request_id.clone(),
        ClientFrame::Typing { .. }
        | ClientFrame::MarkDelivered { .. }
        | ClientFrame::CallSignal { .. }
        | ClientFrame::MeetingPublish { .. }
        | ClientFrame::MeetingSubscribeAnswer { .. }
        | ClientFrame::MeetingView { .. }
        | ClientFrame::MeetingState { .. }
        | ClientFrame::MeetingReaction { .. } => None,
    }
}

/// The `request_id` of a frame that did not parse, so the client can match the error.
fn request_id_of(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value
        .get("request_id")?
        .as_str()
        .map(|id| id.chars().take(64).collect())
}
