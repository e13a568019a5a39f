// End-to-end tests of group meetings in real headless Chromium (fake camera and
// microphone) against a real `convene serve` and its built-in SFU. Run: `npm run
// test:meetings` in web/ (after `cargo build -p convene-server` and `npm run build`).
// Screenshots and the server log go to test-artifacts/web/.
//
// Three meetings, each shared by the tests that follow in order: the Standup (three people
// join through the UI and decode each other; pages; a screen share; someone leaves), the
// Review (the lobby with the camera off; a guest knocks; a dropped WebSocket), and a
// group's meeting that rings.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  closeBrowser,
  createGroup,
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
import { decodedByStream, expectDecoding, sessionOf } from "./meetings-harness.mjs";

const TEST_TIMEOUT = 60_000;
/** E2E_WEB_DIR serves another build of the UI than web/dist (while developing). */
const WEB_DIR_ENV = process.env.E2E_WEB_DIR ? { CONVENE_WEB_DIR: process.env.E2E_WEB_DIR } : {};
/** A smaller camera than the UI's 1280×720: three tabs encode and decode on two cores. */
const MEETING_CONFIG = {
  videoWidth: 640,
  videoHeight: 360,
  ...(process.env.E2E_RENEW_CAMERA ? { renewCameraOnReoffer: process.env.E2E_RENEW_CAMERA === "1" } : {}),
};

let browser;
let server;
const env = { dialogs: [], pageErrors: [] };
const everyone = [];
/** The Standup (Ann, Bob, Cat) and the Review (Dan, Eve): codes and session ids. */
const standup = {};
const review = {};
let ann;
let bob;
let cat;
let dan;
let eve;

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

