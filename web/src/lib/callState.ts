// One-to-one calls as this tab sees them: a pure reducer over the server's `call_update`
// frames and the user's actions (call, accept, decline, hang up), with the effects the
// driver (callClient.ts) carries out: send a request, get the camera ready, connect the
// media, stop it. The server owns the call's state; this module only decides what this
// tab shows and does. No DOM, no timers: tested with Vitest.
import type { CallKindView, CallStateView, CallView } from "@proto";

/** The ways a call ends, as the server says (plus our own "could not connect"). */
export type CallOutcome = Exclude<CallStateView, "ringing" | "ongoing">;

export type CallPhase =
  /** Nothing on screen. */
  | { kind: "idle" }
  /** `call_invite` sent, no answer yet. `cancelled`: the user hung up meanwhile. */
  | { kind: "placing"; conversationId: string; peerId: string; callKind: CallKindView; cancelled: boolean }
  /** Our call rings at the other side. */
  | { kind: "outgoing"; call: CallView }
  /** A call rings here (and on the callee's every other tab). */
  | { kind: "incoming"; call: CallView }
  /** We accepted; waiting for the server's `ongoing`. `video`: answer with the camera. */
  | { kind: "answering"; call: CallView; video: boolean }
  /** In the call. `connected` once the media flows (ICE connected). */
  | {
      kind: "in_call";
      call: CallView;
      role: "caller" | "callee";
      video: boolean;
      connected: boolean;
      /** ms since epoch when the media first connected (the call timer). */
      connectedAt: number | null;
    }
  /** The short screen after a call: "No answer", "Call ended · 4:12". */
  | {
      kind: "ended";
      callId: string | null;
      conversationId: string;
      peerId: string;
      callKind: CallKindView;
      outcome: CallOutcome;
      /** Seconds connected, when known. */
      durationSeconds: number | null;
      /** Our own reason, which wins over the server's outcome (e.g. no connection). */
      reason: string | null;
      role: "caller" | "callee";
    };

export interface CallUiState {
  selfId: string;
  /** This tab's WebSocket connection (from `ready`); the server names the tab that answered. */
  connectionId: string | null;
  phase: CallPhase;
  /** A call of ours that lives in another tab or device (answered or placed there). */
  elsewhere: CallView | null;
}

export type CallAction =
  | { type: "ready"; connectionId: string }
  | { type: "place"; conversationId: string; peerId: string; callKind: CallKindView }
  | { type: "invite_answered"; call: CallView }
  | { type: "invite_failed"; message: string }
  | { type: "update"; call: CallView }
  | { type: "accept"; video: boolean }
  | { type: "accept_failed"; message: string }
  | { type: "decline" }
  | { type: "hangup" }
  | { type: "media_connected"; at: number }
  | { type: "media_failed"; reason: string }
  /** The server moved the call to a group's meeting (someone added a third person). */
  | { type: "moved"; callId: string; conversationId: string }
  | { type: "dismiss" };

export type CallEffect =
  | { type: "invite"; conversationId: string; callKind: CallKindView }
  | { type: "accept"; callId: string }
  | { type: "decline"; callId: string }
  | { type: "hangup"; callId: string; failed?: boolean }
  /** Ask for the camera and microphone early (the preview while ringing). */
  | { type: "prepare_media"; video: boolean }
  /** Our call rings: get the connection ready (offer, candidates), held until answered. */
  | { type: "prewarm"; call: CallView }
  /** The call is ongoing with us in it: create the peer connection (or release it). */
  | { type: "connect"; call: CallView; role: "caller" | "callee"; video: boolean }
  | { type: "stop_media" }
  /** Ask the server where a call stands (after a reconnect, frames may have been lost). */
  | { type: "refresh"; callId: string }
  /** A call ended: the history changed. */
  | { type: "history_changed" }
  /** The call goes on as the meeting of this group: join it at once, with the microphone
   * and camera as they were (before `stop_media` lets go of the call's connection). */
  | { type: "join_meeting"; conversationId: string };

