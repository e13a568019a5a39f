// Read-only views of the chat state for the UI and the driver (the reducer is in
// chatStore.ts, which re-exports these).
import type { ChatState, ConversationState, PendingMessage } from "./chatStore";
import type { MessageView } from "@proto";


/** What `resume` sends: per conversation, the newest seq applied. */
export function cursors(state: ChatState): { conversation_id: string; seq: number }[] {
  return Object.values(state.conversations).map((c) => ({ conversation_id: c.summary.conversation.id, seq: c.cursor }));
}

/** Conversations by last activity, newest first; `pinned` ids first. */
export function sortedConversations(state: ChatState, pinned: ReadonlySet<string> = new Set()): ConversationState[] {
  return Object.values(state.conversations).sort((a, b) => {
    const pa = pinned.has(a.summary.conversation.id) ? 1 : 0;
    const pb = pinned.has(b.summary.conversation.id) ? 1 : 0;
    if (pa !== pb) return pb - pa;
    return activityOf(b).localeCompare(activityOf(a));
  });
}

function activityOf(c: ConversationState): string {
  const last = c.summary.last_message?.created_at ?? "";
  const activity = c.summary.conversation.last_activity_at;
  return last > activity ? last : activity;
}

export type TickState = "pending" | "failed" | "sent" | "delivered" | "read";

/** Ticks of our message with this seq: delivered/read once every other member's marker
 * reached it (members not loaded yet: the direct chat's peer, if we know it). */
export function tickFor(c: ConversationState, seq: number, selfId: string): TickState {
  let others = Object.values(c.members).filter((member) => member.user_id !== selfId);
  if (!c.membersLoaded && c.summary.peer_id) {
    const peer = c.members[c.summary.peer_id];
    others = [peer ?? { user_id: c.summary.peer_id, role: "member", joined_at: "", delivered_seq: 0, read_seq: 0 }];
  }
  if (!others.length) return "sent";
  if (others.every((member) => member.read_seq >= seq)) return "read";
  if (others.every((member) => member.delivered_seq >= seq || member.read_seq >= seq)) return "delivered";
  return "sent";
}

/** Who is typing in a conversation now. */
export function typingUsers(state: ChatState, conversationId: string, now: number): string[] {
  const users = state.typing[conversationId] ?? {};
  return Object.entries(users)
    .filter(([, until]) => until > now)
    .map(([userId]) => userId);
}

/** Messages to show, oldest first, then our unconfirmed ones. */
export function visibleMessages(c: ConversationState): MessageView[] {
  return c.order.map((id) => c.messages[id]!).filter(Boolean);
}

export function pendingMessages(c: ConversationState): PendingMessage[] {
  return Object.values(c.pending).sort((a, b) => a.created_at.localeCompare(b.created_at));
}

export function totalUnread(state: ChatState): number {
  let total = 0;
  for (const c of Object.values(state.conversations)) total += c.summary.unread_count;
  return total;
}
