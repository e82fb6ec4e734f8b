import { useEffect, useState } from 'react';
import { Image, Text } from '@mantine/core';
import { studio } from '../api/client';

/** An image the studio wrote, fetched through the API (the renderer never reads files itself). */
export function StoredImage({
  path,
  alt,
  h = 160,
}: {
  path: string;
  alt: string;
  h?: number;
}): React.JSX.Element {
  const [src, setSrc] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    studio
      .readImage({ path })
      .then((r) => live && setSrc(r.dataUrl))
      .catch((e: unknown) => live && setError(e instanceof Error ? e.message : String(e)));
    return () => {
      live = false;
    };
  }, [path]);
  if (error)
    return (
      <Text size="xs" c="red">
        {error}
      </Text>
    );
  if (!src)
    return (
      <Text size="xs" c="dimmed">
        loading…
      </Text>
    );
  return (
    <Image src={src} alt={alt} h={h} w={h} fit="contain" style={{ imageRendering: 'pixelated' }} />
  );
}
