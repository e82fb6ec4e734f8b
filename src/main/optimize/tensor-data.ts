import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { TensorProto_DataLocation, TensorProto_DataType, type TensorProto } from 'onnx-buf';
import { StudioError } from '../../shared/errors';
import { floatToHalf, halfToFloat } from '../engine/half-float';

/** ONNX element types and their byte width (0 = not a fixed-width numeric type). */
export const DT = TensorProto_DataType;

export function bytesPerElement(dataType: number): number {
  switch (dataType) {
    case DT.FLOAT:
    case DT.INT32:
    case DT.UINT32:
      return 4;
    case DT.DOUBLE:
    case DT.INT64:
    case DT.UINT64:
      return 8;
    case DT.FLOAT16:
    case DT.BFLOAT16:
    case DT.INT16:
    case DT.UINT16:
      return 2;
    case DT.INT8:
    case DT.UINT8:
    case DT.BOOL:
      return 1;
    default:
      return 0;
  }
}

export const dimsOf = (t: TensorProto): number[] => t.dims.map((d) => Number(d));
export const elementCount = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** Largest single read or write: Node aborts on one read of ≥ 2 GiB, so big tensors go in chunks. */
const CHUNK = 64 * 1024 * 1024;

export function readChunked(fd: number, target: Uint8Array, position: number): void {
  for (let done = 0; done < target.length;) {
    const n = readSync(fd, target, done, Math.min(CHUNK, target.length - done), position + done);
    if (n === 0)
      throw new StudioError('unexpected end of file while reading tensor data', 'bad-input');
    done += n;
  }
}

export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export function externalRef(t: TensorProto): ExternalRef | undefined {
  if (t.dataLocation !== TensorProto_DataLocation.EXTERNAL) return undefined;
  const get = (k: string): string | undefined => t.externalData.find((e) => e.key === k)?.value;
  const location = get('location');
  if (!location) {
    throw new StudioError(`tensor "${t.name}" is stored externally but names no file`, 'bad-input');
  }
  const offset = Number(get('offset') ?? '0');
  const lengthText = get('length');
  const length =
    lengthText !== undefined
      ? Number(lengthText)
      : elementCount(dimsOf(t)) * bytesPerElement(t.dataType);
  return { location, offset, length };
}

/** The external file a tensor points at, refused when it would leave the model's folder. */
export function externalPath(baseDir: string, location: string): string {
  const clean = normalize(location);
  if (isAbsolute(clean) || clean === '..' || clean.startsWith(`..${sep}`)) {
    throw new StudioError(
      `external data location "${location}" leaves the model folder; re-export the model with relative external data`,
      'bad-input',
    );
  }
  return join(baseDir, clean);
}

/**
 * Reads tensors' bytes (raw little-endian) from the model's own protobuf or from its external data
 * files. File descriptors stay open for the reader's life, so streaming a multi-GB UNet tensor by
 * tensor costs one open per file.
 */
export class TensorReader {
  private readonly fds = new Map<string, { fd: number; size: number }>();

  constructor(readonly baseDir: string) {}

  private open(location: string): { fd: number; size: number } {
    const path = externalPath(this.baseDir, location);
    let entry = this.fds.get(path);
    if (!entry) {
      try {
        entry = { fd: openSync(path, 'r'), size: statSync(path).size };
      } catch {
        throw new StudioError(
          `external data file ${path} is missing: copy the whole model folder, weights included`,
          'bad-input',
        );
      }
      this.fds.set(path, entry);
    }
    return entry;
  }

  /** Checks that an external reference lies inside its file (a truncated download fails here). */
  check(t: TensorProto): void {
    const ref = externalRef(t);
    if (!ref) return;
    const { size } = this.open(ref.location);
    if (
      !Number.isFinite(ref.offset) ||
      !Number.isFinite(ref.length) ||
      ref.offset < 0 ||
      ref.length < 0
    ) {
      throw new StudioError(
        `tensor "${t.name}" has an invalid external offset/length`,
        'bad-input',
      );
    }
    if (ref.offset + ref.length > size) {
      throw new StudioError(
        `tensor "${t.name}" needs bytes ${ref.offset}..${ref.offset + ref.length} of ${ref.location}, which has only ${size}: the file is truncated; copy or download it again`,
        'bad-input',
      );
    }
  }

