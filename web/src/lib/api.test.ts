import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api, ApiError } from "./api";

type Handler = (path: string, init: RequestInit) => Response | Promise<Response>;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

function error(status: number, code: string, message = code, headers: Record<string, string> = {}): Response {
  return json(status, { error: { code, message } }, headers);
}

const SESSION = {
  user: { id: "u1", username: "alice", display_name: "Alice", email: null, avatar_url: null, kind: "member", guest_expires_at: null, created_at: "" },
  access_token: "t",
  access_token_expires_at: new Date(Date.now() + 15 * 60_000).toISOString(),
  session_expires_at: "",
};

function api(handler: Handler, onSessionEnded = vi.fn()) {
  const calls: string[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const path = String(input);
    calls.push(`${init?.method} ${path}`);
    return handler(path, init ?? {});
  });
  return { client: new Api({ fetch: fetch as unknown as typeof globalThis.fetch, onSessionEnded }), calls, onSessionEnded };
}

beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] }));
afterEach(() => vi.useRealTimers());

describe("errors", () => {
  it("turns an error body into a typed ApiError", async () => {
    const { client } = api(() => error(409, "username_taken", "That username is taken."));
    const failure = await client.register("alice", "violet-otter-sings-42").catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 409, code: "username_taken", message: "That username is taken." });
  });

  it("reads Retry-After on a locked account", async () => {
    const { client } = api(() => error(429, "account_locked", "Locked.", { "retry-after": "60" }));
    await expect(client.login("alice", "x")).rejects.toMatchObject({ code: "account_locked", retryAfter: 60 });
  });

  it("reports a network failure as network_error", async () => {
    const { client } = api(() => {
      throw new TypeError("Failed to fetch");
    });
    await expect(client.me()).rejects.toMatchObject({ status: 0, code: "network_error" });
  });
});

describe("silent refresh", () => {
  it("refreshes once on token_expired and retries the request", async () => {
    let refreshed = false;
    const { client, calls } = api((path) => {
      if (path.endsWith("/auth/refresh")) {
        refreshed = true;
        return json(200, SESSION);
      }
      return refreshed ? json(200, SESSION.user) : error(401, "token_expired");
    });
    await expect(client.me()).resolves.toMatchObject({ username: "alice" });
    expect(calls).toEqual(["GET /api/v1/me", "POST /api/v1/auth/refresh", "GET /api/v1/me"]);
  });

  it("shares one refresh between concurrent requests", async () => {
    let refreshes = 0;
    let refreshed = false;
    const { client } = api(async (path) => {
      if (path.endsWith("/auth/refresh")) {
        refreshes++;
        await Promise.resolve();
        refreshed = true;
        return json(200, SESSION);
      }
      return refreshed ? json(200, SESSION.user) : error(401, "unauthenticated");
    });
    await Promise.all([client.me(), client.me(), client.me()]);
    expect(refreshes).toBe(1);
  });

  it("ends the session when the refresh is refused", async () => {
    const { client, onSessionEnded } = api((path) =>
      path.endsWith("/auth/refresh") ? error(401, "session_revoked") : error(401, "token_expired"),
    );
    await expect(client.me()).rejects.toMatchObject({ code: "token_expired" });
    expect(onSessionEnded).toHaveBeenCalledOnce();
  });

  it("does not refresh for a wrong password", async () => {
    const { client, calls } = api(() => error(401, "invalid_credentials"));
    await expect(client.login("alice", "nope-nope-nope")).rejects.toMatchObject({ code: "invalid_credentials" });
    expect(calls).toEqual(["POST /api/v1/auth/login"]);
  });

  it("schedules a refresh a minute before the access token expires", async () => {
    const { client, calls } = api(() => json(200, SESSION));
    await client.login("alice", "violet-otter-sings-42");
    await vi.advanceTimersByTimeAsync(13 * 60_000);
    expect(calls).toEqual(["POST /api/v1/auth/login"]);
    await vi.advanceTimersByTimeAsync(60_000 + 1_000);
    expect(calls).toEqual(["POST /api/v1/auth/login", "POST /api/v1/auth/refresh"]);
  });
});