export interface CallStep {
  state: CallUiState;
  effects: CallEffect[];
}

export function initialCallState(selfId: string): CallUiState {
  return { selfId, connectionId: null, phase: { kind: "idle" }, elsewhere: null };
}

const FINAL: ReadonlySet<CallStateView> = new Set(["ended", "missed", "declined", "busy", "cancelled", "failed"]);

export function isFinal(state: CallStateView): state is CallOutcome {
  return FINAL.has(state);
}

/** The call this tab is busy with, if any. */
export function currentCallId(phase: CallPhase): string | null {
  switch (phase.kind) {
    case "outgoing":
    case "incoming":
    case "answering":
    case "in_call":
      return phase.call.id;
    default:
      return null;
  }
}

/** True while this tab may not start another call. */
export function isBusy(state: CallUiState): boolean {
  const kind = state.phase.kind;
  return kind !== "idle" && kind !== "ended" && kind !== "incoming";
}

function endedFrom(
  call: CallView,
  role: "caller" | "callee",
  outcome: CallOutcome,
  reason: string | null = null,
  durationSeconds: number | null = call.duration_seconds,
): CallPhase {
  return {
    kind: "ended",
    callId: call.id,
    conversationId: call.conversation_id,
    peerId: role === "caller" ? call.callee_id : call.caller_id,
    callKind: call.kind,
    outcome,
    durationSeconds,
    reason,
    role,
  };
}

function localDuration(phase: CallPhase, now: number | null): number | null {
  if (phase.kind !== "in_call" || phase.connectedAt === null || now === null) return null;
  return Math.max(0, Math.round((now - phase.connectedAt) / 1000));
}