  bytes(t: TensorProto): Uint8Array {
    const ref = externalRef(t);
    if (ref) {
      this.check(t);
      const out = new Uint8Array(ref.length);
      readChunked(this.open(ref.location).fd, out, ref.offset);
      return out;
    }
    if (t.rawData.length > 0) return t.rawData;
    return typedFieldBytes(t);
  }

  /** The tensor as float32 values (float, float16 and double sources). */
  floats(t: TensorProto): Float32Array {
    const raw = this.bytes(t);
    const n = elementCount(dimsOf(t));
    switch (t.dataType) {
      case DT.FLOAT:
        return viewAs(raw, Float32Array, n);
      case DT.FLOAT16: {
        const h = viewAs(raw, Uint16Array, n);
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = halfToFloat(h[i]);
        return out;
      }
      case DT.DOUBLE:
        return Float32Array.from(viewAs(raw, Float64Array, n));
      default:
        throw new StudioError(`tensor "${t.name}" is not floating point`, 'bad-input');
    }
  }

  /** Integer tensors (shapes, axes) as plain numbers. */
  ints(t: TensorProto): number[] {
    const raw = this.bytes(t);
    const n = elementCount(dimsOf(t));
    switch (t.dataType) {
      case DT.INT64:
        return Array.from(viewAs(raw, BigInt64Array, n), Number);
      case DT.INT32:
        return Array.from(viewAs(raw, Int32Array, n));
      default:
        return Array.from(this.floats(t));
    }
  }

  close(): void {
    for (const { fd } of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

type TypedCtor<T> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  new (length: number): T;
  BYTES_PER_ELEMENT: number;
};

/** A typed view of raw bytes, copying only when the bytes are not aligned for the type. */
export function viewAs<T extends { set(a: ArrayLike<number | bigint>): void }>(
  raw: Uint8Array,
  Ctor: TypedCtor<T>,
  n: number,
): T {
  if (raw.length < n * Ctor.BYTES_PER_ELEMENT) {
    throw new StudioError('tensor data is shorter than its shape says', 'bad-input');
  }
  if (raw.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(raw.buffer, raw.byteOffset, n);
  const copy = new Uint8Array(n * Ctor.BYTES_PER_ELEMENT);
  copy.set(raw.subarray(0, copy.length));
  return new Ctor(copy.buffer, 0, n);
}

/** Tensors that keep values in typed fields (float_data, int64_data, …) instead of raw_data. */
function typedFieldBytes(t: TensorProto): Uint8Array {
  const n = elementCount(dimsOf(t));
  switch (t.dataType) {
    case DT.FLOAT:
      return bytesOf(Float32Array.from(t.floatData));
    case DT.DOUBLE:
      return bytesOf(Float64Array.from(t.doubleData));
    case DT.INT64:
      return bytesOf(BigInt64Array.from(t.int64Data));
    case DT.UINT64:
      return bytesOf(BigUint64Array.from(t.uint64Data));
    case DT.INT32:
      return bytesOf(Int32Array.from(t.int32Data));
    case DT.FLOAT16:
    case DT.BFLOAT16:
    case DT.UINT16:
      return bytesOf(Uint16Array.from(t.int32Data));
    case DT.INT16:
      return bytesOf(Int16Array.from(t.int32Data));
    case DT.INT8:
      return bytesOf(Int8Array.from(t.int32Data));
    case DT.UINT8:
    case DT.BOOL:
      return Uint8Array.from(t.int32Data);
    default:
      if (n === 0) return new Uint8Array(0);
      throw new StudioError(
        `tensor "${t.name}" has an unsupported data type ${t.dataType}`,
        'bad-input',
      );
  }
}

export const bytesOf = (a: ArrayBufferView): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export { floatToHalf, halfToFloat };
