// Sign up, sign in, continue as a guest: inline errors from the server's codes.
import { type FormEvent, useEffect, useState } from "react";
import { type Api, ApiError } from "../lib/api";
import { minutesText } from "../lib/format";
import type { SessionResponse } from "../lib/types";
import { Icon, Spinner } from "./ui";

type Mode = "signin" | "signup" | "guest";

interface FieldErrors {
  username?: string;
  password?: string;
  display_name?: string;
  form?: string;
}

/** Maps an API error to the field it is about, with a sentence for people. */
export function authErrors(error: unknown, mode: Mode): FieldErrors {
  if (!(error instanceof ApiError)) return { form: "Something went wrong. Please try again." };
  switch (error.code) {
    case "username_taken":
      return { username: "That username is taken. Try another one." };
    case "invalid_username":
      return { username: error.message };
    case "weak_password":
      return { password: error.message.replace(/\.\.(\s|$)/g, ".$1") };
    case "invalid_display_name":
      return { display_name: error.message };
    case "invalid_credentials":
      return { form: "Wrong username or password." };
    case "account_locked": {
      const wait = error.retryAfter ? ` Try again in ${minutesText(error.retryAfter)}.` : "";
      return { form: `Too many failed sign-ins: this account is locked for now.${wait}` };
    }
    case "rate_limited":
      return {
        form: `Too many attempts. Wait ${error.retryAfter ? minutesText(error.retryAfter) : "a moment"} and try again.`,
      };
    default:
      return { form: mode === "guest" ? error.message : error.message || "Something went wrong." };
  }
}

export function AuthScreen({
  api,
  onSignedIn,
  notice,
}: {
  api: Api;
  onSignedIn: (session: SessionResponse) => void;
  notice?: string | null;
}) {
  const [mode, setMode] = useState<Mode>("signin");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [lockedUntil, setLockedUntil] = useState<number | null>(null);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    setErrors({});
  }, [mode]);

  // A locked account shows a countdown.
  useEffect(() => {
    if (!lockedUntil) return;
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [lockedUntil]);
  const lockLeft = lockedUntil ? Math.max(0, Math.ceil((lockedUntil - now) / 1000)) : 0;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const session =
        mode === "signin"
          ? await api.login(username.trim(), password)
          : mode === "signup"
            ? await api.register(username.trim(), password, displayName.trim() || undefined)
            : await api.guest(displayName.trim());
      onSignedIn(session);
    } catch (error) {
      setErrors(authErrors(error, mode));
      if (error instanceof ApiError && error.code === "account_locked" && error.retryAfter) {
        setLockedUntil(Date.now() + error.retryAfter * 1000);
        setNow(Date.now());
      }
    } finally {
      setBusy(false);
    }
  };

  const tab = (value: Mode, label: string) => (
    <button
      type="button"
      role="tab"
      aria-selected={mode === value}
      data-testid={`auth-tab-${value}`}
      onClick={() => setMode(value)}
      className={`flex-1 rounded-lg px-3 py-2 text-sm font-medium transition-colors ${
        mode === value
          ? "bg-white text-slate-900 shadow-sm dark:bg-slate-700 dark:text-white"
          : "text-slate-600 hover:text-slate-900 dark:text-slate-400 dark:hover:text-white"
      }`}
    >
      {label}
    </button>
  );

  const formError =
    errors.form && lockLeft > 0 && errors.form.startsWith("Too many failed")
      ? `Too many failed sign-ins: this account is locked. Try again in ${minutesText(lockLeft)}.`
      : errors.form;

  return (
    <main className="flex min-h-full items-center justify-center bg-gradient-to-br from-emerald-600 to-teal-800 p-4 dark:from-slate-900 dark:to-slate-950">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center justify-center gap-3 text-white">
          <span className="flex h-11 w-11 items-center justify-center rounded-2xl bg-white/15">
            <Icon name="chat" className="h-6 w-6" />
          </span>
          <span className="text-2xl font-semibold tracking-tight">Convene</span>
        </div>
        <div className="rounded-2xl bg-white p-6 shadow-2xl dark:bg-slate-900">
          {notice && (
            <p role="status" className="mb-4 rounded-lg bg-amber-50 px-3 py-2 text-sm text-amber-800 dark:bg-amber-950/50 dark:text-amber-200">
              {notice}
            </p>
          )}
          <div role="tablist" aria-label="How to continue" className="mb-5 flex gap-1 rounded-xl bg-slate-100 p-1 dark:bg-slate-800">
            {tab("signin", "Sign in")}
            {tab("signup", "Sign up")}
            {tab("guest", "Guest")}
          </div>
          <form onSubmit={submit} noValidate data-testid={`auth-form-${mode}`} className="space-y-4">
            {mode !== "guest" && (
              <Field label="Username" error={errors.username} id="username">
                <input
                  id="username"
                  data-testid="auth-username"
                  className="input"
                  autoComplete="username"
                  autoCapitalize="none"
                  spellCheck={false}
                  required
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                  aria-invalid={Boolean(errors.username)}
                  aria-describedby={errors.username ? "username-error" : undefined}
                />
              </Field>
            )}
            {mode !== "signin" && (
              <Field
                label={mode === "guest" ? "Your name" : "Display name (optional)"}
                error={errors.display_name}
                id="display_name"
              >
                <input
                  id="display_name"
                  data-testid="auth-display-name"
                  className="input"
                  autoComplete="name"
                  required={mode === "guest"}
                  value={displayName}
                  onChange={(e) => setDisplayName(e.target.value)}
                  aria-invalid={Boolean(errors.display_name)}
                  aria-describedby={errors.display_name ? "display_name-error" : undefined}
                />
              </Field>
            )}
            {mode !== "guest" && (
              <Field
                label="Password"
                error={errors.password}
                id="password"
                hint={mode === "signup" ? "At least 10 characters; a few unrelated words work well." : undefined}
              >
                <input
                  id="password"
                  data-testid="auth-password"
                  type="password"
                  className="input"
                  autoComplete={mode === "signup" ? "new-password" : "current-password"}
                  required
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                  aria-invalid={Boolean(errors.password)}
                  aria-describedby={errors.password ? "password-error" : mode === "signup" ? "password-hint" : undefined}
                />
              </Field>
            )}
            {formError && (
              <p role="alert" data-testid="auth-error" className="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700 dark:bg-red-950/50 dark:text-red-300">
                {formError}
              </p>
            )}
            <button type="submit" data-testid="auth-submit" className="btn-primary w-full py-2.5" disabled={busy}>
              {busy && <Spinner />}
              {mode === "signin" ? "Sign in" : mode === "signup" ? "Create account" : "Continue as guest"}
            </button>
            {mode === "guest" && (
              <p className="text-center text-xs text-slate-500 dark:text-slate-400">
                Guests can join meetings and chat for 24 hours.
              </p>
            )}
          </form>
        </div>
      </div>
    </main>
  );
}

function Field({
  label,
  error,
  id,
  hint,
  children,
}: {
  label: string;
  error?: string;
  id: string;
  hint?: string;
  children: React.ReactNode;
}) {
  return (
    <div>
      <label htmlFor={id} className="mb-1 block text-sm font-medium text-slate-700 dark:text-slate-300">
        {label}
      </label>
      {children}
      {error ? (
        <p id={`${id}-error`} data-testid={`auth-error-${id}`} className="mt-1 text-sm text-red-600 dark:text-red-400">
          {error}
        </p>
      ) : (
        hint && (
          <p id={`${id}-hint`} className="mt-1 text-xs text-slate-500 dark:text-slate-400">
            {hint}
          </p>
        )
      )}
    </div>
  );
}
