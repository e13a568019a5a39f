// Several Convene processes as on Kubernetes, on 127.0.0.1: a throwaway redis-server, a
// fresh PostgreSQL database, `convene sfu` media nodes and `convene gateway` pods. Every
// process is a child of the test, stopped by PID (SIGKILL if the test process dies).
import { spawn, execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { ARTIFACTS, WEB_DIR, freePort, serverBinary } from "./harness.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const live = new Set();
process.on("exit", () => {
  for (const pid of live) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
});

function spawnLogged(name, command, args, env) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const logFile = join(ARTIFACTS, `${name}.log`);
  const fd = openSync(logFile, "w");
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  live.add(child.pid);
  const exited = new Promise((r) => child.once("exit", (code, signal) => {
    live.delete(child.pid);
    r({ code, signal });
  }));
  return {
    name,
    pid: child.pid,
    logFile,
    exited,
    log: () => readFileSync(logFile, "utf8"),
    /** SIGTERM (or `signal`), SIGKILL after `graceMs`. */
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      if (!live.has(child.pid)) return;
      try {
        process.kill(child.pid, signal);
      } catch {}
      const done = await Promise.race([exited, sleep(graceMs).then(() => null)]);
      if (!done) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {}
        await exited;
      }
    },
  };
}

async function waitHttp(url, process, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!live.has(process.pid)) throw new Error(`${process.name} exited:\n${process.log().slice(-2000)}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.status === 200) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} never answered 200:\n${process.log().slice(-2000)}`);
}

/**
 * Starts redis, a database, `nSfus` SFU nodes and `nGateways` gateways sharing them.
 * Returns { gateways: [{url, process}], sfus: [{url, process}], stop() }.
 */
