// This tab's camera and microphone for a meeting, from the lobby to the end: opening them
// (the camera at the configured size), muting (track.enabled, so unmuting is instant),
// turning the camera off (its light goes out) and on, switching devices, and the
// microphone level meter (WebAudio AnalyserNode). The publish connection takes its tracks
// from here (meetingRtc.ts); the lobby and the self tile show them.
import { describeMediaError } from "./callRtc";

export interface MeetingConfig {
  /** The camera's capture size (simulcast sends it, half and a quarter). */
  videoWidth: number;
  videoHeight: number;
  /** How long the SFU may take to answer a publish offer. */
  publishTimeoutMs: number;
  /** Give the peer connections this long to connect before taking a fresh seat. */
  connectTimeoutMs: number;
  statsIntervalMs: number;
  /** Move the camera to a fresh transceiver with each publish re-offer (meetingRtc.ts). */
  renewCameraOnReoffer: boolean;
}

declare global {
  interface Window {
    /** Test knobs, read at each use. */
    __conveneMeetingConfig?: Partial<MeetingConfig>;
  }
}

export function loadMeetingConfig(): MeetingConfig {
  const config: MeetingConfig = {
    videoWidth: 1280,
    videoHeight: 720,
    publishTimeoutMs: 10_000,
    connectTimeoutMs: 20_000,
    statsIntervalMs: 2_000,
    renewCameraOnReoffer: true,
  };
  try {
    Object.assign(config, window.__conveneMeetingConfig ?? {});
  } catch {
    // Not in a browser.
  }
  return config;
}

export type MeetingDeviceKind = "audioinput" | "videoinput" | "audiooutput";

export class LocalMedia {
  mic: MediaStreamTrack | null = null;
  camera: MediaStreamTrack | null = null;
  /** The camera alone, for the preview and the self tile. */
  readonly preview = new MediaStream();
  micOn = true;
  cameraOn = true;
  readonly chosen: Record<MeetingDeviceKind, string | null> = { audioinput: null, videoinput: null, audiooutput: null };
  /** Why the devices could not be had, for the lobby. */
  error: string | null = null;
  /** The microphone's level now, 0–1 (0 while muted). */
  level = 0;
  /** The devices were asked for at least once (permission given or refused). */
  opened = false;
  /** Whether a change of `level` is news (the lobby shows the meter; the stage does not,
   * and would re-render ten times a second for nothing). */
  reportLevel = true;

  private opening: Promise<void> | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly trackListeners = new Set<() => void>();
  private audioContext: AudioContext | null = null;
  private analyser: AnalyserNode | null = null;
  private source: MediaStreamAudioSourceNode | null = null;
  private meterTimer: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  /** Something on screen changed (level, devices, errors). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The microphone or camera track was replaced (the publisher must send the new one). */
  onTracks(listener: () => void): () => void {
    this.trackListeners.add(listener);
    return () => this.trackListeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private tracksChanged(): void {
    this.rebuildPreview();
    for (const listener of this.trackListeners) listener();
    this.changed();
  }

  /** Opens the microphone, and the camera unless it is off. Safe to call again. */
  open(): Promise<void> {
    this.closed = false;
    const live = (track: MediaStreamTrack | null) => track !== null && track.readyState === "live";
    if (live(this.mic) && (!this.cameraOn || live(this.camera))) return Promise.resolve();
    this.opening ??= this.openDevices().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async openDevices(): Promise<void> {
    const md = typeof navigator !== "undefined" ? navigator.mediaDevices : undefined;
    if (!md?.getUserMedia) {
      this.error = "This browser cannot use a camera or microphone here (it needs https).";
      this.opened = true;
      this.changed();
      return;
    }
    const wantMic = !this.mic || this.mic.readyState !== "live";
    const wantCamera = this.cameraOn && (!this.camera || this.camera.readyState !== "live");
    this.error = null;
    try {
      const stream = await md.getUserMedia({
        audio: wantMic ? this.audioConstraints(this.chosen.audioinput) : false,
        video: wantCamera ? this.videoConstraints(this.chosen.videoinput) : false,
      });
      this.adopt(stream);
    } catch (error) {
      // Perhaps only the camera is missing or busy: carry on with the microphone.
      if (wantMic && wantCamera) {
        try {
          this.adopt(await md.getUserMedia({ audio: this.audioConstraints(this.chosen.audioinput) }));
          this.cameraOn = false;
          this.error = "The camera could not be opened; you can join with the microphone.";
        } catch (inner) {
          this.error = describeMediaError(inner);
        }
      } else {
        this.error = describeMediaError(error);
        if (wantCamera) this.cameraOn = false;
      }
    }
    this.opened = true;
    if (this.closed) {
      this.stopTracks();
      return;
    }
    this.startMeter();
    this.tracksChanged();
  }

  /**
   * Takes over a call's live tracks (a call moving to a meeting): nothing is asked for
   * again, and the microphone and camera stay as they were (muted stays muted, a camera
   * that was off stays off). `open()` then finds them live.
   */
  takeOver(tracks: MediaStreamTrack[], micOn: boolean, cameraOn: boolean): void {
    this.closed = false;
    this.micOn = micOn;
    const live = tracks.filter((track) => track.readyState === "live");
    const camera = cameraOn ? live.find((track) => track.kind === "video") : undefined;
    for (const track of live) if (track.kind === "video" && track !== camera) track.stop();
    this.adopt(new MediaStream(live.filter((track) => track.kind === "audio" || track === camera)));
    if (!camera) {
      this.camera?.stop();
      this.camera = null;
    }
    this.cameraOn = cameraOn;
    if (camera) {
      // The call's camera is larger than what simulcast needs here.
      const config = loadMeetingConfig();
      void camera.applyConstraints({ width: { ideal: config.videoWidth }, height: { ideal: config.videoHeight } }).catch(() => {});
    }
    this.error = null;
    this.opened = true;
    this.startMeter();
    this.tracksChanged();
  }

  private adopt(stream: MediaStream): void {
    const mic = stream.getAudioTracks()[0];
    const camera = stream.getVideoTracks()[0];
    if (mic) {
      this.mic?.stop();
      this.mic = mic;
      mic.enabled = this.micOn;
      this.chosen.audioinput = mic.getSettings().deviceId ?? this.chosen.audioinput;
    }
    if (camera) {
      this.camera?.stop();
      this.camera = camera;
      this.chosen.videoinput = camera.getSettings().deviceId ?? this.chosen.videoinput;
    }
  }

  private audioConstraints(deviceId: string | null): MediaTrackConstraints | boolean {
    return deviceId ? { deviceId: { exact: deviceId } } : true;
  }

  private videoConstraints(deviceId: string | null): MediaTrackConstraints {
    const config = loadMeetingConfig();
    return {
      width: { ideal: config.videoWidth },
      height: { ideal: config.videoHeight },
      ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    };
  }

  private rebuildPreview(): void {
    for (const track of this.preview.getTracks()) this.preview.removeTrack(track);
    if (this.camera && this.cameraOn) this.preview.addTrack(this.camera);
  }

  setMicOn(on: boolean): void {
    this.micOn = on;
    if (this.mic) this.mic.enabled = on;
    if (!on) this.level = 0;
    this.changed();
  }

  /** Turns the camera on (a fresh track) or off (released: its light goes out). */
  async setCameraOn(on: boolean): Promise<void> {
    if (on === this.cameraOn && (!on || this.camera?.readyState === "live")) return;
    if (!on) {
      this.cameraOn = false;
      this.camera?.stop();
      this.camera = null;
      this.tracksChanged();
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: this.videoConstraints(this.chosen.videoinput) });
      this.adopt(stream);
      this.cameraOn = true;
      this.error = null;
    } catch (error) {
      this.changed();
      throw new Error(describeMediaError(error));
    }
    this.tracksChanged();
  }

