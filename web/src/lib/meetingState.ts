// Group meetings as this tab sees them: a pure reducer over the server's meeting frames
// (`meeting_joined`, `meeting_admitted`, `meeting_roster`, `meeting_speakers`,
// `meeting_reaction`, `meeting_muted_by_host`, `meeting_ringing`, `meeting_left`), the
// socket's ups and downs, and the user's actions (open the lobby, join with the microphone
// or camera off, mute, raise a hand, react, host actions, leave), with the effects to carry
// out. The SFU owns the meeting; this only follows it. No DOM, no WebRTC: the driver
// is meetingClient.ts, the layout is meetingLayout.ts.
import type { MeetingHostActionView, MeetingParticipantView, MeetingWaitingView } from "@proto";
import { type Quality, qualityOf } from "./callState";

/** How long a reaction floats over its sender's tile. */
export const REACTION_MS = 4_000;
/** At most this many reactions on screen at once (a burst of 👏 drops the oldest). */
export const MAX_REACTIONS = 40;
/** A group's ringing stops after this long. */
export const RINGING_MS = 30_000;

export type MeetingPhase =
  | { kind: "idle" }
  /** Choosing devices before joining (camera preview, microphone meter); `ring`: joining
   * from a group's call button rings its other members. */
  | { kind: "lobby"; conversationId: string; ring: boolean }
  /** `meeting_join` sent; `rejoin` after a lost connection (the stage stays up). */
  | { kind: "joining"; conversationId: string; rejoin: boolean }
  /** Knocking: a guest, or anyone in a locked meeting, until a host lets them in. */
  | { kind: "waiting"; conversationId: string; sessionId: string; host: boolean }
  | { kind: "in_meeting"; conversationId: string; sessionId: string; joinedAt: number; host: boolean }
  /** The socket is away (the server dropped our seat): join again once it is back. */
  | { kind: "reconnecting"; conversationId: string }
  /** Out of the meeting: by choice (`reason` "left") or not (the server's reason, an error);
   * `byHost`: removed, turned away or ended for all. */
  | { kind: "left"; conversationId: string; reason: string; byUser: boolean; byHost?: boolean };

/** What this tab sends, as the others see it in the roster. */
export interface LocalState {
  audioMuted: boolean;
  videoMuted: boolean;
  handRaised: boolean;
  /** Presenting a screen (a stream of its own, not part of `meeting_state`). */
  sharing: boolean;
}

export interface Reaction {
  id: number;
  sessionId: string;
  emoji: string;
  at: number;
}

export type LayoutChoice = "grid" | "speaker";

export interface Speakers {
  dominant: string | null;
  speaking: string[];
}

/** A group meeting someone started from the group's call button, ringing this tab. */
export interface Ringing {
  conversationId: string;
  fromUserId: string;
  fromName: string;
  at: number;
}

export interface MeetingState {
  phase: MeetingPhase;
  roster: MeetingParticipantView[];
  /** Who knocks (hosts only). */
  waiting: MeetingWaitingView[];
  locked: boolean;
  ringing: Ringing | null;
  speakers: Speakers;
  reactions: Reaction[];
  nextReactionId: number;
  local: LocalState;
  layout: LayoutChoice;
  /** A tile the user pinned large (its key: a session id, or `<session id>~screen`). */
  pinned: string | null;
  /** Zero-based page of the grid (or of the strip beside the large tile). */
  page: number;
  /** The user's cap on tiles per page (the screen may fit fewer). */
  maxTiles: number;
}

