import { StoredImage } from '../components/StoredImage';
import { Alert, Card, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { useReloadOnShow } from '../components/useReloadOnShow';
import { useAsync } from '../components/useAsync';

function Thumb({ path, caption }: { path: string; caption: string }): React.JSX.Element {
  return (
    <Card withBorder padding="xs">
      <StoredImage path={path} alt={caption} />
      <Text size="xs" mt={4} lineClamp={2}>
        {caption}
      </Text>
    </Card>
  );
}

export function GalleryPage({ active }: PageProps): React.JSX.Element {
  const history = useAsync(() => studio.getHistory({ limit: 60 }));
  useReloadOnShow(active, history.reload);
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
