// The call screens around the call itself: calling ("Ringing…", cancel), the incoming
// call (accept with video, audio only, decline), connecting, and the short end screen
// ("No answer", "Call ended · 4:12"). The in-call screen is CallStage.tsx.
import { useEffect, useRef } from "react";
import type { CallSnapshot } from "../lib/callClient";
import { type CallPhase, endText, outgoingText } from "../lib/callState";
import type { ChatClient } from "../lib/client";
import type { ChatState } from "../lib/chatStore";
import { CallIcon } from "./CallIcons";
import { userName } from "./names";
import { Avatar } from "./ui";

/** A <video> showing a MediaStream whose tracks may change. */
export function MediaVideo({
  stream,
  trackKey,
  muted = true,
  mirrored = false,
  className = "",
  testId,
  videoRef,
}: {
  stream: MediaStream;
  /** Changes when the stream's tracks change (re-attaches the element). */
  trackKey: string;
  muted?: boolean;
  mirrored?: boolean;
  className?: string;
  testId?: string;
  videoRef?: React.RefObject<HTMLVideoElement | null>;
}) {
  const own = useRef<HTMLVideoElement>(null);
  const ref = videoRef ?? own;
  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    if (video.srcObject !== stream) video.srcObject = stream;
    else {
      // The tracks changed: nudge the element to pick them up.
      video.srcObject = null;
      video.srcObject = stream;
    }
    void video.play().catch(() => {});
  }, [stream, trackKey, ref]);
  return (
    <video
      ref={ref}
      autoPlay
      playsInline
      muted={muted}
      data-testid={testId}
      className={`${className} ${mirrored ? "-scale-x-100" : ""}`}
    />
  );
}

export function trackKeyOf(stream: MediaStream | undefined | null): string {
  return stream ? stream.getTracks().map((track) => track.id).join(",") : "";
}

function peerOf(phase: CallPhase, selfId: string): string | null {
  switch (phase.kind) {
    case "placing":
      return phase.peerId;
    case "outgoing":
    case "incoming":
    case "answering":
    case "in_call":
      return phase.call.caller_id === selfId ? phase.call.callee_id : phase.call.caller_id;
    case "ended":
      return phase.peerId;
    default:
      return null;
  }
}

