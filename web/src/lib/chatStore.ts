// The client's chat state as a pure reducer: no DOM, no network, time as an argument.
// `reduce(state, action)` returns the next state and the effects the driver (client.ts)
// must carry out, e.g. "fetch the events after seq 41": an event that arrives ahead of the
// cursor is held back, never applied out of order.
//
// Invariants: per conversation, `cursor` is the newest seq applied, and every event is
// applied at most once, in seq order; a message appears once, whether it came from history,
// an event or the answer to our own send (deduplicated by id, and by client_id against the
// optimistic copy).
import type { ConversationSummaryView, ConversationView, EventView, MemberView, MessageView } from "@proto";
import { applyEvent, applyReceipt } from "./chatEvents";
import type { UserView } from "./types";
import {
  type ChatState,
  type ConversationState,
  type Effect,
  type PendingMessage,
  mergeMembers,
  newConversationState,
  recountUnread,
  upsertMessage,
  withConversation,
  withoutConversation,
} from "./chatState";

export * from "./chatState";
export { toggleReaction } from "./chatEvents";

export type Action =
  | { type: "conversations_loaded"; summaries: ConversationSummaryView[]; replace?: boolean }
  | { type: "conversation_added"; summary: ConversationSummaryView }
  | { type: "conversation_removed"; conversation_id: string }
  | { type: "conversation_detail"; conversation: ConversationView; members: MemberView[] }
  | { type: "history_loaded"; conversation_id: string; messages: MessageView[]; limit: number }
  | { type: "event"; event: EventView }
  | { type: "events_fetched"; conversation_id: string; events: EventView[]; complete: boolean }
  | { type: "gap_fetch_failed"; conversation_id: string }
  | { type: "resync_required"; conversation_id: string | null }
  | {
      type: "conversation_reloaded";
      conversation: ConversationView;
      members: MemberView[];
      messages: MessageView[];
      limit: number;
    }
  | {
      type: "send_started";
      conversation_id: string;
      client_id: string;
      body: string;
      reply_to: string | null;
      at: string;
    }
  | { type: "message_sent"; client_id: string; message: MessageView }
  | { type: "send_failed"; conversation_id: string; client_id: string; error: string }
  | { type: "send_retried"; conversation_id: string; client_id: string }
  | { type: "pending_discarded"; conversation_id: string; client_id: string }
  | { type: "message_hidden"; conversation_id: string; message_id: string }
  | { type: "receipt"; conversation_id: string; user_id: string; delivered_seq: number; read_seq: number }
  | { type: "typing"; conversation_id: string; user_id: string; expires_in_ms: number; now: number }
  | { type: "tick"; now: number }
  | { type: "presence"; user_id: string; online: boolean; last_seen_at: string | null }
  | { type: "users_loaded"; users: UserView[] };

export interface Step {
  state: ChatState;
  effects: Effect[];
}

/** The next state, and what the driver must do. Never mutates `state`. */
export function reduce(state: ChatState, action: Action): Step {
  const effects: Effect[] = [];
  const next = reduceInto(state, action, effects);
  return { state: next, effects };
}

