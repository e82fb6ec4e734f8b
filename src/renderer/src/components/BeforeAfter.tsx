import { useState } from 'react';
import { Group, Loader, SegmentedControl, Stack, Text } from '@mantine/core';
import { ReactCompareSlider, ReactCompareSliderImage } from 'react-compare-slider';
import type { GalleryImage } from '../../../shared/library-schemas';
import { useImageData } from './useImageData';

const ZOOMS = ['fit', '1', '2', '4', '8'] as const;
type Zoom = (typeof ZOOMS)[number];
const FIT_PX = 448;

/** Nearest-neighbour scaling: a 64x64 image at 4x shows its pixels, not a blur. */
const pixelated = { imageRendering: 'pixelated' } as const;

function size(natural: number, zoom: Zoom): number {
  return zoom === 'fit' ? FIT_PX : natural * Number(zoom);
}

/**
 * A benchmark image against its baseline: a draggable split (react-compare-slider; the handle is
 * a keyboard slider too), or the difference heatmap; zoom to whole pixels.
 */
export function BeforeAfter({ image }: { image: GalleryImage }): React.JSX.Element {
  const after = useImageData(image.path);
  const before = useImageData(image.baselinePath);
  const heatmap = useImageData(image.heatmapPath);
  const [view, setView] = useState<'split' | 'heatmap'>('split');
  const [zoom, setZoom] = useState<Zoom>('4');
  const [natural, setNatural] = useState({ w: image.width ?? 64, h: image.height ?? 64 });
  const w = size(natural.w, zoom);
  const h =
    zoom === 'fit' ? Math.round((FIT_PX * natural.h) / natural.w) : natural.h * Number(zoom);
  const error = after.error ?? before.error;
  const paired = image.baselinePath !== null;

  return (
    <Stack gap="xs" data-testid="before-after">
      <Group justify="space-between" wrap="wrap">
        {paired ? (
          <SegmentedControl
            value={view}
            onChange={(v) => setView(v === 'heatmap' ? 'heatmap' : 'split')}
            data={[
              { value: 'split', label: 'Before / after' },
              { value: 'heatmap', label: 'Difference heatmap', disabled: !image.heatmapPath },
            ]}
            aria-label="view"
            data-testid="view-toggle"
          />
        ) : (
          <Text size="sm" c="dimmed">
            {image.kind === 'bench'
              ? 'The baseline itself: the other recipes are compared with this image.'
              : 'A generated image.'}
          </Text>
        )}
        <Group gap={6}>
          <Text size="sm" id="zoom-label">
            Zoom
          </Text>
          <SegmentedControl
            value={zoom}
            onChange={(v) => setZoom(ZOOMS.find((z) => z === v) ?? 'fit')}
            data={ZOOMS.map((z) => ({ value: z, label: z === 'fit' ? 'Fit' : `${z}:1` }))}
            aria-labelledby="zoom-label"
            data-testid="zoom"
          />
        </Group>
      </Group>
      {error && (
        <Text c="red" size="sm">
          {error}
        </Text>
      )}
      <div
        style={{ overflow: 'auto', maxHeight: '62vh', maxWidth: '100%' }}
        data-testid="image-viewport"
      >
        {!after.src || (paired && !before.src) ? (
          <Loader size="sm" role="status" aria-label="loading the images" />
        ) : paired && view === 'split' && before.src ? (
          <div style={{ width: w, height: h }}>
            <ReactCompareSlider
              style={{ width: w, height: h }}
              itemOne={
                <ReactCompareSliderImage
                  src={before.src}
                  alt={`baseline (${image.baselineRecipe ?? 'baseline'})`}
                  style={{ ...pixelated, objectFit: 'fill' }}
                />
              }
              itemTwo={
                <ReactCompareSliderImage
                  src={after.src}
                  alt={`${image.recipe ?? 'recipe'} image`}
                  style={{ ...pixelated, objectFit: 'fill' }}
                  onLoad={(e) =>
                    setNatural({
                      w: e.currentTarget.naturalWidth,
                      h: e.currentTarget.naturalHeight,
                    })
                  }
                />
              }
              data-testid="compare-slider"
            />
          </div>
        ) : view === 'heatmap' && paired ? (
          heatmap.src ? (
            <img
              src={heatmap.src}
              alt={`difference between the baseline and ${image.recipe ?? 'the recipe'}`}
              width={w}
              height={h}
              style={pixelated}
              data-testid="heatmap"
            />
          ) : (
            <Loader size="sm" role="status" aria-label="loading the heatmap" />
          )
        ) : (
          <img
            src={after.src}
            alt={image.prompt}
            width={w}
            height={h}
            style={pixelated}
            onLoad={(e) =>
              setNatural({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })
            }
          />
        )}
      </div>
      {paired && view === 'split' && (
        <Group justify="space-between" w={Math.max(w, 240)}>
          <Text size="xs" c="dimmed">
            ← {image.baselineRecipe ?? 'baseline'} (before)
          </Text>
          <Text size="xs" c="dimmed">
            {image.recipe} (after) →
          </Text>
        </Group>
      )}
      {view === 'heatmap' && (
        <Text size="xs" c="dimmed">
          Brighter pixels differ more from the baseline image of the same prompt and seed.
        </Text>
      )}
      <Text size="xs" c="dimmed">
        {natural.w}x{natural.h} pixels
        {zoom === 'fit' ? '' : `, each shown as ${zoom}x${zoom} screen pixels`}
      </Text>
    </Stack>
  );
}
