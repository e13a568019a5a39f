// The meeting's people panel, and the screen after leaving (or being dropped): why, and
// the way back in.
import type { Tile } from "../lib/meetingLayout";
import type { MeetingClient } from "../lib/meetingClient";
import { type MeetingPhase, leftText } from "../lib/meetingState";
import { CallIcon } from "./CallIcons";
import { Avatar, Icon } from "./ui";

export function ParticipantsPanel({
  people,
  speaking,
  link,
  toast,
}: {
  people: Tile[];
  speaking: string[];
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
      <p className="px-4 pt-3 pb-1 text-xs font-medium tracking-wide text-slate-500 uppercase dark:text-slate-400">
        In the meeting · {people.length}
      </p>
      <ul className="min-h-0 flex-1 overflow-y-auto px-2 pb-3" data-testid="meeting-participant-list">
        {ordered.map((person) => (
          <li
            key={person.key}
            className="flex items-center gap-3 rounded-lg px-2 py-2 hover:bg-slate-100 dark:hover:bg-slate-800"
            data-testid="meeting-participant"
            data-session-id={person.sessionId}
            data-audio-muted={person.audioMuted}
            data-video-muted={person.videoMuted}
            data-hand={person.handRaised}
          >
            <Avatar id={person.userId} name={person.name} size={36} />
            <span className="min-w-0 flex-1">
              <span className="block truncate text-sm font-medium" data-testid="meeting-participant-name">
                {person.name}
                {person.self ? " (You)" : ""}
              </span>
              {talking.has(person.sessionId) && !person.audioMuted && <span className="block text-xs text-sky-600 dark:text-sky-400">Speaking</span>}
            </span>
            {person.handRaised && (
              <span className="text-amber-500" title="Hand raised" aria-label="Hand raised">
                <CallIcon name="hand" className="h-5 w-5" />
              </span>
            )}
            <span className={person.videoMuted ? "text-slate-400" : "text-slate-600 dark:text-slate-300"} title={person.videoMuted ? "Camera off" : "Camera on"}>
              <CallIcon name={person.videoMuted ? "videoOff" : "video"} className="h-5 w-5" />
            </span>
            <span className={person.audioMuted ? "text-red-500" : "text-slate-600 dark:text-slate-300"} title={person.audioMuted ? "Muted" : "Microphone on"}>
              <CallIcon name={person.audioMuted ? "micOff" : "mic"} className="h-5 w-5" />
            </span>
          </li>
        ))}
      </ul>
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
        <button type="button" className="btn-ghost rounded-full border border-slate-300 px-5 dark:border-slate-700" data-testid="meeting-rejoin" onClick={() => meetings.join()}>
          Rejoin
        </button>
        <button type="button" className="btn-primary rounded-full px-5" data-testid="meeting-return" onClick={() => meetings.dismiss()}>
          Return to the chat
        </button>
      </div>
    </div>
  );
}
