// Where the meeting's tiles go, as pure functions of the roster, the speakers, the user's
// choices and the measured size of the stage: one tile per participant plus one per screen
// share; an auto-sized grid of up to 49 tiles a page (pages beyond), or one large tile (a
// screen share, the pinned tile, or the active speaker) with the rest in a strip beside it;
// and what to tell the SFU about each video (`meeting_view`: off-screen tiles paused, small
// tiles on a low simulcast layer). No DOM: the component measures, this decides.
import type { MeetingParticipantView } from "@proto";
import type { MeetingState } from "./meetingState";

/** Tiles are 16:9, like cameras and most screens. */
export const TILE_ASPECT = 16 / 9;
export const TILE_GAP = 8;
/** A grid tile is never narrower than this: more people go to further pages. */
export const MIN_TILE_WIDTH = 160;
export const MAX_TILES_PER_PAGE = 49;

export interface Tile {
  /** Stable key: the session id for a person, `<session id>~screen` for a screen share. */
  key: string;
  kind: "camera" | "screen";
  sessionId: string;
  userId: string;
  name: string;
  self: boolean;
  /** The stream the SFU sends (the roster's `stream_id`); null while it publishes none. */
  streamId: string | null;
  audioMuted: boolean;
  videoMuted: boolean;
  handRaised: boolean;
  /** A host of the meeting (the conversation's admins). */
  host: boolean;
}

export type TileSize = "small" | "medium" | "large";

/** Simulcast layer for a tile this many CSS pixels wide: small → 0, medium → 1, large → 2. */
export function sizeOfWidth(width: number): TileSize {
  if (width < 320) return "small";
  if (width < 640) return "medium";
  return "large";
}

export function layerOfSize(size: TileSize): 0 | 1 | 2 {
  return size === "small" ? 0 : size === "medium" ? 1 : 2;
}

export const screenKey = (sessionId: string) => `${sessionId}~screen`;

/**
 * The tiles of a roster: people in joining order (this tab first, like a mirror), then
 * screen shares in the order they started (the roster lists streams sorted by id, and
 * session ids grow with time, so joining order stands in for it).
 */
export function tilesOf(roster: MeetingParticipantView[], selfSessionId: string | null): { people: Tile[]; screens: Tile[] } {
  const people: Tile[] = [];
  const screens: Tile[] = [];
  for (const p of roster) {
    const self = p.session_id === selfSessionId;
    const camera = p.streams.find((s) => s.source === "camera");
    const base = {
      sessionId: p.session_id,
      userId: p.user_id,
      name: p.display_name,
      self,
      audioMuted: p.audio_muted,
      handRaised: p.hand_raised,
      host: p.host,
    };
    const person: Tile = { ...base, key: p.session_id, kind: "camera", streamId: camera?.stream_id ?? null, videoMuted: p.video_muted };
    if (self) people.unshift(person);
    else people.push(person);
    for (const stream of p.streams) {
      if (stream.source !== "screen_share") continue;
      screens.push({ ...base, key: screenKey(p.session_id), kind: "screen", streamId: stream.stream_id, videoMuted: false });
    }
  }
  return { people, screens };
}

export interface GridShape {
  cols: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
}

/** The columns and rows that make `n` 16:9 tiles as large as possible in `width` × `height`. */
export function gridShape(n: number, width: number, height: number, gap = TILE_GAP): GridShape {
  const count = Math.max(1, n);
  let best: GridShape = { cols: 1, rows: count, tileWidth: 0, tileHeight: 0 };
  for (let cols = 1; cols <= count; cols++) {
    const rows = Math.ceil(count / cols);
    const byWidth = (width - gap * (cols - 1)) / cols;
    const byHeight = ((height - gap * (rows - 1)) / rows) * TILE_ASPECT;
    const tileWidth = Math.max(0, Math.min(byWidth, byHeight));
    // On a tie, more columns: side by side fills a landscape stage better.
    if (tileWidth >= best.tileWidth - 0.5) best = { cols, rows, tileWidth, tileHeight: tileWidth / TILE_ASPECT };
  }
  return { ...best, tileWidth: Math.floor(best.tileWidth), tileHeight: Math.floor(best.tileHeight) };
}