function reduceInto(state: ChatState, action: Action, effects: Effect[]): ChatState {
  switch (action.type) {
    case "conversations_loaded": {
      // `replace` (after `resync_required` for everything): start over from the server's
      // summaries, keeping only our unconfirmed sends and what we deleted for ourselves.
      const conversations: Record<string, ConversationState> = {};
      for (const summary of action.summaries) {
        const known = state.conversations[summary.conversation.id];
        if (!known) conversations[summary.conversation.id] = newConversationState(summary);
        else if (action.replace) {
          conversations[summary.conversation.id] = {
            ...newConversationState(summary),
            pending: known.pending,
            hidden: known.hidden,
            callLogs: known.callLogs,
          };
        } else conversations[summary.conversation.id] = mergeSummary(known, summary, effects);
      }
      return { ...state, conversations };
    }
    case "conversation_added": {
      const id = action.summary.conversation.id;
      const known = state.conversations[id];
      const conversation = known ? mergeSummary(known, action.summary, effects) : newConversationState(action.summary);
      return withConversation(state, conversation);
    }
    case "conversation_removed":
      return withoutConversation(state, action.conversation_id);
    case "conversation_detail": {
      const conversation = state.conversations[action.conversation.id];
      if (!conversation) return state;
      const self = action.members.find((member) => member.user_id === state.selfId);
      return withConversation(state, {
        ...conversation,
        summary: {
          ...conversation.summary,
          // Our own last_seq stays: it moves with the events we apply.
          conversation: { ...action.conversation, last_seq: conversation.summary.conversation.last_seq },
          role: self?.role ?? conversation.summary.role,
        },
        members: mergeMembers(conversation.members, action.members),
        membersLoaded: true,
      });
    }
    case "history_loaded": {
      const conversation = state.conversations[action.conversation_id];
      if (!conversation) return state;
      let updated = conversation;
      for (const message of action.messages) updated = upsertMessage(updated, message, state.selfId);
      const seqs = action.messages.map((message) => message.seq);
      const oldest = seqs.length ? Math.min(...seqs) : conversation.history.oldestSeq;
      const previousOldest = conversation.history.oldestSeq;
      return withConversation(state, {
        ...updated,
        history: {
          loaded: true,
          hasMore: action.messages.length >= action.limit && (oldest ?? 0) > 1,
          oldestSeq: previousOldest === null || (oldest !== null && oldest < previousOldest) ? oldest : previousOldest,
        },
      });
    }
    case "event":
      return applyEvent(state, action.event, effects);
    case "events_fetched": {
      const conversation = state.conversations[action.conversation_id];
      if (!conversation) return state;
      let next = withConversation(state, { ...conversation, gapFetch: null });
      for (const event of action.events) next = applyEvent(next, event, effects, true);
      const after = next.conversations[action.conversation_id];
      if (after && after.gapFetch === null) {
        const waiting = Object.keys(after.buffered).length > 0;
        if (!action.complete || waiting) {
          effects.push({ type: "fetch_gap", conversation_id: action.conversation_id, after_seq: after.cursor });
          next = withConversation(next, { ...after, gapFetch: after.cursor });
        }
      }
      return next;
    }
    case "gap_fetch_failed": {
      const conversation = state.conversations[action.conversation_id];
      if (!conversation) return state;
      return withConversation(state, { ...conversation, gapFetch: null });
    }
    case "resync_required": {
      effects.push({ type: "reload", conversation_id: action.conversation_id });
      if (action.conversation_id === null) {
        const conversations: Record<string, ConversationState> = {};
        for (const [id, conversation] of Object.entries(state.conversations)) {
          conversations[id] = { ...conversation, stale: true };
        }
        return { ...state, conversations };
      }
      const conversation = state.conversations[action.conversation_id];
      return conversation ? withConversation(state, { ...conversation, stale: true }) : state;
    }
    case "conversation_reloaded": {
      const conversation = state.conversations[action.conversation.id];
      if (!conversation) return state;
      // Start over from the server's present: the history page replaces what we had,
      // the cursor jumps to the conversation's newest seq. Optimistic sends stay.
      const fresh = newConversationState({
        ...conversation.summary,
        conversation: action.conversation,
        last_message: null,
      });
      let reloaded: ConversationState = {
        ...fresh,
        pending: conversation.pending,
        hidden: conversation.hidden,
        callLogs: conversation.callLogs,
        members: mergeMembers({}, action.members),
        membersLoaded: true,
      };
      for (const message of action.messages) reloaded = upsertMessage(reloaded, message, state.selfId);
      const seqs = action.messages.map((message) => message.seq);
      const newest = reloaded.order.length ? reloaded.messages[reloaded.order[reloaded.order.length - 1]!] : undefined;
      const self = action.members.find((member) => member.user_id === state.selfId);
      reloaded = {
        ...reloaded,
        summary: {
          ...reloaded.summary,
          last_message: newest ?? null,
          read_seq: self?.read_seq ?? reloaded.summary.read_seq,
          delivered_seq: self?.delivered_seq ?? reloaded.summary.delivered_seq,
          role: self?.role ?? reloaded.summary.role,
        },
        history: {
          loaded: true,
          hasMore: action.messages.length >= action.limit,
          oldestSeq: seqs.length ? Math.min(...seqs) : null,
        },
      };
      reloaded = recountUnread(reloaded, state.selfId);
      return withConversation(state, reloaded);
    }
    case "send_started": {
      const conversation = state.conversations[action.conversation_id];
      if (!conversation) return state;
      const pending: PendingMessage = {
        client_id: action.client_id,
        conversation_id: action.conversation_id,
        body: action.body,
        reply_to: action.reply_to,
        created_at: action.at,
        status: "pending",
        error: null,
      };
      return withConversation(state, {
        ...conversation,
        pending: { ...conversation.pending, [action.client_id]: pending },
      });
    }
    case "message_sent": {
      const conversation = state.conversations[action.message.conversation_id];
      if (!conversation) return state;
      // The answer may come before or after the event: either way, one message.
      return withConversation(state, upsertMessage(conversation, action.message, state.selfId));
    }
    case "send_failed":
    case "send_retried": {
      const conversation = state.conversations[action.conversation_id];
      const pending = conversation?.pending[action.client_id];
      if (!conversation || !pending) return state;
      const updated: PendingMessage =
        action.type === "send_failed"
          ? { ...pending, status: "failed", error: action.error }
          : { ...pending, status: "pending", error: null };
      return withConversation(state, {
        ...conversation,
        pending: { ...conversation.pending, [action.client_id]: updated },
      });
    }
    case "pending_discarded": {
      const conversation = state.conversations[action.conversation_id];
      if (!conversation || !conversation.pending[action.client_id]) return state;
      const pending = { ...conversation.pending };
      delete pending[action.client_id];
      return withConversation(state, { ...conversation, pending });
    }
    case "message_hidden": {
      const conversation = state.conversations[action.conversation_id];
      if (!conversation) return state;
      const messages = { ...conversation.messages };
      delete messages[action.message_id];
      let summary = conversation.summary;
      if (summary.last_message?.id === action.message_id) {
        const remaining = conversation.order.filter((id) => id !== action.message_id);
        const last = remaining.length ? messages[remaining[remaining.length - 1]!] : undefined;
        summary = { ...summary, last_message: last ?? null };
      }
      return withConversation(state, {
        ...conversation,
        summary,
        messages,
        order: conversation.order.filter((id) => id !== action.message_id),
        hidden: { ...conversation.hidden, [action.message_id]: true },
      });
    }
    case "receipt":
      return applyReceipt(state, action);
    case "typing": {
      if (action.user_id === state.selfId) return state;
      const forConversation = { ...(state.typing[action.conversation_id] ?? {}) };
      forConversation[action.user_id] = action.now + action.expires_in_ms;
      return { ...state, typing: { ...state.typing, [action.conversation_id]: forConversation } };
    }
    case "tick": {
      let changed = false;
      const typing: ChatState["typing"] = {};
      for (const [conversationId, users] of Object.entries(state.typing)) {
        const alive: Record<string, number> = {};
        for (const [userId, until] of Object.entries(users)) {
          if (until > action.now) alive[userId] = until;
          else changed = true;
        }
        if (Object.keys(alive).length) typing[conversationId] = alive;
        else if (Object.keys(users).length) changed = true;
      }
      return changed ? { ...state, typing } : state;
    }
    case "presence":
      return {
        ...state,
        presence: {
          ...state.presence,
          [action.user_id]: { online: action.online, last_seen_at: action.last_seen_at },
        },
      };
    case "users_loaded": {
      const users = { ...state.users };
      for (const user of action.users) users[user.id] = user;
      return { ...state, users };
    }
  }
}

// ---- events ----

// ---- receipts ----

// ---- helpers ----

function mergeSummary(
  known: ConversationState,
  summary: ConversationSummaryView,
  effects: Effect[],
): ConversationState {
  // The summary may be newer than what we applied: the missing events are fetched (and
  // so applied in order) rather than skipped.
  if (summary.conversation.last_seq > known.cursor && known.gapFetch === null) {
    effects.push({ type: "fetch_gap", conversation_id: summary.conversation.id, after_seq: known.cursor });
    return { ...known, gapFetch: known.cursor };
  }
  return known;
}

export * from "./chatSelectors";
