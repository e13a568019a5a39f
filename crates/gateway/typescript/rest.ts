// Generated from crates/gateway by `UPDATE_REST_TS=1 cargo test -p convene-gateway --lib typescript`.
// Do not edit: change the Rust types instead.

import type { CallView, ConversationSummaryView, ConversationView, EventView, MemberRoleView, MemberView, MessageView } from "@proto";

export type ErrorDetail = { 
/**
 * Stable machine-readable code, e.g. `invalid_credentials`; see docs/api.md.
 */
code: string, 
/**
 * A human sentence; may change between versions.
 */
message: string, };

export type ErrorBody = { error: ErrorDetail, };

export type AccountKind = "member" | "guest";

export type MeView = { id: string, username: string, display_name: string, email: string | null, avatar_url: string | null, kind: AccountKind, guest_expires_at: string | null, created_at: string, };

export type UserView = { id: string, username: string, display_name: string, avatar_url: string | null, kind: AccountKind, };

export type UserList = { users: Array<UserView>, };

export type RegisterRequest = { 
/**
 * 3–32 of a–z, 0–9, `_`, `.`; starts with a letter; case-insensitive.
 */
username: string, 
/**
 * At least 10 characters and not easily guessed.
 */
password: string, 
/**
 * Shown to others; defaults to the username.
 */
display_name?: string, email?: string, 
/**
 * API clients set this to receive the refresh token in the body instead of a cookie.
 */
refresh_token_in_body?: boolean, };

export type LoginRequest = { username: string, password: string, refresh_token_in_body?: boolean, };

export type GuestRequest = { display_name: string, refresh_token_in_body?: boolean, };

export type RefreshRequest = { refresh_token?: string, };

export type LogoutRequest = { 
/**
 * Sign out every session of this account ("log out everywhere"); needs a valid access
 * token.
 */
everywhere?: boolean, 
/**
 * For API clients whose refresh token is not in a cookie.
 */
refresh_token?: string, };

export type SessionResponse = { user: MeView, 
/**
 * Also set as the `convene_access` HTTP-only cookie.
 */
access_token: string, access_token_expires_at: string, 
/**
 * Only when the request asked for it (`refresh_token_in_body` or a body token);
 * browsers get the `convene_refresh` HTTP-only cookie instead.
 */
refresh_token?: string, session_expires_at: string, };

export type UpdateProfileRequest = { display_name: string | null, email?: string | null, avatar_url?: string | null, };

export type ChangePasswordRequest = { current_password: string, new_password: string, refresh_token_in_body?: boolean, };

export type HealthStatus = { 
/**
 * `ok`, `ready`, `degraded`, `draining`.
 */
status: string, 
/**
 * Per dependency: `ok` or what is wrong.
 */
checks?: ReadinessChecks, };

export type ReadinessChecks = { store: string, bus: string, };

export type StartDirectRequest = { user_id: string, };

export type CreateGroupRequest = { 
/**
 * 1–64 characters.
 */
title: string, 
/**
 * Other members (the creator is added as admin); at most 255.
 */
member_ids?: Array<string>, avatar_url?: string, };

export type CreateMeetingRequest = { title?: string, 
/**
 * Whether people who joined as guests may join by code.
 */
allow_guests?: boolean, };

export type RenameRequest = { title: string, avatar_url?: string, };

export type AddMemberRequest = { user_id: string, };

export type UpdateMemberRequest = { role: MemberRoleView, };

export type ConversationList = { 
/**
 * Most recent activity first. Ask for the next page with
 * `before=<last_activity_at of the last one>`.
 */
conversations: Array<ConversationSummaryView>, };

export type ConversationDetail = { conversation: ConversationView, members: Array<MemberView>, };

export type MessageList = { messages: Array<MessageView>, };

export type EventList = { events: Array<EventView>, 
/**
 * False when more events remain after the last one.
 */
complete: boolean, };

export type SendMessageRequest = { 
/**
 * 1–64 characters, unique per sender and conversation: a retry with the same id returns
 * the same message.
 */
client_id: string, 
/**
 * 1–4096 characters.
 */
body: string, reply_to?: string, };

export type ForwardMessageRequest = { to_conversation_id: string, client_id: string, };

export type SentMessage = { 
/**
 * True when the `client_id` was already used: this is the original message.
 */
duplicate: boolean, message: MessageView, };

export type EditMessageRequest = { body: string, };

export type ReactRequest = { 
/**
 * One emoji; sending the same again takes the reaction back.
 */
emoji: string, };

export type MarkReadRequest = { seq: number, };

export type EventAck = { 
/**
 * The seq of the event the request caused, if it changed anything.
 */
seq: number | null, };

export type PresenceEntry = { user_id: string, online: boolean, last_seen_at: string | null, };

export type PresenceList = { presence: Array<PresenceEntry>, };

export type WebSocketTicket = { 
/**
 * Open `/api/v1/ws?ticket=…` with it within 30 seconds; it works once.
 */
ticket: string, expires_at: string, };

export type CallList = { 
/**
 * Newest first; incoming when `callee_id` is me.
 */
calls: Array<CallView>, };

export type IceServer = { urls: Array<string>, username?: string, credential?: string, };

export type IceServers = { ice_servers: Array<IceServer>, 
/**
 * When the TURN credentials stop working; ask again before.
 */
expires_at: string, };
