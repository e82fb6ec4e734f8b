import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  OperatorSetIdProtoSchema,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { afterAll, describe, expect, it } from 'vitest';
import { convertToFp16, inferElementTypes, type Fp16Report } from './fp16';
import { attr, makeNode, makeTensor, OnnxModel } from './onnx-model';
import { checkComponent } from './self-check';
import { valueInfo } from '../../../test/helpers/onnx-build';
import { bytesPerElement, DT, dimsOf, elementCount, halfToFloat, viewAs } from './tensor-data';

const ROOT = resolve(__dirname, '../../..');
const TINY = join(ROOT, 'resources/models/tiny-shapes');
const FIXTURES = join(ROOT, 'test/fixtures/models');
const FAMILIES = [
  'sd15-optimum-float',
  'sd15-optimum-int64',
  'sd15-diffusers-script',
  'sd21-vpred',
  'sd-turbo',
  'lcm',
  'sdxl',
];

const cases: { label: string; modelDir: string; component: string }[] = [
  ...['unet', 'text_encoder', 'vae_decoder'].map((component) => ({
    label: `tiny-shapes/${component}`,
    modelDir: TINY,
    component,
  })),
  ...FAMILIES.flatMap((family) =>
    ['unet', 'text_encoder', ...(family === 'sdxl' ? ['text_encoder_2'] : [])].map((component) => ({
      label: `${family}/${component}`,
      modelDir: join(FIXTURES, family),
      component,
    })),
  ),
];

const temp = mkdtempSync(join(tmpdir(), 'fp16-test-'));
afterAll(() => {
  rmSync(temp, { recursive: true, force: true });
  console.log(
    ['figures (size ratio vs float32, cosine, casts, kept fp32):', ...figures].join('\n'),
  );
});
const figures: string[] = [];
let counter = 0;

function convertTo(
  source: string,
  mode: 'compute' | 'storage',
  opBlockList?: string[],
): { file: string; report: Fp16Report } {
  const model = OnnxModel.read(source);
  try {
    const report = convertToFp16(model, { mode, opBlockList });
    const dir = join(temp, `v${counter++}`);
    mkdirSync(dir, { recursive: true });
    model.write(dir);
    return { file: join(dir, 'model.onnx'), report };
  } finally {
    model.close();
  }
}

/** Weight bytes as the source would take with every float tensor in float32 (tiny-shapes ships fp16). */
function float32Bytes(file: string): number {
  const m = OnnxModel.read(file);
  let sum = 0;
  for (const t of m.graph.initializer) {
    const width = t.dataType === DT.FLOAT16 ? 4 : bytesPerElement(t.dataType);
    sum += elementCount(dimsOf(t)) * width;
  }
  m.close();
  return sum;
}

function weightBytes(file: string): number {
  const m = OnnxModel.read(file);
  const bytes = m.estimateWeightBytes();
  m.close();
  return bytes;
}

const io = (vs: ValueInfoProto[]): string[] =>
  vs.map(
    (v) => `${v.name}:${v.type?.value.case === 'tensorType' ? v.type.value.value.elemType : '?'}`,
  );

describe.each(cases)('fp16 on $label', ({ label, modelDir, component }) => {
  const source = join(modelDir, component, 'model.onnx');

  it.each(['storage', 'compute'] as const)('%s: loads, runs, halves the weights', async (mode) => {
    const { file, report } = convertTo(source, mode);
    const src = OnnxModel.read(source);
    const variant = OnnxModel.read(file);
    try {
      // Graph edges keep their names and float32 types.
      expect(io(variant.graph.input)).toEqual(io(src.graph.input));
      expect(io(variant.graph.output)).toEqual(io(src.graph.output));
      for (const v of [...variant.graph.input, ...variant.graph.output]) {
        const t = v.type?.value.case === 'tensorType' ? v.type.value.value.elemType : 0;
        expect(t).not.toBe(DT.FLOAT16);
      }

      const srcTypes = inferElementTypes(src);
      const types = inferElementTypes(variant);
      // Integer and shape tensors are never retyped.
      for (const [name, t] of srcTypes) {
        if (t !== DT.FLOAT && t !== DT.FLOAT16 && types.has(name)) expect(types.get(name)).toBe(t);
      }
      const ratio = weightBytes(file) / float32Bytes(source);
      expect(ratio).toBeLessThan(0.56);
      expect(ratio).toBeGreaterThan(0.49);

      const heavy = variant.graph.node.filter((n) => ['Conv', 'MatMul', 'Gemm'].includes(n.opType));
      expect(heavy.length).toBeGreaterThan(0);
      if (mode === 'compute') {
        // It really computes in float16: every weight-bearing op reads float16.
        for (const n of heavy) expect(types.get(n.input[0])).toBe(DT.FLOAT16);
        for (const n of variant.graph.node) {
          if (['Resize', 'InstanceNormalization', 'LayerNormalization'].includes(n.opType)) {
            expect(types.get(n.input[0])).toBe(DT.FLOAT);
          }
          if (n.opType === 'Resize' && n.input[2]) expect(types.get(n.input[2])).toBe(DT.FLOAT);
        }
      } else {
        // Storage only: float16 tensors exist solely as Cast(to=float) inputs, compute is float32.
        for (const [name, t] of types) {
          if (t !== DT.FLOAT16 || srcTypes.get(name) === DT.FLOAT16) continue;
          for (const c of variant.consumers(name)) expect(c.opType).toBe('Cast');
        }
        for (const n of heavy) expect(types.get(n.input[0])).toBe(DT.FLOAT);
      }
      if (srcTypes.size > 0 && label.startsWith('tiny-shapes') === false) {
        expect(report.convertedInitializers).toBeGreaterThan(0);
      }

      const figuresOf = await checkComponent(source, file, component, modelDir);
      expect(figuresOf.nanCount).toBe(0);
      expect(figuresOf.cosine).toBeGreaterThanOrEqual(mode === 'storage' ? 0.99999 : 0.999);
      const kept = [...new Set(report.keptFloat32.map((k) => k.reason.split(' ')[0]))].join(',');
      figures.push(
        `${label} ${mode}: ratio ${ratio.toFixed(3)} cosine ${figuresOf.cosine.toFixed(7)} maxAbs ${figuresOf.maxAbsDiff.toExponential(2)} converted ${report.convertedInitializers} casts ${report.castsInserted} clamped ${report.clamped} kept ${report.keptFloat32.length} [${kept}]`,
      );
    } finally {
      src.close();
      variant.close();
    }
  });
});

