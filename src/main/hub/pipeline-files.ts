import { z } from 'zod';
import { StudioError } from '../../shared/errors';
import { COMPONENTS } from '../models/model-folder';
import { assertSafeRepoPath } from './repo-id';

/** One entry of the Hub's tree listing (`GET /api/models/{repo}/tree/{rev}?recursive=true`). */
export const TreeEntrySchema = z.object({
  type: z.enum(['file', 'directory', 'unknown']),
  path: z.string().min(1).max(1000),
  size: z.number().int().nonnegative(),
  oid: z.string().regex(/^[0-9a-f]{40}$/, 'must be a git object id (40 hex digits)'),
  lfs: z
    .object({
      oid: z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 (64 hex digits)'),
      size: z.number().int().nonnegative(),
    })
    .loose()
    .optional(),
  xetHash: z.string().optional(),
});
export type TreeEntry = z.infer<typeof TreeEntrySchema>;

/** A file the pipeline needs, with what the download is checked against. */
export interface PipelineFile {
  /** Path inside the repo (includes the subfolder). */
  path: string;
  size: number;
  /** The blob's name in the cache: the LFS sha256 for LFS files, the git blob sha1 otherwise. */
  etag: string;
  /** How the content is verified: sha256 of the bytes (LFS) or git's blob sha1. */
  check: 'sha256' | 'git-sha1';
}

/** Weights the studio never fetches: PyTorch, Flax, TF, GGUF (an ONNX pipeline does not use them). */
const NOT_NEEDED = /\.(safetensors|bin|ckpt|pt|pth|msgpack|h5|gguf|md|png|jpe?g|webp|gif)$/i;

/**
 * Picks the files of an ONNX Stable Diffusion pipeline from a repo's listing: `model_index.json` and
 * the direct children of the known component folders (ONNX graphs, their external data such as
 * `model.onnx_data` or `weights.pb`, configs, tokenizer files), at the root or in `subfolder`.
 * Refuses (before any byte is written) a listing without `model_index.json` + `unet/model.onnx`, and
 * a listing with any name that could escape the cache folder.
 */
export function selectPipelineFiles(
  repo: string,
  entries: TreeEntry[],
  subfolder: string | null,
): { files: PipelineFile[]; skipped: number } {
  for (const e of entries) {
    try {
      assertSafeRepoPath(e.path, false);
    } catch {
      throw new StudioError(
        `${repo}: the Hub listed a file named "${e.path}", which would escape the cache folder; refusing the whole repo`,
        'bad-input',
      );
    }
  }
  const prefix = subfolder ? `${subfolder}/` : '';
  const files = entries.filter((e) => e.type === 'file');
  const has = (p: string): boolean => files.some((f) => f.path === `${prefix}${p}`);
  if (!has('model_index.json') || !has('unet/model.onnx')) {
    const elsewhere = files
      .filter((f) => f.path.endsWith('/unet/model.onnx'))
      .map((f) => f.path.slice(0, -'/unet/model.onnx'.length));
    const hint =
      elsewhere.length > 0
        ? ` It has one in ${elsewhere.map((s) => `"${s}"`).join(', ')}: add --subfolder ${elsewhere[0]}.`
        : ' Look for a repo with an ONNX export (optimum-cli export onnx), often named "...-onnx".';
    throw new StudioError(
      `${repo}: no ONNX Stable Diffusion pipeline ${subfolder ? `in subfolder "${subfolder}"` : 'at the repo root'} (it needs model_index.json and unet/model.onnx).${hint}`,
      'bad-input',
    );
  }
  const wanted: PipelineFile[] = [];
  for (const f of files) {
    if (!f.path.startsWith(prefix)) continue;
    const rel = f.path.slice(prefix.length);
    const parts = rel.split('/');
    const isIndex = rel === 'model_index.json';
    const inComponent =
      parts.length === 2 && (COMPONENTS as readonly string[]).includes(parts[0] ?? '');
    if (!isIndex && !inComponent) continue;
    if (NOT_NEEDED.test(rel)) continue;
    assertSafeRepoPath(f.path, true);
    wanted.push(
      f.lfs
        ? { path: f.path, size: f.lfs.size, etag: f.lfs.oid, check: 'sha256' }
        : { path: f.path, size: f.size, etag: f.oid, check: 'git-sha1' },
    );
  }
  // model_index.json last: a snapshot only has it once every other file is in place, so a scan of
  // the cache never offers a half-downloaded pipeline.
  wanted.sort(
    (a, b) =>
      Number(a.path.endsWith('model_index.json')) - Number(b.path.endsWith('model_index.json')),
  );
  return { files: wanted, skipped: files.length - wanted.length };
}

/** Bytes per component folder (the unit sequential residency loads at once). */
export function componentSizes(
  files: { path: string; size: number }[],
  subfolder: string | null,
): Map<string, number> {
  const prefix = subfolder ? `${subfolder}/` : '';
  const sizes = new Map<string, number>();
  for (const f of files) {
    const rel = f.path.slice(prefix.length);
    const component = rel.includes('/') ? (rel.split('/')[0] ?? '') : '';
    if (!component.startsWith('tokenizer') && component !== 'scheduler' && component !== '')
      sizes.set(component, (sizes.get(component) ?? 0) + f.size);
  }
  return sizes;
}
