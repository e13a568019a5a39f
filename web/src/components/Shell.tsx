// The signed-in app: conversation list | conversation on desktop, one pane at a time on a
// phone; the reconnect banner, toasts, dialogs, the tab title, notifications.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import type { MessageView } from "@proto";
import type { Api } from "../lib/api";
import { totalUnread } from "../lib/chatStore";
import { ChatClient } from "../lib/client";
import { CallHistoryPanel } from "./CallHistory";
import { CallLayer } from "./CallOverlay";
import { CallStage } from "./CallStage";
import { isInMeeting } from "../lib/meetingState";
import { MeetingRinging, MeetingScreen } from "./MeetingScreen";
import { beep, showNotification } from "../lib/notify";
import type { MeView } from "../lib/types";
import { ConversationList } from "./ConversationList";
import { ConversationView } from "./ConversationView";
import { ForwardDialog, MeetingDialog, NewDirectDialog, NewGroupDialog, SearchDialog } from "./Dialogs";
import { conversationTitle, loadPinned, savePinned, userName } from "./names";
import { InfoPanel, ProfilePanel } from "./Panels";
import { Icon, Spinner } from "./ui";

export type DialogState =
  | { kind: "none" }
  | { kind: "new-direct" }
  | { kind: "new-group" }
  | { kind: "meeting"; tab: "new" | "join" }
  | { kind: "profile" }
  | { kind: "search"; conversationId: string | null }
  | { kind: "forward"; message: MessageView }
  | { kind: "info"; conversationId: string }
  | { kind: "calls" };

/** A jump request: open this conversation and scroll to this message. */
export interface Focus {
  conversationId: string;
  messageId: string;
  seq: number;
  nonce: number;
}

function routeOf(path: string): { conversationId: string | null; joinCode: string | null } {
  const conversation = /^\/c\/([0-9a-f-]{36})$/i.exec(path);
  const join = /^\/join\/([A-Za-z0-9-]{10,16})$/.exec(path);
  return { conversationId: conversation?.[1] ?? null, joinCode: join?.[1] ?? null };
}

