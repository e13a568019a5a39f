// The meeting's people panel (with a host's controls: admit or turn away who knocks, mute,
// remove, lock, end for all), the screen while knocking, and the screen after leaving (or
// being dropped): why, and the way back in.
import { type ReactNode, useEffect, useState } from "react";
import type { MeetingWaitingView } from "@proto";
import type { Tile } from "../lib/meetingLayout";
import type { MeetingClient, MeetingSnapshot } from "../lib/meetingClient";
import type { MeetingPhase } from "../lib/meetingState";
import { leftText } from "../lib/meetingWords";
import { CallIcon } from "./CallIcons";
import { MediaVideo, trackKeyOf } from "./CallOverlay";
import { Avatar, Icon, Spinner } from "./ui";

export function ParticipantsPanel({
  meetings,
  people,
  speaking,
  waiting,
  locked,
  host,
  link,
  toast,
}: {
  meetings: MeetingClient;
  people: Tile[];
  speaking: string[];
  waiting: MeetingWaitingView[];
  locked: boolean;
  /** This tab is a host: admit knockers, mute, remove, lock, end for all. */
  host: boolean;
  link: string | null;
  toast: (text: string) => void;
}) {
  // Raised hands first (they are waiting), then everyone in joining order, me first.
  const ordered = [...people].sort((a, b) => Number(b.handRaised) - Number(a.handRaised));
  const talking = new Set(speaking);
  return (
    <div className="flex h-full flex-col">
      {link && (
        <div className="border-b border-slate-200 p-4 dark:border-slate-800">
          <button
            type="button"
            className="btn-primary w-full rounded-full"
            data-testid="meeting-copy-link"
            onClick={() =>
              void navigator.clipboard?.writeText(link).then(
                () => toast("Meeting link copied."),
                () => toast(link),
              )
            }
          >
            <Icon name="copy" className="h-4 w-4" /> Copy joining link
          </button>
        </div>
      )}
      <div className="min-h-0 flex-1 overflow-y-auto">
        {host && waiting.length > 0 && (
          <section aria-label="Waiting to join" data-testid="meeting-waiting-list">
            <p className="px-4 pt-3 pb-1 text-xs font-medium tracking-wide text-amber-700 uppercase dark:text-amber-400">
              Waiting to join · {waiting.length}
            </p>
            <ul className="px-2">
              {waiting.map((knocker) => (
                <li
                  key={knocker.session_id}
                  className="flex items-center gap-3 rounded-lg px-2 py-2"
                  data-testid="meeting-knocker"
                  data-session-id={knocker.session_id}
                >
                  <Avatar id={knocker.user_id} name={knocker.display_name} size={36} />
                  <span className="min-w-0 flex-1 truncate text-sm font-medium">{knocker.display_name}</span>
                  <button
                    type="button"
                    className="btn-ghost px-2 py-1 text-red-600 dark:text-red-400"
                    data-testid="meeting-deny"
                    onClick={() => meetings.host({ kind: "deny", session_id: knocker.session_id })}
                  >
                    Deny
                  </button>
                  <button
                    type="button"
                    className="btn-primary rounded-full px-3 py-1"
                    data-testid="meeting-admit"
                    onClick={() => meetings.host({ kind: "admit", session_id: knocker.session_id })}
                  >
                    Admit
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
        <p className="px-4 pt-3 pb-1 text-xs font-medium tracking-wide text-slate-500 uppercase dark:text-slate-400">
          In the meeting · {people.length}
        </p>
        <ul className="px-2 pb-3" data-testid="meeting-participant-list">
          {ordered.map((person) => (
            <li
              key={person.key}
              className="group flex items-center gap-3 rounded-lg px-2 py-2 hover:bg-slate-100 dark:hover:bg-slate-800"
              data-testid="meeting-participant"
              data-session-id={person.sessionId}
              data-audio-muted={person.audioMuted}
              data-video-muted={person.videoMuted}
              data-hand={person.handRaised}
              data-host={person.host}
            >
              <Avatar id={person.userId} name={person.name} size={36} />
              <span className="min-w-0 flex-1">
                <span className="block truncate text-sm font-medium" data-testid="meeting-participant-name">
                  {person.name}
                  {person.self ? " (You)" : ""}
                </span>
                <span className="block text-xs text-slate-500 dark:text-slate-400">
                  {[person.host ? "Meeting host" : null, talking.has(person.sessionId) && !person.audioMuted ? "Speaking" : null]
                    .filter(Boolean)
                    .join(" · ")}
                </span>
              </span>
              {person.handRaised && (
                <span className="text-amber-500" title="Hand raised" aria-label="Hand raised">
                  <CallIcon name="hand" className="h-5 w-5" />
                </span>
              )}
              <span className={person.videoMuted ? "text-slate-400" : "text-slate-600 dark:text-slate-300"} title={person.videoMuted ? "Camera off" : "Camera on"}>
                <CallIcon name={person.videoMuted ? "videoOff" : "video"} className="h-5 w-5" />
              </span>
              {host && !person.self && !person.audioMuted ? (
                <button
                  type="button"
                  className="icon-btn h-8 w-8"
                  title={`Mute ${person.name}`}
                  aria-label={`Mute ${person.name}`}
                  data-testid="meeting-host-mute"
                  onClick={() => meetings.host({ kind: "mute", session_id: person.sessionId })}
                >
                  <CallIcon name="mic" className="h-5 w-5" />
                </button>
              ) : (
                <span className={person.audioMuted ? "text-red-500" : "text-slate-600 dark:text-slate-300"} title={person.audioMuted ? "Muted" : "Microphone on"}>
                  <CallIcon name={person.audioMuted ? "micOff" : "mic"} className="h-5 w-5" />
                </span>
              )}
              {host && !person.self && (
                <ConfirmButton
                  label={`Remove ${person.name} from the meeting`}
                  confirmLabel="Remove"
                  testId="meeting-host-remove"
                  className="icon-btn h-8 w-8 text-red-600 dark:text-red-400"
                  onConfirm={() => meetings.host({ kind: "remove", session_id: person.sessionId })}
                >
                  <Icon name="close" className="h-4 w-4" />
                </ConfirmButton>
              )}
            </li>
          ))}
        </ul>
      </div>
      {host && (
        <div className="space-y-2 border-t border-slate-200 p-4 dark:border-slate-800" data-testid="meeting-host-controls">
          <label className="flex items-center justify-between gap-3 text-sm">
            <span>
              <span className="block font-medium">Lock the meeting</span>
              <span className="block text-xs text-slate-500 dark:text-slate-400">New people knock and wait for a host.</span>
            </span>
            <input
              type="checkbox"
              className="h-5 w-5 accent-emerald-600"
              checked={locked}
              data-testid="meeting-lock-toggle"
              onChange={(event) => meetings.host({ kind: "lock", locked: event.target.checked })}
            />
          </label>
          <ConfirmButton
            label="End the meeting for everyone"
            confirmLabel="Click again to end it for everyone"
            testId="meeting-end-for-all"
            className="btn-danger w-full rounded-full border border-red-200 dark:border-red-900"
            onConfirm={() => meetings.host({ kind: "end_for_all" })}
          >
            End the meeting for everyone
          </ConfirmButton>
        </div>
      )}
    </div>
  );
}

/** A button that asks to be clicked again (within 4 s) before it acts. */
function ConfirmButton({
  label,
  confirmLabel,
  testId,
  className,
  onConfirm,
  children,
}: {
  label: string;
  confirmLabel: string;
  testId: string;
  className: string;
  onConfirm: () => void;
  children: ReactNode;
}) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const timer = setTimeout(() => setArmed(false), 4_000);
    return () => clearTimeout(timer);
  }, [armed]);
  return (
    <button
      type="button"
      className={armed ? "btn-danger rounded-full border border-red-300 px-3 py-1 text-xs dark:border-red-800" : className}
      title={label}
      aria-label={armed ? confirmLabel : label}
      data-testid={testId}
      data-armed={armed}
      onClick={() => {
        if (!armed) {
          setArmed(true);
          return;
        }
        setArmed(false);
        onConfirm();
      }}
    >
      {armed ? confirmLabel : children}
    </button>
  );
}

/** Knocking: a host has to let us in. */
export function MeetingWaitingScreen({ meetings, meeting, title }: { meetings: MeetingClient; meeting: MeetingSnapshot; title: string }) {
  const local = meeting.local;
  const cameraOn = local.cameraOn && Boolean(local.camera);
  return (
    <div
      className="flex min-h-0 w-full flex-1 flex-col items-center justify-center gap-6 bg-white px-6 text-center text-slate-900 dark:bg-slate-950 dark:text-slate-100"
      data-testid="meeting-waiting"
    >
      <div className="relative aspect-video w-full max-w-md overflow-hidden rounded-2xl bg-slate-900">
        {cameraOn && (
          <MediaVideo stream={local.preview} trackKey={trackKeyOf(local.preview)} mirrored className="absolute inset-0 h-full w-full object-cover" />
        )}
      </div>
      <div className="flex items-center gap-3">
        <Spinner className="h-5 w-5" />
        <h1 className="text-2xl font-normal">Asking to join…</h1>
      </div>
      <p className="max-w-sm text-slate-500 dark:text-slate-400">You will join {title} when a host lets you in.</p>
      <button type="button" className="btn-ghost rounded-full border border-slate-300 px-5 dark:border-slate-700" data-testid="meeting-waiting-cancel" onClick={() => meetings.leave()}>
        Cancel
      </button>
    </div>
  );
}

export function MeetingLeftScreen({
  meetings,
  phase,
  title,
}: {
  meetings: MeetingClient;
  phase: Extract<MeetingPhase, { kind: "left" }>;
  title: string;
}) {
  const text = leftText(phase);
  return (
    <div
      className="flex min-h-0 w-full flex-1 flex-col items-center justify-center gap-6 bg-white px-6 text-center text-slate-900 dark:bg-slate-950 dark:text-slate-100"
      data-testid="meeting-left"
      data-by-user={phase.byUser}
      data-reason={phase.reason}
    >
      <h1 className="text-3xl font-normal" data-testid="meeting-left-reason">
        {text}
      </h1>
      <p className="text-slate-500 dark:text-slate-400">{title}</p>
      <div className="flex flex-wrap justify-center gap-3">
        {!phase.byHost && (
          <button type="button" className="btn-ghost rounded-full border border-slate-300 px-5 dark:border-slate-700" data-testid="meeting-rejoin" onClick={() => meetings.join()}>
            Rejoin
          </button>
        )}
        <button type="button" className="btn-primary rounded-full px-5" data-testid="meeting-return" onClick={() => meetings.dismiss()}>
          Return to the chat
        </button>
      </div>
    </div>
  );
}
