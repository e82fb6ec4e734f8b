import { create } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { getAttr, makeNode, makeTensor, type OnnxModel } from './onnx-model';
import { DT, dimsOf, elementCount, floatToHalf, viewAs } from './tensor-data';

export interface Fp16Report {
  convertedInitializers: number;
  keptFloat32: { node: string; reason: string }[];
  castsInserted: number;
  clamped: number;
}

export interface Fp16Options {
  mode: 'compute' | 'storage';
  /** Op types kept in float32 on top of the defaults. */
  opBlockList?: string[];
  /**
   * Storage mode: smallest weight worth storing as float16. 256 elements is 1 KiB in float32, the
   * size from which a tensor goes to the external data file; smaller ones stay inline, where a
   * Cast node would cost more than the bytes it saves.
   */
  minElements?: number;
}

const MAX_HALF = 65504;
/** Smallest float16 subnormal: tiny weights are rounded up to it rather than flushed to zero. */
const MIN_HALF = 5.960464477539063e-8;

/**
 * Kept in float32 whatever the caller asks: resampling and index-like ops whose float inputs are
 * coordinates or counts, random generators, and the normalizations, whose mean/variance overflow
 * or lose all precision in float16 on real activations.
 */
export const DEFAULT_FP16_BLOCK_LIST: readonly string[] = [
  'Resize',
  'Upsample',
  'Range',
  'CumSum',
  'TopK',
  'RandomNormalLike',
  'RandomUniformLike',
  'RandomNormal',
  'RandomUniform',
  'Multinomial',
  'NonMaxSuppression',
  'RoiAlign',
  'InstanceNormalization',
  'LayerNormalization',
  'GroupNormalization',
  'SimplifiedLayerNormalization',
];

/**
 * Standard ops whose outputs take the element type of their (first) float input, and that ORT's
 * CPU provider runs in float16 either with its own kernel or by casting around a float32 one.
 * Anything not listed is treated as unknown and kept in float32.
 */
// prettier-ignore
const SAME_TYPE = new Set([
  'Abs', 'Add', 'AveragePool', 'BatchNormalization', 'Ceil', 'Clip', 'Concat', 'Conv',
  'ConvTranspose', 'Cos', 'DepthToSpace', 'Div', 'Einsum', 'Elu', 'Erf', 'Exp', 'Expand',
  'Flatten', 'Floor', 'Gather', 'GatherElements', 'GatherND', 'Gelu', 'Gemm',
  'GlobalAveragePool', 'GlobalMaxPool', 'HardSigmoid', 'HardSwish', 'Identity', 'LeakyRelu', 'Log',
  'LogSoftmax', 'MatMul', 'Max', 'MaxPool', 'Mean', 'Min', 'Mish', 'Mod', 'Mul', 'Neg', 'Pad',
  'Pow', 'PRelu', 'Reciprocal', 'ReduceL2', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd',
  'ReduceSum', 'ReduceSumSquare', 'Relu', 'Reshape', 'Round', 'Sigmoid', 'Sign', 'Sin', 'Slice',
  'Softmax', 'Softplus', 'SpaceToDepth', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tanh', 'Tile',
  'Transpose', 'Unsqueeze', 'Where', 'Dropout', 'Cast', 'CastLike', 'Constant', 'ConstantOfShape',
  'Shape', 'Size', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'ArgMax', 'ArgMin',
]);

// prettier-ignore
const BOOL_OUT = new Set([
  'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN',
  'IsInf',
]);
// prettier-ignore
const INT64_OUT = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'NonMaxSuppression']);

/** Float inputs that are not the op's data type T (coordinates, ratios): never cast to float16. */
const FLOAT32_SLOTS: Record<string, readonly number[]> = {
  Resize: [1, 2],
  Upsample: [1],
  Dropout: [1],
};
/** Inputs of any type whose value (not element type) the op uses: no Cast in front of them. */
const ANY_TYPE_SLOTS: Record<string, readonly number[]> = {
  Cast: [0],
  Shape: [0],
  Size: [0],
  ConstantOfShape: [0],
};

type Types = Map<string, number>;

function valueInfoType(v: ValueInfoProto): number | undefined {
  return v.type?.value.case === 'tensorType' ? v.type.value.value.elemType : undefined;
}

function dtypeAttr(n: NodeProto): number | undefined {
  const a = getAttr(n, 'dtype');
  return a ? Number(a.i) : undefined;
}

