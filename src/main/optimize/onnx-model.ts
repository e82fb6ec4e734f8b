import { closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from 'onnx-buf';
import { StudioError } from '../../shared/errors';
import { bytesPerElement, dimsOf, DT, elementCount, TensorReader } from './tensor-data';

/** Tensors at least this large go to the external data file (as optimum exports them). */
const EXTERNAL_MIN_BYTES = 1024;
/** Large tensors start on a 64 KiB boundary so ORT can memory-map them (what onnx's own writer does). */
const BIG_ALIGN = 64 * 1024;
const SMALL_ALIGN = 64;
export const EXTERNAL_DATA_FILE = 'model.onnx_data';

export type AttrValue = number | string | number[] | TensorProto;

interface LazyData {
  byteLength: number;
  load: () => Uint8Array;
}

/**
 * One ONNX model being transformed: the decoded graph, indexes over it, and initializers whose
 * bytes are produced only when the model is written. Weights are never all in memory at once:
 * a transform registers "how to make this tensor" and `write` calls it tensor by tensor, so peak
 * memory stays near the graph plus the largest tensor.
 */
export class OnnxModel {
  readonly reader: TensorReader;
  private readonly lazy = new Map<string, LazyData>();
  private inits = new Map<string, TensorProto>();
  private producers = new Map<string, NodeProto>();
  private users = new Map<string, NodeProto[]>();
  private nameCounter = 0;

  private constructor(
    readonly model: ModelProto,
    readonly file: string,
  ) {
    this.reader = new TensorReader(dirname(file));
    this.reindex();
  }

  static read(file: string): OnnxModel {
    let bytes: Buffer;
    try {
      const size = statSync(file).size;
      if (size >= 2 ** 31) {
        throw new StudioError(
          `${file} is ${size} bytes: an ONNX protobuf must stay under 2 GB; keep weights in external data`,
          'bad-input',
        );
      }
      bytes = readFileSync(file);
    } catch (e) {
      if (e instanceof StudioError) throw e;
      throw new StudioError(`cannot read ${file}: ${(e as Error).message}`, 'not-found');
    }
    let model: ModelProto;
    try {
      model = fromBinary(ModelProtoSchema, bytes);
    } catch (e) {
      throw new StudioError(
        `${file} is not an ONNX model (${(e as Error).message}); point at the model.onnx of an exported component`,
        'bad-input',
      );
    }
    if (!model.graph || model.graph.node.length === 0) {
      throw new StudioError(`${file} is not an ONNX model (no graph inside)`, 'bad-input');
    }
    const m = new OnnxModel(model, file);
    for (const t of model.graph.initializer) m.reader.check(t);
    return m;
  }

  get graph(): GraphProto {
    return this.model.graph as GraphProto;
  }

  /** Rebuilds producer/consumer/initializer indexes; call after editing the node list by hand. */
  reindex(): void {
    this.inits = new Map(this.graph.initializer.map((t) => [t.name, t]));
    this.producers = new Map();
    this.users = new Map();
    for (const n of this.graph.node) {
      for (const o of n.output) if (o) this.producers.set(o, n);
      for (const i of n.input) {
        if (!i) continue;
        const list = this.users.get(i);
        if (list) list.push(n);
        else this.users.set(i, [n]);
      }
    }
  }

  initializer(name: string): TensorProto | undefined {
    return this.inits.get(name);
  }

  producer(name: string): NodeProto | undefined {
    return this.producers.get(name);
  }

  consumers(name: string): NodeProto[] {
    return this.users.get(name) ?? [];
  }

  isGraphOutput(name: string): boolean {
    return this.graph.output.some((o) => o.name === name);
  }

  /** A constant's tensor: an initializer, or the value of a Constant node producing it. */
  constant(name: string): TensorProto | undefined {
    const init = this.inits.get(name);
    if (init) return init;
    const p = this.producers.get(name);
    if (p?.opType === 'Constant' && p.domain === '') {
      const value = p.attribute.find((a) => a.name === 'value');
      if (value?.t) return value.t;
      const f = p.attribute.find((a) => a.name === 'value_float');
      if (f) return makeTensor(name, 1, [], new Float32Array([f.f]));
      const fs = p.attribute.find((a) => a.name === 'value_floats');
      if (fs) return makeTensor(name, 1, [fs.floats.length], Float32Array.from(fs.floats));
      const i = p.attribute.find((a) => a.name === 'value_int');
      if (i) return makeTensor(name, 7, [], BigInt64Array.from([i.i]));
      const is = p.attribute.find((a) => a.name === 'value_ints');
      if (is) return makeTensor(name, 7, [is.ints.length], BigInt64Array.from(is.ints));
    }
    return undefined;
  }

  /**
   * A float weight behind a tensor name: a float32/float16 initializer, or one seen through the
   * `Cast(to=float)` that fp16-stored exports (like tiny-shapes) put after each weight.
   */
  weightTensor(name: string): TensorProto | undefined {
    const direct = this.inits.get(name);
    const isFloat = (t: TensorProto): boolean =>
      t.dataType === DT.FLOAT || t.dataType === DT.FLOAT16;
    if (direct) return isFloat(direct) && !this.lazy.has(direct.name) ? direct : undefined;
    const p = this.producers.get(name);
    if (p?.opType === 'Cast' && p.domain === '' && Number(getAttr(p, 'to')?.i ?? 0n) === DT.FLOAT) {
      const source = this.inits.get(p.input[0]);
      if (source && isFloat(source) && !this.lazy.has(source.name)) return source;
    }
    return undefined;
  }

  constantFloats(name: string): Float32Array | undefined {
    const t = this.constant(name);
    if (!t) return undefined;
    const lazy = this.lazy.get(t.name);
    if (lazy) return undefined;
    try {
      return this.reader.floats(t);
    } catch {
      return Float32Array.from(this.reader.ints(t));
    }
  }

  constantInts(name: string): number[] | undefined {
    const t = this.constant(name);
    return t ? this.reader.ints(t) : undefined;
  }

  /** Bytes of an initializer as it will be written (lazy data included). */
  initializerBytes(t: TensorProto): Uint8Array {
    const lazy = this.lazy.get(t.name);
    return lazy ? lazy.load() : this.reader.bytes(t);
  }

  /**
   * How to get an initializer's current bytes later, captured now: a transform that replaces a
   * tensor by a lazily converted one of the same name must not end up calling its own loader.
   */
  bytesLoader(t: TensorProto): () => Uint8Array {
    const lazy = this.lazy.get(t.name);
    return lazy ? lazy.load : () => this.reader.bytes(t);
  }

  /** Adds or replaces an initializer whose bytes are made only when the model is written. */
  setLazyInitializer(
    name: string,
    dataType: number,
    dims: readonly number[],
    load: () => Uint8Array,
  ): TensorProto {
    const t = create(TensorProtoSchema, {
      name,
      dataType,
      dims: dims.map((d) => BigInt(d)),
    });
    const byteLength = elementCount(dims) * bytesPerElement(dataType);
    this.lazy.set(name, { byteLength, load });
    const existing = this.graph.initializer.findIndex((i) => i.name === name);
    if (existing >= 0) this.graph.initializer[existing] = t;
    else this.graph.initializer.push(t);
    this.inits.set(name, t);
    return t;
  }

  setInitializer(
    name: string,
    dataType: number,
    dims: readonly number[],
    data: ArrayBufferView,
  ): TensorProto {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return this.setLazyInitializer(name, dataType, dims, () => bytes);
  }

  uniqueName(base: string): string {
    let name: string;
    do name = `${base}_ls${this.nameCounter++}`;
    while (this.inits.has(name) || this.producers.has(name) || this.users.has(name));
    return name;
  }

  ensureOpset(domain: string, version: number): void {
    const found = this.model.opsetImport.find((o) => o.domain === domain);
    if (found) {
      if (found.version < BigInt(version)) found.version = BigInt(version);
      return;
    }
    this.model.opsetImport.push(
      create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }),
    );
  }

  opsetVersion(domain = ''): number {
    const found = this.model.opsetImport.find(
      (o) => o.domain === domain || (domain === '' && o.domain === 'ai.onnx'),
    );
    return found ? Number(found.version) : 0;
  }

  /**
   * Removes nodes whose outputs nothing uses (after a transform rewired around them), then
   * initializers and value_info entries that no longer belong to anything.
   */
  prune(): number {
    const needed = new Set(this.graph.output.map((o) => o.name));
    const kept: NodeProto[] = [];
    let removed = 0;
    for (let i = this.graph.node.length - 1; i >= 0; i--) {
      const n = this.graph.node[i];
      if (n.output.some((o) => o && needed.has(o))) {
        kept.push(n);
        for (const x of n.input) if (x) needed.add(x);
        for (const g of n.attribute.flatMap((a) => (a.g ? [a.g] : a.graphs)))
          for (const x of outerNames(g)) needed.add(x);
      } else removed++;
    }
    this.graph.node = kept.reverse();
    this.graph.initializer = this.graph.initializer.filter((t) => {
      if (needed.has(t.name)) return true;
      this.lazy.delete(t.name);
      return false;
    });
    const produced = new Set(this.graph.node.flatMap((n) => n.output));
    this.graph.valueInfo = this.graph.valueInfo.filter((v) => produced.has(v.name));
    this.reindex();
    return removed;
  }

  /** Replaces every use of tensor `from` by `to` (node inputs, and graph outputs by renaming). */
  rewire(from: string, to: string): void {
    for (const n of this.consumers(from)) n.input = n.input.map((i) => (i === from ? to : i));
  }

  /** Total bytes the weights will take when written. */
  estimateWeightBytes(): number {
    let sum = 0;
    for (const t of this.graph.initializer) {
      const lazy = this.lazy.get(t.name);
      sum += lazy ? lazy.byteLength : elementCount(dimsOf(t)) * bytesPerElement(t.dataType);
    }
    return sum;
  }

  /**
   * Writes `model.onnx` and `model.onnx_data` into `outDir`, one tensor at a time (each tensor is
   * produced, written in chunks and dropped before the next), so a 3.4 GB UNet is rewritten in
   * roughly the memory of its graph plus its largest tensor.
   */
  write(
    outDir: string,
    onTensor?: (done: number, total: number) => void,
  ): { modelBytes: number; dataBytes: number } {
    const dataPath = join(outDir, EXTERNAL_DATA_FILE);
    const fd = openSync(dataPath, 'w');
    let offset = 0;
    const total = this.graph.initializer.length;
    try {
      this.graph.initializer.forEach((t, index) => {
        const bytes = this.initializerBytes(t);
        t.floatData = [];
        t.int32Data = [];
        t.int64Data = [];
        t.doubleData = [];
        t.uint64Data = [];
        if (bytes.length >= EXTERNAL_MIN_BYTES) {
          const align = bytes.length > 1024 * 1024 ? BIG_ALIGN : SMALL_ALIGN;
          offset = Math.ceil(offset / align) * align;
          writeChunked(fd, bytes, offset);
          t.rawData = new Uint8Array(0);
          t.dataLocation = TensorProto_DataLocation.EXTERNAL;
          t.externalData = [
            create(StringStringEntryProtoSchema, { key: 'location', value: EXTERNAL_DATA_FILE }),
            create(StringStringEntryProtoSchema, { key: 'offset', value: String(offset) }),
            create(StringStringEntryProtoSchema, { key: 'length', value: String(bytes.length) }),
          ];
          offset += bytes.length;
        } else {
          t.rawData = Uint8Array.from(bytes);
          t.dataLocation = TensorProto_DataLocation.DEFAULT;
          t.externalData = [];
        }
        this.lazy.delete(t.name);
        onTensor?.(index + 1, total);
      });
    } finally {
      closeSync(fd);
    }
    const encoded = toBinary(ModelProtoSchema, this.model);
    writeFileSync(join(outDir, 'model.onnx'), encoded);
    return { modelBytes: encoded.length, dataBytes: offset };
  }

  close(): void {
    this.reader.close();
  }
}