/** How many tiles of at least MIN_TILE_WIDTH fit, within the user's cap and 1…49. */
export function gridCapacity(width: number, height: number, maxTiles = MAX_TILES_PER_PAGE, minWidth = MIN_TILE_WIDTH): number {
  const cap = Math.max(1, Math.min(MAX_TILES_PER_PAGE, maxTiles));
  const cols = Math.max(1, Math.floor((width + TILE_GAP) / (minWidth + TILE_GAP)));
  const rows = Math.max(1, Math.floor((height + TILE_GAP) / (minWidth / TILE_ASPECT + TILE_GAP)));
  return Math.max(1, Math.min(cap, cols * rows));
}

/** Splits `items` into pages of `perPage`; `page` is clamped to the pages that exist. */
export function paginate<T>(items: T[], perPage: number, page: number): { items: T[]; page: number; pages: number } {
  const size = Math.max(1, perPage);
  const pages = Math.max(1, Math.ceil(items.length / size));
  const current = Math.min(Math.max(0, page), pages - 1);
  return { items: items.slice(current * size, current * size + size), page: current, pages };
}

/**
 * People in page order: the dominant speaker is brought onto the first page when the
 * pages would hide them (it takes the first page's last place), as Meet does.
 */
export function orderPeople(people: Tile[], dominant: string | null, perPage: number): Tile[] {
  if (!dominant) return people;
  const index = people.findIndex((t) => t.sessionId === dominant);
  if (index < perPage || perPage < 1) return people;
  const ordered = [...people];
  const [speaker] = ordered.splice(index, 1);
  ordered.splice(Math.max(0, perPage - 1), 0, speaker!);
  return ordered;
}

export type LayoutMode = "grid" | "speaker" | "presentation";

export interface Arrangement {
  mode: LayoutMode;
  /** The large tile (speaker and presentation), else null. */
  main: Tile | null;
  /** The grid's tiles, or the strip's beside the large tile, of the current page. */
  tiles: Tile[];
  /** Grid: the grid of `tiles`; with a large tile: one column (or row) of strip tiles. */
  shape: GridShape;
  /** The large tile's box. */
  mainWidth: number;
  mainHeight: number;
  /** Where the strip goes when there is a large tile. */
  strip: "side" | "bottom" | null;
  page: number;
  pages: number;
  /** Every tile not on screen now (other pages). */
  hidden: Tile[];
}

export interface ArrangeInput {
  people: Tile[];
  screens: Tile[];
  layout: MeetingState["layout"];
  pinned: string | null;
  dominant: string | null;
  page: number;
  maxTiles: number;
  width: number;
  height: number;
}

/** Narrower stages put the strip under the large tile. */
const SIDE_STRIP_MIN_WIDTH = 700;

