// One open conversation: header, messages (day separators, infinite scroll up, jump to
// latest, typing), and the composer.
import { Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import {
  type ConversationState,
  pendingMessages,
  tickFor,
  typingUsers,
  visibleMessages,
} from "../lib/chatStore";
import type { ChatClient, Snapshot } from "../lib/client";
import { type CallLogEntry, isBusy, mergeCallLogs } from "../lib/callState";
import type { MessageView } from "@proto";
import { CallLogLine } from "./CallHistory";
import { CallIcon } from "./CallIcons";
import { dayLabel, lastSeen, sameDay } from "../lib/format";
import type { UserView } from "../lib/types";
import { Composer, type ComposerMode } from "./Composer";
import { type MessageActions, MessageBubble, PendingBubble } from "./Message";
import { avatarKey, conversationAvatar, conversationTitle, userName } from "./names";
import type { DialogState, Focus } from "./Shell";
import { Avatar, Icon, Menu, type MenuItem, Spinner } from "./ui";

const NEAR_BOTTOM_PX = 120;
const LOAD_OLDER_PX = 400;

export function ConversationView({
  client,
  snap,
  conversation: c,
  pinned,
  onTogglePinned,
  onBack,
  onDialog,
  focus,
  embedded = false,
}: {
  client: ChatClient;
  snap: Snapshot;
  conversation: ConversationState;
  pinned: boolean;
  onTogglePinned: () => void;
  onBack: () => void;
  onDialog: (dialog: DialogState) => void;
  focus: Focus | null;
  /** Inside a meeting's chat panel (which has its own header). */
  embedded?: boolean;
}) {
  const state = snap.chat;
  const selfId = state.selfId;
  const conversation = c.summary.conversation;
  const id = conversation.id;
  const title = conversationTitle(state, c);
  const [mode, setMode] = useState<ComposerMode>({ kind: "new" });
  const [menuOpen, setMenuOpen] = useState(false);
  const menuButton = useRef<HTMLButtonElement>(null);
  const [now, setNow] = useState(Date.now());
  const peerId = conversation.kind === "direct" ? c.summary.peer_id : null;
  const blocked = peerId ? snap.blocked.has(peerId) : false;
  const isAdmin = c.summary.role === "admin";

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);

  const nameOf = useCallback((userId: string) => (userId === selfId ? "You" : userName(state, userId)), [state, selfId]);

  // ---- scrolling ----
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const olderAnchor = useRef<{ height: number; top: number } | null>(null);
  const [showJump, setShowJump] = useState(false);
  const [unseen, setUnseen] = useState(0);
  const messages = visibleMessages(c);
  const pending = pendingMessages(c);
  const lastSeq = messages.length ? messages[messages.length - 1]!.seq : 0;
  const firstId = messages[0]?.id;
  const loadingOlder = snap.loadingOlder.has(id);
  // Calls appear as system lines among the messages, by time (events and call history).
  const callHistory = client.calls.snapshot().history;
  const callLogs = useMemo(() => {
    const all = mergeCallLogs(id, c.callLogs, callHistory);
    const oldest = messages[0]?.created_at;
    // With older history still unloaded, only what falls within the loaded part.
    return c.history.hasMore && oldest ? all.filter((entry) => Date.parse(entry.at) >= Date.parse(oldest)) : all;
  }, [id, c.callLogs, callHistory, c.history.hasMore, messages[0]?.created_at]);
  const rows = useMemo(() => interleave(messages, callLogs), [messages, callLogs]);

  const scrollToBottom = (smooth = false) => {
    const el = scroller.current;
    if (!el) return;
    // Smooth only over a short way: a long animation would leave the user waiting.
    const far = el.scrollHeight - el.scrollTop - el.clientHeight > 2 * el.clientHeight;
    el.scrollTo({ top: el.scrollHeight, behavior: smooth && !far ? "smooth" : "auto" });
    atBottom.current = true;
    setShowJump(false);
    setUnseen(0);
  };

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const distance = el.scrollHeight - el.scrollTop - el.clientHeight;
    atBottom.current = distance < NEAR_BOTTOM_PX;
    setShowJump(distance > 400);
    if (atBottom.current) setUnseen(0);
    if (el.scrollTop < LOAD_OLDER_PX && c.history.loaded && c.history.hasMore && !loadingOlder) {
      olderAnchor.current = { height: el.scrollHeight, top: el.scrollTop };
      void client.loadOlder(id);
    }
  };

  // Older messages were prepended: keep what was on screen where it was.
  useLayoutEffect(() => {
    const el = scroller.current;
    const anchor = olderAnchor.current;
    if (!el || !anchor) return;
    el.scrollTop = el.scrollHeight - anchor.height + anchor.top;
    olderAnchor.current = null;
  }, [firstId]);

  // New messages at the bottom: follow them if we were there, else count them.
  const previousLast = useRef(lastSeq);
  useLayoutEffect(() => {
    if (lastSeq > previousLast.current) {
      const newest = messages[messages.length - 1];
      if (atBottom.current || newest?.sender_id === selfId) scrollToBottom();
      else setUnseen((n) => n + 1);
    }
    previousLast.current = lastSeq;
  }, [lastSeq]);

  // A new call line at the bottom: follow it if we were there.
  useLayoutEffect(() => {
    if (atBottom.current) scrollToBottom();
  }, [callLogs.length]);

  // Our own sends always scroll down.
  useLayoutEffect(() => {
    if (pending.length) scrollToBottom();
  }, [pending.length]);

  // First page in: start at the bottom; keep loading while the screen is not full.
  useLayoutEffect(() => {
    if (c.history.loaded) scrollToBottom();
  }, [c.history.loaded]);
  useEffect(() => {
    const el = scroller.current;
    if (!el || !c.history.loaded || !c.history.hasMore || loadingOlder) return;
    if (el.scrollHeight <= el.clientHeight + 50) void client.loadOlder(id);
  }, [c.history.loaded, c.history.hasMore, loadingOlder, messages.length, client, id]);

  // ---- jumping to a message (replies, search) ----
  const goTo = useCallback(
    async (messageId: string, seq?: number) => {
      const find = () => document.getElementById(`message-${messageId}`);
      if (!find()) {
        if (seq !== undefined) await client.loadUntil(id, seq);
        else {
          for (let page = 0; page < 30 && !client.state.conversations[id]?.messages[messageId]; page++) {
            if (!(await client.loadOlder(id))) break;
          }
        }
        await new Promise((resolve) => requestAnimationFrame(resolve));
      }
      const element = find();
      if (!element) {
        client.toast("That message is no longer available.");
        return;
      }
      element.scrollIntoView({ block: "center", behavior: "smooth" });
      element.classList.remove("flash");
      void element.offsetWidth;
      element.classList.add("flash");
    },
    [client, id],
  );

  useEffect(() => {
    if (focus) void goTo(focus.messageId, focus.seq);
  }, [focus, goTo]);

  // ---- actions ----
  const actions = useMemo<MessageActions>(
    () => ({
      reply: (message) => setMode({ kind: "reply", message }),
      react: (message, emoji) => void client.react(id, message.id, emoji).catch(() => {}),
      forward: (message) => onDialog({ kind: "forward", message }),
      edit: (message) => setMode({ kind: "edit", message }),
      remove: (message, forEveryone) => {
        if (forEveryone && !window.confirm("Delete this message for everyone?")) return;
        void client.deleteMessage(id, message.id, forEveryone).catch(() => {});
      },
      pin: (message, pin) => void client.pin(id, message.id, pin).catch(() => {}),
      copy: (message) => {
        void navigator.clipboard?.writeText(message.body).then(
          () => client.toast("Copied."),
          () => client.toast("Copying is not allowed here."),
        );
      },
      jump: (messageId) => void goTo(messageId),
    }),
    [client, id, onDialog, goTo],
  );

  // ---- header ----
  const typers = typingUsers(state, id, now).filter((userId) => userId !== selfId);
  const typingText =
    typers.length === 0
      ? null
      : conversation.kind === "direct"
        ? "typing…"
        : typers.length === 1
          ? `${nameOf(typers[0]!)} is typing…`
          : typers.length === 2
            ? `${nameOf(typers[0]!)} and ${nameOf(typers[1]!)} are typing…`
            : "Several people are typing…";
  const memberIds = Object.keys(c.members);
  const subtitle = (() => {
    if (typingText) return typingText;
    if (peerId) {
      const presence = state.presence[peerId];
      if (!presence) return "";
      return presence.online ? "online" : lastSeen(presence.last_seen_at, new Date(now));
    }
    if (conversation.kind === "meeting") return `Meeting · ${conversation.meeting_code ?? ""}`;
    if (!c.membersLoaded) return "";
    const names = memberIds.map(nameOf).sort((a, b) => (a === "You" ? 1 : b === "You" ? -1 : a.localeCompare(b)));
    return names.join(", ");
  })();
  const peerOnline = peerId ? state.presence[peerId]?.online : false;

  const members: UserView[] = memberIds
    .filter((userId) => userId !== selfId)
    .map((userId) => state.users[userId])
    .filter((user): user is UserView => Boolean(user));

  const menuItems: MenuItem[] = [
    { label: "Search in conversation", icon: "search", onSelect: () => onDialog({ kind: "search", conversationId: id }), testId: "conversation-search-button" },
    {
      label: conversation.kind === "direct" ? "Contact info" : conversation.kind === "group" ? "Group info" : "Meeting info",
      icon: "info",
      onSelect: () => onDialog({ kind: "info", conversationId: id }),
      testId: "conversation-info",
    },
    { label: pinned ? "Unpin chat" : "Pin chat", icon: "pin", onSelect: onTogglePinned, testId: "pin-chat" },
    ...(peerId
      ? [
          {
            label: blocked ? "Unblock" : "Block",
            icon: "block" as const,
            danger: !blocked,
            onSelect: () => {
              if (!blocked && !window.confirm(`Block ${title}? They will not be able to message you.`)) return;
              void client.setBlocked(peerId, !blocked).catch((error: Error) => client.toast(error.message));
            },
            testId: "block-toggle",
          },
        ]
      : []),
  ];

  const canPin = conversation.kind !== "group" || isAdmin;
  const repliedTo = (messageId: string | null) => (messageId ? (c.messages[messageId] ?? null) : null);

  return (
    <section className="flex h-full min-h-0 flex-col" aria-label={title} data-testid="conversation-view" data-conversation-id={id}>
      <header className={`${embedded ? "hidden" : "flex"} items-center gap-2 border-b border-slate-200 bg-slate-50 px-2 py-2 dark:border-slate-800 dark:bg-slate-900`}>
        <button type="button" className="icon-btn md:hidden" onClick={onBack} aria-label="Back to conversations" data-testid="back-button">
          <Icon name="back" />
        </button>
        <button
          type="button"
          className="flex min-w-0 flex-1 items-center gap-3 rounded-lg px-1 py-0.5 text-left"
          onClick={() => onDialog({ kind: "info", conversationId: id })}
        >
          <Avatar
            id={avatarKey(c)}
            name={title}
            url={conversationAvatar(state, c)}
            size={40}
            online={peerOnline}
            kind={conversation.kind === "direct" ? undefined : conversation.kind}
          />
          <span className="min-w-0">
            <span className="block truncate font-semibold" data-testid="conversation-header-title">
              {title}
            </span>
            <span
              className={`block truncate text-xs ${typingText ? "text-emerald-600 dark:text-emerald-400" : "text-slate-500 dark:text-slate-400"}`}
              data-testid="conversation-subtitle"
            >
              {subtitle}
            </span>
          </span>
        </button>
        {peerId && !blocked && (
          <>
            <button
              type="button"
              className="icon-btn disabled:cursor-not-allowed disabled:opacity-40"
              aria-label={`Voice call ${title}`}
              title="Voice call"
              data-testid="call-voice-button"
              disabled={isBusy(client.calls.state)}
              onClick={() => client.calls.call(id, peerId, "voice")}
            >
              <CallIcon name="phone" />
            </button>
            <button
              type="button"
              className="icon-btn disabled:cursor-not-allowed disabled:opacity-40"
              aria-label={`Video call ${title}`}
              title="Video call"
              data-testid="call-video-button"
              disabled={isBusy(client.calls.state)}
              onClick={() => client.calls.call(id, peerId, "video")}
            >
              <CallIcon name="video" />
            </button>
          </>
        )}
        {conversation.kind !== "direct" && (
          <button
            type="button"
            className="btn-primary mr-1 rounded-full px-3 py-1.5"
            aria-label={conversation.kind === "meeting" ? "Join the meeting" : "Video meeting with the group (rings the others)"}
            title={conversation.kind === "meeting" ? "Join the meeting" : "Video meeting with the group (rings the others)"}
            data-testid="meeting-join-button"
            onClick={() => client.meetings.openLobby(id, conversation.kind === "group")}
          >
            <CallIcon name="video" className="h-4 w-4" />
            Join
          </button>
        )}
        <button
          type="button"
          className="icon-btn"
          aria-label="Search in this conversation"
          onClick={() => onDialog({ kind: "search", conversationId: id })}
        >
          <Icon name="search" />
        </button>
        <button
          ref={menuButton}
          type="button"
          className="icon-btn"
          aria-haspopup="menu"
          aria-expanded={menuOpen}
          aria-label="Conversation menu"
          data-testid="conversation-menu-button"
          onClick={() => setMenuOpen((open) => !open)}
        >
          <Icon name="more" />
        </button>
        {menuOpen && <Menu label="Conversation" anchor={menuButton.current} items={menuItems} onClose={() => setMenuOpen(false)} />}
      </header>

      <div className="relative min-h-0 flex-1">
        <div
          ref={scroller}
          onScroll={onScroll}
          className="chat-wallpaper h-full overflow-y-auto py-3"
          data-testid="message-list"
          role="log"
          aria-label="Messages"
          aria-busy={!c.history.loaded}
        >
          {conversation.kind === "meeting" && !embedded && (
            <MeetingCard
              code={conversation.meeting_code}
              onCopied={() => client.toast("Meeting link copied.")}
              onJoin={() => client.meetings.openLobby(id)}
            />
          )}
          {c.history.loaded && !c.history.hasMore && messages.length > 0 && (
            <p className="mx-auto mb-3 w-fit rounded-lg bg-amber-50 px-3 py-1 text-center text-xs text-amber-900 shadow-sm dark:bg-slate-800 dark:text-amber-200">
              This is the beginning of the conversation.
            </p>
          )}
          {(loadingOlder || !c.history.loaded) && (
            <div className="flex justify-center py-2 text-slate-500" data-testid="history-loading">
              <Spinner className="h-5 w-5" />
            </div>
          )}
          {c.history.loaded && messages.length === 0 && pending.length === 0 && callLogs.length === 0 && (
            <p className="mx-auto mt-8 w-fit rounded-lg bg-white/80 px-4 py-2 text-sm text-slate-600 shadow-sm dark:bg-slate-800/80 dark:text-slate-300">
              No messages yet. Say hello!
            </p>
          )}
          <div className="space-y-1">
            {rows.map((row, index) => {
              const previousRow = rows[index - 1];
              const newDay = !previousRow || !sameDay(rowTime(previousRow), rowTime(row));
              const daySeparator = newDay && (
                <div className="sticky top-0 z-10 flex justify-center py-1.5" data-testid="day-separator">
                  <span className="rounded-lg bg-white px-3 py-1 text-xs font-medium text-slate-600 shadow-sm dark:bg-slate-800 dark:text-slate-300">
                    {dayLabel(rowTime(row), new Date(now))}
                  </span>
                </div>
              );
              if (row.kind === "call") {
                return (
                  <Fragment key={`call-${row.entry.call_id}`}>
                    {daySeparator}
                    <CallLogLine entry={row.entry} selfId={selfId} />
                  </Fragment>
                );
              }
              const message = row.message;
              const previous = previousRow?.kind === "message" ? previousRow.message : undefined;
              const mine = message.sender_id === selfId;
              const showSender = conversation.kind !== "direct" && (newDay || previous?.sender_id !== message.sender_id);
              const reply = repliedTo(message.reply_to);
              return (
                <Fragment key={message.id}>
                  {daySeparator}
                  <div className={showSender && !newDay ? "pt-1.5" : ""}>
                    <MessageBubble
                      message={message}
                      mine={mine}
                      senderName={nameOf(message.sender_id)}
                      showSender={showSender}
                      reply={reply}
                      replySender={message.reply_to ? (reply ? nameOf(reply.sender_id) : null) : null}
                      tick={mine ? tickFor(c, message.seq, selfId) : null}
                      selfId={selfId}
                      canDeleteForEveryone={mine || (conversation.kind === "group" && isAdmin)}
                      canPin={canPin}
                      actions={actions}
                      nameOf={nameOf}
                    />
                  </div>
                </Fragment>
              );
            })}
            {pending.map((p) => (
              <PendingBubble
                key={p.client_id}
                pending={p}
                reply={repliedTo(p.reply_to)}
                onRetry={() => client.retry(id, p.client_id)}
                onDiscard={() => client.discard(id, p.client_id)}
              />
            ))}
          </div>
          {typingText && (
            <div className="px-3 pt-2 md:px-[6%]" data-testid="typing-indicator" aria-live="polite">
              <span className="inline-flex items-center gap-2 rounded-xl bg-white px-3 py-1.5 text-sm text-slate-600 shadow-sm dark:bg-slate-800 dark:text-slate-300">
                <span className="flex gap-0.5" aria-hidden="true">
                  <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-slate-400 [animation-delay:-0.3s]" />
                  <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-slate-400 [animation-delay:-0.15s]" />
                  <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-slate-400" />
                </span>
                {conversation.kind === "direct" ? `${title} is typing…` : typingText}
              </span>
            </div>
          )}
        </div>
        {(showJump || unseen > 0) && (
          <button
            type="button"
            onClick={() => scrollToBottom(true)}
            data-testid="jump-to-latest"
            aria-label="Jump to the latest message"
            className="absolute right-4 bottom-4 flex h-10 w-10 items-center justify-center rounded-full bg-white text-slate-600 shadow-lg hover:bg-slate-50 dark:bg-slate-800 dark:text-slate-200"
          >
            <Icon name="down" className="h-6 w-6" />
            {unseen > 0 && (
              <span className="absolute -top-1 -right-1 flex h-5 min-w-5 items-center justify-center rounded-full bg-emerald-600 px-1 text-xs font-bold text-white">
                {unseen}
              </span>
            )}
          </button>
        )}
      </div>

      {blocked ? (
        <div className="border-t border-slate-200 bg-slate-50 p-3 text-center text-sm text-slate-600 dark:border-slate-800 dark:bg-slate-900 dark:text-slate-300" data-testid="blocked-notice">
          You blocked {title}.{" "}
          <button
            type="button"
            className="font-semibold text-emerald-700 hover:underline dark:text-emerald-400"
            onClick={() => void client.setBlocked(peerId!, false).catch((error: Error) => client.toast(error.message))}
          >
            Unblock
          </button>
        </div>
      ) : (
        <Composer
          key={id}
          draftKey={id}
          mode={mode}
          members={members}
          nameOf={nameOf}
          onSend={(body, replyTo) => {
            client.send(id, body, replyTo);
            setMode({ kind: "new" });
          }}
          onEdit={(message, body) => {
            void client.edit(id, message.id, body).catch(() => {});
            setMode({ kind: "new" });
          }}
          onCancel={() => setMode({ kind: "new" })}
          onTyping={() => client.typing(id)}
        />
      )}
    </section>
  );
}

