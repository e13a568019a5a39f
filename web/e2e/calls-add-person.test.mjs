// End to end: "Add person" in a one-to-one call moves it to a group's meeting on the SFU
// without anyone hanging up. Real headless Chromium (fake camera and microphone) against a
// real `convene serve` and its built-in SFU. Run with `npm run test:calls` in web/ (after
// `cargo build -p convene-server` and `npm run build`). Screenshots and the server log go
// to test-artifacts/web/calls-add-*.png.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  closeBrowser,
  eventually,
  expectAttr,
  newUser,
  saveFailureArtifacts,
  screenshot,
  startDirectChat,
  startServer,
} from "./harness.mjs";
import { answer, callPhase, expectMediaFlows, launchCallBrowser, placeCall, setCallConfig } from "./calls-harness.mjs";
import { expectDecoding, sessionOf } from "./meetings-harness.mjs";

const TEST_TIMEOUT = 120_000;
/** E2E_WEB_DIR serves another build of the UI than web/dist (while developing). */
const WEB_DIR_ENV = process.env.E2E_WEB_DIR ? { CONVENE_WEB_DIR: process.env.E2E_WEB_DIR } : {};
/** A smaller camera than the UI's 1280×720: three tabs encode and decode on two cores. */
const MEETING_CONFIG = { videoWidth: 640, videoHeight: 360 };

let browser;
let server;
const env = { dialogs: [], pageErrors: [] };
const everyone = [];

before(async () => {
  browser = await launchCallBrowser();
  server = await startServer({ name: "calls-add-server", env: { CONVENE_API_RATE_LIMIT_PER_MINUTE: "100000", ...WEB_DIR_ENV } });
  Object.assign(env, { server, browser });
});

after(async () => {
  for (const user of everyone) await user.context.close().catch(() => {});
  await closeBrowser(browser);
  await server?.stop();
});

async function person(prefix) {
  const user = await newUser(env, { prefix });
  await user.page.evaluate((config) => {
    window.__conveneMeetingConfig = config;
  }, MEETING_CONFIG);
  everyone.push(user);
  return user;
}

function assertClean(...users) {
  for (const user of users) {
    assert.deepEqual(user.pageErrors, [], `uncaught errors in ${user.username}'s page`);
    assert.deepEqual(user.dialogs, [], `dialogs in ${user.username}'s page`);
  }
}

/** Records, in the page, whether a call end screen, a hang-up's end or a lobby ever shows. */
async function watchForInterruptions(page) {
  await page.evaluate(() => {
    window.__e2eSeen = { callEnded: false, lobby: false };
    const check = () => {
      if (document.querySelector('[data-testid="call-ended"]')) window.__e2eSeen.callEnded = true;
      if (document.querySelector('[data-testid="meeting-lobby"]')) window.__e2eSeen.lobby = true;
    };
    new MutationObserver(check).observe(document.body, { childList: true, subtree: true });
  });
}

const tile = (user, sessionId) => user.page.locator(`[data-testid="meeting-tile"][data-session-id="${sessionId}"][data-kind="camera"]`);

