import { useEffect } from 'react';

/** Pages stay mounted while hidden; when one is shown again, reload what may have changed meanwhile. */
export function useReloadOnShow(active: boolean, reload: () => void): void {
  useEffect(() => {
    if (active) reload();
  }, [active, reload]);
}
