import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiProblem, message, needsKey, saveKey, storedKey } from './api';
import { liveState, startEvents } from './events';
import { Overview } from './pages/overview';
import { Records } from './pages/records';
import { Syncs } from './pages/syncs';
import { Webhooks } from './pages/webhooks';
import { navigate, PAGES, route } from './router';

const LIVE_TEXT = { connecting: 'Connecting…', live: 'Live', offline: 'Reconnecting…' } as const;

export function App() {
  useEffect(() => {
    // Any protected route tells whether a key is wanted, before a page asks for its own data.
    void api('/tasks?limit=1').catch(() => undefined);
    startEvents();
  }, []);
  const page = route.value;
  const title = page === 'not-found' ? 'Page not found' : (PAGES.find((p) => p.path === page)?.title ?? '');
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    document.title = `${title} · Tributary console`;
  }, [title]);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Tributary</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a
                  href={`/ui/${p.path}`}
                  aria-current={p.path === page ? 'page' : undefined}
                  onClick={(e) => {
                    if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                    e.preventDefault();
                    navigate(p.path);
                    main.current?.focus();
                  }}
                >
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {!needsKey.value && (
          <span class={`live live-${liveState.value}`} role="status">
            {LIVE_TEXT[liveState.value]}
          </span>
        )}
        {storedKey() !== null && !needsKey.value && (
          <button
            type="button"
            class="quiet"
            onClick={() => {
              saveKey(null);
              needsKey.value = true;
            }}
          >
            Sign out
          </button>
        )}
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {needsKey.value ? (
          <SignIn />
        ) : (
          <>
            <h1>{title}</h1>
            {page === 'overview' && <Overview />}
            {page === 'syncs' && <Syncs />}
            {page === 'webhooks' && <Webhooks />}
            {page === 'records' && <Records />}
            {page === 'not-found' && <NotFound />}
          </>
        )}
      </main>
    </>
  );
}

/** A /ui/ path that names no page: say so, rather than show another page under a wrong address. */
function NotFound() {
  return (
    <p>
      There is no page at <code>{location.pathname}</code>.{' '}
      <a
        href="/ui/overview"
        onClick={(e) => {
          if (e.ctrlKey || e.metaKey || e.shiftKey) return;
          e.preventDefault();
          navigate('overview');
        }}
      >
        Go to the Overview
      </a>
      , or pick a page above.
    </p>
  );
}

/** Shown when a call answered 401: the key is checked, then kept in sessionStorage for this tab only. */
function SignIn() {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const previous = storedKey();
    saveKey(key.trim());
    try {
      await api('/tasks?limit=1');
      needsKey.value = false;
    } catch (err) {
      saveKey(previous);
      needsKey.value = true;
      setError(err instanceof ApiProblem && err.status === 401 ? 'That key was refused.' : message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <p>This service wants its API key. It is kept in this browser tab only, and sent with each call as a Bearer token.</p>
      <form onSubmit={submit}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="current-password"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
