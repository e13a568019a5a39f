import { describe, expect, it } from "vitest";
import { participant } from "./fixtures";
import {
  type ArrangeInput,
  MAX_TILES_PER_PAGE,
  type ViewPreference,
  arrange,
  gridCapacity,
  gridShape,
  orderPeople,
  paginate,
  sizeOfWidth,
  tileBoxes,
  tileSizes,
  tilesOf,
  viewChanges,
  viewPreferences,
} from "./meetingLayout";

const session = (n: number) => `0196d100-0000-7000-8000-${String(n).padStart(12, "0")}`;
const ME = session(0);

/** A roster of `n` people (me first), everyone with a camera. */
function roster(n: number, screens: number[] = []) {
  return Array.from({ length: n }, (_, i) =>
    participant(session(i), {
      streams: [
        { stream_id: session(i), source: "camera" as const },
        ...(screens.includes(i) ? [{ stream_id: `${session(i)}~screen`, source: "screen_share" as const }] : []),
      ],
    }),
  );
}

function input(n: number, overrides: Partial<ArrangeInput> = {}, screens: number[] = []): ArrangeInput {
  const { people, screens: shares } = tilesOf(roster(n, screens), ME);
  return { people, screens: shares, layout: "grid", pinned: null, dominant: null, page: 0, maxTiles: 49, width: 1280, height: 720, ...overrides };
}

describe("tiles", () => {
  it("one per person (me first) and one per screen share; camera-off people have no stream", () => {
    const list = [
      participant(session(1), { streams: [], video_muted: true }),
      participant(ME),
      participant(session(2), { streams: [{ stream_id: `${session(2)}~screen`, source: "screen_share" }] }),
    ];
    const { people, screens } = tilesOf(list, ME);
    expect(people.map((t) => [t.key, t.self, t.streamId])).toEqual([
      [ME, true, ME],
      [session(1), false, null],
      [session(2), false, null],
    ]);
    expect(people[1]!.videoMuted).toBe(true);
    expect(screens.map((t) => [t.key, t.kind, t.streamId])).toEqual([[`${session(2)}~screen`, "screen", `${session(2)}~screen`]]);
  });
});

describe("grid", () => {
  it("picks the shape that makes the tiles largest", () => {
    expect(gridShape(1, 1280, 720, 0)).toEqual({ cols: 1, rows: 1, tileWidth: 1280, tileHeight: 720 });
    expect(gridShape(2, 1280, 720, 0)).toMatchObject({ cols: 2, rows: 1, tileWidth: 640 });
    // A tall phone stacks two people.
    expect(gridShape(2, 360, 640, 0)).toMatchObject({ cols: 1, rows: 2, tileWidth: 360 });
    expect(gridShape(4, 1280, 720, 0)).toMatchObject({ cols: 2, rows: 2, tileWidth: 640 });
    expect(gridShape(9, 1280, 720, 0)).toMatchObject({ cols: 3, rows: 3 });
    const shape = gridShape(49, 1600, 900);
    expect(shape.cols * shape.rows).toBeGreaterThanOrEqual(49);
    expect(shape.cols).toBe(7);
  });

  it("fits 1 to 49 tiles a page, fewer on small screens or by the user's choice", () => {
    expect(gridCapacity(1920, 1080)).toBe(MAX_TILES_PER_PAGE);
    expect(gridCapacity(1280, 650)).toBe(42);
    expect(gridCapacity(360, 600)).toBe(12);
    expect(gridCapacity(100, 50)).toBe(1);
    expect(gridCapacity(1920, 1080, 9)).toBe(9);
  });

  it("pages people and clamps the page to the last one", () => {
    expect(paginate([1, 2, 3, 4, 5], 2, 1)).toEqual({ items: [3, 4], page: 1, pages: 3 });
    expect(paginate([1, 2, 3, 4, 5], 2, 9)).toEqual({ items: [5], page: 2, pages: 3 });
    expect(paginate([], 2, 0)).toEqual({ items: [], page: 0, pages: 1 });
  });

  it("brings the active speaker onto the first page", () => {
    const { people } = tilesOf(roster(6), ME);
    const ordered = orderPeople(people, session(5), 4);
    expect(ordered.slice(0, 4).map((t) => t.sessionId)).toEqual([ME, session(1), session(2), session(5)]);
    expect(orderPeople(people, session(2), 4)).toBe(people);
  });

  it("shows three people on two rows of medium tiles (larger than one row of three)", () => {
    const arrangement = arrange(input(3));
    expect(arrangement.mode).toBe("grid");
    expect(arrangement.tiles).toHaveLength(3);
    expect(arrangement.pages).toBe(1);
    expect(arrangement.shape).toMatchObject({ cols: 2, rows: 2 });
    expect(sizeOfWidth(arrangement.shape.tileWidth)).toBe("medium");
  });

  it("puts 60 people on two pages of 49 on a large screen, the rest hidden", () => {
    const first = arrange(input(60, { width: 1920, height: 1080 }));
    expect(first.tiles).toHaveLength(49);
    expect(first.pages).toBe(2);
    expect(first.hidden).toHaveLength(11);
    const second = arrange(input(60, { width: 1920, height: 1080, page: 1 }));
    expect(second.tiles).toHaveLength(11);
    expect(second.page).toBe(1);
  });
});

