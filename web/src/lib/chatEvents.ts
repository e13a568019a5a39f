// How each conversation event and receipt changes the state: strictly after the cursor,
// in seq order, holding back whatever arrives ahead of a gap.
import type { EventView, MemberRoleView, MemberView, ReactionView } from "@proto";
import type { Action } from "./chatStore";
import {
  type ChatState,
  type ConversationState,
  type Effect,
  recountUnread,
  updateMessage,
  upsertMessage,
  withConversation,
  withoutConversation,
} from "./chatState";

export function applyEvent(state: ChatState, event: EventView, effects: Effect[], fromFetch = false): ChatState {
  const conversation = state.conversations[event.conversation_id];
  if (!conversation) return state;
  if (event.seq <= conversation.cursor) return state; // already applied
  if (event.seq > conversation.cursor + 1) {
    // A gap: hold this one back and ask for what is missing (once).
    const buffered = { ...conversation.buffered, [event.seq]: event };
    let gapFetch = conversation.gapFetch;
    if (gapFetch === null && !fromFetch) {
      gapFetch = conversation.cursor;
      effects.push({ type: "fetch_gap", conversation_id: event.conversation_id, after_seq: conversation.cursor });
    }
    return withConversation(state, { ...conversation, buffered, gapFetch });
  }
  let next = applyInOrder(state, conversation, event, effects);
  // Drain what was waiting for this one.
  for (;;) {
    const current = next.conversations[event.conversation_id];
    if (!current) return next;
    const waiting = current.buffered[current.cursor + 1];
    if (!waiting) return next;
    const buffered = { ...current.buffered };
    delete buffered[waiting.seq];
    next = applyInOrder(next, { ...current, buffered }, waiting, effects);
  }
}

/** Applies the event right after the cursor. */
export function applyInOrder(
  state: ChatState,
  conversation: ConversationState,
  event: EventView,
  effects: Effect[],
): ChatState {
  const selfId = state.selfId;
  const change = event.change;
  let c: ConversationState = {
    ...conversation,
    cursor: event.seq,
    summary: {
      ...conversation.summary,
      conversation: {
        ...conversation.summary.conversation,
        last_seq: Math.max(conversation.summary.conversation.last_seq, event.seq),
      },
    },
  };
  const buffered = { ...c.buffered };
  delete buffered[event.seq];
  c.buffered = buffered;
  let typing = state.typing;
  switch (change.kind) {
    case "message_created": {
      const message = change.message;
      c = upsertMessage(c, message, selfId);
      c.summary = {
        ...c.summary,
        conversation: { ...c.summary.conversation, last_activity_at: event.at },
      };
      // Counted here, once per event (events apply exactly once), not per copy of the
      // message: history may have brought it already.
      if (message.sender_id !== selfId && !c.hidden[message.id] && !message.deleted_at && message.seq > c.summary.read_seq) {
        c.summary = {
          ...c.summary,
          unread_count: c.summary.unread_count + 1,
          mention_count: c.summary.mention_count + (message.mentions.includes(selfId) ? 1 : 0),
        };
        effects.push({ type: "notify", conversation_id: c.summary.conversation.id, message });
      }
      const typers = typing[c.summary.conversation.id];
      if (typers?.[message.sender_id]) {
        const rest = { ...typers };
        delete rest[message.sender_id];
        typing = { ...typing, [c.summary.conversation.id]: rest };
      }
      break;
    }
    case "message_edited":
      c = updateMessage(c, change.message_id, (m) => ({ ...m, body: change.body, edited_at: change.edited_at }));
      break;
    case "message_deleted":
      c = updateMessage(c, change.message_id, (m) => ({
        ...m,
        body: "",
        deleted_at: m.deleted_at ?? event.at,
        reactions: [],
        mentions: [],
      }));
      break;
    case "reaction_changed":
      c = updateMessage(c, change.message_id, (m) => ({
        ...m,
        reactions: toggleReaction(m.reactions, change.emoji, change.user_id, change.added),
      }));
      break;
    case "message_pinned":
      c = updateMessage(c, change.message_id, (m) => ({ ...m, pinned_at: change.pinned ? event.at : null }));
      break;
    case "member_joined":
      c = {
        ...c,
        members: {
          ...c.members,
          [change.user_id]: {
            user_id: change.user_id,
            role: change.role,
            joined_at: event.at,
            delivered_seq: c.members[change.user_id]?.delivered_seq ?? 0,
            read_seq: c.members[change.user_id]?.read_seq ?? 0,
          },
        },
      };
      break;
    case "member_left": {
      if (change.user_id === selfId) {
        return withoutConversation({ ...state, typing }, c.summary.conversation.id);
      }
      const members = { ...c.members };
      delete members[change.user_id];
      c = { ...c, members };
      break;
    }
    case "member_role_changed":
      c = setRole(c, change.user_id, change.role, selfId);
      break;
    case "call_logged":
      // A system line in the chat ("Missed video call"), and activity for the list.
      c = {
        ...c,
        summary: { ...c.summary, conversation: { ...c.summary.conversation, last_activity_at: event.at } },
        callLogs: c.callLogs.some((entry) => entry.call_id === change.call_id)
          ? c.callLogs
          : [
              ...c.callLogs,
              {
                call_id: change.call_id,
                caller_id: change.caller_id,
                call_kind: change.call_kind,
                outcome: change.outcome,
                duration_seconds: change.duration_seconds,
                at: event.at,
                seq: event.seq,
              },
            ],
      };
      break;
    case "conversation_renamed":
      c = {
        ...c,
        summary: {
          ...c.summary,
          conversation: { ...c.summary.conversation, title: change.title, avatar_url: change.avatar_url },
        },
      };
      break;
  }
  return withConversation({ ...state, typing }, c);
}

