// The calls driver: feeds `call_update` frames and the user's actions into the pure call
// reducer (callState.ts), carries out its effects (requests over the WebSocket, the media
// session of callRtc.ts), relays negotiation, rings, and keeps the call history. React reads
// it through `subscribe` + `snapshot`. Created and fed by the chat driver (client.ts).
import type { CallKindView, CallView, ClientFrame, ServerFrame } from "@proto";
import type { Api } from "./api";
import {
  type CallAction,
  type CallEffect,
  type CallUiState,
  currentCallId,
  initialCallState,
  isBusy,
  reduceCall,
} from "./callState";
import { CallSession, type RtcOptions } from "./callRtc";
import { showNotification } from "./notify";

type CallUpdateFrame = Extract<ServerFrame, { type: "call_update" }>;
type CallSignalFrame = Extract<ServerFrame, { type: "call_signal" }>;
type CallMovedFrame = Extract<ServerFrame, { type: "call_moved" }>;
type CallRequest = Extract<
  ClientFrame,
  { type: "call_invite" | "call_accept" | "call_decline" | "call_hangup" | "call_add_participant" }
>;

/** What the calls driver needs of the WebSocket. */
export interface CallTransport {
  request: (frame: CallRequest) => Promise<CallUpdateFrame>;
  fire: (frame: Extract<ClientFrame, { type: "call_signal" }>) => boolean;
  online: () => boolean;
}

export interface CallClientOptions {
  api: Api;
  selfId: string;
  transport: CallTransport;
  toast: (text: string) => void;
  nameOf: (userId: string) => string;
  ensureUsers: (ids: string[]) => void;
  /** Opens a conversation (a click on the incoming-call notification). */
  open?: (conversationId: string) => void;
  /** The call moved to this group's meeting: join it now with the call's devices. */
  moved?: (conversationId: string, media: HandedMedia) => void;
}

/** What a call hands to the meeting it moves to: its live tracks (the devices are not
 * asked for twice) and whether the microphone and camera were on. */
export interface HandedMedia {
  micOn: boolean;
  cameraOn: boolean;
  tracks: MediaStreamTrack[];
}

/** Knobs for tests (`window.__conveneCallConfig`) and `?ice=relay`. */
export interface CallConfig {
  iceTransportPolicy: RTCIceTransportPolicy;
  connectTimeoutMs: number;
  disconnectGraceMs: number;
  endScreenMs: number;
}

export interface CallSnapshot {
  call: CallUiState;
  /** The media of the current call (a mutable object: `version` says it changed). */
  session: CallSession | null;
  version: number;
  history: CallView[];
  historyLoaded: boolean;
}

declare global {
  interface Window {
    __conveneCallConfig?: Partial<CallConfig>;
    __conveneCall?: {
      readonly pc: RTCPeerConnection | null;
      readonly session: CallSession | null;
      readonly state: CallUiState;
      shareTrack: (track: MediaStreamTrack) => Promise<void>;
    };
  }
}

/** `?ice=relay` on the page the app was opened with (the address changes as one navigates). */
const RELAY_FROM_QUERY = (() => {
  try {
    return new URLSearchParams(window.location.search).get("ice") === "relay";
  } catch {
    return false;
  }
})();

/** Read at each use, so a test may set `window.__conveneCallConfig` at any time. */
export function loadCallConfig(): CallConfig {
  const config: CallConfig = {
    iceTransportPolicy: RELAY_FROM_QUERY ? "relay" : "all",
    connectTimeoutMs: 20_000,
    disconnectGraceMs: 3_000,
    endScreenMs: 4_000,
  };
  try {
    Object.assign(config, window.__conveneCallConfig ?? {});
  } catch {
    // Not in a browser.
  }
  return config;
}

export class CallClient {
  private readonly options: CallClientOptions;
  private get config(): CallConfig {
    return loadCallConfig();
  }
  private snap: CallSnapshot;
  private readonly listeners = new Set<() => void>();
  private session: CallSession | null = null;
  /** The call the session's signals belong to. */
  private sessionCallId: string | null = null;
  /** The call that was answered (its session must not hold its signals). */
  private answered: string | null = null;
  private iceServers: Promise<RTCIceServer[]> | null = null;
  private endTimer: ReturnType<typeof setTimeout> | null = null;
  private historyTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly tones = new Tones();
  private readonly cleanup: (() => void)[] = [];

