import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { detectFamily } from '../../src/main/models/model-folder';

/** Each signature fixture loads in onnxruntime-node and its I/O metadata matches the manifest. */
const root = resolve('test/fixtures/models');
const TensorSchema = z.object({ name: z.string(), dtype: z.string(), rank: z.number().int() });
const ManifestSchema = z.object({
  fixtures: z.record(
    z.string(),
    z.object({
      family: z.string(),
      components: z.record(
        z.string(),
        z.object({
          file: z.string(),
          inputs: z.array(TensorSchema),
          outputs: z.array(TensorSchema),
        }),
      ),
    }),
  ),
});
const manifest = ManifestSchema.parse(
  JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')),
);
const fixtures = Object.entries(manifest.fixtures);

describe('signature fixtures', () => {
  it('cover every Stable Diffusion family', () => {
    const families = new Set(fixtures.map(([, f]) => f.family));
    expect([...families].sort()).toEqual(['lcm', 'sd-turbo', 'sd1', 'sd2', 'sdxl']);
  });

  describe.each(fixtures)('%s', (name, fixture) => {
    it('is detected as its family from the files', () => {
      expect(detectFamily(join(root, name))).toBe(fixture.family);
    });

    it.each(Object.entries(fixture.components))(
      '%s matches the manifest in ORT',
      async (_c, component) => {
        const session = await ort.InferenceSession.create(join(root, name, component.file));
        const describe = (meta: readonly ort.InferenceSession.ValueMetadata[]) =>
          meta.map((m) => ({
            name: m.name,
            dtype: m.isTensor ? m.type : '?',
            rank: m.isTensor ? m.shape.length : -1,
          }));
        expect(describe(session.inputMetadata)).toEqual(
          component.inputs.map(({ name, dtype, rank }) => ({ name, dtype, rank })),
        );
        expect(describe(session.outputMetadata)).toEqual(
          component.outputs.map(({ name, dtype, rank }) => ({ name, dtype, rank })),
        );
        await session.release();
      },
    );
  });
});
