import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Reading and validating a CLIPTokenizer folder as written by transformers' save_pretrained:
 * vocab.json + merges.txt, optionally tokenizer_config.json and special_tokens_map.json.
 * Every error names the file and what is wrong with it, because these folders come from users.
 */

export const VocabSchema = z.record(z.string(), z.number().int().nonnegative());

/** A special token: a plain string, or transformers' AddedToken object `{content, ...}`. */
const SpecialTokenSchema = z.union([z.string(), z.object({ content: z.string() })]);

const SpecialTokensSchema = z.object({
  bos_token: SpecialTokenSchema.nullish(),
  eos_token: SpecialTokenSchema.nullish(),
  unk_token: SpecialTokenSchema.nullish(),
  pad_token: SpecialTokenSchema.nullish(),
});

export const TokenizerConfigSchema = SpecialTokensSchema.extend({
  model_max_length: z.number().positive().optional(),
});

export type Vocab = Record<string, number>;
export type Merge = readonly [string, string];

/** The special tokens and length limit, resolved from the optional config files. */
export interface TokenizerSettings {
  bosToken: string;
  eosToken: string;
  unkToken: string;
  padToken: string;
  modelMaxLength: number;
}

export interface TokenizerFiles {
  vocab: Vocab;
  merges: Merge[];
  settings: TokenizerSettings;
}

export const CLIP_DEFAULTS: TokenizerSettings = {
  bosToken: '<|startoftext|>',
  eosToken: '<|endoftext|>',
  unkToken: '<|endoftext|>',
  // SD 1.x pads with <|endoftext|>; SD 2.x / SDXL tokenizer_2 configs say "!" instead.
  padToken: '<|endoftext|>',
  modelMaxLength: 77,
};

// transformers writes a huge sentinel (int(1e30)) when a tokenizer has no length limit.
const MAX_SANE_LENGTH = 1 << 20;

export class TokenizerFileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'TokenizerFileError';
  }
}

function describeIssues(error: z.ZodError): string {
  const first = error.issues.slice(0, 3).map((issue) => {
    const where = issue.path.length > 0 ? ` at "${issue.path.join('.')}"` : '';
    return `${issue.message}${where}`;
  });
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more problems)` : '';
  return first.join('; ') + more;
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new TokenizerFileError(file, `is not valid JSON (${(err as Error).message})`);
  }
}

export function parseVocab(file: string, text: string): Vocab {
  const parsed = VocabSchema.safeParse(parseJson(file, text));
  if (!parsed.success) {
    throw new TokenizerFileError(
      file,
      `must be a JSON object mapping token strings to non-negative integer ids: ${describeIssues(parsed.error)}`,
    );
  }
  if (Object.keys(parsed.data).length === 0) throw new TokenizerFileError(file, 'is empty');
  return parsed.data;
}

/** merges.txt: an optional `#version` header, then one `left right` pair per line, by rank. */
export function parseMerges(file: string, text: string): Merge[] {
  const merges: Merge[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.length === 0 || (index === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new TokenizerFileError(
        file,
        `line ${index + 1}: expected two symbols separated by one space, got ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    merges.push([parts[0], parts[1]]);
  });
  if (merges.length === 0) throw new TokenizerFileError(file, 'has no merges');
  return merges;
}

function tokenContent(
  token: z.infer<typeof SpecialTokenSchema> | null | undefined,
): string | undefined {
  if (token === null || token === undefined) return undefined;
  return typeof token === 'string' ? token : token.content;
}

type SpecialTokens = z.infer<typeof SpecialTokensSchema>;

function parseOptionalConfig<T extends z.ZodType>(
  file: string,
  text: string | undefined,
  schema: T,
): z.infer<T> | undefined {
  if (text === undefined) return undefined;
  const parsed = schema.safeParse(parseJson(file, text));
  if (!parsed.success) throw new TokenizerFileError(file, describeIssues(parsed.error));
  return parsed.data;
}

/**
 * Resolve special tokens like transformers: special_tokens_map.json overrides
 * tokenizer_config.json, which overrides CLIP's defaults.
 */
export function resolveSettings(
  config: z.infer<typeof TokenizerConfigSchema> | undefined,
  specialMap: SpecialTokens | undefined,
): TokenizerSettings {
  const pick = (key: keyof SpecialTokens, fallback: string): string =>
    tokenContent(specialMap?.[key]) ?? tokenContent(config?.[key]) ?? fallback;
  const maxLength = config?.model_max_length;
  return {
    bosToken: pick('bos_token', CLIP_DEFAULTS.bosToken),
    eosToken: pick('eos_token', CLIP_DEFAULTS.eosToken),
    unkToken: pick('unk_token', CLIP_DEFAULTS.unkToken),
    padToken: pick('pad_token', CLIP_DEFAULTS.padToken),
    modelMaxLength:
      maxLength !== undefined && Number.isInteger(maxLength) && maxLength <= MAX_SANE_LENGTH
        ? maxLength
        : CLIP_DEFAULTS.modelMaxLength,
  };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TokenizerFileError(path, `cannot be read (${(err as Error).message})`);
  }
}

async function readRequired(path: string): Promise<string> {
  const text = await readOptional(path);
  if (text === undefined)
    throw new TokenizerFileError(path, 'not found (a CLIP tokenizer folder needs it)');
  return text;
}

/** Read and validate the tokenizer files of one folder (e.g. `<model>/tokenizer`). */
export async function readTokenizerFiles(dir: string): Promise<TokenizerFiles> {
  const vocabPath = join(dir, 'vocab.json');
  const mergesPath = join(dir, 'merges.txt');
  const configPath = join(dir, 'tokenizer_config.json');
  const specialPath = join(dir, 'special_tokens_map.json');
  const [vocabText, mergesText, configText, specialText] = await Promise.all([
    readRequired(vocabPath),
    readRequired(mergesPath),
    readOptional(configPath),
    readOptional(specialPath),
  ]);
  return {
    vocab: parseVocab(vocabPath, vocabText),
    merges: parseMerges(mergesPath, mergesText),
    settings: resolveSettings(
      parseOptionalConfig(configPath, configText, TokenizerConfigSchema),
      parseOptionalConfig(specialPath, specialText, SpecialTokensSchema),
    ),
  };
}
