import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataLocation } from 'onnx-buf';
import { makeNode, makeTensor, OnnxModel } from './onnx-model';
import { DT, externalRef, floatToHalf, halfToFloat } from './tensor-data';
import { randomFloats, valueInfo, writeModel } from '../../../test/helpers/onnx-build';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ls-onnx-'));

/** y = x · W + b with a 2 MiB weight (external, 64 KiB-aligned) and a 4-byte bias (inline). */
function smallModel(dir: string): { file: string; w: Float32Array; b: Float32Array } {
  const w = randomFloats(1024 * 512, 7);
  const b = randomFloats(1, 8);
  const file = writeModel(dir, {
    nodes: [makeNode('MatMul', ['x', 'w'], ['h'], 'mm'), makeNode('Add', ['h', 'b'], ['y'], 'add')],
    initializers: [makeTensor('w', DT.FLOAT, [1024, 512], w), makeTensor('b', DT.FLOAT, [1], b)],
    inputs: [valueInfo('x', ['n', 1024])],
    outputs: [valueInfo('y', ['n', 512])],
  });
  return { file, w, b };
}

describe('OnnxModel', () => {
  it('writes big tensors to model.onnx_data (64 KiB aligned) and small ones inline; ORT reads it back', async () => {
    const dir = tmp();
    const { file, w } = smallModel(join(dir, 'src'));
    const model = OnnxModel.read(file);
    const out = join(dir, 'out');
    mkdirSync(out);
    const { dataBytes } = model.write(out);
    expect(dataBytes).toBe(w.byteLength);
    const written = fromBinary(ModelProtoSchema, readFileSync(join(out, 'model.onnx')));
    const [wt, bt] = written.graph?.initializer ?? [];
    expect(wt.dataLocation).toBe(TensorProto_DataLocation.EXTERNAL);
    expect(externalRef(wt)?.offset ?? -1).toBe(0);
    expect(bt.dataLocation).toBe(TensorProto_DataLocation.DEFAULT);
    expect(bt.rawData.length).toBe(4);

    const x = randomFloats(1024, 9);
    const outputs = await Promise.all(
      [file, join(out, 'model.onnx')].map(async (f) => {
        const s = await ort.InferenceSession.create(f, { logSeverityLevel: 3 });
        const r = await s.run({ x: new ort.Tensor('float32', x, [1, 1024]) });
        await s.release();
        return Array.from(r.y.data as Float32Array);
      }),
    );
    expect(outputs[1]).toEqual(outputs[0]);
  });

  it('keeps fields it does not know through a read and a write', () => {
    const dir = tmp();
    const { file } = smallModel(join(dir, 'src'));
    // ModelProto field 999, varint 42: a field from a future onnx.proto.
    const unknown = Buffer.from([0xb8, 0x3e, 42]);
    writeFileSync(file, Buffer.concat([readFileSync(file), unknown]));
    const out = join(dir, 'out');
    mkdirSync(out);
    OnnxModel.read(file).write(out);
    expect(readFileSync(join(out, 'model.onnx')).includes(unknown)).toBe(true);
  });

  it('refuses what is not ONNX, truncated external data and locations that leave the folder', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'junk.onnx'), 'definitely not a protobuf');
    expect(() => OnnxModel.read(join(dir, 'junk.onnx'))).toThrow(/is not an ONNX model/);

    const { file } = smallModel(join(dir, 'src'));
    const out = join(dir, 'ext');
    mkdirSync(out);
    OnnxModel.read(file).write(out);
    const data = join(out, 'model.onnx_data');
    truncateSync(data, statSync(data).size - 10);
    expect(() => OnnxModel.read(join(out, 'model.onnx'))).toThrow(
      /truncated; copy or download it again/,
    );

    const model = fromBinary(ModelProtoSchema, readFileSync(join(out, 'model.onnx')));
    const loc = model.graph?.initializer[0].externalData.find((e) => e.key === 'location');
    if (loc) loc.value = '../../etc/passwd';
    const evil = join(dir, 'evil');
    mkdirSync(evil);
    writeFileSync(join(evil, 'model.onnx'), toBinary(ModelProtoSchema, model));
    expect(() => OnnxModel.read(join(evil, 'model.onnx'))).toThrow(/leaves the model folder/);
  });

  it('prune drops the nodes and initializers a rewrite left unused', () => {
    const dir = tmp();
    const { file } = smallModel(join(dir, 'src'));
    const model = OnnxModel.read(file);
    // Bypass the Add: y now comes straight from the MatMul, so the Add and the bias are dead.
    model.graph.node[0].output = ['y'];
    model.graph.node[1].output = ['dead'];
    model.reindex();
    expect(model.prune()).toBe(1);
    expect(model.graph.node.map((n) => n.opType)).toEqual(['MatMul']);
    expect(model.graph.initializer.map((t) => t.name)).toEqual(['w']);
  });
});

describe('float16 conversion', () => {
  it('rounds to nearest even and keeps the special values', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 6.103515625e-5, 5.960464477539063e-8])
      expect(halfToFloat(floatToHalf(v))).toBe(v);
    expect(halfToFloat(floatToHalf(1e6))).toBe(Infinity);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // a tie: rounds to the even mantissa
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(halfToFloat(floatToHalf(0.1))).toBeCloseTo(0.1, 3);
  });
});
