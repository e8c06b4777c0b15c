import { signal } from '@preact/signals';

/**
 * Calls to the service's API with the operator's key. The key lives in
 * sessionStorage only (gone when the tab closes) and travels as a Bearer
 * token, never in a URL.
 */

const KEY = 'tributary.apiKey';

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

/** Set when a call answered 401: the page shows the sign-in form. */
export const needsKey = signal(false);

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(detail);
  }
}

export function authHeaders(): Record<string, string> {
  const key = storedKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** JSON from the API; a problem answer becomes an ApiProblem with its detail. */
export async function api<T>(path: string, init: { method?: string; signal?: AbortSignal } = {}): Promise<T> {
  const res = await fetch(path, { method: init.method ?? 'GET', headers: { accept: 'application/json', ...authHeaders() }, signal: init.signal ?? null });
  if (res.status === 401) {
    needsKey.value = true;
    throw new ApiProblem(401, 'The API key was refused: sign in.');
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const detail = (body as { detail?: unknown } | null)?.detail;
    throw new ApiProblem(res.status, typeof detail === 'string' ? detail : `${res.status} ${res.statusText}`);
  }
  return body as T;
}

export const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