describe("a large tile with a strip beside it", () => {
  it("shows the newest screen share large, everyone else beside it", () => {
    const arrangement = arrange(input(3, {}, [1]));
    expect(arrangement.mode).toBe("presentation");
    expect(arrangement.main?.key).toBe(`${session(1)}~screen`);
    expect(arrangement.strip).toBe("side");
    expect(arrangement.tiles.map((t) => t.key)).toEqual([ME, session(1), session(2)]);
    expect(arrangement.mainWidth).toBeGreaterThan(arrangement.shape.tileWidth * 3);
  });

  it("puts the strip under the share on a narrow screen", () => {
    const arrangement = arrange(input(3, { width: 400, height: 700 }, [1]));
    expect(arrangement.strip).toBe("bottom");
    expect(arrangement.mainHeight).toBeLessThan(700);
  });

  it("speaker layout: the dominant speaker large (never me), else the first other person", () => {
    expect(arrange(input(3, { layout: "speaker", dominant: session(2) })).main?.key).toBe(session(2));
    expect(arrange(input(3, { layout: "speaker", dominant: ME })).main?.key).toBe(session(1));
    expect(arrange(input(3, { layout: "speaker" })).mode).toBe("speaker");
  });

  it("a pinned tile wins over the screen share and the speaker", () => {
    const arrangement = arrange(input(3, { pinned: session(2), dominant: session(1) }, [1]));
    expect(arrangement.mode).toBe("speaker");
    expect(arrangement.main?.key).toBe(session(2));
    expect(arrangement.tiles.map((t) => t.key)).toContain(`${session(1)}~screen`);
  });

  it("alone in the meeting: just me, in the grid", () => {
    const arrangement = arrange(input(1, { layout: "speaker" }));
    expect(arrangement.mode).toBe("grid");
    expect(arrangement.tiles.map((t) => t.key)).toEqual([ME]);
  });

  it("pages the strip too", () => {
    const arrangement = arrange(input(20, { height: 720 }, [1]));
    expect(arrangement.pages).toBeGreaterThan(1);
    expect(arrangement.tiles.length).toBeLessThan(20);
  });
});

describe("what the SFU is told", () => {
  it("visible tiles get a layer by size, off-page tiles are paused, my own streams nothing", () => {
    const arrangement = arrange(input(60, { width: 1920, height: 1080 }));
    const prefs = viewPreferences(arrangement);
    expect(prefs.has(ME)).toBe(false);
    expect(prefs.get(session(1))).toEqual({ visible: true, maxLayer: 0 });
    expect(prefs.get(session(59))).toEqual({ visible: false, maxLayer: 0 });
    expect([...prefs.values()].filter((p) => p.visible)).toHaveLength(48);
  });

  it("the screen share and the speaker are large (layer 2), the strip small", () => {
    const presentation = viewPreferences(arrange(input(3, {}, [1])));
    expect(presentation.get(`${session(1)}~screen`)).toEqual({ visible: true, maxLayer: 2 });
    expect(presentation.get(session(2))).toEqual({ visible: true, maxLayer: 0 });
    const speaker = viewPreferences(arrange(input(3, { layout: "speaker", dominant: session(2) })));
    expect(speaker.get(session(2))).toEqual({ visible: true, maxLayer: 2 });
    const two = viewPreferences(arrange(input(2)));
    expect(two.get(session(1))).toEqual({ visible: true, maxLayer: 1 });
  });

  it("sizes: small under 320 px, medium under 640 px, large from there", () => {
    expect(sizeOfWidth(200)).toBe("small");
    expect(sizeOfWidth(320)).toBe("medium");
    expect(sizeOfWidth(639)).toBe("medium");
    expect(sizeOfWidth(640)).toBe("large");
    const arrangement = arrange(input(2, { width: 1400 }));
    expect([...tileSizes(arrangement).values()]).toEqual(["large", "large"]);
  });

  it("sends only what changed", () => {
    const sent = new Map<string, ViewPreference>([
      ["a", { visible: true, maxLayer: 1 }],
      ["b", { visible: true, maxLayer: 2 }],
    ]);
    const wanted = new Map<string, ViewPreference>([
      ["a", { visible: true, maxLayer: 1 }],
      ["b", { visible: false, maxLayer: 0 }],
      ["c", { visible: true, maxLayer: 0 }],
    ]);
    expect(viewChanges(sent, wanted)).toEqual([
      { streamId: "b", visible: false, maxLayer: 0 },
      { streamId: "c", visible: true, maxLayer: 0 },
    ]);
    expect(viewChanges(wanted, wanted)).toEqual([]);
  });
});

describe("where tiles go", () => {
  it("centres grid rows, the last one too, within the stage", () => {
    const arrangement = arrange(input(3));
    const boxes = tileBoxes(arrangement, 1280, 720);
    const [a, b, c] = arrangement.tiles.map((t) => boxes.get(t.key)!);
    expect(a!.y).toBe(b!.y);
    expect(c!.y).toBeGreaterThan(a!.y);
    // The third tile sits in the middle of its row.
    expect(Math.abs(c!.x + c!.width / 2 - 640)).toBeLessThanOrEqual(1);
    for (const box of boxes.values()) {
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(1280);
      expect(box.y + box.height).toBeLessThanOrEqual(720);
    }
  });

  it("gives a screen share its whole box and puts the strip at the right edge", () => {
    const arrangement = arrange(input(3, {}, [1]));
    const boxes = tileBoxes(arrangement, 1280, 720);
    expect(boxes.get(`${session(1)}~screen`)).toEqual({ x: 0, y: 0, width: arrangement.mainWidth, height: 720 });
    for (const tile of arrangement.tiles) expect(boxes.get(tile.key)!.x + arrangement.shape.tileWidth).toBe(1280);
  });

  it("keeps a large camera 16:9, centred", () => {
    const arrangement = arrange(input(2, { layout: "speaker", width: 1280, height: 900 }));
    const box = tileBoxes(arrangement, 1280, 900).get(session(1))!;
    expect(Math.abs(box.width / box.height - 16 / 9)).toBeLessThan(0.01);
    expect(box.y).toBeGreaterThan(0);
  });
});
