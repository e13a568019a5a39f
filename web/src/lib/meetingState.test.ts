import { describe, expect, it } from "vitest";
import {
  MAX_REACTIONS,
  type MeetingAction,
  type MeetingEffect,
  type MeetingState,
  REACTION_MS,
  RINGING_MS,
  initialMeetingState,
  isInMeeting,
  meetingQualityLevel,
  reduceMeeting,
} from "./meetingState";
import { participant } from "./fixtures";
import { leftText, raisedHandsText } from "./meetingWords";

const ROOM = "0196d000-0000-7000-8000-0000000000e1";
const OTHER_ROOM = "0196d000-0000-7000-8000-0000000000e2";
const ME_SESSION = "0196d100-0000-7000-8000-000000000001";
const BOB_SESSION = "0196d100-0000-7000-8000-000000000002";
const T0 = 1_800_000_000_000;

function run(state: MeetingState, ...actions: MeetingAction[]): { state: MeetingState; effects: MeetingEffect[] } {
  const effects: MeetingEffect[] = [];
  for (const action of actions) {
    const step = reduceMeeting(state, action);
    state = step.state;
    effects.push(...step.effects);
  }
  return { state, effects };
}

const types = (effects: MeetingEffect[]) => effects.map((effect) => effect.type);

/** In the meeting as ME_SESSION, with Bob there too. */
function inMeeting(): MeetingState {
  return run(
    initialMeetingState(),
    { type: "open_lobby", conversationId: ROOM },
    { type: "join", online: true },
    { type: "joined", conversationId: ROOM, sessionId: ME_SESSION, admitted: true, host: false, now: T0 },
    { type: "roster", conversationId: ROOM, participants: [participant(ME_SESSION), participant(BOB_SESSION)] },
  ).state;
}

describe("joining", () => {
  it("goes from the lobby to the meeting, connecting and telling the others what we send", () => {
    let { state, effects } = run(initialMeetingState(), { type: "open_lobby", conversationId: ROOM });
    expect(state.phase).toEqual({ kind: "lobby", conversationId: ROOM, ring: false });
    expect(types(effects)).toEqual(["open_media"]);

    ({ state, effects } = run(state, { type: "set_audio_muted", muted: true }, { type: "set_video_muted", muted: true }));
    // Nothing to tell anyone from the lobby.
    expect(effects).toEqual([]);
    expect(state.local).toMatchObject({ audioMuted: true, videoMuted: true });

    ({ state, effects } = run(state, { type: "join", online: true }));
    expect(state.phase).toEqual({ kind: "joining", conversationId: ROOM, rejoin: false });
    expect(effects).toContainEqual({ type: "join", conversationId: ROOM, ring: false });

    ({ state, effects } = run(state, { type: "joined", conversationId: ROOM, sessionId: ME_SESSION, admitted: true, host: false, now: T0 }));
    expect(state.phase).toEqual({ kind: "in_meeting", conversationId: ROOM, sessionId: ME_SESSION, joinedAt: T0, host: false });
    // Joining with the camera and microphone off: the roster must say so at once.
    expect(effects).toEqual([
      { type: "connect", sessionId: ME_SESSION },
      { type: "send_state", audioMuted: true, videoMuted: true, handRaised: false },
    ]);
  });

  it("waits for the connection when joined offline, and joins once it is back", () => {
    let { state, effects } = run(initialMeetingState(), { type: "open_lobby", conversationId: ROOM }, { type: "join", online: false });
    expect(state.phase.kind).toBe("reconnecting");
    expect(types(effects)).not.toContain("join");
    ({ state, effects } = run(state, { type: "socket_online" }));
    expect(state.phase).toEqual({ kind: "joining", conversationId: ROOM, rejoin: true });
    expect(effects).toContainEqual({ type: "join", conversationId: ROOM, ring: false });
  });

  it("shows the server's reason when the join is refused", () => {
    const { state, effects } = run(
      initialMeetingState(),
      { type: "open_lobby", conversationId: ROOM },
      { type: "join", online: true },
      { type: "join_failed", message: "No media server is available for meetings right now. Try again shortly." },
    );
    expect(state.phase).toMatchObject({ kind: "left", byUser: false });
    expect(types(effects)).toContain("stop_media");
    if (state.phase.kind !== "left") throw new Error("not left");
    expect(leftText(state.phase)).toBe("No media server is available for meetings right now. Try again shortly.");
  });

  it("ignores a joined frame for another conversation", () => {
    const joining = run(initialMeetingState(), { type: "open_lobby", conversationId: ROOM }, { type: "join", online: true }).state;
    const { state, effects } = run(joining, { type: "joined", conversationId: OTHER_ROOM, sessionId: ME_SESSION, admitted: true, host: false, now: T0 });
    expect(state).toBe(joining);
    expect(effects).toEqual([]);
  });

  it("closing the lobby lets go of the devices", () => {
    const { state, effects } = run(initialMeetingState(), { type: "open_lobby", conversationId: ROOM }, { type: "close_lobby" });
    expect(state.phase.kind).toBe("idle");
    expect(types(effects)).toEqual(["open_media", "stop_media"]);
  });

  it("does not open a lobby while in a meeting", () => {
    const meeting = inMeeting();
    expect(run(meeting, { type: "open_lobby", conversationId: OTHER_ROOM }).state).toBe(meeting);
  });
});

