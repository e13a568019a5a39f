// The typed REST client (docs/api.md). Sessions live in HTTP-only cookies, so script never
// sees a token: an expired access token is renewed by one silent `POST /auth/refresh`
// (single-flight, shared by every caller) and the request is retried once; a refresh is
// also scheduled shortly before the access token expires.
import type {
  ConversationSummaryView,
  ConversationView,
  MemberRoleView,
  MessageView,
} from "@proto";
import type { CallList, IceServers } from "@rest";
import type {
  ConversationDetail,
  EventAck,
  EventList,
  MeView,
  PresenceEntry,
  SentMessage,
  SessionResponse,
  UserView,
} from "./types";

/** A failed request: the HTTP status and the server's stable code and sentence. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds, from `Retry-After` (429, 503). */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** 401 codes that a refresh can cure (the browser drops an expired access cookie, which
 * the server then reports as `unauthenticated` rather than `token_expired`). */
const REFRESHABLE = new Set(["token_expired", "unauthenticated", "invalid_token"]);

/** Refresh this long before the access token expires. */
const REFRESH_AHEAD_MS = 60_000;

export interface ApiOptions {
  fetch?: typeof fetch;
  now?: () => number;
  /** The session cannot be renewed (signed out elsewhere, expired): show the sign-in. */
  onSessionEnded?: () => void;
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export class Api {
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private refreshing: Promise<SessionResponse> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private accessExpiresAt = 0;
  onSessionEnded: () => void;

  constructor(options: ApiOptions = {}) {
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? (() => Date.now());
    this.onSessionEnded = options.onSessionEnded ?? (() => {});
  }

  // ---- sessions ----

  register(username: string, password: string, displayName?: string): Promise<SessionResponse> {
    const body = { username, password, ...(displayName ? { display_name: displayName } : {}) };
    return this.sessionCall("/auth/register", body);
  }

  login(username: string, password: string): Promise<SessionResponse> {
    return this.sessionCall("/auth/login", { username, password });
  }

  guest(displayName: string): Promise<SessionResponse> {
    return this.sessionCall("/auth/guest", { display_name: displayName });
  }

  /** Renews the session from the refresh cookie. Concurrent callers share one request. */
  refresh(): Promise<SessionResponse> {
    if (!this.refreshing) {
      this.refreshing = this.sessionCall("/auth/refresh", undefined).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** Refreshes first when the access token is about to expire (before a WebSocket
   * handshake, which cannot be retried transparently). */
  async ensureFresh(): Promise<void> {
    if (this.accessExpiresAt - this.now() < REFRESH_AHEAD_MS) await this.refresh();
  }

  async logout(everywhere = false): Promise<void> {
    this.stopRefreshTimer();
    await this.request<void>("POST", "/auth/logout", everywhere ? { everywhere: true } : undefined, {
      retry: everywhere,
    });
  }

  stopRefreshTimer(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.accessExpiresAt = 0;
  }

  private async sessionCall(path: string, body: unknown): Promise<SessionResponse> {
    const session = await this.request<SessionResponse>("POST", path, body, { retry: false });
    this.scheduleRefresh(session.access_token_expires_at);
    return session;
  }

  private scheduleRefresh(expiresAt: string): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.accessExpiresAt = Date.parse(expiresAt);
    const delay = Math.max(5_000, this.accessExpiresAt - this.now() - REFRESH_AHEAD_MS);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.refresh().catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 401) this.onSessionEnded();
      });
    }, delay);
  }

  // ---- profile, users, blocks ----

  me = () => this.request<MeView>("GET", "/me");
  updateMe = (patch: { display_name?: string; avatar_url?: string | null; email?: string | null }) =>
    this.request<MeView>("PATCH", "/me", patch);
  searchUsers = (q: string, limit = 20) =>
    this.request<{ users: UserView[] }>("GET", `/users?${query({ q, limit })}`).then((r) => r.users);
  user = (userId: string) => this.request<UserView>("GET", `/users/${enc(userId)}`);
  blocks = () => this.request<{ users: UserView[] }>("GET", "/blocks").then((r) => r.users);
  block = (userId: string) => this.request<void>("PUT", `/blocks/${enc(userId)}`);
  unblock = (userId: string) => this.request<void>("DELETE", `/blocks/${enc(userId)}`);
  presence = (userIds: string[]) =>
    this.request<{ presence: PresenceEntry[] }>("GET", `/presence?${query({ user_ids: userIds.join(",") })}`).then(
      (r) => r.presence,
    );

  // ---- conversations ----

  conversations = (before?: string, limit = 100) =>
    this.request<{ conversations: ConversationSummaryView[] }>(
      "GET",
      `/conversations?${query({ before, limit })}`,
    ).then((r) => r.conversations);
  conversation = (id: string) => this.request<ConversationDetail>("GET", `/conversations/${enc(id)}`);
  startDirect = (userId: string) =>
    this.request<ConversationView>("POST", "/conversations/direct", { user_id: userId });
  createGroup = (title: string, memberIds: string[]) =>
    this.request<ConversationView>("POST", "/conversations/groups", { title, member_ids: memberIds });
  createMeeting = (title: string | undefined, allowGuests: boolean) =>
    this.request<ConversationView>("POST", "/conversations/meetings", {
      ...(title ? { title } : {}),
      allow_guests: allowGuests,
    });
  joinMeeting = (code: string) => this.request<ConversationView>("POST", `/meetings/${enc(code)}/join`);
  rename = (id: string, title: string) => this.request<EventAck>("PATCH", `/conversations/${enc(id)}`, { title });
  addMember = (id: string, userId: string) =>
    this.request<EventAck>("POST", `/conversations/${enc(id)}/members`, { user_id: userId });
  setRole = (id: string, userId: string, role: MemberRoleView) =>
    this.request<EventAck>("PATCH", `/conversations/${enc(id)}/members/${enc(userId)}`, { role });
  removeMember = (id: string, userId: string) =>
    this.request<EventAck>("DELETE", `/conversations/${enc(id)}/members/${enc(userId)}`);

  // ---- messages ----

  /** History, newest first. */
  messages = (id: string, beforeSeq?: number, limit = 50) =>
    this.request<{ messages: MessageView[] }>(
      "GET",
      `/conversations/${enc(id)}/messages?${query({ before_seq: beforeSeq, limit })}`,
    ).then((r) => r.messages);
  events = (id: string, afterSeq: number) =>
    this.request<EventList>("GET", `/conversations/${enc(id)}/events?${query({ after_seq: afterSeq })}`);
  sendMessage = (id: string, clientId: string, body: string, replyTo?: string) =>
    this.request<SentMessage>("POST", `/conversations/${enc(id)}/messages`, {
      client_id: clientId,
      body,
      ...(replyTo ? { reply_to: replyTo } : {}),
    });
  pins = (id: string) =>
    this.request<{ messages: MessageView[] }>("GET", `/conversations/${enc(id)}/pins`).then((r) => r.messages);
  search = (q: string, conversationId?: string, limit = 50) =>
    this.request<{ messages: MessageView[] }>(
      "GET",
      `/search/messages?${query({ q, conversation_id: conversationId, limit })}`,
    ).then((r) => r.messages);

  // ---- calls ----

  /** My call history, newest first. */
  calls = (before?: string, limit = 50) =>
    this.request<CallList>("GET", `/calls?${query({ before, limit })}`).then((r) => r.calls);
  iceServers = () => this.request<IceServers>("GET", "/calls/ice-servers");

  // ---- plumbing ----

  async request<T>(
    method: Method,
    path: string,
    body?: unknown,
    { retry = true }: { retry?: boolean } = {},
  ): Promise<T> {
    const response = await this.send(method, path, body);
    if (response.ok) return parseBody<T>(response);
    const error = await toApiError(response);
    if (retry && error.status === 401 && REFRESHABLE.has(error.code)) {
      try {
        await this.refresh();
      } catch (refreshError) {
        if (refreshError instanceof ApiError && refreshError.status === 401) this.onSessionEnded();
        throw error;
      }
      const again = await this.send(method, path, body);
      if (again.ok) return parseBody<T>(again);
      const second = await toApiError(again);
      if (second.status === 401) this.onSessionEnded();
      throw second;
    }
    throw error;
  }

  private send(method: Method, path: string, body: unknown): Promise<Response> {
    const init: RequestInit = { method, credentials: "same-origin", headers: { accept: "application/json" } };
    if (body !== undefined) {
      init.headers = { accept: "application/json", "content-type": "application/json" };
      init.body = JSON.stringify(body);
    }
    return this.fetchImpl(`/api/v1${path}`, init).catch(() => {
      throw new ApiError(0, "network_error", "Convene cannot be reached. Check your connection.");
    });
  }
}

async function parseBody<T>(response: Response): Promise<T> {
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

async function toApiError(response: Response): Promise<ApiError> {
  const retryAfterHeader = response.headers.get("retry-after");
  const retryAfter = retryAfterHeader !== null && retryAfterHeader !== "" ? Number(retryAfterHeader) : null;
  try {
    const json = (await response.json()) as { error?: { code?: string; message?: string } };
    if (json.error?.code) {
      return new ApiError(response.status, json.error.code, json.error.message ?? json.error.code, retryAfter);
    }
  } catch {
    // Not JSON: a proxy's page, say.
  }
  return new ApiError(response.status, "http_" + response.status, `The server answered ${response.status}.`, retryAfter);
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  return search.toString();
}
