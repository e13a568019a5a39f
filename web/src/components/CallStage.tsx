// The in-call screen: the other side's video big (or their avatar), mine small, the timer,
// the connection quality, what the other side sends ("muted", "camera off", "presenting"),
// and the controls: microphone, camera, devices, screen sharing, picture-in-picture, the
// chat beside the video, adding a third person (the call moves to a group's meeting), hang up.
import { type ReactNode, useEffect, useRef, useState } from "react";
import type { Api } from "../lib/api";
import type { CallSnapshot } from "../lib/callClient";
import { type DeviceKind, type QualityReport, canChooseSpeaker, listDevices } from "../lib/callRtc";
import { type CallPhase, formatDuration, mediaBadges } from "../lib/callState";
import type { ChatState } from "../lib/chatStore";
import type { ChatClient } from "../lib/client";
import { CallIcon } from "./CallIcons";
import { AddToCallDialog } from "./Dialogs";
import { MediaVideo, RoundButton, trackKeyOf } from "./CallOverlay";
import { userName } from "./names";
import { Avatar, Menu, type MenuItem } from "./ui";

type InCall = Extract<CallPhase, { kind: "in_call" }>;

export function CallStage({
  api,
  client,
  chat,
  calls,
  children,
}: {
  api: Api;
  client: ChatClient;
  chat: ChatState;
  calls: CallSnapshot;
  /** The conversation of the call, shown beside the video. */
  children: ReactNode;
}) {
  const phase = calls.call.phase as InCall;
  const session = calls.session;
  const selfId = chat.selfId;
  const peerId = phase.call.caller_id === selfId ? phase.call.callee_id : phase.call.caller_id;
  const name = userName(chat, peerId);
  const [now, setNow] = useState(Date.now());
  const [chatOpen, setChatOpen] = useState(() => typeof window !== "undefined" && window.innerWidth >= 1024);
  const [menu, setMenu] = useState<{ kind: DeviceKind; anchor: HTMLElement } | null>(null);
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const remoteVideo = useRef<HTMLVideoElement>(null);
  const remoteAudio = useRef<HTMLAudioElement>(null);
  const [pip, setPip] = useState(false);
  const [adding, setAdding] = useState(false);

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);

  // Remote audio plays from its own element (the video may be hidden in a voice call).
  const remoteKey = trackKeyOf(session?.remoteStream);
  useEffect(() => {
    const audio = remoteAudio.current;
    if (!audio || !session) return;
    audio.srcObject = session.remoteStream;
    void audio.play().catch(() => {});
  }, [session, remoteKey]);

  useEffect(() => {
    const video = remoteVideo.current;
    if (!video) return;
    const enter = () => setPip(true);
    const leave = () => setPip(false);
    video.addEventListener("enterpictureinpicture", enter);
    video.addEventListener("leavepictureinpicture", leave);
    return () => {
      video.removeEventListener("enterpictureinpicture", enter);
      video.removeEventListener("leavepictureinpicture", leave);
    };
  });

  const remote = session?.remoteMedia ?? null;
  const remoteVideoTrack = session?.remoteStream.getVideoTracks().find((track) => track.readyState === "live");
  const remoteSendsVideo = Boolean(remoteVideoTrack) && (remote ? remote.video || remote.screen : phase.call.kind === "video");
  const badges = mediaBadges(remote, phase.call.kind);
  const localVideo = Boolean(session && session.localStream.getVideoTracks().length > 0);
  const quality = session?.quality;
  const elapsed = phase.connectedAt !== null ? Math.floor((now - phase.connectedAt) / 1000) : null;

  const openMenu = async (kind: DeviceKind, anchor: HTMLElement) => {
    setDevices(await listDevices());
    setMenu({ kind, anchor });
  };
  const sinks = () => [remoteAudio.current, remoteVideo.current].filter((el): el is HTMLAudioElement | HTMLVideoElement => Boolean(el));
  const menuItems: MenuItem[] = menu
    ? devices
        .filter((device) => device.kind === menu.kind)
        .map((device, index) => ({
          label: `${session?.chosen[menu.kind] === device.deviceId ? "✓ " : ""}${device.label || `${menu.kind === "videoinput" ? "Camera" : menu.kind === "audioinput" ? "Microphone" : "Speaker"} ${index + 1}`}`,
          onSelect: () => {
            void session
              ?.switchDevice(menu.kind, device.deviceId, sinks())
              .catch((error: Error) => client.toast(error.message || "That device could not be used."));
          },
          testId: "call-device-option",
        }))
    : [];

  const togglePip = async () => {
    try {
      if (document.pictureInPictureElement) await document.exitPictureInPicture();
      else await remoteVideo.current?.requestPictureInPicture();
    } catch {
      client.toast("Picture-in-picture is not available here.");
    }
  };

  const toggleShare = async () => {
    if (!session) return;
    try {
      if (session.sharing) await session.stopSharing();
      else await session.shareScreen();
    } catch (error) {
      if (error instanceof DOMException && error.name === "NotAllowedError") return; // the user said no
      client.toast(error instanceof Error ? error.message : "The screen could not be shared.");
    }
  };

  const toggleCamera = () => {
    if (!session) return;
    void session.setCameraOn(!session.cameraOn).catch((error: Error) => client.toast(error.message));
  };

  return (
    <div className="flex min-h-0 w-full flex-1 bg-slate-950" data-testid="call-screen" data-call-id={phase.call.id} data-connected={phase.connected}>
      <section className="relative flex min-w-0 flex-1 flex-col text-white" aria-label={`Call with ${name}`}>
        {/* The other side. */}
        <div className="relative min-h-0 flex-1 overflow-hidden">
          <MediaVideo
            stream={session?.remoteStream ?? EMPTY}
            trackKey={remoteKey}
            videoRef={remoteVideo}
            testId="call-remote-video"
            className={`absolute inset-0 h-full w-full bg-black object-contain ${remoteSendsVideo ? "" : "invisible"}`}
          />
          {!remoteSendsVideo && (
            <div className="absolute inset-0 flex flex-col items-center justify-center gap-4">
              <Avatar id={peerId} name={name} url={chat.users[peerId]?.avatar_url ?? null} size={128} />
              <span className="text-lg text-slate-300">{name}</span>
            </div>
          )}
          <audio ref={remoteAudio} autoPlay data-testid="call-remote-audio" />

          {/* Top bar: name, timer, quality, the other side's state. */}
          <div className="absolute inset-x-0 top-0 flex items-start gap-3 bg-gradient-to-b from-black/70 to-transparent p-4">
            <div className="min-w-0 flex-1">
              <h2 className="truncate text-lg font-semibold" data-testid="call-peer-name">
                {name}
              </h2>
              <p className="text-sm text-slate-300" data-testid="call-timer" aria-live="off">
                {elapsed !== null ? formatDuration(elapsed) : "Connecting…"}
              </p>
              <div className="mt-1 flex flex-wrap gap-1.5" data-testid="call-remote-state">
                {badges.map((badge) => (
                  <span
                    key={badge}
                    data-testid="call-remote-badge"
                    data-badge={badge}
                    className="rounded-full bg-black/60 px-2.5 py-0.5 text-xs font-medium text-white"
                  >
                    {badge === "muted" ? `${name} is muted` : badge === "presenting" ? `${name} is presenting` : "Camera off"}
                  </span>
                ))}
              </div>
            </div>
            <QualityIndicator quality={quality} />
          </div>

          {/* Me, small. */}
          {localVideo && session && (
            <div className="absolute right-4 bottom-28 w-32 overflow-hidden rounded-xl border border-white/20 bg-black shadow-xl sm:w-48 md:w-56">
              <MediaVideo
                stream={session.localStream}
                trackKey={trackKeyOf(session.localStream)}
                mirrored={!session.sharing}
                testId="call-local-video"
                className="aspect-video w-full object-cover"
              />
              {session.sharing && (
                <span className="absolute bottom-1 left-1 rounded bg-emerald-600 px-1.5 text-[10px] font-semibold">You are presenting</span>
              )}
            </div>
          )}
          {!session?.micOn && (
            <span className="absolute bottom-28 left-4 rounded-full bg-red-600/90 px-3 py-1 text-xs font-medium" data-testid="call-self-muted">
              You are muted
            </span>
          )}
        </div>

        {/* Controls. */}
        <div className="absolute inset-x-0 bottom-0 flex flex-wrap items-center justify-center gap-3 bg-gradient-to-t from-black/80 to-transparent px-3 pt-8 pb-5">
          <ControlWithMenu
            onMenu={(anchor) => void openMenu("audioinput", anchor)}
            menuTestId="call-mic-menu-button"
            menuLabel="Choose microphone"
          >
            <RoundButton
              small
              label={session?.micOn ? "Mute" : "Unmute"}
              pressed={!session?.micOn}
              color={session?.micOn ? "bg-white/15 hover:bg-white/25" : "bg-white text-slate-900! hover:bg-slate-200"}
              testId="call-toggle-mic"
              onClick={() => session?.setMicOn(!session.micOn)}
            >
              <CallIcon name={session?.micOn ? "mic" : "micOff"} className="h-6 w-6" />
            </RoundButton>
          </ControlWithMenu>
          <ControlWithMenu
            onMenu={(anchor) => void openMenu("videoinput", anchor)}
            menuTestId="call-camera-menu-button"
            menuLabel="Choose camera"
          >
            <RoundButton
              small
              label={session?.cameraOn ? "Turn camera off" : "Turn camera on"}
              pressed={!session?.cameraOn}
              color={session?.cameraOn ? "bg-white/15 hover:bg-white/25" : "bg-white text-slate-900! hover:bg-slate-200"}
              testId="call-toggle-camera"
              onClick={toggleCamera}
            >
              <CallIcon name={session?.cameraOn ? "video" : "videoOff"} className="h-6 w-6" />
            </RoundButton>
          </ControlWithMenu>
          {canChooseSpeaker() && (
            <RoundButton
              small
              label="Choose speaker"
              color="bg-white/15 hover:bg-white/25"
              testId="call-speaker-menu-button"
              onClick={() => {
                const anchor = document.querySelector<HTMLElement>("[data-testid=call-speaker-menu-button]");
                if (anchor) void openMenu("audiooutput", anchor);
              }}
            >
              <CallIcon name="speaker" className="h-6 w-6" />
            </RoundButton>
          )}
          <RoundButton
            small
            label={session?.sharing ? "Stop presenting" : "Share screen"}
            pressed={Boolean(session?.sharing)}
            color={session?.sharing ? "bg-emerald-600 hover:bg-emerald-500" : "bg-white/15 hover:bg-white/25"}
            testId="call-share-screen"
            onClick={() => void toggleShare()}
          >
            <CallIcon name={session?.sharing ? "screenOff" : "screen"} className="h-6 w-6" />
          </RoundButton>
          <RoundButton
            small
            label={pip ? "Leave picture-in-picture" : "Picture-in-picture"}
            pressed={pip}
            color="bg-white/15 hover:bg-white/25"
            testId="call-pip"
            onClick={() => void togglePip()}
          >
            <CallIcon name="pip" className="h-6 w-6" />
          </RoundButton>
          <RoundButton
            small
            label={chatOpen ? "Hide chat" : "Show chat"}
            pressed={chatOpen}
            color={chatOpen ? "bg-white/30 hover:bg-white/40" : "bg-white/15 hover:bg-white/25"}
            testId="call-chat-toggle"
            onClick={() => setChatOpen((open) => !open)}
          >
            <CallIcon name="chat" className="h-6 w-6" />
          </RoundButton>
          <RoundButton
            small
            label="Add person"
            color="bg-white/15 hover:bg-white/25"
            testId="call-add-person"
            onClick={() => setAdding(true)}
          >
            <CallIcon name="personAdd" className="h-6 w-6" />
          </RoundButton>
          <RoundButton small label="Hang up" color="bg-red-600 hover:bg-red-500" testId="call-hangup" onClick={() => client.calls.hangup()}>
            <CallIcon name="hangup" className="h-6 w-6" />
          </RoundButton>
        </div>
        <AddToCallDialog open={adding} api={api} client={client} exclude={[selfId, peerId]} onClose={() => setAdding(false)} />
        {menu && (
          <Menu
            label={menu.kind === "audioinput" ? "Microphones" : menu.kind === "videoinput" ? "Cameras" : "Speakers"}
            anchor={menu.anchor}
            align="left"
            items={menuItems.length ? menuItems : [{ label: "No other device", onSelect: () => {} }]}
            onClose={() => setMenu(null)}
          />
        )}
      </section>
      {chatOpen && (
        <aside
          className="fixed inset-0 z-30 flex min-h-0 flex-col bg-white lg:static lg:z-auto lg:w-[400px] lg:shrink-0 lg:border-l lg:border-slate-800 dark:bg-slate-900"
          aria-label="Chat"
          data-testid="call-chat"
        >
          <button
            type="button"
            className="bg-emerald-700 px-3 py-2 text-left text-sm font-medium text-white lg:hidden"
            onClick={() => setChatOpen(false)}
          >
            ← Back to the call
          </button>
          <div className="min-h-0 flex-1">{children}</div>
        </aside>
      )}
    </div>
  );
}