describe("in the meeting", () => {
  it("follows the roster and forgets a pinned tile whose stream is gone", () => {
    let state = run(inMeeting(), { type: "pin", key: `${BOB_SESSION}~screen` }).state;
    state = run(state, {
      type: "roster",
      conversationId: ROOM,
      participants: [
        participant(ME_SESSION),
        participant(BOB_SESSION, { streams: [{ stream_id: BOB_SESSION, source: "camera" }, { stream_id: `${BOB_SESSION}~screen`, source: "screen_share" }] }),
      ],
    }).state;
    expect(state.pinned).toBe(`${BOB_SESSION}~screen`);
    state = run(state, { type: "roster", conversationId: ROOM, participants: [participant(ME_SESSION), participant(BOB_SESSION)] }).state;
    expect(state.pinned).toBeNull();
  });

  it("drops speakers who left", () => {
    let state = run(inMeeting(), { type: "speakers", conversationId: ROOM, dominant: BOB_SESSION, speaking: [BOB_SESSION, ME_SESSION] }).state;
    expect(state.speakers.dominant).toBe(BOB_SESSION);
    state = run(state, { type: "roster", conversationId: ROOM, participants: [participant(ME_SESSION)] }).state;
    expect(state.speakers).toEqual({ dominant: null, speaking: [ME_SESSION] });
  });

  it("ignores frames about another meeting", () => {
    const meeting = inMeeting();
    expect(run(meeting, { type: "roster", conversationId: OTHER_ROOM, participants: [] }).state).toBe(meeting);
    expect(run(meeting, { type: "speakers", conversationId: OTHER_ROOM, dominant: null, speaking: [] }).state).toBe(meeting);
  });

  it("sends meeting_state on mute, camera and hand changes, and only on changes", () => {
    const meeting = inMeeting();
    let { state, effects } = run(meeting, { type: "set_audio_muted", muted: true });
    expect(effects).toEqual([{ type: "send_state", audioMuted: true, videoMuted: false, handRaised: false }]);
    ({ state, effects } = run(state, { type: "set_audio_muted", muted: true }));
    expect(effects).toEqual([]);
    ({ state, effects } = run(state, { type: "set_hand_raised", raised: true }, { type: "set_video_muted", muted: true }));
    expect(effects).toEqual([
      { type: "send_state", audioMuted: true, videoMuted: false, handRaised: true },
      { type: "send_state", audioMuted: true, videoMuted: true, handRaised: true },
    ]);
    expect(state.local).toMatchObject({ audioMuted: true, videoMuted: true, handRaised: true });
  });

  it("keeps reactions for a few seconds, at most a screenful", () => {
    let state = run(inMeeting(), { type: "reaction", conversationId: ROOM, sessionId: BOB_SESSION, emoji: "👏", now: T0 }).state;
    state = run(state, { type: "reaction", conversationId: ROOM, sessionId: ME_SESSION, emoji: "🎉", now: T0 + 1_000 }).state;
    expect(state.reactions.map((r) => [r.sessionId, r.emoji])).toEqual([
      [BOB_SESSION, "👏"],
      [ME_SESSION, "🎉"],
    ]);
    expect(new Set(state.reactions.map((r) => r.id)).size).toBe(2);
    state = run(state, { type: "tick", now: T0 + REACTION_MS + 1 }).state;
    expect(state.reactions.map((r) => r.emoji)).toEqual(["🎉"]);
    const unchanged = run(state, { type: "tick", now: T0 + REACTION_MS + 2 }).state;
    expect(unchanged).toBe(state);
    for (let i = 0; i < MAX_REACTIONS + 10; i++) {
      state = run(state, { type: "reaction", conversationId: ROOM, sessionId: BOB_SESSION, emoji: "👍", now: T0 + 2_000 }).state;
    }
    expect(state.reactions).toHaveLength(MAX_REACTIONS);
  });

  it("sends a reaction only from inside the meeting (the SFU echoes it back to us)", () => {
    expect(run(inMeeting(), { type: "send_reaction", emoji: "❤️" }).effects).toEqual([{ type: "send_reaction", emoji: "❤️" }]);
    const lobby = run(initialMeetingState(), { type: "open_lobby", conversationId: ROOM }).state;
    expect(run(lobby, { type: "send_reaction", emoji: "❤️" }).effects).toEqual([]);
  });

  it("resets the page when the layout or the tile cap changes", () => {
    let state = run(inMeeting(), { type: "set_page", page: 3 }).state;
    expect(state.page).toBe(3);
    state = run(state, { type: "set_layout", layout: "speaker" }).state;
    expect(state).toMatchObject({ layout: "speaker", page: 0 });
    state = run(state, { type: "set_page", page: 2 }, { type: "set_max_tiles", maxTiles: 9 }).state;
    expect(state).toMatchObject({ maxTiles: 9, page: 0 });
    expect(run(state, { type: "set_max_tiles", maxTiles: 100 }).state.maxTiles).toBe(49);
  });
});

