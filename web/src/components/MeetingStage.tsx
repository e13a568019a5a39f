// In a meeting: the tiles (an auto-sized grid, or one large tile with a strip beside it),
// pages, the active speaker, raised hands, reactions, the connection quality, the panels
// (people, chat) and the controls. The layout is decided by meetingLayout.ts from the
// stage's measured size; the SFU is told how each video is shown.
import { type ReactNode, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { MeetingClient, MeetingSnapshot } from "../lib/meetingClient";
import { type Arrangement, type Tile, arrange, tileBoxes, tileSizes, tilesOf, viewPreferences } from "../lib/meetingLayout";
import { type MeetingQualityReport } from "../lib/meetingRtc";
import { type MeetingState, isHost, selfSessionId } from "../lib/meetingState";
import { raisedHandsText } from "../lib/meetingWords";
import { formatDuration } from "../lib/callState";
import { CallIcon } from "./CallIcons";
import { MeetingControls, type MeetingPanel } from "./MeetingControls";
import { ParticipantsPanel } from "./MeetingPanels";
import { MeetingAudio, MeetingTile } from "./MeetingTile";
import { Spinner } from "./ui";

export function MeetingStage({
  meetings,
  meeting,
  title,
  link,
  selfId,
  selfName,
  toast,
  unread,
  onChatShown,
  children,
}: {
  meetings: MeetingClient;
  meeting: MeetingSnapshot;
  title: string;
  link: string | null;
  selfId: string;
  selfName: string;
  toast: (text: string) => void;
  /** Unread messages of the meeting's chat (a badge on its button). */
  unread: number;
  onChatShown: (shown: boolean) => void;
  /** The meeting's conversation, for the chat panel. */
  children: ReactNode;
}) {
  const state = meeting.state;
  const phase = state.phase;
  const [panel, setPanel] = useState<MeetingPanel>(null);
  const stage = useRef<HTMLDivElement>(null);
  const size = useSize(stage);
  const now = useClock();
  useEffect(() => onChatShown(panel === "chat"), [panel, onChatShown]);
  useEffect(() => () => onChatShown(false), [onChatShown]);

  const { people, screens } = useMemo(() => withSelf(state, selfId, selfName), [state, selfId, selfName]);
  const arrangement = useMemo(
    () =>
      arrange({
        people,
        screens,
        layout: state.layout,
        pinned: state.pinned,
        dominant: state.speakers.dominant,
        page: state.page,
        maxTiles: state.maxTiles,
        width: size.width,
        height: size.height,
      }),
    [people, screens, state.layout, state.pinned, state.speakers.dominant, state.page, state.maxTiles, size.width, size.height],
  );

  // Tell the SFU which videos are shown and how large (changes only; a new seat starts over).
  const preferences = useMemo(() => viewPreferences(arrangement), [arrangement]);
  const preferencesKey = JSON.stringify([...preferences]);
  useEffect(() => {
    if (size.width > 0) meetings.setViews(preferences);
    // The preferences' content, not their identity, and a new seat (peers) matter.
  }, [meetings, preferencesKey, meeting.peers, phase.kind, size.width]);

  // The page the layout settled on (fewer pages after someone left).
  useEffect(() => {
    if (arrangement.page !== state.page) meetings.setPage(arrangement.page);
  }, [arrangement.page, state.page, meetings]);

  const hands = people.filter((t) => t.handRaised && !t.self).map((t) => t.name);
  const handsText = raisedHandsText(hands);
  const joinedAt = phase.kind === "in_meeting" ? phase.joinedAt : null;
  const reconnecting = phase.kind === "reconnecting" || (phase.kind === "joining" && phase.rejoin);
  const joining = phase.kind === "joining" && !phase.rejoin;
  const quality = meeting.peers?.quality ?? null;
  const participantCount = Math.max(1, state.roster.length);

  return (
    <div
      className="flex min-h-0 w-full flex-1 flex-col bg-slate-950 text-white"
      data-testid="meeting-stage"
      data-phase={phase.kind}
      data-layout={arrangement.mode}
      data-page={arrangement.page}
      data-pages={arrangement.pages}
      data-session-id={phase.kind === "in_meeting" ? phase.sessionId : ""}
      data-conversation-id={phase.kind === "idle" ? "" : phase.conversationId}
    >
      <div className="flex min-h-0 flex-1">
        <main className="relative flex min-w-0 flex-1 flex-col px-3 pt-3" aria-label={`Meeting: ${title}`}>
          <div className="mb-2 flex items-center gap-3">
            <h1 className="min-w-0 truncate text-base font-medium" data-testid="meeting-title">
              {title}
            </h1>
            <span className="text-sm text-slate-400 tabular-nums" data-testid="meeting-clock">
              {joinedAt !== null ? formatDuration((now - joinedAt) / 1000) : ""}
            </span>
            {state.locked && (
              <span className="flex items-center gap-1 rounded-full bg-white/10 px-2 py-0.5 text-xs text-slate-300" data-testid="meeting-locked" title="Locked: new people knock">
                Locked
              </span>
            )}
            <span className="flex-1" />
            <MeetingQuality quality={quality} />
          </div>
          {(reconnecting || joining) && (
            <div
              className="absolute top-12 left-1/2 z-20 flex -translate-x-1/2 items-center gap-2 rounded-full bg-amber-500 px-4 py-1.5 text-sm font-medium text-amber-950 shadow-lg"
              role="status"
              data-testid={reconnecting ? "meeting-reconnecting" : "meeting-joining"}
            >
              <Spinner className="h-3.5 w-3.5" />
              {reconnecting ? "Reconnecting to the meeting…" : "Joining…"}
            </div>
          )}
          {handsText && (
            <div
              className="absolute top-12 left-3 z-10 flex items-center gap-2 rounded-full bg-amber-400 px-3 py-1.5 text-sm font-medium text-slate-900 shadow-lg"
              role="status"
              data-testid="meeting-hands-banner"
            >
              <CallIcon name="hand" className="h-4 w-4" />
              {handsText}
            </div>
          )}
          {isHost(phase) && state.waiting.length > 0 && panel !== "people" && (
            <div
              className="absolute top-12 right-3 z-20 flex max-w-sm items-center gap-3 rounded-2xl bg-white px-4 py-3 text-sm text-slate-900 shadow-xl"
              role="alert"
              data-testid="meeting-knock-banner"
            >
              <span className="min-w-0 flex-1">
                <span className="font-medium">{state.waiting[0]!.display_name}</span>
                {state.waiting.length > 1 ? ` and ${state.waiting.length - 1} more want` : " wants"} to join
              </span>
              <button type="button" className="btn-ghost px-2 py-1" onClick={() => setPanel("people")}>
                View
              </button>
              <button
                type="button"
                className="btn-primary rounded-full px-3 py-1"
                data-testid="meeting-knock-admit"
                onClick={() => meetings.host({ kind: "admit", session_id: state.waiting[0]!.session_id })}
              >
                Admit
              </button>
            </div>
          )}
          <div ref={stage} className="relative min-h-0 flex-1" data-testid="meeting-tiles">
            {size.width > 0 && (
              <TilesView arrangement={arrangement} meeting={meeting} meetings={meetings} width={size.width} height={size.height} />
            )}
          </div>
          <Pager arrangement={arrangement} onPage={(page) => meetings.setPage(page)} />
        </main>
        {panel && (
          <aside
            className="fixed inset-0 z-30 flex min-h-0 flex-col bg-white text-slate-900 lg:static lg:z-auto lg:m-3 lg:ml-0 lg:w-[380px] lg:shrink-0 lg:overflow-hidden lg:rounded-2xl dark:bg-slate-900 dark:text-slate-100"
            aria-label={panel === "chat" ? "Meeting chat" : "People"}
            data-testid={panel === "chat" ? "meeting-chat" : "meeting-participants-panel"}
          >
            <div className="flex items-center justify-between border-b border-slate-200 px-4 py-2 dark:border-slate-800">
              <h2 className="font-medium">{panel === "chat" ? "In-call messages" : "People"}</h2>
              <button type="button" className="icon-btn" aria-label="Close the panel" data-testid="meeting-panel-close" onClick={() => setPanel(null)}>
                <span aria-hidden="true" className="text-lg leading-none">×</span>
              </button>
            </div>
            <div className="min-h-0 flex-1">
              {panel === "chat" ? (
                children
              ) : (
                <ParticipantsPanel
                  meetings={meetings}
                  people={people}
                  speaking={state.speakers.speaking}
                  waiting={state.waiting}
                  locked={state.locked}
                  host={isHost(phase)}
                  link={link}
                  toast={toast}
                />
              )}
            </div>
          </aside>
        )}
      </div>
      <MeetingControls
        meetings={meetings}
        meeting={meeting}
        title={title}
        now={now}
        panel={panel}
        onPanel={setPanel}
        participantCount={participantCount}
        unread={unread}
      />
      <MeetingAudio meeting={meeting} />
    </div>
  );
}

/** The roster's tiles, with ours from our own devices while the roster does not list us
 * (joining, reconnecting). */
function withSelf(state: MeetingState, selfId: string, selfName: string): { people: Tile[]; screens: Tile[] } {
  const sessionId = selfSessionId(state.phase);
  const { people, screens } = tilesOf(state.roster, sessionId);
  if (!people.some((t) => t.self)) {
    people.unshift({
      key: sessionId ?? "self",
      kind: "camera",
      sessionId: sessionId ?? "self",
      userId: selfId,
      name: selfName,
      self: true,
      streamId: null,
      audioMuted: state.local.audioMuted,
      videoMuted: state.local.videoMuted,
      handRaised: state.local.handRaised,
      host: isHost(state.phase),
    });
  }
  // Our own screen shows as soon as we present, before the roster lists it.
  if (state.local.sharing && !screens.some((t) => t.self)) {
    const self = people.find((t) => t.self)!;
    screens.push({ ...self, key: `${self.sessionId}~screen`, kind: "screen", streamId: null, videoMuted: false });
  }
  return { people, screens };
}

function TilesView({
  arrangement,
  meeting,
  meetings,
  width,
  height,
}: {
  arrangement: Arrangement;
  meeting: MeetingSnapshot;
  meetings: MeetingClient;
  width: number;
  height: number;
}) {
  const state = meeting.state;
  const sizes = tileSizes(arrangement);
  const boxes = tileBoxes(arrangement, width, height);
  const speaking = new Set(state.speakers.speaking);
  const shown = [...(arrangement.main ? [arrangement.main] : []), ...arrangement.tiles];
  // One container and stable keys: a tile moving between the grid, the strip and the large
  // place keeps its video element (and its picture).
  return (
    <div
      className="absolute inset-0"
      data-testid="meeting-grid"
      data-cols={arrangement.main ? "" : arrangement.shape.cols}
      data-rows={arrangement.main ? "" : arrangement.shape.rows}
    >
      {shown.map((t) => {
        const box = boxes.get(t.key) ?? { x: 0, y: 0, width: 0, height: 0 };
        return (
          <MeetingTile
            key={t.key}
            tile={t}
            meeting={meeting}
            size={sizes.get(t.key) ?? "small"}
            box={box}
            place={arrangement.main?.key === t.key ? "main" : arrangement.main ? "strip" : "grid"}
            speaking={t.kind === "camera" && speaking.has(t.sessionId)}
            pinned={state.pinned === t.key}
            reactions={t.kind === "camera" ? state.reactions.filter((r) => r.sessionId === t.sessionId) : []}
            onPin={(key) => meetings.pin(key)}
          />
        );
      })}
    </div>
  );
}

function Pager({ arrangement, onPage }: { arrangement: Arrangement; onPage: (page: number) => void }) {
  if (arrangement.pages <= 1) return <div className="h-2" />;
  const { page, pages } = arrangement;
  return (
    <div className="flex items-center justify-center gap-3 py-1.5" data-testid="meeting-pager">
      <button
        type="button"
        className="flex h-8 w-8 items-center justify-center rounded-full bg-white/10 hover:bg-white/20 disabled:opacity-30"
        aria-label="Previous page"
        data-testid="meeting-page-prev"
        disabled={page === 0}
        onClick={() => onPage(page - 1)}
      >
        <CallIcon name="left" className="h-5 w-5" />
      </button>
      <span className="text-sm text-slate-300 tabular-nums" data-testid="meeting-page-label">
        {page + 1} / {pages}
      </span>
      <button
        type="button"
        className="flex h-8 w-8 items-center justify-center rounded-full bg-white/10 hover:bg-white/20 disabled:opacity-30"
        aria-label="Next page"
        data-testid="meeting-page-next"
        disabled={page >= pages - 1}
        onClick={() => onPage(page + 1)}
      >
        <CallIcon name="right" className="h-5 w-5" />
      </button>
    </div>
  );
}

function MeetingQuality({ quality }: { quality: MeetingQualityReport | null }) {
  const level = quality?.level ?? "unknown";
  const bars = level === "good" ? 3 : level === "fair" ? 2 : level === "poor" ? 1 : 0;
  const color = level === "good" ? "bg-emerald-400" : level === "fair" ? "bg-amber-400" : "bg-red-500";
  const details = quality
    ? [
        quality.rttMs !== null ? `RTT ${quality.rttMs} ms` : null,
        quality.loss !== null ? `loss ${(quality.loss * 100).toFixed(1)}%` : null,
        quality.outgoingKbps !== null ? `up to ${quality.outgoingKbps} kbit/s out` : null,
      ]
        .filter(Boolean)
        .join(" · ")
    : "";
  const label = level === "unknown" ? "Connection quality: measuring" : `Connection quality: ${level}${details ? ` (${details})` : ""}`;
  return (
    <div
      className="flex items-center gap-2 rounded-lg bg-white/5 px-2.5 py-1"
      data-testid="meeting-quality"
      data-level={level}
      data-rtt={quality?.rttMs ?? ""}
      data-loss={quality?.loss ?? ""}
      data-bitrate={quality?.outgoingKbps ?? ""}
      title={label}
      aria-label={label}
      role="img"
    >
      <span className="flex items-end gap-0.5" aria-hidden="true">
        {[1, 2, 3].map((bar) => (
          <span key={bar} className={`w-1 rounded-sm ${bar <= bars ? color : "bg-white/25"}`} style={{ height: 4 + bar * 4 }} />
        ))}
      </span>
      {details && <span className="hidden text-[11px] text-slate-400 tabular-nums sm:inline">{details}</span>}
    </div>
  );
}

/** The element's content box, kept up to date. */
function useSize(ref: React.RefObject<HTMLElement | null>): { width: number; height: number } {
  const [size, setSize] = useState({ width: 0, height: 0 });
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    const measure = () => {
      const width = Math.floor(element.clientWidth);
      const height = Math.floor(element.clientHeight);
      setSize((old) => (old.width === width && old.height === height ? old : { width, height }));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return size;
}

function useClock(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}
