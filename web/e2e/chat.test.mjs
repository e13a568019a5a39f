// End-to-end tests of the chat in real headless Chromium against a real `convene serve`.
// Run: `npm run test:e2e` in web/ (after `cargo build -p convene-server` and
// `script/build-web`). Screenshots and the server log go to test-artifacts/web/.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  PHONE,
  bubbles,
  countBubbles,
  createGroup,
  eventually,
  expectAttr,
  expectOneBubble,
  goOffline,
  goOnline,
  newUser,
  openConversation,
  openSocketCount,
  saveFailureArtifacts,
  screenshot,
  sendMessage,
  seqsOnPage,
  signInElsewhere,
  signUp,
  stallNetwork,
  startDirectChat,
  startEnv,
} from "./harness.mjs";

const TEST_TIMEOUT = 60_000;
/** web/src/lib/socket.ts: a ping at most every 20 s, abandoned 10 s after it went unanswered. */
const HEARTBEAT_GIVE_UP_MS = 30_000;
/** web/src/lib/client.ts TYPING_EVERY_MS. */
const TYPING_THROTTLE_MS = 3_000;

let env;

before(async () => {
  env = await startEnv({ name: "chat-server" });
});

after(async () => {
  await env?.stop();
});

/** The users of each running test (for failure artifacts and cleanup). */
const usersOf = new WeakMap();

/** Registers a user's browser context with the test: it closes when the test ends. */
function track(t, user) {
  usersOf.get(t)?.push(user);
  t.after(() => user.context.close().catch(() => {}));
  return user;
}

/** New, signed-up users for one test. */
async function people(t, ...specs) {
  const users = [];
  for (const spec of specs) {
    users.push(track(t, await newUser(env, typeof spec === "string" ? { prefix: spec } : spec)));
  }
  return users;
}

/**
 * A test with a bounded duration; when it fails (or runs out of time) every page it opened
 * is screenshotted and its log saved (test-artifacts/web/FAILED-*).
 */