describe("leaving and coming back", () => {
  it("leaving tells the server and lets go of the devices", () => {
    const { state, effects } = run(inMeeting(), { type: "set_hand_raised", raised: true }, { type: "leave" });
    expect(state.phase).toEqual({ kind: "left", conversationId: ROOM, reason: "left", byUser: true });
    expect(types(effects)).toEqual(["send_state", "send_leave", "stop_media"]);
    expect(state.local.handRaised).toBe(false);
    // The server's answer to our leave changes nothing.
    const after = run(state, { type: "left", conversationId: ROOM, reason: "left" });
    expect(after.state).toBe(state);
    expect(after.effects).toEqual([]);
  });

  it("shows why when the server ends our seat, and rejoins from there", () => {
    let { state, effects } = run(inMeeting(), { type: "left", conversationId: ROOM, reason: "the media connection failed" });
    expect(state.phase).toEqual({ kind: "left", conversationId: ROOM, reason: "the media connection failed", byUser: false, byHost: false });
    expect(types(effects)).toEqual(["stop_media"]);
    if (state.phase.kind !== "left") throw new Error("not left");
    expect(leftText(state.phase)).toBe("The connection to the meeting's audio and video was lost.");
    ({ state, effects } = run(state, { type: "join", online: true }));
    expect(state.phase).toEqual({ kind: "joining", conversationId: ROOM, rejoin: false });
    expect(types(effects)).toEqual(["open_media", "join"]);
    expect(state.roster).toEqual([]);
  });

  it("after a dropped socket, keeps the stage and joins again once the socket is back", () => {
    let { state, effects } = run(inMeeting(), { type: "set_sharing", sharing: true }, { type: "socket_down" });
    expect(state.phase).toEqual({ kind: "reconnecting", conversationId: ROOM });
    expect(types(effects)).toEqual(["close_peers"]);
    // The devices stay open, the others stay on screen until the new roster; our old
    // seat is gone (we show from our own devices meanwhile).
    expect(state.roster.map((p) => p.session_id)).toEqual([BOB_SESSION]);
    expect(state.local.sharing).toBe(false);
    expect(isInMeeting(state.phase)).toBe(true);
    ({ state, effects } = run(state, { type: "socket_online" }));
    expect(state.phase).toEqual({ kind: "joining", conversationId: ROOM, rejoin: true });
    expect(types(effects)).toEqual(["open_media", "join"]);
    ({ state, effects } = run(state, { type: "joined", conversationId: ROOM, sessionId: "new-session", admitted: true, host: false, now: T0 + 5_000 }));
    expect(state.phase).toMatchObject({ kind: "in_meeting", sessionId: "new-session" });
    expect(types(effects)).toEqual(["connect", "send_state"]);
  });

  it("a late meeting_left for the seat we gave up while rejoining changes nothing", () => {
    const rejoining = run(inMeeting(), { type: "media_failed" });
    expect(types(rejoining.effects)).toEqual(["close_peers", "join"]);
    const { state } = run(rejoining.state, { type: "left", conversationId: ROOM, reason: "left" });
    expect(state).toBe(rejoining.state);
  });

  it("leaving while reconnecting sends nothing (there is no seat)", () => {
    const down = run(inMeeting(), { type: "socket_down" }).state;
    expect(types(run(down, { type: "leave" }).effects)).toEqual(["stop_media"]);
  });

  it("dismissing the left screen goes back to the chat", () => {
    const left = run(inMeeting(), { type: "leave" }).state;
    expect(run(left, { type: "dismiss" }).state.phase).toEqual({ kind: "idle" });
  });
});

