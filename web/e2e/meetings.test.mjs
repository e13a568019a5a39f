// End-to-end tests of group meetings in real headless Chromium (fake camera and
// microphone) against a real `convene serve` and its built-in SFU. Run: `npm run
// test:meetings` in web/ (after `cargo build -p convene-server` and `npm run build`).
// Screenshots and the server log go to test-artifacts/web/.
//
// One meeting is shared by the tests of this file, in order: three people join it through
// the UI and see and decode each other; one presents; one leaves; one joins from the lobby
// with the camera off; one loses the WebSocket and gets back in by itself.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  closeBrowser,
  eventually,
  expectAttr,
  expectCount,
  goOffline,
  goOnline,
  newUser,
  saveFailureArtifacts,
  screenshot,
  screenshotPath,
  startServer,
} from "./harness.mjs";
import { displayMediaWorks, launchCallBrowser } from "./calls-harness.mjs";

const TEST_TIMEOUT = 60_000;
/** E2E_WEB_DIR serves another build of the UI than web/dist (while developing). */
const WEB_DIR_ENV = process.env.E2E_WEB_DIR ? { CONVENE_WEB_DIR: process.env.E2E_WEB_DIR } : {};
/** A smaller camera than the UI's 1280×720: three tabs encode and decode on two cores. */
const MEETING_CONFIG = { videoWidth: 640, videoHeight: 360 };

let browser;
let server;
const env = { dialogs: [], pageErrors: [] };
const everyone = [];
/** The meeting the tests share: { id, code }, and who is in it. */
const meeting = { id: null, code: null };
let ann;
let bob;
let cat;

