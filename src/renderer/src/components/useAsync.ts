import { useCallback, useEffect, useState } from 'react';

/** Loads data once (and on reload()), tracking loading and a human-readable error. */
export function useAsync<T>(load: () => Promise<T>): {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
} {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load()
      .then((d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
      })
      .catch((e: unknown) => live && setError(e instanceof Error ? e.message : String(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // `load` is expected to be stable for the life of the page; reload() re-runs it.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data, error, loading, reload };
}
