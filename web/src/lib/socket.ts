// The one WebSocket of a tab (docs/protocol.md). It owns connecting (cookie auth, same
// origin), `resume` with the chat store's cursors after every `ready`, heartbeats,
// reconnecting with exponential backoff and full jitter, matching answers to requests by
// `request_id`, and an outbox: sends wait while offline and go again after a reconnect
// with the same `client_id`, which the server deduplicates.
import type { ClientFrame, ResumeCursor, ServerFrame } from "@proto";

export type SocketStatus = "connecting" | "online" | "reconnecting" | "stopped";

/** The part of the browser's WebSocket this class uses (tests pass a fake). */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A request the server answered with an `error` frame, or that got no answer. */
export class SocketRequestError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "SocketRequestError";
    this.code = code;
  }
}

type Answer = Extract<
  ServerFrame,
  { type: "message_sent" | "ok" | "events" | "resumed" | "pong" | "call_update" | "meeting_joined" }
>;
export type MessageSentFrame = Extract<ServerFrame, { type: "message_sent" }>;
type RequestFrame = Exclude<ClientFrame, { type: "typing" | "mark_delivered" }>;
type OutboxFrame = Extract<ClientFrame, { type: "send_message" | "forward_message" }>;
type FireFrame = Extract<
  ClientFrame,
  {
    type:
      | "typing"
      | "mark_delivered"
      | "mark_read"
      | "call_signal"
      | "meeting_publish"
      | "meeting_subscribe_answer"
      | "meeting_view"
      | "meeting_state"
      | "meeting_reaction"
      | "meeting_leave";
  }
>;
export type ReadyFrame = Extract<ServerFrame, { type: "ready" }>;

export interface SocketOptions {
  url: string;
  /** Per conversation, the newest seq the chat store applied. */
  getCursors: () => ResumeCursor[];
  /** Every frame that is not the answer to a request (events, receipts, typing, …). */
  onFrame: (frame: ServerFrame) => void;
  /** Each connection's `ready` (its `connection_id` names this tab in call updates). */
  onReady?: (frame: ReadyFrame) => void;
  /** Runs before each connection attempt; `afterFailure` when the last one never got
   * `ready` (often an expired session: refresh it). */
  beforeConnect?: (afterFailure: boolean) => Promise<void>;
  createWebSocket?: (url: string) => WebSocketLike;
  random?: () => number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  requestTimeoutMs?: number;
}

interface InFlight {
  resolve: (frame: Answer) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

interface OutboxEntry {
  frame: OutboxFrame;
  resolve: (frame: MessageSentFrame) => void;
  reject: (error: Error) => void;
  requestId: string | null;
}

/** Close codes after which the server wants us back at once (4008: we read too slowly;
 * 1001: the pod is going away). */
const PROMPT_RECONNECT = new Set([4008, 1001]);
const CLIENT_HEARTBEAT_CLOSE = 4001;
const CLIENT_RESUME_FAILED_CLOSE = 4002;
/** Resume may replay many events before answering. */
const RESUME_TIMEOUT_MS = 60_000;

export class ChatSocket {
  private readonly options: Required<Omit<SocketOptions, "beforeConnect" | "onReady">> &
    Pick<SocketOptions, "beforeConnect" | "onReady">;
  private ws: WebSocketLike | null = null;
  private statusValue: SocketStatus = "stopped";
  private readonly listeners = new Set<(status: SocketStatus) => void>();
  private attempt = 0;
  private nextRequest = 1;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly outbox = new Map<string, OutboxEntry>();
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private gotReady = false;
  private resumed = false;
  private generation = 0;

  constructor(options: SocketOptions) {
    this.options = {
      createWebSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      random: Math.random,
      backoffBaseMs: 500,
      backoffCapMs: 30_000,
      pingIntervalMs: 20_000,
      pongTimeoutMs: 10_000,
      requestTimeoutMs: 15_000,
      ...options,
    };
  }

  get status(): SocketStatus {
    return this.statusValue;
  }

  /** Calls `listener` on every status change; returns the unsubscribe function. */
  subscribe(listener: (status: SocketStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.statusValue !== "stopped") return;
    this.setStatus("connecting");
    void this.connect(false);
  }

  /** Closes for good (sign-out): pending requests fail, the outbox is dropped. */
  stop(): void {
    this.generation++;
    this.clearTimers();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      ws.close(1000, "bye");
    }
    this.failInFlight(true);
    for (const entry of this.outbox.values()) entry.reject(new SocketRequestError("stopped", "Signed out."));
    this.outbox.clear();
    this.setStatus("stopped");
  }

