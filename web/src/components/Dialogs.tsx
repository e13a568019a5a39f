// New chat (user search), new group, new meeting / join by code, search, forward.
import { type FormEvent, useEffect, useState } from "react";
import type { MessageView } from "@proto";
import type { Api } from "../lib/api";
import { sortedConversations } from "../lib/chatStore";
import { type ChatClient, type Snapshot, describe } from "../lib/client";
import { listTime } from "../lib/format";
import type { UserView } from "../lib/types";
import { MessageText } from "./Message";
import { avatarKey, conversationTitle, userName } from "./names";
import { Avatar, Dialog, Icon, Spinner } from "./ui";

/** Searches members by username or display name as you type. */
function useUserSearch(api: Api, query: string): { users: UserView[]; loading: boolean; error: string | null } {
  const [users, setUsers] = useState<UserView[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const q = query.trim().replace(/^@/, "");
    if (!q) {
      setUsers([]);
      setError(null);
      return;
    }
    let cancelled = false;
    setLoading(true);
    const timer = setTimeout(() => {
      api.searchUsers(q, 20).then(
        (found) => {
          if (cancelled) return;
          setUsers(found);
          setError(null);
          setLoading(false);
        },
        (e: unknown) => {
          if (cancelled) return;
          setError(describe(e));
          setLoading(false);
        },
      );
    }, 200);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [api, query]);
  return { users, loading, error };
}

function UserRow({ user, onClick, selected }: { user: UserView; onClick: () => void; selected?: boolean }) {
  return (
    <li>
      <button
        type="button"
        onClick={onClick}
        data-testid="user-result"
        data-username={user.username}
        aria-pressed={selected}
        className="flex w-full items-center gap-3 rounded-lg px-2 py-2 text-left hover:bg-slate-100 dark:hover:bg-slate-800"
      >
        <Avatar id={user.id} name={user.display_name} url={user.avatar_url} size={36} />
        <span className="min-w-0 flex-1">
          <span className="block truncate font-medium">{user.display_name}</span>
          <span className="block truncate text-xs text-slate-500">@{user.username}</span>
        </span>
        {selected && <span className="text-emerald-600">✓</span>}
      </button>
    </li>
  );
}

export function NewDirectDialog({
  open,
  api,
  client,
  onClose,
  onOpened,
}: {
  open: boolean;
  api: Api;
  client: ChatClient;
  onClose: () => void;
  onOpened: (conversationId: string) => void;
}) {
  const [query, setQuery] = useState("");
  const [error, setError] = useState<string | null>(null);
  const search = useUserSearch(api, query);
  useEffect(() => {
    if (open) {
      setQuery("");
      setError(null);
    }
  }, [open]);
  const start = async (user: UserView) => {
    try {
      onOpened(await client.startDirect(user));
    } catch (e) {
      setError(describe(e));
    }
  };
  const others = search.users.filter((user) => user.id !== client.me.id);
  return (
    <Dialog open={open} onClose={onClose} title="New chat" testId="new-direct-dialog">
      <input
        className="input"
        placeholder="Search people by name or username"
        aria-label="Search people"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        autoFocus
        data-testid="user-search-input"
      />
      {(error ?? search.error) && <p className="mt-2 text-sm text-red-600" role="alert">{error ?? search.error}</p>}
      <ul className="mt-2 min-h-24">
        {search.loading && <li className="flex justify-center p-3 text-slate-400"><Spinner /></li>}
        {!search.loading && query.trim() && others.length === 0 && (
          <li className="p-3 text-center text-sm text-slate-500">Nobody found.</li>
        )}
        {others.map((user) => (
          <UserRow key={user.id} user={user} onClick={() => void start(user)} />
        ))}
      </ul>
    </Dialog>
  );
}

/** "Add person" in a one-to-one call: pick someone and the call moves to a group's
 * meeting with the three of you (the server answers with `call_moved`). */
