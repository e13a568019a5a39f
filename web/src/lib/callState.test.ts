import type { CallView } from "@proto";
import { describe, expect, it } from "vitest";
import {
  type CallAction,
  type CallEffect,
  type CallPhase,
  type CallUiState,
  callDirection,
  callLogText,
  endText,
  formatDuration,
  initialCallState,
  isBusy,
  mediaBadges,
  mergeCallLogs,
  outgoingText,
  qualityOf,
  reduceCall,
} from "./callState";
import { initialState, reduce } from "./chatStore";
import { BOB, CHAT, ME, event, summary } from "./fixtures";

const CONN = "conn-this-tab";
const OTHER_CONN = "conn-other-tab";
const CALL = "0196d000-0000-7000-8000-0000000000ca";
const T0 = 1_800_000_000_000;

function call(overrides: Partial<CallView> = {}): CallView {
  return {
    id: CALL,
    conversation_id: CHAT,
    caller_id: ME,
    callee_id: BOB,
    kind: "video",
    state: "ringing",
    started_at: "2026-11-22T10:30:00Z",
    answered_at: null,
    ended_at: null,
    answered_by_connection: null,
    duration_seconds: null,
    ...overrides,
  };
}

/** Bob calls me. */
const incomingCall = (overrides: Partial<CallView> = {}) => call({ caller_id: BOB, callee_id: ME, ...overrides });