export function Shell({
  api,
  me,
  onMeChanged,
  onSignedOut,
}: {
  api: Api;
  me: MeView;
  onMeChanged: (me: MeView) => void;
  onSignedOut: () => void;
}) {
  const navigateRef = useRef<(id: string | null) => void>(() => {});
  const client = useMemo(
    () =>
      new ChatClient(api, me, {
        onIncoming: (conversationId, message) => {
          if (document.visibilityState === "visible") return;
          const state = client.state;
          const c = state.conversations[conversationId];
          if (!c) return;
          beep();
          const title = conversationTitle(state, c);
          const sender = userName(state, message.sender_id);
          const body = c.summary.conversation.kind === "direct" ? message.body : `${sender}: ${message.body}`;
          showNotification(title, body.slice(0, 160), conversationId, () => navigateRef.current(conversationId));
        },
        onOpen: (conversationId) => navigateRef.current(conversationId),
      }),
    // The client lives as long as this signed-in shell.
    [],
  );
  const snap = useSyncExternalStore(client.subscribe, client.snapshot);
  const calls = useSyncExternalStore(client.calls.subscribe, client.calls.snapshot);
  const callPhase = calls.call.phase;
  const inCall = callPhase.kind === "in_call" ? callPhase : null;
  const callConversation = inCall ? snap.chat.conversations[inCall.call.conversation_id] : undefined;
  const meeting = useSyncExternalStore(client.meetings.subscribe, client.meetings.snapshot);
  const meetingPhase = meeting.state.phase;
  const meetingId = meetingPhase.kind === "idle" || inCall ? null : meetingPhase.conversationId;
  const meetingConversation = meetingId ? snap.chat.conversations[meetingId] : undefined;
  const [meetingChatShown, setMeetingChatShown] = useState(false);
  // Answering a call ends our part in a meeting (one camera, one conversation at a time).
  const callActive = Boolean(inCall);
  useEffect(() => {
    if (callActive && isInMeeting(client.meetings.state.phase)) client.meetings.leave();
  }, [callActive, client]);
  const [activeId, setActiveId] = useState<string | null>(() => routeOf(location.pathname).conversationId);
  const [dialog, setDialog] = useState<DialogState>({ kind: "none" });
  const [pinned, setPinned] = useState(loadPinned);
  const [focus, setFocus] = useState<Focus | null>(null);

  useEffect(() => {
    void client.start();
    return () => client.stop();
  }, [client]);

  const navigate = useCallback((conversationId: string | null, replace = false) => {
    const path = conversationId ? `/c/${conversationId}` : "/";
    if (location.pathname !== path) {
      if (replace) history.replaceState(null, "", path);
      else history.pushState(null, "", path);
    }
    setActiveId(conversationId);
  }, []);
  navigateRef.current = navigate;

  useEffect(() => {
    const onPop = () => setActiveId(routeOf(location.pathname).conversationId);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  // A meeting link (/join/abc-defg-hij) joins once signed in.
  useEffect(() => {
    const { joinCode } = routeOf(location.pathname);
    if (!joinCode) return;
    client.joinMeeting(joinCode).then(
      (id) => {
        navigate(id, true);
        client.meetings.openLobby(id);
      },
      (error: unknown) => {
        client.toast(error instanceof Error ? error.message : "That meeting could not be joined.");
        navigate(null, true);
      },
    );
  }, [client, navigate]);

  const active = activeId ? snap.chat.conversations[activeId] : undefined;
  // During a call its conversation is the one on screen (beside the video); during a
  // meeting, its chat while the chat panel shows it.
  const shownId = meetingId
    ? meetingChatShown
      ? meetingId
      : null
    : (callConversation?.summary.conversation.id ?? active?.summary.conversation.id);
  useEffect(() => {
    if (shownId) client.openConversation(shownId);
    else client.setActive(null);
  }, [client, shownId]);
  const openMeeting = useCallback(
    (conversationId: string) => {
      navigate(conversationId);
      client.meetings.openLobby(conversationId);
    },
    [client, navigate],
  );

  // A conversation we were removed from closes.
  useEffect(() => {
    if (snap.ready && activeId && !active && !routeOf(location.pathname).joinCode) {
      const timer = setTimeout(() => {
        if (!client.state.conversations[activeId]) navigate(null, true);
      }, 1500);
      return () => clearTimeout(timer);
    }
  }, [snap.ready, activeId, active, client, navigate]);

  const unread = totalUnread(snap.chat);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Convene` : "Convene";
  }, [unread]);

  const togglePinned = (conversationId: string) => {
    const next = new Set(pinned);
    if (next.has(conversationId)) next.delete(conversationId);
    else next.add(conversationId);
    savePinned(next);
    setPinned(next);
  };

  const jumpTo = (message: MessageView) => {
    setDialog({ kind: "none" });
    navigate(message.conversation_id);
    setFocus({ conversationId: message.conversation_id, messageId: message.id, seq: message.seq, nonce: Date.now() });
  };

  const showBanner = snap.status === "reconnecting";

  return (
    <div className="flex h-full flex-col">
      {showBanner && (
        <div
          role="status"
          data-testid="reconnect-banner"
          className="flex items-center justify-center gap-2 bg-amber-500 px-3 py-1.5 text-sm font-medium text-amber-950"
        >
          <Spinner className="h-3.5 w-3.5" />
          Reconnecting… Messages you send will go out when the connection is back.
        </div>
      )}
      {meetingId ? (
        <MeetingScreen
          meetings={client.meetings}
          meeting={meeting}
          conversation={meetingConversation}
          title={meetingConversation ? conversationTitle(snap.chat, meetingConversation) : "Meeting"}
          selfId={me.id}
          selfName={me.display_name}
          toast={(text) => client.toast(text)}
          onChatShown={setMeetingChatShown}
        >
          {meetingConversation && (
            <ConversationView
              key={meetingConversation.summary.conversation.id}
              client={client}
              snap={snap}
              conversation={meetingConversation}
              pinned={pinned.has(meetingConversation.summary.conversation.id)}
              onTogglePinned={() => togglePinned(meetingConversation.summary.conversation.id)}
              onBack={() => setMeetingChatShown(false)}
              onDialog={setDialog}
              focus={null}
              embedded
            />
          )}
        </MeetingScreen>
      ) : inCall ? (
        <CallStage api={api} client={client} chat={snap.chat} calls={calls}>
          {callConversation && (
            <ConversationView
              key={callConversation.summary.conversation.id}
              client={client}
              snap={snap}
              conversation={callConversation}
              pinned={pinned.has(callConversation.summary.conversation.id)}
              onTogglePinned={() => togglePinned(callConversation.summary.conversation.id)}
              onBack={() => navigate(null)}
              onDialog={setDialog}
              focus={null}
            />
          )}
        </CallStage>
      ) : (
      <div className="mx-auto flex min-h-0 w-full max-w-[1600px] flex-1 overflow-hidden bg-white shadow-sm md:border-x md:border-slate-200 dark:bg-slate-900 dark:md:border-slate-800">
        <aside
          className={`${active ? "hidden md:flex" : "flex"} w-full min-w-0 flex-col border-slate-200 md:w-[340px] md:shrink-0 md:border-r lg:w-[380px] dark:border-slate-800`}
          aria-label="Conversations"
        >
          <ConversationList
            snap={snap}
            me={me}
            activeId={activeId}
            pinned={pinned}
            onOpen={(id) => navigate(id)}
            onDialog={setDialog}
          />
        </aside>
        <main className={`${active ? "flex" : "hidden md:flex"} min-w-0 flex-1 flex-col`}>
          {active ? (
            <ConversationView
              key={active.summary.conversation.id}
              client={client}
              snap={snap}
              conversation={active}
              pinned={pinned.has(active.summary.conversation.id)}
              onTogglePinned={() => togglePinned(active.summary.conversation.id)}
              onBack={() => navigate(null)}
              onDialog={setDialog}
              focus={focus && focus.conversationId === active.summary.conversation.id ? focus : null}
            />
          ) : (
            <EmptyPane loading={Boolean(activeId) && !snap.ready} />
          )}
        </main>
      </div>
      )}
      <CallLayer client={client} chat={snap.chat} calls={calls} />
      <MeetingRinging
        meetings={client.meetings}
        meeting={meeting}
        groupTitle={(id) => {
          const c = snap.chat.conversations[id];
          return c ? conversationTitle(snap.chat, c) : "Group meeting";
        }}
        onJoin={openMeeting}
      />
      <div className="pointer-events-none fixed inset-x-0 bottom-4 z-50 flex flex-col items-center gap-2 px-4" aria-live="polite">
        {snap.toasts.map((toast) => (
          <div
            key={toast.id}
            data-testid="toast"
            className="pointer-events-auto flex max-w-md items-center gap-3 rounded-xl bg-slate-900 px-4 py-2.5 text-sm text-white shadow-lg dark:bg-slate-700"
          >
            <span className="flex-1">{toast.text}</span>
            <button type="button" className="opacity-70 hover:opacity-100" aria-label="Dismiss" onClick={() => client.dismissToast(toast.id)}>
              <Icon name="close" className="h-4 w-4" />
            </button>
          </div>
        ))}
      </div>
      <NewDirectDialog
        open={dialog.kind === "new-direct"}
        api={api}
        client={client}
        onClose={() => setDialog({ kind: "none" })}
        onOpened={(id) => {
          setDialog({ kind: "none" });
          navigate(id);
        }}
      />
      <NewGroupDialog
        open={dialog.kind === "new-group"}
        api={api}
        client={client}
        onClose={() => setDialog({ kind: "none" })}
        onOpened={(id) => {
          setDialog({ kind: "none" });
          navigate(id);
        }}
      />
      <MeetingDialog
        open={dialog.kind === "meeting"}
        initialTab={dialog.kind === "meeting" ? dialog.tab : "new"}
        client={client}
        onClose={() => setDialog({ kind: "none" })}
        onOpened={(id) => {
          setDialog({ kind: "none" });
          openMeeting(id);
        }}
      />
      <SearchDialog
        open={dialog.kind === "search"}
        api={api}
        snap={snap}
        conversationId={dialog.kind === "search" ? dialog.conversationId : null}
        onClose={() => setDialog({ kind: "none" })}
        onPick={jumpTo}
      />
      <ForwardDialog
        open={dialog.kind === "forward"}
        snap={snap}
        message={dialog.kind === "forward" ? dialog.message : null}
        client={client}
        onClose={() => setDialog({ kind: "none" })}
      />
      <CallHistoryPanel
        open={dialog.kind === "calls"}
        client={client}
        chat={snap.chat}
        calls={calls}
        onClose={() => setDialog({ kind: "none" })}
        onOpenConversation={(id) => navigate(id)}
      />
      <ProfilePanel
        open={dialog.kind === "profile"}
        api={api}
        client={client}
        me={me}
        onClose={() => setDialog({ kind: "none" })}
        onMeChanged={onMeChanged}
        onSignedOut={onSignedOut}
      />
      {dialog.kind === "info" && snap.chat.conversations[dialog.conversationId] && (
        <InfoPanel
          api={api}
          client={client}
          snap={snap}
          conversation={snap.chat.conversations[dialog.conversationId]!}
          onClose={() => setDialog({ kind: "none" })}
          onJump={jumpTo}
          onLeft={() => {
            setDialog({ kind: "none" });
            navigate(null);
          }}
        />
      )}
    </div>
  );
}

function EmptyPane({ loading }: { loading: boolean }) {
  return (
    <div className="chat-wallpaper flex flex-1 flex-col items-center justify-center gap-3 p-8 text-center text-slate-500 dark:text-slate-400">
      {loading ? (
        <Spinner className="h-8 w-8" />
      ) : (
        <>
          <span className="flex h-16 w-16 items-center justify-center rounded-full bg-emerald-100 text-emerald-700 dark:bg-emerald-950 dark:text-emerald-400">
            <Icon name="chat" className="h-8 w-8" />
          </span>
          <h2 className="text-lg font-semibold text-slate-700 dark:text-slate-200">Convene</h2>
          <p className="max-w-xs text-sm">Pick a conversation, start a new chat, or start a meeting and share its code.</p>
        </>
      )}
    </div>
  );
}