export type MeetingAction =
  | { type: "open_lobby"; conversationId: string; ring?: boolean }
  | { type: "close_lobby" }
  | { type: "join"; online: boolean }
  /** A one-to-one call moved to this group's meeting: straight in, no lobby, the
   * microphone and camera as they were in the call. */
  | { type: "join_from_call"; conversationId: string; audioMuted: boolean; videoMuted: boolean; online: boolean }
  | { type: "joined"; conversationId: string; sessionId: string; admitted: boolean; host: boolean; now: number }
  | { type: "admitted"; conversationId: string; now: number }
  | { type: "join_failed"; message: string }
  | {
      type: "roster";
      conversationId: string;
      participants: MeetingParticipantView[];
      waiting?: MeetingWaitingView[];
      locked?: boolean;
    }
  | { type: "speakers"; conversationId: string; dominant: string | null; speaking: string[] }
  | { type: "reaction"; conversationId: string; sessionId: string; emoji: string; now: number }
  | { type: "tick"; now: number }
  /** `rejoin`: the server says join again (its media failed); `retry`: the driver agrees
   * (not too many times in a row). */
  | { type: "left"; conversationId: string; reason: string; rejoin?: boolean; retry?: boolean }
  | { type: "muted_by_host"; conversationId: string }
  | { type: "ringing"; conversationId: string; fromUserId: string; fromName: string; now: number }
  | { type: "dismiss_ringing" }
  | { type: "host"; action: MeetingHostActionView }
  | { type: "leave" }
  | { type: "socket_down" }
  | { type: "socket_online" }
  /** A peer connection failed for good: take a fresh seat. */
  | { type: "media_failed" }
  | { type: "set_audio_muted"; muted: boolean }
  | { type: "set_video_muted"; muted: boolean }
  | { type: "set_hand_raised"; raised: boolean }
  | { type: "set_sharing"; sharing: boolean }
  | { type: "send_reaction"; emoji: string }
  | { type: "set_layout"; layout: LayoutChoice }
  | { type: "pin"; key: string | null }
  | { type: "set_page"; page: number }
  | { type: "set_max_tiles"; maxTiles: number }
  | { type: "dismiss" };

export type MeetingEffect =
  /** Open the camera and microphone (idempotent: the lobby may have them already). */
  | { type: "open_media" }
  | { type: "join"; conversationId: string; ring: boolean }
  /** Seat taken: set up the publish and subscribe connections for this session. */
  | { type: "connect"; sessionId: string }
  | { type: "send_state"; audioMuted: boolean; videoMuted: boolean; handRaised: boolean }
  | { type: "send_reaction"; emoji: string }
  | { type: "send_leave" }
  /** A host's word (`meeting_host`). */
  | { type: "host"; action: MeetingHostActionView }
  /** Mute the microphone's track (a host muted us). */
  | { type: "mute_mic" }
  | { type: "notice"; text: string }
  /** Close both peer connections (keep the camera and microphone). */
  | { type: "close_peers" }
  /** Close the peer connections and let go of the camera and microphone. */
  | { type: "stop_media" };

export interface MeetingStep {
  state: MeetingState;
  effects: MeetingEffect[];
}

export const TILE_CHOICES = [4, 9, 16, 25, 36, 49] as const;
export const DEFAULT_MAX_TILES = 49;

export function initialMeetingState(): MeetingState {
  return {
    phase: { kind: "idle" },
    roster: [],
    waiting: [],
    locked: false,
    ringing: null,
    speakers: { dominant: null, speaking: [] },
    reactions: [],
    nextReactionId: 1,
    local: { audioMuted: false, videoMuted: false, handRaised: false, sharing: false },
    layout: "grid",
    pinned: null,
    page: 0,
    maxTiles: DEFAULT_MAX_TILES,
  };
}

/** The conversation of the meeting this tab is in, on its way into, or just left. */
export function meetingConversationId(phase: MeetingPhase): string | null {
  return phase.kind === "idle" ? null : phase.conversationId;
}

/** In the meeting or getting (back) in: the stage is on screen and the media is ours. */
export function isInMeeting(
  phase: MeetingPhase,
): phase is Extract<MeetingPhase, { kind: "joining" | "waiting" | "in_meeting" | "reconnecting" }> {
  return phase.kind === "joining" || phase.kind === "waiting" || phase.kind === "in_meeting" || phase.kind === "reconnecting";
}

/** This tab is a host of the meeting it is in. */
export function isHost(phase: MeetingPhase): boolean {
  return (phase.kind === "in_meeting" || phase.kind === "waiting") && phase.host;
}

/** Anything from the lobby to the "you left" screen: the meeting screen replaces the chat. */
export function isMeetingOpen(phase: MeetingPhase): boolean {
  return phase.kind !== "idle";
}

function stateEffect(local: LocalState): MeetingEffect {
  return { type: "send_state", audioMuted: local.audioMuted, videoMuted: local.videoMuted, handRaised: local.handRaised };
}