test("Add person: a video call moves to the group's meeting, and the added person joins from the ring", { timeout: TEST_TIMEOUT }, async (t) => {
  const alice = await person("alice");
  const bob = await person("bob");
  const carol = await person("carol");
  try {
    // Alice calls Bob (video); Bob answers; the media flows peer to peer.
    const directId = await startDirectChat(alice, bob);
    await bob.page.locator(`[data-testid="conversation-item"][data-conversation-id="${directId}"]`).waitFor();
    await placeCall(alice, directId, "video");
    await answer(bob, { video: true });
    for (const user of [alice, bob]) await expectAttr(user.page.getByTestId("call-screen"), "data-connected", "true", 20_000);
    await Promise.all([expectMediaFlows(alice.page), expectMediaFlows(bob.page)]);
    const callId = await alice.page.getByTestId("call-screen").getAttribute("data-call-id");
    // Bob mutes himself: he must still be muted in the meeting.
    await bob.page.getByTestId("call-toggle-mic").click();
    await expectAttr(bob.page.getByTestId("call-toggle-mic"), "aria-pressed", "true");
    for (const user of [alice, bob]) await watchForInterruptions(user.page);
    const callTracks = async (user) =>
      user.page.evaluate(() => window.__conveneCall.session.localStream.getTracks().map((track) => `${track.kind}:${track.id}`).sort());
    const aliceCallTracks = await callTracks(alice);
    assert.equal(aliceCallTracks.length, 2, "Alice sends a microphone and a camera");

    // Alice adds Carol through the picker.
    await alice.page.getByTestId("call-add-person").click();
    const dialog = alice.page.getByTestId("call-add-dialog");
    await dialog.waitFor();
    await dialog.getByTestId("user-search-input").fill(carol.username);
    const result = dialog.locator(`[data-testid="user-result"][data-username="${carol.username}"]`);
    await result.waitFor();
    // The people in the call are not offered.
    await dialog.getByTestId("user-search-input").fill(bob.username);
    await eventually(async () => (await dialog.getByText("Nobody found.").count()) === 1);
    await dialog.getByTestId("user-search-input").fill(carol.username);
    await result.waitFor();
    await screenshot(alice.page, "calls-add-1-picker.png");
    await result.click();

    // Alice and Bob are in the new group's meeting straight away, no lobby, no end screen.
    const stages = [alice, bob].map((user) => user.page.getByTestId("meeting-stage"));
    for (const stage of stages) await expectAttr(stage, "data-phase", "in_meeting", 20_000);
    const groupId = await stages[0].getAttribute("data-conversation-id");
    assert.match(groupId ?? "", /^[0-9a-f-]{36}$/);
    assert.notEqual(groupId, directId);
    assert.equal(await stages[1].getAttribute("data-conversation-id"), groupId);
    for (const user of [alice, bob]) {
      assert.equal(await callPhase(user.page), "idle", `${user.username}'s call is closed`);
      assert.equal(await user.page.evaluate(() => window.__conveneCall.pc), null, `${user.username}'s peer connection is gone`);
    }
    const [aliceSession, bobSession] = await Promise.all([alice, bob].map(sessionOf));
    // The call's own microphone and camera went on into the meeting (not asked for again).
    const meetingTracks = await alice.page.evaluate(() => {
      const local = window.__conveneMeeting.local;
      return [local.mic, local.camera].map((track) => `${track.kind}:${track.id}:${track.readyState}`).sort();
    });
    assert.deepEqual(meetingTracks, aliceCallTracks.map((track) => `${track}:live`));
    await expectDecoding(alice, [bobSession]);
    await expectDecoding(bob, [aliceSession]);
    // Muted stays muted; the camera that was on stays on.
    await expectAttr(bob.page.getByTestId("meeting-toggle-mic"), "aria-pressed", "true");
    await expectAttr(bob.page.getByTestId("meeting-toggle-camera"), "aria-pressed", "false");
    await expectAttr(alice.page.getByTestId("meeting-toggle-mic"), "aria-pressed", "false");
    await expectAttr(tile(alice, bobSession), "data-audio-muted", "true");
    await expectAttr(tile(alice, bobSession), "data-video", "on");
    const title = await alice.page.getByTestId("meeting-title").textContent();
    for (const name of ["Alice", "Bob", "Carol"]) assert.match(title ?? "", new RegExp(name), `the group's title names ${name}`);
    await screenshot(alice.page, "calls-add-2-alice-in-meeting.png");
    await screenshot(bob.page, "calls-add-3-bob-in-meeting.png");

    // Carol is rung and joins from the ring (through the lobby, as anyone rung does).
    const ringing = carol.page.getByTestId("meeting-ringing");
    await ringing.waitFor({ timeout: 15_000 });
    assert.equal(await ringing.getAttribute("data-conversation-id"), groupId);
    await screenshot(carol.page, "calls-add-4-carol-ringing.png");
    await ringing.getByTestId("meeting-ringing-join").click();
    await carol.page.getByTestId("lobby-preview").waitFor();
    await carol.page.getByTestId("lobby-join").click();
    await expectAttr(carol.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 20_000);
    const carolSession = await sessionOf(carol);
    await expectDecoding(carol, [aliceSession, bobSession]);
    await expectDecoding(alice, [bobSession, carolSession]);
    await expectDecoding(bob, [aliceSession, carolSession]);
    for (const user of [alice, bob, carol]) {
      await eventually(async () => (await user.page.getByTestId("meeting-participant-count").textContent())?.trim() === "3", {
        message: `${user.username} counts three people`,
      });
    }
    await screenshot(carol.page, "calls-add-5-carol-in-meeting.png");
    await screenshot(alice.page, "calls-add-6-alice-three.png");

    // Nothing of the call's end was shown, and no lobby for the two who moved.
    for (const user of [alice, bob]) {
      assert.deepEqual(await user.page.evaluate(() => window.__e2eSeen), { callEnded: false, lobby: false }, `${user.username} saw no interruption`);
      assert.equal(await user.page.getByTestId("call-ended").count(), 0);
    }

    // The call itself is logged as an ordinary answered call.
    await alice.page.getByTestId("meeting-leave").click();
    await alice.page.getByTestId("meeting-return").click();
    await alice.page.getByTestId("calls-button").click();
    const row = alice.page.locator(`[data-testid="call-history-item"][data-call-id="${callId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute("data-outcome"), "ended");
    await alice.page.keyboard.press("Escape");
    assertClean(alice, bob, carol);
  } catch (error) {
    await saveFailureArtifacts(t.name, everyone);
    throw error;
  }
});

test("Add person: the server's no is a toast and the call goes on; a voice call moves with the camera off", { timeout: TEST_TIMEOUT }, async (t) => {
  const dan = await person("dan");
  const erin = await person("erin");
  const fay = await person("fay");
  const gus = await person("gus");
  try {
    const directId = await startDirectChat(dan, erin);
    await erin.page.locator(`[data-testid="conversation-item"][data-conversation-id="${directId}"]`).waitFor();
    await placeCall(dan, directId, "voice");
    await answer(erin, { video: false });
    for (const user of [dan, erin]) await expectAttr(user.page.getByTestId("call-screen"), "data-connected", "true", 20_000);

    // Fay blocked Dan: he cannot add her.
    const danId = await dan.page.evaluate(() => window.__conveneCall.state.selfId);
    const status = await fay.page.evaluate(async (id) => (await fetch(`/api/v1/blocks/${id}`, { method: "PUT" })).status, danId);
    assert.ok(status >= 200 && status < 300, `block answered ${status}`);
    await dan.page.getByTestId("call-add-person").click();
    const dialog = dan.page.getByTestId("call-add-dialog");
    await dialog.getByTestId("user-search-input").fill(fay.username);
    await dialog.locator(`[data-testid="user-result"][data-username="${fay.username}"]`).click();
    await dan.page.getByTestId("toast").first().waitFor();
    const toast = await dan.page.getByTestId("toast").first().textContent();
    await screenshot(dan.page, "calls-add-7-refused.png");
    assert.match(toast ?? "", /can't be added to this call/);
    assert.equal(await callPhase(dan.page), "in_call");
    assert.equal(await callPhase(erin.page), "in_call");
    assert.equal(await dan.page.getByTestId("meeting-stage").count(), 0);

    // Gus can be added: the voice call moves with both cameras off.
    await dialog.getByTestId("user-search-input").fill(gus.username);
    await dialog.locator(`[data-testid="user-result"][data-username="${gus.username}"]`).click();
    for (const user of [dan, erin]) {
      await expectAttr(user.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 20_000);
      await expectAttr(user.page.getByTestId("meeting-toggle-camera"), "aria-pressed", "true");
      await expectAttr(user.page.getByTestId("meeting-toggle-mic"), "aria-pressed", "false");
      assert.equal(await user.page.evaluate(() => window.__conveneMeeting.local.camera), null, `${user.username}'s camera stays closed`);
    }
    const erinSession = await sessionOf(erin);
    await expectAttr(tile(dan, erinSession), "data-video", "off");
    await gus.page.getByTestId("meeting-ringing").waitFor({ timeout: 15_000 });
    await screenshot(dan.page, "calls-add-8-voice-moved.png");
    assertClean(dan, erin, fay, gus);
  } catch (error) {
    await saveFailureArtifacts(t.name, everyone);
    throw error;
  }
});