export function setRole(c: ConversationState, userId: string, role: MemberRoleView, selfId: string): ConversationState {
  const member = c.members[userId];
  const members = member ? { ...c.members, [userId]: { ...member, role } } : c.members;
  const summary = userId === selfId ? { ...c.summary, role } : c.summary;
  return { ...c, members, summary };
}

export function toggleReaction(
  reactions: ReactionView[],
  emoji: string,
  userId: string,
  added: boolean,
): ReactionView[] {
  const index = reactions.findIndex((reaction) => reaction.emoji === emoji);
  const existing = index >= 0 ? reactions[index]! : undefined;
  const has = existing?.user_ids.includes(userId) ?? false;
  if (added === has) return reactions; // already so: applying twice is harmless
  if (added) {
    if (!existing) return [...reactions, { emoji, count: 1, user_ids: [userId] }];
    const updated = { ...existing, count: existing.count + 1, user_ids: [...existing.user_ids, userId] };
    return reactions.map((reaction, i) => (i === index ? updated : reaction));
  }
  const userIds = existing!.user_ids.filter((id) => id !== userId);
  if (!userIds.length) return reactions.filter((_, i) => i !== index);
  const updated = { ...existing!, count: userIds.length, user_ids: userIds };
  return reactions.map((reaction, i) => (i === index ? updated : reaction));
}

export function applyReceipt(
  state: ChatState,
  action: Extract<Action, { type: "receipt" }>,
): ChatState {
  const conversation = state.conversations[action.conversation_id];
  if (!conversation) return state;
  const member = conversation.members[action.user_id];
  const updated: MemberView = {
    user_id: action.user_id,
    role: member?.role ?? "member",
    joined_at: member?.joined_at ?? "",
    delivered_seq: Math.max(member?.delivered_seq ?? 0, action.delivered_seq),
    read_seq: Math.max(member?.read_seq ?? 0, action.read_seq),
  };
  let c: ConversationState = { ...conversation, members: { ...conversation.members, [action.user_id]: updated } };
  if (action.user_id === state.selfId) {
    // Our own marker moved (this tab or another device): the unread count follows.
    c = {
      ...c,
      summary: {
        ...c.summary,
        read_seq: Math.max(c.summary.read_seq, action.read_seq),
        delivered_seq: Math.max(c.summary.delivered_seq, action.delivered_seq),
      },
    };
    c = recountUnread(c, state.selfId);
  }
  return withConversation(state, c);
}