export function arrange(input: ArrangeInput): Arrangement {
  const { people, screens, width, height } = input;
  const all = [...people, ...screens];
  const pinned = input.pinned ? (all.find((t) => t.key === input.pinned) ?? null) : null;
  // The newest screen share is what everyone wants to see.
  const presenting = screens.length > 0 ? screens[screens.length - 1]! : null;
  const others = people.filter((t) => !t.self);
  const speakerTile =
    (input.dominant ? people.find((t) => t.sessionId === input.dominant && !t.self) : undefined) ?? others[0] ?? null;
  const main = pinned ?? presenting ?? (input.layout === "speaker" ? speakerTile : null);

  if (!main || all.length < 2) {
    const perPage = gridCapacity(width, height, input.maxTiles);
    const ordered = orderPeople(all, input.dominant, perPage);
    const { items, page, pages } = paginate(ordered, perPage, input.page);
    const shown = new Set(items.map((t) => t.key));
    return {
      mode: "grid",
      main: null,
      tiles: items,
      shape: gridShape(items.length, width, height),
      mainWidth: 0,
      mainHeight: 0,
      strip: null,
      page,
      pages,
      hidden: all.filter((t) => !shown.has(t.key)),
    };
  }

  const rest = [...screens.filter((t) => t.key !== main.key), ...people.filter((t) => t.key !== main.key)];
  const side = width >= SIDE_STRIP_MIN_WIDTH;
  let stripTileWidth: number;
  let perPage: number;
  let mainWidth: number;
  let mainHeight: number;
  if (side) {
    stripTileWidth = Math.round(Math.min(280, Math.max(160, width * 0.2)));
    const stripTileHeight = stripTileWidth / TILE_ASPECT;
    perPage = Math.max(1, Math.floor((height + TILE_GAP) / (stripTileHeight + TILE_GAP)));
    mainWidth = rest.length ? width - stripTileWidth - TILE_GAP : width;
    mainHeight = height;
  } else {
    const stripHeight = Math.round(Math.min(140, Math.max(72, height * 0.22)));
    stripTileWidth = Math.round(stripHeight * TILE_ASPECT);
    perPage = Math.max(1, Math.floor((width + TILE_GAP) / (stripTileWidth + TILE_GAP)));
    mainWidth = width;
    mainHeight = rest.length ? height - stripHeight - TILE_GAP : height;
  }
  perPage = Math.min(perPage, MAX_TILES_PER_PAGE, Math.max(1, input.maxTiles));
  const ordered = orderPeople(rest, input.dominant, perPage);
  const { items, page, pages } = paginate(ordered, perPage, input.page);
  const shown = new Set([main.key, ...items.map((t) => t.key)]);
  const stripTileHeight = Math.floor(stripTileWidth / TILE_ASPECT);
  return {
    mode: presenting && main.key === presenting.key ? "presentation" : "speaker",
    main,
    tiles: items,
    shape: side
      ? { cols: 1, rows: items.length, tileWidth: stripTileWidth, tileHeight: stripTileHeight }
      : { cols: items.length, rows: 1, tileWidth: stripTileWidth, tileHeight: stripTileHeight },
    mainWidth: Math.floor(mainWidth),
    mainHeight: Math.floor(mainHeight),
    strip: items.length ? (side ? "side" : "bottom") : null,
    page,
    pages,
    hidden: all.filter((t) => !shown.has(t.key)),
  };
}

/** The size class of each tile on screen (the large tile is always large). */
export function tileSizes(arrangement: Arrangement): Map<string, TileSize> {
  const sizes = new Map<string, TileSize>();
  if (arrangement.main) sizes.set(arrangement.main.key, "large");
  for (const tile of arrangement.tiles) sizes.set(tile.key, sizeOfWidth(arrangement.shape.tileWidth));
  return sizes;
}

export interface ViewPreference {
  visible: boolean;
  maxLayer: 0 | 1 | 2;
}

/**
 * What to tell the SFU about every video we could receive (other people's cameras and
 * screens): on screen, with the layer its size deserves; off screen (other pages),
 * paused. Our own streams are never received and get no preference.
 */
export function viewPreferences(arrangement: Arrangement): Map<string, ViewPreference> {
  const prefs = new Map<string, ViewPreference>();
  const sizes = tileSizes(arrangement);
  const shown = [...(arrangement.main ? [arrangement.main] : []), ...arrangement.tiles];
  for (const tile of shown) {
    if (tile.self || !tile.streamId) continue;
    prefs.set(tile.streamId, { visible: true, maxLayer: layerOfSize(sizes.get(tile.key) ?? "small") });
  }
  for (const tile of arrangement.hidden) {
    if (tile.self || !tile.streamId || prefs.has(tile.streamId)) continue;
    prefs.set(tile.streamId, { visible: false, maxLayer: 0 });
  }
  return prefs;
}