  async switchDevice(kind: MeetingDeviceKind, deviceId: string): Promise<void> {
    if (kind === "audiooutput") {
      this.chosen.audiooutput = deviceId;
      this.changed();
      return;
    }
    this.chosen[kind] = deviceId;
    if (kind === "audioinput") {
      this.adopt(await navigator.mediaDevices.getUserMedia({ audio: this.audioConstraints(deviceId) }));
      this.startMeter();
    } else if (this.cameraOn) {
      this.adopt(await navigator.mediaDevices.getUserMedia({ video: this.videoConstraints(deviceId) }));
    }
    this.tracksChanged();
  }

  // ---- the level meter ----

  private startMeter(): void {
    const mic = this.mic;
    if (!mic) return;
    try {
      this.audioContext ??= new AudioContext();
      if (this.audioContext.state === "suspended") void this.audioContext.resume().catch(() => {});
      this.source?.disconnect();
      this.source = this.audioContext.createMediaStreamSource(new MediaStream([mic]));
      this.analyser ??= this.audioContext.createAnalyser();
      this.analyser.fftSize = 1024;
      this.source.connect(this.analyser);
    } catch {
      return; // No WebAudio: no meter.
    }
    if (this.meterTimer) return;
    const samples = new Float32Array(1024);
    this.meterTimer = setInterval(() => {
      const analyser = this.analyser;
      if (!analyser) return;
      if (this.audioContext?.state === "suspended") void this.audioContext.resume().catch(() => {});
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      const rms = Math.sqrt(sum / samples.length);
      // Speech sits around 0.02–0.2 RMS: a square root spreads it over the meter.
      const target = this.micOn ? Math.min(1, Math.sqrt(rms) * 1.6) : 0;
      // Rise at once, fall gently, like a VU meter.
      const level = target > this.level ? target : this.level * 0.7 + target * 0.3;
      const rounded = Math.round(level * 100) / 100;
      if (rounded !== this.level) {
        this.level = rounded;
        if (this.reportLevel) this.changed();
      }
    }, 100);
  }

  /** Resumes the meter's audio context (browsers start it suspended without a click). */
  wake(): void {
    if (this.audioContext?.state === "suspended") void this.audioContext.resume().catch(() => {});
  }

  private stopTracks(): void {
    this.mic?.stop();
    this.camera?.stop();
    this.mic = null;
    this.camera = null;
  }

  /** Lets go of everything (leaving the lobby or the meeting). Opening again is allowed. */
  close(): void {
    this.closed = true;
    if (this.meterTimer) clearInterval(this.meterTimer);
    this.meterTimer = null;
    this.source?.disconnect();
    this.source = null;
    this.analyser = null;
    void this.audioContext?.close().catch(() => {});
    this.audioContext = null;
    this.level = 0;
    this.stopTracks();
    this.rebuildPreview();
    for (const listener of this.trackListeners) listener();
    this.changed();
  }
}

/** Devices for the pickers (labels appear once permission was given). */
export async function listMeetingDevices(): Promise<MediaDeviceInfo[]> {
  try {
    return (await navigator.mediaDevices?.enumerateDevices()) ?? [];
  } catch {
    return [];
  }
}
