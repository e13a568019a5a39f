// End-to-end tests of one-to-one calls in real headless Chromium (fake camera and
// microphone) against a real `convene serve`, and through a real coturn for relay-only.
// Run: `npm run test:calls` in web/ (after `cargo build -p convene-server` and
// `npm run build`). Screenshots and server logs go to test-artifacts/web/.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  closeBrowser,
  eventually,
  expectAttr,
  goOffline,
  goOnline,
  newUser,
  openConversation,
  screenshot,
  signInElsewhere,
  startDirectChat,
  startServer,
} from "./harness.mjs";
import {
  answer,
  armFirstFrameTimer,
  autoAnswer,
  callPhase,
  expectMediaFlows,
  firstFrameMs,
  launchCallBrowser,
  mediaStats,
  percentile,
  placeCall,
  remoteVideoColor,
  displayMediaWorks,
  sentVideo,
  setCallConfig,
  shareCanvas,
  startCoturn,
  waitPhase,
} from "./calls-harness.mjs";

const TEST_TIMEOUT = 90_000;
/** The server rings calls out after this many seconds (45 by default). */
const RING_TIMEOUT_SECONDS = 5;
const TURN_SECRET = "e2e-turn-secret-0123456789";
/** E2E_WEB_DIR serves another build of the UI than web/dist (while developing). */
const WEB_DIR_ENV = process.env.E2E_WEB_DIR ? { CONVENE_WEB_DIR: process.env.E2E_WEB_DIR } : {};

let browser;
let env;

before(async () => {
  browser = await launchCallBrowser();
  const server = await startServer({
    name: "calls-server",
    env: {
      CONVENE_CALL_RING_TIMEOUT_SECONDS: String(RING_TIMEOUT_SECONDS),
      CONVENE_API_RATE_LIMIT_PER_MINUTE: "100000",
      ...WEB_DIR_ENV,
    },
  });
  env = envOf(server);
});

after(async () => {
  await closeBrowser(browser);
  await env?.server.stop();
});

/** What harness.newUser needs: a server and the browser. */
function envOf(server) {
  return { server, browser, dialogs: [], pageErrors: [] };
}

/** New users for one test; their browser contexts close when the test ends. */
async function people(t, environment, ...prefixes) {
  const users = [];
  t.after(async () => {
    for (const user of users) await user.context.close().catch(() => {});
  });
  for (const prefix of prefixes) {
    const user = await newUser(environment, { prefix });
    // Short end screens keep the tests quick; the UI default is 4 s.
    await setCallConfig(user.page, { endScreenMs: 1_500 });
    users.push(user);
  }
  return users;
}

/** Nothing blew up and nothing popped up in these pages. */
function assertClean(...users) {
  for (const user of users) {
    assert.deepEqual(user.pageErrors, [], `uncaught errors in ${user.username}'s page`);
    assert.deepEqual(user.dialogs, [], `dialogs in ${user.username}'s page`);
  }
}

/** A's direct chat with B, open on A's side and known to B. */
async function chatBetween(a, b) {
  const id = await startDirectChat(a, b);
  await b.page.locator(`[data-testid="conversation-item"][data-conversation-id="${id}"]`).waitFor();
  return id;
}

/** The chat's call lines (text) in a conversation. */
async function callLines(user, conversationId) {
  await openConversation(user, conversationId);
  return user.page.getByTestId("call-log-text").allTextContents();
}

async function expectCallLine(user, conversationId, pattern) {
  let lines = [];
  try {
    await eventually(async () => (lines = await callLines(user, conversationId)).some((line) => pattern.test(line)), { timeout: 10_000 });
  } catch {
    throw new Error(`${user.username}: no call line matching ${pattern} in ${JSON.stringify(lines)}`);
  }
  return lines;
}

