/**
 * CLIP's byte-level alphabet (openai/CLIP `simple_tokenizer.bytes_to_unicode`): every byte 0..255
 * maps to one printable Unicode character, so BPE can work on strings without whitespace or
 * control characters. Printable Latin-1 bytes map to themselves; the other 68 bytes map to
 * U+0100.. in byte order. The vocabulary files are written in this alphabet.
 */
function buildByteEncoder(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array<string>(256);
  const isPrintable = new Set(printable);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (!isPrintable.has(b)) table[b] = String.fromCharCode(256 + next++);
  }
  return table;
}

/** byte value → its character in CLIP's byte-level alphabet. */
export const BYTE_ENCODER: readonly string[] = buildByteEncoder();

/** character of CLIP's byte-level alphabet → byte value (for decoding). */
export const BYTE_DECODER: ReadonlyMap<string, number> = new Map(
  BYTE_ENCODER.map((ch, byte) => [ch, byte] as const),
);
