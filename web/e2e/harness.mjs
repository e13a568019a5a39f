// End-to-end harness: a real `convene serve` (SQLite in a temp dir, the built UI from
// web/dist) and real headless Chromium driven by playwright-core. Everything started here
// is stopped here, by PID, also when a test fails.
//
//   CONVENE_BIN      the server binary (default: $CARGO_TARGET_DIR/debug/convene, else
//                    ~/.cache/convene/target/debug/convene)
//   CHROMIUM_PATH    the browser (default /usr/bin/chromium)
//   E2E_ARTIFACTS    where screenshots and server logs go (default <repo>/test-artifacts/web)
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = resolve(here, "..");
export const REPO_DIR = resolve(WEB_DIR, "..");
export const ARTIFACTS = process.env.E2E_ARTIFACTS
  ? resolve(process.env.E2E_ARTIFACTS)
  : join(REPO_DIR, "test-artifacts", "web");
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** The password every test user gets (zxcvbn rates it strong enough). */
export const PASSWORD = "lantern orchard violet 42";

/** How long a single UI expectation may take before the test fails. */
export const UI_TIMEOUT = 10_000;

export function serverBinary() {
  if (process.env.CONVENE_BIN) return resolve(process.env.CONVENE_BIN);
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), ".cache", "convene", "target");
  return join(target, "debug", "convene");
}

/** A port nobody listens on right now (the server binds it a moment later). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A timer that does not keep the test process alive (for races against a deadline). */
const unrefDelay = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/** Servers still running, and data dirs not yet removed: if the test process exits without
 * stopping a server, it is killed by PID and its data dir removed here. */
const liveServers = new Set();
const dataDirs = new Set();
process.on("exit", () => {
  for (const pid of liveServers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  for (const dir of dataDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
});

/** A unique, valid username (3–32 of a-z 0-9 _ ., starting with a letter). */
let userCounter = 0;
export function uniqueName(prefix) {
  const suffix = `${Date.now().toString(36)}${(userCounter++).toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  return `${prefix}_${suffix}`.toLowerCase().slice(0, 32);
}

/**
 * Starts `convene serve` on a free loopback port; resolves once /readyz answers 200.
 * Returns { url, port, pid, dataDir, logFile, stop() }. stop() is idempotent.
 */
export async function startServer({ name = "server", env = {} } = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) {
    throw new Error(`convene binary not found at ${bin}: run \`cargo build -p convene-server\` or set CONVENE_BIN`);
  }
  const webDist = join(WEB_DIR, "dist");
  if (!existsSync(join(webDist, "index.html"))) {
    throw new Error(`${webDist}/index.html is missing: run script/build-web first`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), "convene-e2e-data-"));
    dataDirs.add(dataDir);
    const logFile = join(ARTIFACTS, `${name}.log`);
    const logFd = openSync(logFile, "w");
    const child = spawn(bin, ["serve"], {
      env: {
        ...process.env,
        CONVENE_HTTP_ADDR: `127.0.0.1:${port}`,
        CONVENE_DATA_DIR: dataDir,
        CONVENE_WEB_DIR: webDist,
        CONVENE_LOG_FORMAT: "json",
        CONVENE_LOG: "info,sqlx=warn",
        // Every browser of the suite shares one IP; the default 30/min would throttle
        // sign-ups and the refresh each page load does.
        CONVENE_AUTH_RATE_LIMIT_PER_MINUTE: "100000",
        CONVENE_SHUTDOWN_GRACE_SECONDS: "2",
        ...env,
      },
      stdio: ["ignore", logFd, logFd],
    });
    closeSync(logFd);
    liveServers.add(child.pid);
    let exited = null;
    const exitPromise = new Promise((r) =>
      child.once("exit", (code, signal) => {
        liveServers.delete(child.pid);
        exited = { code, signal };
        r(exited);
      }),
    );
    child.once("error", (error) => {
      exited ??= { error: String(error) };
    });
    const url = `http://127.0.0.1:${port}`;
    const server = {
      url,
      port,
      pid: child.pid,
      dataDir,
      logFile,
      stopped: false,
      /** SIGTERM by PID, SIGKILL after 10 s; removes the data dir. */
      async stop() {
        if (server.stopped) return;
        server.stopped = true;
        if (!exited) {
          try {
            process.kill(child.pid, "SIGTERM");
          } catch {}
          const done = await Promise.race([exitPromise, unrefDelay(10_000).then(() => null)]);
          if (!done && !exited) {
            try {
              process.kill(child.pid, "SIGKILL");
            } catch {}
            await exitPromise;
          }
        }
        rmSync(dataDir, { recursive: true, force: true });
        dataDirs.delete(dataDir);
      },
      /** The server's JSON log lines so far (parsed; non-JSON lines as { raw }). */
      logLines() {
        return readFileSync(logFile, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((line) => {
            try {
              return JSON.parse(line);
            } catch {
              return { raw: line };
            }
          });
      },
    };
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !exited) {
      try {
        const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
        if (response.status === 200) return server;
      } catch {}
      await sleep(100);
    }
    const tail = readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n");
    await server.stop();
    lastError = new Error(
      `convene did not become ready on ${url} (${exited ? `exited ${JSON.stringify(exited)}` : "timeout"}):\n${tail}`,
    );
    // A port taken between probing and binding: try another one.
    if (!/address already in use/i.test(tail)) break;
  }
  throw lastError;
}

