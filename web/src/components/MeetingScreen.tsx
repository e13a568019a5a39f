// The meeting screen in place of the chat: the lobby, the meeting itself, or the screen
// after leaving. The meeting's conversation is passed in for the chat panel.
import type { ReactNode } from "react";
import type { ConversationState } from "../lib/chatStore";
import type { MeetingClient, MeetingSnapshot } from "../lib/meetingClient";
import { MeetingLobby, meetingLink } from "./MeetingLobby";
import { MeetingLeftScreen, MeetingWaitingScreen } from "./MeetingPanels";
import { MeetingStage } from "./MeetingStage";
import { CallIcon } from "./CallIcons";

export function MeetingScreen({
  meetings,
  meeting,
  conversation,
  title,
  selfId,
  selfName,
  toast,
  onChatShown,
  children,
}: {
  meetings: MeetingClient;
  meeting: MeetingSnapshot;
  conversation: ConversationState | undefined;
  title: string;
  selfId: string;
  selfName: string;
  toast: (text: string) => void;
  /** The chat panel opened or closed (its messages count as read only while shown). */
  onChatShown: (shown: boolean) => void;
  children: ReactNode;
}) {
  const phase = meeting.state.phase;
  const view = conversation?.summary.conversation;
  if (phase.kind === "idle") return null;
  if (phase.kind === "lobby") {
    return (
      <MeetingLobby
        meetings={meetings}
        meeting={meeting}
        conversation={view}
        title={title}
        selfId={selfId}
        selfName={selfName}
        toast={toast}
      />
    );
  }
  if (phase.kind === "left") return <MeetingLeftScreen meetings={meetings} phase={phase} title={title} />;
  if (phase.kind === "waiting") return <MeetingWaitingScreen meetings={meetings} meeting={meeting} title={title} />;
  return (
    <MeetingStage
      meetings={meetings}
      meeting={meeting}
      title={title}
      link={meetingLink(view)}
      selfId={selfId}
      selfName={selfName}
      toast={toast}
      unread={conversation?.summary.unread_count ?? 0}
      onChatShown={onChatShown}
    >
      {children}
    </MeetingStage>
  );
}

/** A group's meeting ringing this tab: join (through the lobby) or not. */
export function MeetingRinging({
  meetings,
  meeting,
  groupTitle,
  onJoin,
}: {
  meetings: MeetingClient;
  meeting: MeetingSnapshot;
  groupTitle: (conversationId: string) => string;
  onJoin: (conversationId: string) => void;
}) {
  const ringing = meeting.state.ringing;
  if (!ringing) return null;
  return (
    <div className="fixed inset-x-0 top-4 z-40 flex justify-center px-4">
      <section
        role="alertdialog"
        aria-label={`${ringing.fromName} started a meeting`}
        data-testid="meeting-ringing"
        data-conversation-id={ringing.conversationId}
        className="flex w-full max-w-md items-center gap-4 rounded-2xl bg-slate-900 px-5 py-4 text-white shadow-2xl"
      >
        <span className="flex h-12 w-12 shrink-0 animate-pulse items-center justify-center rounded-full bg-emerald-600">
          <CallIcon name="video" className="h-6 w-6" />
        </span>
        <span className="min-w-0 flex-1">
          <span className="block truncate font-semibold">{groupTitle(ringing.conversationId)}</span>
          <span className="block truncate text-sm text-slate-300">{ringing.fromName} started a meeting</span>
        </span>
        <button type="button" className="btn rounded-full bg-white/10 px-3 text-white hover:bg-white/20" data-testid="meeting-ringing-dismiss" onClick={() => meetings.dismissRinging()}>
          Not now
        </button>
        <button
          type="button"
          className="btn-primary rounded-full px-4"
          data-testid="meeting-ringing-join"
          autoFocus
          onClick={() => onJoin(ringing.conversationId)}
        >
          Join
        </button>
      </section>
    </div>
  );
}
