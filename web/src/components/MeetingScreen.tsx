// The meeting screen in place of the chat: the lobby, the meeting itself, or the screen
// after leaving. The meeting's conversation is passed in for the chat panel.
import type { ReactNode } from "react";
import type { ConversationState } from "../lib/chatStore";
import type { MeetingClient, MeetingSnapshot } from "../lib/meetingClient";
import { MeetingLobby, meetingLink } from "./MeetingLobby";
import { MeetingLeftScreen } from "./MeetingPanels";
import { MeetingStage } from "./MeetingStage";

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
