// Builders for tests: real wire shapes with defaults, overridden per test.
import type { ConversationSummaryView, EventKindView, EventView, MeetingParticipantView, MessageView } from "@proto";

export const ME = "00000000-0000-7000-8000-00000000000a";
export const BOB = "00000000-0000-7000-8000-00000000000b";
export const CAROL = "00000000-0000-7000-8000-00000000000c";
export const CHAT = "00000000-0000-7000-8000-0000000000c1";

export function summary(overrides: Partial<ConversationSummaryView> & { last_seq?: number } = {}): ConversationSummaryView {
  const { last_seq = 0, ...rest } = overrides;
  return {
    conversation: {
      id: CHAT,
      kind: "direct",
      title: null,
      avatar_url: null,
      meeting_code: null,
      allow_guests: false,
      created_by: ME,
      created_at: "2026-11-22T10:00:00Z",
      last_seq,
      last_activity_at: "2026-11-22T10:00:00Z",
    },
    role: "member",
    read_seq: last_seq,
    delivered_seq: last_seq,
    unread_count: 0,
    mention_count: 0,
    last_message: null,
    peer_id: BOB,
    ...rest,
  };
}

export function message(seq: number, overrides: Partial<MessageView> = {}): MessageView {
  return {
    id: `m${seq}`,
    conversation_id: CHAT,
    seq,
    sender_id: BOB,
    client_id: `c${seq}`,
    body: `message ${seq}`,
    reply_to: null,
    forwarded_from: null,
    mentions: [],
    created_at: `2026-11-22T10:${String(seq % 60).padStart(2, "0")}:00Z`,
    edited_at: null,
    deleted_at: null,
    pinned_at: null,
    reactions: [],
    ...overrides,
  };
}

export function event(seq: number, change: EventKindView, actor = BOB, conversationId = CHAT): EventView {
  return {
    conversation_id: conversationId,
    seq,
    actor_id: actor,
    at: `2026-11-22T11:${String(seq % 60).padStart(2, "0")}:00Z`,
    change,
  };
}

export function created(seq: number, overrides: Partial<MessageView> = {}): EventView {
  const m = message(seq, overrides);
  return event(seq, { kind: "message_created", message: m }, m.sender_id);
}

/** A meeting participant publishing a camera (stream id = session id), unmuted. */
export function participant(sessionId: string, overrides: Partial<MeetingParticipantView> = {}): MeetingParticipantView {
  return {
    session_id: sessionId,
    user_id: `user-${sessionId.slice(-2)}`,
    display_name: `Person ${sessionId.slice(-2)}`,
    audio_muted: false,
    video_muted: false,
    hand_raised: false,
    host: false,
    streams: [{ stream_id: sessionId, source: "camera" }],
    ...overrides,
  };
}
