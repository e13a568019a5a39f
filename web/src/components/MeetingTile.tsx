// One tile of a meeting (a person's camera, or a screen share), the reactions floating
// over it, and the hidden audio elements that play everyone's microphone whichever page
// their tile is on.
import { useEffect, useMemo, useRef } from "react";
import type { Box, Tile, TileSize } from "../lib/meetingLayout";
import type { MeetingSnapshot } from "../lib/meetingClient";
import type { Reaction } from "../lib/meetingState";
import { CallIcon } from "./CallIcons";
import { MediaVideo, trackKeyOf } from "./CallOverlay";
import { Avatar } from "./ui";

/** The video track a tile shows: our own camera or screen from the devices, anyone
 * else's from the subscribe connection (null while there is none to show). */
export function tileTrack(tile: Tile, meeting: MeetingSnapshot): MediaStreamTrack | null {
  if (tile.self) {
    if (tile.kind === "screen") return meeting.screen;
    return meeting.local.cameraOn ? meeting.local.camera : null;
  }
  if (tile.videoMuted || !tile.streamId) return null;
  const stream = meeting.peers?.streams.get(tile.streamId);
  // The newest live track with frames: after the publisher renewed its camera the old one
  // lingers, muted, until the SFU's next offer removes it. A muted track has no frames yet
  // (or the SFU paused it): the avatar is better.
  const tracks = stream?.getVideoTracks().filter((t) => t.readyState === "live" && !t.muted) ?? [];
  return tracks[tracks.length - 1] ?? null;
}

export function MeetingTile({
  tile,
  meeting,
  size,
  box,
  place,
  speaking,
  pinned,
  reactions,
  onPin,
}: {
  tile: Tile;
  meeting: MeetingSnapshot;
  size: TileSize;
  /** Where in the stage, in its pixels. */
  box: Box;
  place: "grid" | "main" | "strip";
  speaking: boolean;
  pinned: boolean;
  reactions: Reaction[];
  onPin: (key: string | null) => void;
}) {
  const track = tileTrack(tile, meeting);
  // One stream per track (a new MediaStream each render would restart the video).
  const video = useMemo(() => (track ? new MediaStream([track]) : null), [track]);
  const isScreen = tile.kind === "screen";
  const audioMuted = tile.self && tile.kind === "camera" ? !meeting.local.micOn : tile.audioMuted;
  const hand = tile.kind === "camera" && (tile.self ? meeting.state.local.handRaised : tile.handRaised);
  const label = isScreen ? (tile.self ? "You are presenting" : `${tile.name} is presenting`) : tile.self ? `${tile.name} (You)` : tile.name;
  const avatarSize = Math.max(32, Math.min(112, Math.round(Math.min(box.width, box.height) * 0.4)));
  return (
    <div
      data-testid="meeting-tile"
      data-key={tile.key}
      data-session-id={tile.sessionId}
      data-stream-id={tile.streamId ?? ""}
      data-kind={tile.kind}
      data-self={tile.self}
      data-video={video ? "on" : "off"}
      data-audio-muted={audioMuted}
      data-speaking={speaking}
      data-hand={hand}
      data-size={size}
      data-place={place}
      className={`group absolute overflow-hidden rounded-xl transition-[left,top,width,height] duration-200 ${isScreen ? "bg-black" : "bg-slate-800"} ${
        speaking && !isScreen ? "ring-4 ring-sky-400" : "ring-1 ring-white/5"
      }`}
      style={{ left: box.x, top: box.y, width: box.width, height: box.height }}
      role="group"
      aria-label={`${label}${audioMuted && !isScreen ? ", muted" : ""}${hand ? ", hand raised" : ""}`}
    >
      {/* The avatar underneath: it shows until the video paints its first frame. */}
      <div className="absolute inset-0 flex items-center justify-center">
        {isScreen ? (
          <span className="text-sm text-slate-400">Waiting for the screen…</span>
        ) : (
          <Avatar id={tile.userId} name={tile.name} size={avatarSize} />
        )}
      </div>
      {video && (
        <MediaVideo
          stream={video}
          trackKey={trackKeyOf(video)}
          mirrored={tile.self && !isScreen}
          testId="meeting-tile-video"
          className={`absolute inset-0 h-full w-full ${isScreen ? "object-contain" : "object-cover"}`}
        />
      )}
      {hand && (
        <span
          className="absolute top-2 left-2 flex h-8 w-8 items-center justify-center rounded-full bg-amber-400 text-slate-900 shadow"
          data-testid="meeting-tile-hand"
          title="Hand raised"
        >
          <CallIcon name="hand" className="h-4.5 w-4.5" />
        </span>
      )}
      <div className="absolute inset-x-0 bottom-0 flex items-center gap-1.5 bg-gradient-to-t from-black/70 to-transparent px-2.5 pt-6 pb-1.5">
        {audioMuted && !isScreen && (
          <span className="flex h-6 w-6 shrink-0 items-center justify-center rounded-full bg-slate-900/70" data-testid="meeting-tile-muted" title="Muted">
            <CallIcon name="micOff" className="h-3.5 w-3.5 text-white" />
          </span>
        )}
        <span className="min-w-0 truncate text-sm font-medium text-white drop-shadow" data-testid="meeting-tile-name">
          {label}
        </span>
      </div>
      <button
        type="button"
        onClick={() => onPin(pinned ? null : tile.key)}
        aria-label={pinned ? `Unpin ${label}` : `Pin ${label}`}
        title={pinned ? "Unpin" : "Pin"}
        aria-pressed={pinned}
        data-testid="meeting-tile-pin"
        className={`absolute top-2 right-2 flex h-8 w-8 items-center justify-center rounded-full bg-slate-900/60 text-white transition-opacity hover:bg-slate-900/80 focus:opacity-100 ${
          pinned ? "opacity-100" : "opacity-0 group-hover:opacity-100"
        }`}
      >
        <CallIcon name="pin" className="h-4 w-4" />
      </button>
      {reactions.length > 0 && <FloatingReactions reactions={reactions} />}
    </div>
  );
}