  constructor(options: CallClientOptions) {
    this.options = options;
    this.snap = { call: initialCallState(options.selfId), session: null, version: 0, history: [], historyLoaded: false };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  snapshot = (): CallSnapshot => this.snap;

  get state(): CallUiState {
    return this.snap.call;
  }

  private set(patch: Partial<CallSnapshot>): void {
    this.snap = { ...this.snap, ...patch, version: this.snap.version + 1 };
    for (const listener of this.listeners) listener();
  }

  start(): void {
    const client = this;
    window.__conveneCall = {
      get pc() {
        return client.session?.pc ?? null;
      },
      get session() {
        return client.session;
      },
      get state() {
        return client.snap.call;
      },
      shareTrack: async (track) => {
        if (!client.session) throw new Error("no call");
        await client.session.shareTrack(track);
      },
    };
    // Leaving the page ends our part of the call (the other side must not wait).
    const leave = () => {
      const id = currentCallId(this.snap.call.phase);
      if (id) void this.options.transport.request({ type: "call_hangup", call_id: id }).catch(() => {});
    };
    window.addEventListener("pagehide", leave);
    this.cleanup.push(() => window.removeEventListener("pagehide", leave));
    void this.loadHistory();
  }

  stop(): void {
    for (const undo of this.cleanup.splice(0)) undo();
    this.stopMedia();
    this.tones.stop();
    if (this.endTimer) clearTimeout(this.endTimer);
    if (this.historyTimer) clearTimeout(this.historyTimer);
    this.listeners.clear();
  }

  // ---- input ----

  onReady(connectionId: string): void {
    this.dispatch({ type: "ready", connectionId });
  }

  onUpdate(frame: CallUpdateFrame): void {
    this.dispatch({ type: "update", call: frame.call });
  }

  /** Someone added a third person: the call goes on as the group's meeting. */
  onMoved(frame: CallMovedFrame): void {
    this.dispatch({ type: "moved", callId: frame.call_id, conversationId: frame.conversation_id });
  }

  onSignal(frame: CallSignalFrame): void {
    if (!this.session || frame.call_id !== this.sessionCallId) return;
    this.session.handleSignal(frame.signal);
  }

  /** Calls the other member of a direct chat. */
  call(conversationId: string, peerId: string, kind: CallKindView): void {
    if (isBusy(this.snap.call)) {
      this.options.toast("You are already in a call.");
      return;
    }
    if (!this.options.transport.online()) {
      this.options.toast("You are offline. Try again when the connection is back.");
      return;
    }
    this.tones.prime();
    this.dispatch({ type: "place", conversationId, peerId, callKind: kind });
  }

  accept(video: boolean): void {
    this.tones.prime();
    this.dispatch({ type: "accept", video });
  }

  decline(): void {
    this.dispatch({ type: "decline" });
  }

  hangup(): void {
    this.dispatch({ type: "hangup" });
  }

  dismiss(): void {
    this.dispatch({ type: "dismiss" });
  }

  /** Adds someone to the ongoing call, which moves it to a group's meeting (`call_moved`
   * follows). Resolves false, with a toast, when the server says no. */
  async addParticipant(userId: string): Promise<boolean> {
    const phase = this.snap.call.phase;
    if (phase.kind !== "in_call") {
      this.options.toast("People can be added once the call is answered.");
      return false;
    }
    try {
      const answer = await this.options.transport.request({ type: "call_add_participant", call_id: phase.call.id, user_id: userId });
      // The call's end (the move came first and left this tab idle).
      this.dispatch({ type: "update", call: answer.call });
      return true;
    } catch (error) {
      this.options.toast(addFailureText(error));
      return false;
    }
  }

  /** The session changed something on screen. */
  touch(): void {
    this.set({});
  }

  refreshHistory(): void {
    if (this.historyTimer) clearTimeout(this.historyTimer);
    this.historyTimer = setTimeout(() => {
      this.historyTimer = null;
      void this.loadHistory();
    }, 300);
  }

  // ---- the reducer and its effects ----

  private dispatch(action: CallAction): void {
    const before = this.snap.call;
    const step = reduceCall(before, action, Date.now());
    if (step.state !== before) this.set({ call: step.state });
    for (const effect of step.effects) this.run(effect);
    if (step.state.phase !== before.phase) this.afterPhase(before, step.state);
  }

  private run(effect: CallEffect): void {
    const { transport } = this.options;
    switch (effect.type) {
      case "invite":
        transport.request({ type: "call_invite", conversation_id: effect.conversationId, kind: effect.callKind }).then(
          (answer) => this.dispatch({ type: "invite_answered", call: answer.call }),
          (error: Error) => this.dispatch({ type: "invite_failed", message: error.message || "The call could not be placed." }),
        );
        return;
      case "accept":
        transport.request({ type: "call_accept", call_id: effect.callId }).then(
          (answer) => this.dispatch({ type: "update", call: answer.call }),
          (error: Error) => this.dispatch({ type: "accept_failed", message: error.message || "The call could not be answered." }),
        );
        return;
      case "decline":
        transport.request({ type: "call_decline", call_id: effect.callId }).then(
          (answer) => this.dispatch({ type: "update", call: answer.call }),
          () => {},
        );
        return;
      case "hangup":
        transport.request({ type: "call_hangup", call_id: effect.callId, ...(effect.failed ? { failed: true } : {}) }).then(
          (answer) => this.dispatch({ type: "update", call: answer.call }),
          () => {},
        );
        return;
      case "prepare_media": {
        const session = this.ensureSession();
        void session.prepare(effect.video).then(() => {
          if (session.mediaError && this.session === session) this.options.toast(session.mediaError);
        });
        this.iceServers ??= this.fetchIceServers();
        return;
      }
      case "prewarm":
        void this.connect(effect.call, "caller", effect.call.kind === "video", true);
        return;
      case "connect":
        void this.connect(effect.call, effect.role, effect.video, false);
        return;
      case "stop_media":
        this.stopMedia();
        return;
      case "refresh":
        void this.refreshCall(effect.callId);
        return;
      case "history_changed":
        this.refreshHistory();
        return;
      case "join_meeting": {
        const session = this.session;
        const media: HandedMedia = session
          ? { micOn: session.micOn, cameraOn: session.mediaState.video, tracks: session.handOver() }
          : { micOn: true, cameraOn: false, tracks: [] };
        this.options.moved?.(effect.conversationId, media);
        return;
      }
    }
  }

  private ensureSession(): CallSession {
    if (this.session) return this.session;
    const session = new CallSession({
      signal: (signal) => {
        if (this.session !== session || !this.sessionCallId) return;
        this.options.transport.fire({ type: "call_signal", call_id: this.sessionCallId, signal });
      },
      connected: () => {
        if (this.session === session) this.dispatch({ type: "media_connected", at: Date.now() });
      },
      failed: (reason) => {
        if (this.session === session) this.dispatch({ type: "media_failed", reason });
      },
      changed: () => {
        if (this.session === session) this.touch();
      },
    });
    this.session = session;
    // The signals of the call we are placing or answering belong to this session.
    const phase = this.snap.call.phase;
    this.sessionCallId = currentCallId(phase);
    this.set({ session });
    return session;
  }

  private async fetchIceServers(): Promise<RTCIceServer[]> {
    try {
      const list = await this.options.api.iceServers();
      return list.ice_servers.map((server) => ({
        urls: server.urls,
        ...(server.username !== undefined ? { username: server.username } : {}),
        ...(server.credential !== undefined ? { credential: server.credential } : {}),
      }));
    } catch {
      return [];
    }
  }

  /** Creates the peer connection; `hold`: while our call still rings (see CallSession). */
  private async connect(call: CallView, role: "caller" | "callee", video: boolean, hold: boolean): Promise<void> {
    const session = this.ensureSession();
    this.sessionCallId = call.id;
    if (!hold) this.answered = call.id;
    session.wantsVideoTransceiver = call.kind === "video";
    void session.prepare(video);
    this.iceServers ??= this.fetchIceServers();
    const iceServers = await this.iceServers;
    if (this.session !== session) return;
    if (session.pc) {
      // Prepared while ringing: now it may talk.
      if (!hold) session.release();
      return;
    }
    const options: RtcOptions = {
      iceServers,
      iceTransportPolicy: this.config.iceTransportPolicy,
      connectTimeoutMs: this.config.connectTimeoutMs,
      disconnectGraceMs: this.config.disconnectGraceMs,
    };
    try {
      // Answered while the ICE servers were on their way: no need to hold.
      session.connect(role === "callee", options, hold && this.answered !== call.id);
    } catch (error) {
      console.warn("call: could not start the connection", error);
      if (this.session === session) this.dispatch({ type: "media_failed", reason: "The call could not be started in this browser." });
    }
    this.touch();
  }

  private stopMedia(): void {
    const session = this.session;
    this.session = null;
    this.sessionCallId = null;
    // Fresh TURN credentials for the next call.
    this.iceServers = null;
    if (session) {
      if (document.pictureInPictureElement) void document.exitPictureInPicture().catch(() => {});
      session.close();
      this.set({ session: null });
    }
  }

  private async refreshCall(callId: string): Promise<void> {
    try {
      const calls = await this.options.api.calls(undefined, 20);
      const call = calls.find((c) => c.id === callId);
      if (call) this.dispatch({ type: "update", call });
    } catch {
      // The next update tells.
    }
  }

  private async loadHistory(): Promise<void> {
    try {
      const history = await this.options.api.calls(undefined, 50);
      this.options.ensureUsers(history.flatMap((c) => [c.caller_id, c.callee_id]));
      this.set({ history, historyLoaded: true });
    } catch {
      this.set({ historyLoaded: true });
    }
  }

  private afterPhase(before: CallUiState, after: CallUiState): void {
    const phase = after.phase;
    if (this.endTimer) clearTimeout(this.endTimer);
    this.endTimer = null;
    if (phase.kind === "ended") {
      this.endTimer = setTimeout(() => this.dispatch({ type: "dismiss" }), this.config.endScreenMs);
    }
    if (phase.kind === "incoming") {
      this.tones.play("ring");
      this.options.ensureUsers([phase.call.caller_id]);
      if (before.phase.kind !== "incoming" && document.visibilityState !== "visible") {
        const name = this.options.nameOf(phase.call.caller_id);
        showNotification(name, `Incoming ${phase.call.kind} call`, `call-${phase.call.id}`, () =>
          this.options.open?.(phase.call.conversation_id),
        );
      }
    } else if (phase.kind === "outgoing") {
      this.tones.play("ringback");
    } else if (phase.kind === "ended" && phase.role === "caller" && (phase.outcome === "busy" || phase.outcome === "declined")) {
      this.tones.play("busy");
    } else {
      this.tones.stop();
    }
  }
}

/** Why "Add person" did not work. The server's own sentence for `blocked` is the group's
 * ("You cannot message this user."), which reads oddly in a call. */
function addFailureText(error: unknown): string {
  const code = error instanceof Error && "code" in error ? (error as { code: unknown }).code : null;
  if (code === "blocked") return "That person can't be added to this call.";
  return error instanceof Error && error.message ? error.message : "That person could not be added.";
}

/** Ringing and ringback from WebAudio oscillators (no sound files). Browsers allow audio
 * only after a user gesture; without one the tones stay silent, the screens still show. */
class Tones {
  private context: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private current: string | null = null;