export function AddToCallDialog({
  open,
  api,
  client,
  exclude,
  onClose,
}: {
  open: boolean;
  api: Api;
  client: ChatClient;
  /** Who is in the call already. */
  exclude: string[];
  onClose: () => void;
}) {
  const [query, setQuery] = useState("");
  const [adding, setAdding] = useState<string | null>(null);
  const search = useUserSearch(api, query);
  useEffect(() => {
    if (open) {
      setQuery("");
      setAdding(null);
    }
  }, [open]);
  const add = async (user: UserView) => {
    if (adding) return;
    setAdding(user.id);
    client.rememberUsers([user]);
    // Errors are toasts (the call screen stays); on success the call becomes the meeting.
    const added = await client.calls.addParticipant(user.id);
    setAdding(null);
    if (added) onClose();
  };
  const others = search.users.filter((user) => user.id !== client.me.id && !exclude.includes(user.id));
  return (
    <Dialog open={open} onClose={onClose} title="Add person to the call" testId="call-add-dialog">
      <p className="mb-2 text-sm text-slate-500 dark:text-slate-400">The call continues as a group meeting with the three of you.</p>
      <input
        className="input"
        placeholder="Search people by name or username"
        aria-label="Search people"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        autoFocus
        data-testid="user-search-input"
      />
      {search.error && <p className="mt-2 text-sm text-red-600" role="alert">{search.error}</p>}
      <ul className="mt-2 min-h-24" aria-busy={adding !== null}>
        {search.loading && <li className="flex justify-center p-3 text-slate-400"><Spinner /></li>}
        {!search.loading && query.trim() && others.length === 0 && (
          <li className="p-3 text-center text-sm text-slate-500">Nobody found.</li>
        )}
        {others.map((user) => (
          <UserRow key={user.id} user={user} onClick={() => void add(user)} />
        ))}
      </ul>
    </Dialog>
  );
}

export function NewGroupDialog({
  open,
  api,
  client,
  onClose,
  onOpened,
}: {
  open: boolean;
  api: Api;
  client: ChatClient;
  onClose: () => void;
  onOpened: (conversationId: string) => void;
}) {
  const [title, setTitle] = useState("");
  const [query, setQuery] = useState("");
  const [members, setMembers] = useState<UserView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const search = useUserSearch(api, query);
  useEffect(() => {
    if (open) {
      setTitle("");
      setQuery("");
      setMembers([]);
      setError(null);
    }
  }, [open]);
  const toggle = (user: UserView) =>
    setMembers((list) => (list.some((m) => m.id === user.id) ? list.filter((m) => m.id !== user.id) : [...list, user]));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!title.trim()) {
      setError("Give the group a name.");
      return;
    }
    setBusy(true);
    try {
      onOpened(await client.createGroup(title.trim(), members));
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title="New group" testId="new-group-dialog">
      <form onSubmit={submit} className="space-y-3">
        <label className="block">
          <span className="mb-1 block text-sm font-medium">Group name</span>
          <input className="input" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={64} autoFocus data-testid="group-title-input" />
        </label>
        {members.length > 0 && (
          <ul className="flex flex-wrap gap-1.5" aria-label="Members to add">
            {members.map((user) => (
              <li key={user.id}>
                <button
                  type="button"
                  onClick={() => toggle(user)}
                  className="flex items-center gap-1 rounded-full bg-emerald-100 py-0.5 pr-2 pl-0.5 text-sm text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100"
                  aria-label={`Remove ${user.display_name}`}
                >
                  <Avatar id={user.id} name={user.display_name} url={user.avatar_url} size={22} />
                  {user.display_name}
                  <Icon name="close" className="h-3.5 w-3.5" />
                </button>
              </li>
            ))}
          </ul>
        )}
        <input
          className="input"
          placeholder="Add people: search by name or username"
          aria-label="Search people to add"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          data-testid="user-search-input"
        />
        <ul className="max-h-56 overflow-y-auto">
          {search.users
            .filter((user) => user.id !== client.me.id)
            .map((user) => (
              <UserRow key={user.id} user={user} selected={members.some((m) => m.id === user.id)} onClick={() => toggle(user)} />
            ))}
        </ul>
        {error && <p className="text-sm text-red-600" role="alert">{error}</p>}
        <button type="submit" className="btn-primary w-full" disabled={busy} data-testid="create-group">
          {busy && <Spinner />} Create group{members.length ? ` with ${members.length + 1} people` : ""}
        </button>
      </form>
    </Dialog>
  );
}