/** x[1,4] → MatMul(W[4,256]) → Reshape [1,1,16,16] → Resize ×2 (scales an fp32 initializer). */
function writeSyntheticModel(weights: Float32Array): string {
  const graph = create(GraphProtoSchema, {
    name: 'synthetic',
    input: [valueInfo('x', [1, 4], DT.FLOAT)],
    output: [valueInfo('y', [1, 1, 32, 32], DT.FLOAT)],
    initializer: [
      makeTensor('w', DT.FLOAT, [4, 256], weights),
      makeTensor('shape', DT.INT64, [4], BigInt64Array.from([1n, 1n, 16n, 16n])),
      makeTensor('scales', DT.FLOAT, [4], Float32Array.from([1, 1, 2, 2])),
    ],
    node: [
      makeNode('MatMul', ['x', 'w'], ['h'], 'mm'),
      makeNode('Reshape', ['h', 'shape'], ['r'], 'reshape'),
      makeNode('Resize', ['r', '', 'scales'], ['y'], 'resize', [attr('mode', 'nearest')]),
    ],
  });
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph,
  });
  const dir = join(temp, `synthetic${counter++}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'model.onnx');
  writeFileSync(file, toBinary(ModelProtoSchema, model));
  return file;
}

describe('fp16 values and block list', () => {
  const weights = new Float32Array(4 * 256).map((_, i) => Math.sin(i) * 0.1);
  weights[0] = 1e6;
  weights[1] = -1e6;
  weights[2] = 1e-9;

  it('clamps 1e6 to the float16 maximum (not inf) and tiny weights to the smallest subnormal', async () => {
    const source = writeSyntheticModel(weights);
    const { file, report } = convertTo(source, 'compute');
    expect(report.clamped).toBe(3);
    const variant = OnnxModel.read(file);
    const w = variant.initializer('w');
    expect(w?.dataType).toBe(DT.FLOAT16);
    const half = viewAs(variant.reader.bytes(w as TensorProto), Uint16Array, 1024);
    expect(halfToFloat(half[0])).toBe(65504);
    expect(halfToFloat(half[1])).toBe(-65504);
    expect(halfToFloat(half[2])).toBeGreaterThan(0);
    // Resize and its scales stay float32, with a Cast in front of the data input.
    expect(variant.initializer('scales')?.dataType).toBe(DT.FLOAT);
    const resize = variant.graph.node.find((n) => n.opType === 'Resize');
    const types = inferElementTypes(variant);
    expect(types.get(resize?.input[0] ?? '')).toBe(DT.FLOAT);
    expect(report.keptFloat32.map((k) => k.node)).toContain('resize');
    variant.close();

    const session = await ort.InferenceSession.create(file);
    const x = new ort.Tensor('float32', Float32Array.from([1, 1, 1, 0]), [1, 4]);
    const y = (await session.run({ x })).y.data as Float32Array;
    await session.release();
    expect(y.every(Number.isFinite)).toBe(true);
    // w[0] + w[256] + w[512]: 65504 plus small terms, float16-rounded.
    expect(Math.abs(y[0] - 65504)).toBeLessThan(64);
  });

  it('keeps the scales float32 in storage mode and counts clamped values there too', () => {
    const source = writeSyntheticModel(weights);
    const { file, report } = convertTo(source, 'storage');
    expect(report.clamped).toBe(3);
    expect(report.convertedInitializers).toBe(1);
    const variant = OnnxModel.read(file);
    expect(variant.initializer('scales')?.dataType).toBe(DT.FLOAT);
    variant.close();
  });

  it('keeps ops named in opBlockList in float32 with Casts around them', () => {
    const source = join(FIXTURES, 'sd15-optimum-float', 'unet', 'model.onnx');
    const { file, report } = convertTo(source, 'compute', ['MatMul']);
    const variant = OnnxModel.read(file);
    const types = inferElementTypes(variant);
    const matmuls = variant.graph.node.filter((n) => n.opType === 'MatMul');
    expect(matmuls.length).toBeGreaterThan(0);
    for (const n of matmuls) for (const i of n.input) expect(types.get(i)).toBe(DT.FLOAT);
    for (const n of variant.graph.node.filter((m) => m.opType === 'Conv')) {
      expect(types.get(n.input[0])).toBe(DT.FLOAT16);
    }
    expect(report.keptFloat32.some((k) => k.reason.startsWith('MatMul'))).toBe(true);
    variant.close();
  });
});
