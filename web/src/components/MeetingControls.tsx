// The meeting's control bar: microphone and camera (with their device menus), presenting,
// raising a hand, reactions, the layout, the people and chat panels, and leaving.
import { type ReactNode, useEffect, useRef, useState } from "react";
import type { MeetingClient, MeetingSnapshot } from "../lib/meetingClient";
import type { MeetingDeviceKind } from "../lib/meetingDevices";
import { TILE_CHOICES } from "../lib/meetingState";
import { CallIcon, type CallIconName } from "./CallIcons";
import { canChooseSpeaker, useDevices } from "./MeetingLobby";
import { Menu, type MenuItem } from "./ui";

export type MeetingPanel = "people" | "chat" | null;

export const REACTION_EMOJI = ["💖", "👍", "🎉", "👏", "😂", "😮", "😢", "🤔", "👎"] as const;

export function MeetingControls({
  meetings,
  meeting,
  title,
  now,
  panel,
  onPanel,
  participantCount,
  unread,
}: {
  meetings: MeetingClient;
  meeting: MeetingSnapshot;
  title: string;
  now: number;
  panel: MeetingPanel;
  onPanel: (panel: MeetingPanel) => void;
  participantCount: number;
  unread: number;
}) {
  const state = meeting.state;
  const local = meeting.local;
  const inMeeting = state.phase.kind === "in_meeting";
  const sharing = state.local.sharing;
  const cameraOn = local.cameraOn && Boolean(local.camera);
  const [menu, setMenu] = useState<{ kind: MeetingDeviceKind | "more"; anchor: HTMLElement } | null>(null);
  const [reactionsOpen, setReactionsOpen] = useState(false);
  const picker = useRef<HTMLDivElement>(null);
  const reactionsButton = useRef<HTMLSpanElement>(null);
  // The reactions stay open for a burst of them; a click elsewhere closes them.
  useEffect(() => {
    if (!reactionsOpen) return;
    const onPointer = (event: PointerEvent) => {
      const target = event.target as Node;
      if (!picker.current?.contains(target) && !reactionsButton.current?.contains(target)) setReactionsOpen(false);
    };
    document.addEventListener("pointerdown", onPointer, true);
    return () => document.removeEventListener("pointerdown", onPointer, true);
  }, [reactionsOpen]);
  const devices = useDevices(local.opened);
  const clock = new Date(now).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  const deviceItems = (kind: MeetingDeviceKind): MenuItem[] => {
    const list = devices.filter((device) => device.kind === kind && device.deviceId);
    if (!list.length) return [{ label: "No other device", onSelect: () => {} }];
    const noun = kind === "videoinput" ? "Camera" : kind === "audioinput" ? "Microphone" : "Speaker";
    return list.map((device, index) => ({
      label: `${local.chosen[kind] === device.deviceId ? "✓ " : ""}${device.label || `${noun} ${index + 1}`}`,
      onSelect: () => void meetings.switchDevice(kind, device.deviceId),
      testId: "meeting-device-option",
    }));
  };
  const moreButton = useRef<HTMLButtonElement>(null);
  const openSpeakerMenu = () => {
    if (moreButton.current) setMenu({ kind: "audiooutput", anchor: moreButton.current });
  };
  const moreItems: MenuItem[] = [
    {
      label: state.layout === "speaker" ? "Show everyone in a grid" : "Show the speaker large",
      onSelect: () => meetings.setLayout(state.layout === "speaker" ? "grid" : "speaker"),
      testId: "meeting-layout-option",
    },
    ...(inMeeting
      ? [{ label: state.local.handRaised ? "Lower hand" : "Raise hand", onSelect: () => meetings.setHandRaised(!state.local.handRaised) }]
      : []),
    ...(canChooseSpeaker() ? [{ label: "Choose speaker…", onSelect: () => openSpeakerMenu(), testId: "meeting-speaker-menu" }] : []),
    ...TILE_CHOICES.map((n) => ({
      label: `${state.maxTiles === n ? "✓ " : ""}Up to ${n} tiles a page`,
      onSelect: () => meetings.setMaxTiles(n),
      testId: "meeting-tiles-option",
    })),
  ];

  const toggleShare = () => {
    if (sharing) void meetings.stopSharing();
    else void meetings.shareScreen().catch((error: Error) => console.warn("meeting: presenting failed", error));
  };

  return (
    <footer className="relative flex items-center gap-3 px-4 pt-1 pb-4" aria-label="Meeting controls">
      <div className="hidden min-w-0 flex-1 items-center gap-2 text-sm text-slate-300 md:flex">
        <span className="tabular-nums">{clock}</span>
        <span aria-hidden="true">|</span>
        <span className="truncate">{title}</span>
      </div>
      <div className="flex flex-1 flex-wrap items-center justify-center gap-2 md:flex-none">
        <WithMenu label="Choose microphone" testId="meeting-mic-menu-button" onMenu={(anchor) => setMenu({ kind: "audioinput", anchor })}>
          <Control
            icon={local.micOn ? "mic" : "micOff"}
            label={local.micOn ? "Turn off microphone" : "Turn on microphone"}
            testId="meeting-toggle-mic"
            pressed={!local.micOn}
            danger={!local.micOn}
            onClick={() => meetings.toggleMic()}
          />
        </WithMenu>
        <WithMenu label="Choose camera" testId="meeting-camera-menu-button" onMenu={(anchor) => setMenu({ kind: "videoinput", anchor })}>
          <Control
            icon={cameraOn ? "video" : "videoOff"}
            label={cameraOn ? "Turn off camera" : "Turn on camera"}
            testId="meeting-toggle-camera"
            pressed={!cameraOn}
            danger={!cameraOn}
            onClick={() => void meetings.toggleCamera()}
          />
        </WithMenu>
        <Control
          icon={sharing ? "screenOff" : "screen"}
          label={sharing ? "Stop presenting" : "Present your screen"}
          testId="meeting-share-screen"
          pressed={sharing}
          active={sharing}
          disabled={!inMeeting}
          onClick={toggleShare}
        />
        <span className="hidden sm:block">
          <Control
            icon="hand"
            label={state.local.handRaised ? "Lower hand" : "Raise hand"}
            testId="meeting-raise-hand"
            pressed={state.local.handRaised}
            active={state.local.handRaised}
            disabled={!inMeeting}
            onClick={() => meetings.setHandRaised(!state.local.handRaised)}
          />
        </span>
        <span ref={reactionsButton}>
          <Control
            icon="emoji"
            label="Send a reaction"
            testId="meeting-reactions-button"
            pressed={reactionsOpen}
            disabled={!inMeeting}
            onClick={() => setReactionsOpen((open) => !open)}
          />
        </span>
        <span className="hidden sm:block">
          <Control
            icon={state.layout === "speaker" ? "grid" : "spotlight"}
            label={state.layout === "speaker" ? "Show everyone in a grid" : "Show the speaker large"}
            testId="meeting-layout-toggle"
            pressed={state.layout === "speaker"}
            onClick={() => meetings.setLayout(state.layout === "speaker" ? "grid" : "speaker")}
          />
        </span>
        <span>
          <button
            ref={moreButton}
            type="button"
            aria-label="More options"
            title="More options"
            aria-haspopup="menu"
            data-testid="meeting-more-button"
            onClick={(event) => setMenu({ kind: "more", anchor: event.currentTarget })}
            className="flex h-11 w-11 items-center justify-center rounded-full bg-slate-700 text-white hover:bg-slate-600"
          >
            <CallIcon name="more" className="h-5 w-5" />
          </button>
        </span>
        <button
          type="button"
          aria-label="Leave the meeting"
          title="Leave the meeting"
          data-testid="meeting-leave"
          onClick={() => meetings.leave()}
          className="flex h-11 w-16 items-center justify-center rounded-full bg-red-600 text-white hover:bg-red-500"
        >
          <CallIcon name="hangup" className="h-6 w-6" />
        </button>
      </div>
      <div className="flex flex-1 items-center justify-end gap-1">
        <PanelButton
          icon="people"
          label="People"
          testId="meeting-participants-toggle"
          active={panel === "people"}
          badge={String(participantCount)}
          badgeTestId="meeting-participant-count"
          onClick={() => onPanel(panel === "people" ? null : "people")}
        />
        <PanelButton
          icon="chat"
          label="Chat with everyone"
          testId="meeting-chat-toggle"
          active={panel === "chat"}
          badge={unread > 0 && panel !== "chat" ? String(unread) : null}
          onClick={() => onPanel(panel === "chat" ? null : "chat")}
        />
      </div>
      {reactionsOpen && (
        <div
          className="absolute bottom-full left-1/2 z-30 flex max-w-[calc(100%-1rem)] -translate-x-1/2 flex-wrap justify-center gap-1 rounded-3xl bg-slate-800 px-2 py-1.5 shadow-xl"
          role="toolbar"
          aria-label="Reactions"
          data-testid="meeting-reaction-picker"
          ref={picker}
          onKeyDown={(event) => event.key === "Escape" && setReactionsOpen(false)}
        >
          {REACTION_EMOJI.map((emoji) => (
            <button
              key={emoji}
              type="button"
              className="flex h-10 w-10 items-center justify-center rounded-full text-2xl transition-transform hover:scale-125 hover:bg-white/10"
              aria-label={`React ${emoji}`}
              data-testid="meeting-send-reaction"
              data-emoji={emoji}
              onClick={() => meetings.react(emoji)}
            >
              {emoji}
            </button>
          ))}
        </div>
      )}
      {menu && (
        <Menu
          label={menu.kind === "more" ? "More options" : menu.kind === "audioinput" ? "Microphones" : menu.kind === "videoinput" ? "Cameras" : "Speakers"}
          anchor={menu.anchor}
          align="left"
          items={menu.kind === "more" ? moreItems : deviceItems(menu.kind)}
          onClose={() => setMenu(null)}
        />
      )}
    </footer>
  );
}