/** The `meeting_view` frames that bring the SFU from `sent` to `wanted` (changes only). */
export function viewChanges(
  sent: ReadonlyMap<string, ViewPreference>,
  wanted: ReadonlyMap<string, ViewPreference>,
): { streamId: string; visible: boolean; maxLayer: 0 | 1 | 2 }[] {
  const changes: { streamId: string; visible: boolean; maxLayer: 0 | 1 | 2 }[] = [];
  for (const [streamId, pref] of wanted) {
    const before = sent.get(streamId);
    if (before && before.visible === pref.visible && before.maxLayer === pref.maxLayer) continue;
    changes.push({ streamId, visible: pref.visible, maxLayer: pref.maxLayer });
  }
  return changes;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Where each tile on screen goes, in the stage's pixels. Every tile is positioned in one
 * container, so a tile that moves (grid → strip when someone presents) keeps its video
 * element and its last frame instead of starting over black. Grid rows are centred (the
 * last one too); the strip is centred beside or under the large tile; a large camera is
 * 16:9 in the middle of its box, a large screen gets the whole box (shown whole inside).
 */
export function tileBoxes(arrangement: Arrangement, width: number, height: number): Map<string, Box> {
  const boxes = new Map<string, Box>();
  const { shape, tiles } = arrangement;
  if (!arrangement.main) {
    const rows = Math.ceil(tiles.length / Math.max(1, shape.cols));
    const totalHeight = rows * shape.tileHeight + (rows - 1) * TILE_GAP;
    const top = Math.max(0, (height - totalHeight) / 2);
    tiles.forEach((tile, index) => {
      const row = Math.floor(index / shape.cols);
      const inRow = Math.min(shape.cols, tiles.length - row * shape.cols);
      const rowWidth = inRow * shape.tileWidth + (inRow - 1) * TILE_GAP;
      const column = index - row * shape.cols;
      boxes.set(tile.key, {
        x: Math.round((width - rowWidth) / 2 + column * (shape.tileWidth + TILE_GAP)),
        y: Math.round(top + row * (shape.tileHeight + TILE_GAP)),
        width: shape.tileWidth,
        height: shape.tileHeight,
      });
    });
    return boxes;
  }
  const main = arrangement.main;
  const area = { x: 0, y: 0, width: arrangement.mainWidth, height: arrangement.mainHeight };
  if (main.kind === "screen") {
    boxes.set(main.key, area);
  } else {
    const fitWidth = Math.min(area.width, area.height * TILE_ASPECT);
    const fitHeight = fitWidth / TILE_ASPECT;
    boxes.set(main.key, {
      x: Math.round((area.width - fitWidth) / 2),
      y: Math.round((area.height - fitHeight) / 2),
      width: Math.floor(fitWidth),
      height: Math.floor(fitHeight),
    });
  }
  const count = tiles.length;
  if (arrangement.strip === "side") {
    const total = count * shape.tileHeight + (count - 1) * TILE_GAP;
    const top = Math.max(0, (height - total) / 2);
    tiles.forEach((tile, index) =>
      boxes.set(tile.key, {
        x: width - shape.tileWidth,
        y: Math.round(top + index * (shape.tileHeight + TILE_GAP)),
        width: shape.tileWidth,
        height: shape.tileHeight,
      }),
    );
  } else if (arrangement.strip === "bottom") {
    const total = count * shape.tileWidth + (count - 1) * TILE_GAP;
    const left = Math.max(0, (width - total) / 2);
    tiles.forEach((tile, index) =>
      boxes.set(tile.key, {
        x: Math.round(left + index * (shape.tileWidth + TILE_GAP)),
        y: height - shape.tileHeight,
        width: shape.tileWidth,
        height: shape.tileHeight,
      }),
    );
  }
  return boxes;
}
