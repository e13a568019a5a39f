// One message bubble: sender (in groups), quoted reply, text with safe links, edited mark,
// time and ticks, reactions, and the per-message menu (hover button or keyboard).
import { memo, useRef, useState } from "react";
import type { MessageView } from "@proto";
import type { PendingMessage, TickState } from "../lib/chatStore";
import { QUICK_REACTIONS } from "../lib/emoji";
import { clockTime, hueOf } from "../lib/format";
import { linkify } from "../lib/linkify";
import { EmojiPicker } from "./EmojiPicker";
import { Icon, Menu, type MenuItem } from "./ui";

export function MessageText({ text }: { text: string }) {
  return (
    <>
      {linkify(text).map((segment, index) =>
        segment.kind === "link" ? (
          <a
            key={index}
            href={segment.href}
            target="_blank"
            rel="noopener noreferrer"
            className="break-all text-sky-700 underline decoration-sky-700/40 hover:decoration-sky-700 dark:text-sky-400"
          >
            {segment.text}
          </a>
        ) : segment.kind === "mention" ? (
          <span key={index} className="font-medium text-emerald-700 dark:text-emerald-400">
            {segment.text}
          </span>
        ) : (
          <span key={index}>{segment.text}</span>
        ),
      )}
    </>
  );
}

export function Ticks({ state }: { state: TickState }) {
  const label = { pending: "Sending", failed: "Not sent", sent: "Sent", delivered: "Delivered", read: "Read" }[state];
  if (state === "pending") {
    return (
      <span data-testid="ticks" data-state={state} title={label} aria-label={label} className="inline-flex">
        <Icon name="clock" className="h-3.5 w-3.5" />
      </span>
    );
  }
  if (state === "failed") {
    return (
      <span data-testid="ticks" data-state={state} title={label} aria-label={label} className="inline-flex text-red-600">
        <Icon name="alert" className="h-3.5 w-3.5" />
      </span>
    );
  }
  const color = state === "read" ? "text-sky-500" : "";
  return (
    <span data-testid="ticks" data-state={state} title={label} aria-label={label} className={`inline-flex ${color}`}>
      <svg viewBox="0 0 18 12" className="h-3 w-[18px]" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round">
        {state === "sent" ? (
          <path d="M3 6.5 6.5 10 13 2.5" />
        ) : (
          <>
            <path d="M1 6.5 4.5 10 11 2.5" />
            <path d="M7.5 9.2 8.5 10 15 2.5" />
          </>
        )}
      </svg>
    </span>
  );
}

export interface MessageActions {
  reply: (message: MessageView) => void;
  react: (message: MessageView, emoji: string) => void;
  forward: (message: MessageView) => void;
  edit: (message: MessageView) => void;
  remove: (message: MessageView, forEveryone: boolean) => void;
  pin: (message: MessageView, pinned: boolean) => void;
  copy: (message: MessageView) => void;
  jump: (messageId: string) => void;
}