export async function startFleet({ nSfus = 2, nGateways = 2, policy = "distributed", name = "fleet" } = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) throw new Error(`convene binary not found at ${bin}`);
  const processes = [];
  const redisPort = await freePort();
  const redis = spawnLogged(`${name}-redis`, "redis-server", [
    "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
  ], {});
  processes.push(redis);
  const database = `convene_fleet_${randomBytes(6).toString("hex")}`;
  const psql = (sql) => execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql], { stdio: "pipe" });
  psql(`CREATE DATABASE ${database}`);
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/${database}`;
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const secret = randomBytes(24).toString("hex");
  const jwtKeys = `k1:${randomBytes(32).toString("base64")}`;
  const common = {
    CONVENE_REDIS_URL: redisUrl,
    CONVENE_DATABASE_URL: databaseUrl,
    CONVENE_SFU_CONTROL_SECRET: secret,
    CONVENE_SFU_PLACEMENT_POLICY: policy,
    CONVENE_LOG_FORMAT: "json",
    CONVENE_LOG: "info,sqlx=warn",
  };
  execFileSync(bin, ["migrate"], { env: { ...process.env, ...common }, stdio: "pipe" });

  const sfus = [];
  for (let i = 0; i < nSfus; i++) {
    const port = await freePort();
    const sfu = spawnLogged(`${name}-sfu-${i}`, bin, ["sfu"], {
      ...common,
      CONVENE_SFU_CONTROL_ADDR: `127.0.0.1:${port}`,
      CONVENE_SFU_UDP_ADDR: "127.0.0.1:0",
      CONVENE_SFU_DRAIN_TIMEOUT_SECONDS: "5",
    });
    processes.push(sfu);
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/readyz`, sfu);
    sfus.push({ url, process: sfu });
  }
  const gateways = [];
  for (let i = 0; i < nGateways; i++) {
    const port = await freePort();
    const gateway = spawnLogged(`${name}-gateway-${i}`, bin, ["gateway"], {
      ...common,
      CONVENE_HTTP_ADDR: `127.0.0.1:${port}`,
      CONVENE_JWT_KEYS: jwtKeys,
      CONVENE_WEB_DIR: join(WEB_DIR, "dist"),
      CONVENE_AUTH_RATE_LIMIT_PER_MINUTE: "100000",
      CONVENE_API_RATE_LIMIT_PER_MINUTE: "100000",
      CONVENE_SHUTDOWN_GRACE_SECONDS: "2",
    });
    processes.push(gateway);
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/readyz`, gateway);
    gateways.push({ url, process: gateway });
  }
  // Both nodes heartbeat within 2 s of starting; wait until gateways can see them all.
  await sleep(2_500);
  return {
    gateways,
    sfus,
    async stop() {
      for (const process of processes.reverse()) await process.stop("SIGTERM", 8_000);
      try {
        psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } catch {}
    },
  };
}

/** An SFU node's Prometheus gauges, as { name: number }. */
export async function sfuMetrics(sfu) {
  const text = await (await fetch(`${sfu.url}/metrics`)).text();
  const out = {};
  for (const line of text.split("\n")) {
    const match = /^(convene_sfu_\w+) (\d+)/.exec(line);
    if (match) out[match[1]] = Number(match[2]);
  }
  return out;
}

/**
 * A minimal meeting client run in the page (no UI): joins by conversation id, publishes
 * the fake camera (simulcast) and microphone, answers the SFU's offers, and rejoins by
 * itself after `meeting_left` with `rejoin: true`. State in `window.__fleet`.
 */
export const RAW_MEETING_CLIENT = `
window.fleetJoin = async (conversationId, { tcpOnly = false } = {}) => {
  const state = (window.__fleet = { log: [], joins: 0, pcs: null, ws: null, left: [] });
  // Drops the SFU's UDP candidate, so that only ICE over TCP can connect.
  const only = (sdp) => tcpOnly ? sdp.split('\\r\\n').filter((line) => !/^a=candidate:.* udp /i.test(line)).join('\\r\\n') : sdp;
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
  const ws = new WebSocket('ws://' + location.host + '/api/v1/ws');
  state.ws = ws;
  await new Promise((r) => ws.addEventListener('open', r, { once: true }));
  const send = (f) => ws.send(JSON.stringify(f));
  const fresh = () => {
    if (state.pcs) { state.pcs.pub.close(); state.pcs.sub.close(); }
    state.pcs = { pub: new RTCPeerConnection(), sub: new RTCPeerConnection() };
  };
  const join = () => { fresh(); state.joins += 1; send({ type: 'meeting_join', request_id: 'j' + state.joins, conversation_id: conversationId }); };
  ws.onmessage = async (m) => {
    const f = JSON.parse(m.data);
    if (f.type.startsWith('meeting') || f.type === 'error') state.log.push(f.type + (f.error ? ':' + f.error.code : ''));
    const { pub, sub } = state.pcs ?? {};
    if (f.type === 'meeting_joined') {
      const a = pub.addTransceiver(media.getAudioTracks()[0], { direction: 'sendonly' });
      const v = pub.addTransceiver(media.getVideoTracks()[0], { direction: 'sendonly', sendEncodings: [
        { rid: 'q', scaleResolutionDownBy: 4 }, { rid: 'h', scaleResolutionDownBy: 2 }, { rid: 'f' } ] });
      await pub.setLocalDescription(await pub.createOffer());
      send({ type: 'meeting_publish', sdp: pub.localDescription.sdp, sources: [
        { mid: a.mid, source: 'microphone', layers: 1 }, { mid: v.mid, source: 'camera', layers: 3 } ] });
    } else if (f.type === 'meeting_publish_answer') {
      await pub.setRemoteDescription({ type: 'answer', sdp: only(f.sdp) });
    } else if (f.type === 'meeting_subscribe_offer') {
      await sub.setRemoteDescription({ type: 'offer', sdp: only(f.sdp) });
      await sub.setLocalDescription(await sub.createAnswer());
      send({ type: 'meeting_subscribe_answer', sdp: sub.localDescription.sdp });
    } else if (f.type === 'meeting_left') {
      state.left.push(f);
      if (f.rejoin) setTimeout(join, 300);
    } else if (f.type === 'meeting_roster') {
      state.roster = f.participants;
    }
  };
  join();
};
window.fleetStats = async () => {
  const sub = window.__fleet?.pcs?.sub;
  if (!sub) return null;
  const videos = [];
  const byId = new Map();
  const report = await sub.getStats();
  report.forEach((v) => { byId.set(v.id, v); if (v.type === 'inbound-rtp' && v.kind === 'video') videos.push(v.framesDecoded ?? 0); });
  let protocol = null;
  report.forEach((v) => {
    if (v.type === 'transport' && v.selectedCandidatePairId) {
      const pair = byId.get(v.selectedCandidatePairId);
      protocol = byId.get(pair?.localCandidateId)?.protocol ?? null;
    }
  });
  return { joins: window.__fleet.joins, connection: sub.connectionState, videos, protocol, left: window.__fleet.left.map((f) => f.reason) };
};
`;
