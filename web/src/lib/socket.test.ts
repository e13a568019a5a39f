import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ClientFrame, ServerFrame } from "@proto";
import { ChatSocket, type SocketOptions, type SocketStatus, SocketRequestError, type WebSocketLike, socketUrl } from "./socket";
import { CHAT, message, ME } from "./fixtures";

/** A WebSocket the test drives by hand: it records what the client sent. */
class FakeWebSocket implements WebSocketLike {
  sent: ClientFrame[] = [];
  closedWith: number | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientFrame);
  }
  close(code = 1000): void {
    this.closedWith = code;
  }
  /** The server sends a frame. */
  receive(frame: ServerFrame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  /** The connection drops. */
  drop(code = 1006): void {
    this.onclose?.({ code, reason: "" });
  }
  last<T extends ClientFrame["type"]>(type: T): Extract<ClientFrame, { type: T }> {
    const found = this.sent.filter((frame) => frame.type === type).pop();
    if (!found) throw new Error(`no ${type} sent`);
    return found as Extract<ClientFrame, { type: T }>;
  }
  all<T extends ClientFrame["type"]>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.sent.filter((frame) => frame.type === type) as Extract<ClientFrame, { type: T }>[];
  }
}

const READY: ServerFrame = {
  type: "ready",
  connection_id: "c",
  user_id: ME,
  heartbeat_interval_ms: 25_000,
  server_time: "2026-11-22T10:00:00Z",
};

interface Harness {
  socket: ChatSocket;
  sockets: FakeWebSocket[];
  frames: ServerFrame[];
  statuses: SocketStatus[];
  beforeConnect: ReturnType<typeof vi.fn>;
  current: () => FakeWebSocket;
  /** Lets the async connect step run. */
  settle: () => Promise<void>;
  /** ready + resumed on the current socket. */
  goOnline: () => Promise<void>;
}

