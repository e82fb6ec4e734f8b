import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import type { MethodName, StudioHandlers } from '../shared/api';
import { StudioError } from '../shared/errors';
import { isLoraId } from '../shared/lora-schemas';

/**
 * Paths only with consent. A page (the renderer, or whatever script reaches the web host) must not
 * be able to point the studio at any file on disk. Fields that name a file-system path are listed
 * here, once, and each adapter decides what consent means:
 * - Electron: a path the person picked in a main-process dialog; the page only holds an opaque
 *   handle (`consent:<uuid>`), which the adapter turns back into the path (ConsentStore);
 * - web host: a path under a folder the person allowed (`npm run web -- --allow-folder DIR`, kept
 *   in `<home>/allowed-folders.json`), after symlinks are resolved (folderPolicy);
 * - CLI: plain paths (the person typed them).
 * Anything else is refused with `field: why, and what to do`.
 */

/** Built-in test sets: a `cases` value that is not a path. */
const BUILT_IN_CASES = new Set(['auto', 'default', 'classic', 'shapes']);

export type PathKind = 'folder' | 'file' | 'output';

export interface PathField {
  method: MethodName;
  /** Dotted field path; `*` stands for every item of an array. */
  field: string;
  kind: PathKind;
  /** Values that are names, not paths (a known model, a built-in test set) pass untouched. */
  isName?: (value: string, known: KnownNames) => boolean;
}

export interface KnownNames {
  isKnownModel(name: string): boolean;
}

const modelName = (value: string, known: KnownNames): boolean => known.isKnownModel(value);
/**
 * A LoRA id from listLoras (`lora:bundled/<file>`, `lora:home/<file>`) names a file in the studio's
 * own LoRA folders; the service resolves it there and refuses anything that would leave them.
 */
const loraId = (value: string): boolean => isLoraId(value);

export const PATH_FIELDS: readonly PathField[] = [
  { method: 'registerModel', field: 'path', kind: 'folder' },
  { method: 'optimizeModel', field: 'out', kind: 'output' },
  { method: 'optimizeModel', field: 'model', kind: 'folder', isName: modelName },
  { method: 'generate', field: 'model', kind: 'folder', isName: modelName },
  { method: 'generate', field: 'loras.*.path', kind: 'file', isName: loraId },
  { method: 'optimizeModel', field: 'loras.*.path', kind: 'file', isName: loraId },
  { method: 'runBenchmark', field: 'model', kind: 'folder', isName: modelName },
  {
    method: 'runBenchmark',
    field: 'cases',
    kind: 'file',
    isName: (value) => BUILT_IN_CASES.has(value),
  },
  { method: 'proposeRecipes', field: 'model', kind: 'folder', isName: modelName },
  { method: 'getTrend', field: 'model', kind: 'folder', isName: modelName },
];

/** Turns one path value into the path to use, or throws a StudioError naming `field`. */
export type PathResolver = (value: string, field: string, kind: PathKind) => string;

/** The input with every path field checked (and, for handles, replaced by the picked path). */
export function gatePaths(
  method: MethodName,
  input: unknown,
  resolvePath: PathResolver,
  known: KnownNames,
): unknown {
  const fields = PATH_FIELDS.filter((f) => f.method === method);
  if (fields.length === 0 || input === null || typeof input !== 'object') return input;
  const copy = structuredClone(input) as Record<string, unknown>;
  for (const spec of fields) visit(copy, spec.field.split('.'), [], spec, resolvePath, known);
  return copy;
}

function visit(
  node: unknown,
  rest: string[],
  at: string[],
  spec: PathField,
  resolvePath: PathResolver,
  known: KnownNames,
): void {
  if (node === null || typeof node !== 'object') return;
  const [key, ...tail] = rest;
  if (key === '*') {
    if (!Array.isArray(node)) return;
    node.forEach((item, i) => visit(item, tail, [...at, String(i)], spec, resolvePath, known));
    return;
  }
  const record = node as Record<string, unknown>;
  const value = record[key];
  if (tail.length > 0) return visit(value, tail, [...at, key], spec, resolvePath, known);
  // Not a string (or absent): the schema answers that, with its own message.
  if (typeof value !== 'string' || value === '') return;
  if (spec.isName?.(value, known)) return;
  record[key] = resolvePath(value, [...at, key].join('.'), spec.kind);
}