export function reduceCall(state: CallUiState, action: CallAction, now: number | null = null): CallStep {
  const effects: CallEffect[] = [];
  const phase = state.phase;
  const next = (patch: Partial<CallUiState>): CallStep => ({ state: { ...state, ...patch }, effects });
  const same: CallStep = { state, effects };

  switch (action.type) {
    case "ready": {
      const id = currentCallId(phase);
      if (id && state.connectionId !== null && state.connectionId !== action.connectionId) {
        // A new connection after a drop: the server may have ended the call meanwhile
        // (an answering connection that goes away fails the call) and told nobody here.
        effects.push({ type: "refresh", callId: id });
      }
      return next({ connectionId: action.connectionId });
    }

    case "place": {
      if (isBusy(state)) return same;
      effects.push({ type: "invite", conversationId: action.conversationId, callKind: action.callKind });
      effects.push({ type: "prepare_media", video: action.callKind === "video" });
      return next({
        phase: {
          kind: "placing",
          conversationId: action.conversationId,
          peerId: action.peerId,
          callKind: action.callKind,
          cancelled: false,
        },
      });
    }

    case "invite_answered": {
      if (phase.kind !== "placing") return same;
      const call = action.call;
      if (isFinal(call.state)) {
        // Busy: the other person is already in a call.
        effects.push({ type: "stop_media" }, { type: "history_changed" });
        return next({ phase: endedFrom(call, "caller", call.state) });
      }
      if (phase.cancelled) {
        effects.push({ type: "hangup", callId: call.id }, { type: "stop_media" });
        return next({ phase: endedFrom(call, "caller", "cancelled") });
      }
      if (call.state === "ongoing") {
        effects.push({ type: "connect", call, role: "caller", video: call.kind === "video" });
        return next({
          phase: { kind: "in_call", call, role: "caller", video: call.kind === "video", connected: false, connectedAt: null },
        });
      }
      effects.push({ type: "prewarm", call });
      return next({ phase: { kind: "outgoing", call } });
    }

    case "invite_failed": {
      if (phase.kind !== "placing") return same;
      effects.push({ type: "stop_media" });
      return next({
        phase: {
          kind: "ended",
          callId: null,
          conversationId: phase.conversationId,
          peerId: phase.peerId,
          callKind: phase.callKind,
          outcome: "failed",
          durationSeconds: null,
          reason: action.message,
          role: "caller",
        },
      });
    }

    case "update":
      return onUpdate(state, action.call, now, effects);

    case "accept": {
      if (phase.kind !== "incoming") return same;
      effects.push({ type: "accept", callId: phase.call.id });
      effects.push({ type: "prepare_media", video: action.video });
      return next({ phase: { kind: "answering", call: phase.call, video: action.video } });
    }

    case "accept_failed": {
      if (phase.kind !== "answering") return same;
      effects.push({ type: "stop_media" });
      return next({ phase: endedFrom(phase.call, "callee", "failed", action.message) });
    }

    case "decline": {
      if (phase.kind !== "incoming") return same;
      effects.push({ type: "decline", callId: phase.call.id });
      return next({ phase: { kind: "idle" } });
    }

    case "hangup": {
      switch (phase.kind) {
        case "placing":
          return next({ phase: { ...phase, cancelled: true } });
        case "outgoing":
          effects.push({ type: "hangup", callId: phase.call.id }, { type: "stop_media" });
          return next({ phase: endedFrom(phase.call, "caller", "cancelled") });
        case "incoming":
          effects.push({ type: "decline", callId: phase.call.id });
          return next({ phase: { kind: "idle" } });
        case "answering":
          effects.push({ type: "hangup", callId: phase.call.id }, { type: "stop_media" });
          return next({ phase: endedFrom(phase.call, "callee", "ended", null, 0) });
        case "in_call":
          effects.push({ type: "hangup", callId: phase.call.id }, { type: "stop_media" });
          return next({ phase: endedFrom(phase.call, phase.role, "ended", null, localDuration(phase, now) ?? 0) });
        default:
          return same;
      }
    }

    case "media_connected": {
      if (phase.kind !== "in_call" || phase.connected) return same;
      return next({ phase: { ...phase, connected: true, connectedAt: phase.connectedAt ?? action.at } });
    }

    case "media_failed": {
      if (phase.kind !== "in_call") return same;
      effects.push({ type: "hangup", callId: phase.call.id, failed: true }, { type: "stop_media" });
      return next({
        phase: endedFrom(phase.call, phase.role, "failed", action.reason, localDuration(phase, now)),
      });
    }

    case "moved": {
      // Only the tab the call is on moves; the others (told too) wait for the call's end.
      // The server sends the move before the call's end, on the same connection.
      if (phase.kind !== "in_call" || phase.call.id !== action.callId) return same;
      effects.push({ type: "join_meeting", conversationId: action.conversationId }, { type: "stop_media" });
      // No end screen, no tones: the call goes on in the meeting. Its `call_update` ending
      // it finds this tab idle and only refreshes the history.
      return next({ phase: { kind: "idle" } });
    }

    case "dismiss":
      return phase.kind === "ended" ? next({ phase: { kind: "idle" } }) : same;
  }
}

