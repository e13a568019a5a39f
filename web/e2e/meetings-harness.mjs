// Meeting-specific pieces of the end-to-end harness (harness.mjs has the server, the
// browser and the users): getStats() readings of the meeting test hook
// (window.__conveneMeeting) that prove each publisher's video is decoded.
import { eventually } from "./harness.mjs";

/**
 * Frames decoded per received video stream (stream id: the publisher's session id, or
 * `<session id>~screen`), from each receiver's getStats().
 */
export async function decodedByStream(page) {
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

/** Everything getStats() says about each received video (for a failure's message). */
export async function inboundDetails(page) {
  return page.evaluate(async () => {
    const m = window.__conveneMeeting;
    const out = {};
    if (!m?.sub || !m.peers) return out;
    for (const [id, stream] of m.peers.streams) {
      out[id] = [];
      for (const track of stream.getVideoTracks()) {
        const receiver = m.sub.getReceivers().find((r) => r.track === track);
        const entry = { muted: track.muted, state: track.readyState };
        if (receiver) {
          (await receiver.getStats()).forEach((v) => {
            if (v.type !== "inbound-rtp") return;
            Object.assign(entry, {
              packets: v.packetsReceived,
              lost: v.packetsLost,
              framesReceived: v.framesReceived,
              decoded: v.framesDecoded,
              keyframes: v.keyFramesDecoded,
              plis: v.pliCount,
              width: v.frameWidth,
            });
          });
        }
        out[id].push(entry);
      }
    }
    return out;
  });
}

/** The user's own session id in the meeting on screen. */
export async function sessionOf(user) {
  return eventually(async () => (await user.page.getByTestId("meeting-stage").getAttribute("data-session-id")) || null, { timeout: 15_000 });
}

/** Waits until `user` decodes video from each of `streams` (more than `after[id]` frames). */
export async function expectDecoding(user, streams, { timeout = 20_000, after = {} } = {}) {
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
    const details = await inboundDetails(user.page).catch(() => ({}));
    const views = await user.page.evaluate(() => window.__conveneMeeting?.views).catch(() => null);
    throw new Error(
      `${user.username} does not decode ${JSON.stringify(streams)}: ${JSON.stringify(seen)}; inbound ${JSON.stringify(details)}; views sent ${JSON.stringify(views)}`,
    );
  }
  return seen;
}