  /** Skips the backoff wait (the browser came back online, the tab became visible). */
  reconnectNow(): void {
    if (this.statusValue !== "reconnecting" || !this.reconnectTimer) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    void this.connect(false);
  }

  /** Sends a request and resolves with its answer; rejects on an `error` frame, a timeout,
   * or a lost connection. Only while online. */
  request<T extends Answer = Answer>(frame: RequestFrame): Promise<T> {
    if (!this.gotReady || !this.ws) {
      return Promise.reject(new SocketRequestError("offline", "You are offline."));
    }
    return this.write(frame, this.options.requestTimeoutMs).promise as Promise<T>;
  }

  /** Sends a message (or a forward) now or, while offline, as soon as the connection is
   * back, again after every reconnect until it is answered: always with the same
   * `client_id`, so the server stores it once. */
  sendQueued(frame: OutboxFrame): Promise<MessageSentFrame> {
    const key = outboxKey(frame);
    const existing = this.outbox.get(key);
    if (existing) existing.reject(new SocketRequestError("superseded", "Sent again."));
    return new Promise<MessageSentFrame>((resolve, reject) => {
      const entry: OutboxEntry = { frame, resolve, reject, requestId: null };
      this.outbox.set(key, entry);
      if (this.resumed) this.flushEntry(key, entry);
    });
  }

  /** Sends `resume` again on the live connection with the store's cursors (after the
   * store reloaded everything on `resync_required`). */
  async resync(): Promise<void> {
    if (!this.gotReady || !this.ws) return; // the next connection resumes anyway
    await this.write({ type: "resume", cursors: this.options.getCursors() }, RESUME_TIMEOUT_MS).promise;
  }

  /** Fire-and-forget frames (typing, receipts); dropped while offline. */
  fire(frame: FireFrame): boolean {
    if (!this.resumed || !this.ws) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** How many sends are waiting for an answer. */
  get outboxSize(): number {
    return this.outbox.size;
  }

  // ---- connection lifecycle ----

  private async connect(afterFailure: boolean): Promise<void> {
    const generation = ++this.generation;
    try {
      await this.options.beforeConnect?.(afterFailure);
    } catch {
      // The handshake will tell; a dead session is handled by whoever refreshes.
    }
    if (generation !== this.generation) return;
    this.gotReady = false;
    this.resumed = false;
    let ws: WebSocketLike;
    try {
      ws = this.options.createWebSocket(this.options.url);
    } catch {
      this.scheduleReconnect(null);
      return;
    }
    this.ws = ws;
    ws.onmessage = (event) => {
      if (this.ws === ws) this.onMessage(event.data);
    };
    ws.onclose = (event) => {
      if (this.ws === ws) this.onClosed(event.code);
    };
    ws.onerror = () => {
      // A close event always follows.
    };
  }

  private onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    switch (frame.type) {
      case "ready":
        this.gotReady = true;
        this.startHeartbeat(frame.heartbeat_interval_ms);
        this.options.onReady?.(frame);
        this.write({ type: "resume", cursors: this.options.getCursors() }, RESUME_TIMEOUT_MS).promise.then(
          () => this.onResumed(),
          (error: Error) => {
            // A lost connection reconnects by itself; anything else (a timeout, an error
            // answer) gets a fresh connection and a fresh resume.
            if (error instanceof SocketRequestError && error.code === "disconnected") return;
            this.abandon(CLIENT_RESUME_FAILED_CLOSE);
          },
        );
        return;
      case "pong":
        if (this.pongTimer) clearTimeout(this.pongTimer);
        this.pongTimer = null;
        this.settle(frame.request_id, frame);
        return;
      case "message_sent":
        // Also a delivery for the store (it replaces the optimistic message).
        this.options.onFrame(frame);
        this.settle(frame.request_id, frame);
        return;
      case "ok":
      case "events":
      case "resumed":
        this.settle(frame.request_id, frame);
        return;
      case "call_update":
      case "meeting_joined":
        // The answer to a call request or a meeting join, or news for every tab.
        if (frame.request_id && this.inFlight.has(frame.request_id)) this.settle(frame.request_id, frame);
        else this.options.onFrame(frame);
        return;
      case "error":
        if (frame.request_id && this.inFlight.has(frame.request_id)) {
          this.settle(frame.request_id, frame);
        } else {
          this.options.onFrame(frame);
        }
        return;
      default:
        this.options.onFrame(frame);
    }
  }

  private onResumed(): void {
    this.resumed = true;
    this.attempt = 0;
    this.setStatus("online");
    for (const [key, entry] of this.outbox) {
      if (entry.requestId === null) this.flushEntry(key, entry);
    }
  }

