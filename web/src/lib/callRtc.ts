// The WebRTC side of a call: camera and microphone, one RTCPeerConnection with "perfect
// negotiation" (the caller is impolite, the callee polite), trickle ICE over the call's
// signalling, ICE restarts when the network changes, a deadline for connecting, device
// switching, screen sharing (replaceTrack, or addTrack and renegotiation when there is no
// video yet), and connection quality from getStats. Knows nothing about React or the
// call's server state (callState.ts); the driver is callClient.ts.
import type { CallSignalView } from "@proto";
import { type MediaState, type Quality, qualityOf } from "./callState";

export interface RtcOptions {
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
  /** Give up when the media has not connected by then. */
  connectTimeoutMs: number;
  /** How long "disconnected" may last before an ICE restart. */
  disconnectGraceMs: number;
}

export interface SessionEvents {
  /** A negotiation message for the other side. */
  signal: (signal: CallSignalView) => void;
  /** The media connected (the first time, and after every recovery). */
  connected: () => void;
  /** Nothing works: the call cannot go on. */
  failed: (reason: string) => void;
  /** Something the screen shows changed (tracks, media state, quality). */
  changed: () => void;
}

export interface QualityReport {
  level: Quality;
  rttMs: number | null;
  /** 0–1 over the last interval. */
  loss: number | null;
  /** Received kbit/s over the last interval. */
  kbps: number | null;
  /** The local candidate type of the selected pair: host, srflx, relay. */
  localCandidateType: string | null;
}

export type DeviceKind = "audioinput" | "videoinput" | "audiooutput";

interface Chosen {
  audioinput: string | null;
  videoinput: string | null;
  audiooutput: string | null;
}

const EMPTY_QUALITY: QualityReport = { level: "unknown", rttMs: null, loss: null, kbps: null, localCandidateType: null };

export class CallSession {
  pc: RTCPeerConnection | null = null;
  /** What we send, for the local preview: microphone plus camera or screen. */
  readonly localStream = new MediaStream();
  /** What the other side sends. */
  readonly remoteStream = new MediaStream();
  micOn = true;
  cameraOn = false;
  sharing = false;
  remoteMedia: MediaState | null = null;
  quality: QualityReport = EMPTY_QUALITY;
  readonly chosen: Chosen = { audioinput: null, videoinput: null, audiooutput: null };
  /** Set when the media could not be had (no microphone, permission refused). */
  mediaError: string | null = null;

