// The left pane: who I am, new chat / group / meeting, a search box, and the conversations
// (avatars, online dots, last message and time, unread and mention badges, pinned first).
import { memo, useRef, useState } from "react";
import { type ChatState, type ConversationState, sortedConversations } from "../lib/chatStore";
import type { Snapshot } from "../lib/client";
import { callLogText } from "../lib/callState";
import { listTime } from "../lib/format";
import { CallIcon } from "./CallIcons";
import { enableNotifications, notificationPermission } from "../lib/notify";
import { applyTheme, loadTheme, saveTheme, type ThemeChoice } from "../lib/theme";
import type { MeView } from "../lib/types";
import { avatarKey, conversationAvatar, conversationTitle, userName } from "./names";
import type { DialogState } from "./Shell";
import { Avatar, Icon, Menu, Spinner } from "./ui";

export function ConversationList({
  snap,
  me,
  activeId,
  pinned,
  onOpen,
  onDialog,
}: {
  snap: Snapshot;
  me: MeView;
  activeId: string | null;
  pinned: ReadonlySet<string>;
  onOpen: (id: string) => void;
  onDialog: (dialog: DialogState) => void;
}) {
  const [filter, setFilter] = useState("");
  const [menuOpen, setMenuOpen] = useState(false);
  const newButton = useRef<HTMLButtonElement>(null);
  const [theme, setTheme] = useState<ThemeChoice>(loadTheme);
  const [permission, setPermission] = useState(notificationPermission);
  const state = snap.chat;
  const q = filter.trim().toLowerCase();
  const conversations = sortedConversations(state, pinned).filter(
    (c) => !q || conversationTitle(state, c).toLowerCase().includes(q),
  );

  const cycleTheme = () => {
    const next: ThemeChoice = theme === "system" ? "light" : theme === "light" ? "dark" : "system";
    saveTheme(next);
    applyTheme(next);
    setTheme(next);
  };

  return (
    <div className="flex h-full min-h-0 flex-col">
      <header className="flex items-center gap-2 bg-slate-50 px-3 py-2.5 dark:bg-slate-900">
        <button
          type="button"
          className="rounded-full"
          onClick={() => onDialog({ kind: "profile" })}
          aria-label="Your profile"
          data-testid="profile-button"
        >
          <Avatar id={me.id} name={me.display_name} url={me.avatar_url} size={38} />
        </button>
        <div className="min-w-0 flex-1">
          <div className="truncate text-sm font-semibold">{me.display_name}</div>
          <div className="truncate text-xs text-slate-500 dark:text-slate-400">
            {snap.status === "online" ? "@" + me.username : snap.status === "reconnecting" ? "Reconnecting…" : "Connecting…"}
          </div>
        </div>
        <button
          type="button"
          className="icon-btn"
          onClick={cycleTheme}
          aria-label={`Theme: ${theme}. Change theme`}
          title={`Theme: ${theme}`}
          data-testid="theme-toggle"
        >
          <Icon name={theme === "dark" ? "moon" : theme === "light" ? "sun" : "system"} />
        </button>
        <button
          type="button"
          className="icon-btn"
          onClick={() => onDialog({ kind: "calls" })}
          aria-label="Calls"
          title="Calls"
          data-testid="calls-button"
        >
          <CallIcon name="phone" />
        </button>
        <button
          type="button"
          className="icon-btn"
          onClick={() => onDialog({ kind: "search", conversationId: null })}
          aria-label="Search all messages"
          data-testid="global-search-button"
        >
          <Icon name="search" />
        </button>
        <button
          ref={newButton}
          type="button"
          className="icon-btn bg-emerald-600 text-white hover:bg-emerald-700 dark:text-white dark:hover:bg-emerald-500"
          aria-haspopup="menu"
          aria-expanded={menuOpen}
          aria-label="New chat, group or meeting"
          data-testid="new-menu-button"
          onClick={() => setMenuOpen((open) => !open)}
        >
          <Icon name="plus" />
        </button>
        {menuOpen && (
          <Menu
            label="New"
            anchor={newButton.current}
            onClose={() => setMenuOpen(false)}
            items={[
              { label: "New chat", icon: "person", onSelect: () => onDialog({ kind: "new-direct" }), testId: "new-direct" },
              { label: "New group", icon: "group", onSelect: () => onDialog({ kind: "new-group" }), testId: "new-group" },
              { label: "New meeting", icon: "video", onSelect: () => onDialog({ kind: "meeting", tab: "new" }), testId: "new-meeting" },
              { label: "Join with a code", icon: "plus", onSelect: () => onDialog({ kind: "meeting", tab: "join" }), testId: "join-meeting" },
            ]}
          />
        )}
      </header>
      {permission === "default" && (
        <div className="flex items-center gap-3 bg-sky-50 px-4 py-2.5 text-sm text-sky-900 dark:bg-sky-950/40 dark:text-sky-100">
          <Icon name="bell" className="h-5 w-5 shrink-0" />
          <span className="flex-1">Get notified of new messages.</span>
          <button
            type="button"
            className="font-semibold text-sky-700 hover:underline dark:text-sky-300"
            data-testid="enable-notifications"
            onClick={() => void enableNotifications().then(setPermission)}
          >
            Turn on
          </button>
        </div>
      )}
      <div className="px-3 py-2">
        <label className="relative block">
          <span className="sr-only">Search conversations</span>
          <Icon name="search" className="pointer-events-none absolute top-1/2 left-3 h-4 w-4 -translate-y-1/2 text-slate-400" />
          <input
            type="search"
            className="input rounded-full bg-slate-100 pl-9 dark:bg-slate-800"
            placeholder="Search conversations"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            data-testid="conversation-search"
          />
        </label>
      </div>
      <nav className="min-h-0 flex-1 overflow-y-auto" aria-label="Conversation list">
        {!snap.ready ? (
          <div className="flex justify-center p-6 text-slate-400">
            <Spinner className="h-6 w-6" />
          </div>
        ) : conversations.length === 0 ? (
          <div className="p-6 text-center text-sm text-slate-500 dark:text-slate-400" data-testid="conversation-list-empty">
            {q ? (
              <>
                No conversation matches “{filter}”.{" "}
                <button type="button" className="text-emerald-700 hover:underline dark:text-emerald-400" onClick={() => onDialog({ kind: "search", conversationId: null })}>
                  Search messages
                </button>
              </>
            ) : (
              <>
                No conversations yet.
                <br />
                <button type="button" className="mt-2 text-emerald-700 hover:underline dark:text-emerald-400" onClick={() => onDialog({ kind: "new-direct" })}>
                  Start a chat
                </button>
              </>
            )}
          </div>
        ) : (
          <ul data-testid="conversation-list">
            {conversations.map((c) => (
              <li key={c.summary.conversation.id}>
                <ConversationRow
                  c={c}
                  state={state}
                  active={c.summary.conversation.id === activeId}
                  pinned={pinned.has(c.summary.conversation.id)}
                  typing={Boolean(state.typing[c.summary.conversation.id] && Object.keys(state.typing[c.summary.conversation.id]!).length)}
                  onOpen={onOpen}
                />
              </li>
            ))}
          </ul>
        )}
      </nav>
    </div>
  );
}