/** Emoji rising from the bottom of the sender's tile and fading. */
function FloatingReactions({ reactions }: { reactions: Reaction[] }) {
  return (
    <div className="pointer-events-none absolute inset-0 overflow-hidden" aria-hidden="true">
      {reactions.map((reaction) => (
        <span
          key={reaction.id}
          data-testid="meeting-reaction"
          data-emoji={reaction.emoji}
          className="meeting-reaction absolute bottom-3 text-4xl"
          style={{ left: `${15 + ((reaction.id * 37) % 65)}%` }}
        >
          {reaction.emoji}
        </span>
      ))}
    </div>
  );
}

/** Plays every remote microphone (a stream per participant), on the chosen speaker. */
export function MeetingAudio({ meeting }: { meeting: MeetingSnapshot }) {
  const streams = [...(meeting.peers?.streams.values() ?? [])].filter((stream) => stream.getAudioTracks().length > 0);
  const sink = meeting.local.chosen.audiooutput;
  return (
    <div hidden>
      {streams.map((stream) => (
        <RemoteAudio key={stream.id} stream={stream} sinkId={sink} />
      ))}
    </div>
  );
}

function RemoteAudio({ stream, sinkId }: { stream: MediaStream; sinkId: string | null }) {
  const ref = useRef<HTMLAudioElement>(null);
  const key = trackKeyOf(stream);
  useEffect(() => {
    const audio = ref.current;
    if (!audio) return;
    if (audio.srcObject !== stream) audio.srcObject = stream;
    void audio.play().catch(() => {});
  }, [stream, key]);
  useEffect(() => {
    const audio = ref.current as (HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> }) | null;
    if (audio && sinkId && audio.setSinkId) void audio.setSinkId(sinkId).catch(() => {});
  }, [sinkId]);
  return <audio ref={ref} autoPlay data-testid="meeting-audio" data-stream-id={stream.id} />;
}
