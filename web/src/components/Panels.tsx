// Profile (name, avatar, theme, notifications, sign out) and conversation info (members
// and roles, add/remove/promote for admins, rename, leave; block for direct chats; pins).
import { type FormEvent, useEffect, useState } from "react";
import type { MessageView } from "@proto";
import type { Api } from "../lib/api";
import type { ConversationState } from "../lib/chatStore";
import { type ChatClient, type Snapshot, describe } from "../lib/client";
import { lastSeen } from "../lib/format";
import { enableNotifications, notificationPermission } from "../lib/notify";
import { applyTheme, loadTheme, saveTheme, type ThemeChoice } from "../lib/theme";
import type { MeView, UserView } from "../lib/types";
import { MessageText } from "./Message";
import { avatarKey, conversationAvatar, conversationTitle, userName } from "./names";
import { Avatar, Dialog, Icon, Spinner } from "./ui";

export function ProfilePanel({
  open,
  api,
  client,
  me,
  onClose,
  onMeChanged,
  onSignedOut,
}: {
  open: boolean;
  api: Api;
  client: ChatClient;
  me: MeView;
  onClose: () => void;
  onMeChanged: (me: MeView) => void;
  onSignedOut: () => void;
}) {
  const [displayName, setDisplayName] = useState(me.display_name);
  const [avatarUrl, setAvatarUrl] = useState(me.avatar_url ?? "");
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [theme, setTheme] = useState<ThemeChoice>(loadTheme);
  const [permission, setPermission] = useState(notificationPermission);
  useEffect(() => {
    if (open) {
      setDisplayName(me.display_name);
      setAvatarUrl(me.avatar_url ?? "");
      setError(null);
      setSaved(false);
      setTheme(loadTheme());
      setPermission(notificationPermission());
    }
  }, [open, me]);
  const guest = me.kind === "guest";

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const patch: { display_name?: string; avatar_url?: string | null } = {};
      if (displayName.trim() !== me.display_name) patch.display_name = displayName.trim();
      if (!guest && (avatarUrl.trim() || null) !== me.avatar_url) patch.avatar_url = avatarUrl.trim() || null;
      if (Object.keys(patch).length) {
        const updated = await api.updateMe(patch);
        onMeChanged(updated);
        client.rememberUsers([{ id: updated.id, username: updated.username, display_name: updated.display_name, avatar_url: updated.avatar_url, kind: updated.kind }]);
      }
      setSaved(true);
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  };

  const signOut = async (everywhere: boolean) => {
    if (everywhere && !window.confirm("Sign out on every device, this one included?")) return;
    try {
      await api.logout(everywhere);
    } catch {
      // Signed out locally either way.
    }
    onClose();
    onSignedOut();
  };

  const chooseTheme = (choice: ThemeChoice) => {
    saveTheme(choice);
    applyTheme(choice);
    setTheme(choice);
  };

  return (
    <Dialog open={open} onClose={onClose} title="Profile" testId="profile-panel">
      <div className="mb-4 flex items-center gap-3">
        <Avatar id={me.id} name={displayName || me.username} url={avatarUrl || null} size={64} />
        <div className="min-w-0">
          <div className="truncate text-lg font-semibold">{me.display_name}</div>
          <div className="truncate text-sm text-slate-500">@{me.username}{guest ? " · guest" : ""}</div>
        </div>
      </div>
      <form onSubmit={save} className="space-y-3">
        <label className="block">
          <span className="mb-1 block text-sm font-medium">Display name</span>
          <input className="input" value={displayName} onChange={(e) => setDisplayName(e.target.value)} maxLength={64} data-testid="profile-display-name" />
        </label>
        {!guest && (
          <label className="block">
            <span className="mb-1 block text-sm font-medium">Avatar image URL</span>
            <input
              className="input"
              type="url"
              placeholder="https://…"
              value={avatarUrl}
              onChange={(e) => setAvatarUrl(e.target.value)}
              data-testid="profile-avatar-url"
            />
          </label>
        )}
        {error && <p className="text-sm text-red-600" role="alert">{error}</p>}
        {saved && <p className="text-sm text-emerald-700 dark:text-emerald-400" role="status">Saved.</p>}
        <button type="submit" className="btn-primary" disabled={busy} data-testid="profile-save">
          {busy && <Spinner />} Save
        </button>
      </form>

      <section className="mt-6 space-y-2">
        <h3 className="text-sm font-semibold text-slate-500">Appearance</h3>
        <div role="radiogroup" aria-label="Theme" className="flex gap-1 rounded-xl bg-slate-100 p-1 dark:bg-slate-800">
          {(["system", "light", "dark"] as const).map((choice) => (
            <button
              key={choice}
              type="button"
              role="radio"
              aria-checked={theme === choice}
              onClick={() => chooseTheme(choice)}
              className={`flex flex-1 items-center justify-center gap-1.5 rounded-lg px-2 py-1.5 text-sm ${theme === choice ? "bg-white shadow-sm dark:bg-slate-700" : "text-slate-600 dark:text-slate-400"}`}
            >
              <Icon name={choice === "system" ? "system" : choice === "light" ? "sun" : "moon"} className="h-4 w-4" />
              {choice[0]!.toUpperCase() + choice.slice(1)}
            </button>
          ))}
        </div>
      </section>

      <section className="mt-6 space-y-2">
        <h3 className="text-sm font-semibold text-slate-500">Notifications</h3>
        {permission === "granted" ? (
          <p className="text-sm">On: you get a notification and a sound for new messages while Convene is in the background.</p>
        ) : permission === "denied" ? (
          <p className="text-sm">Blocked in this browser's site settings.</p>
        ) : permission === "unsupported" ? (
          <p className="text-sm">This browser cannot show notifications.</p>
        ) : (
          <button type="button" className="btn-ghost border border-slate-200 dark:border-slate-700" onClick={() => void enableNotifications().then(setPermission)}>
            <Icon name="bell" className="h-4 w-4" /> Turn on notifications
          </button>
        )}
      </section>

      <section className="mt-6 flex flex-wrap gap-2 border-t border-slate-200 pt-4 dark:border-slate-800">
        <button type="button" className="btn-ghost border border-slate-200 dark:border-slate-700" onClick={() => void signOut(false)} data-testid="sign-out">
          Sign out
        </button>
        <button type="button" className="btn-danger" onClick={() => void signOut(true)} data-testid="sign-out-everywhere">
          Sign out everywhere
        </button>
      </section>
    </Dialog>
  );
}

