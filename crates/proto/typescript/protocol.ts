// Generated from crates/proto by `UPDATE_PROTOCOL_TS=1 cargo test -p convene-proto`.
// Do not edit: change the Rust types instead.

export type ConversationKindView = "direct" | "group" | "meeting";

export type MemberRoleView = "admin" | "member";

export type ConversationView = { id: string, kind: ConversationKindView, 
/**
 * Group name or meeting title.
 */
title: string | null, avatar_url: string | null, 
/**
 * Meetings only, like `abc-defg-hij`.
 */
meeting_code: string | null, allow_guests: boolean, created_by: string, created_at: string, 
/**
 * The seq of the newest event.
 */
last_seq: number, last_activity_at: string, };

export type MemberView = { user_id: string, role: MemberRoleView, joined_at: string, 
/**
 * Everything up to this seq reached a device of the member (two grey ticks).
 */
delivered_seq: number, 
/**
 * The member read everything up to this seq (blue ticks).
 */
read_seq: number, };

export type ReactionView = { emoji: string, count: number, user_ids: Array<string>, };

export type MessageView = { id: string, conversation_id: string, seq: number, sender_id: string, client_id: string, 
/**
 * Empty when deleted for everyone.
 */
body: string, reply_to: string | null, forwarded_from: string | null, mentions: Array<string>, created_at: string, edited_at: string | null, deleted_at: string | null, pinned_at: string | null, reactions: Array<ReactionView>, };

export type EventKindView = { "kind": "message_created", message: MessageView, } | { "kind": "message_edited", message_id: string, body: string, edited_at: string, } | { "kind": "message_deleted", message_id: string, } | { "kind": "reaction_changed", message_id: string, user_id: string, emoji: string, added: boolean, } | { "kind": "message_pinned", message_id: string, pinned: boolean, } | { "kind": "member_joined", user_id: string, role: MemberRoleView, } | { "kind": "member_left", user_id: string, } | { "kind": "member_role_changed", user_id: string, role: MemberRoleView, } | { "kind": "conversation_renamed", title: string | null, avatar_url: string | null, } | { "kind": "call_logged", call_id: string, caller_id: string, call_kind: CallKindView, outcome: CallStateView, duration_seconds: number | null, };

export type EventView = { conversation_id: string, seq: number, actor_id: string, at: string, change: EventKindView, };

export type ConversationSummaryView = { conversation: ConversationView, role: MemberRoleView, read_seq: number, delivered_seq: number, unread_count: number, mention_count: number, last_message: MessageView | null, 
/**
 * Direct chats: the other member.
 */
peer_id: string | null, };

export type CallKindView = "voice" | "video";

export type CallStateView = "ringing" | "ongoing" | "ended" | "missed" | "declined" | "busy" | "cancelled" | "failed";

export type CallView = { id: string, conversation_id: string, caller_id: string, callee_id: string, kind: CallKindView, state: CallStateView, started_at: string, answered_at: string | null, ended_at: string | null, 
/**
 * The callee's connection that answered: only it takes part in the media session;
 * the callee's other tabs stop ringing.
 */
answered_by_connection: string | null, 
/**
 * Connected time of an answered call that ended.
 */
duration_seconds: number | null, };

export type CallSignalView = { "kind": "description", sdp_type: string, sdp: string, } | { "kind": "candidate", candidate: string, sdp_mid: string | null, sdp_m_line_index: number | null, username_fragment: string | null, } | { "kind": "media_state", audio: boolean, video: boolean, screen: boolean, };

export type ResumeCursor = { conversation_id: string, seq: number, };

export type ErrorView = { code: string, message: string, };

export type MeetingSourceKindView = "microphone" | "camera" | "screen_share";

export type MeetingSourceView = { mid: string, source: MeetingSourceKindView, 
/**
 * Simulcast layers sent with rids `q`, `h`, `f` (lowest first); 1 without simulcast.
 */
layers: number, };

export type MeetingStreamView = { stream_id: string, source: MeetingSourceKindView, };

export type MeetingParticipantView = { 
/**
 * This participant's presence in the meeting (one per tab that joined).
 */
session_id: string, user_id: string, display_name: string, audio_muted: boolean, video_muted: boolean, hand_raised: boolean, host: boolean, streams: Array<MeetingStreamView>, };

export type MeetingWaitingView = { session_id: string, user_id: string, display_name: string, };

export type MeetingHostActionView = { "kind": "mute", session_id: string, } | { "kind": "remove", session_id: string, } | { "kind": "admit", session_id: string, } | { "kind": "deny", session_id: string, } | { "kind": "lock", locked: boolean, } | { "kind": "end_for_all" };