const EMPTY = new MediaStream();

function ControlWithMenu({
  children,
  onMenu,
  menuTestId,
  menuLabel,
}: {
  children: ReactNode;
  onMenu: (anchor: HTMLElement) => void;
  menuTestId: string;
  menuLabel: string;
}) {
  const ref = useRef<HTMLButtonElement>(null);
  return (
    <span className="relative">
      {children}
      <button
        ref={ref}
        type="button"
        aria-label={menuLabel}
        title={menuLabel}
        aria-haspopup="menu"
        data-testid={menuTestId}
        onClick={() => ref.current && onMenu(ref.current)}
        className="absolute -top-1 -right-1 flex h-5 w-5 items-center justify-center rounded-full bg-slate-800 text-white ring-1 ring-white/30 hover:bg-slate-700"
      >
        <CallIcon name="up" className="h-4 w-4" />
      </button>
    </span>
  );
}

function QualityIndicator({ quality }: { quality: QualityReport | undefined }) {
  const level = quality?.level ?? "unknown";
  const bars = level === "good" ? 3 : level === "fair" ? 2 : level === "poor" ? 1 : 0;
  const color = level === "good" ? "bg-emerald-400" : level === "fair" ? "bg-amber-400" : "bg-red-500";
  const details = quality
    ? [
        quality.rttMs !== null ? `RTT ${quality.rttMs} ms` : null,
        quality.loss !== null ? `loss ${(quality.loss * 100).toFixed(1)}%` : null,
        quality.kbps !== null ? `${quality.kbps} kbit/s` : null,
      ]
        .filter(Boolean)
        .join(" · ")
    : "";
  const label = level === "unknown" ? "Connection quality: measuring" : `Connection quality: ${level}${details ? ` (${details})` : ""}`;
  return (
    <div
      className="flex shrink-0 flex-col items-end gap-1 rounded-lg bg-black/50 px-2.5 py-1.5"
      data-testid="call-quality"
      data-level={level}
      data-rtt={quality?.rttMs ?? ""}
      data-candidate={quality?.localCandidateType ?? ""}
      title={label}
      aria-label={label}
      role="img"
    >
      <span className="flex items-end gap-0.5" aria-hidden="true">
        {[1, 2, 3].map((bar) => (
          <span key={bar} className={`w-1 rounded-sm ${bar <= bars ? color : "bg-white/25"}`} style={{ height: 4 + bar * 4 }} />
        ))}
      </span>
      {details && <span className="text-[10px] text-slate-300 tabular-nums">{details}</span>}
    </div>
  );
}