const ConversationRow = memo(function ConversationRow({
  c,
  state,
  active,
  pinned,
  typing,
  onOpen,
}: {
  c: ConversationState;
  state: ChatState;
  active: boolean;
  pinned: boolean;
  typing: boolean;
  onOpen: (id: string) => void;
}) {
  const conversation = c.summary.conversation;
  const title = conversationTitle(state, c);
  const last = c.summary.last_message;
  const peerOnline = c.summary.peer_id ? state.presence[c.summary.peer_id]?.online : false;
  const lastCall = c.callLogs[c.callLogs.length - 1];
  const callIsNewest = lastCall && (!last || Date.parse(lastCall.at) > Date.parse(last.created_at));
  const preview = (() => {
    if (typing) return <span className="text-emerald-600 dark:text-emerald-400">typing…</span>;
    if (callIsNewest) return callLogText(lastCall, state.selfId);
    if (!last) {
      return conversation.kind === "meeting" ? `Meeting code ${conversation.meeting_code ?? ""}` : "No messages yet";
    }
    const who =
      last.sender_id === state.selfId ? "You: " : conversation.kind === "direct" ? "" : `${userName(state, last.sender_id)}: `;
    const body = last.deleted_at ? "This message was deleted" : last.body;
    return `${who}${body}`;
  })();
  const time = callIsNewest ? lastCall.at : (last?.created_at ?? conversation.last_activity_at);
  const unread = c.summary.unread_count;
  return (
    <button
      type="button"
      onClick={() => onOpen(conversation.id)}
      data-testid="conversation-item"
      data-conversation-id={conversation.id}
      data-kind={conversation.kind}
      aria-current={active ? "page" : undefined}
      className={`flex w-full items-center gap-3 px-3 py-2.5 text-left transition-colors ${
        active ? "bg-slate-200/70 dark:bg-slate-800" : "hover:bg-slate-100 dark:hover:bg-slate-800/60"
      }`}
    >
      <Avatar
        id={avatarKey(c)}
        name={title}
        url={conversationAvatar(state, c)}
        size={48}
        online={peerOnline}
        kind={conversation.kind === "direct" ? undefined : conversation.kind}
      />
      <span className="min-w-0 flex-1 border-b border-slate-100 pb-2.5 dark:border-slate-800">
        <span className="flex items-baseline gap-2">
          <span className="min-w-0 flex-1 truncate font-medium" data-testid="conversation-title">
            {title}
          </span>
          <span
            className={`shrink-0 text-xs ${unread ? "font-semibold text-emerald-600 dark:text-emerald-400" : "text-slate-500 dark:text-slate-400"}`}
          >
            {listTime(time)}
          </span>
        </span>
        <span className="mt-0.5 flex items-center gap-2">
          <span className="min-w-0 flex-1 truncate text-sm text-slate-500 dark:text-slate-400" data-testid="conversation-preview">
            {preview}
          </span>
          {pinned && <Icon name="pin" className="h-4 w-4 shrink-0 text-slate-400" />}
          {c.summary.mention_count > 0 && (
            <span
              data-testid="mention-badge"
              className="flex h-5 w-5 shrink-0 items-center justify-center rounded-full bg-emerald-600 text-xs font-bold text-white"
              aria-label={`${c.summary.mention_count} mentions`}
            >
              @
            </span>
          )}
          {unread > 0 && (
            <span
              data-testid="unread-badge"
              className="flex h-5 min-w-5 shrink-0 items-center justify-center rounded-full bg-emerald-600 px-1.5 text-xs font-bold text-white"
              aria-label={`${unread} unread`}
            >
              {unread > 99 ? "99+" : unread}
            </span>
          )}
        </span>
      </span>
    </button>
  );
});