function constantType(n: NodeProto): number | undefined {
  for (const a of n.attribute) {
    if (a.name === 'value' && a.t) return a.t.dataType;
    if (a.name === 'value_float' || a.name === 'value_floats') return DT.FLOAT;
    if (a.name === 'value_int' || a.name === 'value_ints') return DT.INT64;
    if (a.name === 'value_string' || a.name === 'value_strings') return DT.STRING;
  }
  return undefined;
}

/** Element types of a node's outputs from its inputs' (undefined where the pass cannot tell). */
function outputTypes(
  n: NodeProto,
  typeOf: (name: string) => number | undefined,
): (number | undefined)[] {
  if (n.domain !== '' && n.domain !== 'ai.onnx') return [];
  const t0 = n.input[0] ? typeOf(n.input[0]) : undefined;
  const all = (t: number | undefined): (number | undefined)[] => n.output.map(() => t);
  switch (n.opType) {
    case 'Constant':
      return [constantType(n)];
    case 'Cast':
      return [Number(getAttr(n, 'to')?.i ?? 0) || undefined];
    case 'CastLike':
      return [typeOf(n.input[1])];
    case 'ConstantOfShape':
      return [getAttr(n, 'value')?.t?.dataType ?? DT.FLOAT];
    case 'TopK':
      return [t0, DT.INT64];
    case 'Unique':
      return [t0, DT.INT64, DT.INT64, DT.INT64];
    case 'RandomNormal':
    case 'RandomUniform':
      return [dtypeAttr(n) ?? DT.FLOAT];
    case 'RandomNormalLike':
    case 'RandomUniformLike':
    case 'EyeLike':
      return [dtypeAttr(n) ?? t0];
    case 'Where':
      return [typeOf(n.input[1]) ?? typeOf(n.input[2])];
    case 'Concat':
      return [n.input.map(typeOf).find((t) => t !== undefined)];
    case 'Dropout':
      return [t0, DT.BOOL];
    case 'LayerNormalization':
      return [t0, DT.FLOAT, DT.FLOAT];
    case 'Range':
    case 'CumSum':
    case 'Resize':
    case 'Upsample':
    case 'InstanceNormalization':
    case 'GroupNormalization':
      return all(t0);
  }
  if (BOOL_OUT.has(n.opType)) return all(DT.BOOL);
  if (INT64_OUT.has(n.opType)) return all(DT.INT64);
  if (SAME_TYPE.has(n.opType)) return all(t0);
  return [];
}

/**
 * Element type of every tensor the pass can work out: graph inputs, initializers, then node by
 * node in graph order. value_info fills gaps (after unknown ops) but never overrides.
 */
export function inferElementTypes(model: OnnxModel): Types {
  const g = model.graph;
  const types: Types = new Map();
  const hints: Types = new Map();
  for (const v of [...g.valueInfo, ...g.output]) {
    const t = valueInfoType(v);
    if (t) hints.set(v.name, t);
  }
  for (const i of g.input) {
    const t = valueInfoType(i);
    if (t) types.set(i.name, t);
  }
  for (const t of g.initializer) types.set(t.name, t.dataType);
  for (const n of g.node) {
    const outs = outputTypes(n, (name) => types.get(name));
    n.output.forEach((o, k) => {
      if (!o) return;
      const t = outs[k] ?? hints.get(o);
      if (t !== undefined) types.set(o, t);
    });
  }
  return types;
}

/** float32 values → float16 bits, clamped into the finite range; counts the values changed. */
function toHalf(values: Float32Array): { half: Uint16Array; clamped: number } {
  const half = new Uint16Array(values.length);
  let clamped = 0;
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    const a = Math.abs(v);
    if (a > MAX_HALF) {
      v = v > 0 ? MAX_HALF : -MAX_HALF;
      clamped++;
    } else if (a > 0 && a < MIN_HALF) {
      v = v > 0 ? MIN_HALF : -MIN_HALF;
      clamped++;
    }
    half[i] = floatToHalf(v);
  }
  return { half, clamped };
}

function halfBytes(raw: Uint8Array, n: number): { bytes: Uint8Array; clamped: number } {
  const { half, clamped } = toHalf(viewAs(raw, Float32Array, n));
  return { bytes: new Uint8Array(half.buffer), clamped };
}

const nodeName = (n: NodeProto, index: number): string => n.name || `${n.opType}#${index}`;

