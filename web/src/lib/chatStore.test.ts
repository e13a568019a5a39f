import { describe, expect, it } from "vitest";
import {
  type Action,
  type ChatState,
  type Effect,
  cursors,
  initialState,
  pendingMessages,
  reduce,
  sortedConversations,
  tickFor,
  totalUnread,
  typingUsers,
  visibleMessages,
} from "./chatStore";
import { BOB, CAROL, CHAT, ME, created, event, message, summary } from "./fixtures";

/** Applies actions in order; returns the final state and every effect. */
function run(state: ChatState, ...actions: Action[]): { state: ChatState; effects: Effect[] } {
  const effects: Effect[] = [];
  for (const action of actions) {
    const step = reduce(state, action);
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}

function withChat(lastSeq = 0, extra: Partial<Parameters<typeof summary>[0]> = {}): ChatState {
  return run(initialState(ME), { type: "conversations_loaded", summaries: [summary({ last_seq: lastSeq, ...extra })] })
    .state;
}

const chat = (state: ChatState) => state.conversations[CHAT]!;
const bodies = (state: ChatState) => visibleMessages(chat(state)).map((m) => m.body);

describe("events and cursors", () => {
  it("applies consecutive events and moves the cursor", () => {
    const { state, effects } = run(withChat(0), { type: "event", event: created(1) }, { type: "event", event: created(2) });
    expect(chat(state).cursor).toBe(2);
    expect(bodies(state)).toEqual(["message 1", "message 2"]);
    expect(effects.filter((e) => e.type === "fetch_gap")).toEqual([]);
  });

  it("ignores an event it already applied (duplicate delivery)", () => {
    const once = run(withChat(0), { type: "event", event: created(1) }).state;
    const twice = run(once, { type: "event", event: created(1) });
    expect(twice.state).toBe(once);
    expect(bodies(twice.state)).toEqual(["message 1"]);
    expect(chat(twice.state).summary.unread_count).toBe(1);
  });

  it("ignores events at or below the cursor after a resume", () => {
    const state = withChat(5);
    const { state: after } = run(state, { type: "event", event: created(4) }, { type: "event", event: created(5) });
    expect(after).toBe(state);
  });

  it("holds back an event after a gap and asks for the missing ones once", () => {
    const { state, effects } = run(withChat(3), { type: "event", event: created(6) }, { type: "event", event: created(7) });
    expect(chat(state).cursor).toBe(3);
    expect(bodies(state)).toEqual([]);
    expect(effects).toEqual([{ type: "fetch_gap", conversation_id: CHAT, after_seq: 3 }]);
  });

  it("fills a gap from fetched events, then drains what was held back, in order", () => {
    const gapped = run(withChat(3), { type: "event", event: created(6) }, { type: "event", event: created(7) }).state;
    const { state, effects } = run(gapped, {
      type: "events_fetched",
      conversation_id: CHAT,
      events: [created(4), created(5), created(6)],
      complete: true,
    });
    expect(chat(state).cursor).toBe(7);
    expect(bodies(state)).toEqual(["message 4", "message 5", "message 6", "message 7"]);
    expect(chat(state).gapFetch).toBeNull();
    expect(effects.filter((e) => e.type === "fetch_gap")).toEqual([]);
  });

  it("asks again when the fetched page was incomplete", () => {
    const gapped = run(withChat(0), { type: "event", event: created(9) }).state;
    const { state, effects } = run(gapped, {
      type: "events_fetched",
      conversation_id: CHAT,
      events: [created(1), created(2)],
      complete: false,
    });
    expect(chat(state).cursor).toBe(2);
    expect(effects.filter((e) => e.type === "fetch_gap")).toEqual([
      { type: "fetch_gap", conversation_id: CHAT, after_seq: 2 },
    ]);
  });

  it("asks again after a failed gap fetch when the next event arrives", () => {
    const gapped = run(withChat(0), { type: "event", event: created(3) }).state;
    const { effects } = run(
      gapped,
      { type: "gap_fetch_failed", conversation_id: CHAT },
      { type: "event", event: created(4) },
    );
    expect(effects).toEqual([{ type: "fetch_gap", conversation_id: CHAT, after_seq: 0 }]);
  });

  it("gives resume the cursor of every conversation", () => {
    const state = run(withChat(0), { type: "event", event: created(1) }, { type: "event", event: created(2) }).state;
    expect(cursors(state)).toEqual([{ conversation_id: CHAT, seq: 2 }]);
  });

  it("ignores events of unknown conversations", () => {
    const state = withChat(0);
    const foreign = event(1, { kind: "message_created", message: message(1) }, BOB, "other");
    expect(reduce(state, { type: "event", event: foreign }).state).toBe(state);
  });
});

describe("changes to messages", () => {
  it("applies edits, reactions, pins and deletes in order", () => {
    const { state } = run(
      withChat(0),
      { type: "event", event: created(1) },
      { type: "event", event: event(2, { kind: "message_edited", message_id: "m1", body: "fixed", edited_at: "2026-11-22T11:02:00Z" }) },
      { type: "event", event: event(3, { kind: "reaction_changed", message_id: "m1", user_id: ME, emoji: "👍", added: true }) },
      { type: "event", event: event(4, { kind: "reaction_changed", message_id: "m1", user_id: BOB, emoji: "👍", added: true }) },
      { type: "event", event: event(5, { kind: "reaction_changed", message_id: "m1", user_id: ME, emoji: "👍", added: false }) },
      { type: "event", event: event(6, { kind: "message_pinned", message_id: "m1", pinned: true }) },
    );
    const m = chat(state).messages.m1!;
    expect(m.body).toBe("fixed");
    expect(m.edited_at).not.toBeNull();
    expect(m.reactions).toEqual([{ emoji: "👍", count: 1, user_ids: [BOB] }]);
    expect(m.pinned_at).not.toBeNull();
    const deleted = run(state, { type: "event", event: event(7, { kind: "message_deleted", message_id: "m1" }) }).state;
    expect(chat(deleted).messages.m1!.body).toBe("");
    expect(chat(deleted).messages.m1!.deleted_at).not.toBeNull();
    expect(chat(deleted).summary.last_message?.deleted_at).not.toBeNull();
  });

  it("treats a replayed reaction as already applied", () => {
    const added = event(2, { kind: "reaction_changed", message_id: "m1", user_id: BOB, emoji: "🎉", added: true });
    const replayedMessage = message(1, { reactions: [{ emoji: "🎉", count: 1, user_ids: [BOB] }] });
    const { state } = run(
      withChat(0),
      { type: "history_loaded", conversation_id: CHAT, messages: [replayedMessage], limit: 50 },
      { type: "event", event: event(1, { kind: "message_created", message: replayedMessage }) },
      { type: "event", event: added },
    );
    expect(chat(state).messages.m1!.reactions).toEqual([{ emoji: "🎉", count: 1, user_ids: [BOB] }]);
  });

  it("hides a message deleted for me, even when it is replayed later", () => {
    const base = run(withChat(0), { type: "event", event: created(1) }, { type: "event", event: created(2) }).state;
    const { state } = run(
      base,
      { type: "message_hidden", conversation_id: CHAT, message_id: "m2" },
      { type: "history_loaded", conversation_id: CHAT, messages: [message(2), message(1)], limit: 50 },
    );
    expect(bodies(state)).toEqual(["message 1"]);
    expect(chat(state).summary.last_message?.id).toBe("m1");
  });

  it("keeps history in seq order whatever order pages and events come in", () => {
    const { state } = run(
      withChat(0),
      { type: "event", event: created(1) },
      { type: "event", event: created(2) },
      { type: "event", event: created(3) },
      { type: "history_loaded", conversation_id: CHAT, messages: [message(3), message(2)], limit: 2 },
    );
    expect(bodies(state)).toEqual(["message 1", "message 2", "message 3"]);
    expect(chat(state).history).toEqual({ loaded: true, hasMore: true, oldestSeq: 2 });
    const older = run(state, { type: "history_loaded", conversation_id: CHAT, messages: [message(1)], limit: 2 }).state;
    expect(chat(older).history).toEqual({ loaded: true, hasMore: false, oldestSeq: 1 });
  });
});

describe("optimistic sends", () => {
  const start: Action = {
    type: "send_started",
    conversation_id: CHAT,
    client_id: "c-1",
    body: "hello",
    reply_to: null,
    at: "2026-11-22T12:00:00Z",
  };
  const mine = message(1, { sender_id: ME, client_id: "c-1", body: "hello" });

  it("shows a pending message, then replaces it with the confirmed one", () => {
    const pending = run(withChat(0), start).state;
    expect(pendingMessages(chat(pending))).toMatchObject([{ client_id: "c-1", status: "pending" }]);
    const sent = run(pending, { type: "message_sent", client_id: "c-1", message: mine }).state;
    expect(pendingMessages(chat(sent))).toEqual([]);
    expect(bodies(sent)).toEqual(["hello"]);
  });

  it("keeps one message when the event comes before or after the answer", () => {
    const eventFirst = run(
      withChat(0),
      start,
      { type: "event", event: event(1, { kind: "message_created", message: mine }, ME) },
      { type: "message_sent", client_id: "c-1", message: mine },
    ).state;
    const answerFirst = run(
      withChat(0),
      start,
      { type: "message_sent", client_id: "c-1", message: mine },
      { type: "event", event: event(1, { kind: "message_created", message: mine }, ME) },
    ).state;
    for (const state of [eventFirst, answerFirst]) {
      expect(bodies(state)).toEqual(["hello"]);
      expect(pendingMessages(chat(state))).toEqual([]);
      expect(chat(state).cursor).toBe(1);
      expect(chat(state).summary.unread_count).toBe(0);
    }
  });

  it("goes pending → failed → pending (retry) → confirmed with the same client id", () => {
    const failed = run(withChat(0), start, {
      type: "send_failed",
      conversation_id: CHAT,
      client_id: "c-1",
      error: "The server did not answer in time.",
    }).state;
    expect(pendingMessages(chat(failed))).toMatchObject([{ client_id: "c-1", status: "failed" }]);
    const retried = run(failed, { type: "send_retried", conversation_id: CHAT, client_id: "c-1" }).state;
    expect(pendingMessages(chat(retried))).toMatchObject([{ client_id: "c-1", status: "pending", error: null }]);
    const confirmed = run(retried, { type: "message_sent", client_id: "c-1", message: mine }).state;
    expect(pendingMessages(chat(confirmed))).toEqual([]);
    expect(bodies(confirmed)).toEqual(["hello"]);
  });

  it("clears a failed send when the server turns out to have stored it (resume replay)", () => {
    const { state } = run(
      withChat(0),
      start,
      { type: "send_failed", conversation_id: CHAT, client_id: "c-1", error: "timeout" },
      { type: "event", event: event(1, { kind: "message_created", message: mine }, ME) },
    );
    expect(pendingMessages(chat(state))).toEqual([]);
    expect(bodies(state)).toEqual(["hello"]);
  });

  it("keeps unconfirmed sends through a reload", () => {
    const { state } = run(
      withChat(0),
      start,
      {
        type: "conversation_reloaded",
        conversation: summary({ last_seq: 4 }).conversation,
        members: [],
        messages: [message(4), message(3)],
        limit: 50,
      },
    );
    expect(pendingMessages(chat(state))).toHaveLength(1);
    expect(chat(state).cursor).toBe(4);
  });
});

describe("unread counts and receipts", () => {
  it("counts messages from others, and mentions of me", () => {
    const { state } = run(
      withChat(0),
      { type: "event", event: created(1) },
      { type: "event", event: created(2, { mentions: [ME] }) },
      { type: "event", event: created(3, { sender_id: ME }) },
    );
    expect(chat(state).summary.unread_count).toBe(2);
    expect(chat(state).summary.mention_count).toBe(1);
    expect(totalUnread(state)).toBe(2);
  });

  it("asks to notify for messages from others only", () => {
    const { effects } = run(
      withChat(0),
      { type: "event", event: created(1) },
      { type: "event", event: created(2, { sender_id: ME }) },
    );
    expect(effects.filter((e) => e.type === "notify").map((e) => e.type === "notify" && e.message.seq)).toEqual([1]);
  });

  it("clears unread when my read marker reaches the end (from any device)", () => {
    const unread = run(withChat(0), { type: "event", event: created(1) }, { type: "event", event: created(2) }).state;
    const { state } = run(unread, { type: "receipt", conversation_id: CHAT, user_id: ME, delivered_seq: 2, read_seq: 2 });
    expect(chat(state).summary.unread_count).toBe(0);
    expect(chat(state).summary.read_seq).toBe(2);
  });

  it("counts what is left after a partial read when the history is loaded", () => {
    const { state } = run(
      withChat(0),
      { type: "history_loaded", conversation_id: CHAT, messages: [], limit: 50 },
      { type: "event", event: created(1) },
      { type: "event", event: created(2) },
      { type: "event", event: created(3) },
      { type: "receipt", conversation_id: CHAT, user_id: ME, delivered_seq: 3, read_seq: 1 },
    );
    expect(chat(state).summary.unread_count).toBe(2);
  });

  it("turns ticks from sent to delivered to read as the other members' markers move", () => {
    let state = run(withChat(0), { type: "event", event: created(1, { sender_id: ME }) }).state;
    state = run(state, {
      type: "conversation_detail",
      conversation: { ...chat(state).summary.conversation, kind: "group" },
      members: [
        { user_id: ME, role: "admin", joined_at: "", delivered_seq: 1, read_seq: 1 },
        { user_id: BOB, role: "member", joined_at: "", delivered_seq: 0, read_seq: 0 },
        { user_id: CAROL, role: "member", joined_at: "", delivered_seq: 0, read_seq: 0 },
      ],
    }).state;
    expect(tickFor(chat(state), 1, ME)).toBe("sent");
    state = run(state, { type: "receipt", conversation_id: CHAT, user_id: BOB, delivered_seq: 1, read_seq: 1 }).state;
    expect(tickFor(chat(state), 1, ME)).toBe("sent");
    state = run(state, { type: "receipt", conversation_id: CHAT, user_id: CAROL, delivered_seq: 1, read_seq: 0 }).state;
    expect(tickFor(chat(state), 1, ME)).toBe("delivered");
    state = run(state, { type: "receipt", conversation_id: CHAT, user_id: CAROL, delivered_seq: 1, read_seq: 1 }).state;
    expect(tickFor(chat(state), 1, ME)).toBe("read");
    // Markers never go back.
    state = run(state, { type: "receipt", conversation_id: CHAT, user_id: CAROL, delivered_seq: 0, read_seq: 0 }).state;
    expect(tickFor(chat(state), 1, ME)).toBe("read");
  });

  it("uses the direct chat's peer for ticks before the members are loaded", () => {
    let state = run(withChat(0), { type: "event", event: created(1, { sender_id: ME }) }).state;
    expect(tickFor(chat(state), 1, ME)).toBe("sent");
    state = run(state, { type: "receipt", conversation_id: CHAT, user_id: BOB, delivered_seq: 1, read_seq: 0 }).state;
    expect(tickFor(chat(state), 1, ME)).toBe("delivered");
  });
});

describe("conversations", () => {
  it("adds a conversation announced after resume, and removes one we left", () => {
    const other = summary({ last_seq: 3 });
    other.conversation = { ...other.conversation, id: "g1", kind: "group", title: "Book club" };
    const added = run(withChat(0), { type: "conversation_added", summary: other }).state;
    expect(added.conversations.g1?.cursor).toBe(3);
    const removed = run(added, { type: "conversation_removed", conversation_id: "g1" }).state;
    expect(removed.conversations.g1).toBeUndefined();
  });

  it("fetches the missing events when a known conversation is announced ahead of us", () => {
    const { effects } = run(withChat(2), { type: "conversation_added", summary: summary({ last_seq: 5 }) });
    expect(effects).toEqual([{ type: "fetch_gap", conversation_id: CHAT, after_seq: 2 }]);
  });

  it("drops the conversation when I leave it", () => {
    const { state } = run(withChat(0), { type: "event", event: event(1, { kind: "member_left", user_id: ME }, ME) });
    expect(state.conversations[CHAT]).toBeUndefined();
  });

  it("applies member and rename events", () => {
    const { state } = run(
      withChat(0),
      { type: "event", event: event(1, { kind: "member_joined", user_id: CAROL, role: "member" }, ME) },
      { type: "event", event: event(2, { kind: "member_role_changed", user_id: CAROL, role: "admin" }, ME) },
      { type: "event", event: event(3, { kind: "member_role_changed", user_id: ME, role: "admin" }, CAROL) },
      { type: "event", event: event(4, { kind: "conversation_renamed", title: "Book club", avatar_url: null }, ME) },
      { type: "event", event: event(5, { kind: "member_left", user_id: BOB }, BOB) },
    );
    expect(chat(state).members[CAROL]?.role).toBe("admin");
    expect(chat(state).members[BOB]).toBeUndefined();
    expect(chat(state).summary.role).toBe("admin");
    expect(chat(state).summary.conversation.title).toBe("Book club");
    expect(chat(state).cursor).toBe(5);
  });

  it("marks conversations stale and asks for a reload on resync_required", () => {
    const { state, effects } = run(withChat(0), { type: "resync_required", conversation_id: null });
    expect(chat(state).stale).toBe(true);
    expect(effects).toEqual([{ type: "reload", conversation_id: null }]);
  });

  it("sorts by latest activity, pinned first", () => {
    const a = summary({ last_seq: 1 });
    a.conversation = { ...a.conversation, id: "a", last_activity_at: "2026-11-22T09:00:00Z" };
    const b = summary({ last_seq: 1 });
    b.conversation = { ...b.conversation, id: "b", last_activity_at: "2026-11-22T10:00:00Z" };
    const state = run(initialState(ME), { type: "conversations_loaded", summaries: [a, b] }).state;
    expect(sortedConversations(state).map((c) => c.summary.conversation.id)).toEqual(["b", "a"]);
    expect(sortedConversations(state, new Set(["a"])).map((c) => c.summary.conversation.id)).toEqual(["a", "b"]);
  });
});

describe("typing and presence", () => {
  it("shows typing until it expires, renewed by each frame", () => {
    let state = run(withChat(0), { type: "typing", conversation_id: CHAT, user_id: BOB, expires_in_ms: 6000, now: 1000 }).state;
    expect(typingUsers(state, CHAT, 2000)).toEqual([BOB]);
    state = run(state, { type: "typing", conversation_id: CHAT, user_id: BOB, expires_in_ms: 6000, now: 5000 }).state;
    expect(typingUsers(state, CHAT, 8000)).toEqual([BOB]);
    state = run(state, { type: "tick", now: 11_001 }).state;
    expect(typingUsers(state, CHAT, 11_001)).toEqual([]);
    expect(state.typing[CHAT]).toBeUndefined();
  });

  it("ends typing when that user's message arrives, and ignores my own typing", () => {
    const { state } = run(
      withChat(0),
      { type: "typing", conversation_id: CHAT, user_id: BOB, expires_in_ms: 6000, now: 0 },
      { type: "typing", conversation_id: CHAT, user_id: ME, expires_in_ms: 6000, now: 0 },
      { type: "event", event: created(1) },
    );
    expect(typingUsers(state, CHAT, 1)).toEqual([]);
  });

  it("records presence", () => {
    const { state } = run(withChat(0), { type: "presence", user_id: BOB, online: true, last_seen_at: null });
    expect(state.presence[BOB]).toEqual({ online: true, last_seen_at: null });
  });
});