function onUpdate(state: CallUiState, call: CallView, now: number | null, effects: CallEffect[]): CallStep {
  const phase = state.phase;
  const next = (patch: Partial<CallUiState>): CallStep => ({ state: { ...state, ...patch }, effects });
  const mine = currentCallId(phase) === call.id;
  const outcome: CallOutcome | null = isFinal(call.state) ? call.state : null;
  const final = outcome !== null;
  // Every final update of one of our calls changes the history, whichever tab it was on.
  if (final && (call.caller_id === state.selfId || call.callee_id === state.selfId)) {
    effects.push({ type: "history_changed" });
  }
  const elsewhere = (): CallView | null => {
    if (final) return state.elsewhere?.id === call.id ? null : state.elsewhere;
    return call;
  };

  // Our end screen of this call: the server's word refines the outcome and duration.
  if (phase.kind === "ended" && phase.callId === call.id) {
    if (!final) return { state, effects };
    return next({
      phase: {
        ...phase,
        outcome: phase.reason || !outcome ? phase.outcome : outcome,
        durationSeconds: call.duration_seconds ?? phase.durationSeconds,
      },
    });
  }

  if (call.caller_id === state.selfId) {
    if (!mine) {
      // Placed from another tab or device: nothing rings here.
      return next({ elsewhere: elsewhere() });
    }
    if (outcome) {
      effects.push({ type: "stop_media" });
      const duration = call.duration_seconds ?? localDuration(phase, now);
      return next({ phase: endedFrom(call, "caller", outcome, null, duration) });
    }
    if (call.state === "ongoing" && phase.kind === "outgoing") {
      effects.push({ type: "connect", call, role: "caller", video: call.kind === "video" });
      return next({
        phase: { kind: "in_call", call, role: "caller", video: call.kind === "video", connected: false, connectedAt: null },
      });
    }
    if (phase.kind === "outgoing") return next({ phase: { kind: "outgoing", call } });
    if (phase.kind === "in_call") return next({ phase: { ...phase, call } });
    return { state, effects };
  }

  if (call.callee_id !== state.selfId) return { state, effects };

  // We are the callee.
  if (call.state === "ringing") {
    if (mine) return next({ phase: phase.kind === "incoming" ? { kind: "incoming", call } : phase });
    if (phase.kind === "idle" || phase.kind === "ended") return next({ phase: { kind: "incoming", call } });
    // Busy here with something else (the server should have said busy): leave it.
    return { state, effects };
  }
  if (call.state === "ongoing") {
    const answeredHere = call.answered_by_connection !== null && call.answered_by_connection === state.connectionId;
    if (mine && answeredHere) {
      if (phase.kind === "answering" || phase.kind === "incoming") {
        const video = phase.kind === "answering" ? phase.video : false;
        effects.push({ type: "connect", call, role: "callee", video });
        return next({ phase: { kind: "in_call", call, role: "callee", video, connected: false, connectedAt: null } });
      }
      if (phase.kind === "in_call") return next({ phase: { ...phase, call } });
      return { state, effects };
    }
    if (mine) {
      // Answered on another tab or device: stop ringing here.
      if (phase.kind === "answering") effects.push({ type: "stop_media" });
      return next({ phase: { kind: "idle" }, elsewhere: call });
    }
    return next({ elsewhere: call });
  }
  // Final.
  if (!mine || !outcome) return next({ elsewhere: elsewhere() });
  if (phase.kind === "incoming") {
    // Cancelled by the caller, rung out, or declined on another tab: the ringing stops.
    return next({ phase: { kind: "idle" } });
  }
  effects.push({ type: "stop_media" });
  const duration = call.duration_seconds ?? localDuration(phase, now);
  return next({ phase: endedFrom(call, "callee", outcome, null, duration) });
}

// ---- words ----

/** "4:12", "1:02:03". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

/** The end screen's line. */
export function endText(phase: Extract<CallPhase, { kind: "ended" }>): string {
  if (phase.reason) return phase.reason;
  switch (phase.outcome) {
    case "ended":
      return phase.durationSeconds !== null ? `Call ended · ${formatDuration(phase.durationSeconds)}` : "Call ended";
    case "missed":
      return phase.role === "caller" ? "No answer" : "Missed call";
    case "declined":
      return phase.role === "caller" ? "Declined" : "Call declined";
    case "busy":
      return "Busy";
    case "cancelled":
      return phase.role === "caller" ? "Call cancelled" : "Missed call";
    case "failed":
      return "Call failed";
  }
}

/** What the calling screen says under the name. */
export function outgoingText(phase: CallPhase): string {
  if (phase.kind === "placing") return phase.cancelled ? "Cancelling…" : "Calling…";
  if (phase.kind === "outgoing") return "Ringing…";
  return "";
}