  private mic: MediaStreamTrack | null = null;
  private camera: MediaStreamTrack | null = null;
  private screen: MediaStreamTrack | null = null;
  private readonly events: SessionEvents;
  private prepared: Promise<void> | null = null;
  /** The devices were asked for (and given, or refused). */
  private mediaReady = false;
  private holding = false;
  private readonly held: CallSignalView[] = [];
  private polite = false;
  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswer = false;
  private attachedRemote = false;
  private readonly pendingCandidates: RTCIceCandidateInit[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readyResolve: (() => void) | null = null;
  private readonly ready: Promise<void>;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private disconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private lastStats: { at: number; bytes: number; lost: number; received: number } | null = null;
  private options: RtcOptions | null = null;
  private everConnected = false;
  private closed = false;
  private lastSentState = "";

  constructor(events: SessionEvents) {
    this.events = events;
    this.ready = new Promise((resolve) => {
      this.readyResolve = resolve;
    });
  }

  // ---- local media ----

  /** Opens the microphone (and the camera when `video`). Safe to call more than once. */
  prepare(video: boolean): Promise<void> {
    this.prepared ??= this.openMedia(video);
    return this.prepared;
  }

  private async openMedia(video: boolean): Promise<void> {
    const md = navigator.mediaDevices;
    if (!md?.getUserMedia) {
      this.mediaError = "This browser cannot make calls here (camera and microphone need https).";
      return;
    }
    try {
      const stream = await md.getUserMedia({ audio: true, video: video ? { width: { ideal: 1280 }, height: { ideal: 720 } } : false });
      if (this.closed) {
        for (const track of stream.getTracks()) track.stop();
        return;
      }
      this.mic = stream.getAudioTracks()[0] ?? null;
      this.camera = stream.getVideoTracks()[0] ?? null;
    } catch (error) {
      if (video) {
        // No camera (or it is busy): carry on with the microphone alone.
        try {
          const stream = await md.getUserMedia({ audio: true });
          this.mic = stream.getAudioTracks()[0] ?? null;
        } catch (inner) {
          this.mediaError = describeMediaError(inner);
        }
      } else {
        this.mediaError = describeMediaError(error);
      }
    }
    if (this.closed) {
      this.mic?.stop();
      this.camera?.stop();
      return;
    }
    this.cameraOn = Boolean(this.camera);
    this.chosen.audioinput = this.mic?.getSettings().deviceId ?? null;
    this.chosen.videoinput = this.camera?.getSettings().deviceId ?? null;
    this.mediaReady = true;
    this.rebuildLocal();
    if (this.pc) {
      // The connection went ahead without waiting for the devices: send them now.
      await this.applyTracks();
      this.sendMediaState(true);
    }
    this.events.changed();
  }

  /** Puts the microphone and the camera (or screen) on the senders that exist. */
  private async applyTracks(): Promise<void> {
    const audio = this.senderOf("audio");
    if (audio && audio.track !== this.mic) await audio.replaceTrack(this.mic);
    await this.applyVideo();
  }

  private rebuildLocal(): void {
    for (const track of this.localStream.getTracks()) this.localStream.removeTrack(track);
    if (this.mic) this.localStream.addTrack(this.mic);
    const video = this.screen ?? (this.cameraOn ? this.camera : null);
    if (video) this.localStream.addTrack(video);
  }

  /** The track that goes out on the video sender: the screen while sharing, else the camera. */
  private outgoingVideo(): MediaStreamTrack | null {
    return this.screen ?? (this.cameraOn ? this.camera : null);
  }

  // ---- the peer connection ----

  /**
   * Creates the peer connection without waiting for the camera (its tracks follow by
   * replaceTrack). The caller offers at once; the callee answers the offer. `hold`: keep
   * our signals (offer, candidates) until `release()`: the caller gets ready while the
   * call still rings, and the server relays only once it is answered.
   */
  connect(polite: boolean, options: RtcOptions, hold = false): void {
    if (this.pc || this.closed) return;
    this.polite = polite;
    this.options = options;
    this.holding = hold;
    const pc = new RTCPeerConnection({
      iceServers: options.iceServers,
      iceTransportPolicy: options.iceTransportPolicy,
      bundlePolicy: "max-bundle",
    });
    this.pc = pc;
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate || !candidate.candidate) return;
      this.emit({
        kind: "candidate",
        candidate: candidate.candidate,
        sdp_mid: candidate.sdpMid,
        sdp_m_line_index: candidate.sdpMLineIndex,
        username_fragment: candidate.usernameFragment,
      });
    };
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        if (pc.localDescription) this.sendDescription(pc.localDescription);
      } catch (error) {
        console.warn("call: making an offer failed", error);
      } finally {
        this.makingOffer = false;
      }
    };
    pc.ontrack = ({ track }) => {
      if (!this.remoteStream.getTracks().includes(track)) this.remoteStream.addTrack(track);
      track.onunmute = () => this.events.changed();
      track.onended = () => {
        this.remoteStream.removeTrack(track);
        this.events.changed();
      };
      this.events.changed();
    };
    pc.oniceconnectionstatechange = () => this.onIceState();
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") this.onConnected();
      if (pc.connectionState === "failed") this.restartIce();
    };
    if (!hold) this.armConnectTimer();

    if (!polite) {
      // The caller offers: sendrecv audio and, for video calls, video (negotiationneeded).
      const streams = [this.localStream];
      pc.addTransceiver(this.mic ?? "audio", { direction: "sendrecv", streams });
      const video = this.outgoingVideo();
      if (video) pc.addTransceiver(video, { direction: "sendrecv", streams });
      else if (this.wantsVideoTransceiver) pc.addTransceiver("video", { direction: "sendrecv", streams });
    }
    this.startStats();
    this.readyResolve?.();
    if (this.mediaReady) this.sendMediaState(true);
  }

  /** The call was answered: out go the held signals, and the clock for connecting starts. */
  release(): void {
    if (!this.holding) return;
    this.holding = false;
    for (const signal of this.held.splice(0)) this.events.signal(signal);
    this.armConnectTimer();
  }

  private armConnectTimer(): void {
    if (this.connectTimer || this.everConnected) return;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (!this.everConnected) this.fail("Couldn't connect the call. Check your network and try again.");
    }, this.options?.connectTimeoutMs ?? 20_000);
  }

  /** Every signal we send goes through here (held while `holding`). */
  private emit(signal: CallSignalView): void {
    if (this.holding) this.held.push(signal);
    else this.events.signal(signal);
  }

  /** Video calls always negotiate video, even when the camera is off at the start. */
  wantsVideoTransceiver = false;

  /** A negotiation message from the other side; handled strictly in order. */
  handleSignal(signal: CallSignalView): void {
    if (signal.kind === "media_state") {
      this.remoteMedia = { audio: signal.audio, video: signal.video, screen: signal.screen };
      this.events.changed();
      return;
    }
    this.queue = this.queue
      .then(() => this.ready)
      .then(() => this.process(signal))
      .catch((error: unknown) => console.warn("call: signalling failed", error));
  }

  private async process(signal: CallSignalView): Promise<void> {
    const pc = this.pc;
    if (!pc || this.closed) return;
    if (signal.kind === "description") {
      const description = { type: signal.sdp_type as RTCSdpType, sdp: signal.sdp };
      const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswer);
      const collision = description.type === "offer" && !readyForOffer;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      this.settingRemoteAnswer = description.type === "answer";
      await pc.setRemoteDescription(description);
      this.settingRemoteAnswer = false;
      for (const candidate of this.pendingCandidates.splice(0)) {
        await pc.addIceCandidate(candidate).catch(() => {});
      }
      if (description.type === "offer") {
        await this.attachToRemoteOffer(pc);
        await pc.setLocalDescription();
        if (pc.localDescription) this.sendDescription(pc.localDescription);
      }
      return;
    }
    if (signal.kind === "candidate") {
      const candidate: RTCIceCandidateInit = {
        candidate: signal.candidate,
        sdpMid: signal.sdp_mid,
        sdpMLineIndex: signal.sdp_m_line_index,
        usernameFragment: signal.username_fragment,
      };
      if (!pc.remoteDescription) {
        this.pendingCandidates.push(candidate);
        return;
      }
      try {
        await pc.addIceCandidate(candidate);
      } catch (error) {
        if (!this.ignoreOffer) console.warn("call: a candidate was refused", error);
      }
    }
  }

  /** The callee's first answer: our microphone and camera go on the transceivers the
   * caller's offer created (no second round of negotiation). */
  private async attachToRemoteOffer(pc: RTCPeerConnection): Promise<void> {
    if (this.attachedRemote) return;
    this.attachedRemote = true;
    let audioDone = false;
    let videoDone = false;
    for (const transceiver of pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind;
      if (transceiver.currentDirection === "stopped") continue;
      if (kind === "audio" && !audioDone) {
        audioDone = true;
        if (this.mic) await transceiver.sender.replaceTrack(this.mic);
        transceiver.direction = "sendrecv";
        transceiver.sender.setStreams?.(this.localStream);
      } else if (kind === "video" && !videoDone) {
        videoDone = true;
        await transceiver.sender.replaceTrack(this.outgoingVideo());
        transceiver.direction = "sendrecv";
        transceiver.sender.setStreams?.(this.localStream);
      }
    }
  }

  private sendDescription(description: RTCSessionDescription): void {
    this.emit({ kind: "description", sdp_type: description.type, sdp: description.sdp });
  }

  private onIceState(): void {
    const pc = this.pc;
    if (!pc) return;
    const state = pc.iceConnectionState;
    if (state === "connected" || state === "completed") {
      this.onConnected();
      return;
    }
    if (state === "failed") {
      this.restartIce();
      this.armReconnectDeadline();
      return;
    }
    if (state === "disconnected") {
      // Often a blip; restart only if it lasts.
      if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
      this.disconnectTimer = setTimeout(() => {
        this.disconnectTimer = null;
        if (this.pc?.iceConnectionState === "disconnected" || this.pc?.iceConnectionState === "failed") this.restartIce();
      }, this.options?.disconnectGraceMs ?? 3_000);
      this.armReconnectDeadline();
    }
  }

  private onConnected(): void {
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    this.disconnectTimer = null;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.everConnected = true;
    this.events.connected();
    this.events.changed();
  }

  /** After a connection was lost: the same deadline to get it back. */
  private armReconnectDeadline(): void {
    if (!this.everConnected || this.connectTimer) return;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      const state = this.pc?.iceConnectionState;
      if (state !== "connected" && state !== "completed") this.fail("The connection was lost.");
    }, this.options?.connectTimeoutMs ?? 20_000);
  }

  /** A fresh ICE negotiation (new credentials, new candidates): negotiationneeded follows. */
  restartIce(): void {
    const pc = this.pc;
    if (!pc || this.closed || pc.signalingState === "closed") return;
    pc.restartIce();
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.events.failed(reason);
  }

  // ---- what we send ----

  setMicOn(on: boolean): void {
    this.micOn = on;
    if (this.mic) this.mic.enabled = on;
    this.afterLocalChange();
  }

  async setCameraOn(on: boolean): Promise<void> {
    if (on === this.cameraOn) return;
    if (on) {
      if (!this.camera || this.camera.readyState === "ended") {
        try {
          const stream = await navigator.mediaDevices.getUserMedia({ video: this.videoConstraints(this.chosen.videoinput) });
          this.camera = stream.getVideoTracks()[0] ?? null;
        } catch (error) {
          throw new Error(describeMediaError(error));
        }
      }
      this.cameraOn = Boolean(this.camera);
    } else {
      this.cameraOn = false;
      // Let go of the camera (its light goes out); a new one is opened to turn it back on.
      this.camera?.stop();
      this.camera = null;
    }
    await this.applyVideo();
  }

  async switchDevice(kind: DeviceKind, deviceId: string, sinks: HTMLMediaElement[]): Promise<void> {
    if (kind === "audiooutput") {
      for (const element of sinks) {
        const withSink = element as HTMLMediaElement & { setSinkId?: (id: string) => Promise<void> };
        if (withSink.setSinkId) await withSink.setSinkId(deviceId);
      }
      this.chosen.audiooutput = deviceId;
      this.events.changed();
      return;
    }
    if (kind === "audioinput") {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: deviceId } } });
      const track = stream.getAudioTracks()[0];
      if (!track) return;
      track.enabled = this.micOn;
      const old = this.mic;
      this.mic = track;
      const sender = this.senderOf("audio");
      if (sender) await sender.replaceTrack(track);
      old?.stop();
      this.chosen.audioinput = deviceId;
      this.rebuildLocal();
      this.events.changed();
      return;
    }
    const stream = await navigator.mediaDevices.getUserMedia({ video: this.videoConstraints(deviceId) });
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    const old = this.camera;
    this.camera = track;
    this.cameraOn = true;
    this.chosen.videoinput = deviceId;
    await this.applyVideo();
    old?.stop();
  }

  private videoConstraints(deviceId: string | null): MediaTrackConstraints {
    return {
      width: { ideal: 1280 },
      height: { ideal: 720 },
      ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    };
  }

  /** Shares the screen (the browser asks which); stops by itself when the user ends it. */
  async shareScreen(): Promise<void> {
    const md = navigator.mediaDevices;
    if (!md?.getDisplayMedia) throw new Error("This browser cannot share the screen.");
    const stream = await md.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    await this.shareTrack(track);
  }

  /** Sends `track` in place of the camera (also the test hook for a canvas track). */
  async shareTrack(track: MediaStreamTrack): Promise<void> {
    this.screen?.stop();
    this.screen = track;
    this.sharing = true;
    track.addEventListener("ended", () => {
      if (this.screen === track) void this.stopSharing();
    });
    await this.applyVideo();
  }

  async stopSharing(): Promise<void> {
    const track = this.screen;
    this.screen = null;
    this.sharing = false;
    track?.stop();
    await this.applyVideo();
  }

  /** Puts the outgoing video track on the video sender: replaceTrack when there is one,
   * else a new sendrecv transceiver (negotiationneeded renegotiates). */
  private async applyVideo(): Promise<void> {
    const track = this.outgoingVideo();
    this.rebuildLocal();
    const pc = this.pc;
    if (pc && pc.signalingState !== "closed") {
      const transceiver = pc
        .getTransceivers()
        .find((t) => t.currentDirection !== "stopped" && (t.sender.track?.kind ?? t.receiver.track.kind) === "video");
      if (transceiver) {
        if (track && transceiver.direction !== "sendrecv" && transceiver.direction !== "sendonly") {
          transceiver.direction = "sendrecv";
        }
        await transceiver.sender.replaceTrack(track);
        transceiver.sender.setStreams?.(this.localStream);
      } else if (track && (!this.polite || this.attachedRemote)) {
        // (The callee waits for the caller's offer, whose video line it then uses.)
        pc.addTransceiver(track, { direction: "sendrecv", streams: [this.localStream] });
      }
    }
    this.afterLocalChange();
  }

  private senderOf(kind: "audio" | "video"): RTCRtpSender | null {
    const pc = this.pc;
    if (!pc) return null;
    const transceiver = pc
      .getTransceivers()
      .find((t) => t.currentDirection !== "stopped" && (t.sender.track?.kind ?? t.receiver.track.kind) === kind);
    return transceiver?.sender ?? null;
  }

  private afterLocalChange(): void {
    this.sendMediaState(false);
    this.events.changed();
  }

  get mediaState(): MediaState {
    return { audio: this.micOn && Boolean(this.mic), video: this.cameraOn && Boolean(this.camera), screen: this.sharing };
  }

  /** Tells the other side what we send (after a change, and once at the start). */
  sendMediaState(force: boolean): void {
    if (!this.pc || !this.mediaReady) return;
    const state = this.mediaState;
    const key = JSON.stringify(state);
    if (!force && key === this.lastSentState) return;
    this.lastSentState = key;
    this.emit({ kind: "media_state", ...state });
  }

  // ---- quality ----

  private startStats(): void {
    this.statsTimer = setInterval(() => void this.sample(), 1_000);
  }

  private async sample(): Promise<void> {
    const pc = this.pc;
    if (!pc || this.closed) return;
    let report: RTCStatsReport;
    try {
      report = await pc.getStats();
    } catch {
      return;
    }
    let pairId: string | null = null;
    let bytes = 0;
    let lost = 0;
    let received = 0;
    const byId = new Map<string, Record<string, unknown>>();
    report.forEach((value: Record<string, unknown>) => {
      byId.set(value.id as string, value);
      if (value.type === "transport" && typeof value.selectedCandidatePairId === "string") pairId = value.selectedCandidatePairId;
      if (value.type === "inbound-rtp") {
        bytes += Number(value.bytesReceived ?? 0);
        lost += Number(value.packetsLost ?? 0);
        received += Number(value.packetsReceived ?? 0);
      }
    });
    let pair = pairId ? byId.get(pairId) : undefined;
    if (!pair) {
      for (const value of byId.values()) {
        if (value.type === "candidate-pair" && value.nominated && value.state === "succeeded") pair = value;
      }
    }
    const rtt = typeof pair?.currentRoundTripTime === "number" ? Math.round(pair.currentRoundTripTime * 1000) : null;
    const local = pair ? byId.get(pair.localCandidateId as string) : undefined;
    const now = performance.now();
    let loss: number | null = null;
    let kbps: number | null = null;
    if (this.lastStats) {
      const dt = (now - this.lastStats.at) / 1000;
      const dLost = Math.max(0, lost - this.lastStats.lost);
      const dReceived = Math.max(0, received - this.lastStats.received);
      loss = dLost + dReceived > 0 ? dLost / (dLost + dReceived) : 0;
      kbps = dt > 0 ? Math.round(((bytes - this.lastStats.bytes) * 8) / 1000 / dt) : null;
    }
    this.lastStats = { at: now, bytes, lost, received };
    this.quality = {
      level: this.everConnected ? qualityOf(rtt, loss) : "unknown",
      rttMs: rtt,
      loss,
      kbps,
      localCandidateType: typeof local?.candidateType === "string" ? local.candidateType : null,
    };
    this.events.changed();
  }

  // ---- the end ----

  /**
   * Gives up the live microphone and camera (camera only while on) without stopping them,
   * for the meeting a moved call continues in; `close()` then leaves them running.
   */
  handOver(): MediaStreamTrack[] {
    const live = (track: MediaStreamTrack | null): track is MediaStreamTrack => track !== null && track.readyState === "live";
    const tracks = [this.mic, this.cameraOn ? this.camera : null].filter(live);
    for (const track of tracks) {
      if (track === this.mic) this.mic = null;
      if (track === this.camera) this.camera = null;
    }
    return tracks;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.readyResolve?.();
    for (const timer of [this.connectTimer, this.disconnectTimer]) if (timer) clearTimeout(timer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    for (const track of [this.mic, this.camera, this.screen]) track?.stop();
    this.mic = this.camera = this.screen = null;
    const pc = this.pc;
    if (pc) {
      pc.onicecandidate = pc.onnegotiationneeded = pc.ontrack = null;
      pc.oniceconnectionstatechange = pc.onconnectionstatechange = null;
      pc.close();
    }
  }
}

export function describeMediaError(error: unknown): string {
  const name = error instanceof DOMException ? error.name : "";
  if (name === "NotAllowedError") return "Allow the microphone and camera for this site to make calls.";
  if (name === "NotFoundError") return "No microphone was found.";
  if (name === "NotReadableError") return "The microphone or camera is in use by another app.";
  return "The microphone or camera could not be opened.";
}

/** Devices for the call's menus (labels appear once permission was given). */
export async function listDevices(): Promise<MediaDeviceInfo[]> {
  try {
    return (await navigator.mediaDevices?.enumerateDevices()) ?? [];
  } catch {
    return [];
  }
}

export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
}
