// The driver: it owns the chat state, feeds it what the socket and REST bring, carries out
// the reducer's effects (fetch a gap, reload, notify), sends receipts, and offers the
// actions the UI needs. React reads it through `subscribe` + `snapshot`
// (useSyncExternalStore).
import type { ClientFrame, ConversationSummaryView, ConversationView, MessageView, ServerFrame } from "@proto";
import { type Api, ApiError } from "./api";
import { CallClient } from "./callClient";
import { isBusy } from "./callState";
import { MeetingClient } from "./meetingClient";
import { type Action, type ChatState, type Effect, cursors, initialState, reduce } from "./chatStore";
import { newClientId } from "./ids";
import { showNotification } from "./notify";
import { ChatSocket, type SocketStatus, SocketRequestError, socketUrl } from "./socket";
import type { MeView, UserView } from "./types";

export const MAX_MESSAGE_LENGTH = 4096;
const HISTORY_PAGE = 50;
const TYPING_EVERY_MS = 3_000;
const RECEIPT_DELAY_MS = 250;

export interface Toast {
  id: number;
  text: string;
}

export interface Snapshot {
  chat: ChatState;
  status: SocketStatus;
  toasts: Toast[];
  blocked: ReadonlySet<string>;
  /** Conversations whose older history is being loaded. */
  loadingOlder: ReadonlySet<string>;
  /** The first conversation list arrived. */
  ready: boolean;
}

export interface ClientOptions {
  /** A message from someone else arrived (for notifications while the tab is hidden). */
  onIncoming?: (conversationId: string, message: MessageView) => void;
  /** Open a conversation (from a notification). */
  onOpen?: (conversationId: string) => void;
}

/** Errors the server sends about `call_signal` frames (which carry no request id): a
 * late candidate after the call ended is no news for the user. */
const QUIET_CALL_ERRORS = new Set([
  "call_ended",
  "call_not_ongoing",
  "call_not_found",
  "not_the_answering_connection",
  "invalid_signal",
  // A meeting frame (a view preference, a state) that crossed our leaving.
  "not_in_meeting",
]);

export class ChatClient {
  readonly me: MeView;
  /** One-to-one calls (callClient.ts), fed by this driver's socket. */
  readonly calls: CallClient;
  /** Group meetings through the SFU (meetingClient.ts), fed by this driver's socket. */
  readonly meetings: MeetingClient;
  private readonly api: Api;
  private readonly socket: ChatSocket;
  private readonly options: ClientOptions;
  private snap: Snapshot;
  private readonly listeners = new Set<() => void>();
  private activeId: string | null = null;
  private attention = false;
  private readonly historyLoading = new Set<string>();
  private readonly detailLoading = new Set<string>();
  private readonly userLoading = new Set<string>();
  private readonly lastTypingSent = new Map<string, number>();
  private readonly receiptTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly sentDelivered = new Map<string, number>();
  private readonly sentRead = new Map<string, number>();
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  private nextToast = 1;
  private readonly cleanup: (() => void)[] = [];

  constructor(api: Api, me: MeView, options: ClientOptions = {}) {
    this.api = api;
    this.me = me;
    this.options = options;
    this.snap = {
      chat: initialState(me.id),
      status: "connecting",
      toasts: [],
      blocked: new Set(),
      loadingOlder: new Set(),
      ready: false,
    };
    this.calls = new CallClient({
      api,
      selfId: me.id,
      transport: {
        request: (frame) => this.socket.request<Extract<ServerFrame, { type: "call_update" }>>(frame),
        fire: (frame) => this.socket.fire(frame),
        online: () => this.socket.status === "online",
      },
      toast: (text) => this.toast(text),
      nameOf: (userId) => this.snap.chat.users[userId]?.display_name ?? "Someone",
      ensureUsers: (ids) => this.ensureUsers(ids),
      open: (conversationId) => this.options.onOpen?.(conversationId),
      moved: (conversationId, media) => {
        // The call goes on in the group's meeting; its chat is the one open afterwards.
        this.meetings.joinFromCall(conversationId, media);
        this.options.onOpen?.(conversationId);
      },
    });
    this.meetings = new MeetingClient({
      transport: {
        join: (conversationId, ring) =>
          this.socket.request<Extract<ServerFrame, { type: "meeting_joined" }>>({
            type: "meeting_join",
            conversation_id: conversationId,
            ...(ring ? { ring: true } : {}),
          }),
        host: (action) => this.socket.request({ type: "meeting_host", action }),
        fire: (frame) => this.socket.fire(frame),
        online: () => this.socket.status === "online",
      },
      toast: (text) => this.toast(text),
      inCall: () => isBusy(this.calls.state),
      onRinging: (conversationId, fromName) => {
        if (document.visibilityState === "visible") return;
        const c = this.snap.chat.conversations[conversationId];
        const title = c?.summary.conversation.title ?? "a group";
        showNotification(fromName, `Started a meeting in ${title}`, `meeting-${conversationId}`, () => this.options.onOpen?.(conversationId));
      },
    });
    this.socket = new ChatSocket({
      url: socketUrl(window.location),
      getCursors: () => cursors(this.snap.chat),
      onFrame: (frame) => this.onFrame(frame),
      onReady: (frame) => this.calls.onReady(frame.connection_id),
      beforeConnect: async (afterFailure) => {
        try {
          if (afterFailure) await this.api.refresh();
          else await this.api.ensureFresh();
        } catch (error) {
          // A refused refresh means the session is over (signed out everywhere, expired).
          if (error instanceof ApiError && error.status === 401) this.api.onSessionEnded();
          throw error;
        }
      },
    });
  }

