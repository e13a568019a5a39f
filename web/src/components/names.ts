// How people and conversations are named on screen.
import type { ChatState, ConversationState } from "../lib/chatStore";

export function userName(state: ChatState, userId: string): string {
  return state.users[userId]?.display_name ?? "…";
}

export function conversationTitle(state: ChatState, c: ConversationState): string {
  const conversation = c.summary.conversation;
  if (conversation.kind === "direct") {
    return c.summary.peer_id ? userName(state, c.summary.peer_id) : "Direct chat";
  }
  if (conversation.title) return conversation.title;
  return conversation.kind === "meeting" ? `Meeting ${conversation.meeting_code ?? ""}`.trim() : "Group";
}

export function conversationAvatar(state: ChatState, c: ConversationState): string | null {
  const conversation = c.summary.conversation;
  if (conversation.kind === "direct" && c.summary.peer_id) return state.users[c.summary.peer_id]?.avatar_url ?? null;
  return conversation.avatar_url;
}

/** What an avatar's colour derives from: the person in a direct chat, so they look the
 * same everywhere. */
export function avatarKey(c: ConversationState): string {
  return c.summary.peer_id ?? c.summary.conversation.id;
}

/** The pinned-chat list, kept in this browser. */
const PINNED_KEY = "convene.pinned";

export function loadPinned(): Set<string> {
  try {
    const raw = localStorage.getItem(PINNED_KEY);
    return new Set(raw ? (JSON.parse(raw) as string[]) : []);
  } catch {
    return new Set();
  }
}

export function savePinned(pinned: Set<string>): void {
  localStorage.setItem(PINNED_KEY, JSON.stringify([...pinned]));
}
