// A searchable grid of common emoji in a popover; Escape closes it.
import { useEffect, useRef, useState } from "react";
import { searchEmoji } from "../lib/emoji";

export function EmojiPicker({
  onPick,
  onClose,
  className = "",
}: {
  onPick: (emoji: string) => void;
  onClose: () => void;
  className?: string;
}) {
  const [query, setQuery] = useState("");
  const ref = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    input.current?.focus();
    const onPointer = (event: PointerEvent) => {
      if (ref.current && !ref.current.contains(event.target as Node)) onClose();
    };
    document.addEventListener("pointerdown", onPointer, true);
    return () => document.removeEventListener("pointerdown", onPointer, true);
  }, [onClose]);
  const results = searchEmoji(query);
  return (
    <div
      ref={ref}
      role="dialog"
      aria-label="Emoji"
      data-testid="emoji-picker"
      className={`z-40 w-72 rounded-xl border border-slate-200 bg-white p-2 shadow-xl dark:border-slate-700 dark:bg-slate-900 ${className}`}
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onClose();
        }
      }}
    >
      <input
        ref={input}
        type="search"
        className="input mb-2 py-1.5"
        placeholder="Search emoji"
        aria-label="Search emoji"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(event) => {
          if (event.key === "Enter" && results[0]) {
            event.preventDefault();
            onPick(results[0].emoji);
          }
        }}
      />
      <div className="grid max-h-56 grid-cols-8 gap-0.5 overflow-y-auto" role="listbox" aria-label="Emoji">
        {results.map((entry) => (
          <button
            key={entry.emoji}
            type="button"
            role="option"
            aria-selected="false"
            title={entry.words}
            aria-label={entry.words.split(" ")[0]}
            className="flex h-8 w-8 items-center justify-center rounded-lg text-xl hover:bg-slate-100 dark:hover:bg-slate-800"
            onClick={() => onPick(entry.emoji)}
          >
            {entry.emoji}
          </button>
        ))}
        {results.length === 0 && <p className="col-span-8 p-2 text-center text-sm text-slate-500">No emoji found</p>}
      </div>
    </div>
  );
}
