import { BYTE_DECODER, BYTE_ENCODER } from './bytes-to-unicode';
import { cleanPrompt } from './text-clean';
import {
  CLIP_DEFAULTS,
  readTokenizerFiles,
  TokenizerFileError,
  type Merge,
  type TokenizerFiles,
  type TokenizerSettings,
  type Vocab,
} from './tokenizer-files';

/**
 * CLIP's byte-level BPE tokenizer, a port of openai/CLIP `simple_tokenizer.py` (the reference the
 * Stable Diffusion text encoders were trained with; HF's CLIPTokenizer reproduces it with ftfy).
 * Works on any vocabulary in CLIP's file format: special token ids are looked up by name.
 */

// simple_tokenizer's pattern. [^\s...] uses Unicode White_Space, as Python's `regex` module does.
const TOKEN_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/giu;

const END_OF_WORD = '</w>';
const UTF8 = new TextEncoder();

// A long-running studio sees unbounded distinct words; the cache is cleared when it gets this big.
const CACHE_LIMIT = 50_000;

export interface ClipEncodeOptions {
  /** Total length with BOS/EOS; default: the tokenizer's model_max_length (77 for SD). */
  maxLength?: number;
  /** Cut to maxLength, keeping EOS last (`ids[:maxLength-1] + [eos]`). Default true. */
  truncation?: boolean;
  /** Pad with the pad token up to maxLength. Default true. */
  padding?: boolean;
}

export interface ClipEncoding {
  /** BOS, the prompt's tokens, EOS, then padding. */
  ids: number[];
  /** 1 for BOS/tokens/EOS, 0 for padding. */
  attentionMask: number[];
  /** Whether tokens were dropped to fit maxLength. */
  truncated: boolean;
  /** Length before truncation and padding, BOS and EOS included. */
  tokenCount: number;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number | undefined;
  readonly modelMaxLength: number;
  readonly vocabSize: number;

  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, number[]>();
  private readonly specialIds: Map<string, number>;

  constructor(vocab: Vocab, merges: readonly Merge[], settings: Partial<TokenizerSettings> = {}) {
    const s: TokenizerSettings = { ...CLIP_DEFAULTS, ...settings };
    this.encoder = new Map(Object.entries(vocab));
    this.decoder = new Map([...this.encoder].map(([token, id]) => [id, token]));
    this.vocabSize = this.encoder.size;
    this.ranks = new Map();
    merges.forEach(([a, b], rank) => {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
    const idOf = (role: string, token: string): number => {
      const id = this.encoder.get(token);
      if (id === undefined) {
        throw new TokenizerFileError(
          'vocab.json',
          `has no entry for the ${role} token ${JSON.stringify(token)}`,
        );
      }
      return id;
    };
    this.bosId = idOf('BOS', s.bosToken);
    this.eosId = idOf('EOS', s.eosToken);
    this.padId = idOf('pad', s.padToken);
    this.unkId = this.encoder.get(s.unkToken);
    this.modelMaxLength = s.modelMaxLength;
    // simple_tokenizer's cache starts with the two specials, so their literal text maps to their ids.
    this.specialIds = new Map([
      ['<|startoftext|>', this.encoder.get('<|startoftext|>') ?? this.bosId],
      ['<|endoftext|>', this.encoder.get('<|endoftext|>') ?? this.eosId],
    ]);
  }

  /** Load `vocab.json`, `merges.txt` and the optional config files from a tokenizer folder. */
  static async fromFolder(dir: string): Promise<ClipTokenizer> {
    return ClipTokenizer.fromFiles(await readTokenizerFiles(dir));
  }

  static fromFiles(files: TokenizerFiles): ClipTokenizer {
    return new ClipTokenizer(files.vocab, files.merges, files.settings);
  }

  /** The prompt's token ids, without BOS/EOS, truncation or padding. */
  tokenize(text: string): number[] {
    const ids: number[] = [];
    for (const match of cleanPrompt(text).matchAll(TOKEN_PATTERN)) {
      const word = match[0];
      const special = this.specialIds.get(word);
      if (special !== undefined) {
        ids.push(special);
        continue;
      }
      let cached = this.cache.get(word);
      if (cached === undefined) {
        let mapped = '';
        for (const byte of UTF8.encode(word)) mapped += BYTE_ENCODER[byte];
        cached = this.bpe(mapped).map((piece) => this.pieceId(piece));
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, cached);
      }
      for (const id of cached) ids.push(id);
    }
    return ids;
  }

  /** Text-encoder input: BOS + tokens + EOS, truncated and padded to maxLength (77 for SD). */
  encode(text: string, options: ClipEncodeOptions = {}): ClipEncoding {
    const maxLength = options.maxLength ?? this.modelMaxLength;
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new RangeError(`maxLength must be an integer >= 2, got ${maxLength}`);
    }
    const full = [this.bosId, ...this.tokenize(text), this.eosId];
    const tokenCount = full.length;
    const truncate = (options.truncation ?? true) && tokenCount > maxLength;
    const ids = truncate ? [...full.slice(0, maxLength - 1), this.eosId] : full;
    const attentionMask = new Array<number>(ids.length).fill(1);
    if (options.padding ?? true) {
      while (ids.length < maxLength) {
        ids.push(this.padId);
        attentionMask.push(0);
      }
    }
    return { ids, attentionMask, truncated: truncate, tokenCount };
  }

  /** Ids back to text, up to the first EOS; for showing what a (truncated) prompt became. */
  decode(ids: readonly number[]): string {
    let text = '';
    for (const id of ids) {
      if (id === this.eosId) break; // padding follows EOS (and may be a real token, e.g. "!")
      if (id !== this.bosId) text += this.decoder.get(id) ?? '';
    }
    const bytes: number[] = [];
    for (const ch of text.replaceAll(END_OF_WORD, ' ')) {
      const byte = BYTE_DECODER.get(ch);
      if (byte !== undefined) bytes.push(byte);
      else bytes.push(...UTF8.encode(ch));
    }
    return new TextDecoder().decode(new Uint8Array(bytes)).trim();
  }

  private pieceId(piece: string): number {
    const id = this.encoder.get(piece);
    if (id !== undefined) return id;
    if (this.unkId !== undefined) return this.unkId;
    throw new Error(
      `BPE piece ${JSON.stringify(piece)} is not in vocab.json and there is no unk token`,
    );
  }

  /**
   * simple_tokenizer.bpe: start from single characters (the last one carrying `</w>`) and
   * repeatedly merge every occurrence of the lowest-ranked adjacent pair until none is ranked.
   */
  private bpe(token: string): string[] {
    let word = Array.from(token);
    word[word.length - 1] += END_OF_WORD;
    while (word.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < best) {
          best = rank;
          first = word[i];
          second = word[i + 1];
        }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(word[i]);
        }
      }
      word = merged;
    }
    return word;
  }
}

/** Convenience: load a CLIP tokenizer folder. */
export function loadClipTokenizer(dir: string): Promise<ClipTokenizer> {
  return ClipTokenizer.fromFolder(dir);
}