export function MeetingDialog({
  open,
  initialTab,
  client,
  onClose,
  onOpened,
}: {
  open: boolean;
  initialTab: "new" | "join";
  client: ChatClient;
  onClose: () => void;
  onOpened: (conversationId: string) => void;
}) {
  const [tab, setTab] = useState(initialTab);
  const [title, setTitle] = useState("");
  const [allowGuests, setAllowGuests] = useState(true);
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (open) {
      setTab(initialTab);
      setTitle("");
      setCode("");
      setError(null);
    }
  }, [open, initialTab]);
  const isGuest = client.me.kind === "guest";
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Straight to the lobby, which shows the code and the link to share.
      onOpened((await client.createMeeting(title.trim() || undefined, allowGuests)).id);
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  };
  const join = async (event: FormEvent) => {
    event.preventDefault();
    const value = code.trim();
    if (!value) return;
    setBusy(true);
    setError(null);
    try {
      onOpened(await client.joinMeeting(value.replace(/^.*\/join\//, "")));
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title="Meeting" testId="meeting-dialog">
      <div role="tablist" className="mb-4 flex gap-1 rounded-xl bg-slate-100 p-1 dark:bg-slate-800">
        {(["new", "join"] as const).map((value) => (
          <button
            key={value}
            type="button"
            role="tab"
            aria-selected={tab === value}
            onClick={() => {
              setTab(value);
              setError(null);
            }}
            className={`flex-1 rounded-lg px-3 py-1.5 text-sm font-medium ${tab === value ? "bg-white shadow-sm dark:bg-slate-700" : "text-slate-600 dark:text-slate-400"}`}
          >
            {value === "new" ? "New meeting" : "Join with a code"}
          </button>
        ))}
      </div>
      {tab === "new" ? (
        isGuest ? (
          <p className="text-sm text-slate-600 dark:text-slate-300">Guests can join meetings with a code, but only members can start one.</p>
        ) : (
          <form onSubmit={create} className="space-y-3">
            <label className="block">
              <span className="mb-1 block text-sm font-medium">Title (optional)</span>
              <input className="input" value={title} onChange={(e) => setTitle(e.target.value)} maxLength={64} data-testid="meeting-title-input" />
            </label>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" checked={allowGuests} onChange={(e) => setAllowGuests(e.target.checked)} className="h-4 w-4 accent-emerald-600" />
              Let guests join with the code
            </label>
            {error && <p className="text-sm text-red-600" role="alert">{error}</p>}
            <button type="submit" className="btn-primary w-full" disabled={busy} data-testid="create-meeting">
              {busy && <Spinner />} Start the meeting
            </button>
          </form>
        )
      ) : (
        <form onSubmit={join} className="space-y-3">
          <label className="block">
            <span className="mb-1 block text-sm font-medium">Meeting code or link</span>
            <input
              className="input font-mono"
              placeholder="abc-defg-hij"
              value={code}
              onChange={(e) => setCode(e.target.value)}
              autoFocus
              autoCapitalize="none"
              spellCheck={false}
              data-testid="meeting-code-input"
            />
          </label>
          {error && <p className="text-sm text-red-600" role="alert" data-testid="meeting-error">{error}</p>}
          <button type="submit" className="btn-primary w-full" disabled={busy || !code.trim()} data-testid="join-meeting-submit">
            {busy && <Spinner />} Join
          </button>
        </form>
      )}
    </Dialog>
  );
}

export function SearchDialog({
  open,
  api,
  snap,
  conversationId,
  onClose,
  onPick,
}: {
  open: boolean;
  api: Api;
  snap: Snapshot;
  conversationId: string | null;
  onClose: () => void;
  onPick: (message: MessageView) => void;
}) {
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<MessageView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (open) {
      setQuery("");
      setResults(null);
      setError(null);
    }
  }, [open, conversationId]);
  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResults(null);
      return;
    }
    let cancelled = false;
    setLoading(true);
    const timer = setTimeout(() => {
      api.search(q, conversationId ?? undefined, 50).then(
        (found) => {
          if (cancelled) return;
          setResults(found);
          setError(null);
          setLoading(false);
        },
        (e: unknown) => {
          if (cancelled) return;
          setError(describe(e));
          setLoading(false);
        },
      );
    }, 250);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [api, query, conversationId]);
  const state = snap.chat;
  const scope = conversationId && state.conversations[conversationId] ? conversationTitle(state, state.conversations[conversationId]!) : null;
  return (
    <Dialog open={open} onClose={onClose} title={scope ? `Search in ${scope}` : "Search all messages"} testId="search-dialog" wide>
      <input
        type="search"
        className="input"
        placeholder="Search messages"
        aria-label="Search messages"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        autoFocus
        data-testid="message-search-input"
      />
      {error && <p className="mt-2 text-sm text-red-600" role="alert">{error}</p>}
      <ul className="mt-2 min-h-24 divide-y divide-slate-100 dark:divide-slate-800" data-testid="search-results">
        {loading && <li className="flex justify-center p-3 text-slate-400"><Spinner /></li>}
        {!loading && results?.length === 0 && <li className="p-3 text-center text-sm text-slate-500">No messages found.</li>}
        {!loading &&
          results?.map((message) => {
            const c = state.conversations[message.conversation_id];
            return (
              <li key={message.id}>
                <button
                  type="button"
                  onClick={() => onPick(message)}
                  data-testid="search-result"
                  className="block w-full rounded-lg px-2 py-2 text-left hover:bg-slate-100 dark:hover:bg-slate-800"
                >
                  <span className="flex items-baseline gap-2 text-xs text-slate-500">
                    <span className="flex-1 truncate font-medium text-slate-700 dark:text-slate-300">
                      {c && !conversationId ? `${conversationTitle(state, c)} · ` : ""}
                      {message.sender_id === state.selfId ? "You" : userName(state, message.sender_id)}
                    </span>
                    <span>{listTime(message.created_at)}</span>
                  </span>
                  <span className="line-clamp-2 text-sm">
                    <MessageText text={message.body} />
                  </span>
                </button>
              </li>
            );
          })}
      </ul>
    </Dialog>
  );
}