/** Chromium flags (shared/TESTING.md). No --disable-features: it would replace Playwright's. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--allow-loopback-in-peer-connection",
];

/**
 * Launches headless Chromium and connects to it. Playwright gives every launched browser a
 * fresh --user-data-dir (mkdtemp in the OS temp dir) and deletes it on close. The browser
 * comes from launchServer() so that its PID is known: closeBrowser() kills that PID if a
 * clean close hangs.
 */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium`);
  }
  const browserServer = await chromium.launchServer({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  try {
    const browser = await chromium.connect(browserServer.wsEndpoint(), { timeout: 30_000 });
    browser.browserServer = browserServer;
    return browser;
  } catch (error) {
    await browserServer.kill();
    throw error;
  }
}

/** The browser's process id (for the record; closeBrowser uses it). */
export function browserPid(browser) {
  return browser.browserServer?.process()?.pid;
}

/** Stops a browser: close, and if that hangs, SIGKILL its process by PID. */
export async function closeBrowser(browser) {
  if (!browser) return;
  const server = browser.browserServer;
  const pid = browserPid(browser);
  const closed = await Promise.race([
    (async () => {
      await browser.close().catch(() => {});
      await server?.close().catch(() => {});
      return true;
    })(),
    unrefDelay(10_000).then(() => false),
  ]);
  if (!closed && pid) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/**
 * One server and one browser for a test file. The caller stops both with env.stop()
 * (from node:test's `after`, which also runs when a test fails).
 */
export async function startEnv({ name }) {
  const server = await startServer({ name });
  let browser;
  try {
    browser = await launchBrowser();
  } catch (error) {
    await server.stop();
    throw error;
  }
  const env = {
    server,
    browser,
    /** Per-page records of what a test must not see (dialogs, page errors). */
    dialogs: [],
    pageErrors: [],
    async stop() {
      await closeBrowser(browser);
      await server.stop();
    },
    newUser: (options) => newUser(env, options),
  };
  return env;
}

export function screenshotPath(file) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, file);
}

export async function screenshot(page, file) {
  await page.screenshot({ path: screenshotPath(file), animations: "disabled", caret: "hide" });
}

/**
 * A person in a new browser context: { context, page, username, displayName, ... }, signed
 * up unless `signUp: false`. Records every dialog (alert/confirm: none is expected) and
 * uncaught page error, in the user and in env.
 */
export async function newUser(
  env,
  { prefix = "user", displayName, viewport = DESKTOP, colorScheme = "light", signUp: doSignUp = true } = {},
) {
  const username = uniqueName(prefix);
  const user = await openBrowserContext(env, {
    username,
    displayName: displayName ?? `${prefix[0].toUpperCase()}${prefix.slice(1)}`,
    viewport,
    colorScheme,
  });
  if (doSignUp) await signUp(user);
  return user;
}

/** The same person in another browser context (another device), signed in. */
export async function signInElsewhere(env, user, { viewport = DESKTOP, colorScheme = "light" } = {}) {
  const other = await openBrowserContext(env, { username: user.username, displayName: user.displayName, viewport, colorScheme });
  const { page } = other;
  await page.goto("/");
  await page.getByTestId("auth-form-signin").waitFor();
  await page.getByTestId("auth-username").fill(user.username);
  await page.getByTestId("auth-password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await page.getByTestId("profile-button").waitFor({ timeout: 20_000 });
  await waitOnline(page);
  return other;
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 360, height: 740 };

async function openBrowserContext(env, { username, displayName, viewport, colorScheme }) {
  const context = await env.browser.newContext({ viewport, colorScheme, baseURL: env.server.url });
  context.setDefaultTimeout(UI_TIMEOUT);
  await context.addInitScript(SOCKET_TRACKER);
  const page = await context.newPage();
  const user = {
    context,
    page,
    username,
    displayName,
    dialogs: [],
    pageErrors: [],
    /** Every `message_sent` frame the server sent this page (`duplicate` tells a re-send). */
    messageSent: [],
    /** The page's console and socket lifecycle, timestamped (written out when a test fails). */
    log: [],
  };
  const note = (line) => {
    user.log.push(`${new Date().toISOString()} ${line}`);
    if (user.log.length > 2_000) user.log.splice(0, 500);
  };
  page.on("console", (message) => note(`console.${message.type()}: ${message.text()}`));
  page.on("requestfailed", (request) => note(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ""}`));
  page.on("websocket", (ws) => {
    note(`websocket opened ${ws.url()}`);
    ws.on("socketerror", (error) => note(`websocket error: ${error}`));
    ws.on("close", () => note("websocket closed"));
  });
  page.on("websocket", (ws) => {
    ws.on("framereceived", ({ payload }) => {
      if (typeof payload !== "string" || !payload.includes('"message_sent"')) return;
      try {
        const frame = JSON.parse(payload);
        if (frame.type === "message_sent") user.messageSent.push(frame);
      } catch {}
    });
  });
  page.on("dialog", (dialog) => {
    user.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    env.dialogs.push(`${username} ${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => {});
  });
  page.on("pageerror", (error) => {
    user.pageErrors.push(String(error));
    env.pageErrors.push(`${username}: ${error}`);
  });
  return user;
}

/**
 * After a failed test: a screenshot and the page log of every user, named after the test,
 * in the artifacts directory.
 */
export async function saveFailureArtifacts(testName, users) {
  const slug = testName.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "").slice(0, 60).toLowerCase();
  for (const [index, user] of users.entries()) {
    const base = `FAILED-${slug}-${index}-${user.username}`;
    try {
      await user.page.screenshot({ path: screenshotPath(`${base}.png`), timeout: 5_000 });
    } catch {}
    try {
      writeFileSync(screenshotPath(`${base}.log`), `${user.log.join("\n")}\n`);
    } catch {}
  }
}

/** Signs `user` up through the auth screen and waits until the app is online. */
export async function signUp(user) {
  const { page } = user;
  await page.goto("/");
  await page.getByTestId("auth-tab-signup").click();
  await page.getByTestId("auth-form-signup").waitFor();
  await page.getByTestId("auth-username").fill(user.username);
  await page.getByTestId("auth-display-name").fill(user.displayName);
  await page.getByTestId("auth-password").fill(PASSWORD);
  await page.getByTestId("auth-submit").click();
  await page.getByTestId("profile-button").waitFor({ timeout: 20_000 });
  await waitOnline(page);
}

/** Waits until the app's socket is resumed (the header shows "@username"). */
export async function waitOnline(page, timeout = UI_TIMEOUT) {
  await page.getByTestId("reconnect-banner").waitFor({ state: "hidden", timeout });
  await page.waitForFunction(
    () => {
      const header = document.querySelector('[data-testid="profile-button"]')?.parentElement;
      return Boolean(header && /@\w/.test(header.textContent ?? ""));
    },
    null,
    { timeout },
  );
}

/** Opens New chat, searches for `other`'s username, starts the direct chat; returns its id. */
export async function startDirectChat(user, other) {
  const { page } = user;
  await page.getByTestId("new-menu-button").click();
  await page.getByTestId("new-direct").click();
  const dialog = page.getByTestId("new-direct-dialog");
  await dialog.getByTestId("user-search-input").fill(other.username);
  await dialog.locator(`[data-testid="user-result"][data-username="${other.username}"]`).click();
  const view = page.getByTestId("conversation-view");
  await view.waitFor();
  await dialog.waitFor({ state: "hidden" });
  return view.getAttribute("data-conversation-id");
}

/** Creates a group titled `title` with `members` (users); returns its id. */
export async function createGroup(user, title, members) {
  const { page } = user;
  await page.getByTestId("new-menu-button").click();
  await page.getByTestId("new-group").click();
  const dialog = page.getByTestId("new-group-dialog");
  await dialog.getByTestId("group-title-input").fill(title);
  for (const member of members) {
    await dialog.getByTestId("user-search-input").fill(member.username);
    const result = dialog.locator(`[data-testid="user-result"][data-username="${member.username}"]`);
    await result.click();
    await expectAttr(result, "aria-pressed", "true");
  }
  await dialog.getByTestId("create-group").click();
  const view = page.getByTestId("conversation-view");
  await view.waitFor();
  await dialog.waitFor({ state: "hidden" });
  return view.getAttribute("data-conversation-id");
}

/** Opens a conversation from the list (waits for it to appear there first). */
export async function openConversation(user, conversationId) {
  const { page } = user;
  const view = page.locator(`[data-testid="conversation-view"][data-conversation-id="${conversationId}"]`);
  if (await view.isVisible()) return view;
  await page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversationId}"]`).click();
  await view.waitFor();
  await page.locator('[data-testid="message-list"][aria-busy="false"]').waitFor();
  return view;
}

/** Types `text` into the composer and presses Enter. */
export async function sendMessage(user, text) {
  const input = user.page.getByTestId("composer-input");
  await input.fill(text);
  await input.press("Enter");
}

/** Stored (confirmed) bubbles whose text is exactly `text`. */
export function bubbles(page, text) {
  return page.locator('[data-testid="message"]').filter({
    has: page.locator('[data-testid="message-body"]', { hasText: new RegExp(`^${escapeRegExp(text)}$`) }),
  });
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** How many stored bubbles, and how many unconfirmed ones, show exactly `text` (DOM count). */
export async function countBubbles(page, text) {
  return page.evaluate((wanted) => {
    const stored = [...document.querySelectorAll('[data-testid="message"] [data-testid="message-body"]')].filter(
      (node) => node.textContent === wanted,
    ).length;
    const pending = [...document.querySelectorAll('[data-testid="message-pending"]')].filter((node) =>
      node.textContent?.includes(wanted),
    ).length;
    return { stored, pending };
  }, text);
}

/** Waits until exactly one stored bubble (and no pending one) shows `text`; returns it. */
export async function expectOneBubble(page, text, timeout = UI_TIMEOUT) {
  let seen;
  try {
    await eventually(async () => {
      seen = await countBubbles(page, text);
      return seen.stored === 1 && seen.pending === 0;
    }, { timeout });
  } catch {
    throw new Error(`expected exactly one bubble "${text}", saw ${JSON.stringify(seen)} after ${timeout} ms`);
  }
  return bubbles(page, text).first();
}

/** Polls until `fn()` returns a truthy value (or throws the last error after `timeout`). */
export async function eventually(fn, { timeout = UI_TIMEOUT, interval = 100, message } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = new Error(message ?? "condition not met");
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw last;
    await sleep(interval);
  }
}

export async function expectAttr(locator, name, value, timeout = UI_TIMEOUT) {
  let seen;
  try {
    await eventually(async () => (seen = await locator.getAttribute(name)) === value, { timeout });
  } catch {
    throw new Error(`expected ${name}="${value}", still "${seen}" after ${timeout} ms (${locator})`);
  }
}

export async function expectCount(locator, count, timeout = UI_TIMEOUT) {
  let seen;
  try {
    await eventually(async () => (seen = await locator.count()) === count, { timeout });
  } catch {
    throw new Error(`expected ${count} element(s), found ${seen} after ${timeout} ms (${locator})`);
  }
}

/** Seqs of all stored bubbles on the page, in DOM order. */
export async function seqsOnPage(page) {
  return page.locator('[data-testid="message"]').evaluateAll((nodes) => nodes.map((n) => Number(n.getAttribute("data-seq"))));
}

/**
 * Every WebSocket the page creates is remembered in window.__e2eSockets, so a test can close
 * the app's connection (Chromium's offline emulation blocks new connections and HTTP, but
 * leaves an open WebSocket running). With window.__e2eDropAfterSend = true, the socket
 * closes itself right after the next `send_message` frame went out: the server stores the
 * message but its answer is lost, so the client must re-send it with the same client_id.
 */
const SOCKET_TRACKER = () => {
  const Native = window.WebSocket;
  const sockets = [];
  window.__e2eSockets = sockets;
  window.__e2eDropAfterSend = false;
  window.__e2eBlockSockets = false;
  class TrackedWebSocket extends Native {
    constructor(...args) {
      if (window.__e2eBlockSockets) throw new DOMException("blocked by the e2e harness", "NetworkError");
      super(...args);
      sockets.push(this);
      const opened = performance.now();
      this.addEventListener("open", () => console.debug(`[e2e] socket ${sockets.length} open`));
      this.addEventListener("close", (event) =>
        console.debug(`[e2e] socket closed code ${event.code} clean ${event.wasClean} after ${Math.round(performance.now() - opened)} ms`),
      );
    }
    send(data) {
      super.send(data);
      if (window.__e2eDropAfterSend && typeof data === "string" && data.includes('"type":"send_message"')) {
        window.__e2eDropAfterSend = false;
        this.close();
      }
    }
  }
  window.WebSocket = TrackedWebSocket;
  // How often the reconnect banner appeared (a short flash is easy to miss by polling).
  window.__e2eBannerShown = 0;
  const watch = () => {
    let shown = false;
    new MutationObserver(() => {
      const now = Boolean(document.querySelector('[data-testid="reconnect-banner"]'));
      if (now && !shown) {
        window.__e2eBannerShown++;
        console.debug("[e2e] reconnect banner shown");
      }
      if (!now && shown) console.debug("[e2e] reconnect banner gone");
      shown = now;
    }).observe(document.documentElement, { childList: true, subtree: true });
  };
  if (document.documentElement) watch();
  else document.addEventListener("DOMContentLoaded", watch);
};

/** How many of the page's WebSockets are open. */
export async function openSocketCount(page) {
  return page.evaluate(() => (window.__e2eSockets ?? []).filter((s) => s.readyState === WebSocket.OPEN).length);
}

/**
 * Takes the user offline, as when the OS reports the network gone: the app's open socket
 * closes, and Chromium's offline emulation then refuses new connections and requests.
 *
 * Why both: the emulation alone does not close an open WebSocket (it stays OPEN and carries
 * nothing; see stallNetwork), and a socket closed after the emulation started may never get
 * its close event (the closing handshake cannot complete). So the socket is closed first,
 * while new sockets are refused in the page until the emulation is on.
 */
export async function goOffline(user) {
  const closed = await user.page.evaluate(
    () =>
      new Promise((resolve) => {
        window.__e2eBlockSockets = true;
        const live = (window.__e2eSockets ?? []).filter(
          (socket) => socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN,
        );
        let left = live.length;
        if (!left) resolve(true);
        for (const socket of live) {
          socket.addEventListener("close", () => --left === 0 && resolve(true));
          socket.close();
        }
        setTimeout(() => resolve(false), 10_000);
      }),
  );
  if (!closed) throw new Error(`${user.username}'s socket did not close within 10 s`);
  await user.context.setOffline(true);
  await user.page.evaluate(() => {
    window.__e2eBlockSockets = false;
  });
}

/** Only the emulation: the open socket stalls and the app has to notice by itself. */
export async function stallNetwork(user) {
  await user.context.setOffline(true);
}

/** Back online: the page's "online" event makes the app reconnect at once. */
export async function goOnline(user) {
  await user.context.setOffline(false);
}
