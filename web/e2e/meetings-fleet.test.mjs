// Meetings across a fleet, as on Kubernetes but on 127.0.0.1: two `convene sfu` media nodes
// and two `convene gateway` pods sharing one Redis and one PostgreSQL, with real headless
// Chromium participants. Run: `npm run test:fleet` in web/ (after building the server and
// the UI). Logs go to test-artifacts/web/.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { closeBrowser, eventually, newUser, startServer } from "./harness.mjs";
import { launchCallBrowser } from "./calls-harness.mjs";
import { RAW_MEETING_CLIENT, sfuMetrics, startFleet } from "./fleet-harness.mjs";

let browser;
let fleet;

before(async () => {
  browser = await launchCallBrowser();
  fleet = await startFleet({ name: "fleet", policy: "distributed" });
});

after(async () => {
  await closeBrowser(browser);
  await fleet?.stop();
});

function envOf(gateway) {
  return { server: { url: gateway.url }, browser, dialogs: [], pageErrors: [] };
}

async function createMeeting(user, title) {
  return user.page.evaluate(async (title) => {
    const response = await fetch("/api/v1/conversations/meetings", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title }),
    });
    return response.json();
  }, title);
}

async function joinByCode(user, code) {
  const status = await user.page.evaluate(async (code) => (await fetch(`/api/v1/meetings/${code}/join`, { method: "POST" })).status, code);
  assert.equal(status, 200);
}

async function enterMedia(user, conversationId, options = {}) {
  await user.page.evaluate(RAW_MEETING_CLIENT);
  await user.page.evaluate(([id, options]) => window.fleetJoin(id, options), [conversationId, options]);
}

const stats = (user) => user.page.evaluate(() => window.fleetStats());

/** Waits until the user decodes video from every other participant (on its current join). */
async function expectDecoding(user, nOthers, { minJoins = 1 } = {}) {
  let last;
  try {
    return await eventually(
      async () => {
        last = await stats(user);
        const decoding = last?.videos.filter((frames) => frames > 0).length ?? 0;
        return last && last.joins >= minJoins && decoding >= nOthers ? last : null;
      },
      { timeout: 25_000, interval: 250 },
    );
  } catch {
    throw new Error(`${user.username} did not decode ${nOthers} video(s): ${JSON.stringify(last)}`);
  }
}

test("meetings spread over two SFU nodes, and a killed node's meeting continues on the other", { timeout: 180_000 }, async (t) => {
  const [gateway0, gateway1] = fleet.gateways;
  const users = [];
  t.after(async () => {
    for (const user of users) await user.context.close().catch(() => {});
  });
  // Each meeting has one participant on each gateway: the SFU, not the gateway, is shared.
  const ann = await newUser(envOf(gateway0), { prefix: "ann" });
  const bob = await newUser(envOf(gateway1), { prefix: "bob" });
  const cat = await newUser(envOf(gateway1), { prefix: "cat" });
  const dan = await newUser(envOf(gateway0), { prefix: "dan" });
  users.push(ann, bob, cat, dan);
  const first = await createMeeting(ann, "First");
  const second = await createMeeting(cat, "Second");
  await joinByCode(bob, first.meeting_code);
  await joinByCode(dan, second.meeting_code);

  for (const [user, meeting] of [[ann, first], [bob, first], [cat, second], [dan, second]]) {
    await enterMedia(user, meeting.id);
  }
  for (const user of users) await expectDecoding(user, 1);

  // Distributed placement: one meeting per node.
  const before = await Promise.all(fleet.sfus.map(sfuMetrics));
  assert.deepEqual(before.map((m) => m.convene_sfu_rooms), [1, 1], JSON.stringify(before));
  assert.deepEqual(before.map((m) => m.convene_sfu_participants), [2, 2]);
  // Subscribers estimate their downlink and report it (REMB): the budget layers are chosen by.
  await eventually(async () => {
    const metrics = await Promise.all(fleet.sfus.map(sfuMetrics));
    return metrics.every((m) => m.convene_sfu_bandwidth_reports_total > 0);
  }, { timeout: 10_000, message: "every node received bandwidth reports from subscribers" });

  // The first node dies without a word (SIGKILL: no drain, no deregistration).
  const killedAt = Date.now();
  await fleet.sfus[0].process.stop("SIGKILL");
  const affected = [];
  await eventually(async () => {
    affected.length = 0;
    for (const user of users) if ((await stats(user)).left.length > 0) affected.push(user);
    return affected.length === 2;
  }, { timeout: 10_000, message: "the killed node's participants were told" });
  const unaffected = users.filter((user) => !affected.includes(user));

  // Its participants rejoin by themselves and land on the surviving node...
  for (const user of affected) await expectDecoding(user, 1, { minJoins: 2 });
  const recoveredMs = Date.now() - killedAt;
  // ...while the other meeting never noticed.
  for (const user of unaffected) {
    const now = await stats(user);
    assert.equal(now.joins, 1, `${user.username} was not disturbed`);
    assert.equal(now.left.length, 0);
  }
  const survivor = await sfuMetrics(fleet.sfus[1]);
  assert.equal(survivor.convene_sfu_rooms, 2);
  assert.equal(survivor.convene_sfu_participants, 4);
  console.log(`# failover: killed node's meeting decoding again on the other node after ${recoveredMs} ms`);
});

test("media flows over ICE-TCP on one port when UDP is not offered", { timeout: 90_000 }, async (t) => {
  const server = await startServer({ name: "ice-tcp", env: { CONVENE_SFU_TCP_ADDR: "127.0.0.1:0" } });
  const env = { server, browser, dialogs: [], pageErrors: [] };
  const users = [];
  t.after(async () => {
    for (const user of users) await user.context.close().catch(() => {});
    await server.stop();
  });
  const eve = await newUser(env, { prefix: "eve" });
  const fay = await newUser(env, { prefix: "fay" });
  users.push(eve, fay);
  const meeting = await createMeeting(eve, "Firewalled");
  await joinByCode(fay, meeting.meeting_code);
  for (const user of users) await enterMedia(user, meeting.id, { tcpOnly: true });
  for (const user of users) {
    const decoded = await expectDecoding(user, 1);
    assert.equal(decoded.protocol, "tcp", JSON.stringify(decoded));
  }
});
