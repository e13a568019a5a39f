// The root: restores the session from the refresh cookie, shows the sign-in or the chat.
import { useCallback, useEffect, useMemo, useState } from "react";
import { AuthScreen } from "./components/AuthScreen";
import { Shell } from "./components/Shell";
import { Spinner } from "./components/ui";
import { Api, ApiError } from "./lib/api";
import type { MeView } from "./lib/types";

type Phase = { kind: "loading" } | { kind: "signed_out"; notice: string | null } | { kind: "signed_in"; me: MeView };

export function App() {
  const api = useMemo(() => new Api(), []);
  const [phase, setPhase] = useState<Phase>({ kind: "loading" });

  const endSession = useCallback(
    (notice: string | null) => {
      api.stopRefreshTimer();
      setPhase({ kind: "signed_out", notice });
    },
    [api],
  );

  useEffect(() => {
    api.onSessionEnded = () => endSession("Your session ended. Please sign in again.");
    let cancelled = false;
    api.refresh().then(
      (session) => !cancelled && setPhase({ kind: "signed_in", me: session.user }),
      (error: unknown) => {
        if (cancelled) return;
        const offline = error instanceof ApiError && error.status === 0;
        setPhase({ kind: "signed_out", notice: offline ? "Convene cannot be reached right now." : null });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [api, endSession]);

  if (phase.kind === "loading") {
    return (
      <div className="flex h-full items-center justify-center text-slate-500" aria-busy="true">
        <Spinner className="h-8 w-8" />
        <span className="sr-only">Loading</span>
      </div>
    );
  }
  if (phase.kind === "signed_out") {
    return (
      <AuthScreen api={api} notice={phase.notice} onSignedIn={(session) => setPhase({ kind: "signed_in", me: session.user })} />
    );
  }
  return (
    <Shell
      key={phase.me.id}
      api={api}
      me={phase.me}
      onMeChanged={(me) => setPhase({ kind: "signed_in", me })}
      onSignedOut={() => endSession(null)}
    />
  );
}
