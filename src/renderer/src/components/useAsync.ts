import { useCallback, useEffect, useState } from 'react';

interface Loaded<T> {
  nonce: number;
  data?: T;
  error?: string;
}

/** Loads data once (and again on reload()), tracking loading and a human-readable error. */
export function useAsync<T>(load: () => Promise<T>): {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
} {
  const [nonce, setNonce] = useState(0);
  const [loaded, setLoaded] = useState<Loaded<T>>({ nonce: -1 });
  useEffect(() => {
    let live = true;
    load().then(
      (data) => live && setLoaded({ nonce, data }),
      (e: unknown) =>
        live && setLoaded({ nonce, error: e instanceof Error ? e.message : String(e) }),
    );
    return () => {
      live = false;
    };
    // `load` is expected to be stable for the life of the page; reload() re-runs it.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data: loaded.data, error: loaded.error, loading: loaded.nonce !== nonce, reload };
}
