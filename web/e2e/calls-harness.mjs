// Call-specific pieces of the end-to-end harness (harness.mjs has the server, the browser
// and the users): a real coturn started by PID, Chromium flags for screen capture, the
// calls' test hooks (window.__conveneCall, window.__conveneCallConfig), and getStats()
// readings that prove media flows.
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ARTIFACTS, CHROMIUM_ARGS, CHROMIUM_PATH, eventually, freePort, openConversation } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unrefDelay = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/** Screen capture without a picker: headless Chromium then shares a fake "Entire screen". */
export const CALL_CHROMIUM_ARGS = [
  ...CHROMIUM_ARGS,
  "--auto-select-desktop-capture-source=Entire screen",
  "--autoplay-policy=no-user-gesture-required",
];

export async function launchCallBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CALL_CHROMIUM_ARGS, timeout: 30_000 });
}

/** Processes still running; killed by PID if the test process exits without stopping them. */
const live = new Set();
process.on("exit", () => {
  for (const pid of live) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
});

function tcpOpen(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * A real coturn on a free loopback port (TESTING.md: listening-ip/relay-ip 127.0.0.1,
 * allow-loopback-peers, use-auth-secret, static-auth-secret, realm, no-tls, no-dtls,
 * no-cli). Returns { port, url, secret, pid, logFile, stop() }.
 */
export async function startCoturn({ secret, realm = "convene.test", name = "coturn" }) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "convene-e2e-coturn-"));
  const logFile = join(ARTIFACTS, `${name}.log`);
  const logFd = openSync(logFile, "w");
  const minPort = 40000 + Math.floor(Math.random() * 20000);
  const child = spawn(
    "turnserver",
    [
      "-n",
      "--listening-ip=127.0.0.1",
      "--relay-ip=127.0.0.1",
      `--listening-port=${port}`,
      `--min-port=${minPort}`,
      `--max-port=${minPort + 200}`,
      "--allow-loopback-peers",
      "--use-auth-secret",
      `--static-auth-secret=${secret}`,
      `--realm=${realm}`,
      "--no-tls",
      "--no-dtls",
      "--no-cli",
      "--no-stdout-log",
      "--simple-log",
      `--log-file=${join(dir, "turn.log")}`,
      `--pidfile=${join(dir, "turn.pid")}`,
      "--fingerprint",
    ],
    { stdio: ["ignore", logFd, logFd] },
  );
  closeSync(logFd);
  live.add(child.pid);
  let exited = null;
  const exitPromise = new Promise((r) =>
    child.once("exit", (code, signal) => {
      live.delete(child.pid);
      exited = { code, signal };
      r(exited);
    }),
  );
  const turn = {
    port,
    url: `turn:127.0.0.1:${port}?transport=udp`,
    secret,
    pid: child.pid,
    logFile,
    /** coturn's own log (it writes it into its temp dir). */
    log() {
      try {
        return readFileSync(join(dir, "turn.log"), "utf8");
      } catch {
        return "";
      }
    },
    async stop() {
      if (!exited) {
        try {
          process.kill(child.pid, "SIGTERM");
        } catch {}
        const done = await Promise.race([exitPromise, unrefDelay(5_000).then(() => null)]);
        if (!done && !exited) {
          try {
            process.kill(child.pid, "SIGKILL");
          } catch {}
          await exitPromise;
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !exited) {
    if (await tcpOpen(port)) return turn;
    await sleep(50);
  }
  await turn.stop();
  throw new Error(`coturn did not start on ${port}: ${exited ? JSON.stringify(exited) : "timeout"}\n${turn.log().slice(-2000)}`);
}

/** Sets the calls' test knobs in this page (read at each call). */
export async function setCallConfig(page, config) {
  await page.evaluate((c) => {
    window.__conveneCallConfig = { ...(window.__conveneCallConfig ?? {}), ...c };
  }, config);
}

/** What getStats() says about the page's current call (null: no peer connection). */
export async function mediaStats(page) {
  return page.evaluate(async () => {
    const pc = window.__conveneCall?.pc;
    if (!pc) return null;
    const report = await pc.getStats();
    const byId = new Map();
    report.forEach((value) => byId.set(value.id, value));
    const out = {
      connection: pc.connectionState,
      ice: pc.iceConnectionState,
      video: { framesDecoded: 0, bytesReceived: 0, frameWidth: 0, frameHeight: 0 },
      audio: { bytesReceived: 0, packetsReceived: 0 },
      pair: null,
    };
    let pairId = null;
    for (const value of byId.values()) {
      if (value.type === "inbound-rtp" && value.kind === "video") {
        out.video.framesDecoded += value.framesDecoded ?? 0;
        out.video.bytesReceived += value.bytesReceived ?? 0;
        out.video.frameWidth = value.frameWidth ?? out.video.frameWidth;
        out.video.frameHeight = value.frameHeight ?? out.video.frameHeight;
      }
      if (value.type === "inbound-rtp" && value.kind === "audio") {
        out.audio.bytesReceived += value.bytesReceived ?? 0;
        out.audio.packetsReceived += value.packetsReceived ?? 0;
      }
      if (value.type === "transport" && value.selectedCandidatePairId) pairId = value.selectedCandidatePairId;
    }
    const pair = pairId ? byId.get(pairId) : [...byId.values()].find((v) => v.type === "candidate-pair" && v.nominated && v.state === "succeeded");
    if (pair) {
      out.pair = {
        state: pair.state,
        local: byId.get(pair.localCandidateId)?.candidateType ?? null,
        remote: byId.get(pair.remoteCandidateId)?.candidateType ?? null,
        localProtocol: byId.get(pair.localCandidateId)?.relayProtocol ?? null,
        rtt: pair.currentRoundTripTime ?? null,
      };
    }
    return out;
  });
}

/** Waits until the page decodes video frames and receives audio; returns the stats. */
export async function expectMediaFlows(page, { timeout = 15_000, minFrames = 1 } = {}) {
  let last;
  try {
    return await eventually(
      async () => {
        last = await mediaStats(page);
        return last && last.video.framesDecoded >= minFrames && last.audio.bytesReceived > 0 ? last : null;
      },
      { timeout, interval: 200 },
    );
  } catch {
    throw new Error(`media did not flow within ${timeout} ms: ${JSON.stringify(last)}`);
  }
}

/** The call phase the page's call driver is in (idle, placing, outgoing, in_call, …). */
export async function callPhase(page) {
  return page.evaluate(() => window.__conveneCall?.state.phase.kind ?? null);
}

export async function waitPhase(page, kind, timeout = 15_000) {
  let seen;
  try {
    await eventually(async () => (seen = await callPhase(page)) === kind, { timeout, interval: 50 });
  } catch {
    throw new Error(`expected call phase ${kind}, still ${seen} after ${timeout} ms`);
  }
}

/** Opens the direct chat and presses its voice or video call button. */
export async function placeCall(user, conversationId, kind = "video") {
  await openConversation(user, conversationId);
  await user.page.getByTestId(kind === "video" ? "call-video-button" : "call-voice-button").click();
}

/** Waits for the incoming-call screen and answers it (with video or audio only). */
export async function answer(user, { video = true } = {}) {
  const incoming = user.page.getByTestId("call-incoming");
  await incoming.waitFor();
  await incoming.getByTestId(video ? "call-accept-video" : "call-accept-audio").click();
}

/** Whether getDisplayMedia gives a track in this (headless) browser: "ok" or the error. */
export async function displayMediaWorks(page) {
  return page.evaluate(async () => {
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      const ok = stream.getVideoTracks().length > 0;
      for (const track of stream.getTracks()) track.stop();
      return ok ? "ok" : "no track";
    } catch (error) {
      return `${error.name}: ${error.message}`;
    }
  });
}

/** What the page's call sends on its video sender: the track's label and display surface. */
export async function sentVideo(page) {
  return page.evaluate(() => {
    const sender = window.__conveneCall?.pc?.getSenders().find((s) => s.track?.kind === "video");
    if (!sender) return null;
    const settings = sender.track.getSettings();
    return { label: sender.track.label, displaySurface: settings.displaySurface ?? null, width: settings.width, height: settings.height };
  });
}

/**
 * Shares a canvas.captureStream() track of a known colour and size through the same
 * replaceTrack path as the share button (window.__conveneCall.shareTrack), so that the
 * other side's decoded pixels can be checked.
 */
export async function shareCanvas(page, { width = 320, height = 180, color = "#ff00ff" } = {}) {
  await page.evaluate(
    async ({ width, height, color }) => {
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const context = canvas.getContext("2d");
      let frame = 0;
      const draw = () => {
        context.fillStyle = color;
        context.fillRect(0, 0, width, height);
        context.fillStyle = "#ffffff";
        context.fillRect((frame++ * 4) % width, 0, 8, 8);
      };
      draw();
      clearInterval(window.__e2eCanvasTimer);
      window.__e2eCanvasTimer = setInterval(draw, 33);
      const track = canvas.captureStream(30).getVideoTracks()[0];
      await window.__conveneCall.shareTrack(track);
    },
    { width, height, color },
  );
}

/** The average colour of the middle of the page's remote video (what it decodes). */
export async function remoteVideoColor(page) {
  return page.evaluate(() => {
    const video = document.querySelector('[data-testid="call-remote-video"]');
    if (!video || !video.videoWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = 16;
    canvas.height = 16;
    const context = canvas.getContext("2d");
    context.drawImage(video, video.videoWidth / 4, video.videoHeight / 4, video.videoWidth / 2, video.videoHeight / 2, 0, 0, 16, 16);
    const { data } = context.getImageData(0, 0, 16, 16);
    let r = 0;
    let g = 0;
    let b = 0;
    for (let i = 0; i < data.length; i += 4) {
      r += data[i];
      g += data[i + 1];
      b += data[i + 2];
    }
    const n = data.length / 4;
    return { r: Math.round(r / n), g: Math.round(g / n), b: Math.round(b / n), width: video.videoWidth, height: video.videoHeight };
  });
}

/**
 * In the page: from the next click on the call button to the first decoded remote video
 * frame, polling getStats() every 50 ms. Resolves with milliseconds.
 */
export async function armFirstFrameTimer(page) {
  await page.evaluate(() => {
    window.__e2eFirstFrame = new Promise((resolve) => {
      const onClick = (event) => {
        if (!event.target.closest?.('[data-testid="call-video-button"], [data-testid="call-voice-button"]')) return;
        document.removeEventListener("click", onClick, true);
        const started = performance.now();
        const poll = async () => {
          const pc = window.__conveneCall?.pc;
          if (pc) {
            const report = await pc.getStats();
            let frames = 0;
            report.forEach((value) => {
              if (value.type === "inbound-rtp" && value.kind === "video") frames += value.framesDecoded ?? 0;
            });
            if (frames > 0) return resolve(performance.now() - started);
          }
          setTimeout(poll, 50);
        };
        void poll();
      };
      document.addEventListener("click", onClick, true);
    });
  });
}

export async function firstFrameMs(page, timeout = 20_000) {
  return page.evaluate((limit) => Promise.race([window.__e2eFirstFrame, new Promise((_, reject) => setTimeout(() => reject(new Error("no frame")), limit))]), timeout);
}

/** Answers every incoming call in the page as soon as it rings (no test round trip). */
export async function autoAnswer(page, { video = true } = {}) {
  await page.evaluate((withVideo) => {
    window.__e2eAutoAnswer?.disconnect();
    const click = () => {
      const button = document.querySelector(`[data-testid="call-incoming"] [data-testid="${withVideo ? "call-accept-video" : "call-accept-audio"}"]`);
      if (button) button.click();
    };
    const observer = new MutationObserver(click);
    observer.observe(document.body, { childList: true, subtree: true });
    window.__e2eAutoAnswer = observer;
  }, video);
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}
