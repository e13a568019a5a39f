// The meetings driver: feeds the server's meeting frames, the socket's status and the
// user's actions into the pure reducer (meetingState.ts), carries out its effects (frames
// over the WebSocket, the devices of meetingDevices.ts, the peer connections of
// meetingRtc.ts), presents the screen, and tells the SFU how each video is shown. React
// reads it through `subscribe` + `snapshot`. Created and fed by the chat driver (client.ts).
import type { ClientFrame, MeetingHostActionView, ServerFrame } from "@proto";
import { LocalMedia, type MeetingDeviceKind, loadMeetingConfig } from "./meetingDevices";
import { type ViewPreference, viewChanges } from "./meetingLayout";
import {
  type LayoutChoice,
  type MeetingAction,
  type MeetingEffect,
  type MeetingState,
  initialMeetingState,
  isInMeeting,
  reduceMeeting,
} from "./meetingState";
import { MeetingPeers } from "./meetingRtc";
import { beep } from "./notify";
import { installMeetingHook } from "./meetingHook";

type JoinedFrame = Extract<ServerFrame, { type: "meeting_joined" }>;
type MeetingServerFrame = Extract<
  ServerFrame,
  {
    type:
      | "meeting_roster"
      | "meeting_speakers"
      | "meeting_reaction"
      | "meeting_left"
      | "meeting_publish_answer"
      | "meeting_subscribe_offer"
      | "meeting_admitted"
      | "meeting_muted_by_host"
      | "meeting_ringing";
  }
>;
type MeetingFireFrame = Extract<
  ClientFrame,
  { type: "meeting_publish" | "meeting_subscribe_answer" | "meeting_view" | "meeting_state" | "meeting_reaction" | "meeting_leave" }
>;

/** What the meetings driver needs of the WebSocket. */
export interface MeetingTransport {
  join: (conversationId: string, ring: boolean) => Promise<JoinedFrame>;
  /** A host's action (`meeting_host`, answered by `ok`). */
  host: (action: MeetingHostActionView) => Promise<unknown>;
  fire: (frame: MeetingFireFrame) => boolean;
  online: () => boolean;
}

export interface MeetingClientOptions {
  transport: MeetingTransport;
  toast: (text: string) => void;
  /** This tab is in a one-to-one call (a meeting must wait). */
  inCall: () => boolean;
  /** A group's meeting rings this tab (for a notification while the tab is hidden). */
  onRinging?: (conversationId: string, fromName: string) => void;
}

export interface MeetingSnapshot {
  state: MeetingState;
  local: LocalMedia;
  /** The seat's peer connections (mutable: `version` says they changed). */
  peers: MeetingPeers | null;
  /** What we present, for our own tile. */
  screen: MediaStreamTrack | null;
  version: number;
}

/** More failed seats in a row than this and we stop trying and say so. */
const MAX_MEDIA_RETRIES = 2;
/** The server may ask us to join again (its media server went away) this often a minute. */
const MAX_SERVER_REJOINS = 3;

export class MeetingClient {
  private readonly options: MeetingClientOptions;
  private snap: MeetingSnapshot;
  private readonly listeners = new Set<() => void>();
  private readonly local = new LocalMedia();
  private peers: MeetingPeers | null = null;
  private screen: MediaStreamTrack | null = null;
  /** The `meeting_view` preferences the SFU has for this seat. */
  private sentViews = new Map<string, ViewPreference>();
  /** Numbers join requests, so the answer of an abandoned one can be told apart. */
  private joinAttempt = 0;
  private mediaFailures = 0;
  /** When the server last asked us to join again (a failover), for its limit. */
  private serverRejoins: number[] = [];
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  private readonly cleanup: (() => void)[] = [];

