import { useCallback, useEffect, useState } from 'react';
import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  Modal,
  SimpleGrid,
  Select,
  Stack,
  Text,
  Title,
  UnstyledButton,
} from '@mantine/core';
import type { GalleryImage, ImageList } from '../../../shared/library-schemas';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { useReloadOnShow } from '../components/useReloadOnShow';
import { useImageData } from '../components/useImageData';
import { BeforeAfter } from '../components/BeforeAfter';
import { QualityBadges } from '../components/QualityBadges';
import { EmptyState } from '../components/EmptyState';
import { navigate, onNavigate } from '../components/navigate';
import { errorText } from '../components/notify';

interface Filters {
  kind: 'generate' | 'bench' | null;
  runId: number | null;
  model: string | null;
  recipe: string | null;
  caseIndex: number | null;
}
const NO_FILTERS: Filters = { kind: null, runId: null, model: null, recipe: null, caseIndex: null };

const caption = (i: GalleryImage): string =>
  i.kind === 'bench' ? `#${i.runId} ${i.recipe} · case ${(i.caseIndex ?? 0) + 1}` : `#${i.runId}`;

function Thumb({
  image,
  list,
  onOpen,
}: {
  image: GalleryImage;
  list: ImageList;
  onOpen: () => void;
}): React.JSX.Element {
  const { src, error } = useImageData(image.path);
  return (
    <Card withBorder padding="xs">
      <UnstyledButton
        onClick={onOpen}
        aria-label={`Open ${caption(image)}${image.baselinePath ? ' against its baseline' : ''}`}
        data-testid={`thumb-${image.id}`}
        data-paired={image.baselinePath ? 'yes' : 'no'}
      >
        {src ? (
          <img
            src={src}
            alt={image.prompt}
            width={128}
            height={128}
            style={{ imageRendering: 'pixelated', display: 'block' }}
          />
        ) : (
          <Text size="xs" c={error ? 'red' : 'dimmed'} h={128}>
            {error ?? 'loading…'}
          </Text>
        )}
      </UnstyledButton>
      <Text size="xs" mt={4} fw={500}>
        {caption(image)}
      </Text>
      <Text size="xs" c="dimmed" lineClamp={1} title={image.prompt}>
        {image.prompt}
      </Text>
      <QualityBadges ssim={image.ssim} psnr={null} thresholds={list.thresholds} size="xs" />
    </Card>
  );
}

/**
 * Every image the studio made. A benchmark image opens against its baseline: a split slider, the
 * difference heatmap, SSIM/PSNR coloured by the thresholds, zoom to whole pixels.
 */
