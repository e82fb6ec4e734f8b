import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, SafetensorsFile } from './safetensors';

const dir = mkdtempSync(join(tmpdir(), 'ls-safetensors-'));
let n = 0;
const file = (bytes: Buffer): string => {
  const p = join(dir, `f${n++}.safetensors`);
  writeFileSync(p, bytes);
  return p;
};

/** A file with a hand-written header (to make it lie) and `data` bytes after it. */
function rawFile(header: Record<string, unknown>, data: Buffer, claimedLength?: bigint): string {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(claimedLength ?? BigInt(h.length));
  return file(Buffer.concat([len, h, data]));
}

describe('SafetensorsFile', () => {
  it('reads back what encodeSafetensors wrote, with metadata', () => {
    const a = Float32Array.from([1, -2.5, 3.25, 1e-8, 7, 8]);
    const p = file(
      encodeSafetensors(
        {
          'x.lora_down.weight': { shape: [2, 3], data: a },
          alpha: { shape: [], data: Float32Array.from([4]) },
        },
        { format: 'kohya', note: 'ünïcode' },
      ),
    );
    const st = SafetensorsFile.open(p);
    expect(st.names().sort()).toEqual(['alpha', 'x.lora_down.weight']);
    expect(st.entry('x.lora_down.weight').shape).toEqual([2, 3]);
    expect(Array.from(st.floats('x.lora_down.weight'))).toEqual(Array.from(a));
    expect(Array.from(st.floats('alpha'))).toEqual([4]);
    expect(st.metadata).toEqual({ format: 'kohya', note: 'ünïcode' });
    st.close();
  });

  it('converts F16, BF16 and F64 tensors to float32', () => {
    const data = Buffer.alloc(2 * 2 + 2 * 2 + 8);
    data.writeUInt16LE(0x3c00, 0); // 1.0 half
    data.writeUInt16LE(0xc100, 2); // -2.5 half
    data.writeUInt16LE(0x3f80, 4); // 1.0 bf16
    data.writeUInt16LE(0x4040, 6); // 3.0 bf16
    data.writeDoubleLE(0.125, 8);
    const p = rawFile(
      {
        h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
        d: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
      },
      data,
    );
    const st = SafetensorsFile.open(p);
    expect(Array.from(st.floats('h'))).toEqual([1, -2.5]);
    expect(Array.from(st.floats('b'))).toEqual([1, 3]);
    expect(Array.from(st.floats('d'))).toEqual([0.125]);
    st.close();
  });

  it('refuses a file that is not safetensors', () => {
    expect(() => SafetensorsFile.open(file(Buffer.from('PK\u0003\u0004 this is a zip')))).toThrow(
      /not a valid \.safetensors file: the header claims/,
    );
    expect(() => SafetensorsFile.open(file(Buffer.from('abc')))).toThrow(/shorter than the 8-byte/);
    const notJson = Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{{')]);
    expect(() => SafetensorsFile.open(file(notJson))).toThrow(/header is not JSON/);
  });

  it('refuses headers that lie about their own length, offsets, sizes or overlaps', () => {
    const data = Buffer.alloc(16);
    expect(() =>
      rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data, 1n << 40n),
    ).not.toThrow();
    expect(() =>
      SafetensorsFile.open(
        rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data, 1n << 40n),
      ),
    ).toThrow(/header claims/);
    expect(() =>
      SafetensorsFile.open(
        rawFile({ a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } }, data),
      ),
    ).toThrow(/needs bytes 0\.\.32 of the data section, which has only 16/);
    expect(() =>
      SafetensorsFile.open(
        rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, data),
      ),
    ).toThrow(/has 16 bytes but its shape \[3\] of F32 needs 12/);
    expect(() =>
      SafetensorsFile.open(
        rawFile(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          data,
        ),
      ),
    ).toThrow(/"a" and "b" overlap/);
    expect(() =>
      SafetensorsFile.open(rawFile({ a: { dtype: 'Q4', shape: [2], data_offsets: [0, 1] } }, data)),
    ).toThrow(/unknown dtype Q4/);
    expect(() =>
      SafetensorsFile.open(
        rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, data),
      ),
    ).toThrow(/malformed entry/);
  });

  it('refuses to read an integer tensor as floats', () => {
    const st = SafetensorsFile.open(
      rawFile({ i: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, Buffer.alloc(8)),
    );
    expect(() => st.floats('i')).toThrow(/I64, not floating point/);
    st.close();
  });
});