/** Opens the calls view and returns the row of this call. */
async function historyRow(user, callId) {
  await user.page.getByTestId("calls-button").click();
  const panel = user.page.getByTestId("calls-panel");
  await panel.waitFor();
  const row = panel.locator(`[data-testid="call-history-item"][data-call-id="${callId}"]`);
  await row.waitFor();
  return row;
}

async function closeHistory(user) {
  await user.page.keyboard.press("Escape");
  await user.page.getByTestId("calls-panel").waitFor({ state: "detached" });
}

/** The call id on a page's call screens. */
async function callIdOn(page, testId) {
  const id = await page.getByTestId(testId).getAttribute("data-call-id");
  assert.match(id ?? "", /^[0-9a-f-]{36}$/, `no call id on ${testId}`);
  return id;
}

describe("one-to-one calls", { timeout: 20 * TEST_TIMEOUT }, () => {
  test(
    "video call: both decode, mute and screen share show on the other side, hang-up logs the duration",
    { timeout: TEST_TIMEOUT },
    async (t) => {
      const [alice, bob] = await people(t, env, "alice", "bob");
      const id = await chatBetween(alice, bob);

      await placeCall(alice, id, "video");
      const outgoing = alice.page.getByTestId("call-outgoing");
      await outgoing.waitFor();
      assert.equal(await outgoing.getByTestId("call-peer-name").textContent(), bob.displayName);
      await eventually(async () => (await outgoing.getByTestId("call-status").textContent()) === "Ringing…");

      // Bob's incoming-call screen: the caller's name, three answers.
      const incoming = bob.page.getByTestId("call-incoming");
      await incoming.waitFor();
      assert.equal(await incoming.getByTestId("call-peer-name").textContent(), alice.displayName);
      assert.match(await incoming.getByTestId("call-status").textContent(), /Incoming video call/);
      for (const button of ["call-accept-video", "call-accept-audio", "call-decline"]) {
        assert.ok(await incoming.getByTestId(button).isVisible(), `${button} is missing`);
      }
      await screenshot(bob.page, "calls-01-incoming.png");
      await screenshot(alice.page, "calls-02-outgoing.png");
      const callId = await callIdOn(bob.page, "call-incoming");

      await incoming.getByTestId("call-accept-video").click();
      await alice.page.getByTestId("call-screen").waitFor();
      await bob.page.getByTestId("call-screen").waitFor();

      // Media flows both ways: video frames decoded and audio received on each side.
      const aliceStats = await expectMediaFlows(alice.page);
      const bobStats = await expectMediaFlows(bob.page);
      t.diagnostic(`alice receives ${JSON.stringify(aliceStats)}`);
      t.diagnostic(`bob receives ${JSON.stringify(bobStats)}`);
      await expectAttr(alice.page.getByTestId("call-screen"), "data-connected", "true");
      await eventually(async () => /^\d+:\d\d$/.test((await alice.page.getByTestId("call-timer").textContent()) ?? ""));
      await eventually(async () => (await alice.page.getByTestId("call-quality").getAttribute("data-level")) !== "unknown");
      await eventually(async () => (await remoteVideoColor(bob.page))?.width > 0);
      await screenshot(alice.page, "calls-03-in-call.png");

      // Devices: Alice picks another microphone from the menu (replaceTrack on the audio
      // sender; Bob keeps hearing her), and another speaker (setSinkId).
      await alice.page.getByTestId("call-mic-menu-button").click();
      const mics = alice.page.getByTestId("call-device-option");
      await mics.first().waitFor();
      assert.ok((await mics.count()) >= 2, "the fake device has several microphones");
      await mics.filter({ hasText: "Fake Audio Input 1" }).click();
      await eventually(async () =>
        alice.page.evaluate(
          () => window.__conveneCall.pc.getSenders().find((s) => s.track?.kind === "audio")?.track.label === "Fake Audio Input 1",
        ),
      );
      const heard = (await mediaStats(bob.page)).audio.bytesReceived;
      await eventually(async () => (await mediaStats(bob.page)).audio.bytesReceived > heard + 2_000);
      await alice.page.getByTestId("call-speaker-menu-button").click();
      await alice.page.getByTestId("call-device-option").filter({ hasText: "Fake Audio Output 1" }).click();
      await eventually(async () =>
        alice.page.evaluate(async () => {
          const outputs = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.label === "Fake Audio Output 1");
          return document.querySelector('[data-testid="call-remote-audio"]').sinkId === outputs[0]?.deviceId;
        }),
      );
      // Picture-in-picture of the remote video, and back.
      await alice.page.getByTestId("call-pip").click();
      await expectAttr(alice.page.getByTestId("call-pip"), "aria-pressed", "true");
      assert.equal(await alice.page.evaluate(() => document.pictureInPictureElement?.dataset.testid), "call-remote-video");
      await alice.page.getByTestId("call-pip").click();
      await expectAttr(alice.page.getByTestId("call-pip"), "aria-pressed", "false");

      // Alice mutes: Bob sees it.
      const badge = (name) => bob.page.locator(`[data-testid="call-remote-badge"][data-badge="${name}"]`);
      assert.equal(await badge("muted").count(), 0);
      await alice.page.getByTestId("call-toggle-mic").click();
      await expectAttr(alice.page.getByTestId("call-toggle-mic"), "aria-pressed", "true");
      await badge("muted").waitFor();
      await alice.page.getByTestId("call-toggle-mic").click();
      await badge("muted").waitFor({ state: "detached" });

      // Alice shares her screen with the button (getDisplayMedia; headless Chromium picks
      // "Entire screen" by itself): the capture replaces her camera on the video sender,
      // Bob sees "presenting" and keeps decoding.
      const capture = await displayMediaWorks(alice.page);
      t.diagnostic(`getDisplayMedia in headless Chromium: ${capture}`);
      if (capture === "ok") {
        const decodedBefore = (await mediaStats(bob.page)).video.framesDecoded;
        await alice.page.getByTestId("call-share-screen").click();
        await expectAttr(alice.page.getByTestId("call-share-screen"), "aria-pressed", "true");
        await badge("presenting").waitFor();
        const sent = await sentVideo(alice.page);
        t.diagnostic(`sent while presenting: ${JSON.stringify(sent)}`);
        assert.ok(sent?.displaySurface, `the video sender does not carry the screen: ${JSON.stringify(sent)}`);
        await eventually(async () => (await mediaStats(bob.page)).video.framesDecoded > decodedBefore + 15, { timeout: 15_000 });
        await screenshot(bob.page, "calls-04-presenting.png");
        await alice.page.getByTestId("call-share-screen").click(); // stop presenting
        await badge("presenting").waitFor({ state: "detached" });
        await expectAttr(alice.page.getByTestId("call-share-screen"), "aria-pressed", "false");
      }
      // The same replaceTrack path with a track of a known colour and size: Bob's decoder
      // produces exactly that (proof that the new track, not the camera, arrives).
      await shareCanvas(alice.page, { width: 320, height: 180, color: "#ff00ff" });
      await badge("presenting").waitFor();
      let color;
      await eventually(
        async () => {
          const stats = await mediaStats(bob.page);
          color = await remoteVideoColor(bob.page);
          return stats.video.frameWidth === 320 && color && color.r > 180 && color.g < 90 && color.b > 180;
        },
        { timeout: 15_000 },
      ).catch(() => {
        throw new Error(`Bob does not decode the shared track: last colour ${JSON.stringify(color)}`);
      });
      if (capture !== "ok") await screenshot(bob.page, "calls-04-presenting.png");
      await alice.page.getByTestId("call-share-screen").click(); // stop presenting: the camera is back
      await badge("presenting").waitFor({ state: "detached" });
      await eventually(async () => (await mediaStats(bob.page)).video.frameWidth !== 320, { timeout: 15_000 });

      // The chat stays usable beside the video.
      await alice.page.getByTestId("call-chat").waitFor();
      await alice.page.getByTestId("call-chat").getByTestId("composer-input").fill("Can you see my screen?");
      await alice.page.getByTestId("call-chat").getByTestId("composer-input").press("Enter");
      await bob.page.getByTestId("call-chat").getByText("Can you see my screen?").waitFor();

      // Hang up after a couple of seconds: both end screens and both histories show it.
      await alice.page.waitForTimeout(2_000);
      await alice.page.getByTestId("call-hangup").click();
      for (const user of [alice, bob]) {
        const ended = user.page.getByTestId("call-ended");
        await ended.waitFor();
        assert.match(await ended.getByTestId("call-end-text").textContent(), /^Call ended · \d+:\d\d$/);
      }
      for (const user of [alice, bob]) {
        const row = await historyRow(user, callId);
        assert.equal(await row.getAttribute("data-outcome"), "ended");
        assert.equal(await row.getAttribute("data-kind"), "video");
        assert.equal(await row.getAttribute("data-direction"), user === alice ? "outgoing" : "incoming");
        const duration = await row.getByTestId("call-history-duration").textContent();
        assert.match(duration, /^0:0[2-9]$|^0:[1-5]\d$/, `duration ${duration}`);
        if (user === alice) await screenshot(alice.page, "calls-05-history.png");
        await closeHistory(user);
        const lines = await expectCallLine(user, id, /^Video call · \d+:\d\d$/);
        assert.equal(lines.length, 1, `one line per call: ${JSON.stringify(lines)}`);
      }
      assert.equal(await callPhase(alice.page), "idle");
      assertClean(alice, bob);
    },
  );

  test("answering on one tab stops the ringing on the others", { timeout: TEST_TIMEOUT }, async (t) => {
    const [alice, bob] = await people(t, env, "alice", "bob");
    const id = await chatBetween(alice, bob);
    const bobTab2 = await signInElsewhere(env, bob);
    t.after(() => bobTab2.context.close().catch(() => {}));
    await setCallConfig(bobTab2.page, { endScreenMs: 1_500 });

    await placeCall(alice, id, "voice");
    await bob.page.getByTestId("call-incoming").waitFor();
    await bobTab2.page.getByTestId("call-incoming").waitFor();
    assert.equal(await bob.page.getByTestId("call-incoming").getAttribute("data-kind"), "voice");
    await answer(bobTab2, { video: false });
    await bobTab2.page.getByTestId("call-screen").waitFor();
    await bob.page.getByTestId("call-incoming").waitFor({ state: "detached" });
    assert.equal(await bob.page.getByTestId("call-screen").count(), 0, "the other tab must not join the call");
    // Voice: audio flows (no video is sent).
    await eventually(async () => (await mediaStats(bobTab2.page))?.audio.bytesReceived > 0, { timeout: 15_000 });
    await eventually(async () => (await mediaStats(alice.page))?.audio.bytesReceived > 0, { timeout: 15_000 });
    assert.equal((await mediaStats(alice.page)).video.framesDecoded, 0);

    // An ICE restart from the polite side (what a network change triggers) renegotiates
    // new ICE credentials through perfect negotiation; the call goes on.
    const ufrag = (page) => page.evaluate(() => /a=ice-ufrag:(\S+)/.exec(window.__conveneCall.pc.remoteDescription.sdp)?.[1]);
    const before = await ufrag(alice.page);
    await bobTab2.page.evaluate(() => window.__conveneCall.session.restartIce());
    await eventually(async () => (await ufrag(alice.page)) !== before, { timeout: 10_000 });
    const audioBefore = (await mediaStats(alice.page)).audio.bytesReceived;
    await eventually(async () => (await mediaStats(alice.page)).audio.bytesReceived > audioBefore + 2_000, { timeout: 10_000 });

    // Camera on in a voice call: no video line yet, so addTrack and a renegotiation
    // (impolite side first, then the polite side turns its camera on too).
    await alice.page.getByTestId("call-toggle-camera").click();
    await expectMediaFlows(bobTab2.page);
    await bobTab2.page.getByTestId("call-toggle-camera").click();
    await expectMediaFlows(alice.page);

    await alice.page.getByTestId("call-hangup").click();
    await bobTab2.page.getByTestId("call-ended").waitFor();
    assert.equal(await bob.page.getByTestId("call-ended").count(), 0);
    await expectCallLine(bob, id, /^Voice call · \d+:\d\d$/);
    assertClean(alice, bob, bobTab2);
  });

  test("decline: the caller sees Declined, both chats and histories log it", { timeout: TEST_TIMEOUT }, async (t) => {
    const [alice, bob] = await people(t, env, "alice", "bob");
    const id = await chatBetween(alice, bob);
    await placeCall(alice, id, "voice");
    const incoming = bob.page.getByTestId("call-incoming");
    await incoming.waitFor();
    assert.equal(await incoming.getByTestId("call-accept-video").count(), 0, "a voice call has no video answer");
    const callId = await callIdOn(bob.page, "call-incoming");
    await incoming.getByTestId("call-decline").click();
    await incoming.waitFor({ state: "detached" });
    const ended = alice.page.getByTestId("call-ended");
    await ended.waitFor();
    assert.equal(await ended.getAttribute("data-outcome"), "declined");
    assert.equal(await ended.getByTestId("call-end-text").textContent(), "Declined");
    await expectCallLine(alice, id, /^Voice call · Declined$/);
    await expectCallLine(bob, id, /^Declined voice call$/);
    const row = await historyRow(bob, callId);
    assert.equal(await row.getAttribute("data-outcome"), "declined");
    assert.equal(await row.getByTestId("call-history-duration").count(), 0);
    await closeHistory(bob);
    assertClean(alice, bob);
  });

  test("cancel while ringing: the callee's screen goes away, logged as missed for them", { timeout: TEST_TIMEOUT }, async (t) => {
    const [alice, bob] = await people(t, env, "alice", "bob");
    const id = await chatBetween(alice, bob);
    await placeCall(alice, id, "video");
    await bob.page.getByTestId("call-incoming").waitFor();
    await alice.page.getByTestId("call-cancel").click();
    await bob.page.getByTestId("call-incoming").waitFor({ state: "detached" });
    assert.equal(await alice.page.getByTestId("call-end-text").textContent(), "Call cancelled");
    await expectCallLine(alice, id, /^Cancelled video call$/);
    await expectCallLine(bob, id, /^Missed video call$/);
    assertClean(alice, bob);
  });

  test("missed: nobody answers within the ring timeout", { timeout: TEST_TIMEOUT }, async (t) => {
    const [alice, bob] = await people(t, env, "alice", "bob");
    const id = await chatBetween(alice, bob);
    await placeCall(alice, id, "video");
    await bob.page.getByTestId("call-incoming").waitFor();
    const callId = await callIdOn(bob.page, "call-incoming");
    const started = Date.now();
    const ended = alice.page.getByTestId("call-ended");
    await ended.waitFor({ timeout: (RING_TIMEOUT_SECONDS + 10) * 1000 });
    const rang = Date.now() - started;
    t.diagnostic(`rang out after ${rang} ms (timeout ${RING_TIMEOUT_SECONDS} s)`);
    assert.ok(rang >= (RING_TIMEOUT_SECONDS - 1) * 1000, `rang out too early (${rang} ms)`);
    assert.equal(await ended.getAttribute("data-outcome"), "missed");
    assert.equal(await ended.getByTestId("call-end-text").textContent(), "No answer");
    await bob.page.getByTestId("call-incoming").waitFor({ state: "detached" });
    await expectCallLine(alice, id, /^Video call · No answer$/);
    await expectCallLine(bob, id, /^Missed video call$/);
    const row = await historyRow(bob, callId);
    assert.equal(await row.getAttribute("data-direction"), "missed");
    assert.equal(await row.getAttribute("data-outcome"), "missed");
    await closeHistory(bob);
    const aliceRow = await historyRow(alice, callId);
    assert.equal(await aliceRow.getAttribute("data-direction"), "outgoing");
    await closeHistory(alice);
    assertClean(alice, bob);
  });

  test("busy: calling someone who is already in a call", { timeout: TEST_TIMEOUT }, async (t) => {
    const [alice, bob, carol] = await people(t, env, "alice", "bob", "carol");
    const id = await chatBetween(alice, bob);
    const carolChat = await chatBetween(carol, bob);
    await placeCall(alice, id, "video");
    await answer(bob);
    await expectMediaFlows(alice.page);

    await placeCall(carol, carolChat, "video");
    const ended = carol.page.getByTestId("call-ended");
    await ended.waitFor();
    assert.equal(await ended.getAttribute("data-outcome"), "busy");
    assert.equal(await ended.getByTestId("call-end-text").textContent(), "Busy");
    // Bob's call goes on, undisturbed (no second ring).
    assert.equal(await bob.page.getByTestId("call-incoming").count(), 0);
    assert.equal(await callPhase(bob.page), "in_call");
    await expectCallLine(carol, carolChat, /^Video call · Busy$/);

    await bob.page.getByTestId("call-hangup").click();
    await alice.page.getByTestId("call-ended").waitFor();
    await bob.page.getByTestId("call-ended").waitFor({ state: "detached", timeout: 10_000 });
    await expectCallLine(bob, carolChat, /^Missed video call$/);
    assertClean(alice, bob, carol);
  });

  test("the answering tab loses its connection: the call fails on both sides", { timeout: TEST_TIMEOUT }, async (t) => {
    const [alice, bob] = await people(t, env, "alice", "bob");
    const id = await chatBetween(alice, bob);
    await placeCall(alice, id, "video");
    await answer(bob);
    await expectMediaFlows(alice.page);
    // Bob's WebSocket drops (the server fails a call whose answering connection closes,
    // crates/gateway/src/calls/signalling.rs hang_up_calls_of_connection).
    await goOffline(bob);
    const ended = alice.page.getByTestId("call-ended");
    await ended.waitFor();
    assert.equal(await ended.getAttribute("data-outcome"), "failed");
    await goOnline(bob);
    // Bob's tab learns it on its new connection (it asks where the call stands).
    const bobEnded = bob.page.getByTestId("call-ended");
    await bobEnded.waitFor({ timeout: 15_000 });
    assert.equal(await bobEnded.getAttribute("data-outcome"), "failed");
    assert.equal(await callPhase(alice.page), "ended");
    assertClean(alice, bob);
  });

  test("time from the call click to the first decoded frame (10 runs, measured)", { timeout: 4 * TEST_TIMEOUT }, async (t) => {
    const [alice, bob] = await people(t, env, "alice", "bob");
    const id = await chatBetween(alice, bob);
    await setCallConfig(alice.page, { endScreenMs: 200 });
    await setCallConfig(bob.page, { endScreenMs: 200 });
    await openConversation(alice, id);
    await autoAnswer(bob.page, { video: true });
    const samples = [];
    for (let run = 0; run < 10; run++) {
      await armFirstFrameTimer(alice.page);
      await alice.page.getByTestId("call-video-button").click();
      samples.push(Math.round(await firstFrameMs(alice.page)));
      await alice.page.getByTestId("call-hangup").click();
      await waitPhase(alice.page, "idle");
      await waitPhase(bob.page, "idle");
    }
    const sorted = [...samples].sort((a, b) => a - b);
    const median = (sorted[4] + sorted[5]) / 2;
    const p90 = percentile(sorted, 90);
    const line = `time to first decoded frame (click → framesDecoded > 0, loopback, 10 runs): median ${median} ms, p90 ${p90} ms; runs ${samples.join(", ")} ms`;
    t.diagnostic(line);
    console.log(line);
    assertClean(alice, bob);
  });
});