function run(state: CallUiState, ...actions: (CallAction | [CallAction, number])[]): { state: CallUiState; effects: CallEffect[] } {
  const effects: CallEffect[] = [];
  for (const item of actions) {
    const [action, now] = Array.isArray(item) ? item : [item, T0];
    const step = reduceCall(state, action, now);
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}

const ready = (): CallUiState => run(initialCallState(ME), { type: "ready", connectionId: CONN }).state;
const types = (effects: CallEffect[]) => effects.map((effect) => effect.type);
const ended = (phase: CallPhase) => {
  if (phase.kind !== "ended") throw new Error(`expected the end screen, got ${phase.kind}`);
  return phase;
};

describe("placing a call", () => {
  const placed = () => run(ready(), { type: "place", conversationId: CHAT, peerId: BOB, callKind: "video" });

  it("sends the invite and opens the camera while waiting", () => {
    const { state, effects } = placed();
    expect(state.phase).toMatchObject({ kind: "placing", conversationId: CHAT, peerId: BOB, callKind: "video" });
    expect(effects).toEqual([
      { type: "invite", conversationId: CHAT, callKind: "video" },
      { type: "prepare_media", video: true },
    ]);
    expect(outgoingText(state.phase)).toBe("Calling…");
    expect(isBusy(state)).toBe(true);
  });

  it("voice calls do not open the camera", () => {
    const { effects } = run(ready(), { type: "place", conversationId: CHAT, peerId: BOB, callKind: "voice" });
    expect(effects).toContainEqual({ type: "prepare_media", video: false });
  });

  it("ignores a second call while one is under way", () => {
    const first = placed().state;
    const { state, effects } = run(first, { type: "place", conversationId: "other", peerId: "x", callKind: "voice" });
    expect(state).toBe(first);
    expect(effects).toEqual([]);
  });

  it("rings once the server answers, and gets the connection ready meanwhile", () => {
    const { state, effects } = run(placed().state, { type: "invite_answered", call: call() });
    expect(state.phase).toEqual({ kind: "outgoing", call: call() });
    expect(effects.slice(-1)).toEqual([{ type: "prewarm", call: call() }]);
    expect(outgoingText(state.phase)).toBe("Ringing…");
  });

  it("a refused invite ends with the server's sentence", () => {
    const { state, effects } = run(placed().state, { type: "invite_failed", message: "You cannot call this user." });
    expect(endText(ended(state.phase))).toBe("You cannot call this user.");
    expect(types(effects)).toEqual(["stop_media"]);
  });

  it("busy: the invite's answer is already final", () => {
    const { state, effects } = run(placed().state, {
      type: "invite_answered",
      call: call({ state: "busy", ended_at: "2026-11-22T10:30:00Z" }),
    });
    const phase = ended(state.phase);
    expect(phase.outcome).toBe("busy");
    expect(endText(phase)).toBe("Busy");
    expect(types(effects)).toEqual(["stop_media", "history_changed"]);
  });

  it("cancelling before the server answered hangs up as soon as the call has an id", () => {
    const cancelling = run(placed().state, { type: "hangup" }).state;
    expect(cancelling.phase).toMatchObject({ kind: "placing", cancelled: true });
    expect(outgoingText(cancelling.phase)).toBe("Cancelling…");
    const { state, effects } = run(cancelling, { type: "invite_answered", call: call() });
    expect(effects).toEqual([{ type: "hangup", callId: CALL }, { type: "stop_media" }]);
    expect(endText(ended(state.phase))).toBe("Call cancelled");
  });

  it("cancelling while it rings", () => {
    const ringing = run(placed().state, { type: "invite_answered", call: call() }).state;
    const { state, effects } = run(ringing, { type: "hangup" });
    expect(effects).toEqual([{ type: "hangup", callId: CALL }, { type: "stop_media" }]);
    expect(ended(state.phase).outcome).toBe("cancelled");
    // The server's word arrives after: still cancelled.
    const after = run(state, { type: "update", call: call({ state: "cancelled", ended_at: "2026-11-22T10:30:05Z" }) });
    expect(ended(after.state.phase).outcome).toBe("cancelled");
  });
});

describe("the caller's call", () => {
  const ringing = () =>
    run(
      ready(),
      { type: "place", conversationId: CHAT, peerId: BOB, callKind: "video" },
      { type: "invite_answered", call: call() },
    ).state;
  const answered = call({ state: "ongoing", answered_at: "2026-11-22T10:30:04Z", answered_by_connection: "bob-tab" });

  it("connects the media when the callee answers", () => {
    const { state, effects } = run(ringing(), { type: "update", call: answered });
    expect(state.phase).toEqual({ kind: "in_call", call: answered, role: "caller", video: true, connected: false, connectedAt: null });
    expect(effects).toEqual([{ type: "connect", call: answered, role: "caller", video: true }]);
  });

  it("starts the timer when the media connects, once", () => {
    const inCall = run(ringing(), { type: "update", call: answered }).state;
    const { state } = run(inCall, { type: "media_connected", at: T0 + 500 }, { type: "media_connected", at: T0 + 9_000 });
    expect(state.phase).toMatchObject({ connected: true, connectedAt: T0 + 500 });
  });

  for (const [outcome, text] of [
    ["missed", "No answer"],
    ["declined", "Declined"],
    ["failed", "Call failed"],
  ] as const) {
    it(`${outcome} while ringing: "${text}"`, () => {
      const { state, effects } = run(ringing(), { type: "update", call: call({ state: outcome, ended_at: "2026-11-22T10:30:45Z" }) });
      expect(endText(ended(state.phase))).toBe(text);
      expect(types(effects)).toEqual(["history_changed", "stop_media"]);
    });
  }

  it("the other side hangs up: the end screen shows the server's duration", () => {
    const inCall = run(ringing(), { type: "update", call: answered }, { type: "media_connected", at: T0 }).state;
    const { state, effects } = run(inCall, {
      type: "update",
      call: { ...answered, state: "ended", ended_at: "2026-11-22T10:34:16Z", duration_seconds: 252 },
    });
    expect(endText(ended(state.phase))).toBe("Call ended · 4:12");
    expect(types(effects)).toContain("stop_media");
  });

  it("hanging up ends at once with the local time, then takes the server's", () => {
    const inCall = run(ringing(), { type: "update", call: answered }, { type: "media_connected", at: T0 }).state;
    const { state, effects } = run(inCall, [{ type: "hangup" }, T0 + 61_400]);
    expect(effects).toEqual([{ type: "hangup", callId: CALL }, { type: "stop_media" }]);
    expect(endText(ended(state.phase))).toBe("Call ended · 1:01");
    const after = run(state, { type: "update", call: { ...answered, state: "ended", duration_seconds: 62 } });
    expect(endText(ended(after.state.phase))).toBe("Call ended · 1:02");
    expect(types(after.effects)).toEqual(["history_changed"]);
  });

  it("no connection in time: hangs up with a clear message that the server's outcome does not replace", () => {
    const inCall = run(ringing(), { type: "update", call: answered }).state;
    const { state, effects } = run(inCall, { type: "media_failed", reason: "Couldn't connect the call." });
    expect(effects).toEqual([{ type: "hangup", callId: CALL, failed: true }, { type: "stop_media" }]);
    const after = run(state, { type: "update", call: { ...answered, state: "ended", duration_seconds: 20 } }).state;
    expect(endText(ended(after.phase))).toBe("Couldn't connect the call.");
    expect(ended(after.phase).outcome).toBe("failed");
  });

  it("ignores updates of the call after the end screen was closed", () => {
    const done = run(ringing(), { type: "update", call: call({ state: "missed" }) }, { type: "dismiss" }).state;
    expect(done.phase).toEqual({ kind: "idle" });
    const { state } = run(done, { type: "update", call: call({ state: "missed" }) });
    expect(state.phase).toEqual({ kind: "idle" });
  });

  it("a call placed from another tab does not ring here", () => {
    const { state, effects } = run(ready(), { type: "update", call: call() });
    expect(state.phase).toEqual({ kind: "idle" });
    expect(state.elsewhere).toEqual(call());
    expect(effects).toEqual([]);
    const over = run(state, { type: "update", call: call({ state: "ended" }) });
    expect(over.state.elsewhere).toBeNull();
    expect(types(over.effects)).toEqual(["history_changed"]);
  });
});

describe("the callee's call", () => {
  const ringingHere = () => run(ready(), { type: "update", call: incomingCall() }).state;
  const answeredHere = incomingCall({ state: "ongoing", answered_at: "2026-11-22T10:30:04Z", answered_by_connection: CONN });

  it("rings on every tab", () => {
    const state = ringingHere();
    expect(state.phase).toEqual({ kind: "incoming", call: incomingCall() });
    expect(isBusy(state)).toBe(false);
  });

  it("accepting with video sends the accept and opens the camera", () => {
    const { state, effects } = run(ringingHere(), { type: "accept", video: true });
    expect(state.phase).toMatchObject({ kind: "answering", video: true });
    expect(effects).toEqual([{ type: "accept", callId: CALL }, { type: "prepare_media", video: true }]);
  });

  it("accepting audio-only connects without the camera", () => {
    const { state, effects } = run(ringingHere(), { type: "accept", video: false }, { type: "update", call: answeredHere });
    expect(state.phase).toMatchObject({ kind: "in_call", role: "callee", video: false });
    expect(effects).toContainEqual({ type: "connect", call: answeredHere, role: "callee", video: false });
  });

  it("answered on another tab: this one stops ringing", () => {
    const elsewhere = { ...answeredHere, answered_by_connection: OTHER_CONN };
    const { state, effects } = run(ringingHere(), { type: "update", call: elsewhere });
    expect(state.phase).toEqual({ kind: "idle" });
    expect(state.elsewhere).toEqual(elsewhere);
    expect(effects).toEqual([]);
  });

  it("answered on another tab while this one was accepting too: gives the camera back", () => {
    const accepting = run(ringingHere(), { type: "accept", video: true }).state;
    const { state, effects } = run(accepting, { type: "update", call: { ...answeredHere, answered_by_connection: OTHER_CONN } });
    expect(state.phase).toEqual({ kind: "idle" });
    expect(effects).toEqual([{ type: "stop_media" }]);
  });

  it("the accept was refused (the call ended meanwhile)", () => {
    const accepting = run(ringingHere(), { type: "accept", video: true }).state;
    const { state, effects } = run(accepting, { type: "accept_failed", message: "The call has already ended." });
    expect(endText(ended(state.phase))).toBe("The call has already ended.");
    expect(effects).toEqual([{ type: "stop_media" }]);
  });

  it("declining stops the ringing at once", () => {
    const { state, effects } = run(ringingHere(), { type: "decline" });
    expect(state.phase).toEqual({ kind: "idle" });
    expect(effects).toEqual([{ type: "decline", callId: CALL }]);
  });

  it("hanging up while it rings declines", () => {
    const { effects } = run(ringingHere(), { type: "hangup" });
    expect(effects).toEqual([{ type: "decline", callId: CALL }]);
  });

  for (const outcome of ["cancelled", "missed", "declined", "failed"] as const) {
    it(`${outcome} while ringing: the incoming screen goes away`, () => {
      const { state, effects } = run(ringingHere(), { type: "update", call: incomingCall({ state: outcome }) });
      expect(state.phase).toEqual({ kind: "idle" });
      expect(types(effects)).toEqual(["history_changed"]);
    });
  }

  it("a busy call for me (I was in another call) does not ring", () => {
    const { state } = run(ready(), { type: "update", call: incomingCall({ state: "busy" }) });
    expect(state.phase).toEqual({ kind: "idle" });
  });

  it("the caller hangs up: the end screen with the duration", () => {
    const inCall = run(ringingHere(), { type: "accept", video: true }, { type: "update", call: answeredHere }).state;
    const { state } = run(inCall, { type: "update", call: { ...answeredHere, state: "ended", duration_seconds: 5 } });
    expect(endText(ended(state.phase))).toBe("Call ended · 0:05");
    expect(ended(state.phase).role).toBe("callee");
  });

  it("the server failed the call (a connection went away)", () => {
    const inCall = run(ringingHere(), { type: "accept", video: true }, { type: "update", call: answeredHere }).state;
    const { state } = run(inCall, { type: "update", call: { ...answeredHere, state: "failed", duration_seconds: 3 } });
    expect(endText(ended(state.phase))).toBe("Call failed");
  });

  it("a new call rings over an end screen", () => {
    const done = run(ringingHere(), { type: "accept", video: true }, { type: "update", call: answeredHere }, { type: "hangup" }).state;
    expect(done.phase.kind).toBe("ended");
    const second = incomingCall({ id: "second" });
    expect(run(done, { type: "update", call: second }).state.phase).toEqual({ kind: "incoming", call: second });
  });
});

describe("adding a third person moves the call to a group's meeting", () => {
  const GROUP = "0196d000-0000-7000-8000-0000000000a3";
  const answered = call({ state: "ongoing", answered_at: "2026-11-22T10:30:04Z", answered_by_connection: "bob-tab" });
  const endedByMove = call({ ...answered, state: "ended", ended_at: "2026-11-22T10:34:16Z", duration_seconds: 252 });
  const callerInCall = () =>
    run(
      ready(),
      { type: "place", conversationId: CHAT, peerId: BOB, callKind: "video" },
      { type: "invite_answered", call: call() },
      { type: "update", call: answered },
      { type: "media_connected", at: T0 },
    ).state;
  const calleeAnswered = incomingCall({ state: "ongoing", answered_at: "2026-11-22T10:30:04Z", answered_by_connection: CONN });
  const calleeInCall = () =>
    run(ready(), { type: "update", call: incomingCall() }, { type: "accept", video: false }, { type: "update", call: calleeAnswered }).state;

  it("the caller's tab joins the meeting and lets go of the call, with no end screen", () => {
    const { state, effects } = run(callerInCall(), { type: "moved", callId: CALL, conversationId: GROUP });
    expect(state.phase).toEqual({ kind: "idle" });
    // The meeting is joined before the call's connection is closed (its tracks move over).
    expect(effects).toEqual([{ type: "join_meeting", conversationId: GROUP }, { type: "stop_media" }]);
    expect(isBusy(state)).toBe(false);
  });

  it("the callee's tab moves too", () => {
    const { state, effects } = run(calleeInCall(), { type: "moved", callId: CALL, conversationId: GROUP });
    expect(state.phase).toEqual({ kind: "idle" });
    expect(types(effects)).toEqual(["join_meeting", "stop_media"]);
  });

  it("the call's end that follows the move changes nothing on screen, only the history", () => {
    const moved = run(callerInCall(), { type: "moved", callId: CALL, conversationId: GROUP }).state;
    const { state, effects } = run(moved, { type: "update", call: endedByMove });
    expect(state.phase).toEqual({ kind: "idle" });
    expect(state.elsewhere).toBeNull();
    expect(effects).toEqual([{ type: "history_changed" }]);

    const callee = run(calleeInCall(), { type: "moved", callId: CALL, conversationId: GROUP }).state;
    const calleeEnd = run(callee, { type: "update", call: incomingCall({ ...endedByMove, caller_id: BOB, callee_id: ME }) });
    expect(calleeEnd.state.phase).toEqual({ kind: "idle" });
    expect(calleeEnd.effects).toEqual([{ type: "history_changed" }]);
  });

  it("another tab of a participant, not in the call, stays where it is", () => {
    const elsewhere = { ...calleeAnswered, answered_by_connection: OTHER_CONN };
    const otherTab = run(ready(), { type: "update", call: incomingCall() }, { type: "update", call: elsewhere }).state;
    expect(otherTab.phase).toEqual({ kind: "idle" });
    const { state, effects } = run(otherTab, { type: "moved", callId: CALL, conversationId: GROUP });
    expect(state).toBe(otherTab);
    expect(effects).toEqual([]);
  });

  it("a move of some other call, or one that is not ongoing here, is ignored", () => {
    const inCall = callerInCall();
    expect(run(inCall, { type: "moved", callId: "another-call", conversationId: GROUP }).state).toBe(inCall);
    const ringing = run(
      ready(),
      { type: "place", conversationId: CHAT, peerId: BOB, callKind: "video" },
      { type: "invite_answered", call: call() },
    ).state;
    expect(run(ringing, { type: "moved", callId: CALL, conversationId: GROUP }).effects).toEqual([]);
    const hungUp = run(inCall, { type: "hangup" }).state;
    expect(run(hungUp, { type: "moved", callId: CALL, conversationId: GROUP }).state.phase.kind).toBe("ended");
  });
});

describe("reconnects", () => {
  it("asks where the call stands when the connection changed mid-call", () => {
    const inCall = run(
      ready(),
      { type: "update", call: incomingCall() },
      { type: "accept", video: true },
      { type: "update", call: incomingCall({ state: "ongoing", answered_by_connection: CONN }) },
    ).state;
    const { state, effects } = run(inCall, { type: "ready", connectionId: "conn-new" });
    expect(state.connectionId).toBe("conn-new");
    expect(effects).toEqual([{ type: "refresh", callId: CALL }]);
  });

  it("no call, nothing to ask", () => {
    expect(run(ready(), { type: "ready", connectionId: "conn-new" }).effects).toEqual([]);
  });
});

describe("words", () => {
  it("formats durations", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(252)).toBe("4:12");
    expect(formatDuration(3723)).toBe("1:02:03");
  });

  it("writes the chat's call lines from each side", () => {
    const line = (outcome: CallView["state"], caller: string, kind: "voice" | "video" = "video", duration: number | null = null) =>
      callLogText({ caller_id: caller, call_kind: kind, outcome, duration_seconds: duration }, ME);
    expect(line("ended", ME, "voice", 252)).toBe("Voice call · 4:12");
    expect(line("ended", BOB, "video", 5)).toBe("Video call · 0:05");
    expect(line("missed", BOB)).toBe("Missed video call");
    expect(line("missed", ME)).toBe("Video call · No answer");
    expect(line("declined", ME)).toBe("Video call · Declined");
    expect(line("declined", BOB, "voice")).toBe("Declined voice call");
    expect(line("busy", ME)).toBe("Video call · Busy");
    expect(line("busy", BOB)).toBe("Missed video call");
    expect(line("cancelled", ME, "voice")).toBe("Cancelled voice call");
    expect(line("cancelled", BOB, "voice")).toBe("Missed voice call");
    expect(line("failed", ME)).toBe("Video call · Failed");
  });

  it("tells incoming, outgoing and missed apart", () => {
    expect(callDirection(call({ state: "ended", answered_at: "x" }), ME)).toBe("outgoing");
    expect(callDirection(incomingCall({ state: "ended", answered_at: "x" }), ME)).toBe("incoming");
    expect(callDirection(incomingCall({ state: "missed" }), ME)).toBe("missed");
    expect(callDirection(incomingCall({ state: "cancelled" }), ME)).toBe("missed");
    expect(callDirection(incomingCall({ state: "declined" }), ME)).toBe("incoming");
  });

  it("shows what the other side sends", () => {
    expect(mediaBadges(null, "video")).toEqual([]);
    expect(mediaBadges({ audio: false, video: true, screen: false }, "video")).toEqual(["muted"]);
    expect(mediaBadges({ audio: true, video: false, screen: false }, "video")).toEqual(["camera off"]);
    expect(mediaBadges({ audio: true, video: false, screen: false }, "voice")).toEqual([]);
    expect(mediaBadges({ audio: false, video: false, screen: true }, "video")).toEqual(["muted", "presenting"]);
  });

  it("rates the connection", () => {
    expect(qualityOf(null, null)).toBe("unknown");
    expect(qualityOf(40, 0)).toBe("good");
    expect(qualityOf(300, 0.01)).toBe("fair");
    expect(qualityOf(100, 0.05)).toBe("fair");
    expect(qualityOf(800, 0)).toBe("poor");
    expect(qualityOf(50, 0.2)).toBe("poor");
  });
});