function Control({
  icon,
  label,
  testId,
  onClick,
  pressed,
  danger = false,
  active = false,
  disabled = false,
}: {
  icon: CallIconName;
  label: string;
  testId: string;
  onClick: () => void;
  pressed?: boolean;
  danger?: boolean;
  active?: boolean;
  disabled?: boolean;
}) {
  const color = danger ? "bg-red-600 hover:bg-red-500" : active ? "bg-sky-300 text-slate-900! hover:bg-sky-200" : "bg-slate-700 hover:bg-slate-600";
  return (
    <button
      type="button"
      aria-label={label}
      title={label}
      aria-pressed={pressed}
      data-testid={testId}
      disabled={disabled}
      onClick={onClick}
      className={`flex h-11 w-11 items-center justify-center rounded-full text-white transition-colors disabled:cursor-not-allowed disabled:opacity-40 ${color}`}
    >
      <CallIcon name={icon} className="h-5 w-5" />
    </button>
  );
}

function WithMenu({ children, label, testId, onMenu }: { children: ReactNode; label: string; testId: string; onMenu: (anchor: HTMLElement) => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  return (
    <span className="relative">
      {children}
      <button
        ref={ref}
        type="button"
        aria-label={label}
        title={label}
        aria-haspopup="menu"
        data-testid={testId}
        onClick={() => ref.current && onMenu(ref.current)}
        className="absolute -top-1 -right-1 flex h-5 w-5 items-center justify-center rounded-full bg-slate-900 text-white ring-1 ring-white/30 hover:bg-slate-700"
      >
        <CallIcon name="up" className="h-4 w-4" />
      </button>
    </span>
  );
}

function PanelButton({
  icon,
  label,
  testId,
  active,
  badge,
  badgeTestId,
  onClick,
}: {
  icon: CallIconName;
  label: string;
  testId: string;
  active: boolean;
  badge: string | null;
  badgeTestId?: string;
  onClick: () => void;
}) {
  return (
    <button
      type="button"
      aria-label={label}
      title={label}
      aria-pressed={active}
      data-testid={testId}
      onClick={onClick}
      className={`relative flex h-11 w-11 items-center justify-center rounded-full transition-colors ${active ? "bg-sky-300 text-slate-900" : "text-white hover:bg-white/10"}`}
    >
      <CallIcon name={icon} className="h-5 w-5" />
      {badge && (
        <span
          className="absolute -top-0.5 -right-0.5 flex h-5 min-w-5 items-center justify-center rounded-full bg-slate-600 px-1 text-[11px] font-semibold text-white"
          data-testid={badgeTestId}
        >
          {badge}
        </span>
      )}
    </button>
  );
}