function subgraphOuterNames(n: NodeProto): string[] {
  const names: string[] = [];
  for (const g of n.attribute.flatMap((a) => (a.g ? [a.g] : a.graphs))) {
    const local = new Set([...g.initializer.map((t) => t.name), ...g.input.map((i) => i.name)]);
    for (const m of g.node) for (const o of m.output) local.add(o);
    for (const m of g.node) for (const i of m.input) if (i && !local.has(i)) names.push(i);
  }
  return names;
}

/**
 * Rewrites `model` in place to float16: `storage` keeps float32 compute behind Casts (half the
 * file, same numbers); `compute` runs the graph in float16 with float32 inputs and outputs.
 * Weights are converted lazily at write time, one tensor at a time; this call only reads each
 * converted tensor once to count clamped values.
 */
export function convertToFp16(model: OnnxModel, options: Fp16Options): Fp16Report {
  return options.mode === 'storage'
    ? convertStorage(model, options)
    : convertCompute(model, options);
}

function pinnedNames(model: OnnxModel): Set<string> {
  const g = model.graph;
  // Initializers listed as graph inputs (old IR) can be fed by the caller, who expects float32.
  const pinned = new Set([...g.input.map((i) => i.name), ...g.output.map((o) => o.name)]);
  for (const n of g.node) for (const name of subgraphOuterNames(n)) pinned.add(name);
  return pinned;
}

function convertStorage(model: OnnxModel, options: Fp16Options): Fp16Report {
  const g = model.graph;
  const minElements = options.minElements ?? 256;
  const pinned = pinnedNames(model);
  const isNormParam = (name: string): boolean =>
    model.consumers(name).some((c) => /Normalization$/.test(c.opType) && c.input.indexOf(name) > 0);
  const report: Fp16Report = {
    convertedInitializers: 0,
    keptFloat32: [],
    castsInserted: 0,
    clamped: 0,
  };
  const casts: NodeProto[] = [];
  const replaced = new Set<string>();
  for (const t of [...g.initializer]) {
    const dims = dimsOf(t);
    const n = elementCount(dims);
    // Biases and norm parameters are rank 1 or feed a normalization: tiny, and the most sensitive.
    if (t.dataType !== DT.FLOAT || dims.length < 2 || n < minElements) continue;
    if (pinned.has(t.name) || isNormParam(t.name)) continue;
    const load = model.bytesLoader(t);
    report.clamped += halfBytes(load(), n).clamped;
    const halfName = model.uniqueName(`${t.name}_fp16`);
    model.setLazyInitializer(halfName, DT.FLOAT16, dims, () => halfBytes(load(), n).bytes);
    casts.push(
      makeNode('Cast', [halfName], [t.name], model.uniqueName(`${t.name}_cast`), [
        intAttrOf('to', DT.FLOAT),
      ]),
    );
    replaced.add(t.name);
    report.convertedInitializers++;
  }
  g.initializer = g.initializer.filter((t) => !replaced.has(t.name));
  g.node = [...casts, ...g.node];
  report.castsInserted = casts.length;
  model.reindex();
  return report;
}

function intAttrOf(
  name: string,
  value: number,
): ReturnType<typeof create<typeof AttributeProtoSchema>> {
  return create(AttributeProtoSchema, {
    name,
    type: AttributeProto_AttributeType.INT,
    i: BigInt(value),
  });
}

type Plan = 'fp16' | 'fp32' | 'untouched';

