import { describe, expect, it } from "vitest";
import { renderToStaticMarkup } from "react-dom/server";
import { createElement } from "react";
import { MessageText } from "../components/Message";
import { linkify, safeHref } from "./linkify";

describe("linkify", () => {
  it("finds http(s) links and leaves sentence punctuation out", () => {
    expect(linkify("See https://example.com/docs. Or http://a.io/x?y=1, ok")).toEqual([
      { kind: "text", text: "See " },
      { kind: "link", text: "https://example.com/docs", href: "https://example.com/docs" },
      { kind: "text", text: ". Or " },
      { kind: "link", text: "http://a.io/x?y=1", href: "http://a.io/x?y=1" },
      { kind: "text", text: ", ok" },
    ]);
  });

  it("keeps a closing bracket that belongs to the URL", () => {
    const segments = linkify("(see https://en.wikipedia.org/wiki/Dune_(novel))");
    expect(segments[1]).toMatchObject({ kind: "link", text: "https://en.wikipedia.org/wiki/Dune_(novel)" });
    expect(segments[2]).toEqual({ kind: "text", text: ")" });
  });

  it("never links other schemes", () => {
    expect(linkify("javascript:alert(1) data:text/html,<b>x</b>")).toEqual([
      { kind: "text", text: "javascript:alert(1) data:text/html,<b>x</b>" },
    ]);
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("https://ok.example")).toBe("https://ok.example/");
  });

  it("marks @mentions but not e-mail addresses", () => {
    expect(linkify("hi @bob.smith and mail a@bob.com")).toEqual([
      { kind: "text", text: "hi " },
      { kind: "mention", text: "@bob.smith", username: "bob.smith" },
      { kind: "text", text: " and mail a@bob.com" },
    ]);
  });
});

describe("message text rendering", () => {
  it("renders markup as text, so nothing can be injected", () => {
    const html = renderToStaticMarkup(createElement(MessageText, { text: '<img src=x onerror=alert(1)> <script>alert(2)</script>' }));
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });

  it("renders links that open safely in a new tab", () => {
    const html = renderToStaticMarkup(createElement(MessageText, { text: "go to https://example.com/" }));
    expect(html).toContain('href="https://example.com/"');
    expect(html).toContain('target="_blank"');
    expect(html).toContain('rel="noopener noreferrer"');
  });
});
