import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { z } from 'zod';
import { StudioError } from '../../shared/errors';
import { halfToFloat, readChunked } from './tensor-data';

/**
 * A `.safetensors` reader: an 8-byte little-endian header length, a JSON header mapping each
 * tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the byte after
 * the header), then the raw little-endian tensor bytes.
 *
 * Written by hand rather than taken from npm: the format is this small, the packages on npm are
 * thin, little-maintained wrappers, and the checks that matter here (a header that lies about
 * offsets, sizes or overlaps must be refused before any byte is trusted) are easiest to state and
 * test in our own code. Tensors are read one at a time from the file descriptor, so a LoRA of
 * several hundred MB never sits in memory whole.
 */

/** A header beyond this is not a LoRA (the format's own reference caps it at 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

const EntrySchema = z
  .object({
    dtype: z.string(),
    shape: z.array(z.number().int().nonnegative()),
    data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
  })
  .strict();

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
    readonly entries: ReadonlyMap<string, SafetensorsEntry>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Opens and validates the header; every tensor's byte range is checked before any is read. */
  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new StudioError(`cannot read ${path}: ${(e as Error).message}`, 'not-found');
    }
    try {
      const { entries, metadata } = parseHeader(fd, fstatSync(fd).size, path);
      return new SafetensorsFile(path, fd, entries, metadata);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (!e) throw new StudioError(`${this.path} has no tensor "${name}"`, 'bad-input');
    return e;
  }

  /** A floating-point tensor as float32 (F32, F16, BF16 and F64 are converted). */
  floats(name: string): Float32Array {
    const e = this.entry(name);
    if (this.fd === undefined) throw new StudioError(`${this.path} is closed`, 'failed');
    const raw = new Uint8Array(e.end - e.begin);
    readChunked(this.fd, raw, e.begin);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const n = elementCount(e.shape);
    const out = new Float32Array(n);
    switch (e.dtype) {
      case 'F32':
        for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
        break;
      case 'F16':
        for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
        break;
      case 'BF16': {
        const bits = new Uint32Array(1);
        const f = new Float32Array(bits.buffer);
        for (let i = 0; i < n; i++) {
          bits[0] = view.getUint16(i * 2, true) << 16;
          out[i] = f[0];
        }
        break;
      }
      case 'F64':
        for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
        break;
      default:
        throw new StudioError(
          `${this.path}: tensor "${name}" is ${e.dtype}, not floating point`,
          'bad-input',
        );
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function parseHeader(
  fd: number,
  size: number,
  path: string,
): { entries: Map<string, SafetensorsEntry>; metadata: Record<string, string> } {
  const bad = (why: string): StudioError =>
    new StudioError(`${path} is not a valid .safetensors file: ${why}`, 'bad-input');
  if (size < 8) throw bad(`it is ${size} bytes long, shorter than the 8-byte header length`);
  const lenBytes = Buffer.alloc(8);
  readSync(fd, lenBytes, 0, 8, 0);
  const headerLen = lenBytes.readBigUInt64LE(0);
  if (headerLen < 2n || headerLen > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
    throw bad(
      `the header claims ${headerLen} bytes but the file has ${size - 8} after the length (and headers are capped at ${MAX_HEADER_BYTES})`,
    );
  }
  const len = Number(headerLen);
  const headerBytes = Buffer.alloc(len);
  readChunked(fd, headerBytes, 8);
  let json: unknown;
  try {
    json = JSON.parse(headerBytes.toString('utf8'));
  } catch (e) {
    throw bad(`the header is not JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw bad('the header is not a JSON object');
  const dataStart = 8 + len;
  const dataSize = size - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      const parsed = z.record(z.string(), z.string()).safeParse(raw);
      if (!parsed.success) throw bad('__metadata__ must map strings to strings');
      metadata = parsed.data;
      continue;
    }
    const parsed = EntrySchema.safeParse(raw);
    if (!parsed.success) throw bad(`tensor "${name}" has a malformed entry`);
    const { dtype, shape, data_offsets } = parsed.data;
    if (!(dtype in DTYPE_BYTES)) throw bad(`tensor "${name}" has unknown dtype ${dtype}`);
    const width = DTYPE_BYTES[dtype as SafetensorsDtype];
    const [b, e] = data_offsets;
    const expected = elementCount(shape) * width;
    if (e < b) throw bad(`tensor "${name}" ends (${e}) before it begins (${b})`);
    if (e - b !== expected) {
      throw bad(
        `tensor "${name}" has ${e - b} bytes but its shape [${shape.join(', ')}] of ${dtype} needs ${expected}`,
      );
    }
    if (e > dataSize) {
      throw bad(
        `tensor "${name}" needs bytes ${b}..${e} of the data section, which has only ${dataSize} (truncated file?)`,
      );
    }
    entries.set(name, {
      name,
      dtype: dtype as SafetensorsDtype,
      shape,
      begin: dataStart + b,
      end: dataStart + e,
    });
  }
  // Tensors may not overlap: a header that points two tensors at the same bytes is lying.
  const sorted = [...entries.values()].sort((x, y) => x.begin - y.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw bad(`tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap`);
    }
  }
  return { entries, metadata };
}

/**
 * Writes float32 tensors as a `.safetensors` file (tests and tools; the studio itself only reads
 * them). Names are written in sorted order, as the reference implementation does.
 */
export function encodeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  metadata?: Record<string, string>,
): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const { shape, data } = tensors[name];
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.length * 4] };
    offset += data.length * 4;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const hb = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const out = Buffer.alloc(8 + hb.length + offset);
  out.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(out, 8);
  let at = 8 + hb.length;
  for (const name of names) {
    const { data } = tensors[name];
    for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], at + i * 4);
    at += data.length * 4;
  }
  return out;
}