function convertCompute(model: OnnxModel, options: Fp16Options): Fp16Report {
  const g = model.graph;
  const nodes = g.node;
  const types = inferElementTypes(model);
  const blocked = new Set([...DEFAULT_FP16_BLOCK_LIST, ...(options.opBlockList ?? [])]);
  const pinned = pinnedNames(model);
  const graphOutputs = new Set(g.output.map((o) => o.name));
  const report: Fp16Report = {
    convertedInitializers: 0,
    keptFloat32: [],
    castsInserted: 0,
    clamped: 0,
  };
  const isFloat = (name: string): boolean => types.get(name) === DT.FLOAT;
  const standard = (n: NodeProto): boolean => n.domain === '' || n.domain === 'ai.onnx';

  const islands = precisionIslands(model, types);

  const plan = new Map<NodeProto, Plan>();
  nodes.forEach((n, index) => {
    const io = [...n.input, ...n.output].filter((x) => x);
    const unknown = io.find((x) => !types.has(x));
    const touchesFloat = io.some(isFloat);
    const keep = (reason: string): void => {
      plan.set(n, 'fp32');
      report.keptFloat32.push({ node: nodeName(n, index), reason });
    };
    if (n.attribute.some((a) => a.g || a.graphs.length > 0)) {
      if (touchesFloat || unknown)
        keep(`${n.opType} holds a subgraph, which the pass does not enter`);
      else plan.set(n, 'untouched');
    } else if (!touchesFloat && unknown === undefined) plan.set(n, 'untouched');
    else if (standard(n) && blocked.has(n.opType)) keep(`${n.opType} is on the float32 block list`);
    else if (islands.has(n)) keep(islands.get(n) as string);
    else if (!standard(n) || !SAME_TYPE.has(n.opType))
      keep(`${n.domain ? `${n.domain}.` : ''}${n.opType} is not known to the float16 pass`);
    else if (unknown !== undefined) keep(`element type of "${unknown}" is unknown`);
    else if (n.output.some((o) => pinned.has(o) && !graphOutputs.has(o)))
      keep('its output feeds a subgraph');
    else plan.set(n, 'fp16');
  });

  /** The type a node needs at input slot `i` after conversion (undefined: no requirement). */
  const required = (n: NodeProto, i: number): number | undefined => {
    const name = n.input[i];
    const orig = types.get(name);
    if (!name || orig === undefined) return undefined;
    if (plan.get(n) !== 'fp16') return plan.get(n) === 'fp32' ? orig : undefined;
    if (ANY_TYPE_SLOTS[n.opType]?.includes(i)) return undefined;
    if (orig !== DT.FLOAT || FLOAT32_SLOTS[n.opType]?.includes(i)) return orig;
    return DT.FLOAT16;
  };
  const wantsHalf = (name: string): boolean =>
    model
      .consumers(name)
      .some((c) => c.input.some((x, i) => x === name && required(c, i) === DT.FLOAT16));

  // Constants follow their users rather than their own plan, so a Resize scale stays float32.
  for (const n of nodes) {
    if (n.opType === 'Constant' && plan.get(n) === 'fp16') {
      const o = n.output[0];
      if (!isFloat(o) || !wantsHalf(o) || graphOutputs.has(o)) plan.set(n, 'untouched');
    }
  }

  const newType = new Map<string, number>(types);
  for (const n of nodes) {
    if (plan.get(n) !== 'fp16') continue;
    for (const o of n.output) if (o && isFloat(o)) newType.set(o, DT.FLOAT16);
  }

  for (const t of [...g.initializer]) {
    if (t.dataType !== DT.FLOAT || pinned.has(t.name) || !wantsHalf(t.name)) continue;
    const dims = dimsOf(t);
    const n = elementCount(dims);
    const load = model.bytesLoader(t);
    report.clamped += halfBytes(load(), n).clamped;
    model.setLazyInitializer(t.name, DT.FLOAT16, dims, () => halfBytes(load(), n).bytes);
    newType.set(t.name, DT.FLOAT16);
    report.convertedInitializers++;
  }

  // Graph outputs keep their float32 name and type: the float16 value gets a new name and a Cast.
  const outputCasts = new Map<string, NodeProto>();
  for (const o of g.output) {
    if (newType.get(o.name) !== DT.FLOAT16) continue;
    const producer = model.producer(o.name);
    if (!producer) continue;
    const half = model.uniqueName(`${o.name}_fp16`);
    producer.output = producer.output.map((x) => (x === o.name ? half : x));
    for (const c of model.consumers(o.name))
      c.input = c.input.map((x) => (x === o.name ? half : x));
    newType.set(half, DT.FLOAT16);
    types.set(half, DT.FLOAT);
    outputCasts.set(
      half,
      makeNode('Cast', [half], [o.name], model.uniqueName(`${o.name}_cast`), [
        intAttrOf('to', DT.FLOAT),
      ]),
    );
  }
  model.reindex();

  const castCache = new Map<string, string>();
  const out: NodeProto[] = [];
  for (const n of nodes) {
    n.input.forEach((name, i) => {
      const want = required(n, i);
      const have = newType.get(name);
      if (want === undefined || have === undefined || want === have) return;
      const key = `${name}|${want}`;
      let cast = castCache.get(key);
      if (!cast) {
        cast = model.uniqueName(`${name}_${want === DT.FLOAT16 ? 'fp16' : 'fp32'}`);
        out.push(
          makeNode('Cast', [name], [cast], model.uniqueName('fp16_cast'), [intAttrOf('to', want)]),
        );
        castCache.set(key, cast);
      }
      n.input[i] = cast;
    });
    if (plan.get(n) === 'fp16') report.clamped += retypeAttributes(model, n, types);
    out.push(n);
    for (const o of n.output) {
      const cast = outputCasts.get(o);
      if (cast) out.push(cast);
    }
  }
  report.castsInserted = castCache.size + outputCasts.size;
  g.node = out;

  for (const v of g.valueInfo) {
    if (v.type?.value.case === 'tensorType' && newType.get(v.name) === DT.FLOAT16) {
      v.type.value.value.elemType = DT.FLOAT16;
    }
  }
  model.reindex();
  return report;
}