describe("words", () => {
  it("says who raised a hand", () => {
    expect(raisedHandsText([])).toBeNull();
    expect(raisedHandsText(["Ada"])).toBe("Ada raised a hand");
    expect(raisedHandsText(["Ada", "Bo"])).toBe("Ada and Bo raised a hand");
    expect(raisedHandsText(["Ada", "Bo", "Cy"])).toBe("Ada, Bo and 1 other raised a hand");
    expect(raisedHandsText(["Ada", "Bo", "Cy", "Di"])).toBe("Ada, Bo and 2 others raised a hand");
  });

  it("turns the SFU's reasons into sentences", () => {
    const left = (reason: string, byUser = false) => leftText({ kind: "left", conversationId: ROOM, reason, byUser });
    expect(left("left")).toBe("You left the meeting.");
    expect(left("anything", true)).toBe("You left the meeting.");
    expect(left("the media server is shutting down")).toBe("The media server is restarting. Rejoin in a moment.");
    expect(left("negotiation failed: bad sdp")).toBe("The meeting's audio and video could not be set up.");
    expect(left("removed by the host")).toBe("Removed by the host.");
  });
});

describe("connection quality", () => {
  it("rates RTT and loss like calls, and a thin uplink lower", () => {
    expect(meetingQualityLevel(null, null, null)).toBe("unknown");
    expect(meetingQualityLevel(40, 0, 2_000)).toBe("good");
    expect(meetingQualityLevel(40, 0, null)).toBe("good");
    expect(meetingQualityLevel(40, 0, 300)).toBe("fair");
    expect(meetingQualityLevel(40, 0, 100)).toBe("poor");
    expect(meetingQualityLevel(300, 0.01, 2_000)).toBe("fair");
    expect(meetingQualityLevel(40, 0.2, 2_000)).toBe("poor");
  });
});