export function InfoPanel({
  api,
  client,
  snap,
  conversation: c,
  onClose,
  onJump,
  onLeft,
}: {
  api: Api;
  client: ChatClient;
  snap: Snapshot;
  conversation: ConversationState;
  onClose: () => void;
  onJump: (message: MessageView) => void;
  onLeft: () => void;
}) {
  const state = snap.chat;
  const conversation = c.summary.conversation;
  const id = conversation.id;
  const title = conversationTitle(state, c);
  const isAdmin = c.summary.role === "admin";
  const [rename, setRename] = useState(conversation.title ?? "");
  const [adding, setAdding] = useState("");
  const [found, setFound] = useState<UserView[]>([]);
  const [pins, setPins] = useState<MessageView[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.pins(id).then(setPins, () => setPins([]));
  }, [api, id, c.cursor]);

  useEffect(() => {
    const q = adding.trim();
    if (!q) {
      setFound([]);
      return;
    }
    const timer = setTimeout(() => {
      api.searchUsers(q, 10).then(setFound, () => setFound([]));
    }, 200);
    return () => clearTimeout(timer);
  }, [api, adding]);

  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(describe(e));
    }
  };

  const members = Object.values(c.members).sort((a, b) =>
    a.role !== b.role ? (a.role === "admin" ? -1 : 1) : userName(state, a.user_id).localeCompare(userName(state, b.user_id)),
  );
  const peerId = conversation.kind === "direct" ? c.summary.peer_id : null;
  const peer = peerId ? state.users[peerId] : undefined;
  const blocked = peerId ? snap.blocked.has(peerId) : false;
  const kindLabel = conversation.kind === "direct" ? "Contact info" : conversation.kind === "group" ? "Group info" : "Meeting info";

  return (
    <Dialog open onClose={onClose} title={kindLabel} testId="info-panel" wide>
      <div className="mb-4 flex flex-col items-center gap-2 text-center">
        <Avatar id={avatarKey(c)} name={title} url={conversationAvatar(state, c)} size={80} kind={conversation.kind === "direct" ? undefined : conversation.kind} />
        <div className="text-lg font-semibold">{title}</div>
        {peer && <div className="text-sm text-slate-500">@{peer.username}</div>}
        {peerId && state.presence[peerId] && (
          <div className="text-xs text-slate-500">
            {state.presence[peerId]!.online ? "online" : lastSeen(state.presence[peerId]!.last_seen_at)}
          </div>
        )}
        {conversation.meeting_code && (
          <div className="font-mono text-sm">
            Code <span className="font-semibold">{conversation.meeting_code}</span>
          </div>
        )}
      </div>

      {error && <p className="mb-3 text-sm text-red-600" role="alert">{error}</p>}

      {conversation.kind !== "direct" && isAdmin && (
        <form
          className="mb-4 flex gap-2"
          onSubmit={(event) => {
            event.preventDefault();
            if (rename.trim()) void run(() => api.rename(id, rename.trim()));
          }}
        >
          <input className="input" aria-label="Name" value={rename} onChange={(e) => setRename(e.target.value)} maxLength={64} data-testid="rename-input" />
          <button type="submit" className="btn-primary" disabled={!rename.trim() || rename.trim() === conversation.title}>
            Rename
          </button>
        </form>
      )}

      {conversation.kind !== "direct" && (
        <section className="mb-4">
          <h3 className="mb-2 text-sm font-semibold text-slate-500">{members.length} members</h3>
          {isAdmin && conversation.kind === "group" && (
            <div className="mb-2">
              <input className="input" placeholder="Add someone: search by name" aria-label="Add member" value={adding} onChange={(e) => setAdding(e.target.value)} data-testid="add-member-input" />
              {found.filter((user) => !c.members[user.id]).length > 0 && (
                <ul className="mt-1 rounded-lg border border-slate-200 dark:border-slate-700">
                  {found
                    .filter((user) => !c.members[user.id])
                    .map((user) => (
                      <li key={user.id}>
                        <button
                          type="button"
                          className="flex w-full items-center gap-2 px-2 py-1.5 text-left text-sm hover:bg-slate-100 dark:hover:bg-slate-800"
                          onClick={() =>
                            void run(async () => {
                              client.rememberUsers([user]);
                              await api.addMember(id, user.id);
                              setAdding("");
                            })
                          }
                          data-testid="add-member-result"
                        >
                          <Avatar id={user.id} name={user.display_name} size={28} />
                          {user.display_name} <span className="text-slate-500">@{user.username}</span>
                        </button>
                      </li>
                    ))}
                </ul>
              )}
            </div>
          )}
          <ul className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="member-list">
            {members.map((member) => {
              const user = state.users[member.user_id];
              const self = member.user_id === state.selfId;
              return (
                <li key={member.user_id} className="flex items-center gap-3 py-2" data-testid="member" data-role={member.role}>
                  <Avatar id={member.user_id} name={user?.display_name ?? "?"} url={user?.avatar_url} size={36} online={state.presence[member.user_id]?.online} />
                  <span className="min-w-0 flex-1">
                    <span className="block truncate font-medium">{self ? "You" : (user?.display_name ?? "…")}</span>
                    {user && <span className="block truncate text-xs text-slate-500">@{user.username}</span>}
                  </span>
                  {member.role === "admin" && (
                    <span className="rounded-md bg-emerald-100 px-1.5 py-0.5 text-xs font-medium text-emerald-800 dark:bg-emerald-900 dark:text-emerald-200">
                      Admin
                    </span>
                  )}
                  {isAdmin && !self && conversation.kind === "group" && (
                    <span className="flex gap-1">
                      <button
                        type="button"
                        className="btn-ghost px-2 py-1 text-xs"
                        onClick={() => void run(() => api.setRole(id, member.user_id, member.role === "admin" ? "member" : "admin"))}
                      >
                        {member.role === "admin" ? "Dismiss as admin" : "Make admin"}
                      </button>
                      <button
                        type="button"
                        className="btn-danger px-2 py-1 text-xs"
                        onClick={() => {
                          if (window.confirm(`Remove ${user?.display_name ?? "this member"}?`)) void run(() => api.removeMember(id, member.user_id));
                        }}
                      >
                        Remove
                      </button>
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
        </section>
      )}

      <section className="mb-4">
        <h3 className="mb-2 text-sm font-semibold text-slate-500">Pinned messages</h3>
        {pins === null ? (
          <Spinner />
        ) : pins.length === 0 ? (
          <p className="text-sm text-slate-500">Nothing pinned.</p>
        ) : (
          <ul className="space-y-1">
            {pins.map((message) => (
              <li key={message.id}>
                <button type="button" className="block w-full rounded-lg bg-slate-100 px-3 py-2 text-left text-sm hover:bg-slate-200 dark:bg-slate-800 dark:hover:bg-slate-700" onClick={() => onJump(message)}>
                  <span className="block text-xs text-slate-500">{userName(state, message.sender_id)}</span>
                  <span className="line-clamp-2">
                    <MessageText text={message.body} />
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="flex flex-wrap gap-2 border-t border-slate-200 pt-4 dark:border-slate-800">
        {peerId ? (
          <button
            type="button"
            className={blocked ? "btn-ghost border border-slate-200 dark:border-slate-700" : "btn-danger"}
            data-testid="info-block-toggle"
            onClick={() => {
              if (!blocked && !window.confirm(`Block ${title}? They will not be able to message you.`)) return;
              void run(() => client.setBlocked(peerId, !blocked));
            }}
          >
            <Icon name="block" className="h-4 w-4" /> {blocked ? `Unblock ${title}` : `Block ${title}`}
          </button>
        ) : (
          <button
            type="button"
            className="btn-danger"
            data-testid="leave-conversation"
            onClick={() => {
              if (!window.confirm(`Leave ${title}?`)) return;
              void run(async () => {
                await api.removeMember(id, state.selfId);
                onLeft();
              });
            }}
          >
            Leave {conversation.kind === "meeting" ? "meeting" : "group"}
          </button>
        )}
      </section>
    </Dialog>
  );
}