/** float32 types named in a converted node's attributes → float16; returns values clamped. */
function retypeAttributes(model: OnnxModel, n: NodeProto, types: Types): number {
  if (n.opType === 'Cast') {
    const to = getAttr(n, 'to');
    if (to && Number(to.i) === DT.FLOAT) to.i = BigInt(DT.FLOAT16);
    return 0;
  }
  if (n.opType === 'ConstantOfShape') {
    const value = getAttr(n, 'value');
    if (!value?.t) {
      n.attribute.push(
        tensorAttr('value', makeTensor('value', DT.FLOAT16, [1], new Uint16Array(1))),
      );
      return 0;
    }
    if (value.t.dataType !== DT.FLOAT) return 0;
    const { half, clamped } = toHalf(model.reader.floats(value.t));
    value.t = makeTensor(value.t.name, DT.FLOAT16, dimsOf(value.t), half);
    return clamped;
  }
  if (n.opType === 'Constant' && types.get(n.output[0]) === DT.FLOAT) {
    const t = model.constant(n.output[0]) as TensorProto;
    const { half, clamped } = toHalf(model.reader.floats(t));
    n.attribute = [tensorAttr('value', makeTensor(t.name, DT.FLOAT16, dimsOf(t), half))];
    return clamped;
  }
  return 0;
}

function tensorAttr(
  name: string,
  t: TensorProto,
): ReturnType<typeof create<typeof AttributeProtoSchema>> {
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.TENSOR, t });
}

/**
 * Float arithmetic that stays float32 because float16 ruins it, with the reason:
 * - the sinusoidal timestep embedding: arguments of Sin/Cos reach ~1000, where float16's step is
 *   0.5 rad (diffusers computes it in float32 for the same reason), so Sin/Cos and every node that
 *   only feeds them;
 * - a decomposed norm's variance (Pow(x, 2) → ReduceMean → Add eps → Sqrt): squares overflow
 *   float16 from |x| ≈ 256 on.
 */
function precisionIslands(model: OnnxModel, types: Types): Map<NodeProto, string> {
  const nodes = model.graph.node;
  const island = new Map<NodeProto, string>();
  const phase = 'timestep phase (feeds Sin/Cos): float16 loses the angle';
  for (const n of nodes)
    if ((n.opType === 'Sin' || n.opType === 'Cos') && n.domain === '') island.set(n, phase);
  if (island.size > 0) {
    const graphOutputs = new Set(model.graph.output.map((o) => o.name));
    for (let k = nodes.length - 1; k >= 0; k--) {
      const n = nodes[k];
      if (island.has(n) || n.domain !== '' || !SAME_TYPE.has(n.opType)) continue;
      const floats = n.output.filter((o) => o && types.get(o) === DT.FLOAT);
      if (floats.length === 0 || floats.some((o) => graphOutputs.has(o))) continue;
      const users = floats.flatMap((o) => model.consumers(o));
      if (users.length > 0 && users.every((u) => island.has(u) && island.get(u) === phase))
        island.set(n, phase);
    }
  }
  const stats = 'normalization statistics (x² overflows float16)';
  const grow = (n: NodeProto): void => {
    island.set(n, stats);
    for (const o of n.output) {
      for (const c of model.consumers(o)) {
        if (island.has(c) || c.domain !== '') continue;
        const other = c.input.find((x) => x !== o);
        const scalarAdd =
          c.opType === 'Add' && other !== undefined && model.constant(other) !== undefined;
        if (
          c.opType === 'ReduceMean' ||
          c.opType === 'Sqrt' ||
          c.opType === 'Reciprocal' ||
          scalarAdd
        )
          grow(c);
      }
    }
  };
  for (const n of nodes) {
    if (n.opType !== 'Pow' || n.domain !== '' || types.get(n.output[0]) !== DT.FLOAT) continue;
    const exponent = model.constantFloats(n.input[1]);
    if (
      exponent?.length === 1 &&
      exponent[0] === 2 &&
      model.consumers(n.output[0]).some((c) => c.opType === 'ReduceMean')
    ) {
      grow(n);
    }
  }
  return island;
}