type Row = { kind: "message"; message: MessageView } | { kind: "call"; entry: CallLogEntry };

function rowTime(row: Row): string {
  return row.kind === "message" ? row.message.created_at : row.entry.at;
}

/** Messages and call lines in time order (both lists are oldest first). */
function interleave(messages: MessageView[], calls: CallLogEntry[]): Row[] {
  const rows: Row[] = [];
  let next = 0;
  for (const message of messages) {
    const at = Date.parse(message.created_at);
    while (next < calls.length && Date.parse(calls[next]!.at) < at) rows.push({ kind: "call", entry: calls[next++]! });
    rows.push({ kind: "message", message });
  }
  while (next < calls.length) rows.push({ kind: "call", entry: calls[next++]! });
  return rows;
}

function MeetingCard({ code, onCopied, onJoin }: { code: string | null; onCopied: () => void; onJoin: () => void }) {
  if (!code) return null;
  const link = `${location.origin}/join/${code}`;
  return (
    <div className="mx-auto mb-3 w-fit max-w-[90%] rounded-xl bg-white px-4 py-3 text-center shadow-sm dark:bg-slate-800" data-testid="meeting-card">
      <div className="text-xs text-slate-500 uppercase dark:text-slate-400">Meeting code</div>
      <div className="font-mono text-lg font-semibold tracking-wider" data-testid="meeting-code">
        {code}
      </div>
      <button
        type="button"
        className="btn-ghost mt-1 text-emerald-700 dark:text-emerald-400"
        onClick={() => void navigator.clipboard?.writeText(link).then(onCopied)}
      >
        <Icon name="copy" className="h-4 w-4" /> Copy invite link
      </button>
      <button type="button" className="btn-primary mt-1 ml-1 rounded-full" data-testid="meeting-card-join" onClick={onJoin}>
        <Icon name="video" className="h-4 w-4" /> Join now
      </button>
    </div>
  );
}
