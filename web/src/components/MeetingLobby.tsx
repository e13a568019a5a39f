// Before joining a meeting: the camera preview, the microphone's level, the device
// pickers, joining with the microphone or camera off, and the link to share.
import { useEffect, useState } from "react";
import type { ConversationView } from "@proto";
import type { MeetingClient, MeetingSnapshot } from "../lib/meetingClient";
import { type MeetingDeviceKind, listMeetingDevices } from "../lib/meetingDevices";
import { CallIcon } from "./CallIcons";
import { MediaVideo, trackKeyOf } from "./CallOverlay";
import { Avatar, Icon, Spinner } from "./ui";

export function meetingLink(conversation: ConversationView | undefined): string | null {
  return conversation?.meeting_code ? `${location.origin}/join/${conversation.meeting_code}` : null;
}

export function MeetingLobby({
  meetings,
  meeting,
  conversation,
  title,
  selfId,
  selfName,
  toast,
}: {
  meetings: MeetingClient;
  meeting: MeetingSnapshot;
  conversation: ConversationView | undefined;
  title: string;
  selfId: string;
  selfName: string;
  toast: (text: string) => void;
}) {
  const local = meeting.local;
  const devices = useDevices(local.opened);
  const link = meetingLink(conversation);
  const cameraOn = local.cameraOn && Boolean(local.camera);
  const level = local.micOn ? local.level : 0;

  return (
    <div className="flex min-h-0 w-full flex-1 flex-col overflow-y-auto bg-white text-slate-900 dark:bg-slate-950 dark:text-slate-100" data-testid="meeting-lobby">
      <header className="flex items-center gap-2 px-3 py-2">
        <button type="button" className="icon-btn" aria-label="Back to the chat" data-testid="lobby-cancel" onClick={() => meetings.closeLobby()}>
          <Icon name="back" />
        </button>
        <span className="truncate text-sm text-slate-500 dark:text-slate-400">{title}</span>
      </header>
      <div className="mx-auto flex w-full max-w-6xl flex-1 flex-col items-center justify-center gap-8 px-4 pb-8 lg:flex-row lg:items-center">
        <section className="w-full max-w-3xl" aria-label="Your camera and microphone">
          <div className="relative aspect-video w-full overflow-hidden rounded-2xl bg-slate-900 shadow-lg">
            {cameraOn ? (
              <MediaVideo
                stream={local.preview}
                trackKey={trackKeyOf(local.preview)}
                mirrored
                testId="lobby-preview"
                className="absolute inset-0 h-full w-full object-cover"
              />
            ) : (
              <div className="absolute inset-0 flex flex-col items-center justify-center gap-3 text-slate-300" data-testid="lobby-camera-off">
                {local.opened ? <Avatar id={selfId} name={selfName} size={96} /> : <Spinner className="h-8 w-8" />}
                <span className="text-sm">{local.opened ? "Camera is off" : "Starting the camera…"}</span>
              </div>
            )}
            <span className="absolute top-3 left-4 text-sm font-medium text-white drop-shadow">{selfName}</span>
            <div className="absolute inset-x-0 bottom-0 flex items-center justify-center gap-4 bg-gradient-to-t from-black/60 to-transparent pt-10 pb-4">
              <LobbyToggle
                on={local.micOn}
                label={local.micOn ? "Turn off microphone" : "Turn on microphone"}
                icon={local.micOn ? "mic" : "micOff"}
                testId="lobby-toggle-mic"
                onClick={() => meetings.toggleMic()}
              />
              <LobbyToggle
                on={cameraOn}
                label={cameraOn ? "Turn off camera" : "Turn on camera"}
                icon={cameraOn ? "video" : "videoOff"}
                testId="lobby-toggle-camera"
                onClick={() => void meetings.toggleCamera()}
              />
            </div>
          </div>
          <div className="mt-3 flex items-center gap-3">
            <CallIcon name={local.micOn ? "mic" : "micOff"} className="h-5 w-5 shrink-0 text-slate-500" />
            <div
              className="h-2 flex-1 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800"
              role="meter"
              aria-label="Microphone level"
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={Math.round(level * 100)}
              data-testid="lobby-mic-meter"
              data-level={level.toFixed(2)}
            >
              <div className="h-full rounded-full bg-emerald-500 transition-[width] duration-100" style={{ width: `${Math.round(level * 100)}%` }} />
            </div>
          </div>
          <div className="mt-3 grid gap-2 sm:grid-cols-3">
            <DevicePicker kind="audioinput" label="Microphone" devices={devices} chosen={local.chosen.audioinput} testId="lobby-mic-select" meetings={meetings} />
            <DevicePicker kind="videoinput" label="Camera" devices={devices} chosen={local.chosen.videoinput} testId="lobby-camera-select" meetings={meetings} />
            {canChooseSpeaker() && (
              <DevicePicker kind="audiooutput" label="Speaker" devices={devices} chosen={local.chosen.audiooutput} testId="lobby-speaker-select" meetings={meetings} />
            )}
          </div>
        </section>
        <section className="flex w-full max-w-sm flex-col items-center gap-4 text-center" aria-label="Join">
          <h1 className="text-2xl font-semibold">Ready to join?</h1>
          <p className="text-slate-600 dark:text-slate-300" data-testid="lobby-title">
            {title}
          </p>
          {link && conversation?.meeting_code && (
            <div className="w-full rounded-xl bg-slate-100 px-4 py-3 dark:bg-slate-900">
              <div className="text-xs text-slate-500 uppercase dark:text-slate-400">Meeting code</div>
              <div className="font-mono text-lg font-semibold tracking-wider" data-testid="lobby-meeting-code">
                {conversation.meeting_code}
              </div>
              <button
                type="button"
                className="btn-ghost mt-1 text-emerald-700 dark:text-emerald-400"
                data-testid="lobby-copy-link"
                onClick={() =>
                  void navigator.clipboard?.writeText(link).then(
                    () => toast("Meeting link copied."),
                    () => toast(link),
                  )
                }
              >
                <Icon name="copy" className="h-4 w-4" /> Copy invite link
              </button>
            </div>
          )}
          {local.error && (
            <p className="text-sm text-amber-700 dark:text-amber-300" role="alert" data-testid="lobby-error">
              {local.error}
            </p>
          )}
          <button
            type="button"
            className="btn-primary w-full rounded-full py-3 text-base"
            data-testid="lobby-join"
            disabled={!local.opened}
            onClick={() => meetings.join()}
          >
            {!local.opened && <Spinner />} Join now
          </button>
          <p className="text-xs text-slate-500 dark:text-slate-400">
            {local.micOn ? "Your microphone is on" : "You will join muted"} · {cameraOn ? "your camera is on" : "your camera is off"}
          </p>
        </section>
      </div>
    </div>
  );
}

