// The calls view (incoming, outgoing, missed; voice or video; duration; call back) and the
// chat's system line for a call ("Missed video call", "Voice call · 4:12").
import { useEffect } from "react";
import type { CallView } from "@proto";
import type { CallSnapshot } from "../lib/callClient";
import { type CallLogEntry, callDirection, callLogText, formatDuration } from "../lib/callState";
import type { ChatState } from "../lib/chatStore";
import type { ChatClient } from "../lib/client";
import { clockTime, listTime } from "../lib/format";
import { CallIcon } from "./CallIcons";
import { userName } from "./names";
import { Avatar, Dialog, Spinner } from "./ui";

export function CallHistoryPanel({
  open,
  client,
  chat,
  calls,
  onClose,
  onOpenConversation,
}: {
  open: boolean;
  client: ChatClient;
  chat: ChatState;
  calls: CallSnapshot;
  onClose: () => void;
  onOpenConversation: (conversationId: string) => void;
}) {
  useEffect(() => {
    if (open) client.calls.refreshHistory();
  }, [open, client]);
  const selfId = chat.selfId;
  const history = calls.history.filter((call) => call.state !== "ringing" && call.state !== "ongoing");
  return (
    <Dialog open={open} onClose={onClose} title="Calls" testId="calls-panel">
      {!calls.historyLoaded ? (
        <div className="flex justify-center p-6 text-slate-400">
          <Spinner className="h-6 w-6" />
        </div>
      ) : history.length === 0 ? (
        <p className="p-4 text-center text-sm text-slate-500 dark:text-slate-400" data-testid="call-history-empty">
          No calls yet. Start one from a chat with the phone or camera button.
        </p>
      ) : (
        <ul className="-mx-4 -my-2" data-testid="call-history-list">
          {history.map((call) => (
            <CallRow
              key={call.id}
              call={call}
              chat={chat}
              selfId={selfId}
              busy={calls.call.phase.kind !== "idle" && calls.call.phase.kind !== "ended"}
              onCall={() => {
                onClose();
                client.calls.call(call.conversation_id, peerOf(call, selfId), call.kind);
              }}
              onOpen={() => {
                onClose();
                onOpenConversation(call.conversation_id);
              }}
            />
          ))}
        </ul>
      )}
    </Dialog>
  );
}

function peerOf(call: CallView, selfId: string): string {
  return call.caller_id === selfId ? call.callee_id : call.caller_id;
}

function CallRow({
  call,
  chat,
  selfId,
  busy,
  onCall,
  onOpen,
}: {
  call: CallView;
  chat: ChatState;
  selfId: string;
  busy: boolean;
  onCall: () => void;
  onOpen: () => void;
}) {
  const peerId = peerOf(call, selfId);
  const name = userName(chat, peerId);
  const direction = callDirection(call, selfId);
  const label = direction === "outgoing" ? "Outgoing" : direction === "missed" ? "Missed" : "Incoming";
  const outcome =
    call.state === "ended"
      ? null
      : call.state === "missed"
        ? direction === "outgoing"
          ? "No answer"
          : null
        : call.state === "declined"
          ? "Declined"
          : call.state === "busy"
            ? direction === "outgoing"
              ? "Busy"
              : null
            : call.state === "cancelled"
              ? direction === "outgoing"
                ? "Cancelled"
                : null
              : "Failed";
  const when = call.started_at;
  return (
    <li
      className="flex items-center gap-3 px-4 py-2.5 hover:bg-slate-50 dark:hover:bg-slate-800/60"
      data-testid="call-history-item"
      data-call-id={call.id}
      data-direction={direction}
      data-kind={call.kind}
      data-outcome={call.state}
    >
      <button type="button" className="flex min-w-0 flex-1 items-center gap-3 text-left" onClick={onOpen}>
        <Avatar id={peerId} name={name} url={chat.users[peerId]?.avatar_url ?? null} size={44} />
        <span className="min-w-0 flex-1">
          <span className={`block truncate font-medium ${direction === "missed" ? "text-red-600 dark:text-red-400" : ""}`} data-testid="call-history-name">
            {name}
          </span>
          <span className="flex items-center gap-1 text-xs text-slate-500 dark:text-slate-400" data-testid="call-history-detail">
            <CallIcon
              name={direction === "outgoing" ? "outgoing" : direction === "missed" ? "missed" : "incoming"}
              className={`h-4 w-4 ${direction === "missed" ? "text-red-500" : "text-emerald-600"}`}
            />
            <span>
              {label} {call.kind} call
            </span>
            {outcome && <span>· {outcome}</span>}
            {call.duration_seconds !== null && (
              <span>
                · <span data-testid="call-history-duration">{formatDuration(call.duration_seconds)}</span>
              </span>
            )}
            <span>· {listTime(when)}</span>
          </span>
        </span>
      </button>
      <button
        type="button"
        className="icon-btn text-emerald-700 dark:text-emerald-400"
        aria-label={`Call ${name} back (${call.kind})`}
        title={`${call.kind === "video" ? "Video" : "Voice"} call`}
        data-testid="call-back"
        disabled={busy}
        onClick={onCall}
      >
        <CallIcon name={call.kind === "video" ? "video" : "phone"} />
      </button>
    </li>
  );
}

/** A call in the chat: a centred system line. */
export function CallLogLine({ entry, selfId }: { entry: CallLogEntry; selfId: string }) {
  const text = callLogText(entry, selfId);
  const missed = entry.caller_id !== selfId && entry.outcome !== "ended" && entry.outcome !== "declined";
  return (
    <div className="flex justify-center px-3 py-1" data-testid="call-log" data-call-id={entry.call_id} data-outcome={entry.outcome}>
      <span className="inline-flex items-center gap-2 rounded-lg bg-white px-3 py-1.5 text-sm text-slate-700 shadow-sm dark:bg-slate-800 dark:text-slate-200">
        <CallIcon
          name={entry.call_kind === "video" ? "video" : "phone"}
          className={`h-4 w-4 ${missed ? "text-red-500" : "text-emerald-600 dark:text-emerald-400"}`}
        />
        <span data-testid="call-log-text">{text}</span>
        <span className="text-xs text-slate-400">{clockTime(entry.at)}</span>
      </span>
    </div>
  );
}