export type ClientFrame = { "type": "resume", request_id?: string, cursors: Array<ResumeCursor>, } | { "type": "fetch_events", request_id?: string, conversation_id: string, after_seq: number, } | { "type": "send_message", request_id?: string, conversation_id: string, client_id: string, body: string, reply_to?: string, } | { "type": "forward_message", request_id?: string, message_id: string, to_conversation_id: string, client_id: string, } | { "type": "edit_message", request_id?: string, conversation_id: string, message_id: string, body: string, } | { "type": "delete_message", request_id?: string, conversation_id: string, message_id: string, for_everyone: boolean, } | { "type": "react", request_id?: string, conversation_id: string, message_id: string, emoji: string, } | { "type": "pin_message", request_id?: string, conversation_id: string, message_id: string, pinned: boolean, } | { "type": "typing", conversation_id: string, } | { "type": "mark_read", request_id?: string, conversation_id: string, seq: number, } | { "type": "mark_delivered", conversation_id: string, seq: number, } | { "type": "call_invite", request_id?: string, conversation_id: string, kind: CallKindView, } | { "type": "call_accept", request_id?: string, call_id: string, } | { "type": "call_decline", request_id?: string, call_id: string, } | { "type": "call_hangup", request_id?: string, call_id: string, 
/**
 * The media never connected (or broke for good): the call ends as `failed`, not
 * as an ordinary call with a duration.
 */
failed?: boolean, } | { "type": "call_add_participant", request_id?: string, call_id: string, user_id: string, } | { "type": "call_signal", call_id: string, signal: CallSignalView, } | { "type": "meeting_join", request_id?: string, conversation_id: string, 
/**
 * Ring the other members of a group (its call button): they get `meeting_ringing`.
 */
ring?: boolean, } | { "type": "meeting_host", request_id?: string, action: MeetingHostActionView, } | { "type": "meeting_publish", sdp: string, sources: Array<MeetingSourceView>, } | { "type": "meeting_subscribe_answer", sdp: string, } | { "type": "meeting_view", stream_id: string, visible: boolean, max_layer: number, } | { "type": "meeting_state", audio_muted: boolean, video_muted: boolean, hand_raised: boolean, } | { "type": "meeting_reaction", emoji: string, } | { "type": "meeting_leave", request_id?: string, } | { "type": "ping", request_id?: string, };

export type ServerFrame = { "type": "ready", connection_id: string, user_id: string, 
/**
 * Send something (a `ping` will do) at least this often, or the server closes the
 * connection after twice as long.
 */
heartbeat_interval_ms: number, server_time: string, } | { "type": "event", event: EventView, } | { "type": "message_sent", request_id: string | null, client_id: string, 
/**
 * True when this `client_id` was already used: nothing new was stored.
 */
duplicate: boolean, message: MessageView, } | { "type": "ok", request_id: string | null, 
/**
 * The seq of the event the request caused, if any.
 */
seq: number | null, } | { "type": "events", request_id: string | null, conversation_id: string, events: Array<EventView>, complete: boolean, } | { "type": "resumed", request_id: string | null, } | { "type": "conversation_added", conversation: ConversationSummaryView, } | { "type": "conversation_removed", conversation_id: string, } | { "type": "receipt", conversation_id: string, user_id: string, delivered_seq: number, read_seq: number, } | { "type": "typing", conversation_id: string, user_id: string, expires_in_ms: number, } | { "type": "presence", user_id: string, online: boolean, last_seen_at: string | null, } | { "type": "resync_required", conversation_id: string | null, reason: string, } | { "type": "call_update", request_id: string | null, call: CallView, } | { "type": "call_moved", call_id: string, conversation_id: string, } | { "type": "call_signal", call_id: string, from_user_id: string, signal: CallSignalView, } | { "type": "pong", request_id: string | null, } | { "type": "meeting_joined", request_id: string | null, conversation_id: string, session_id: string, 
/**
 * Send this many bytes of SDP at most (the frame limit, with room to spare).
 */
max_sdp_bytes: number, 
/**
 * False while waiting in the lobby for a host to let you in (guests, and everyone
 * in a locked meeting): publish after `meeting_admitted`.
 */
admitted: boolean, 
/**
 * You are a host (an admin of the conversation): `meeting_host` is yours.
 */
host: boolean, } | { "type": "meeting_admitted", conversation_id: string, } | { "type": "meeting_muted_by_host", conversation_id: string, } | { "type": "meeting_ringing", conversation_id: string, from_user_id: string, from_display_name: string, } | { "type": "meeting_publish_answer", sdp: string, } | { "type": "meeting_subscribe_offer", sdp: string, } | { "type": "meeting_roster", conversation_id: string, participants: Array<MeetingParticipantView>, 
/**
 * Knocking, waiting for a host (hosts see them; empty for everyone else).
 */
waiting: Array<MeetingWaitingView>, 
/**
 * Nobody new joins without a host letting them in.
 */
locked: boolean, } | { "type": "meeting_speakers", conversation_id: string, dominant: string | null, speaking: Array<string>, } | { "type": "meeting_reaction", conversation_id: string, session_id: string, emoji: string, } | { "type": "meeting_left", 
/**
 * The `meeting_leave` this answers; absent when the server ended the session.
 */
request_id: string | null, conversation_id: string, reason: string, 
/**
 * The participant did not choose this (its media failed, the media server went
 * away): join again, and the meeting continues on a live media server.
 */
rejoin: boolean, } | { "type": "error", request_id: string | null, error: ErrorView, };
