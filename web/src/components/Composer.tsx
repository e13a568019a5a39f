// The message box: Enter sends, Shift+Enter adds a line, @ suggests members, an emoji
// picker, and a strip for the message being replied to or edited (Escape cancels).
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import type { MessageView } from "@proto";
import { MAX_MESSAGE_LENGTH } from "../lib/client";
import type { UserView } from "../lib/types";
import { EmojiPicker } from "./EmojiPicker";
import { Icon } from "./ui";

export type ComposerMode = { kind: "new" } | { kind: "reply"; message: MessageView } | { kind: "edit"; message: MessageView };

/** The `@word` being typed just before the caret, if any. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const match = /(^|\s)@([a-z0-9_.]{0,32})$/i.exec(before);
  if (!match) return null;
  return { start: caret - match[2]!.length - 1, query: match[2]!.toLowerCase() };
}

export function Composer({
  mode,
  members,
  nameOf,
  onSend,
  onEdit,
  onCancel,
  onTyping,
  draftKey,
}: {
  mode: ComposerMode;
  members: UserView[];
  nameOf: (userId: string) => string;
  onSend: (body: string, replyTo: string | null) => void;
  onEdit: (message: MessageView, body: string) => void;
  onCancel: () => void;
  onTyping: () => void;
  draftKey: string;
}) {
  const [text, setText] = useState(() => sessionStorage.getItem(`convene.draft.${draftKey}`) ?? "");
  const [caret, setCaret] = useState(0);
  const [picker, setPicker] = useState(false);
  const [highlight, setHighlight] = useState(0);
  const input = useRef<HTMLTextAreaElement>(null);

  // Editing puts the message's text in the box.
  useEffect(() => {
    if (mode.kind === "edit") setText(mode.message.body);
    if (mode.kind !== "new") input.current?.focus();
  }, [mode]);

  useEffect(() => {
    if (mode.kind === "edit") return;
    if (text) sessionStorage.setItem(`convene.draft.${draftKey}`, text);
    else sessionStorage.removeItem(`convene.draft.${draftKey}`);
  }, [text, draftKey, mode.kind]);

  // Grow with the text, up to a limit.
  useLayoutEffect(() => {
    const area = input.current;
    if (!area) return;
    area.style.height = "auto";
    area.style.height = `${Math.min(area.scrollHeight, 160)}px`;
  }, [text]);

  const mention = mentionQuery(text, caret);
  const suggestions = mention
    ? members
        .filter(
          (user) =>
            user.username.startsWith(mention.query) || user.display_name.toLowerCase().startsWith(mention.query),
        )
        .slice(0, 6)
    : [];
  // A name typed out in full needs no suggestion (and Enter then sends).
  const complete = suggestions.length === 1 && suggestions[0]!.username === mention?.query;
  const showSuggestions = suggestions.length > 0 && !complete && caret >= 0;

  const insertMention = (user: UserView) => {
    if (!mention) return;
    const next = `${text.slice(0, mention.start)}@${user.username} ${text.slice(caret)}`;
    const position = mention.start + user.username.length + 2;
    setText(next);
    setHighlight(0);
    requestAnimationFrame(() => {
      input.current?.setSelectionRange(position, position);
      setCaret(position);
    });
  };

  const insertText = (value: string) => {
    const area = input.current;
    const start = area?.selectionStart ?? text.length;
    const end = area?.selectionEnd ?? text.length;
    const next = text.slice(0, start) + value + text.slice(end);
    setText(next);
    requestAnimationFrame(() => {
      area?.focus();
      area?.setSelectionRange(start + value.length, start + value.length);
    });
  };

  const submit = () => {
    const body = text.trim();
    if (!body) return;
    if (mode.kind === "edit") {
      if (body !== mode.message.body) onEdit(mode.message, body);
      else onCancel();
    } else {
      onSend(body, mode.kind === "reply" ? mode.message.id : null);
    }
    setText("");
    setCaret(0);
  };

  const onKeyDown = (event: React.KeyboardEvent<HTMLTextAreaElement>) => {
    if (showSuggestions) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        setHighlight((h) => (h + step + suggestions.length) % suggestions.length);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        insertMention(suggestions[Math.min(highlight, suggestions.length - 1)]!);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        setCaret(-1);
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
      return;
    }
    if (event.key === "Escape" && mode.kind !== "new") {
      event.preventDefault();
      if (mode.kind === "edit") setText("");
      onCancel();
    }
  };

  const length = [...text].length;
  const tooLong = length > MAX_MESSAGE_LENGTH;

  return (
    <div className="relative border-t border-slate-200 bg-slate-50 px-2 py-2 dark:border-slate-800 dark:bg-slate-900">
      {mode.kind !== "new" && (
        <div className="mb-2 flex items-start gap-2 rounded-lg border-l-4 border-emerald-500 bg-white px-3 py-1.5 text-sm dark:bg-slate-800" data-testid="composer-context">
          <div className="min-w-0 flex-1">
            <div className="text-xs font-semibold text-emerald-700 dark:text-emerald-400">
              {mode.kind === "edit" ? "Edit message" : `Replying to ${nameOf(mode.message.sender_id)}`}
            </div>
            <div className="truncate text-slate-600 dark:text-slate-300">{mode.message.body}</div>
          </div>
          <button
            type="button"
            className="icon-btn h-7 w-7"
            aria-label={mode.kind === "edit" ? "Cancel editing" : "Cancel reply"}
            onClick={() => {
              if (mode.kind === "edit") setText("");
              onCancel();
            }}
          >
            <Icon name="close" className="h-4 w-4" />
          </button>
        </div>
      )}
      {showSuggestions && (
        <ul
          role="listbox"
          aria-label="Mention someone"
          data-testid="mention-suggestions"
          className="menu absolute bottom-full left-2 mb-1 max-w-xs"
        >
          {suggestions.map((user, index) => (
            <li
              key={user.id}
              role="option"
              aria-selected={index === highlight}
              className={`menu-item cursor-pointer ${index === highlight ? "bg-slate-100 dark:bg-slate-800" : ""}`}
              onPointerDown={(event) => {
                event.preventDefault();
                insertMention(user);
              }}
            >
              <span className="font-medium">{user.display_name}</span>
              <span className="text-xs text-slate-500">@{user.username}</span>
            </li>
          ))}
        </ul>
      )}
      {picker && (
        <EmojiPicker
          className="absolute bottom-full left-2 mb-1"
          onClose={() => setPicker(false)}
          onPick={(emoji) => {
            insertText(emoji);
          }}
        />
      )}
      <form
        className="flex items-end gap-1"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <button
          type="button"
          className="icon-btn"
          aria-label="Emoji"
          aria-expanded={picker}
          data-testid="emoji-button"
          onClick={() => setPicker((open) => !open)}
        >
          <Icon name="smile" />
        </button>
        <label className="min-w-0 flex-1">
          <span className="sr-only">Message</span>
          <textarea
            ref={input}
            rows={1}
            data-testid="composer-input"
            className="block max-h-40 w-full resize-none rounded-2xl border border-transparent bg-white px-4 py-2 text-[0.9375rem] text-slate-900 placeholder:text-slate-400 focus:border-emerald-500 focus:outline-none dark:bg-slate-800 dark:text-slate-100"
            placeholder="Type a message"
            value={text}
            onChange={(event) => {
              setText(event.target.value);
              setCaret(event.target.selectionStart);
              setHighlight(0);
              if (event.target.value) onTyping();
            }}
            onSelect={(event) => setCaret(event.currentTarget.selectionStart)}
            onKeyDown={onKeyDown}
            aria-invalid={tooLong}
            enterKeyHint="send"
          />
        </label>
        <button
          type="submit"
          className="icon-btn bg-emerald-600 text-white hover:bg-emerald-700 disabled:opacity-50 dark:text-white dark:hover:bg-emerald-500"
          aria-label={mode.kind === "edit" ? "Save" : "Send"}
          data-testid="send-button"
          disabled={!text.trim() || tooLong}
        >
          <Icon name={mode.kind === "edit" ? "edit" : "send"} />
        </button>
      </form>
      {tooLong && (
        <p className="mt-1 px-2 text-xs text-red-600" role="alert">
          {length} of {MAX_MESSAGE_LENGTH} characters: shorten the message to send it.
        </p>
      )}
    </div>
  );
}