export const MessageBubble = memo(function MessageBubble({
  message,
  mine,
  senderName,
  showSender,
  reply,
  replySender,
  tick,
  selfId,
  canDeleteForEveryone,
  canPin,
  actions,
  nameOf,
}: {
  message: MessageView;
  mine: boolean;
  senderName: string;
  showSender: boolean;
  reply: MessageView | null;
  replySender: string | null;
  tick: TickState | null;
  selfId: string;
  canDeleteForEveryone: boolean;
  canPin: boolean;
  actions: MessageActions;
  nameOf: (userId: string) => string;
}) {
  const [menu, setMenu] = useState(false);
  const [picker, setPicker] = useState(false);
  const trigger = useRef<HTMLButtonElement>(null);
  const deleted = Boolean(message.deleted_at);

  const items: MenuItem[] = deleted
    ? [{ label: "Delete for me", icon: "trash", onSelect: () => actions.remove(message, false), testId: "menu-delete-me" }]
    : [
        { label: "Reply", icon: "reply", onSelect: () => actions.reply(message), testId: "menu-reply" },
        { label: "React…", icon: "smile", onSelect: () => setPicker(true), testId: "menu-react" },
        { label: "Forward", icon: "forward", onSelect: () => actions.forward(message), testId: "menu-forward" },
        { label: "Copy", icon: "copy", onSelect: () => actions.copy(message), testId: "menu-copy" },
        ...(canPin
          ? [
              {
                label: message.pinned_at ? "Unpin" : "Pin",
                icon: "pin" as const,
                onSelect: () => actions.pin(message, !message.pinned_at),
                testId: "menu-pin",
              },
            ]
          : []),
        ...(mine ? [{ label: "Edit", icon: "edit" as const, onSelect: () => actions.edit(message), testId: "menu-edit" }] : []),
        { label: "Delete for me", icon: "trash", danger: true, onSelect: () => actions.remove(message, false), testId: "menu-delete-me" },
        ...(canDeleteForEveryone
          ? [
              {
                label: "Delete for everyone",
                icon: "trash" as const,
                danger: true,
                onSelect: () => actions.remove(message, true),
                testId: "menu-delete-everyone",
              },
            ]
          : []),
      ];

  return (
    <div className={`group flex ${mine ? "justify-end" : "justify-start"} px-3 md:px-[6%]`}>
      <div className={`relative flex max-w-[85%] items-start gap-1 md:max-w-[70%] ${mine ? "flex-row-reverse" : ""}`}>
        <div
          data-testid="message"
          data-seq={message.seq}
          data-message-id={message.id}
          data-mine={mine}
          id={`message-${message.id}`}
          onContextMenu={(event) => {
            // Right-click, or a long press on touch screens, opens the same menu.
            if ((event.target as HTMLElement).closest("a")) return;
            event.preventDefault();
            setMenu(true);
          }}
          className={`min-w-[5.5rem] rounded-xl px-2.5 pt-1.5 pb-1 text-[0.9375rem] shadow-sm ${
            mine
              ? "rounded-tr-sm bg-emerald-100 text-slate-900 dark:bg-emerald-900 dark:text-slate-50"
              : "rounded-tl-sm bg-white text-slate-900 dark:bg-slate-800 dark:text-slate-100"
          }`}
        >
          {showSender && !mine && (
            <div className="mb-0.5 text-xs font-semibold" style={{ color: `hsl(${hueOf(message.sender_id)} 60% 42%)` }}>
              {senderName}
            </div>
          )}
          {message.forwarded_from && !deleted && (
            <div className="mb-0.5 flex items-center gap-1 text-xs text-slate-500 italic dark:text-slate-400">
              <Icon name="forward" className="h-3 w-3" /> Forwarded
            </div>
          )}
          {message.reply_to && !deleted && (
            <button
              type="button"
              data-testid="reply-quote"
              onClick={() => actions.jump(message.reply_to!)}
              className="mb-1 block w-full rounded-md border-l-4 border-emerald-500 bg-black/5 px-2 py-1 text-left text-xs dark:bg-white/10"
            >
              <span className="block font-semibold text-emerald-700 dark:text-emerald-400">{replySender ?? "Message"}</span>
              <span className="line-clamp-2 text-slate-600 dark:text-slate-300">
                {reply ? (reply.deleted_at ? "This message was deleted" : reply.body) : "Tap to find the original message"}
              </span>
            </button>
          )}
          {deleted ? (
            <p className="text-sm text-slate-500 italic dark:text-slate-400" data-testid="message-deleted">
              <Icon name="block" className="mr-1 inline h-3.5 w-3.5 align-[-2px]" />
              This message was deleted
            </p>
          ) : (
            <p className="break-words whitespace-pre-wrap" data-testid="message-body">
              <MessageText text={message.body} />
            </p>
          )}
          <div className="float-right mt-0.5 ml-3 flex items-center gap-1 text-[0.6875rem] text-slate-500 dark:text-slate-400">
            {message.pinned_at && <Icon name="pin" className="h-3 w-3" />}
            {message.edited_at && !deleted && <span data-testid="edited-mark">edited</span>}
            <time dateTime={message.created_at}>{clockTime(message.created_at)}</time>
            {tick && <Ticks state={tick} />}
          </div>
          <div className="clear-both" />
          {message.reactions.length > 0 && (
            <div className="-mb-3 mt-0.5 flex flex-wrap gap-1 pb-0.5" data-testid="reactions">
              {message.reactions.map((reaction) => {
                const minePressed = reaction.user_ids.includes(selfId);
                return (
                  <button
                    key={reaction.emoji}
                    type="button"
                    data-testid="reaction"
                    data-emoji={reaction.emoji}
                    aria-pressed={minePressed}
                    title={reaction.user_ids.map(nameOf).join(", ")}
                    onClick={() => actions.react(message, reaction.emoji)}
                    className={`flex items-center gap-1 rounded-full border px-1.5 py-px text-sm shadow-sm ${
                      minePressed
                        ? "border-emerald-400 bg-emerald-50 dark:border-emerald-600 dark:bg-emerald-950"
                        : "border-slate-200 bg-white dark:border-slate-600 dark:bg-slate-700"
                    }`}
                  >
                    <span>{reaction.emoji}</span>
                    {reaction.count > 1 && <span className="text-xs text-slate-600 dark:text-slate-300">{reaction.count}</span>}
                  </button>
                );
              })}
            </div>
          )}
        </div>
        <button
          ref={trigger}
          type="button"
          aria-haspopup="menu"
          aria-expanded={menu}
          aria-label="Message actions"
          data-testid="message-menu-button"
          onClick={() => setMenu((open) => !open)}
          className={`icon-btn h-7 w-7 self-center opacity-0 group-hover:opacity-100 focus:opacity-100 [@media(hover:none)]:opacity-60 ${menu || picker ? "opacity-100" : ""}`}
        >
          <Icon name="more" className="h-4 w-4" />
        </button>
        {menu && (
          <Menu
            label="Message actions"
            anchor={trigger.current}
            align={mine ? "right" : "left"}
            onClose={() => setMenu(false)}
            items={items}
            header={
              deleted ? undefined : (
                <div className="flex gap-0.5 border-b border-slate-100 px-2 pb-1 dark:border-slate-800">
                  {QUICK_REACTIONS.map((emoji) => (
                    <button
                      key={emoji}
                      type="button"
                      role="menuitem"
                      tabIndex={-1}
                      aria-label={`React ${emoji}`}
                      className="flex h-9 w-9 items-center justify-center rounded-full text-xl hover:bg-slate-100 focus:bg-slate-100 focus:outline-none dark:hover:bg-slate-800 dark:focus:bg-slate-800"
                      onClick={() => {
                        setMenu(false);
                        actions.react(message, emoji);
                      }}
                    >
                      {emoji}
                    </button>
                  ))}
                </div>
              )
            }
          />
        )}
        {picker && (
          <EmojiPicker
            className={`absolute top-full ${mine ? "right-0" : "left-0"} mt-1`}
            onClose={() => {
              setPicker(false);
              trigger.current?.focus();
            }}
            onPick={(emoji) => {
              setPicker(false);
              actions.react(message, emoji);
              trigger.current?.focus();
            }}
          />
        )}
      </div>
    </div>
  );
});