function harness(overrides: Partial<SocketOptions> = {}): Harness {
  const sockets: FakeWebSocket[] = [];
  const frames: ServerFrame[] = [];
  const statuses: SocketStatus[] = [];
  const beforeConnect = vi.fn(async () => {});
  let cursor = 7;
  const socket = new ChatSocket({
    url: "ws://test/api/v1/ws",
    getCursors: () => [{ conversation_id: CHAT, seq: cursor++ }],
    onFrame: (frame) => frames.push(frame),
    beforeConnect,
    createWebSocket: () => {
      const ws = new FakeWebSocket();
      sockets.push(ws);
      return ws;
    },
    random: () => 1,
    ...overrides,
  });
  socket.subscribe((status) => statuses.push(status));
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const current = () => sockets[sockets.length - 1]!;
  const goOnline = async () => {
    await settle();
    const ws = current();
    ws.receive(READY);
    const resume = ws.last("resume");
    ws.receive({ type: "resumed", request_id: resume.request_id ?? null });
    await settle();
  };
  return { socket, sockets, frames, statuses, beforeConnect, current, settle, goOnline };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("connecting and resuming", () => {
  it("resumes with the store's cursors after ready, then is online", async () => {
    const h = harness();
    h.socket.start();
    expect(h.socket.status).toBe("connecting");
    await h.settle();
    h.current().receive(READY);
    expect(h.current().last("resume").cursors).toEqual([{ conversation_id: CHAT, seq: 7 }]);
    expect(h.socket.status).toBe("connecting");
    h.current().receive({ type: "resumed", request_id: h.current().last("resume").request_id ?? null });
    await h.settle();
    expect(h.socket.status).toBe("online");
  });

  it("passes events, receipts and typing to the store", async () => {
    const h = harness();
    h.socket.start();
    await h.goOnline();
    const frame: ServerFrame = { type: "typing", conversation_id: CHAT, user_id: "u", expires_in_ms: 6000 };
    h.current().receive(frame);
    expect(h.frames).toEqual([frame]);
  });

  it("reconnects after a drop with a fresh resume carrying the newer cursors", async () => {
    const h = harness();
    h.socket.start();
    await h.goOnline();
    h.current().drop();
    expect(h.socket.status).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(500);
    expect(h.sockets).toHaveLength(2);
    await h.goOnline();
    expect(h.current().last("resume").cursors).toEqual([{ conversation_id: CHAT, seq: 8 }]);
    expect(h.statuses).toEqual(["connecting", "online", "reconnecting", "online"]);
  });

  it("backs off exponentially with full jitter up to the cap, and resets once online", async () => {
    let roll = 1;
    const h = harness({ random: () => roll, backoffBaseMs: 500, backoffCapMs: 4_000 });
    h.socket.start();
    await h.settle();
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = h.sockets.length;
      h.current().drop();
      let waited = 0;
      while (h.sockets.length === before) {
        await vi.advanceTimersByTimeAsync(100);
        waited += 100;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 4000]);
    // Full jitter: the random roll scales the whole delay.
    roll = 0.25;
    await h.goOnline();
    h.current().drop();
    const before = h.sockets.length;
    await vi.advanceTimersByTimeAsync(100);
    expect(h.sockets.length).toBe(before);
    await vi.advanceTimersByTimeAsync(100);
    expect(h.sockets.length).toBe(before + 1); // 0.25 × 500 after the reset
  });

  it("reconnects promptly after 4008 (too slow) and 1001 (server going away)", async () => {
    for (const code of [4008, 1001]) {
      const h = harness({ backoffBaseMs: 60_000, backoffCapMs: 60_000 });
      h.socket.start();
      await h.goOnline();
      h.current().drop(code);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(h.sockets).toHaveLength(2);
    }
  });

  it("refreshes the session before retrying a handshake that never got ready", async () => {
    const h = harness();
    h.socket.start();
    await h.settle();
    expect(h.beforeConnect).toHaveBeenLastCalledWith(false);
    h.current().drop(1006);
    await vi.advanceTimersByTimeAsync(500);
    expect(h.beforeConnect).toHaveBeenLastCalledWith(true);
  });

  it("skips the wait when asked to reconnect now", async () => {
    const h = harness({ backoffBaseMs: 60_000, backoffCapMs: 60_000 });
    h.socket.start();
    await h.goOnline();
    h.current().drop();
    h.socket.reconnectNow();
    await h.settle();
    expect(h.sockets).toHaveLength(2);
  });

  it("stops for good: no reconnect, pending requests fail", async () => {
    const h = harness();
    h.socket.start();
    await h.goOnline();
    const answer = h.socket.request({ type: "fetch_events", conversation_id: CHAT, after_seq: 1 });
    h.socket.stop();
    await expect(answer).rejects.toMatchObject({ code: "stopped" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sockets).toHaveLength(1);
    expect(h.socket.status).toBe("stopped");
  });
});

describe("heartbeats", () => {
  it("pings regularly and gives up on a socket whose pong never comes", async () => {
    const h = harness({ pingIntervalMs: 20_000, pongTimeoutMs: 10_000 });
    h.socket.start();
    await h.goOnline();
    await vi.advanceTimersByTimeAsync(20_000);
    const ping = h.current().last("ping");
    h.current().receive({ type: "pong", request_id: ping.request_id ?? null });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(h.current().all("ping")).toHaveLength(2);
    // No pong this time: the socket is abandoned and a new one opened.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.sockets[0]!.closedWith).toBe(4001);
    expect(h.socket.status).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(500);
    expect(h.sockets).toHaveLength(2);
  });
});

describe("requests", () => {
  it("matches answers to requests by request_id", async () => {
    const h = harness();
    h.socket.start();
    await h.goOnline();
    const first = h.socket.request({ type: "edit_message", conversation_id: CHAT, message_id: "m", body: "x" });
    const second = h.socket.request({ type: "react", conversation_id: CHAT, message_id: "m", emoji: "👍" });
    const [edit, react] = h.current().sent.slice(-2);
    h.current().receive({ type: "ok", request_id: react!.type === "react" ? react.request_id ?? null : null, seq: 9 });
    h.current().receive({
      type: "error",
      request_id: edit!.type === "edit_message" ? edit.request_id ?? null : null,
      error: { code: "not_message_sender", message: "Only the sender can edit." },
    });
    await expect(second).resolves.toMatchObject({ type: "ok", seq: 9 });
    await expect(first).rejects.toEqual(new SocketRequestError("not_message_sender", "Only the sender can edit."));
  });

  it("times out a request the server never answers", async () => {
    const h = harness({ requestTimeoutMs: 5_000, pingIntervalMs: 60_000 });
    h.socket.start();
    await h.goOnline();
    const answer = h.socket.request({ type: "pin_message", conversation_id: CHAT, message_id: "m", pinned: true });
    const check = expect(answer).rejects.toMatchObject({ code: "timeout" });
    await vi.advanceTimersByTimeAsync(5_000);
    await check;
  });

  it("refuses requests while offline, and drops fire-and-forget frames", async () => {
    const h = harness();
    await expect(h.socket.request({ type: "ping" })).rejects.toMatchObject({ code: "offline" });
    expect(h.socket.fire({ type: "typing", conversation_id: CHAT })).toBe(false);
  });
});

describe("outbox", () => {
  const send = (clientId: string): Extract<ClientFrame, { type: "send_message" }> => ({
    type: "send_message",
    conversation_id: CHAT,
    client_id: clientId,
    body: "hi",
  });

  it("queues sends while offline and sends them after resume", async () => {
    const h = harness();
    const sent = h.socket.sendQueued(send("c-1"));
    h.socket.start();
    await h.settle();
    h.current().receive(READY);
    expect(h.current().all("send_message")).toHaveLength(0); // not before `resumed`
    h.current().receive({ type: "resumed", request_id: h.current().last("resume").request_id ?? null });
    await h.settle();
    const frame = h.current().last("send_message");
    expect(frame.client_id).toBe("c-1");
    h.current().receive({
      type: "message_sent",
      request_id: frame.request_id ?? null,
      client_id: "c-1",
      duplicate: false,
      message: message(1, { client_id: "c-1", sender_id: ME }),
    });
    await expect(sent).resolves.toMatchObject({ client_id: "c-1", duplicate: false });
    expect(h.socket.outboxSize).toBe(0);
    expect(h.frames.map((f) => f.type)).toEqual(["message_sent"]);
  });

  it("sends again with the same client_id after a drop, and settles once", async () => {
    const h = harness();
    h.socket.start();
    await h.goOnline();
    const sent = h.socket.sendQueued(send("c-2"));
    const firstTry = h.current().last("send_message");
    h.current().drop();
    await vi.advanceTimersByTimeAsync(500);
    await h.goOnline();
    const secondTry = h.current().last("send_message");
    expect(secondTry.client_id).toBe(firstTry.client_id);
    expect(secondTry.request_id).not.toBe(firstTry.request_id);
    h.current().receive({
      type: "message_sent",
      request_id: secondTry.request_id ?? null,
      client_id: "c-2",
      duplicate: true,
      message: message(1, { client_id: "c-2", sender_id: ME }),
    });
    await expect(sent).resolves.toMatchObject({ duplicate: true });
    expect(h.socket.outboxSize).toBe(0);
  });

  it("fails a send the server refuses, without sending it again", async () => {
    const h = harness();
    h.socket.start();
    await h.goOnline();
    const sent = h.socket.sendQueued(send("c-3"));
    const frame = h.current().last("send_message");
    h.current().receive({
      type: "error",
      request_id: frame.request_id ?? null,
      error: { code: "blocked", message: "You cannot message this user." },
    });
    await expect(sent).rejects.toMatchObject({ code: "blocked" });
    h.current().drop();
    await vi.advanceTimersByTimeAsync(500);
    await h.goOnline();
    expect(h.current().all("send_message")).toHaveLength(0);
  });
});

it("builds ws:// or wss:// from the page's protocol", () => {
  expect(socketUrl({ protocol: "http:", host: "127.0.0.1:8080" })).toBe("ws://127.0.0.1:8080/api/v1/ws");
  expect(socketUrl({ protocol: "https:", host: "convene.example" })).toBe("wss://convene.example/api/v1/ws");
});

describe("calls over the socket", () => {
  const callView = {
    id: "call-1",
    conversation_id: CHAT,
    caller_id: ME,
    callee_id: "bob",
    kind: "video" as const,
    state: "ringing" as const,
    started_at: "2026-11-22T10:30:00Z",
    answered_at: null,
    ended_at: null,
    answered_by_connection: null,
    duration_seconds: null,
  };

  it("hands every connection's ready (its connection id) to onReady", async () => {
    const ready: string[] = [];
    const h = harness({ onReady: (frame) => ready.push(frame.connection_id) });
    h.socket.start();
    await h.goOnline();
    expect(ready).toEqual(["c"]);
  });

  it("answers a call request with its call_update; other call updates go to onFrame", async () => {
    const h = harness();
    h.socket.start();
    await h.goOnline();
    const answer = h.socket.request({ type: "call_invite", conversation_id: CHAT, kind: "video" });
    const invite = h.current().last("call_invite");
    h.current().receive({ type: "call_update", request_id: invite.request_id ?? null, call: callView });
    await expect(answer).resolves.toMatchObject({ type: "call_update", call: { id: "call-1" } });
    const news: ServerFrame = { type: "call_update", request_id: null, call: { ...callView, state: "ongoing" } };
    h.current().receive(news);
    expect(h.frames).toEqual([news]);
  });

  it("fires call signals without waiting for an answer", async () => {
    const h = harness();
    h.socket.start();
    await h.goOnline();
    const sent = h.socket.fire({ type: "call_signal", call_id: "call-1", signal: { kind: "media_state", audio: false, video: true, screen: false } });
    expect(sent).toBe(true);
    expect(h.current().last("call_signal").signal).toEqual({ kind: "media_state", audio: false, video: true, screen: false });
  });
});
