import { describe, expect, it } from "vitest";
import { authErrors } from "../components/AuthScreen";
import { mentionQuery } from "../components/Composer";
import { ApiError } from "./api";
import { dayLabel, initials, minutesText } from "./format";
import { EMOJI, searchEmoji } from "./emoji";
import { newClientId } from "./ids";

describe("formatting", () => {
  it("labels days like a chat app", () => {
    const now = new Date(2026, 10, 22, 15, 0);
    expect(dayLabel(new Date(2026, 10, 22, 9, 0).toISOString(), now)).toBe("Today");
    expect(dayLabel(new Date(2026, 10, 21, 23, 0).toISOString(), now)).toBe("Yesterday");
    expect(dayLabel(new Date(2026, 9, 1, 12, 0).toISOString(), now)).toMatch(/2026/);
  });

  it("makes initials", () => {
    expect(initials("Alice Liddell")).toBe("AL");
    expect(initials("bob")).toBe("BO");
    expect(initials("  ")).toBe("?");
  });

  it("says how long to wait", () => {
    expect(minutesText(1)).toBe("1 second");
    expect(minutesText(60)).toBe("1 minute");
    expect(minutesText(150)).toBe("3 minutes");
  });
});

describe("auth errors", () => {
  it("puts each code next to its field", () => {
    expect(authErrors(new ApiError(409, "username_taken", "taken"), "signup")).toEqual({
      username: "That username is taken. Try another one.",
    });
    expect(authErrors(new ApiError(422, "weak_password", "Too easy.. Try words."), "signup")).toEqual({
      password: "Too easy. Try words.",
    });
  });

  it("tells a locked account how long it must wait", () => {
    const locked = authErrors(new ApiError(429, "account_locked", "Locked.", 120), "signin");
    expect(locked.form).toContain("2 minutes");
  });
});

describe("composer helpers", () => {
  it("finds the @mention being typed", () => {
    expect(mentionQuery("hello @bo", 9)).toEqual({ start: 6, query: "bo" });
    expect(mentionQuery("hello @", 7)).toEqual({ start: 6, query: "" });
    expect(mentionQuery("mail a@bo", 9)).toBeNull();
    expect(mentionQuery("@al and more", 3)).toEqual({ start: 0, query: "al" });
  });

  it("has a couple of hundred searchable emoji", () => {
    expect(EMOJI.length).toBeGreaterThan(190);
    expect(searchEmoji("thumbs").map((e) => e.emoji)).toContain("👍");
  });

  it("makes unique v4-shaped client ids", () => {
    const ids = new Set(Array.from({ length: 100 }, newClientId));
    expect(ids.size).toBe(100);
    expect([...ids][0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