describe("meetings", { timeout: 10 * TEST_TIMEOUT }, () => {
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
      standup.code = (await ann.page.getByTestId("lobby-meeting-code").textContent()).trim();
      assert.match(standup.code, /^[a-z]{3}-[a-z]{4}-[a-z]{3}$/);
      assert.equal(await ann.page.getByTestId("lobby-title").textContent(), "Standup");
      await screenshot(ann.page, "meetings-01-lobby.png");
      await ann.page.getByTestId("lobby-join").click();
      await expectAttr(ann.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 15_000);

      // Bob and Cat join with the code; each measures join click → first decoded frames.
      await armFirstFrames(bob, 1);
      await joinByCode(bob, standup.code);
      await armFirstFrames(cat, 2);
      await joinByCode(cat, standup.code);
      const [annSession, bobSession, catSession] = await Promise.all([ann, bob, cat].map(sessionOf));
      Object.assign(standup, { annSession, bobSession, catSession });

      const started = Date.now();
      await expectDecoding(ann, [bobSession, catSession]);
      await expectDecoding(bob, [annSession, catSession]);
      await expectDecoding(cat, [annSession, bobSession]);
      t.diagnostic(`all three decode both others ${Date.now() - started} ms after Cat's stage was up`);
      t.diagnostic(`bob: join click → first decoded frame of ann ${JSON.stringify(await firstFrames(bob))} ms`);
      t.diagnostic(`cat: join click → first decoded frames (ann, bob) ${JSON.stringify(await firstFrames(cat))} ms`);

      // Three tiles with the right names, each showing video.
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

      // The speaker layout: one remote person large (layer 2), the others beside them.
      await ann.page.getByTestId("meeting-layout-toggle").click();
      await expectAttr(ann.page.getByTestId("meeting-stage"), "data-layout", "speaker");
      const large = ann.page.locator('[data-testid="meeting-tile"][data-place="main"]');
      await expectAttr(large, "data-size", "large");
      const speakerKey = await large.getAttribute("data-key");
      assert.ok([bobSession, catSession].includes(speakerKey), `the large tile is ${speakerKey}`);
      await eventually(async () => (await ann.page.evaluate((id) => window.__conveneMeeting.views[id], speakerKey))?.maxLayer === 2);
      await screenshot(ann.page, "meetings-02a-speaker-layout.png");
      await ann.page.getByTestId("meeting-layout-toggle").click();
      await expectAttr(ann.page.getByTestId("meeting-stage"), "data-layout", "grid");

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
      assertClean(ann, bob, cat);
    });
  });

  test("the active speaker is outlined (meeting_speakers)", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      // The fake microphones beep: the SFU names who is heard, and their tile is outlined.
      const speaking = ann.page.locator('[data-testid="meeting-tile"][data-speaking="true"]').first();
      await speaking.waitFor({ timeout: 15_000 });
      const key = await speaking.getAttribute("data-key");
      assert.ok(Object.values(standup).includes(key), `the outlined tile ${key} is one of the three`);
      const state = await ann.page.evaluate(() => window.__conveneMeeting.state.speakers);
      assert.ok(state.speaking.length > 0, JSON.stringify(state));
    });
  });

  test("pages: a tile on another page is paused at the SFU, and shown again on its page", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      const { bobSession, catSession } = standup;
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
    // Whatever happens, Ann stops presenting at the end, so that the next tests start clean.
    t.after(async () => {
      await ann.page.evaluate(() => window.__conveneMeeting.state.local.sharing && window.__conveneMeeting.stopSharing()).catch(() => {});
    });
    await withArtifacts(t, async () => {
      const { annSession } = standup;
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
        await expectDecoding(user, [screen]);
        await expectAttr(user.page.getByTestId("meeting-stage"), "data-layout", "presentation");
        const spotlight = user.page.locator('[data-testid="meeting-tile"][data-place="main"]');
        await expectAttr(spotlight, "data-key", screen);
        await expectAttr(spotlight, "data-size", "large");
        await expectAttr(spotlight, "data-video", "on", 15_000);
        // Beside it, everyone's camera: Ann, Bob and Cat.
        await expectCount(user.page.locator('[data-testid="meeting-tile"][data-place="strip"]'), 3);
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
      // Cameras keep flowing through both renegotiations (Ann's on a fresh transceiver each
      // time: the SFU's publish re-offer issue, docs/sfu.md).
      const before = await decodedByStream(cat.page);
      await expectDecoding(cat, [annSession, standup.bobSession], { after: before });
      assertClean(ann, bob, cat);
    });
  });

  test("someone leaving disappears for the rest", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      const { catSession } = standup;
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
      [dan, eve] = await Promise.all([person("dan"), person("eve")]);
      // Dan starts the Review; its lobby: the fake microphone beeps, the meter (an
      // AnalyserNode) must move.
      await dan.page.getByTestId("new-menu-button").click();
      await dan.page.getByTestId("new-meeting").click();
      await dan.page.getByTestId("meeting-title-input").fill("Review");
      await dan.page.getByTestId("create-meeting").click();
      await dan.page.getByTestId("lobby-preview").waitFor();
      review.code = (await dan.page.getByTestId("lobby-meeting-code").textContent()).trim();
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

      // Camera off in the lobby: the device is let go, and Dan joins without video.
      await dan.page.getByTestId("lobby-toggle-camera").click();
      await dan.page.getByTestId("lobby-camera-off").waitFor();
      assert.equal(await dan.page.evaluate(() => window.__conveneMeeting.local.camera), null, "the camera is released");
      await screenshot(dan.page, "meetings-09-lobby-camera-off.png");
      await dan.page.getByTestId("lobby-join").click();
      await expectAttr(dan.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 15_000);
      const danSession = await sessionOf(dan);

      // Eve joins with the invite link: Dan's tile is camera-off, as the roster says.
      await eve.page.goto(`/join/${review.code}`);
      await eve.page.getByTestId("lobby-preview").waitFor();
      await eve.page.getByTestId("lobby-join").click();
      await expectAttr(eve.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 15_000);
      const eveSession = await sessionOf(eve);
      const danTile = tile(eve, danSession);
      await danTile.waitFor();
      await expectAttr(danTile, "data-video", "off");
      assert.equal(await danTile.getByTestId("meeting-tile-name").textContent(), "Dan");
      const roster = await eve.page.evaluate((id) => window.__conveneMeeting.state.roster.find((p) => p.session_id === id), danSession);
      assert.equal(roster.video_muted, true);
      assert.deepEqual(roster.streams, [], "no camera published");
      // Dan still sees Eve.
      await expectDecoding(dan, [eveSession]);
      await screenshot(eve.page, "meetings-10-camera-off-tile.png");

      // Dan turns the camera on in the meeting: Eve starts decoding him.
      await dan.page.getByTestId("meeting-toggle-camera").click();
      await expectDecoding(eve, [danSession]);
      await expectAttr(tile(eve, danSession), "data-video", "on", 15_000);
      Object.assign(review, { danSession, eveSession });
      assertClean(dan, eve);
    });
  });

  test("a guest knocks with the link and a host lets them in, mutes and removes them", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      const { danSession } = review;
      // A guest opens the invite link, continues as a guest, and lands in the lobby.
      const guest = await newUser(env, { prefix: "gus", signUp: false });
      everyone.push(guest);
      await guest.page.goto(`/join/${review.code}`);
      await guest.page.getByTestId("auth-tab-guest").click();
      await guest.page.getByTestId("auth-display-name").fill("Gus");
      await guest.page.getByTestId("auth-submit").click();
      await guest.page.getByTestId("meeting-lobby").waitFor({ timeout: 20_000 });
      await guest.page.evaluate((config) => {
        window.__conveneMeetingConfig = config;
      }, MEETING_CONFIG);
      await guest.page.getByTestId("lobby-preview").waitFor();
      await guest.page.getByTestId("lobby-join").click();
      await guest.page.getByTestId("meeting-waiting").waitFor();

      // Dan (who started the meeting, a host) is told someone knocks, and lets them in.
      const banner = dan.page.getByTestId("meeting-knock-banner");
      await banner.waitFor();
      assert.match(await banner.textContent(), /Gus wants to join/);
      await screenshot(dan.page, "meetings-11-knock.png");
      await banner.getByTestId("meeting-knock-admit").click();
      await expectAttr(guest.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 15_000);
      const gusSession = await sessionOf(guest);
      await expectDecoding(guest, [danSession]);
      await tile(dan, gusSession).waitFor();

      // Dan mutes Gus from the people panel: his microphone track goes off, everyone sees it.
      await dan.page.getByTestId("meeting-participants-toggle").click();
      const row = dan.page.locator(`[data-testid="meeting-participant"][data-session-id="${gusSession}"]`);
      await row.getByTestId("meeting-host-mute").click();
      await expectAttr(row, "data-audio-muted", "true");
      await expectAttr(guest.page.getByTestId("meeting-toggle-mic"), "aria-pressed", "true");
      assert.equal(await guest.page.evaluate(() => window.__conveneMeeting.local.mic.enabled), false);
      await screenshot(dan.page, "meetings-12-host-panel.png");

      // And removes him (a second click confirms): he is told, and is not offered a rejoin.
      await row.getByTestId("meeting-host-remove").click();
      await row.getByTestId("meeting-host-remove").click();
      await guest.page.getByTestId("meeting-left").waitFor();
      assert.equal(await guest.page.getByTestId("meeting-left-reason").textContent(), "You were removed from the meeting.");
      assert.equal(await guest.page.getByTestId("meeting-rejoin").count(), 0);
      await expectCount(tile(dan, gusSession), 0);
      await dan.page.getByTestId("meeting-participants-toggle").click();
      assertClean(dan, guest);
    });
  });

  test("a dropped WebSocket rejoins the meeting by itself", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      const { danSession, eveSession } = review;
      await goOffline(eve);
      await eve.page.getByTestId("meeting-reconnecting").waitFor();
      // The server dropped Eve's seat: Dan sees her go.
      await expectCount(tile(dan, eveSession), 0, 10_000);
      await goOnline(eve);
      await expectAttr(eve.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 20_000);
      const newSession = await sessionOf(eve);
      assert.notEqual(newSession, eveSession);
      // Eve's new seat has fresh connections: she receives Dan again, and he sees and decodes
      // her again (on the subscribe connection that had her old tracks removed).
      await expectDecoding(eve, [danSession]);
      await tile(dan, newSession).waitFor();
      assert.equal(await tile(dan, newSession).getByTestId("meeting-tile-name").textContent(), "Eve");
      await expectDecoding(dan, [newSession]);
      review.eveSession = newSession;
      assertClean(dan, eve);
    });
  });

  test("a group's call button rings the other members, who join from the ring", { timeout: TEST_TIMEOUT }, async (t) => {
    await withArtifacts(t, async () => {
      // Bob leaves the standup first (nothing rings inside a meeting).
      await bob.page.getByTestId("meeting-leave").click();
      await bob.page.getByTestId("meeting-return").click();
      const groupId = await createGroup(cat, "Book club", [bob]);
      await cat.page.getByTestId("meeting-join-button").click();
      await cat.page.getByTestId("meeting-lobby").waitFor();
      await cat.page.getByTestId("lobby-preview").waitFor();
      await cat.page.getByTestId("lobby-join").click();
      await expectAttr(cat.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 15_000);
      const catSession = await sessionOf(cat);

      const ringing = bob.page.getByTestId("meeting-ringing");
      await ringing.waitFor();
      assert.equal(await ringing.getAttribute("data-conversation-id"), groupId);
      assert.match(await ringing.textContent(), /Cat started a meeting/);
      await screenshot(bob.page, "meetings-13-ringing.png");
      await ringing.getByTestId("meeting-ringing-join").click();
      await bob.page.getByTestId("lobby-preview").waitFor();
      await bob.page.getByTestId("lobby-join").click();
      await expectAttr(bob.page.getByTestId("meeting-stage"), "data-phase", "in_meeting", 15_000);
      const bobSession = await sessionOf(bob);
      await expectDecoding(bob, [catSession]);
      await expectDecoding(cat, [bobSession]);
      assert.equal(await bob.page.getByTestId("meeting-title").textContent(), "Book club");
      assertClean(bob, cat);
    });
  });
});
