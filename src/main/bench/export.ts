import type { CompareResult, RunDetail } from '../../shared/bench-schemas';

/** A benchmark run as one JSON document (everything the detail view shows). */
export function runToJson(run: RunDetail): string {
  return `${JSON.stringify(run, null, 2)}\n`;
}

const csvCell = (v: unknown): string => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One row per recipe and test case: the figures a spreadsheet wants. */
export function runToCsv(run: RunDetail): string {
  const header = [
    'run',
    'recipe',
    'status',
    'verdict',
    'case',
    'prompt',
    'seed',
    'steps',
    'guidance',
    'latency_mean_ms',
    'latency_std_ms',
    'latency_median_ms',
    'text_encoder_ms',
    'unet_ms',
    'vae_ms',
    'ssim',
    'psnr_db',
    'recipe_speedup',
    'recipe_peak_rss_mb',
    'image',
  ];
  const rows: unknown[][] = [];
  for (const r of run.recipes) {
    if (r.cases.length === 0) {
      rows.push([
        run.id,
        r.name,
        r.status,
        r.verdict,
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        r.speedup,
        r.peakRssMb,
        '',
      ]);
    }
    for (const c of r.cases) {
      rows.push([
        run.id,
        r.name,
        r.status,
        r.verdict,
        c.caseIndex,
        c.prompt,
        c.seed,
        c.steps,
        c.guidance,
        c.latencyMs.mean,
        c.latencyMs.std,
        c.latencyMs.median,
        c.stagesMs.textEncoder ?? '',
        c.stagesMs.unet ?? '',
        c.stagesMs.vae ?? '',
        c.ssim,
        c.psnr,
        r.speedup,
        r.peakRssMb,
        c.imagePath,
      ]);
    }
  }
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n') + '\n';
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A grouped bar chart of mean latency per recipe for two runs, as SVG. Written by hand because the
 * UI's chart library (recharts) needs a DOM, and a dozen rectangles do not justify a headless
 * renderer in the main process.
 */
export function compareChartSvg(c: CompareResult): string {
  const rows = c.recipes.filter((r) => r.latencyA !== null || r.latencyB !== null);
  const max = Math.max(1, ...rows.flatMap((r) => [r.latencyA ?? 0, r.latencyB ?? 0]));
  const barH = 14;
  const gap = 12;
  const left = 150;
  const width = 640;
  const plot = width - left - 90;
  const top = 40;
  const height = top + rows.length * (2 * barH + gap) + 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">Mean latency per image (ms): run #${c.runA} vs run #${c.runB}</text>`,
    `<rect x="${left}" y="26" width="10" height="10" fill="#7950f2"/><text x="${left + 14}" y="35">#${c.runA}</text>`,
    `<rect x="${left + 60}" y="26" width="10" height="10" fill="#12b886"/><text x="${left + 74}" y="35">#${c.runB}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * (2 * barH + gap);
    parts.push(`<text x="${left - 8}" y="${y + barH + 4}" text-anchor="end">${esc(r.name)}</text>`);
    for (const [k, v, colour] of [
      [0, r.latencyA, '#7950f2'],
      [1, r.latencyB, '#12b886'],
    ] as const) {
      const yy = y + k * barH;
      if (v === null) {
        parts.push(`<text x="${left + 4}" y="${yy + barH - 3}" fill="#868e96">not run</text>`);
        continue;
      }
      const w = Math.max(1, (v / max) * plot);
      parts.push(
        `<rect x="${left}" y="${yy}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${colour}"/>`,
      );
      parts.push(
        `<text x="${(left + w + 4).toFixed(1)}" y="${yy + barH - 3}">${v.toFixed(0)}</text>`,
      );
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