function LobbyToggle({ on, label, icon, testId, onClick }: { on: boolean; label: string; icon: "mic" | "micOff" | "video" | "videoOff"; testId: string; onClick: () => void }) {
  return (
    <button
      type="button"
      aria-label={label}
      title={label}
      aria-pressed={!on}
      data-testid={testId}
      onClick={onClick}
      className={`flex h-12 w-12 items-center justify-center rounded-full border shadow-lg transition-colors ${
        on ? "border-white/60 bg-transparent text-white hover:bg-white/15" : "border-red-600 bg-red-600 text-white hover:bg-red-500"
      }`}
    >
      <CallIcon name={icon} className="h-6 w-6" />
    </button>
  );
}

function DevicePicker({
  kind,
  label,
  devices,
  chosen,
  testId,
  meetings,
}: {
  kind: MeetingDeviceKind;
  label: string;
  devices: MediaDeviceInfo[];
  chosen: string | null;
  testId: string;
  meetings: MeetingClient;
}) {
  const options = devices.filter((device) => device.kind === kind && device.deviceId);
  const value = options.some((device) => device.deviceId === chosen) ? (chosen ?? "") : (options[0]?.deviceId ?? "");
  return (
    <label className="block min-w-0">
      <span className="mb-1 block text-xs font-medium text-slate-500 dark:text-slate-400">{label}</span>
      <select
        className="input truncate py-1.5"
        value={value}
        disabled={options.length === 0}
        data-testid={testId}
        onChange={(event) => void meetings.switchDevice(kind, event.target.value)}
      >
        {options.length === 0 && <option value="">No {label.toLowerCase()} found</option>}
        {options.map((device, index) => (
          <option key={device.deviceId} value={device.deviceId}>
            {device.label || `${label} ${index + 1}`}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The devices, read again once permission was given and whenever they change. */
export function useDevices(opened: boolean): MediaDeviceInfo[] {
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [changes, setChanges] = useState(0);
  useEffect(() => {
    const md = navigator.mediaDevices;
    if (!md?.addEventListener) return;
    const onChange = () => setChanges((n) => n + 1);
    md.addEventListener("devicechange", onChange);
    return () => md.removeEventListener("devicechange", onChange);
  }, []);
  useEffect(() => {
    let cancelled = false;
    void listMeetingDevices().then((list) => !cancelled && setDevices(list));
    return () => {
      cancelled = true;
    };
  }, [opened, changes]);
  return devices;
}

export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
}
