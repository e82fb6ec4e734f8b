import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeProto } from 'onnx-buf';
import { fuseAttention, type AttentionReport } from './attention';
import { floatAttr, getAttr, makeNode, OnnxModel } from './onnx-model';
import { checkComponent } from './self-check';

const ROOT = resolve(__dirname, '../../..');
const TINY = join(ROOT, 'resources/models/tiny-shapes');
const FAMILIES = join(ROOT, 'test/fixtures/models');
const PATTERNS = join(ROOT, 'test/fixtures/attention');

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ls-attention-'));
  temps.push(d);
  return d;
}

const count = (m: OnnxModel, op: string): number =>
  m.graph.node.filter((n) => n.opType === op).length;

interface Fused {
  report: AttentionReport;
  model: OnnxModel;
  file: string;
  mha: NodeProto[];
  /** Output names of every node in the source, to check the fused nodes reuse them. */
  sourceOutputs: Set<string>;
}

function fuse(file: string): Fused {
  const model = OnnxModel.read(file);
  const sourceOutputs = new Set(model.graph.node.flatMap((n) => n.output));
  const report = fuseAttention(model);
  const out = tempDir();
  model.write(out);
  model.close();
  const mha = model.graph.node.filter((n) => n.opType === 'MultiHeadAttention');
  return { report, model, file: join(out, 'model.onnx'), mha, sourceOutputs };
}

/** Structure every fused result must have, whatever the model. */
function expectWellFormed(f: Fused): void {
  expect(f.mha.length).toBe(f.report.fused);
  expect(f.report.selfAttention + f.report.crossAttention).toBe(f.report.fused);
  // Every Softmax still present belongs to a block that was left, and none to a fused one.
  expect(count(f.model, 'Softmax')).toBe(f.report.left.length);
  for (const n of f.mha) {
    expect(n.domain).toBe('com.microsoft');
    expect(n.input).toHaveLength(3);
    expect(new Set(n.input).size).toBe(3);
    expect(Number(getAttr(n, 'num_heads')?.i)).toBeGreaterThan(0);
    // Downstream nodes keep reading the same tensor name.
    expect(f.sourceOutputs.has(n.output[0])).toBe(true);
  }
  if (f.report.fused > 0) {
    expect(f.model.opsetVersion('com.microsoft')).toBeGreaterThanOrEqual(1);
  }
}

async function expectSameOutputs(
  source: string,
  variant: string,
  component: string,
  modelDir: string,
): Promise<void> {
  const figures = await checkComponent(source, variant, component, modelDir);
  expect(figures.nanCount).toBe(0);
  expect(figures.cosine).toBeGreaterThanOrEqual(0.9999);
}

describe('fuseAttention on tiny-shapes', () => {
  it('fuses all 10 UNet blocks (5 self + 5 cross) and keeps the outputs', async () => {
    const source = join(TINY, 'unet/model.onnx');
    const f = fuse(source);
    expect(f.report).toEqual({ fused: 10, selfAttention: 5, crossAttention: 5, left: [] });
    expectWellFormed(f);
    // head_dim 16 with scale 0.25 is MultiHeadAttention's default: no explicit scale.
    for (const n of f.mha) {
      expect(Number(getAttr(n, 'num_heads')?.i)).toBe(4);
      expect(getAttr(n, 'scale')).toBeUndefined();
    }
    await expectSameOutputs(source, f.file, 'unet', TINY);
  });

  it('leaves the causally masked text encoder blocks with reason "mask"', async () => {
    const source = join(TINY, 'text_encoder/model.onnx');
    const f = fuse(source);
    expect(f.report.fused).toBe(0);
    expect(f.report.left).toHaveLength(3);
    for (const l of f.report.left) {
      expect(l.reason).toMatch(/^mask/);
      expect(l.node).toMatch(/Softmax/);
    }
    expectWellFormed(f);
    expect(f.model.opsetVersion('com.microsoft')).toBe(0);
    await expectSameOutputs(source, f.file, 'text_encoder', TINY);
  });
});

describe('fuseAttention on every fixture family UNet', () => {
  const families = [
    'sd15-optimum-float',
    'sd15-optimum-int64',
    'sd15-diffusers-script',
    'sd21-vpred',
    'sd-turbo',
    'lcm',
    'sdxl',
  ];
  for (const family of families) {
    it(`${family}: one cross-attention fused`, async () => {
      const dir = join(FAMILIES, family);
      const source = join(dir, 'unet/model.onnx');
      const f = fuse(source);
      expect(f.report).toEqual({ fused: 1, selfAttention: 0, crossAttention: 1, left: [] });
      expectWellFormed(f);
      expect(Number(getAttr(f.mha[0], 'num_heads')?.i)).toBe(2);
      await expectSameOutputs(source, f.file, 'unet', dir);
    });
  }
});