  private onClosed(code: number): void {
    const wasReady = this.gotReady;
    this.ws = null;
    this.resumed = false;
    this.gotReady = false;
    this.clearTimers();
    this.failInFlight(false);
    this.scheduleReconnect(code, !wasReady);
  }

  private scheduleReconnect(code: number | null, failedHandshake = true): void {
    this.setStatus("reconnecting");
    const prompt = code !== null && PROMPT_RECONNECT.has(code);
    const ceiling = prompt
      ? 1_000
      : Math.min(this.options.backoffCapMs, this.options.backoffBaseMs * 2 ** this.attempt);
    this.attempt++;
    // Full jitter: anywhere between 0 and the ceiling, so that a restarted server is not
    // hit by every client at the same instant.
    const delay = Math.floor(this.options.random() * ceiling);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect(failedHandshake && !prompt);
    }, delay);
  }

  private startHeartbeat(serverIntervalMs: number): void {
    this.clearTimers();
    const every = Math.min(this.options.pingIntervalMs, Math.max(1_000, serverIntervalMs * 0.8));
    this.pingTimer = setInterval(() => this.ping(), every);
  }

  private ping(): void {
    const ws = this.ws;
    if (!ws) return;
    const requestId = `k${this.nextRequest++}`;
    ws.send(JSON.stringify({ type: "ping", request_id: requestId }));
    if (this.pongTimer) return;
    this.pongTimer = setTimeout(() => {
      // The network is gone without a close (a sleeping laptop, a dead Wi-Fi): give up
      // on this socket now instead of waiting for the browser to notice.
      this.pongTimer = null;
      if (this.ws === ws) this.abandon(CLIENT_HEARTBEAT_CLOSE);
    }, this.options.pongTimeoutMs);
  }

  /** Closes the current socket ourselves and reconnects without waiting for its close
   * event (which a dead network may deliver late or never). */
  private abandon(code: number): void {
    const ws = this.ws;
    if (!ws) return;
    detach(ws);
    ws.close(code, "client gave up");
    this.onClosed(code);
  }

  // ---- requests ----

  private write(frame: RequestFrame, timeoutMs: number): { requestId: string; promise: Promise<Answer> } {
    const ws = this.ws;
    const requestId = `r${this.nextRequest++}`;
    if (!ws) {
      return { requestId, promise: Promise.reject(new SocketRequestError("offline", "You are offline.")) };
    }
    const promise = new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inFlight.delete(requestId);
        reject(new SocketRequestError("timeout", "The server did not answer in time."));
      }, timeoutMs);
      this.inFlight.set(requestId, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...frame, request_id: requestId }));
    });
    return { requestId, promise };
  }

  private flushEntry(key: string, entry: OutboxEntry): void {
    const { requestId, promise } = this.write(entry.frame, this.options.requestTimeoutMs);
    entry.requestId = requestId;
    promise.then(
      (answer) => {
        if (this.outbox.get(key) !== entry) return;
        this.outbox.delete(key);
        entry.resolve(answer as MessageSentFrame);
      },
      (error: Error) => {
        if (this.outbox.get(key) !== entry) return;
        if (error instanceof SocketRequestError && error.code === "disconnected") {
          // Stays in the outbox: sent again after the next `resumed`.
          entry.requestId = null;
          return;
        }
        this.outbox.delete(key);
        entry.reject(error);
      },
    );
  }

  private settle(requestId: string | null, frame: ServerFrame): void {
    if (!requestId) return;
    const waiting = this.inFlight.get(requestId);
    if (!waiting) return;
    this.inFlight.delete(requestId);
    if (waiting.timer) clearTimeout(waiting.timer);
    if (frame.type === "error") {
      waiting.reject(new SocketRequestError(frame.error.code, frame.error.message));
    } else {
      waiting.resolve(frame as Answer);
    }
  }

  private failInFlight(stopped: boolean): void {
    for (const waiting of this.inFlight.values()) {
      if (waiting.timer) clearTimeout(waiting.timer);
      waiting.reject(
        stopped
          ? new SocketRequestError("stopped", "Signed out.")
          : new SocketRequestError("disconnected", "The connection was lost."),
      );
    }
    this.inFlight.clear();
  }

  private clearTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }

  private setStatus(status: SocketStatus): void {
    if (status === this.statusValue) return;
    this.statusValue = status;
    for (const listener of this.listeners) listener(status);
  }
}

function outboxKey(frame: OutboxFrame): string {
  const conversation = frame.type === "send_message" ? frame.conversation_id : frame.to_conversation_id;
  return `${conversation}/${frame.client_id}`;
}

function detach(ws: WebSocketLike): void {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
}

/** `ws://` or `wss://` on this page's host. */
export function socketUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/v1/ws`;
}
