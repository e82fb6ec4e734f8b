import { useEffect, useState } from 'react';
import { studio } from '../api/client';
import { errorText } from './notify';

/** An image the studio wrote, as a data: URL fetched through the API (null path: nothing). */
export function useImageData(path: string | null): { src?: string; error?: string } {
  const [loaded, setLoaded] = useState<{ path: string; src?: string; error?: string }>();
  useEffect(() => {
    if (!path) return;
    let live = true;
    studio.readImage({ path }).then(
      (r) => live && setLoaded({ path, src: r.dataUrl }),
      (e: unknown) => live && setLoaded({ path, error: errorText(e) }),
    );
    return () => {
      live = false;
    };
  }, [path]);
  return loaded && loaded.path === path ? loaded : {};
}