describe("calls through TURN (coturn)", { timeout: 10 * TEST_TIMEOUT }, () => {
  test("relay-only: the call connects through coturn and decodes", { timeout: TEST_TIMEOUT }, async (t) => {
    const turn = await startCoturn({ secret: TURN_SECRET, name: "calls-coturn" });
    t.after(() => turn.stop());
    const server = await startServer({
      name: "calls-turn-server",
      env: { CONVENE_TURN_URLS: turn.url, CONVENE_TURN_SECRET: TURN_SECRET, ...WEB_DIR_ENV },
    });
    t.after(() => server.stop());
    const turnEnv = envOf(server);
    const [alice, bob] = await people(t, turnEnv, "alice", "bob");
    for (const user of [alice, bob]) await setCallConfig(user.page, { iceTransportPolicy: "relay" });
    const servers = await alice.page.evaluate(() => fetch("/api/v1/calls/ice-servers").then((r) => r.json()));
    assert.deepEqual(servers.ice_servers[0].urls, [turn.url]);
    assert.match(servers.ice_servers[0].username, /^\d+:[0-9a-f-]{36}$/);

    const id = await chatBetween(alice, bob);
    await placeCall(alice, id, "video");
    await answer(bob);
    const aliceStats = await expectMediaFlows(alice.page, { timeout: 20_000 });
    const bobStats = await expectMediaFlows(bob.page, { timeout: 20_000 });
    t.diagnostic(`relay pair: alice ${JSON.stringify(aliceStats.pair)}, bob ${JSON.stringify(bobStats.pair)}`);
    assert.equal(aliceStats.pair?.local, "relay");
    assert.equal(bobStats.pair?.local, "relay");
    await eventually(async () => (await alice.page.getByTestId("call-quality").getAttribute("data-candidate")) === "relay");
    await alice.page.getByTestId("call-hangup").click();
    await bob.page.getByTestId("call-ended").waitFor();
    assertClean(alice, bob);
  });

  test("relay-only with a wrong TURN secret: no connection, a clear failure", { timeout: TEST_TIMEOUT }, async (t) => {
    const turn = await startCoturn({ secret: TURN_SECRET, name: "calls-coturn-wrong" });
    t.after(() => turn.stop());
    const server = await startServer({
      name: "calls-wrong-turn-server",
      env: { CONVENE_TURN_URLS: turn.url, CONVENE_TURN_SECRET: "not-the-secret-coturn-has", ...WEB_DIR_ENV },
    });
    t.after(() => server.stop());
    const [alice, bob] = await people(t, envOf(server), "alice", "bob");
    // The caller gives up first (the UI default is 20 s).
    await setCallConfig(alice.page, { iceTransportPolicy: "relay", connectTimeoutMs: 5_000, endScreenMs: 30_000 });
    await setCallConfig(bob.page, { iceTransportPolicy: "relay", connectTimeoutMs: 8_000, endScreenMs: 30_000 });
    const id = await chatBetween(alice, bob);
    await placeCall(alice, id, "video");
    await answer(bob);
    await alice.page.getByTestId("call-screen").waitFor();
    const started = Date.now();
    const ended = alice.page.getByTestId("call-ended");
    await ended.waitFor({ timeout: 15_000 });
    t.diagnostic(`gave up after ${Date.now() - started} ms`);
    assert.equal(await ended.getAttribute("data-outcome"), "failed");
    assert.match(await ended.getByTestId("call-end-text").textContent(), /Couldn't connect the call/);
    const stats = await mediaStats(alice.page);
    assert.equal(stats, null, "the peer connection is closed");
    await bob.page.getByTestId("call-ended").waitFor();
    assertClean(alice, bob);
  });
});