export function GalleryPage({ active }: PageProps): React.JSX.Element {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [list, setList] = useState<ImageList>();
  const [error, setError] = useState<string>();
  const [openIndex, setOpenIndex] = useState<number | null>(null);

  const load = useCallback(() => {
    studio
      .listImages({
        kind: filters.kind ?? undefined,
        runId: filters.runId ?? undefined,
        model: filters.model ?? undefined,
        recipe: filters.recipe ?? undefined,
        caseIndex: filters.caseIndex ?? undefined,
      })
      .then(
        (l) => {
          setList(l);
          setError(undefined);
        },
        (e: unknown) => setError(errorText(e)),
      );
  }, [filters]);
  useEffect(load, [load]);
  useReloadOnShow(active, load);
  // "Open in the Gallery" from a run: show that run.
  useEffect(
    () =>
      onNavigate(({ page, runId }) => {
        if (page === 'gallery' && runId !== undefined) setFilters({ ...NO_FILTERS, runId });
      }),
    [],
  );

  const images = list?.images ?? [];
  const opened = openIndex === null ? undefined : images[openIndex];
  const set = <K extends keyof Filters>(key: K, value: Filters[K]): void =>
    setFilters((f) => ({ ...f, [key]: value }));
  const filtered = Object.values(filters).some((v) => v !== null);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Gallery</Title>
        <Text size="sm" c="dimmed">
          {list ? `${images.length} image${images.length === 1 ? '' : 's'}` : ''}
        </Text>
      </Group>
      {error && (
        <Alert color="red" title="Could not list the images">
          {error} — check that the studio is still running, then reopen this page.
        </Alert>
      )}
      {list && (
        <Group align="end" data-testid="gallery-filters">
          <Select
            label="Kind"
            placeholder="everything"
            data={[
              { value: 'generate', label: 'generations' },
              { value: 'bench', label: 'benchmark cases' },
            ]}
            value={filters.kind}
            onChange={(v) => set('kind', v === 'generate' || v === 'bench' ? v : null)}
            clearable
            w={170}
          />
          <Select
            label="Run"
            placeholder="every run"
            data={list.facets.runs.map((r) => ({
              value: String(r.id),
              label: `#${r.id} ${r.kind === 'bench' ? 'benchmark' : 'generation'}`,
            }))}
            value={filters.runId === null ? null : String(filters.runId)}
            onChange={(v) => set('runId', v === null ? null : Number(v))}
            clearable
            searchable
            w={190}
            data-testid="filter-run"
          />
          <Select
            label="Model"
            placeholder="every model"
            data={list.facets.models}
            value={filters.model}
            onChange={(v) => set('model', v)}
            clearable
            w={170}
          />
          <Select
            label="Recipe"
            placeholder="every recipe"
            data={list.facets.recipes}
            value={filters.recipe}
            onChange={(v) => set('recipe', v)}
            clearable
            searchable
            w={190}
            data-testid="filter-recipe"
          />
          <Select
            label="Case"
            placeholder="every case"
            data={list.facets.cases.map((c) => ({ value: String(c), label: `case ${c + 1}` }))}
            value={filters.caseIndex === null ? null : String(filters.caseIndex)}
            onChange={(v) => set('caseIndex', v === null ? null : Number(v))}
            clearable
            w={130}
          />
          {filtered && (
            <Button variant="subtle" onClick={() => setFilters(NO_FILTERS)}>
              Clear filters
            </Button>
          )}
        </Group>
      )}
      {list && images.length === 0 && !filtered && (
        <EmptyState
          title="No images yet"
          action="Generate an image"
          onAction={() => navigate({ page: 'generate' })}
          testId="gallery-empty"
        >
          Every image the studio makes lands here: generations, and each benchmark case beside its
          baseline (run the Wizard, Alt+2, to measure recipes and see their before/after).
        </EmptyState>
      )}
      {list && images.length === 0 && filtered && (
        <EmptyState
          title="No image matches these filters"
          action="Clear filters"
          onAction={() => setFilters(NO_FILTERS)}
        />
      )}
      {list && (
        <SimpleGrid cols={{ base: 2, sm: 4, lg: 6 }} data-testid="gallery">
          {images.map((image, i) => (
            <Thumb key={image.id} image={image} list={list} onOpen={() => setOpenIndex(i)} />
          ))}
        </SimpleGrid>
      )}
      <Modal
        opened={opened !== undefined}
        onClose={() => setOpenIndex(null)}
        size="auto"
        title={opened ? caption(opened) : ''}
        data-testid="image-modal"
      >
        {opened && list && (
          <Stack gap="sm" miw={480}>
            <Group gap="xs">
              <QualityBadges ssim={opened.ssim} psnr={opened.psnr} thresholds={list.thresholds} />
              {opened.verdict && <Badge variant="outline">{opened.verdict}</Badge>}
              {opened.latencyMs !== null && (
                <Badge variant="default">{opened.latencyMs.toFixed(0)} ms per image</Badge>
              )}
            </Group>
            <BeforeAfter key={opened.id} image={opened} />
            <Text size="sm">
              {opened.prompt}{' '}
              <Text span c="dimmed">
                · seed {opened.seed ?? '–'} · {opened.model} ·{' '}
                {new Date(opened.createdAt).toLocaleString()}
              </Text>
            </Text>
            <Group justify="space-between">
              <Group gap="xs">
                <Button
                  size="xs"
                  variant="default"
                  disabled={openIndex === 0}
                  onClick={() => setOpenIndex((i) => (i === null ? null : Math.max(0, i - 1)))}
                >
                  Previous
                </Button>
                <Button
                  size="xs"
                  variant="default"
                  disabled={openIndex === images.length - 1}
                  onClick={() =>
                    setOpenIndex((i) => (i === null ? null : Math.min(images.length - 1, i + 1)))
                  }
                >
                  Next
                </Button>
              </Group>
              {opened.kind === 'bench' && (
                <Button
                  size="xs"
                  variant="light"
                  onClick={() => {
                    setOpenIndex(null);
                    navigate({ page: 'history', runId: opened.runId });
                  }}
                >
                  Open run #{opened.runId} in History
                </Button>
              )}
            </Group>
          </Stack>
        )}
      </Modal>
    </Stack>
  );
}
