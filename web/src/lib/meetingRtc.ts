// The WebRTC side of a meeting seat: two peer connections to the SFU (docs/protocol.md,
// "Meetings"). *Publish*: we offer the microphone, the camera (simulcast, rids q/h/f,
// lowest first) and, while presenting, the screen, naming each transceiver's mid in
// `sources`; the SFU answers. *Subscribe*: the SFU offers everyone else's tracks and offers
// again whenever they change; we answer. Each side only ever offers on its own connection,
// so negotiations cannot collide; ours are queued one at a time (answers carry no id). The
// SFU is ICE-lite with one candidate in its SDP: no candidates are exchanged. Received
// tracks come in MediaStreams whose id is the publisher's session id (microphone and
// camera) or `<session id>~screen`. Knows nothing of React or the meeting's state.
import type { MeetingSourceView } from "@proto";
import type { Quality } from "./callState";
import type { LocalMedia, MeetingConfig } from "./meetingDevices";
import { meetingQualityLevel } from "./meetingState";

export interface MeetingPeersEvents {
  /** A publish offer for the SFU; false when it could not be sent. */
  publish: (sdp: string, sources: MeetingSourceView[]) => boolean;
  /** Our answer to the SFU's subscribe offer. */
  answer: (sdp: string) => boolean;
  /** Tracks, connection states or quality changed. */
  changed: () => void;
  /** The media cannot work on these connections (negotiation broke, ICE failed). */
  failed: (reason: string) => void;
  /** Both connections are up (the first time). */
  connected: () => void;
}

export interface MeetingQualityReport {
  level: Quality;
  rttMs: number | null;
  /** Received packets lost over the last interval, 0–1. */
  loss: number | null;
  /** The browser's estimate of what it can send (availableOutgoingBitrate), kbit/s. */
  outgoingKbps: number | null;
  sendKbps: number | null;
  receiveKbps: number | null;
}

export const EMPTY_MEETING_QUALITY: MeetingQualityReport = {
  level: "unknown",
  rttMs: null,
  loss: null,
  outgoingKbps: null,
  sendKbps: null,
  receiveKbps: null,
};

/** The camera's simulcast layers (rids lowest first, as the SFU expects). */
const CAMERA_LAYERS: RTCRtpEncodingParameters[] = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", maxBitrate: 1_200_000 },
];

/** How long the bandwidth estimate is given to climb before it counts for the quality. */
const RAMP_UP_MS = 10_000;

export class MeetingPeers {
  readonly pub: RTCPeerConnection;
  readonly sub: RTCPeerConnection;
  /** What we receive, by stream id (the publisher's session id, or `<session id>~screen`). */
  readonly streams = new Map<string, MediaStream>();
  quality: MeetingQualityReport = EMPTY_MEETING_QUALITY;
  /** The publish offers that were answered (1 after the first, +1 per screen share change). */
  negotiations = 0;

  private readonly local: LocalMedia;
  private readonly events: MeetingPeersEvents;
  private readonly config: MeetingConfig;
  private audio: RTCRtpTransceiver | null = null;
  private video: RTCRtpTransceiver | null = null;
  private screen: RTCRtpTransceiver | null = null;
  private publishQueue: Promise<void> = Promise.resolve();
  private subscribeQueue: Promise<void> = Promise.resolve();
  private waiting: { resolve: (sdp: string) => void; reject: (error: Error) => void } | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private lastStats: { at: number; sent: number; received: number; lost: number; packets: number } | null = null;
  private everConnected = false;
  /** When both connections first came up (the bandwidth estimate ramps up after it). */
  private connectedAt: number | null = null;
  private closed = false;

  constructor(local: LocalMedia, events: MeetingPeersEvents, config: MeetingConfig) {
    this.local = local;
    this.events = events;
    this.config = config;
    this.pub = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
    this.sub = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
    this.sub.ontrack = (event) => this.onTrack(event);
    for (const pc of [this.pub, this.sub]) {
      pc.onconnectionstatechange = () => this.onConnectionState();
    }
  }