function e2e(name, options, fn) {
  test(name, { ...options, timeout: TEST_TIMEOUT }, async (t) => {
    usersOf.set(t, []);
    let timer;
    const overtime = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still running after ${TEST_TIMEOUT - 5_000} ms`)), TEST_TIMEOUT - 5_000);
    });
    try {
      await Promise.race([fn(t), overtime]);
    } catch (error) {
      if (!options.todo) await saveFailureArtifacts(name, usersOf.get(t));
      throw error;
    } finally {
      clearTimeout(timer);
    }
  });
}

/** Nothing blew up and nothing popped up in these pages. */
function assertClean(...users) {
  for (const user of users) {
    assert.deepEqual(user.pageErrors, [], `uncaught errors in ${user.username}'s page`);
    assert.deepEqual(user.dialogs, [], `dialogs in ${user.username}'s page`);
  }
}

/** The row of a conversation in the user's list. */
const row = (user, id) => user.page.locator(`[data-testid="conversation-item"][data-conversation-id="${id}"]`);

/** The tick of my newest stored bubble with exactly this text. */
const tickOf = (user, text) => bubbles(user.page, text).first().getByTestId("ticks");

/** Seqs are unique and increasing on the page; returns them. */
async function assertSeqsInOrder(user) {
  const seqs = await seqsOnPage(user.page);
  for (let i = 1; i < seqs.length; i++) {
    assert.ok(seqs[i] > seqs[i - 1], `seqs out of order or repeated on ${user.username}'s page: ${seqs.join(",")}`);
  }
  return seqs;
}

describe("chat in the browser", { timeout: 10 * TEST_TIMEOUT }, () => {
  e2e("sign up, find someone, start a direct chat, exchange messages", {}, async (t) => {
    const [alice, bob] = await people(t, { prefix: "alice", signUp: false }, "bob");

    // The auth screen, as a newcomer sees it.
    await alice.page.goto("/");
    await alice.page.getByTestId("auth-form-signin").waitFor();
    await alice.page.getByTestId("auth-tab-signup").click();
    await alice.page.getByTestId("auth-form-signup").waitFor();
    await screenshot(alice.page, "01-auth-screen.png");
    await signUp(alice);
    await alice.page.getByTestId("conversation-list-empty").waitFor();

    const id = await startDirectChat(alice, bob);
    assert.match(id, /^[0-9a-f-]{36}$/);
    await assert.doesNotReject(alice.page.waitForURL(`**/c/${id}`));
    assert.equal(await alice.page.getByTestId("conversation-header-title").textContent(), bob.displayName);

    await sendMessage(alice, "Hi Bob, it's Alice");
    const mine = await expectOneBubble(alice.page, "Hi Bob, it's Alice");
    assert.equal(await mine.getAttribute("data-mine"), "true");

    // Bob gets the chat live, with an unread badge, without reloading.
    await row(bob, id).waitFor();
    await expectAttr(row(bob, id).getByTestId("unread-badge"), "aria-label", "1 unread");
    assert.equal(await row(bob, id).getByTestId("conversation-title").textContent(), alice.displayName);
    assert.match(await row(bob, id).getByTestId("conversation-preview").textContent(), /Hi Bob, it's Alice/);
    await screenshot(bob.page, "02-conversation-list.png");

    await openConversation(bob, id);
    const theirs = await expectOneBubble(bob.page, "Hi Bob, it's Alice");
    assert.equal(await theirs.getAttribute("data-mine"), "false");
    await row(bob, id).getByTestId("unread-badge").waitFor({ state: "detached" });

    await sendMessage(bob, "Hello Alice! Multi\nline works too?");
    await expectOneBubble(alice.page, "Hello Alice! Multi\nline works too?");
    await expectOneBubble(bob.page, "Hello Alice! Multi\nline works too?");
    await sendMessage(alice, "It does 🎉");
    await expectOneBubble(bob.page, "It does 🎉");

    // Same messages, same seqs, same order on both sides.
    const aliceSeqs = await assertSeqsInOrder(alice);
    const bobSeqs = await assertSeqsInOrder(bob);
    assert.equal(aliceSeqs.length, 3);
    assert.deepEqual(aliceSeqs, bobSeqs);
    assertClean(alice, bob);
  });

  e2e("typing indicator shows while the other side types and clears", {}, async (t) => {
    const [alice, bob] = await people(t, "alice", "bob");
    const id = await startDirectChat(alice, bob);
    await sendMessage(alice, "ping"); // filling the box already sent a typing frame
    let lastTypingFrame = Date.now();
    await row(bob, id).waitFor();
    await openConversation(bob, id);
    await expectOneBubble(bob.page, "ping");
    const composer = alice.page.getByTestId("composer-input");
    // The client sends at most one typing frame per TYPING_THROTTLE_MS per conversation.
    const waitOutThrottle = () => alice.page.waitForTimeout(Math.max(0, lastTypingFrame + TYPING_THROTTLE_MS + 200 - Date.now()));

    const indicator = bob.page.getByTestId("typing-indicator");
    assert.equal(await indicator.count(), 0);
    await waitOutThrottle();
    lastTypingFrame = Date.now();
    await composer.pressSequentially("I am writing", { delay: 30 });
    await indicator.waitFor();
    assert.match(await indicator.textContent(), new RegExp(`${alice.displayName} is typing`));
    assert.equal(await bob.page.getByTestId("conversation-subtitle").textContent(), "typing…");
    assert.equal(await row(bob, id).getByTestId("conversation-preview").textContent(), "typing…");

    // Sending ends it at once (the message replaces the indicator).
    await composer.press("Enter");
    await expectOneBubble(bob.page, "I am writing");
    await indicator.waitFor({ state: "detached", timeout: 2_000 });
    assert.equal(await bob.page.getByTestId("conversation-subtitle").textContent(), "online");

    // Typing without sending: it expires on its own (the server says 6 s).
    await waitOutThrottle();
    await composer.pressSequentially("hm", { delay: 30 });
    await indicator.waitFor();
    const shown = Date.now();
    await indicator.waitFor({ state: "detached", timeout: 12_000 });
    const lasted = Date.now() - shown;
    t.diagnostic(`typing indicator expired after ${lasted} ms`);
    assert.ok(lasted > 3_000, `the indicator vanished too early (${lasted} ms)`);
    assert.equal(await bob.page.getByTestId("conversation-subtitle").textContent(), "online");
    assertClean(alice, bob);
  });

  e2e(
    "typing right after sending shows the indicator again",
    {},
    async (t) => {
      const [alice, bob] = await people(t, "alice", "bob");
      const id = await startDirectChat(alice, bob);
      await row(bob, id).waitFor();
      await openConversation(bob, id);
      await sendMessage(alice, "first"); // one typing frame, then the message
      await expectOneBubble(bob.page, "first");
      await alice.page.getByTestId("composer-input").pressSequentially("second", { delay: 30 });
      await bob.page.getByTestId("typing-indicator").waitFor({ timeout: 1_500 });
    },
  );

  e2e("ticks: sent while the peer is away, delivered when back, read when opened", {}, async (t) => {
    const [alice, bob] = await people(t, "alice", "bob");
    const id = await startDirectChat(alice, bob);
    await row(bob, id).waitFor();

    await goOffline(bob);
    await bob.page.getByTestId("reconnect-banner").waitFor();
    await sendMessage(alice, "Are you there?");
    await expectOneBubble(alice.page, "Are you there?");
    await expectAttr(tickOf(alice, "Are you there?"), "data-state", "sent");
    await alice.page.waitForTimeout(1_000);
    assert.equal(await tickOf(alice, "Are you there?").getAttribute("data-state"), "sent", "delivered to an offline peer");

    // Bob's device comes back with the chat closed: delivered, not read.
    await goOnline(bob);
    await bob.page.getByTestId("reconnect-banner").waitFor({ state: "hidden" });
    await expectAttr(tickOf(alice, "Are you there?"), "data-state", "delivered");
    await expectAttr(row(bob, id).getByTestId("unread-badge"), "aria-label", "1 unread");
    await alice.page.waitForTimeout(1_000);
    assert.equal(await tickOf(alice, "Are you there?").getAttribute("data-state"), "delivered", "read without being opened");

    await openConversation(bob, id);
    await expectOneBubble(bob.page, "Are you there?");
    await expectAttr(tickOf(alice, "Are you there?"), "data-state", "read");
    assert.equal(await bob.page.getByTestId("ticks").count(), 0, "ticks on someone else's message");

    // With the chat open on both sides, a new message goes straight to read.
    await sendMessage(alice, "Great, see you at 8");
    await expectOneBubble(bob.page, "Great, see you at 8");
    await expectAttr(tickOf(alice, "Great, see you at 8"), "data-state", "read");
    await sendMessage(bob, "👍 at 8");
    await expectOneBubble(alice.page, "👍 at 8");
    await expectAttr(tickOf(bob, "👍 at 8"), "data-state", "read");
    await alice.page.locator('[data-testid="ticks"][data-state="read"]').nth(1).waitFor();
    await screenshot(alice.page, "03-direct-chat-ticks.png");
    assertClean(alice, bob);
  });

  e2e("offline: messages sent meanwhile appear exactly once after reconnecting; the banner comes and goes", {}, async (t) => {
    const [alice, bob] = await people(t, "alice", "bob");
    const id = await startDirectChat(alice, bob);
    await sendMessage(alice, "before");
    await row(bob, id).waitFor();
    await openConversation(bob, id);
    await expectOneBubble(bob.page, "before");
    const banner = bob.page.getByTestId("reconnect-banner");
    assert.equal(await banner.count(), 0);

    await goOffline(bob);
    await banner.waitFor();
    assert.equal(await bob.page.evaluate(() => window.__e2eBannerShown), 1);
    assert.match(await banner.textContent(), /Reconnecting/);
    assert.equal(await openSocketCount(bob.page), 0);
    await screenshot(bob.page, "08-reconnect-banner.png");
    // Bob's only connection closed: Alice sees him go offline.
    await eventually(async () => /last seen/i.test(await alice.page.getByTestId("conversation-subtitle").textContent()), {
      message: "Alice still sees Bob online",
    });

    const fromAlice = ["while away 1", "while away 2", "while away 3"];
    for (const text of fromAlice) await sendMessage(alice, text);
    for (const text of fromAlice) await expectOneBubble(alice.page, text);
    const fromBob = ["queued offline 1", "queued offline 2"];
    for (const text of fromBob) await sendMessage(bob, text);
    await expectAttr(bob.page.getByTestId("message-pending").first(), "data-status", "pending");
    assert.equal(await bob.page.getByTestId("message-pending").count(), 2);

    // Really offline: nothing crossed in either direction.
    await bob.page.waitForTimeout(1_500);
    for (const text of fromAlice) assert.deepEqual(await countBubbles(bob.page, text), { stored: 0, pending: 0 });
    for (const text of fromBob) assert.deepEqual(await countBubbles(alice.page, text), { stored: 0, pending: 0 });
    await banner.waitFor(); // still away
    assert.equal(await bob.page.evaluate(() => window.__e2eBannerShown), 1, "the banner went away while offline");

    await goOnline(bob);
    await banner.waitFor({ state: "detached" });
    await eventually(async () => (await alice.page.getByTestId("conversation-subtitle").textContent()) === "online");
    for (const text of [...fromAlice, ...fromBob]) {
      await expectOneBubble(bob.page, text);
      await expectOneBubble(alice.page, text);
    }
    // Nothing arrives late as a second copy.
    await bob.page.waitForTimeout(1_000);
    for (const text of [...fromAlice, ...fromBob]) {
      assert.deepEqual(await countBubbles(bob.page, text), { stored: 1, pending: 0 }, `bob: ${text}`);
      assert.deepEqual(await countBubbles(alice.page, text), { stored: 1, pending: 0 }, `alice: ${text}`);
    }
    const bobSeqs = await assertSeqsInOrder(bob);
    assert.deepEqual(bobSeqs, await assertSeqsInOrder(alice));
    assert.equal(bobSeqs.length, 6);
    // Bob has the chat open: what came in while away is read, on both sides.
    await row(bob, id).getByTestId("unread-badge").waitFor({ state: "detached" });
    await expectAttr(tickOf(alice, "while away 3"), "data-state", "read");
    await expectAttr(tickOf(bob, "queued offline 2"), "data-state", "read");

    // A send whose answer is lost (the connection drops right after the frame went out) is
    // re-sent with the same client_id after the reconnect, and stored once.
    const before = bob.messageSent.length;
    await bob.page.evaluate(() => {
      window.__e2eDropAfterSend = true;
    });
    await sendMessage(bob, "answer lost");
    await expectOneBubble(bob.page, "answer lost", 15_000);
    await expectOneBubble(alice.page, "answer lost");
    await bob.page.waitForTimeout(1_000);
    assert.deepEqual(await countBubbles(bob.page, "answer lost"), { stored: 1, pending: 0 });
    assert.deepEqual(await countBubbles(alice.page, "answer lost"), { stored: 1, pending: 0 });
    const answers = bob.messageSent.slice(before).filter((frame) => frame.message.body === "answer lost");
    t.diagnostic(`answers seen for the re-sent message: ${JSON.stringify(answers.map((f) => ({ duplicate: f.duplicate, seq: f.message.seq })))}`);
    assert.ok(answers.length >= 1);
    assert.equal(new Set(answers.map((f) => f.message.id)).size, 1, "the re-send created a second message");
    assert.equal((await assertSeqsInOrder(alice)).length, 7);
    assertClean(alice, bob);
  });

  e2e("a network that dies silently is noticed by the heartbeat; nothing is lost or doubled", {}, async (t) => {
    const [alice, bob] = await people(t, "alice", "bob");
    const id = await startDirectChat(alice, bob);
    await sendMessage(alice, "still there?");
    await row(bob, id).waitFor();
    await openConversation(bob, id);
    await expectOneBubble(bob.page, "still there?");

    // Offline emulation alone: the open socket stays OPEN but carries nothing, like a dead
    // Wi-Fi. The client pings every 20 s and gives up 10 s after an unanswered ping.
    const stalledAt = Date.now();
    await stallNetwork(bob);
    await sendMessage(alice, "sent into the void");
    await expectOneBubble(alice.page, "sent into the void");
    await bob.page.waitForTimeout(1_000);
    assert.equal(await openSocketCount(bob.page), 1, "Chromium closed the socket on setOffline");
    assert.deepEqual(await countBubbles(bob.page, "sent into the void"), { stored: 0, pending: 0 }, "data crossed a stalled socket");
    await bob.page.getByTestId("reconnect-banner").waitFor({ timeout: HEARTBEAT_GIVE_UP_MS + 5_000 });
    t.diagnostic(`the client noticed the dead connection after ${Date.now() - stalledAt} ms`);
    await sendMessage(bob, "typed during the outage");
    await expectAttr(bob.page.getByTestId("message-pending"), "data-status", "pending");

    await goOnline(bob);
    await bob.page.getByTestId("reconnect-banner").waitFor({ state: "detached" });
    for (const text of ["sent into the void", "typed during the outage"]) {
      await expectOneBubble(bob.page, text);
      await expectOneBubble(alice.page, text);
    }
    await bob.page.waitForTimeout(1_000);
    for (const text of ["still there?", "sent into the void", "typed during the outage"]) {
      assert.deepEqual(await countBubbles(bob.page, text), { stored: 1, pending: 0 }, `bob: ${text}`);
      assert.deepEqual(await countBubbles(alice.page, text), { stored: 1, pending: 0 }, `alice: ${text}`);
    }
    assert.deepEqual(await assertSeqsInOrder(bob), await assertSeqsInOrder(alice));
    assertClean(alice, bob);
  });

  e2e("reload shows the history once, in order, and live messages keep coming", {}, async (t) => {
    const [alice, bob] = await people(t, "alice", "bob");
    const id = await startDirectChat(alice, bob);
    const texts = ["one", "two", "three", "four"];
    for (const text of texts) {
      await sendMessage(alice, text);
      await expectOneBubble(alice.page, text);
    }
    await row(bob, id).waitFor();
    await openConversation(bob, id);
    await sendMessage(bob, "five");
    await expectOneBubble(alice.page, "five");
    const expected = await assertSeqsInOrder(alice);
    assert.equal(expected.length, 5);

    for (const user of [alice, bob]) {
      await user.page.reload();
      await user.page.locator(`[data-testid="conversation-view"][data-conversation-id="${id}"]`).waitFor();
      await user.page.locator('[data-testid="message-list"][aria-busy="false"]').waitFor();
      for (const text of [...texts, "five"]) await expectOneBubble(user.page, text);
      assert.deepEqual(await assertSeqsInOrder(user), expected, `${user.username} after reload`);
      const order = await user.page
        .locator('[data-testid="message-body"]')
        .evaluateAll((nodes) => nodes.map((n) => n.textContent));
      assert.deepEqual(order, [...texts, "five"]);
    }
    await expectAttr(tickOf(alice, "four"), "data-state", "read");

    await sendMessage(bob, "after the reload");
    await expectOneBubble(alice.page, "after the reload");
    await alice.page.waitForTimeout(500);
    assert.deepEqual(await countBubbles(alice.page, "after the reload"), { stored: 1, pending: 0 });
    assertClean(alice, bob);
  });

  e2e("a group of three: everyone sees every message once", {}, async (t) => {
    const [alice, bob, carol] = await people(t, "alice", "bob", "carol");
    const title = "Book club";
    const id = await createGroup(alice, title, [bob, carol]);
    assert.equal(await alice.page.getByTestId("conversation-header-title").textContent(), title);
    await sendMessage(alice, "Welcome to the book club!");
    await expectOneBubble(alice.page, "Welcome to the book club!");

    for (const user of [bob, carol]) {
      await row(user, id).waitFor();
      assert.equal(await row(user, id).getAttribute("data-kind"), "group");
      assert.equal(await row(user, id).getByTestId("conversation-title").textContent(), title);
      await openConversation(user, id);
      const bubble = await expectOneBubble(user.page, "Welcome to the book club!");
      assert.match(await bubble.textContent(), new RegExp(alice.displayName), "sender name on a group message");
    }
    await sendMessage(bob, "Thanks! What are we reading?");
    await sendMessage(carol, "Dune, I hope");
    for (const user of [alice, bob, carol]) {
      for (const text of ["Welcome to the book club!", "Thanks! What are we reading?", "Dune, I hope"]) {
        await expectOneBubble(user.page, text);
      }
    }
    const seqs = await assertSeqsInOrder(alice);
    assert.deepEqual(await assertSeqsInOrder(bob), seqs);
    assert.deepEqual(await assertSeqsInOrder(carol), seqs);

    // Members in the subtitle; read by both once both have it open.
    const subtitle = await alice.page.getByTestId("conversation-subtitle").textContent();
    for (const name of [bob.displayName, carol.displayName, "You"]) assert.ok(subtitle.includes(name), subtitle);
    await expectAttr(tickOf(alice, "Welcome to the book club!"), "data-state", "read");
    await screenshot(carol.page, "04-group-chat.png");
    assertClean(alice, bob, carol);
  });

  e2e("markup in a message renders as text, never as HTML", {}, async (t) => {
    const [alice, bob] = await people(t, "alice", "bob");
    const id = await startDirectChat(alice, bob);
    const payloads = [
      "<img src=x onerror=alert(1)>",
      "<script>alert(2)</script>",
      "[click](javascript:alert(3)) javascript:alert(4)",
      '"><svg onload=alert(5)>',
    ];
    for (const text of payloads) await sendMessage(alice, text);
    await row(bob, id).waitFor();
    await openConversation(bob, id);
    for (const user of [alice, bob]) {
      for (const text of payloads) {
        const bubble = await expectOneBubble(user.page, text);
        assert.equal(await bubble.getByTestId("message-body").textContent(), text);
      }
      await user.page.getByText("<img src=x onerror=alert(1)>", { exact: true }).waitFor({ state: "visible" });
      const injected = await user.page.evaluate(() => ({
        imgX: document.querySelectorAll('img[src="x"]').length,
        imgsInLog: document.querySelectorAll('[data-testid="message-list"] img').length,
        scripts: document.querySelectorAll('[data-testid="message-list"] script, [data-testid="message-list"] svg[onload]').length,
        jsLinks: document.querySelectorAll('a[href^="javascript:"]').length,
      }));
      assert.deepEqual(injected, { imgX: 0, imgsInLog: 0, scripts: 0, jsLinks: 0 }, user.username);
    }
    assert.match(await row(bob, id).getByTestId("conversation-preview").textContent(), /svg onload/);
    // An onerror would have fired by now.
    await bob.page.waitForTimeout(1_000);
    assert.deepEqual(env.dialogs, []);
    assertClean(alice, bob);
  });

  e2e("phone width (360 px): one pane at a time, no sideways scrolling", {}, async (t) => {
    const [alice, bob] = await people(t, "alice", "bob");
    const id = await startDirectChat(alice, bob);
    await sendMessage(alice, "Checking how this looks on a phone. A longer line to see the bubble wrap nicely at 360 pixels.");
    const phone = track(t, await signInElsewhere(env, bob, { viewport: PHONE }));
    const { page } = phone;

    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await row(phone, id).waitFor();
    assert.equal(await overflow(), 0, "horizontal overflow on the list");
    assert.equal(await page.getByTestId("back-button").count(), 0);
    await screenshot(page, "05-phone-list.png");

    await row(phone, id).click();
    await page.getByTestId("conversation-view").waitFor();
    await expectOneBubble(page, "Checking how this looks on a phone. A longer line to see the bubble wrap nicely at 360 pixels.");
    assert.ok(await page.getByTestId("back-button").isVisible(), "back button on a phone");
    assert.equal(await row(phone, id).isVisible(), false, "the list stays visible next to the chat on a phone");
    await sendMessage(phone, "Replying from my phone");
    await expectOneBubble(alice.page, "Replying from my phone");
    await expectOneBubble(page, "Replying from my phone");
    // The other device of the same person sees it too, as its own.
    await openConversation(bob, id);
    const own = await expectOneBubble(bob.page, "Replying from my phone");
    assert.equal(await own.getAttribute("data-mine"), "true");

    assert.equal(await overflow(), 0, "horizontal overflow in the chat");
    const box = await page.getByTestId("composer-input").boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width && box.y + box.height <= PHONE.height, `composer off screen: ${JSON.stringify(box)}`);
    const send = await page.getByTestId("send-button").boundingBox();
    assert.ok(send && send.x + send.width <= PHONE.width, `send button off screen: ${JSON.stringify(send)}`);
    await screenshot(page, "06-phone-chat.png");

    await page.getByTestId("back-button").click();
    await row(phone, id).waitFor();
    assert.equal(await page.getByTestId("conversation-view").count(), 0);
    assertClean(alice, bob, phone);
  });

  e2e("dark theme: the toggle cycles system → light → dark and is remembered", {}, async (t) => {
    const [alice, bob] = await people(t, "alice", "bob");
    const id = await startDirectChat(alice, bob);
    await sendMessage(alice, "Lights off?");
    await row(bob, id).waitFor();
    await openConversation(bob, id);
    await sendMessage(bob, "Lights off.");
    await expectOneBubble(alice.page, "Lights off.");
    const { page } = alice;
    const toggle = page.getByTestId("theme-toggle");
    const isDark = () => page.evaluate(() => document.documentElement.classList.contains("dark"));

    const headerBackground = () =>
      page.getByTestId("conversation-view").evaluate((node) => getComputedStyle(node.querySelector("header")).backgroundColor);
    assert.equal(await toggle.getAttribute("title"), "Theme: system");
    assert.equal(await isDark(), false, "light system preference");
    const light = await headerBackground();
    await toggle.click();
    assert.equal(await toggle.getAttribute("title"), "Theme: light");
    await toggle.click();
    assert.equal(await toggle.getAttribute("title"), "Theme: dark");
    assert.equal(await isDark(), true);
    const dark = await headerBackground();
    t.diagnostic(`conversation header background: light ${light}, dark ${dark}`);
    assert.notEqual(dark, light);
    await expectAttr(tickOf(alice, "Lights off?"), "data-state", "read");
    await screenshot(page, "07-dark-theme.png");

    await page.reload();
    await page.getByTestId("conversation-view").waitFor();
    assert.equal(await isDark(), true, "dark theme forgotten on reload");
    await page.getByTestId("theme-toggle").click();
    assert.equal(await page.getByTestId("theme-toggle").getAttribute("title"), "Theme: system");
    assert.equal(await isDark(), false);

    // "system" follows the OS preference.
    await page.emulateMedia({ colorScheme: "dark" });
    await page.reload();
    await page.getByTestId("conversation-view").waitFor();
    assert.equal(await isDark(), true, "system theme does not follow prefers-color-scheme: dark");
    assertClean(alice, bob);
  });
});