/**
 * `gatePaths` for an adapter: model fields that name a known model (listed by the studio) pass,
 * every other path goes through `resolvePath`.
 */
export async function checkPaths(
  handlers: Pick<StudioHandlers, 'listModels'>,
  method: MethodName,
  input: unknown,
  resolvePath: PathResolver,
): Promise<unknown> {
  const needsModels = PATH_FIELDS.some((f) => f.method === method && f.isName === modelName);
  const names = needsModels
    ? new Set((await handlers.listModels({})).map((m) => m.name))
    : new Set<string>();
  return gatePaths(method, input, resolvePath, { isKnownModel: (n) => names.has(n) });
}

/** Electron: paths the person picked in a main-process dialog, known to the page only by handle. */
export class ConsentStore {
  private readonly granted = new Map<string, { path: string; kind: PathKind }>();

  /** Records a picked path and returns the handle the page may use in its place. */
  grant(path: string, kind: PathKind): string {
    const handle = `consent:${randomUUID()}`;
    this.granted.set(handle, { path: resolve(path), kind });
    return handle;
  }

  readonly resolve: PathResolver = (value, field, kind) => {
    const picked = this.granted.get(value);
    if (!picked) {
      throw new StudioError(
        `${field}: the desktop app only uses files and folders picked in its own dialog; use the Browse… button instead of typing a path`,
        'bad-input',
      );
    }
    if (picked.kind !== kind) {
      throw new StudioError(
        `${field}: the picked ${picked.kind} cannot be used here (a ${kind} is needed); pick again`,
        'bad-input',
      );
    }
    return picked.path;
  };
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (outputs). */
function realpathLoose(p: string): string {
  let head = resolve(p);
  const tail: string[] = [];
  while (!existsSync(head)) {
    const parent = dirname(head);
    if (parent === head) break;
    tail.unshift(basename(head));
    head = parent;
  }
  const real = existsSync(head) ? realpathSync(head) : head;
  return tail.length ? join(real, ...tail) : real;
}

function inside(child: string, folder: string): boolean {
  const rel = relative(folder, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(`..${sep}`));
}

/** Web host: only paths under the allowed folders, compared after symlinks are resolved. */
export function folderPolicy(folders: readonly string[]): PathResolver {
  return (value, field) => {
    if (!isAbsolute(value)) {
      throw new StudioError(
        `${field}: give an absolute path under a folder allowed for the web studio`,
        'bad-input',
      );
    }
    const real = realpathLoose(value);
    const allowed = folders.map((f) => realpathLoose(f));
    if (!allowed.some((f) => inside(real, f))) {
      throw new StudioError(
        allowed.length === 0
          ? `${field}: the web studio reads and writes no folder until you allow one: restart it with \`npm run web -- --allow-folder DIR\``
          : `${field}: ${value} is outside the folders allowed for the web studio (${allowed.join(', ')}); allow its folder with \`npm run web -- --allow-folder DIR\``,
        'bad-input',
      );
    }
    return real;
  };
}

const AllowedFoldersFile = z.object({ folders: z.array(z.string()) });
const foldersFile = (home: string): string => join(home, 'allowed-folders.json');

/** The folders the web studio may read and write paths under (besides its own data). */
export function readAllowedFolders(home: string): string[] {
  const file = foldersFile(home);
  if (!existsSync(file)) return [];
  const parsed = AllowedFoldersFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data.folders : [];
}

/** Adds a folder (resolved, symlinks followed) to the allowed list; returns the list. */
export function allowFolder(home: string, folder: string): string[] {
  const real = realpathLoose(folder);
  if (!existsSync(real)) throw new StudioError(`${folder} does not exist`, 'bad-input');
  const folders = readAllowedFolders(home);
  if (!folders.includes(real)) folders.push(real);
  mkdirSync(home, { recursive: true });
  writeFileSync(foldersFile(home), `${JSON.stringify({ folders }, null, 2)}\n`);
  return folders;
}