/** Everything but the in-call screen, over whatever the app shows. */
export function CallLayer({ client, chat, calls }: { client: ChatClient; chat: ChatState; calls: CallSnapshot }) {
  const phase = calls.call.phase;
  const selfId = chat.selfId;
  const peerId = peerOf(phase, selfId);
  const name = peerId ? userName(chat, peerId) : "";
  const avatarUrl = peerId ? (chat.users[peerId]?.avatar_url ?? null) : null;
  if (phase.kind === "idle" || phase.kind === "in_call" || !peerId) return null;

  if (phase.kind === "incoming") {
    const video = phase.call.kind === "video";
    return (
      <div className="fixed inset-0 z-40 flex items-end justify-center bg-slate-950/60 p-4 backdrop-blur-sm sm:items-center">
        <section
          role="alertdialog"
          aria-label={`Incoming ${phase.call.kind} call from ${name}`}
          data-testid="call-incoming"
          data-call-id={phase.call.id}
          data-kind={phase.call.kind}
          className="w-full max-w-sm rounded-3xl bg-slate-900 px-6 pt-8 pb-6 text-center text-white shadow-2xl"
        >
          <div className="mx-auto mb-4 w-fit animate-pulse rounded-full ring-4 ring-emerald-500/40">
            <Avatar id={peerId} name={name} url={avatarUrl} size={96} />
          </div>
          <h2 className="text-xl font-semibold" data-testid="call-peer-name">
            {name}
          </h2>
          <p className="mt-1 text-sm text-slate-300" data-testid="call-status">
            Incoming {video ? "video" : "voice"} call…
          </p>
          <div className="mt-8 flex items-start justify-center gap-6">
            <RoundButton label="Decline" color="bg-red-600 hover:bg-red-500" testId="call-decline" onClick={() => client.calls.decline()}>
              <CallIcon name="hangup" className="h-7 w-7" />
            </RoundButton>
            {video && (
              <RoundButton
                label="Audio only"
                color="bg-slate-700 hover:bg-slate-600"
                testId="call-accept-audio"
                onClick={() => client.calls.accept(false)}
              >
                <CallIcon name="phone" className="h-7 w-7" />
              </RoundButton>
            )}
            <RoundButton
              label={video ? "Accept video" : "Accept"}
              color="bg-emerald-600 hover:bg-emerald-500"
              testId={video ? "call-accept-video" : "call-accept-audio"}
              onClick={() => client.calls.accept(video)}
              autoFocus
            >
              <CallIcon name={video ? "video" : "phone"} className="h-7 w-7" />
            </RoundButton>
          </div>
        </section>
      </div>
    );
  }

  const session = calls.session;
  const showPreview =
    (phase.kind === "placing" || phase.kind === "outgoing") && session && session.localStream.getVideoTracks().length > 0;
  const ended = phase.kind === "ended" ? phase : null;
  const status =
    phase.kind === "answering" ? "Connecting…" : ended ? endText(ended) : outgoingText(phase);
  const callKind = phase.kind === "placing" ? phase.callKind : phase.kind === "ended" ? phase.callKind : phase.call.kind;

  return (
    <div
      className="fixed inset-0 z-40 flex flex-col items-center justify-center overflow-hidden bg-slate-950 text-white"
      data-testid={ended ? "call-ended" : phase.kind === "answering" ? "call-connecting" : "call-outgoing"}
      data-outcome={ended ? (ended.reason ? "failed" : ended.outcome) : undefined}
      data-call-id={phase.kind === "ended" ? (phase.callId ?? "") : phase.kind === "placing" ? "" : phase.call.id}
      role="dialog"
      aria-label={`${callKind === "video" ? "Video" : "Voice"} call with ${name}`}
    >
      {showPreview && (
        <MediaVideo
          stream={session.localStream}
          trackKey={trackKeyOf(session.localStream) + calls.version}
          mirrored
          className="absolute inset-0 h-full w-full object-cover opacity-40"
          testId="call-local-video"
        />
      )}
      <div className="relative flex flex-col items-center px-6 text-center">
        <Avatar id={peerId} name={name} url={avatarUrl} size={112} />
        <h2 className="mt-5 text-2xl font-semibold" data-testid="call-peer-name">
          {name}
        </h2>
        <p className={`mt-2 text-base ${ended && ended.outcome !== "ended" ? "text-red-300" : "text-slate-300"}`} data-testid={ended ? "call-end-text" : "call-status"} aria-live="polite">
          {status}
        </p>
        {!ended && (
          <p className="mt-1 text-xs tracking-wide text-slate-400 uppercase">
            {callKind === "video" ? "Video call" : "Voice call"} · end-to-end between your browsers
          </p>
        )}
      </div>
      <div className="relative mt-14 flex gap-8">
        {ended ? (
          <>
            <RoundButton label="Close" color="bg-slate-700 hover:bg-slate-600" testId="call-close" onClick={() => client.calls.dismiss()}>
              <svg viewBox="0 0 24 24" className="h-7 w-7" fill="currentColor" aria-hidden="true">
                <path d="M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z" />
              </svg>
            </RoundButton>
            <RoundButton
              label="Call again"
              color="bg-emerald-600 hover:bg-emerald-500"
              testId="call-again"
              onClick={() => {
                client.calls.dismiss();
                client.calls.call(ended.conversationId, ended.peerId, ended.callKind);
              }}
            >
              <CallIcon name={ended.callKind === "video" ? "video" : "phone"} className="h-7 w-7" />
            </RoundButton>
          </>
        ) : (
          <RoundButton label="Cancel" color="bg-red-600 hover:bg-red-500" testId="call-cancel" onClick={() => client.calls.hangup()}>
            <CallIcon name="hangup" className="h-7 w-7" />
          </RoundButton>
        )}
      </div>
    </div>
  );
}

export function RoundButton({
  label,
  color,
  testId,
  onClick,
  children,
  pressed,
  autoFocus,
  small = false,
}: {
  label: string;
  color: string;
  testId: string;
  onClick: () => void;
  children: React.ReactNode;
  pressed?: boolean;
  autoFocus?: boolean;
  small?: boolean;
}) {
  return (
    <span className="flex flex-col items-center gap-2">
      <button
        type="button"
        aria-label={label}
        title={label}
        aria-pressed={pressed}
        data-testid={testId}
        autoFocus={autoFocus}
        onClick={onClick}
        className={`flex ${small ? "h-12 w-12" : "h-16 w-16"} items-center justify-center rounded-full text-white shadow-lg transition-colors ${color}`}
      >
        {children}
      </button>
      {!small && <span className="text-xs text-slate-300">{label}</span>}
    </span>
  );
}