  // ---- store plumbing ----

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  snapshot = (): Snapshot => this.snap;

  private set(patch: Partial<Snapshot>): void {
    this.snap = { ...this.snap, ...patch };
    for (const listener of this.listeners) listener();
  }

  private dispatch(action: Action): void {
    const step = reduce(this.snap.chat, action);
    if (step.state !== this.snap.chat) this.set({ chat: step.state });
    for (const effect of step.effects) this.run(effect);
  }

  get state(): ChatState {
    return this.snap.chat;
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    this.cleanup.push(this.socket.subscribe((status) => this.onStatus(status)));
    const wake = () => this.socket.reconnectNow();
    const attention = () => this.updateAttention();
    window.addEventListener("online", wake);
    window.addEventListener("focus", attention);
    window.addEventListener("blur", attention);
    document.addEventListener("visibilitychange", attention);
    document.addEventListener("visibilitychange", wake);
    this.cleanup.push(() => {
      window.removeEventListener("online", wake);
      window.removeEventListener("focus", attention);
      window.removeEventListener("blur", attention);
      document.removeEventListener("visibilitychange", attention);
      document.removeEventListener("visibilitychange", wake);
    });
    this.tickTimer = setInterval(() => {
      if (Object.keys(this.snap.chat.typing).length) this.dispatch({ type: "tick", now: Date.now() });
    }, 1_000);
    this.updateAttention();
    try {
      const summaries = await this.api.conversations();
      this.dispatch({ type: "conversations_loaded", summaries });
      this.afterSummaries(summaries);
    } catch (error) {
      this.toast(describe(error));
    }
    this.set({ ready: true });
    this.calls.start();
    this.meetings.start();
    this.socket.start();
    this.api.blocks().then(
      (users) => {
        this.dispatch({ type: "users_loaded", users });
        this.set({ blocked: new Set(users.map((user) => user.id)) });
      },
      () => {},
    );
  }

  stop(): void {
    this.calls.stop();
    this.meetings.stop();
    this.socket.stop();
    for (const undo of this.cleanup.splice(0)) undo();
    if (this.tickTimer) clearInterval(this.tickTimer);
    for (const timer of this.receiptTimers.values()) clearTimeout(timer);
    this.listeners.clear();
  }

  private onStatus(status: SocketStatus): void {
    this.set({ status });
    this.meetings.onStatus(status);
    if (status === "online") {
      // Everything we hold reached this device; the open conversation is read.
      for (const id of Object.keys(this.snap.chat.conversations)) this.scheduleReceipts(id);
    }
  }

  private afterSummaries(summaries: ConversationSummaryView[]): void {
    const peers = summaries.map((s) => s.peer_id).filter((id): id is string => Boolean(id));
    const senders = summaries.map((s) => s.last_message?.sender_id).filter((id): id is string => Boolean(id));
    this.ensureUsers([...peers, ...senders]);
    if (peers.length) this.loadPresence(peers);
  }

