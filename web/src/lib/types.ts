// The REST-only JSON shapes (docs/api.md). Everything the WebSocket also carries comes from
// the generated `@proto` module; these few are not generated yet (they live in
// crates/gateway/src/api/views.rs and chat_views.rs), so they are spelled out here, built on
// the generated types wherever they nest them.
import type { ConversationView, EventView, MemberView, MessageView } from "@proto";

export type AccountKind = "member" | "guest";

/** The signed-in user's own profile (`MeView`). */
export interface MeView {
  id: string;
  username: string;
  display_name: string;
  email: string | null;
  avatar_url: string | null;
  kind: AccountKind;
  guest_expires_at: string | null;
  created_at: string;
}

/** What others see of a user (`UserView`). */
export interface UserView {
  id: string;
  username: string;
  display_name: string;
  avatar_url: string | null;
  kind: AccountKind;
}

export interface SessionResponse {
  user: MeView;
  access_token: string;
  access_token_expires_at: string;
  session_expires_at: string;
}

export interface ConversationDetail {
  conversation: ConversationView;
  members: MemberView[];
}

export interface EventList {
  events: EventView[];
  complete: boolean;
}

export interface SentMessage {
  duplicate: boolean;
  message: MessageView;
}

export interface EventAck {
  seq: number | null;
}

export interface PresenceEntry {
  user_id: string;
  online: boolean;
  last_seen_at: string | null;
}
