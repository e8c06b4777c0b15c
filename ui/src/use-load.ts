import { useCallback, useEffect, useState } from 'preact/hooks';
import { message } from './api';

/** Loads with `fetcher` on mount and whenever `deps` change; `reload` fetches again keeping what is shown. */
export function useLoad<T>(fetcher: () => Promise<T>, deps: readonly unknown[]): { data: T | null; error: string | null; reload: () => Promise<void> } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(fetcher, deps);
  const reload = useCallback(async () => {
    try {
      setData(await load());
      setError(null);
    } catch (err) {
      setError(message(err));
    }
  }, [load]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, reload };
}
