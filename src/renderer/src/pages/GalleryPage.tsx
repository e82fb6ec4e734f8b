import { useEffect, useState } from 'react';
import { Alert, Card, Image, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { studio } from '../api/client';
import { useAsync } from '../components/useAsync';

function Thumb({ path, caption }: { path: string; caption: string }): React.JSX.Element {
  const [src, setSrc] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    studio
      .readImage({ path })
      .then((r) => setSrc(r.dataUrl))
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [path]);
  return (
    <Card withBorder padding="xs">
      {src ? (
        <Image
          src={src}
          alt={caption}
          h={160}
          fit="contain"
          style={{ imageRendering: 'pixelated' }}
        />
      ) : (
        <Text size="xs">{error ?? 'loading…'}</Text>
      )}
      <Text size="xs" mt={4} lineClamp={2}>
        {caption}
      </Text>
    </Card>
  );
}

export function GalleryPage(): React.JSX.Element {
  const history = useAsync(() => studio.getHistory({ limit: 60 }));
  const images = (history.data ?? []).flatMap((run) =>
    run.images.map((path) => ({ path, caption: `#${run.id} ${run.summary}` })),
  );
  return (
    <Stack>
      <Title order={2}>Gallery</Title>
      {history.error && <Alert color="red">{history.error}</Alert>}
      {!history.loading && images.length === 0 && (
        <Text c="dimmed">No images yet: generate one and it appears here.</Text>
      )}
      <SimpleGrid cols={{ base: 2, sm: 4, lg: 6 }} data-testid="gallery">
        {images.map((i) => (
          <Thumb key={i.path} path={i.path} caption={i.caption} />
        ))}
      </SimpleGrid>
    </Stack>
  );
}
