import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG } from '../../src/main/engine/run-config';
import { runPipeline } from '../../src/main/engine/pipeline';
import { ModelRegistry } from '../../src/main/models/model-registry';
import { studioHome } from '../../src/main/paths';
import { arg, GRID_PROMPTS } from './bench-util';

/**
 * `npx tsx tools/bench/shapes-grid.ts --out docs/tiny-shapes-engine-grid`: 16 prompts through the
 * studio's own engine (TypeScript pipeline + onnxruntime-node), 4x4, each cell scaled 2x, and a
 * Markdown file naming each cell's prompt. The check that the shipped ONNX files, not just the torch
 * model that made them, follow the prompt.
 */
const PROMPTS = GRID_PROMPTS;
const out = arg('out', 'docs/tiny-shapes-engine-grid');
const steps = Number(arg('steps', '25'));
const seed = Number(arg('seed', '100'));
const dir = new ModelRegistry(studioHome()).resolve(arg('model', 'tiny-shapes')).dir;
const sessions = new ModelSessions(await readModelInfo(dir), DEFAULT_RUN_CONFIG);
const cell = 128;
const pad = 4;
const grid = new PNG({ width: 4 * cell + 5 * pad, height: 4 * cell + 5 * pad });
grid.data.fill(40);
for (let i = 0; i < grid.data.length; i += 4) grid.data[i + 3] = 255;
for (const [i, prompt] of PROMPTS.entries()) {
  const r = await runPipeline(
    sessions,
    {
      modelDir: dir,
      prompt,
      negativePrompt: '',
      seed: seed + i,
      batch: 1,
      ep: 'cpu',
      steps,
      guidance: 7.5,
      previewEvery: 0,
    },
    { onProgress: () => {}, isCancelled: () => false },
  );
  const img = PNG.sync.read(Buffer.from(r.images[0].png));
  const scale = cell / img.width;
  const ox = pad + (i % 4) * (cell + pad);
  const oy = pad + Math.floor(i / 4) * (cell + pad);
  for (let y = 0; y < cell; y++)
    for (let x = 0; x < cell; x++) {
      const src = (Math.floor(y / scale) * img.width + Math.floor(x / scale)) * 4;
      const dst = ((oy + y) * grid.width + ox + x) * 4;
      for (let c = 0; c < 4; c++) grid.data[dst + c] = img.data[src + c];
    }
}
await sessions.releaseAll();
writeFileSync(`${out}.png`, PNG.sync.write(grid));
const rows = PROMPTS.map(
  (p, i) => `| ${Math.floor(i / 4) + 1} | ${(i % 4) + 1} | ${p} | ${seed + i} |`,
);
writeFileSync(
  `${out}.md`,
  [
    `# tiny-shapes through the studio's engine`,
    '',
    `![grid](${join('.', `${out.split('/').pop()}.png`)})`,
    '',
    `Made by \`npx tsx tools/bench/shapes-grid.ts\`: the TypeScript pipeline on onnxruntime-node (CPU), ${steps} steps of the model's own scheduler, guidance 7.5, one seed per cell. Cells are 64x64 images shown at 2x, read left to right, top to bottom.`,
    '',
    'Checked by eye when it is regenerated; see the note below the table.',
    '',
    '| row | column | prompt | seed |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n'),
);
console.log(`wrote ${out}.png and ${out}.md`);