export function ForwardDialog({
  open,
  snap,
  message,
  client,
  onClose,
}: {
  open: boolean;
  snap: Snapshot;
  message: MessageView | null;
  client: ChatClient;
  onClose: () => void;
}) {
  const [filter, setFilter] = useState("");
  const [busy, setBusy] = useState<string | null>(null);
  useEffect(() => {
    if (open) setFilter("");
  }, [open]);
  const state = snap.chat;
  const q = filter.trim().toLowerCase();
  const targets = sortedConversations(state).filter((c) => !q || conversationTitle(state, c).toLowerCase().includes(q));
  const forward = async (conversationId: string) => {
    if (!message) return;
    setBusy(conversationId);
    try {
      await client.forward(message.id, conversationId);
      client.toast("Forwarded.");
      onClose();
    } catch (e) {
      client.toast(describe(e));
    } finally {
      setBusy(null);
    }
  };
  return (
    <Dialog open={open} onClose={onClose} title="Forward to…" testId="forward-dialog">
      {message && (
        <p className="mb-3 line-clamp-3 rounded-lg bg-slate-100 px-3 py-2 text-sm dark:bg-slate-800">
          <MessageText text={message.body} />
        </p>
      )}
      <input className="input" placeholder="Search conversations" aria-label="Search conversations" value={filter} onChange={(e) => setFilter(e.target.value)} autoFocus />
      <ul className="mt-2 max-h-72 overflow-y-auto">
        {targets.map((c) => {
          const title = conversationTitle(state, c);
          return (
            <li key={c.summary.conversation.id}>
              <button
                type="button"
                disabled={busy !== null}
                onClick={() => void forward(c.summary.conversation.id)}
                className="flex w-full items-center gap-3 rounded-lg px-2 py-2 text-left hover:bg-slate-100 disabled:opacity-60 dark:hover:bg-slate-800"
                data-testid="forward-target"
              >
                <Avatar id={avatarKey(c)} name={title} size={36} kind={c.summary.conversation.kind === "direct" ? undefined : c.summary.conversation.kind} />
                <span className="flex-1 truncate">{title}</span>
                {busy === c.summary.conversation.id && <Spinner />}
              </button>
            </li>
          );
        })}
      </ul>
    </Dialog>
  );
}
