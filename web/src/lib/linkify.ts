// Message text → plain segments for React to render as text: http(s) URLs become links and
// @mentions are marked. Nothing here produces markup, so no message can inject any.

export type Segment =
  | { kind: "text"; text: string }
  | { kind: "link"; text: string; href: string }
  | { kind: "mention"; text: string; username: string };

const TOKEN = /(https?:\/\/[^\s<>"]+)|(@[a-z][a-z0-9_.]{2,31})/gi;
const TRAILING = /[.,!?;:'’)\]}]+$/;

export function linkify(text: string): Segment[] {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(TOKEN)) {
    const start = match.index;
    let token = match[0];
    if (match[1]) {
      // Keep a closing bracket that belongs to the URL (Wikipedia-style links), drop
      // sentence punctuation after it.
      let trimmed = token.replace(TRAILING, "");
      while (trimmed.length < token.length && token[trimmed.length] === ")" && count(trimmed, "(") > count(trimmed, ")")) {
        trimmed = token.slice(0, trimmed.length + 1);
      }
      token = trimmed;
      const href = safeHref(token);
      if (!href) continue;
      if (start > last) segments.push({ kind: "text", text: text.slice(last, start) });
      segments.push({ kind: "link", text: token, href });
    } else {
      const before = start > 0 ? text[start - 1]! : " ";
      if (/[\w@.]/.test(before)) continue; // part of an email address or a word
      token = token.replace(/\.+$/, "");
      if (start > last) segments.push({ kind: "text", text: text.slice(last, start) });
      segments.push({ kind: "mention", text: token, username: token.slice(1).toLowerCase() });
    }
    last = start + token.length;
  }
  if (last < text.length) segments.push({ kind: "text", text: text.slice(last) });
  return segments;
}

/** The URL if it is a well-formed http(s) URL, else null (no `javascript:`, `data:`, …). */
export function safeHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function count(text: string, char: string): number {
  let n = 0;
  for (const c of text) if (c === char) n++;
  return n;
}