/** The session's own entry, which the roster may not list yet right after joining. */
export function selfSessionId(phase: MeetingPhase): string | null {
  return phase.kind === "in_meeting" ? phase.sessionId : null;
}

/** The roster without the seat we are giving up (until the next roster, the others stay
 * on screen; we are shown from our own devices). */
function withoutSeat(roster: MeetingParticipantView[], phase: MeetingPhase): MeetingParticipantView[] {
  return phase.kind === "in_meeting" || phase.kind === "waiting" ? roster.filter((p) => p.session_id !== phase.sessionId) : roster;
}

export function reduceMeeting(state: MeetingState, action: MeetingAction): MeetingStep {
  const effects: MeetingEffect[] = [];
  const phase = state.phase;
  const next = (patch: Partial<MeetingState>): MeetingStep => ({ state: { ...state, ...patch }, effects });
  const same: MeetingStep = { state, effects };
  const current = meetingConversationId(phase);

  switch (action.type) {
    case "open_lobby": {
      if (isInMeeting(phase)) return same;
      const ring = action.ring ?? false;
      if (phase.kind === "lobby" && phase.conversationId === action.conversationId && phase.ring === ring) return same;
      effects.push({ type: "open_media" });
      return next({
        phase: { kind: "lobby", conversationId: action.conversationId, ring },
        ringing: null,
        roster: [],
        waiting: [],
        locked: false,
        speakers: { dominant: null, speaking: [] },
        reactions: [],
        pinned: null,
        page: 0,
        local: { ...state.local, handRaised: false, sharing: false },
      });
    }

    case "close_lobby":
      if (phase.kind !== "lobby") return same;
      effects.push({ type: "stop_media" });
      return next({ phase: { kind: "idle" } });

    case "join": {
      if (phase.kind !== "lobby" && phase.kind !== "left") return same;
      const conversationId = phase.conversationId;
      // Ringing is for starting a meeting, not for rejoining one.
      const ring = phase.kind === "lobby" && phase.ring;
      effects.push({ type: "open_media" });
      const local = { ...state.local, handRaised: false, sharing: false };
      const reset = {
        roster: [],
        waiting: [],
        locked: false,
        speakers: { dominant: null, speaking: [] },
        reactions: [],
        pinned: null,
        page: 0,
        local,
      };
      if (!action.online) return next({ ...reset, phase: { kind: "reconnecting", conversationId } });
      effects.push({ type: "join", conversationId, ring });
      return next({ ...reset, phase: { kind: "joining", conversationId, rejoin: false } });
    }

    case "join_from_call": {
      // A meeting of our own comes first (answering the call left it, so this is rare).
      if (isInMeeting(phase)) return same;
      const conversationId = action.conversationId;
      effects.push({ type: "open_media" });
      const reset = {
        roster: [],
        waiting: [],
        locked: false,
        speakers: { dominant: null, speaking: [] },
        reactions: [],
        pinned: null,
        page: 0,
        local: { audioMuted: action.audioMuted, videoMuted: action.videoMuted, handRaised: false, sharing: false },
        ringing: state.ringing?.conversationId === conversationId ? null : state.ringing,
      };
      if (!action.online) return next({ ...reset, phase: { kind: "reconnecting", conversationId } });
      effects.push({ type: "join", conversationId, ring: false });
      return next({ ...reset, phase: { kind: "joining", conversationId, rejoin: false } });
    }

    case "joined": {
      if (phase.kind !== "joining" || phase.conversationId !== action.conversationId) return same;
      if (!action.admitted) {
        // Knocking: nothing but leaving is allowed until a host lets us in.
        return next({ phase: { kind: "waiting", conversationId: phase.conversationId, sessionId: action.sessionId, host: action.host } });
      }
      // The roster says we are unmuted until told otherwise.
      effects.push({ type: "connect", sessionId: action.sessionId }, stateEffect(state.local));
      return next({
        phase: {
          kind: "in_meeting",
          conversationId: phase.conversationId,
          sessionId: action.sessionId,
          joinedAt: action.now,
          host: action.host,
        },
      });
    }

    case "admitted": {
      if (phase.kind !== "waiting" || phase.conversationId !== action.conversationId) return same;
      effects.push({ type: "connect", sessionId: phase.sessionId }, stateEffect(state.local));
      return next({
        phase: { kind: "in_meeting", conversationId: phase.conversationId, sessionId: phase.sessionId, joinedAt: action.now, host: phase.host },
      });
    }

    case "join_failed": {
      if (phase.kind !== "joining") return same;
      effects.push({ type: "stop_media" });
      return next({
        phase: { kind: "left", conversationId: phase.conversationId, reason: action.message, byUser: false },
        local: { ...state.local, sharing: false },
      });
    }

    case "roster": {
      if (!isInMeeting(phase) || action.conversationId !== current) return same;
      const roster = action.participants;
      const present = new Set(roster.map((p) => p.session_id));
      const streams = new Set(roster.flatMap((p) => [p.session_id, ...p.streams.map((s) => s.stream_id)]));
      const pinned = state.pinned && streams.has(state.pinned) ? state.pinned : null;
      const speakers = {
        dominant: state.speakers.dominant && present.has(state.speakers.dominant) ? state.speakers.dominant : null,
        speaking: state.speakers.speaking.filter((id) => present.has(id)),
      };
      return next({ roster, pinned, speakers, waiting: action.waiting ?? [], locked: action.locked ?? false });
    }

    case "speakers": {
      if (!isInMeeting(phase) || action.conversationId !== current) return same;
      return next({ speakers: { dominant: action.dominant, speaking: action.speaking } });
    }

    case "reaction": {
      if (!isInMeeting(phase) || action.conversationId !== current) return same;
      const reaction: Reaction = { id: state.nextReactionId, sessionId: action.sessionId, emoji: action.emoji, at: action.now };
      const reactions = [...state.reactions.filter((r) => action.now - r.at < REACTION_MS), reaction].slice(-MAX_REACTIONS);
      return next({ reactions, nextReactionId: state.nextReactionId + 1 });
    }

    case "tick": {
      const reactions = state.reactions.filter((r) => action.now - r.at < REACTION_MS);
      const ringing = state.ringing && action.now - state.ringing.at >= RINGING_MS ? null : state.ringing;
      return reactions.length === state.reactions.length && ringing === state.ringing ? same : next({ reactions, ringing });
    }

    case "left": {
      // Only a seat we hold can be taken away: an answer to our own `meeting_leave`, or a
      // late word about a seat we already gave up for a new one, changes nothing.
      if ((phase.kind !== "in_meeting" && phase.kind !== "waiting") || action.conversationId !== phase.conversationId) return same;
      if (action.rejoin && action.retry) {
        // The media server went away or the media failed: the meeting goes on elsewhere.
        effects.push({ type: "close_peers" }, { type: "join", conversationId: phase.conversationId, ring: false });
        return next({
          phase: { kind: "joining", conversationId: phase.conversationId, rejoin: true },
          roster: withoutSeat(state.roster, phase),
          local: { ...state.local, sharing: false },
          speakers: { dominant: null, speaking: [] },
        });
      }
      effects.push({ type: "stop_media" });
      return next({
        phase: {
          kind: "left",
          conversationId: phase.conversationId,
          reason: action.reason,
          byUser: false,
          byHost: action.rejoin === false && action.reason !== "left",
        },
        local: { ...state.local, sharing: false, handRaised: false },
        reactions: [],
        waiting: [],
      });
    }

    case "muted_by_host": {
      if (phase.kind !== "in_meeting" || action.conversationId !== phase.conversationId) return same;
      const local = { ...state.local, audioMuted: true };
      effects.push({ type: "mute_mic" }, { type: "notice", text: "A host muted you. You can unmute yourself." });
      if (!state.local.audioMuted) effects.push(stateEffect(local));
      return next({ local });
    }

    case "ringing": {
      // Already in (or on the way into) a meeting, or in the lobby of this one: no ringing.
      if (isInMeeting(phase) || meetingConversationId(phase) === action.conversationId && phase.kind === "lobby") return same;
      return next({
        ringing: { conversationId: action.conversationId, fromUserId: action.fromUserId, fromName: action.fromName, at: action.now },
      });
    }

    case "dismiss_ringing":
      return state.ringing ? next({ ringing: null }) : same;

    case "host":
      if (!isHost(phase) || phase.kind !== "in_meeting") return same;
      effects.push({ type: "host", action: action.action });
      return same;

    case "leave": {
      if (phase.kind === "lobby") {
        effects.push({ type: "stop_media" });
        return next({ phase: { kind: "idle" } });
      }
      if (!isInMeeting(phase)) return same;
      if (phase.kind !== "reconnecting") effects.push({ type: "send_leave" });
      effects.push({ type: "stop_media" });
      return next({
        phase: { kind: "left", conversationId: phase.conversationId, reason: "left", byUser: true },
        local: { ...state.local, sharing: false, handRaised: false },
        reactions: [],
        waiting: [],
      });
    }

    case "socket_down": {
      if (phase.kind !== "in_meeting" && phase.kind !== "joining" && phase.kind !== "waiting") return same;
      // The server drops the seat with the socket; a screen share ends with it.
      effects.push({ type: "close_peers" });
      return next({
        phase: { kind: "reconnecting", conversationId: phase.conversationId },
        roster: withoutSeat(state.roster, phase),
        local: { ...state.local, sharing: false },
        speakers: { dominant: null, speaking: [] },
      });
    }

    case "socket_online": {
      if (phase.kind !== "reconnecting") return same;
      effects.push({ type: "open_media" }, { type: "join", conversationId: phase.conversationId, ring: false });
      return next({ phase: { kind: "joining", conversationId: phase.conversationId, rejoin: true } });
    }

    case "media_failed": {
      if (phase.kind !== "in_meeting") return same;
      // Joining again replaces the seat on the server (one meeting per connection).
      effects.push({ type: "close_peers" }, { type: "join", conversationId: phase.conversationId, ring: false });
      return next({
        phase: { kind: "joining", conversationId: phase.conversationId, rejoin: true },
        roster: withoutSeat(state.roster, phase),
        local: { ...state.local, sharing: false },
      });
    }

    case "set_audio_muted":
    case "set_video_muted":
    case "set_hand_raised": {
      const local =
        action.type === "set_audio_muted"
          ? { ...state.local, audioMuted: action.muted }
          : action.type === "set_video_muted"
            ? { ...state.local, videoMuted: action.muted }
            : { ...state.local, handRaised: action.raised };
      if (
        local.audioMuted === state.local.audioMuted &&
        local.videoMuted === state.local.videoMuted &&
        local.handRaised === state.local.handRaised
      ) {
        return same;
      }
      if (phase.kind === "in_meeting") effects.push(stateEffect(local));
      return next({ local });
    }

    case "set_sharing":
      if (state.local.sharing === action.sharing) return same;
      return next({ local: { ...state.local, sharing: action.sharing } });

    case "send_reaction":
      if (phase.kind !== "in_meeting") return same;
      effects.push({ type: "send_reaction", emoji: action.emoji });
      return same;

    case "set_layout":
      return action.layout === state.layout ? same : next({ layout: action.layout, page: 0 });

    case "pin":
      return action.key === state.pinned ? same : next({ pinned: action.key, page: 0 });

    case "set_page":
      return action.page === state.page ? same : next({ page: Math.max(0, Math.floor(action.page)) });

    case "set_max_tiles": {
      const maxTiles = Math.min(49, Math.max(1, Math.floor(action.maxTiles)));
      return maxTiles === state.maxTiles ? same : next({ maxTiles, page: 0 });
    }

    case "dismiss":
      if (phase.kind !== "left") return same;
      return next({ phase: { kind: "idle" }, roster: [], waiting: [], reactions: [], speakers: { dominant: null, speaking: [] } });
  }
}

/**
 * Connection quality for the meeting's indicator: round-trip time and loss as for calls,
 * and the bandwidth the browser estimates it can send (kbit/s): under 150 the camera is
 * down to its lowest layer (poor), under 400 it cannot send its middle one (fair at best).
 */
export function meetingQualityLevel(rttMs: number | null, loss: number | null, outgoingKbps: number | null): Quality {
  const base = qualityOf(rttMs, loss);
  if (outgoingKbps === null || base === "unknown") return base;
  if (outgoingKbps < 150) return "poor";
  if (outgoingKbps < 400 && base === "good") return "fair";
  return base;
}