/** Our message the server has not confirmed yet: a clock, or "not sent" with Retry. */
export function PendingBubble({
  pending,
  reply,
  onRetry,
  onDiscard,
}: {
  pending: PendingMessage;
  reply: MessageView | null;
  onRetry: () => void;
  onDiscard: () => void;
}) {
  const failed = pending.status === "failed";
  return (
    <div className="flex justify-end px-3 md:px-[6%]">
      <div className="flex max-w-[85%] flex-col items-end md:max-w-[70%]">
        <div
          data-testid="message-pending"
          data-client-id={pending.client_id}
          data-status={pending.status}
          className={`min-w-[5.5rem] rounded-xl rounded-tr-sm px-2.5 pt-1.5 pb-1 text-[0.9375rem] shadow-sm ${
            failed ? "bg-red-50 ring-1 ring-red-300 dark:bg-red-950/60 dark:ring-red-800" : "bg-emerald-100/80 dark:bg-emerald-900/70"
          }`}
        >
          {reply && (
            <div className="mb-1 rounded-md border-l-4 border-emerald-500 bg-black/5 px-2 py-1 text-xs text-slate-600 dark:bg-white/10 dark:text-slate-300">
              <span className="line-clamp-2">{reply.body}</span>
            </div>
          )}
          <p className="break-words whitespace-pre-wrap">
            <MessageText text={pending.body} />
          </p>
          <div className="float-right mt-0.5 ml-3 flex items-center gap-1 text-[0.6875rem] text-slate-500 dark:text-slate-400">
            <time dateTime={pending.created_at}>{clockTime(pending.created_at)}</time>
            <Ticks state={failed ? "failed" : "pending"} />
          </div>
          <div className="clear-both" />
        </div>
        {failed && (
          <div className="mt-1 flex items-center gap-2 text-xs text-red-600 dark:text-red-400" role="alert">
            <span>{pending.error ?? "Not sent."}</span>
            <button type="button" className="font-semibold underline" onClick={onRetry} data-testid="retry-send">
              Retry
            </button>
            <button type="button" className="underline opacity-80" onClick={onDiscard}>
              Discard
            </button>
          </div>
        )}
      </div>
    </div>
  );
}
