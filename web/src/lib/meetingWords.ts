// The meeting's words: why we are out of it, who raised a hand. Pure, tested with the
// reducer (meetingState.test.ts).
import type { MeetingPhase } from "./meetingState";

/** The sentence for the "you left" screen. The SFU's reasons are short lowercase phrases
 * ("the media connection failed"); a failed join carries the server's own sentence. */
export function leftText(phase: Extract<MeetingPhase, { kind: "left" }>): string {
  const reason = phase.reason.trim();
  if (phase.byUser || reason === "left") return "You left the meeting.";
  if (reason === "the media connection failed") return "The connection to the meeting's audio and video was lost.";
  if (reason === "the media server is shutting down") return "The media server is restarting. Rejoin in a moment.";
  if (reason.startsWith("negotiation failed")) return "The meeting's audio and video could not be set up.";
  if (reason === "a host removed you from the meeting") return "You were removed from the meeting.";
  if (reason === "a host did not let you in") return "A host did not let you in.";
  if (reason === "a host ended the meeting for everyone") return "A host ended the meeting for everyone.";
  if (!reason) return "You are no longer in the meeting.";
  const sentence = reason[0]!.toUpperCase() + reason.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

/** "Ada", "Ada and Bo", "Ada, Bo and 3 others": who raised a hand, for the banner. */
export function raisedHandsText(names: string[]): string | null {
  if (names.length === 0) return null;
  if (names.length === 1) return `${names[0]} raised a hand`;
  if (names.length === 2) return `${names[0]} and ${names[1]} raised a hand`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} other${names.length === 3 ? "" : "s"} raised a hand`;
}