  constructor(options: MeetingClientOptions) {
    this.options = options;
    this.snap = { state: initialMeetingState(), local: this.local, peers: null, screen: null, version: 0 };
    this.cleanup.push(
      this.local.onChange(() => this.touch()),
      this.local.onTracks(() => void this.peers?.syncTracks().catch(() => {})),
    );
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  snapshot = (): MeetingSnapshot => this.snap;

  get state(): MeetingState {
    return this.snap.state;
  }

  private set(patch: Partial<MeetingSnapshot>): void {
    this.snap = { ...this.snap, ...patch, version: this.snap.version + 1 };
    for (const listener of this.listeners) listener();
  }

  /** Something mutable (devices, peer connections) changed. */
  private touch(): void {
    this.set({});
  }

  start(): void {
    installMeetingHook(this);
  }

  /** For the test hook: the seat's connections, the devices, the views sent. */
  get peerConnections(): MeetingPeers | null {
    return this.peers;
  }

  get devices(): LocalMedia {
    return this.local;
  }

  get viewsSent(): ReadonlyMap<string, ViewPreference> {
    return this.sentViews;
  }

  stop(): void {
    for (const undo of this.cleanup.splice(0)) undo();
    this.closePeers();
    this.local.close();
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.listeners.clear();
  }

  // ---- input from the socket ----

  onFrame(frame: MeetingServerFrame): void {
    switch (frame.type) {
      case "meeting_roster":
        this.dispatch({
          type: "roster",
          conversationId: frame.conversation_id,
          participants: frame.participants,
          waiting: frame.waiting,
          locked: frame.locked,
        });
        return;
      case "meeting_admitted":
        this.dispatch({ type: "admitted", conversationId: frame.conversation_id, now: Date.now() });
        return;
      case "meeting_muted_by_host":
        this.dispatch({ type: "muted_by_host", conversationId: frame.conversation_id });
        return;
      case "meeting_ringing":
        this.dispatch({
          type: "ringing",
          conversationId: frame.conversation_id,
          fromUserId: frame.from_user_id,
          fromName: frame.from_display_name,
          now: Date.now(),
        });
        if (this.state.ringing?.conversationId === frame.conversation_id) {
          beep();
          this.options.onRinging?.(frame.conversation_id, frame.from_display_name);
        }
        return;
      case "meeting_speakers":
        this.dispatch({ type: "speakers", conversationId: frame.conversation_id, dominant: frame.dominant, speaking: frame.speaking });
        return;
      case "meeting_reaction":
        this.dispatch({ type: "reaction", conversationId: frame.conversation_id, sessionId: frame.session_id, emoji: frame.emoji, now: Date.now() });
        return;
      case "meeting_left": {
        const now = Date.now();
        this.serverRejoins = this.serverRejoins.filter((at) => now - at < 60_000);
        const retry = frame.rejoin && this.serverRejoins.length < MAX_SERVER_REJOINS;
        if (retry) this.serverRejoins.push(now);
        this.dispatch({ type: "left", conversationId: frame.conversation_id, reason: frame.reason, rejoin: frame.rejoin, retry });
        return;
      }
      case "meeting_publish_answer":
        this.peers?.onPublishAnswer(frame.sdp);
        return;
      case "meeting_subscribe_offer":
        this.peers?.onSubscribeOffer(frame.sdp);
        return;
    }
  }

  /** The socket's status: the server drops our seat when the socket goes. */
  onStatus(status: "connecting" | "online" | "reconnecting" | "stopped"): void {
    if (status === "online") this.dispatch({ type: "socket_online" });
    else this.dispatch({ type: "socket_down" });
  }

  // ---- the user's actions ----

  /** The lobby of a meeting; `ring`: from a group's call button (joining rings the others). */
  openLobby(conversationId: string, ring = false): void {
    if (isInMeeting(this.state.phase)) {
      this.options.toast("You are already in a meeting.");
      return;
    }
    if (this.options.inCall()) {
      this.options.toast("Hang up the call first.");
      return;
    }
    this.mediaFailures = 0;
    this.dispatch({ type: "open_lobby", conversationId, ring });
  }

  closeLobby(): void {
    this.dispatch({ type: "close_lobby" });
  }

  join(): void {
    this.local.wake();
    this.mediaFailures = 0;
    this.dispatch({ type: "set_audio_muted", muted: !this.local.micOn });
    this.dispatch({ type: "set_video_muted", muted: !this.local.cameraOn });
    this.dispatch({ type: "join", online: this.options.transport.online() });
  }

  /**
   * A one-to-one call moved to this group's meeting: join it at once (no lobby) with the
   * call's microphone and camera, muted or off as they were.
   */
  joinFromCall(conversationId: string, media: { micOn: boolean; cameraOn: boolean; tracks: MediaStreamTrack[] }): void {
    if (isInMeeting(this.state.phase)) {
      for (const track of media.tracks) track.stop();
      this.options.toast("You are already in a meeting.");
      return;
    }
    this.mediaFailures = 0;
    this.local.takeOver(media.tracks, media.micOn, media.cameraOn);
    this.dispatch({
      type: "join_from_call",
      conversationId,
      audioMuted: !media.micOn,
      videoMuted: !media.cameraOn,
      online: this.options.transport.online(),
    });
  }

  leave(): void {
    this.dispatch({ type: "leave" });
  }

  dismissRinging(): void {
    this.dispatch({ type: "dismiss_ringing" });
  }

  /** A host's action: admit or turn away a knocker, mute or remove someone, lock, end. */
  host(action: MeetingHostActionView): void {
    this.dispatch({ type: "host", action });
  }

  dismiss(): void {
    this.dispatch({ type: "dismiss" });
  }

  toggleMic(): void {
    this.local.setMicOn(!this.local.micOn);
    this.dispatch({ type: "set_audio_muted", muted: !this.local.micOn });
  }

  async toggleCamera(): Promise<void> {
    try {
      await this.local.setCameraOn(!this.local.cameraOn);
    } catch (error) {
      this.options.toast(error instanceof Error ? error.message : "The camera could not be opened.");
    }
    this.dispatch({ type: "set_video_muted", muted: !this.local.cameraOn });
  }

  setHandRaised(raised: boolean): void {
    this.dispatch({ type: "set_hand_raised", raised });
  }

  react(emoji: string): void {
    this.dispatch({ type: "send_reaction", emoji });
  }

  setLayout(layout: LayoutChoice): void {
    this.dispatch({ type: "set_layout", layout });
  }

  pin(key: string | null): void {
    this.dispatch({ type: "pin", key });
  }

  setPage(page: number): void {
    this.dispatch({ type: "set_page", page });
  }

  setMaxTiles(maxTiles: number): void {
    this.dispatch({ type: "set_max_tiles", maxTiles });
  }

  async switchDevice(kind: MeetingDeviceKind, deviceId: string): Promise<void> {
    try {
      await this.local.switchDevice(kind, deviceId);
    } catch {
      this.options.toast("That device could not be used.");
    }
  }

  /** Asks the browser which screen to present, then presents it. */
  async shareScreen(): Promise<void> {
    const md = navigator.mediaDevices;
    if (!md?.getDisplayMedia) {
      this.options.toast("This browser cannot share the screen.");
      return;
    }
    let stream: MediaStream;
    try {
      stream = await md.getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      if (!(error instanceof DOMException && error.name === "NotAllowedError")) {
        this.options.toast("The screen could not be shared.");
      }
      return;
    }
    const track = stream.getVideoTracks()[0];
    if (track) await this.shareTrack(track);
  }

  async shareTrack(track: MediaStreamTrack): Promise<void> {
    const peers = this.peers;
    if (!peers || this.state.phase.kind !== "in_meeting") {
      track.stop();
      throw new Error("Join the meeting first.");
    }
    const previous = this.screen;
    this.screen = track;
    // The browser's own "Stop sharing" ends the track.
    track.addEventListener("ended", () => {
      if (this.screen === track) void this.stopSharing();
    });
    this.dispatch({ type: "set_sharing", sharing: true });
    this.set({ screen: track });
    if (previous && previous !== track) previous.stop();
    await peers.shareTrack(track);
  }

  async stopSharing(): Promise<void> {
    const track = this.screen;
    this.screen = null;
    track?.stop();
    this.dispatch({ type: "set_sharing", sharing: false });
    this.set({ screen: null });
    await this.peers?.stopSharing();
  }

  /** The stage's layout decided how each video is shown: tell the SFU what changed. */
  setViews(wanted: ReadonlyMap<string, ViewPreference>): void {
    if (this.state.phase.kind !== "in_meeting" || !this.peers) return;
    for (const change of viewChanges(this.sentViews, wanted)) {
      const sent = this.options.transport.fire({
        type: "meeting_view",
        stream_id: change.streamId,
        visible: change.visible,
        max_layer: change.maxLayer,
      });
      if (sent) this.sentViews.set(change.streamId, { visible: change.visible, maxLayer: change.maxLayer });
    }
    // Streams that left the roster need no word.
    for (const streamId of [...this.sentViews.keys()]) if (!wanted.has(streamId)) this.sentViews.delete(streamId);
  }

  // ---- the reducer and its effects ----

  private dispatch(action: MeetingAction): void {
    const before = this.snap.state;
    const step = reduceMeeting(before, action);
    this.local.reportLevel = step.state.phase.kind === "lobby";
    if (step.state !== before) this.set({ state: step.state });
    for (const effect of step.effects) this.run(effect);
    this.armTick();
  }

  private run(effect: MeetingEffect): void {
    const { transport } = this.options;
    switch (effect.type) {
      case "open_media":
        void this.local.open().then(() => {
          if (this.local.error) this.options.toast(this.local.error);
          // The camera may have turned out to be unavailable.
          this.dispatch({ type: "set_video_muted", muted: !this.local.cameraOn });
        });
        return;
      case "join": {
        const attempt = ++this.joinAttempt;
        transport.join(effect.conversationId, effect.ring).then(
          (frame) => this.onJoined(attempt, frame),
          (error: Error) => {
            if (attempt !== this.joinAttempt) return;
            // A join lost with the socket is tried again once it is back.
            if (!transport.online()) return;
            this.dispatch({ type: "join_failed", message: error.message || "The meeting could not be joined." });
          },
        );
        return;
      }
      case "connect":
        this.connect();
        return;
      case "send_state":
        transport.fire({ type: "meeting_state", audio_muted: effect.audioMuted, video_muted: effect.videoMuted, hand_raised: effect.handRaised });
        return;
      case "send_reaction":
        transport.fire({ type: "meeting_reaction", emoji: effect.emoji });
        return;
      case "send_leave":
        transport.fire({ type: "meeting_leave" });
        return;
      case "host":
        transport.host(effect.action).catch((error: Error) => this.options.toast(error.message || "That did not work."));
        return;
      case "mute_mic":
        this.local.setMicOn(false);
        return;
      case "notice":
        this.options.toast(effect.text);
        return;
      case "close_peers":
        this.closePeers();
        return;
      case "stop_media":
        this.closePeers();
        this.local.close();
        return;
    }
  }

  private onJoined(attempt: number, frame: JoinedFrame): void {
    // A newer join is on its way and will take this seat's place on the server.
    if (attempt !== this.joinAttempt) return;
    this.dispatch({
      type: "joined",
      conversationId: frame.conversation_id,
      sessionId: frame.session_id,
      admitted: frame.admitted,
      host: frame.host,
      now: Date.now(),
    });
    const phase = this.state.phase;
    if ((phase.kind !== "in_meeting" && phase.kind !== "waiting") || phase.sessionId !== frame.session_id) {
      // Left (or closed the meeting) while the join was on its way: give the seat back.
      this.options.transport.fire({ type: "meeting_leave" });
    }
  }

  private connect(): void {
    this.closePeers();
    this.sentViews = new Map();
    const config = loadMeetingConfig();
    const { transport } = this.options;
    const peers: MeetingPeers = new MeetingPeers(
      this.local,
      {
        publish: (sdp, sources) => this.peers === peers && transport.fire({ type: "meeting_publish", sdp, sources }),
        answer: (sdp) => this.peers === peers && transport.fire({ type: "meeting_subscribe_answer", sdp }),
        changed: () => {
          if (this.peers === peers) this.touch();
        },
        connected: () => {
          if (this.peers === peers) this.mediaFailures = 0;
        },
        failed: (reason) => {
          if (this.peers !== peers) return;
          this.onMediaFailed(reason);
        },
      },
      config,
    );
    this.peers = peers;
    try {
      peers.start();
    } catch (error) {
      console.warn("meeting: could not start the media", error);
      this.onMediaFailed("negotiation failed");
      return;
    }
    this.set({ peers });
  }

  private onMediaFailed(reason: string): void {
    const phase = this.state.phase;
    if (phase.kind !== "in_meeting") return;
    this.mediaFailures++;
    if (this.mediaFailures <= MAX_MEDIA_RETRIES) {
      console.warn(`meeting: ${reason}; taking a fresh seat`);
      this.dispatch({ type: "media_failed" });
      return;
    }
    this.options.transport.fire({ type: "meeting_leave" });
    this.dispatch({ type: "left", conversationId: phase.conversationId, reason: "the media connection failed" });
  }

  private closePeers(): void {
    const peers = this.peers;
    this.peers = null;
    const screen = this.screen;
    this.screen = null;
    screen?.stop();
    if (peers) peers.close();
    if (peers || screen) this.set({ peers: null, screen: null });
  }

  /** Reactions fade by the clock. */
  private armTick(): void {
    const needed = this.snap.state.reactions.length > 0 || this.snap.state.ringing !== null;
    if (needed && !this.tickTimer) {
      this.tickTimer = setInterval(() => this.dispatch({ type: "tick", now: Date.now() }), 500);
    } else if (!needed && this.tickTimer) {
      clearInterval(this.tickTimer);
      this.tickTimer = null;
    }
  }
}