describe("knocking, hosts and ringing", () => {
  const joining = () => run(initialMeetingState(), { type: "open_lobby", conversationId: ROOM }, { type: "join", online: true }).state;

  it("a knocker waits without media until a host lets them in", () => {
    let { state, effects } = run(joining(), {
      type: "joined",
      conversationId: ROOM,
      sessionId: ME_SESSION,
      admitted: false,
      host: false,
      now: T0,
    });
    expect(state.phase).toEqual({ kind: "waiting", conversationId: ROOM, sessionId: ME_SESSION, host: false });
    expect(effects).toEqual([]);
    // Nothing is sent while knocking.
    expect(run(state, { type: "set_hand_raised", raised: true }).effects).toEqual([]);
    ({ state, effects } = run(state, { type: "admitted", conversationId: ROOM, now: T0 + 3_000 }));
    expect(state.phase).toEqual({ kind: "in_meeting", conversationId: ROOM, sessionId: ME_SESSION, joinedAt: T0 + 3_000, host: false });
    expect(types(effects)).toEqual(["connect", "send_state"]);
  });

  it("turned away while knocking: the left screen, without a rejoin", () => {
    const waiting = run(joining(), { type: "joined", conversationId: ROOM, sessionId: ME_SESSION, admitted: false, host: false, now: T0 }).state;
    const { state } = run(waiting, { type: "left", conversationId: ROOM, reason: "a host did not let you in", rejoin: false });
    expect(state.phase).toMatchObject({ kind: "left", byHost: true });
    if (state.phase.kind !== "left") throw new Error("not left");
    expect(leftText(state.phase)).toBe("A host did not let you in.");
  });

  it("the server asking us to join again (failover) rejoins at once, unless the driver says enough", () => {
    const meeting = inMeeting();
    let { state, effects } = run(meeting, { type: "left", conversationId: ROOM, reason: "the media connection failed", rejoin: true, retry: true });
    expect(state.phase).toEqual({ kind: "joining", conversationId: ROOM, rejoin: true });
    expect(effects).toEqual([{ type: "close_peers" }, { type: "join", conversationId: ROOM, ring: false }]);
    expect(state.roster.map((p) => p.session_id)).toEqual([BOB_SESSION]);
    ({ state, effects } = run(meeting, { type: "left", conversationId: ROOM, reason: "the media connection failed", rejoin: true, retry: false }));
    expect(state.phase).toMatchObject({ kind: "left", byHost: false });
    expect(types(effects)).toEqual(["stop_media"]);
  });

  it("a host's mute mutes the microphone and tells the others", () => {
    const { state, effects } = run(inMeeting(), { type: "muted_by_host", conversationId: ROOM });
    expect(state.local.audioMuted).toBe(true);
    expect(types(effects)).toEqual(["mute_mic", "notice", "send_state"]);
  });

  it("host actions go out only from a host", () => {
    const action = { kind: "lock" as const, locked: true };
    expect(run(inMeeting(), { type: "host", action }).effects).toEqual([]);
    const host = run(joining(), { type: "joined", conversationId: ROOM, sessionId: ME_SESSION, admitted: true, host: true, now: T0 }).state;
    expect(run(host, { type: "host", action }).effects).toEqual([{ type: "host", action }]);
  });

  it("keeps who knocks and whether the meeting is locked from the roster", () => {
    const state = run(inMeeting(), {
      type: "roster",
      conversationId: ROOM,
      participants: [participant(ME_SESSION)],
      waiting: [{ session_id: "knocker", user_id: "guest", display_name: "Guest" }],
      locked: true,
    }).state;
    expect(state.waiting.map((w) => w.display_name)).toEqual(["Guest"]);
    expect(state.locked).toBe(true);
  });

  it("a group's ringing shows until answered, dismissed or 30 s old, and never inside a meeting", () => {
    const ring = { type: "ringing" as const, conversationId: OTHER_ROOM, fromUserId: "ada", fromName: "Ada", now: T0 };
    let state = run(initialMeetingState(), ring).state;
    expect(state.ringing).toMatchObject({ conversationId: OTHER_ROOM, fromName: "Ada" });
    expect(run(state, { type: "tick", now: T0 + 10_000 }).state.ringing).not.toBeNull();
    expect(run(state, { type: "tick", now: T0 + RINGING_MS }).state.ringing).toBeNull();
    expect(run(state, { type: "dismiss_ringing" }).state.ringing).toBeNull();
    // Answering: the lobby, ringing nobody (the meeting is on already).
    state = run(state, { type: "open_lobby", conversationId: OTHER_ROOM }).state;
    expect(state.ringing).toBeNull();
    expect(state.phase).toEqual({ kind: "lobby", conversationId: OTHER_ROOM, ring: false });
    expect(run(inMeeting(), ring).state.ringing).toBeNull();
  });

  it("a group's call button rings the others when joining, a rejoin does not", () => {
    let { state, effects } = run(initialMeetingState(), { type: "open_lobby", conversationId: ROOM, ring: true }, { type: "join", online: true });
    expect(effects).toContainEqual({ type: "join", conversationId: ROOM, ring: true });
    ({ state, effects } = run(state, { type: "socket_down" }, { type: "socket_online" }));
    expect(effects).toContainEqual({ type: "join", conversationId: ROOM, ring: false });
    expect(state.phase.kind).toBe("joining");
  });
});