describe('fuseAttention on the export-form fixtures', () => {
  const cases: { name: string; self: number; cross: number; heads: number }[] = [
    { name: 'split4d', self: 1, cross: 0, heads: 4 },
    { name: 'diffusers-baddbmm', self: 1, cross: 0, heads: 4 },
    { name: 'sdpa-sqrt-scale', self: 1, cross: 0, heads: 4 },
    { name: 'div-scale', self: 1, cross: 0, heads: 4 },
    { name: 'cross-context48', self: 0, cross: 1, heads: 2 },
  ];
  for (const c of cases) {
    it(`${c.name}: fused as ${c.self ? 'self' : 'cross'}-attention`, async () => {
      const source = join(PATTERNS, `${c.name}.onnx`);
      const f = fuse(source);
      expect(f.report).toEqual({
        fused: c.self + c.cross,
        selfAttention: c.self,
        crossAttention: c.cross,
        left: [],
      });
      expectWellFormed(f);
      expect(Number(getAttr(f.mha[0], 'num_heads')?.i)).toBe(c.heads);
      // All of these use 1/sqrt(head_dim), folded however the export spelled it.
      expect(getAttr(f.mha[0], 'scale')).toBeUndefined();
      // The head split, scale and merge all went with the block.
      expect(count(f.model, 'Transpose')).toBe(0);
      expect(count(f.model, 'MatMul')).toBe(5);
      await expectSameOutputs(source, f.file, 'attention', PATTERNS);
    });
  }

  it('leaves a block with an additive mask and says why', async () => {
    const source = join(PATTERNS, 'masked.onnx');
    const f = fuse(source);
    expect(f.report.fused).toBe(0);
    expect(f.report.left).toEqual([{ node: '/Softmax', reason: expect.stringMatching(/^mask/) }]);
    expect(count(f.model, 'Softmax')).toBe(1);
    expect(f.mha).toHaveLength(0);
    await expectSameOutputs(source, f.file, 'attention', PATTERNS);
  });
});

describe('fuseAttention edge cases (edited copies of split4d)', () => {
  /** Edits a copy of a fixture and writes it as a new source model. */
  function edited(edit: (m: OnnxModel) => void): string {
    const m = OnnxModel.read(join(PATTERNS, 'split4d.onnx'));
    edit(m);
    const dir = tempDir();
    m.write(dir);
    m.close();
    return join(dir, 'model.onnx');
  }

  const softmaxOf = (m: OnnxModel): NodeProto =>
    m.graph.node.find((n) => n.opType === 'Softmax') as NodeProto;

  it('leaves a Softmax that is not over the last axis', () => {
    const source = edited((m) => {
      const axis = getAttr(softmaxOf(m), 'axis');
      if (axis) axis.i = 1n;
      else throw new Error('fixture Softmax has no axis attribute');
    });
    const f = fuse(source);
    expect(f.report.fused).toBe(0);
    expect(f.report.left[0].reason).toMatch(/axis 1/);
  });

  /** The Concat building each 4D head-split target, [B, -1, H, D] in this fixture. */
  const splitShapes = (m: OnnxModel): NodeProto[] =>
    m.graph.node.filter(
      (n) =>
        n.opType === 'Concat' &&
        n.input.length === 4 &&
        m.consumers(n.output[0]).some((c) => c.opType === 'Reshape'),
    );

  it('leaves a block whose head count is computed at run time', () => {
    const source = edited((m) => {
      const concats = splitShapes(m);
      expect(concats).toHaveLength(3);
      // H taken from a Shape → Gather → Unsqueeze piece, like the batch entry beside it.
      for (const c of concats) c.input[2] = c.input[0];
    });
    const f = fuse(source);
    expect(f.report.fused).toBe(0);
    expect(f.report.left[0].reason).toMatch(/head count is not a constant/);
  });

  it('leaves a block whose head-split shape cannot be read', () => {
    const source = edited((m) => {
      const c = splitShapes(m)[0];
      const hidden = m.uniqueName('heads');
      const at = m.graph.node.indexOf(c);
      m.graph.node.splice(at, 0, makeNode('Identity', [c.input[2]], [hidden], hidden));
      c.input[2] = hidden;
      m.reindex();
    });
    const f = fuse(source);
    expect(f.report.fused).toBe(0);
    expect(f.report.left[0].reason).toMatch(/^unknown shape/);
  });

  it('writes scale = 1.0 as a float attribute when the export has no scale', async () => {
    const source = edited((m) => {
      const sm = softmaxOf(m);
      const mul = m.producer(sm.input[0]) as NodeProto;
      expect(mul.opType).toBe('Mul');
      sm.input[0] = mul.input[0];
      m.prune();
    });
    const f = fuse(source);
    expect(f.report.fused).toBe(1);
    const scale = getAttr(f.mha[0], 'scale');
    expect(scale?.type).toBe(floatAttr('scale', 1).type);
    expect(scale?.f).toBe(1);
    await expectSameOutputs(source, f.file, 'attention', dirname(source));
  });

  it('the self-check catches a wrong scale (the comparison can fail)', async () => {
    const source = join(PATTERNS, 'split4d.onnx');
    const f = fuse(source);
    const m = OnnxModel.read(f.file);
    m.graph.node
      .find((n) => n.opType === 'MultiHeadAttention')
      ?.attribute.push(floatAttr('scale', 3));
    const dir = tempDir();
    m.write(dir);
    m.close();
    const figures = await checkComponent(source, join(dir, 'model.onnx'), 'attention', PATTERNS);
    expect(figures.cosine).toBeLessThan(0.9999);
  });
});