  // ---- frames and effects ----

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case "event":
        this.dispatch({ type: "event", event: frame.event });
        this.afterEvent(frame.event.conversation_id, frame.event.change);
        return;
      case "message_sent":
        this.dispatch({ type: "message_sent", client_id: frame.client_id, message: frame.message });
        return;
      case "conversation_added":
        this.dispatch({ type: "conversation_added", summary: frame.conversation });
        this.afterSummaries([frame.conversation]);
        this.scheduleReceipts(frame.conversation.conversation.id);
        return;
      case "conversation_removed":
        this.dispatch({ type: "conversation_removed", conversation_id: frame.conversation_id });
        return;
      case "receipt":
        this.dispatch({
          type: "receipt",
          conversation_id: frame.conversation_id,
          user_id: frame.user_id,
          delivered_seq: frame.delivered_seq,
          read_seq: frame.read_seq,
        });
        return;
      case "typing":
        this.dispatch({
          type: "typing",
          conversation_id: frame.conversation_id,
          user_id: frame.user_id,
          expires_in_ms: frame.expires_in_ms,
          now: Date.now(),
        });
        return;
      case "presence":
        this.dispatch({ type: "presence", user_id: frame.user_id, online: frame.online, last_seen_at: frame.last_seen_at });
        return;
      case "resync_required":
        this.dispatch({ type: "resync_required", conversation_id: frame.conversation_id });
        return;
      case "call_update":
        this.calls.onUpdate(frame);
        return;
      case "call_signal":
        this.calls.onSignal(frame);
        return;
      case "call_moved":
        this.calls.onMoved(frame);
        return;
      case "meeting_roster":
      case "meeting_admitted":
      case "meeting_muted_by_host":
      case "meeting_ringing":
      case "meeting_speakers":
      case "meeting_reaction":
      case "meeting_left":
      case "meeting_publish_answer":
      case "meeting_subscribe_offer":
        this.meetings.onFrame(frame);
        return;
      case "error":
        if (QUIET_CALL_ERRORS.has(frame.error.code)) {
          console.debug("call:", frame.error.code, frame.error.message);
          return;
        }
        this.toast(frame.error.message);
        return;
      default:
        return;
    }
  }

  private afterEvent(conversationId: string, change: { kind: string; user_id?: string; message?: MessageView }): void {
    if (change.kind === "message_created" && change.message) this.ensureUsers([change.message.sender_id]);
    if (change.kind === "member_joined" && change.user_id) this.ensureUsers([change.user_id]);
    this.scheduleReceipts(conversationId);
  }

  private run(effect: Effect): void {
    switch (effect.type) {
      case "fetch_gap":
        void this.fetchGap(effect.conversation_id, effect.after_seq);
        return;
      case "reload":
        void (effect.conversation_id ? this.reloadConversation(effect.conversation_id) : this.reloadAll());
        return;
      case "notify":
        this.options.onIncoming?.(effect.conversation_id, effect.message);
        return;
    }
  }

  private async fetchGap(conversationId: string, afterSeq: number): Promise<void> {
    try {
      const { events, complete } =
        this.socket.status === "online"
          ? await this.socket.request<Extract<ServerFrame, { type: "events" }>>({
              type: "fetch_events",
              conversation_id: conversationId,
              after_seq: afterSeq,
            })
          : await this.api.events(conversationId, afterSeq);
      this.dispatch({ type: "events_fetched", conversation_id: conversationId, events, complete });
      this.scheduleReceipts(conversationId);
    } catch {
      this.dispatch({ type: "gap_fetch_failed", conversation_id: conversationId });
    }
  }

  private async reloadConversation(conversationId: string): Promise<void> {
    try {
      const [detail, messages] = await Promise.all([
        this.api.conversation(conversationId),
        this.api.messages(conversationId, undefined, HISTORY_PAGE),
      ]);
      this.dispatch({
        type: "conversation_reloaded",
        conversation: detail.conversation,
        members: detail.members,
        messages,
        limit: HISTORY_PAGE,
      });
    } catch (error) {
      if (error instanceof ApiError && (error.code === "not_a_member" || error.status === 404)) {
        this.dispatch({ type: "conversation_removed", conversation_id: conversationId });
      }
    }
  }

  private async reloadAll(): Promise<void> {
    try {
      const summaries = await this.api.conversations();
      this.dispatch({ type: "conversations_loaded", summaries, replace: true });
      this.afterSummaries(summaries);
      if (this.activeId) {
        this.detailLoading.delete(this.activeId);
        this.openConversation(this.activeId);
      }
      await this.socket.resync();
    } catch (error) {
      this.toast(describe(error));
    }
  }

  // ---- receipts ----

  /** Which conversation is on screen; null when none. */
  setActive(conversationId: string | null): void {
    this.activeId = conversationId;
    if (conversationId) this.scheduleReceipts(conversationId);
  }

  private updateAttention(): void {
    const attention = document.visibilityState === "visible" && document.hasFocus();
    if (attention === this.attention) return;
    this.attention = attention;
    if (attention && this.activeId) this.scheduleReceipts(this.activeId);
  }

  private scheduleReceipts(conversationId: string): void {
    if (this.receiptTimers.has(conversationId)) return;
    this.receiptTimers.set(
      conversationId,
      setTimeout(() => {
        this.receiptTimers.delete(conversationId);
        this.sendReceipts(conversationId);
      }, RECEIPT_DELAY_MS),
    );
  }

  private sendReceipts(conversationId: string): void {
    const c = this.snap.chat.conversations[conversationId];
    if (!c || this.socket.status !== "online") return;
    const seq = c.cursor;
    if (seq > c.summary.delivered_seq && seq > (this.sentDelivered.get(conversationId) ?? 0)) {
      if (this.socket.fire({ type: "mark_delivered", conversation_id: conversationId, seq })) {
        this.sentDelivered.set(conversationId, seq);
      }
    }
    const reading = conversationId === this.activeId && this.attention;
    if (reading && seq > c.summary.read_seq && seq > (this.sentRead.get(conversationId) ?? 0)) {
      if (this.socket.fire({ type: "mark_read", conversation_id: conversationId, seq })) {
        this.sentRead.set(conversationId, seq);
      }
    }
  }

  // ---- conversations ----

  /** Loads what an opened conversation needs: the newest history page, the members. */
  openConversation(conversationId: string): void {
    this.setActive(conversationId);
    void this.ensureHistory(conversationId);
    void this.ensureDetail(conversationId);
  }

  private async ensureHistory(conversationId: string): Promise<void> {
    const c = this.snap.chat.conversations[conversationId];
    if (!c || c.history.loaded || this.historyLoading.has(conversationId)) return;
    this.historyLoading.add(conversationId);
    try {
      const messages = await this.api.messages(conversationId, undefined, HISTORY_PAGE);
      this.dispatch({ type: "history_loaded", conversation_id: conversationId, messages, limit: HISTORY_PAGE });
      this.ensureUsers(messages.map((m) => m.sender_id));
      this.scheduleReceipts(conversationId);
    } catch (error) {
      this.toast(describe(error));
    } finally {
      this.historyLoading.delete(conversationId);
    }
  }

  private async ensureDetail(conversationId: string): Promise<void> {
    if (this.detailLoading.has(conversationId)) return;
    const c = this.snap.chat.conversations[conversationId];
    if (!c || c.membersLoaded) return;
    this.detailLoading.add(conversationId);
    try {
      const detail = await this.api.conversation(conversationId);
      this.dispatch({ type: "conversation_detail", conversation: detail.conversation, members: detail.members });
      const ids = detail.members.map((m) => m.user_id);
      this.ensureUsers(ids);
      this.loadPresence(ids.filter((id) => id !== this.me.id));
    } catch {
      this.detailLoading.delete(conversationId);
    }
  }

  /** The next older page; resolves false when there is none. */
  async loadOlder(conversationId: string): Promise<boolean> {
    const c = this.snap.chat.conversations[conversationId];
    if (!c || !c.history.loaded || !c.history.hasMore || this.snap.loadingOlder.has(conversationId)) return false;
    this.set({ loadingOlder: new Set([...this.snap.loadingOlder, conversationId]) });
    try {
      const messages = await this.api.messages(conversationId, c.history.oldestSeq ?? undefined, HISTORY_PAGE);
      this.dispatch({ type: "history_loaded", conversation_id: conversationId, messages, limit: HISTORY_PAGE });
      this.ensureUsers(messages.map((m) => m.sender_id));
      return messages.length > 0;
    } catch (error) {
      this.toast(describe(error));
      return false;
    } finally {
      const loading = new Set(this.snap.loadingOlder);
      loading.delete(conversationId);
      this.set({ loadingOlder: loading });
    }
  }

  /** Loads older pages until the message with this seq is in memory. */
  async loadUntil(conversationId: string, seq: number): Promise<boolean> {
    await this.ensureHistory(conversationId);
    for (let page = 0; page < 40; page++) {
      const c = this.snap.chat.conversations[conversationId];
      if (!c) return false;
      if (c.history.oldestSeq !== null && c.history.oldestSeq <= seq) return true;
      if (!c.history.hasMore) return false;
      if (!(await this.loadOlder(conversationId))) return false;
    }
    return false;
  }

  private summaryOf(conversation: ConversationView, peerId: string | null, role: "admin" | "member"): ConversationSummaryView {
    return {
      conversation,
      role,
      read_seq: conversation.last_seq,
      delivered_seq: conversation.last_seq,
      unread_count: 0,
      mention_count: 0,
      last_message: null,
      peer_id: peerId,
    };
  }

  async startDirect(user: UserView): Promise<string> {
    const conversation = await this.api.startDirect(user.id);
    this.dispatch({ type: "users_loaded", users: [user] });
    this.dispatch({ type: "conversation_added", summary: this.summaryOf(conversation, user.id, "member") });
    this.loadPresence([user.id]);
    return conversation.id;
  }

  async createGroup(title: string, members: UserView[]): Promise<string> {
    const conversation = await this.api.createGroup(title, members.map((m) => m.id));
    this.dispatch({ type: "users_loaded", users: members });
    this.dispatch({ type: "conversation_added", summary: this.summaryOf(conversation, null, "admin") });
    return conversation.id;
  }

  async createMeeting(title: string | undefined, allowGuests: boolean): Promise<ConversationView> {
    const conversation = await this.api.createMeeting(title, allowGuests);
    this.dispatch({ type: "conversation_added", summary: this.summaryOf(conversation, null, "admin") });
    return conversation;
  }

  async joinMeeting(code: string): Promise<string> {
    const conversation = await this.api.joinMeeting(code);
    if (!this.snap.chat.conversations[conversation.id]) {
      this.dispatch({ type: "conversation_added", summary: this.summaryOf(conversation, null, "member") });
    }
    return conversation.id;
  }

  // ---- sending ----

  send(conversationId: string, body: string, replyTo: string | null): void {
    // A sent message clears the others' typing indicator; typing again must show at once.
    this.lastTypingSent.delete(conversationId);
    const text = body.trim();
    if (!text) return;
    if ([...text].length > MAX_MESSAGE_LENGTH) {
      this.toast(`Messages can be at most ${MAX_MESSAGE_LENGTH} characters long.`);
      return;
    }
    const clientId = newClientId();
    this.dispatch({
      type: "send_started",
      conversation_id: conversationId,
      client_id: clientId,
      body: text,
      reply_to: replyTo,
      at: new Date().toISOString(),
    });
    this.transmit(conversationId, clientId, text, replyTo);
  }

  /** Sends a failed message again, with the same client id (stored at most once). */
  retry(conversationId: string, clientId: string): void {
    const pending = this.snap.chat.conversations[conversationId]?.pending[clientId];
    if (!pending) return;
    this.dispatch({ type: "send_retried", conversation_id: conversationId, client_id: clientId });
    this.transmit(conversationId, clientId, pending.body, pending.reply_to);
  }

  discard(conversationId: string, clientId: string): void {
    this.dispatch({ type: "pending_discarded", conversation_id: conversationId, client_id: clientId });
  }

  private transmit(conversationId: string, clientId: string, body: string, replyTo: string | null): void {
    const frame: Extract<ClientFrame, { type: "send_message" }> = {
      type: "send_message",
      conversation_id: conversationId,
      client_id: clientId,
      body,
      ...(replyTo ? { reply_to: replyTo } : {}),
    };
    this.socket.sendQueued(frame).then(
      (answer) => this.dispatch({ type: "message_sent", client_id: answer.client_id, message: answer.message }),
      (error: unknown) => {
        if (error instanceof SocketRequestError && (error.code === "superseded" || error.code === "stopped")) return;
        this.dispatch({ type: "send_failed", conversation_id: conversationId, client_id: clientId, error: describe(error) });
      },
    );
  }

  async forward(messageId: string, toConversationId: string): Promise<void> {
    await this.socket.sendQueued({
      type: "forward_message",
      message_id: messageId,
      to_conversation_id: toConversationId,
      client_id: newClientId(),
    });
  }

  typing(conversationId: string): void {
    const now = Date.now();
    if (now - (this.lastTypingSent.get(conversationId) ?? 0) < TYPING_EVERY_MS) return;
    if (this.socket.fire({ type: "typing", conversation_id: conversationId })) {
      this.lastTypingSent.set(conversationId, now);
    }
  }

  // ---- changing messages: over the socket when online, else REST ----

  async edit(conversationId: string, messageId: string, body: string): Promise<void> {
    await this.change(
      { type: "edit_message", conversation_id: conversationId, message_id: messageId, body },
      () => this.api.request("PATCH", `/conversations/${conversationId}/messages/${messageId}`, { body }),
    );
  }

  async deleteMessage(conversationId: string, messageId: string, forEveryone: boolean): Promise<void> {
    await this.change(
      { type: "delete_message", conversation_id: conversationId, message_id: messageId, for_everyone: forEveryone },
      () =>
        this.api.request(
          "DELETE",
          `/conversations/${conversationId}/messages/${messageId}?for_everyone=${forEveryone}`,
        ),
    );
    if (!forEveryone) this.dispatch({ type: "message_hidden", conversation_id: conversationId, message_id: messageId });
  }

  async react(conversationId: string, messageId: string, emoji: string): Promise<void> {
    await this.change(
      { type: "react", conversation_id: conversationId, message_id: messageId, emoji },
      () => this.api.request("POST", `/conversations/${conversationId}/messages/${messageId}/reactions`, { emoji }),
    );
  }

  async pin(conversationId: string, messageId: string, pinned: boolean): Promise<void> {
    await this.change(
      { type: "pin_message", conversation_id: conversationId, message_id: messageId, pinned },
      () => this.api.request(pinned ? "PUT" : "DELETE", `/conversations/${conversationId}/messages/${messageId}/pin`),
    );
  }

  private async change(
    frame: Extract<ClientFrame, { type: "edit_message" | "delete_message" | "react" | "pin_message" }>,
    rest: () => Promise<unknown>,
  ): Promise<void> {
    try {
      if (this.socket.status === "online") await this.socket.request(frame);
      else await rest();
    } catch (error) {
      this.toast(describe(error));
      throw error;
    }
  }

  // ---- people ----

  ensureUsers(ids: string[]): void {
    const known = this.snap.chat.users;
    const missing = [...new Set(ids)].filter((id) => id && !known[id] && !this.userLoading.has(id));
    if (!missing.length) return;
    for (const id of missing) this.userLoading.add(id);
    void Promise.allSettled(missing.map((id) => this.api.user(id))).then((results) => {
      const users = results.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
      for (const id of missing) this.userLoading.delete(id);
      if (users.length) this.dispatch({ type: "users_loaded", users });
    });
  }

  rememberUsers(users: UserView[]): void {
    this.dispatch({ type: "users_loaded", users });
  }

  private loadPresence(userIds: string[]): void {
    const ids = [...new Set(userIds)].slice(0, 200);
    if (!ids.length) return;
    this.api.presence(ids).then(
      (entries) => {
        for (const entry of entries) {
          this.dispatch({ type: "presence", user_id: entry.user_id, online: entry.online, last_seen_at: entry.last_seen_at });
        }
      },
      () => {},
    );
  }

  async setBlocked(userId: string, blocked: boolean): Promise<void> {
    if (blocked) await this.api.block(userId);
    else await this.api.unblock(userId);
    const next = new Set(this.snap.blocked);
    if (blocked) next.add(userId);
    else next.delete(userId);
    this.set({ blocked: next });
  }

  // ---- toasts ----

  toast(text: string): void {
    const toast = { id: this.nextToast++, text };
    this.set({ toasts: [...this.snap.toasts, toast].slice(-3) });
    setTimeout(() => this.dismissToast(toast.id), 5_000);
  }

  dismissToast(id: number): void {
    if (!this.snap.toasts.some((toast) => toast.id === id)) return;
    this.set({ toasts: this.snap.toasts.filter((toast) => toast.id !== id) });
  }
}

/** A sentence for people from any failure. */
export function describe(error: unknown): string {
  if (error instanceof ApiError || error instanceof SocketRequestError) return error.message;
  return "Something went wrong. Please try again.";
}