  /** Adds the microphone and camera (even when off: their tracks follow by replaceTrack)
   * and makes the first offer. */
  start(): void {
    this.audio = this.pub.addTransceiver(this.local.mic ?? "audio", { direction: "sendonly" });
    this.video = this.pub.addTransceiver(this.cameraTrack() ?? "video", {
      direction: "sendonly",
      sendEncodings: CAMERA_LAYERS.map((layer) => ({ ...layer })),
    });
    void this.negotiate();
    this.statsTimer = setInterval(() => void this.sample(), this.config.statsIntervalMs);
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (!this.everConnected) this.fail("the media connection timed out");
    }, this.config.connectTimeoutMs);
  }

  private cameraTrack(): MediaStreamTrack | null {
    return this.local.cameraOn ? this.local.camera : null;
  }

  /** The local tracks changed (device switch, camera on or off): send the current ones. */
  async syncTracks(): Promise<void> {
    if (this.closed) return;
    const mic = this.local.mic;
    const camera = this.cameraTrack();
    if (this.audio && this.audio.sender.track !== mic) await this.audio.sender.replaceTrack(mic);
    if (this.video && this.video.sender.track !== camera) await this.video.sender.replaceTrack(camera);
  }

  /** Presents `track` (a screen, or a canvas in tests): a transceiver of its own, offered
   * to the SFU as a `screen_share` source. Replaces a track already being presented. */
  async shareTrack(track: MediaStreamTrack): Promise<void> {
    if (this.closed) throw new Error("Not in the meeting.");
    if ("contentHint" in track) track.contentHint = "detail";
    if (this.screen) {
      await this.screen.sender.replaceTrack(track);
      return;
    }
    this.screen = this.pub.addTransceiver(track, { direction: "sendonly", sendEncodings: [{ maxBitrate: 2_000_000 }] });
    this.renewCamera();
    await this.negotiate();
  }

  /** Stops presenting: the transceiver stops, and the offer without it unpublishes it. */
  async stopSharing(): Promise<void> {
    const transceiver = this.screen;
    this.screen = null;
    if (!transceiver || this.closed) return;
    transceiver.stop();
    this.renewCamera();
    await this.negotiate();
  }

  /**
   * Works around an SFU bug (2026-11): after a publish re-offer, the SFU stops forwarding a
   * simulcast (rid) camera negotiated in an earlier offer: those who receive it freeze on
   * its last frame, and who joins later never gets it (a non-simulcast track survives, and so
   * does a simulcast one negotiated in the re-offer itself). So every re-offer also moves the
   * camera to a fresh transceiver (a new mid: the SFU unpublishes the old one and publishes
   * the new one; the others renegotiate and wait for a keyframe, a short freeze).
   * `renewCameraOnReoffer: false` in `window.__conveneMeetingConfig` turns it off.
   */
  private renewCamera(): void {
    const old = this.video;
    if (!old || !this.config.renewCameraOnReoffer) return;
    this.video = this.pub.addTransceiver(this.cameraTrack() ?? "video", {
      direction: "sendonly",
      sendEncodings: CAMERA_LAYERS.map((layer) => ({ ...layer })),
    });
    old.stop();
  }

  get sharing(): boolean {
    return this.screen !== null;
  }

  // ---- publish negotiation ----

  private negotiate(): Promise<void> {
    const run = this.publishQueue.then(() => this.offerOnce());
    this.publishQueue = run.catch(() => {});
    return run.catch((error: unknown) => {
      if (this.closed) return;
      console.warn("meeting: publishing failed", error);
      this.fail("negotiation failed");
    });
  }

  private async offerOnce(): Promise<void> {
    if (this.closed) return;
    const offer = await this.pub.createOffer();
    await this.pub.setLocalDescription(offer);
    const sdp = this.pub.localDescription?.sdp;
    if (!sdp || this.closed) return;
    const answer = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no publish answer")), this.config.publishTimeoutMs);
      this.waiting = {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
    if (!this.events.publish(sdp, this.sources())) {
      this.waiting = null;
      throw new Error("offline");
    }
    const answerSdp = await answer;
    this.waiting = null;
    if (this.closed) return;
    await this.pub.setRemoteDescription({ type: "answer", sdp: answerSdp });
    this.negotiations++;
    this.events.changed();
  }

  /** What each live transceiver carries, by its mid (assigned by setLocalDescription). */
  private sources(): MeetingSourceView[] {
    const sources: MeetingSourceView[] = [];
    const add = (transceiver: RTCRtpTransceiver | null, source: MeetingSourceView["source"], layers: number) => {
      if (transceiver?.mid && transceiver.direction !== "stopped") sources.push({ mid: transceiver.mid, source, layers });
    };
    add(this.audio, "microphone", 1);
    add(this.video, "camera", CAMERA_LAYERS.length);
    add(this.screen, "screen_share", 1);
    return sources;
  }

  onPublishAnswer(sdp: string): void {
    if (this.waiting) this.waiting.resolve(sdp);
    else console.warn("meeting: a publish answer nobody waited for");
  }

  // ---- subscribe negotiation ----

  onSubscribeOffer(sdp: string): void {
    const run = this.subscribeQueue.then(async () => {
      if (this.closed) return;
      await this.sub.setRemoteDescription({ type: "offer", sdp });
      const answer = await this.sub.createAnswer();
      await this.sub.setLocalDescription(answer);
      const local = this.sub.localDescription?.sdp;
      if (local && !this.closed) this.events.answer(local);
      this.events.changed();
    });
    this.subscribeQueue = run.catch((error: unknown) => {
      if (this.closed) return;
      console.warn("meeting: answering the SFU failed", error);
      this.fail("negotiation failed");
    });
  }

  private onTrack(event: RTCTrackEvent): void {
    const stream = event.streams[0];
    if (!stream) return;
    // The browser keeps the stream's tracks in step with the SFU's offers.
    this.streams.set(stream.id, stream);
    stream.onremovetrack = () => this.events.changed();
    event.track.onunmute = () => this.events.changed();
    event.track.onmute = () => this.events.changed();
    this.events.changed();
  }

  // ---- connection state and quality ----

  private onConnectionState(): void {
    if (this.closed) return;
    const states = [this.pub.connectionState, this.sub.connectionState];
    if (states.includes("failed")) {
      this.fail("the media connection failed");
      return;
    }
    // The subscribe connection exists only once there is something to receive.
    const subReady = this.sub.connectionState === "connected" || this.sub.remoteDescription === null;
    if (!this.everConnected && this.pub.connectionState === "connected" && subReady) {
      this.everConnected = true;
      this.connectedAt = performance.now();
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      this.events.connected();
    }
    this.events.changed();
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.events.failed(reason);
  }

  private async sample(): Promise<void> {
    if (this.closed) return;
    let pubReport: RTCStatsReport;
    let subReport: RTCStatsReport;
    try {
      [pubReport, subReport] = await Promise.all([this.pub.getStats(), this.sub.getStats()]);
    } catch {
      return;
    }
    const pubPair = selectedPair(pubReport);
    const subPair = selectedPair(subReport);
    const rttSeconds = numberOr(pubPair?.currentRoundTripTime) ?? numberOr(subPair?.currentRoundTripTime);
    const available = numberOr(pubPair?.availableOutgoingBitrate);
    let sent = 0;
    let received = 0;
    let lost = 0;
    let packets = 0;
    pubReport.forEach((value: Record<string, unknown>) => {
      if (value.type === "outbound-rtp") sent += Number(value.bytesSent ?? 0);
    });
    subReport.forEach((value: Record<string, unknown>) => {
      if (value.type !== "inbound-rtp") return;
      received += Number(value.bytesReceived ?? 0);
      lost += Number(value.packetsLost ?? 0);
      packets += Number(value.packetsReceived ?? 0);
    });
    const now = performance.now();
    let loss: number | null = null;
    let sendKbps: number | null = null;
    let receiveKbps: number | null = null;
    const last = this.lastStats;
    if (last) {
      const seconds = (now - last.at) / 1000;
      const dLost = Math.max(0, lost - last.lost);
      const dPackets = Math.max(0, packets - last.packets);
      loss = dLost + dPackets > 0 ? dLost / (dLost + dPackets) : null;
      if (seconds > 0) {
        sendKbps = Math.round(((sent - last.sent) * 8) / 1000 / seconds);
        receiveKbps = Math.round(((received - last.received) * 8) / 1000 / seconds);
      }
    }
    this.lastStats = { at: now, sent, received, lost, packets };
    const rttMs = rttSeconds !== null ? Math.round(rttSeconds * 1000) : null;
    const outgoingKbps = available !== null ? Math.round(available / 1000) : null;
    // The browser's estimate starts low and climbs for the first seconds: not a bad network.
    const rampedUp = this.connectedAt !== null && now - this.connectedAt > RAMP_UP_MS;
    this.quality = {
      level: this.everConnected ? meetingQualityLevel(rttMs, loss, rampedUp ? outgoingKbps : null) : "unknown",
      rttMs,
      loss,
      outgoingKbps,
      sendKbps,
      receiveKbps,
    };
    this.events.changed();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiting?.reject(new Error("closed"));
    this.waiting = null;
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    for (const pc of [this.pub, this.sub]) {
      pc.ontrack = null;
      pc.onconnectionstatechange = null;
      pc.close();
    }
    this.streams.clear();
  }
}

function selectedPair(report: RTCStatsReport): Record<string, unknown> | undefined {
  const byId = new Map<string, Record<string, unknown>>();
  let pairId: string | null = null;
  report.forEach((value: Record<string, unknown>) => {
    byId.set(value.id as string, value);
    if (value.type === "transport" && typeof value.selectedCandidatePairId === "string") pairId = value.selectedCandidatePairId;
  });
  if (pairId && byId.has(pairId)) return byId.get(pairId);
  for (const value of byId.values()) {
    if (value.type === "candidate-pair" && value.nominated && value.state === "succeeded") return value;
  }
  return undefined;
}

function numberOr(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
