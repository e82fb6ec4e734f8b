import { Badge, Group } from '@mantine/core';
import type { QualityThresholds } from '../../../shared/library-schemas';

/** Green: acceptable; yellow: degraded; red: over-optimized (the benchmark's own thresholds). */
export function ssimColor(ssim: number, t: QualityThresholds): string {
  if (ssim > t.ssimAcceptable) return 'green';
  if (ssim >= t.ssimOverOptimized) return 'yellow';
  return 'red';
}

export function psnrColor(psnr: number, t: QualityThresholds): string {
  return psnr > t.psnrAcceptableDb ? 'green' : 'yellow';
}

export function QualityBadges({
  ssim,
  psnr,
  thresholds,
  size = 'md',
}: {
  ssim: number | null;
  psnr: number | null;
  thresholds: QualityThresholds;
  size?: 'xs' | 'sm' | 'md' | 'lg';
}): React.JSX.Element | null {
  if (ssim === null && psnr === null) return null;
  return (
    <Group gap={4} wrap="nowrap">
      {ssim !== null && (
        <Badge
          size={size}
          color={ssimColor(ssim, thresholds)}
          variant="light"
          title={`SSIM against the baseline image; acceptable above ${thresholds.ssimAcceptable}, over-optimized below ${thresholds.ssimOverOptimized}`}
          data-testid="ssim-badge"
        >
          SSIM {ssim.toFixed(3)}
        </Badge>
      )}
      {psnr !== null && (
        <Badge
          size={size}
          color={psnrColor(psnr, thresholds)}
          variant="light"
          title={`PSNR against the baseline image; acceptable above ${thresholds.psnrAcceptableDb} dB`}
          data-testid="psnr-badge"
        >
          PSNR {psnr.toFixed(1)} dB
        </Badge>
      )}
    </Group>
  );
}