before(async () => {
  browser = await launchCallBrowser();
  server = await startServer({ name: "meetings-server", env: { CONVENE_API_RATE_LIMIT_PER_MINUTE: "100000", ...WEB_DIR_ENV } });
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

/** Saves screenshots and page logs when a test fails. */
async function withArtifacts(t, fn) {
  try {
    await fn();
  } catch (error) {
    await saveFailureArtifacts(t.name, everyone);
    throw error;
  }
}

function assertClean(...users) {
  for (const user of users) {
    assert.deepEqual(user.pageErrors, [], `uncaught errors in ${user.username}'s page`);
    assert.deepEqual(user.dialogs, [], `dialogs in ${user.username}'s page`);
  }
}

/**
 * Frames decoded per received video stream (stream id: the publisher's session id, or
 * `<session id>~screen`), from each receiver's getStats().
 */
async function decodedByStream(page) {
  return page.evaluate(async () => {
    const m = window.__conveneMeeting;
    const out = {};
    if (!m?.sub || !m.peers) return out;
    for (const [id, stream] of m.peers.streams) {
      for (const track of stream.getVideoTracks()) {
        const receiver = m.sub.getReceivers().find((r) => r.track === track);
        if (!receiver) continue;
        (await receiver.getStats()).forEach((value) => {
          if (value.type === "inbound-rtp") out[id] = (out[id] ?? 0) + (value.framesDecoded ?? 0);
        });
      }
    }
    return out;
  });
}

async function sessionOf(user) {
  return eventually(async () => (await user.page.getByTestId("meeting-stage").getAttribute("data-session-id")) || null, { timeout: 15_000 });
}

/** Waits until `user` decodes video from each of `streams` (more than `after[id]` frames). */
async function expectDecoding(user, streams, { timeout = 20_000, after = {} } = {}) {
  let seen = {};
  try {
    await eventually(
      async () => {
        seen = await decodedByStream(user.page);
        return streams.every((id) => (seen[id] ?? 0) > (after[id] ?? 0));
      },
      { timeout, interval: 200 },
    );
  } catch {
    throw new Error(`${user.username} does not decode ${JSON.stringify(streams)}: ${JSON.stringify(seen)}`);
  }
  return seen;
}

const tile = (user, key) => user.page.locator(`[data-testid="meeting-tile"][data-key="${key}"]`);

/** In the page: from the next click on "Join now" to the first decoded frame of each
 * remote stream; resolves with { streamId: ms }. */
async function armFirstFrames(user, count) {
  await user.page.evaluate((wanted) => {
    window.__e2eFirstFrames = new Promise((resolve) => {
      const onClick = (event) => {
        if (!event.target.closest?.('[data-testid="lobby-join"]')) return;
        document.removeEventListener("click", onClick, true);
        const started = performance.now();
        const times = {};
        const poll = async () => {
          const m = window.__conveneMeeting;
          if (m?.sub && m.peers) {
            for (const [id, stream] of m.peers.streams) {
              if (times[id] !== undefined) continue;
              for (const track of stream.getVideoTracks()) {
                const receiver = m.sub.getReceivers().find((r) => r.track === track);
                const report = receiver ? await receiver.getStats() : new Map();
                report.forEach((value) => {
                  if (value.type === "inbound-rtp" && value.framesDecoded > 0) times[id] ??= Math.round(performance.now() - started);
                });
              }
            }
          }
          if (Object.keys(times).length >= wanted) resolve(times);
          else setTimeout(poll, 50);
        };
        void poll();
      };
      document.addEventListener("click", onClick, true);
    });
  }, count);
}

async function firstFrames(user) {
  return user.page.evaluate(() => Promise.race([window.__e2eFirstFrames, new Promise((_, reject) => setTimeout(() => reject(new Error("no frames")), 20_000))]));
}

/** Joins the meeting by its code through the UI: the menu's "Join with a code", the lobby. */
async function joinByCode(user, code, { cameraOff = false } = {}) {
  const { page } = user;
  await page.getByTestId("new-menu-button").click();
  await page.getByTestId("join-meeting").click();
  await page.getByTestId("meeting-code-input").fill(code);
  await page.getByTestId("join-meeting-submit").click();
  const lobby = page.getByTestId("meeting-lobby");
  await lobby.waitFor();
  await page.getByTestId("lobby-preview").waitFor();
  if (cameraOff) {
    await page.getByTestId("lobby-toggle-camera").click();
    await expectAttr(page.getByTestId("lobby-toggle-camera"), "aria-pressed", "true");
    await page.getByTestId("lobby-camera-off").waitFor();
  }
  await page.getByTestId("lobby-join").click();
  await expectAttr(page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 15_000);
}

describe("meetings", { timeout: 8 * TEST_TIMEOUT }, () => {
  test("three people join through the UI and each decodes the other two", { timeout: 2 * TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      [ann, bob, cat] = await Promise.all([person("ann"), person("bob"), person("cat")]);

      // Ann starts a meeting from the new-menu: it leads to the lobby, with the code to share.
      await ann.page.getByTestId("new-menu-button").click();
      await ann.page.getByTestId("new-meeting").click();
      await ann.page.getByTestId("meeting-title-input").fill("Standup");
      await ann.page.getByTestId("create-meeting").click();
      await ann.page.getByTestId("meeting-lobby").waitFor();
      await ann.page.getByTestId("lobby-preview").waitFor();
      meeting.code = (await ann.page.getByTestId("lobby-meeting-code").textContent()).trim();
      assert.match(meeting.code, /^[a-z]{3}-[a-z]{4}-[a-z]{3}$/);
      assert.equal(await ann.page.getByTestId("lobby-title").textContent(), "Standup");
      await screenshot(ann.page, "meetings-01-lobby.png");
      await ann.page.getByTestId("lobby-join").click();
      await expectAttr(ann.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 15_000);
      meeting.id = await ann.page.getByTestId("meeting-stage").getAttribute("data-conversation-id");

      // Bob and Cat join with the code; each measures join click → first decoded frames.
      await armFirstFrames(bob, 1);
      await joinByCode(bob, meeting.code);
      await armFirstFrames(cat, 2);
      await joinByCode(cat, meeting.code);
      const [annSession, bobSession, catSession] = await Promise.all([ann, bob, cat].map(sessionOf));

      const started = Date.now();
      await expectDecoding(ann, [bobSession, catSession]);
      await expectDecoding(bob, [annSession, catSession]);
      await expectDecoding(cat, [annSession, bobSession]);
      t.diagnostic(`all three decode both others ${Date.now() - started} ms after Cat's stage was up`);
      t.diagnostic(`bob: join click → first decoded frame of ann ${JSON.stringify(await firstFrames(bob))} ms`);
      t.diagnostic(`cat: join click → first decoded frames (ann, bob) ${JSON.stringify(await firstFrames(cat))} ms`);

      // Three tiles with the right names, each remote one showing video.
      const names = { [annSession]: "Ann", [bobSession]: "Bob", [catSession]: "Cat" };
      for (const [user, self] of [
        [ann, annSession],
        [bob, bobSession],
        [cat, catSession],
      ]) {
        await expectCount(user.page.getByTestId("meeting-tile"), 3);
        for (const [session, name] of Object.entries(names)) {
          const label = session === self ? `${name} (You)` : name;
          assert.equal(await tile(user, session).getByTestId("meeting-tile-name").textContent(), label);
          await expectAttr(tile(user, session), "data-video", "on", 15_000);
        }
        await expectAttr(user.page.getByTestId("meeting-stage"), "data-layout", "grid");
        await eventually(async () => (await user.page.getByTestId("meeting-quality").getAttribute("data-level")) !== "unknown", { timeout: 15_000 });
      }
      // The SFU was told each remote tile is visible, medium-sized (layer 1) in a grid of three.
      const views = await ann.page.evaluate(() => window.__conveneMeeting.views);
      assert.deepEqual(views, { [bobSession]: { visible: true, maxLayer: 1 }, [catSession]: { visible: true, maxLayer: 1 } });

      // Bob mutes and raises his hand; Ann sees both on his tile and in the people panel.
      await bob.page.getByTestId("meeting-toggle-mic").click();
      await bob.page.getByTestId("meeting-raise-hand").click();
      await expectAttr(tile(ann, bobSession), "data-audio-muted", "true");
      await expectAttr(tile(ann, bobSession), "data-hand", "true");
      await tile(ann, bobSession).getByTestId("meeting-tile-muted").waitFor();
      assert.match(await ann.page.getByTestId("meeting-hands-banner").textContent(), /Bob raised a hand/);
      assert.equal(await bob.page.evaluate(() => window.__conveneMeeting.local.mic.enabled), false);
      await ann.page.getByTestId("meeting-participants-toggle").click();
      const row = ann.page.locator(`[data-testid="meeting-participant"][data-session-id="${bobSession}"]`);
      await expectAttr(row, "data-audio-muted", "true");
      await expectAttr(row, "data-hand", "true");
      await screenshot(ann.page, "meetings-02-grid-people.png");
      await ann.page.getByTestId("meeting-participants-toggle").click();

      // Ann reacts: the emoji floats over her tile on Bob's screen.
      await ann.page.getByTestId("meeting-reactions-button").click();
      await ann.page.locator('[data-testid="meeting-send-reaction"][data-emoji="🎉"]').click();
      await tile(bob, annSession).locator('[data-testid="meeting-reaction"][data-emoji="🎉"]').waitFor();
      // (Not `screenshot`: it would fast-forward the floating animation to its faded end.)
      await bob.page.screenshot({ path: screenshotPath("meetings-03-reaction.png") });
      await ann.page.getByTestId("meeting-reactions-button").click();
      await ann.page.getByTestId("meeting-reaction-picker").waitFor({ state: "detached" });

      // The chat panel is the meeting's conversation.
      await cat.page.getByTestId("meeting-chat-toggle").click();
      const chat = cat.page.getByTestId("meeting-chat");
      await chat.getByTestId("composer-input").fill("Hello from the meeting");
      await chat.getByTestId("composer-input").press("Enter");
      await chat.locator('[data-testid="message"]').filter({ hasText: "Hello from the meeting" }).waitFor();
      await ann.page.getByTestId("meeting-chat-toggle").click();
      await ann.page.getByTestId("meeting-chat").locator('[data-testid="message"]').filter({ hasText: "Hello from the meeting" }).waitFor();
      await screenshot(ann.page, "meetings-04-chat.png");
      await ann.page.getByTestId("meeting-chat-toggle").click();
      await cat.page.getByTestId("meeting-chat-toggle").click();

      // Bob unmutes and lowers his hand again.
      await bob.page.getByTestId("meeting-toggle-mic").click();
      await bob.page.getByTestId("meeting-raise-hand").click();
      await expectAttr(tile(ann, bobSession), "data-audio-muted", "false");
      await expectAttr(tile(ann, bobSession), "data-hand", "false");
      Object.assign(meeting, { annSession, bobSession, catSession });
      assertClean(ann, bob, cat);
    });
  });

  test("pages: a tile on another page is paused at the SFU, and shown again on its page", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      const { bobSession, catSession } = meeting;
      await ann.page.getByTestId("meeting-more-button").click();
      await ann.page.getByTestId("meeting-tiles-option").filter({ hasText: "Up to 4 tiles" }).click();
      // Four a page fits three: one page. Ann's window is made small so only two fit.
      await ann.page.setViewportSize({ width: 420, height: 330 });
      await expectAttr(ann.page.getByTestId("meeting-stage"), "data-pages", "2");
      const views = await eventually(async () => {
        const v = await ann.page.evaluate(() => window.__conveneMeeting.views);
        return Object.values(v).some((p) => !p.visible) ? v : null;
      });
      const hidden = Object.keys(views).find((id) => !views[id].visible);
      assert.ok([bobSession, catSession].includes(hidden));
      await expectCount(tile(ann, hidden), 0);
      await screenshot(ann.page, "meetings-05-pages.png");
      await ann.page.getByTestId("meeting-page-next").click();
      await tile(ann, hidden).waitFor();
      await eventually(async () => (await ann.page.evaluate((id) => window.__conveneMeeting.views[id], hidden))?.visible === true);
      await ann.page.setViewportSize({ width: 1280, height: 800 });
      await expectAttr(ann.page.getByTestId("meeting-stage"), "data-pages", "1");
      await ann.page.getByTestId("meeting-more-button").click();
      await ann.page.getByTestId("meeting-tiles-option").filter({ hasText: "Up to 49 tiles" }).click();
    });
  });

  test("a screen share reaches the others large, and stopping it removes it", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      const { annSession, bobSession, catSession } = meeting;
      const screen = `${annSession}~screen`;
      const capture = await displayMediaWorks(ann.page);
      t.diagnostic(`getDisplayMedia in headless Chromium: ${capture}`);
      if (capture === "ok") {
        await ann.page.getByTestId("meeting-share-screen").click();
      } else {
        // The same path as the button, with a canvas track.
        await ann.page.evaluate(async () => {
          const canvas = document.createElement("canvas");
          canvas.width = 640;
          canvas.height = 360;
          const context = canvas.getContext("2d");
          setInterval(() => {
            context.fillStyle = `hsl(${Date.now() % 360} 70% 50%)`;
            context.fillRect(0, 0, 640, 360);
          }, 50);
          await window.__conveneMeeting.shareTrack(canvas.captureStream(15).getVideoTracks()[0]);
        });
      }
      await expectAttr(ann.page.getByTestId("meeting-share-screen"), "aria-pressed", "true");
      for (const user of [bob, cat]) {
        // A third decoding stream, shown large with the people beside it.
        await expectDecoding(user, [screen, annSession, user === bob ? catSession : bobSession]);
        await expectAttr(user.page.getByTestId("meeting-stage"), "data-layout", "presentation");
        const spotlight = user.page.getByTestId("meeting-spotlight").getByTestId("meeting-tile");
        await expectAttr(spotlight, "data-key", screen);
        await expectAttr(spotlight, "data-size", "large");
        await expectAttr(spotlight, "data-video", "on", 15_000);
        await expectCount(user.page.getByTestId("meeting-strip").getByTestId("meeting-tile"), 3);
        const views = await user.page.evaluate(() => window.__conveneMeeting.views);
        assert.deepEqual(views[screen], { visible: true, maxLayer: 2 }, JSON.stringify(views));
      }
      await screenshot(bob.page, "meetings-06-presentation.png");
      await screenshot(ann.page, "meetings-07-presenting.png");

      await ann.page.getByTestId("meeting-share-screen").click(); // stop presenting
      await expectAttr(ann.page.getByTestId("meeting-share-screen"), "aria-pressed", "false");
      for (const user of [bob, cat]) {
        await expectCount(tile(user, screen), 0, 15_000);
        await expectAttr(user.page.getByTestId("meeting-stage"), "data-layout", "grid");
        await expectCount(user.page.getByTestId("meeting-tile"), 3);
      }
      // Cameras keep flowing after the renegotiation.
      const before = await decodedByStream(bob.page);
      await expectDecoding(bob, [annSession, catSession], { after: before });
      assertClean(ann, bob, cat);
    });
  });

  test("someone leaving disappears for the rest", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      const { catSession } = meeting;
      await cat.page.getByTestId("meeting-leave").click();
      await cat.page.getByTestId("meeting-left").waitFor();
      assert.equal(await cat.page.getByTestId("meeting-left-reason").textContent(), "You left the meeting.");
      await screenshot(cat.page, "meetings-08-left.png");
      for (const user of [ann, bob]) {
        await expectCount(tile(user, catSession), 0, 10_000);
        await expectCount(user.page.getByTestId("meeting-tile"), 2);
        await eventually(async () => (await user.page.getByTestId("meeting-participant-count").textContent()) === "2");
      }
      // Cat's camera is let go; back to the chat.
      assert.equal(await cat.page.evaluate(() => window.__conveneMeeting.local.camera), null);
      await cat.page.getByTestId("meeting-return").click();
      await cat.page.getByTestId("conversation-view").waitFor();
      assertClean(cat);
    });
  });

  test("the lobby: the microphone meter moves, and joining with the camera off shows a camera-off tile", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      const { annSession } = meeting;
      const dan = await person("dan");
      await dan.page.goto(`/join/${meeting.code}`);
      await dan.page.getByTestId("meeting-lobby").waitFor();
      await dan.page.getByTestId("lobby-preview").waitFor();
      // The fake microphone beeps: the meter (an AnalyserNode) must move.
      const levels = new Set();
      await eventually(
        async () => {
          levels.add(await dan.page.getByTestId("lobby-mic-meter").getAttribute("data-level"));
          return [...levels].some((level) => Number(level) > 0.05) && levels.size >= 3;
        },
        { timeout: 10_000, interval: 50 },
      );
      t.diagnostic(`meter levels seen: ${[...levels].sort().join(" ")}`);
      assert.ok((await dan.page.getByTestId("lobby-mic-select").locator("option").count()) >= 1);
      assert.ok((await dan.page.getByTestId("lobby-camera-select").locator("option").count()) >= 1);

      await dan.page.getByTestId("lobby-toggle-camera").click();
      await dan.page.getByTestId("lobby-camera-off").waitFor();
      assert.equal(await dan.page.evaluate(() => window.__conveneMeeting.local.camera), null, "the camera is released");
      await screenshot(dan.page, "meetings-09-lobby-camera-off.png");
      await dan.page.getByTestId("lobby-join").click();
      await expectAttr(dan.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 15_000);
      const danSession = await sessionOf(dan);

      for (const user of [ann, bob]) {
        const danTile = tile(user, danSession);
        await danTile.waitFor();
        await expectAttr(danTile, "data-video", "off");
        assert.equal(await danTile.getByTestId("meeting-tile-name").textContent(), "Dan");
        const roster = await user.page.evaluate((id) => window.__conveneMeeting.state.roster.find((p) => p.session_id === id), danSession);
        assert.equal(roster.video_muted, true);
        assert.deepEqual(roster.streams, [], "no camera published");
      }
      // Dan still sees and hears the others.
      await expectDecoding(dan, [annSession, meeting.bobSession]);
      await screenshot(ann.page, "meetings-10-camera-off-tile.png");

      // Dan turns the camera on in the meeting: the others start decoding him.
      await dan.page.getByTestId("meeting-toggle-camera").click();
      await expectAttr(tile(ann, danSession), "data-video", "on", 15_000);
      await expectDecoding(ann, [danSession]);
      meeting.danSession = danSession;
      meeting.dan = dan;
      assertClean(dan);
    });
  });

  test("a dropped WebSocket rejoins the meeting by itself", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      const { annSession, danSession, dan } = meeting;
      await goOffline(bob);
      await bob.page.getByTestId("meeting-reconnecting").waitFor();
      // The server dropped Bob's seat: the others see him go.
      const bobSession = meeting.bobSession;
      await expectCount(tile(ann, bobSession), 0, 10_000);
      await goOnline(bob);
      await expectAttr(bob.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 20_000);
      const newSession = await sessionOf(bob);
      assert.notEqual(newSession, bobSession);
      await expectDecoding(bob, [annSession, danSession]);
      await expectDecoding(ann, [newSession]);
      await expectAttr(tile(dan, newSession), "data-video", "on", 15_000);
      assertClean(ann, bob, dan);
    });
  });
});