describe("call lines in the chat", () => {
  const logged = (seq: number, callId: string, at: string) => ({
    ...event(seq, { kind: "call_logged", call_id: callId, caller_id: BOB, call_kind: "video", outcome: "missed", duration_seconds: null }),
    at,
  });

  it("a call_logged event adds a line once and counts as activity", () => {
    let state = reduce(initialState(ME), { type: "conversations_loaded", summaries: [summary({ last_seq: 0 })] }).state;
    state = reduce(state, { type: "event", event: logged(1, "c1", "2026-11-22T11:00:00Z") }).state;
    state = reduce(state, { type: "event", event: logged(1, "c1", "2026-11-22T11:00:00Z") }).state;
    const c = state.conversations[CHAT]!;
    expect(c.callLogs).toEqual([
      { call_id: "c1", caller_id: BOB, call_kind: "video", outcome: "missed", duration_seconds: null, at: "2026-11-22T11:00:00Z", seq: 1 },
    ]);
    expect(c.summary.conversation.last_activity_at).toBe("2026-11-22T11:00:00Z");
    expect(c.summary.unread_count).toBe(0);
  });

  it("merges events with the call history, each call once, by time", () => {
    const fromHistory = [
      incomingCall({ id: "old", state: "ended", ended_at: "2026-11-22T09:00:00.5Z", duration_seconds: 30 }),
      incomingCall({ id: "c1", state: "missed", ended_at: "2026-11-22T11:00:00Z" }),
      incomingCall({ id: "live", state: "ringing" }),
      incomingCall({ id: "elsewhere", conversation_id: "other", state: "ended" }),
    ];
    const events = [
      { call_id: "c1", caller_id: BOB, call_kind: "video" as const, outcome: "missed" as const, duration_seconds: null, at: "2026-11-22T11:00:00Z", seq: 7 },
    ];
    const merged = mergeCallLogs(CHAT, events, fromHistory);
    expect(merged.map((entry) => [entry.call_id, entry.seq])).toEqual([
      ["old", null],
      ["c1", 7],
    ]);
  });

  it("orders by time even when the fractions differ in length", () => {
    const a = { call_id: "a", caller_id: BOB, call_kind: "voice" as const, outcome: "ended" as const, duration_seconds: 1, at: "2026-11-22T10:00:00Z", seq: 1 };
    const b = { ...a, call_id: "b", at: "2026-11-22T10:00:00.5Z", seq: 2 };
    expect(mergeCallLogs(CHAT, [b, a], []).map((entry) => entry.call_id)).toEqual(["a", "b"]);
  });
});