  prime(): void {
    try {
      this.context ??= new AudioContext();
      if (this.context.state === "suspended") void this.context.resume();
    } catch {
      this.context = null;
    }
  }

  play(kind: "ring" | "ringback" | "busy"): void {
    if (this.current === kind) return;
    this.stop();
    this.current = kind;
    if (kind === "ring") this.prime();
    const pattern = () => {
      if (kind === "ring") {
        this.beep(0, 0.4, [660, 880]);
        this.beep(0.5, 0.4, [660, 880]);
      } else if (kind === "ringback") {
        this.beep(0, 1.2, [440, 480]);
      } else {
        this.beep(0, 0.25, [480, 620]);
      }
    };
    pattern();
    const every = kind === "ring" ? 2_500 : kind === "ringback" ? 3_500 : 500;
    let count = 0;
    this.timer = setInterval(() => {
      if (kind === "busy" && ++count >= 3) return this.stop();
      pattern();
    }, every);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.current = null;
  }

  private beep(offset: number, length: number, frequencies: number[]): void {
    const context = this.context;
    if (!context || context.state !== "running") return;
    const start = context.currentTime + offset;
    for (const frequency of frequencies) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.06, start + 0.03);
      gain.gain.setValueAtTime(0.06, start + length - 0.05);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start);
      oscillator.stop(start + length + 0.02);
    }
  }
}