function writeChunked(fd: number, bytes: Uint8Array, position: number): void {
  const CHUNK = 64 * 1024 * 1024;
  for (let done = 0; done < bytes.length;) {
    const n = writeSync(fd, bytes, done, Math.min(CHUNK, bytes.length - done), position + done);
    done += n;
  }
}

/** Names a subgraph reads from the enclosing graph (so pruning keeps their producers). */
function outerNames(g: GraphProto): string[] {
  const local = new Set([...g.initializer.map((t) => t.name), ...g.input.map((i) => i.name)]);
  for (const n of g.node) for (const o of n.output) local.add(o);
  return g.node.flatMap((n) => n.input.filter((i) => i && !local.has(i)));
}

export function makeTensor(
  name: string,
  dataType: number,
  dims: readonly number[],
  data: ArrayBufferView,
): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dataType,
    dims: dims.map((d) => BigInt(d)),
    rawData: Uint8Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
  });
}

export function attr(name: string, value: AttrValue): AttributeProto {
  if (typeof value === 'string') {
    return create(AttributeProtoSchema, {
      name,
      type: AttributeProto_AttributeType.STRING,
      s: new TextEncoder().encode(value),
    });
  }
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? create(AttributeProtoSchema, {
          name,
          type: AttributeProto_AttributeType.INT,
          i: BigInt(value),
        })
      : create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: value });
  }
  if (Array.isArray(value)) {
    return create(AttributeProtoSchema, {
      name,
      type: AttributeProto_AttributeType.INTS,
      ints: value.map((v) => BigInt(v)),
    });
  }
  return create(AttributeProtoSchema, {
    name,
    type: AttributeProto_AttributeType.TENSOR,
    t: value,
  });
}

/** A float attribute even when the value happens to be a whole number (scale = 1.0). */
export function floatAttr(name: string, value: number): AttributeProto {
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: value });
}

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: AttributeProto[] = [],
  domain = '',
): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    input: inputs,
    output: outputs,
    name,
    attribute: attributes,
    domain,
  });
}

export function getAttr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function intAttr(node: NodeProto, name: string, fallback: number): number {
  const a = getAttr(node, name);
  return a ? Number(a.i) : fallback;
}

export function intsAttr(node: NodeProto, name: string): number[] | undefined {
  const a = getAttr(node, name);
  return a ? a.ints.map(Number) : undefined;
}
