// The shape of the client's chat state and the small pure helpers that every part of the
// reducer uses (chatStore.ts has the reducer, chatEvents.ts how each event applies).
import type { ConversationSummaryView, EventView, MemberView, MessageView } from "@proto";
import type { CallLogEntry } from "./callState";
import type { UserView } from "./types";

export type PendingStatus = "pending" | "failed";

/** A message we sent that the server has not confirmed yet. */
export interface PendingMessage {
  client_id: string;
  conversation_id: string;
  body: string;
  reply_to: string | null;
  created_at: string;
  status: PendingStatus;
  error: string | null;
}

export interface HistoryState {
  /** At least one page was loaded. */
  loaded: boolean;
  /** Older messages exist on the server. */
  hasMore: boolean;
  /** Smallest seq loaded (the `before_seq` of the next page). */
  oldestSeq: number | null;
}

export interface ConversationState {
  summary: ConversationSummaryView;
  /** The newest seq applied. */
  cursor: number;
  messages: Record<string, MessageView>;
  /** Message ids by seq, oldest first. */
  order: string[];
  /** Ids deleted for me: never shown again. */
  hidden: Record<string, true>;
  pending: Record<string, PendingMessage>;
  /** Members with their receipt markers; partial until `membersLoaded`. */
  members: Record<string, MemberView>;
  membersLoaded: boolean;
  history: HistoryState;
  /** Events that arrived ahead of the cursor, by seq. */
  buffered: Record<number, EventView>;
  /** The `after_seq` of a gap fetch in flight. */
  gapFetch: number | null;
  /** A reload was asked for (`resync_required`). */
  stale: boolean;
  /** `call_logged` events applied here, oldest first (the chat's call lines). */
  callLogs: CallLogEntry[];
}

export interface Presence {
  online: boolean;
  last_seen_at: string | null;
}

export interface ChatState {
  selfId: string;
  conversations: Record<string, ConversationState>;
  /** conversation id → user id → when their typing indicator ends (ms since epoch). */
  typing: Record<string, Record<string, number>>;
  presence: Record<string, Presence>;
  users: Record<string, UserView>;
}

export type Effect =
  | { type: "fetch_gap"; conversation_id: string; after_seq: number }
  | { type: "reload"; conversation_id: string | null }
  | { type: "notify"; conversation_id: string; message: MessageView };

export function initialState(selfId: string): ChatState {
  return { selfId, conversations: {}, typing: {}, presence: {}, users: {} };
}

export function newConversationState(summary: ConversationSummaryView): ConversationState {
  const messages: Record<string, MessageView> = {};
  const order: string[] = [];
  if (summary.last_message) {
    messages[summary.last_message.id] = summary.last_message;
    order.push(summary.last_message.id);
  }
  return {
    summary,
    cursor: summary.conversation.last_seq,
    messages,
    order,
    hidden: {},
    pending: {},
    members: {},
    membersLoaded: false,
    history: { loaded: false, hasMore: true, oldestSeq: null },
    buffered: {},
    gapFetch: null,
    stale: false,
    callLogs: [],
  };
}

// ---- helpers ----

/** After our read marker moved: nothing unread once it reached the newest message, else
 * at most the loaded messages from others past it. */
export function recountUnread(c: ConversationState, selfId: string): ConversationState {
  const readSeq = c.summary.read_seq;
  if (readSeq >= c.cursor) {
    if (c.summary.unread_count === 0 && c.summary.mention_count === 0) return c;
    return { ...c, summary: { ...c.summary, unread_count: 0, mention_count: 0 } };
  }
  let unread = 0;
  let mentions = 0;
  for (const id of c.order) {
    const message = c.messages[id]!;
    if (message.seq > readSeq && message.sender_id !== selfId && !message.deleted_at) {
      unread++;
      if (message.mentions.includes(selfId)) mentions++;
    }
  }
  // Without history the loaded messages undercount: keep the server's number until the
  // marker reaches the end. The count only ever goes down when the marker moves.
  if (!c.history.loaded) return c;
  const summary = {
    ...c.summary,
    unread_count: Math.min(c.summary.unread_count, unread),
    mention_count: Math.min(c.summary.mention_count, mentions),
  };
  return { ...c, summary };
}

export function mergeMembers(existing: Record<string, MemberView>, members: MemberView[]): Record<string, MemberView> {
  const merged: Record<string, MemberView> = {};
  for (const member of members) {
    const old = existing[member.user_id];
    merged[member.user_id] = {
      ...member,
      delivered_seq: Math.max(member.delivered_seq, old?.delivered_seq ?? 0),
      read_seq: Math.max(member.read_seq, old?.read_seq ?? 0),
    };
  }
  return merged;
}

export function upsertMessage(c: ConversationState, message: MessageView, selfId: string): ConversationState {
  if (c.hidden[message.id]) return c;
  const exists = Boolean(c.messages[message.id]);
  const messages = { ...c.messages, [message.id]: message };
  const order = exists ? c.order : insertBySeq(c.order, messages, message);
  let pending = c.pending;
  if (message.sender_id === selfId && pending[message.client_id]) {
    pending = { ...pending };
    delete pending[message.client_id];
  }
  let summary = c.summary;
  const last = summary.last_message;
  if (!last || message.seq >= last.seq) summary = { ...summary, last_message: message };
  return { ...c, messages, order, pending, summary };
}

export function updateMessage(
  c: ConversationState,
  messageId: string,
  update: (message: MessageView) => MessageView,
): ConversationState {
  const message = c.messages[messageId];
  let summary = c.summary;
  if (summary.last_message?.id === messageId) {
    summary = { ...summary, last_message: update(summary.last_message) };
  }
  if (!message) return summary === c.summary ? c : { ...c, summary };
  return { ...c, summary, messages: { ...c.messages, [messageId]: update(message) } };
}

export function insertBySeq(order: string[], messages: Record<string, MessageView>, message: MessageView): string[] {
  let low = 0;
  let high = order.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (messages[order[mid]!]!.seq < message.seq) low = mid + 1;
    else high = mid;
  }
  const next = order.slice();
  next.splice(low, 0, message.id);
  return next;
}

export function withConversation(state: ChatState, conversation: ConversationState): ChatState {
  return {
    ...state,
    conversations: { ...state.conversations, [conversation.summary.conversation.id]: conversation },
  };
}

export function withoutConversation(state: ChatState, conversationId: string): ChatState {
  if (!state.conversations[conversationId]) return state;
  const conversations = { ...state.conversations };
  delete conversations[conversationId];
  const typing = { ...state.typing };
  delete typing[conversationId];
  return { ...state, conversations, typing };
}