describe("a one-to-one call moved to a group's meeting", () => {
  it("goes straight in, no lobby, muted and with the camera off as in the call", () => {
    const { state, effects } = run(initialMeetingState(), {
      type: "join_from_call",
      conversationId: ROOM,
      audioMuted: true,
      videoMuted: true,
      online: true,
    });
    expect(state.phase).toEqual({ kind: "joining", conversationId: ROOM, rejoin: false });
    expect(state.local).toEqual({ audioMuted: true, videoMuted: true, handRaised: false, sharing: false });
    expect(effects).toEqual([{ type: "open_media" }, { type: "join", conversationId: ROOM, ring: false }]);

    // Seated: the roster hears at once that we are muted with the camera off.
    const joined = run(state, { type: "joined", conversationId: ROOM, sessionId: ME_SESSION, admitted: true, host: false, now: T0 });
    expect(joined.state.phase).toMatchObject({ kind: "in_meeting", sessionId: ME_SESSION });
    expect(joined.effects).toEqual([
      { type: "connect", sessionId: ME_SESSION },
      { type: "send_state", audioMuted: true, videoMuted: true, handRaised: false },
    ]);
  });

  it("unmuted with the camera on stays so", () => {
    const { state } = run(initialMeetingState(), {
      type: "join_from_call",
      conversationId: ROOM,
      audioMuted: false,
      videoMuted: false,
      online: true,
    });
    expect(state.local).toMatchObject({ audioMuted: false, videoMuted: false });
  });

  it("replaces an open lobby or a left screen, and drops that group's ringing", () => {
    const ringing = run(initialMeetingState(), { type: "ringing", conversationId: ROOM, fromUserId: "u", fromName: "Ann", now: T0 }).state;
    expect(ringing.ringing).not.toBeNull();
    const moved = run(ringing, { type: "join_from_call", conversationId: ROOM, audioMuted: false, videoMuted: false, online: true }).state;
    expect(moved.ringing).toBeNull();
    expect(moved.phase.kind).toBe("joining");

    const lobby = run(initialMeetingState(), { type: "open_lobby", conversationId: OTHER_ROOM }).state;
    const fromLobby = run(lobby, { type: "join_from_call", conversationId: ROOM, audioMuted: false, videoMuted: true, online: true });
    expect(fromLobby.state.phase).toEqual({ kind: "joining", conversationId: ROOM, rejoin: false });
  });

  it("offline, it waits for the socket and then joins", () => {
    const { state, effects } = run(initialMeetingState(), {
      type: "join_from_call",
      conversationId: ROOM,
      audioMuted: false,
      videoMuted: false,
      online: false,
    });
    expect(state.phase).toEqual({ kind: "reconnecting", conversationId: ROOM });
    expect(types(effects)).toEqual(["open_media"]);
    expect(run(state, { type: "socket_online" }).effects).toContainEqual({ type: "join", conversationId: ROOM, ring: false });
  });

  it("never replaces a meeting this tab is in", () => {
    const state = inMeeting();
    const step = run(state, { type: "join_from_call", conversationId: OTHER_ROOM, audioMuted: false, videoMuted: false, online: true });
    expect(step.state).toBe(state);
    expect(step.effects).toEqual([]);
  });
});
