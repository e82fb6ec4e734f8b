import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  OperatorSetIdProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';

/** A graph input/output: float32 unless said, dims as numbers or symbolic names. */
export function valueInfo(name: string, dims: (number | string)[], elemType = 1): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType,
          shape: create(TensorShapeProtoSchema, {
            dim: dims.map((d) =>
              create(TensorShapeProto_DimensionSchema, {
                value:
                  typeof d === 'number'
                    ? { case: 'dimValue', value: BigInt(d) }
                    : { case: 'dimParam', value: d },
              }),
            ),
          }),
        }),
      },
    }),
  });
}

/** Writes a one-graph model to `<dir>/model.onnx` (opset 17) and returns the file path. */
export function writeModel(
  dir: string,
  parts: {
    nodes: NodeProto[];
    initializers: TensorProto[];
    inputs: ValueInfoProto[];
    outputs: ValueInfoProto[];
  },
): string {
  mkdirSync(dir, { recursive: true });
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'latent-studio-test',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, {
      name: 'test',
      node: parts.nodes,
      initializer: parts.initializers,
      input: parts.inputs,
      output: parts.outputs,
    }),
  });
  const file = join(dir, 'model.onnx');
  writeFileSync(file, toBinary(ModelProtoSchema, model));
  return file;
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
