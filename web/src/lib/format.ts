// Dates and names as people read them, in the browser's locale.

const time = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "long" });
const shortDate = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const longDate = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" });

export function clockTime(iso: string): string {
  return time.format(new Date(iso));
}

function startOfDay(date: Date): number {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** Days between two instants' calendar days (local time). */
export function dayDistance(iso: string, now: Date): number {
  return Math.round((startOfDay(now) - startOfDay(new Date(iso))) / 86_400_000);
}

/** "Today", "Yesterday", a weekday within the week, else a date: for day separators. */
export function dayLabel(iso: string, now: Date = new Date()): string {
  const days = dayDistance(iso, now);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days > 1 && days < 7) return weekday.format(new Date(iso));
  return longDate.format(new Date(iso));
}

/** A list row's time: the clock today, "Yesterday", a weekday, else a short date. */
export function listTime(iso: string, now: Date = new Date()): string {
  const days = dayDistance(iso, now);
  if (days === 0) return clockTime(iso);
  if (days === 1) return "Yesterday";
  if (days > 1 && days < 7) return weekday.format(new Date(iso));
  return shortDate.format(new Date(iso));
}

export function sameDay(a: string, b: string): boolean {
  return startOfDay(new Date(a)) === startOfDay(new Date(b));
}

/** "last seen 5 minutes ago" style text. */
export function lastSeen(iso: string | null, now: Date = new Date()): string {
  if (!iso) return "offline";
  const minutes = Math.round((now.getTime() - new Date(iso).getTime()) / 60_000);
  if (minutes < 1) return "last seen just now";
  if (minutes < 60) return `last seen ${minutes} min ago`;
  if (dayDistance(iso, now) === 0) return `last seen today at ${clockTime(iso)}`;
  if (dayDistance(iso, now) === 1) return `last seen yesterday at ${clockTime(iso)}`;
  return `last seen ${shortDate.format(new Date(iso))}`;
}

/** Up to two initials for an avatar. */
export function initials(name: string): string {
  const words = name.trim().split(/[\s._-]+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]![0], words[words.length - 1]![0]] : [...(words[0] ?? "?")].slice(0, 2);
  return letters.join("").toUpperCase();
}

/** A stable hue per id, for avatar colours and sender names. */
export function hueOf(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  return Math.abs(hash) % 360;
}

export function minutesText(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}