export interface CallLogEntry {
  call_id: string;
  caller_id: string;
  call_kind: CallKindView;
  outcome: CallStateView;
  duration_seconds: number | null;
  /** When the call ended (the event's time). */
  at: string;
  /** The event's seq; null for entries from the call history. */
  seq: number | null;
}

/** The chat's system line for a call: "Missed video call", "Voice call · 4:12". */
export function callLogText(entry: Pick<CallLogEntry, "caller_id" | "call_kind" | "outcome" | "duration_seconds">, selfId: string): string {
  const kind = entry.call_kind === "video" ? "video" : "voice";
  const Kind = entry.call_kind === "video" ? "Video" : "Voice";
  const outgoing = entry.caller_id === selfId;
  switch (entry.outcome) {
    case "ended":
      return entry.duration_seconds !== null ? `${Kind} call · ${formatDuration(entry.duration_seconds)}` : `${Kind} call`;
    case "missed":
      return outgoing ? `${Kind} call · No answer` : `Missed ${kind} call`;
    case "declined":
      return outgoing ? `${Kind} call · Declined` : `Declined ${kind} call`;
    case "busy":
      return outgoing ? `${Kind} call · Busy` : `Missed ${kind} call`;
    case "cancelled":
      return outgoing ? `Cancelled ${kind} call` : `Missed ${kind} call`;
    case "failed":
      return entry.duration_seconds ? `${Kind} call · ${formatDuration(entry.duration_seconds)} · Failed` : `${Kind} call · Failed`;
    default:
      return `${Kind} call`;
  }
}

/** A call-history row: which way it went, and whether it counts as missed for me. */
export function callDirection(call: CallView, selfId: string): "outgoing" | "incoming" | "missed" {
  if (call.caller_id === selfId) return "outgoing";
  return call.answered_at === null && call.state !== "ringing" && call.state !== "declined" ? "missed" : "incoming";
}

/** The chat lines a conversation shows: its `call_logged` events, plus calls from the
 * history that the loaded events do not cover, each once, oldest first. */
export function mergeCallLogs(conversationId: string, events: CallLogEntry[], history: CallView[]): CallLogEntry[] {
  const byId = new Map<string, CallLogEntry>();
  for (const call of history) {
    if (call.conversation_id !== conversationId || !isFinal(call.state)) continue;
    byId.set(call.id, {
      call_id: call.id,
      caller_id: call.caller_id,
      call_kind: call.kind,
      outcome: call.state,
      duration_seconds: call.duration_seconds,
      at: call.ended_at ?? call.started_at,
      seq: null,
    });
  }
  for (const entry of events) byId.set(entry.call_id, entry);
  // By time (ISO strings with varying fractions do not sort as text), then seq.
  return [...byId.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.seq ?? 0) - (b.seq ?? 0));
}

/** A remote party's `media_state`: what they send. */
export interface MediaState {
  audio: boolean;
  video: boolean;
  screen: boolean;
}

/** The badges shown for the other side: "muted", "camera off", "presenting". */
export function mediaBadges(remote: MediaState | null, callKind: CallKindView): string[] {
  if (!remote) return [];
  const badges: string[] = [];
  if (!remote.audio) badges.push("muted");
  if (remote.screen) badges.push("presenting");
  else if (!remote.video && callKind === "video") badges.push("camera off");
  return badges;
}

export type Quality = "good" | "fair" | "poor" | "unknown";

/** Connection quality from round-trip time (ms) and packet loss (0–1). */
export function qualityOf(rttMs: number | null, loss: number | null): Quality {
  if (rttMs === null && loss === null) return "unknown";
  const rtt = rttMs ?? 0;
  const lost = loss ?? 0;
  if (rtt < 250 && lost < 0.02) return "good";
  if (rtt < 500 && lost < 0.08) return "fair";
  return "poor";
}
