import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { METHOD_NAMES, studioMethods, type MethodName, type StudioHandlers } from '../shared/api';
import { StudioError } from '../shared/errors';
import { isLoraId } from '../shared/lora-schemas';
import { pathFieldsOf, type PathAlias, type PathKind } from '../shared/path-fields';

export type { PathKind } from '../shared/path-fields';

/**
 * Paths only with consent. A page (the renderer, or whatever script reaches the web host) must not
 * be able to point the studio at any file on disk. Fields that name a file-system path are marked
 * on their schema (`pathField`, src/shared/path-fields.ts) and read from the method schemas here;
 * each adapter decides what consent means:
 * - Electron: a path the person picked in a main-process dialog; the page only holds an opaque
 *   handle (`consent:<uuid>`), which the adapter turns back into the path (ConsentStore);
 * - web host: a path under a folder the person allowed (`npm run web -- --allow-folder DIR`, kept
 *   in `<home>/allowed-folders.json`), checked on its text first, then after symlinks are resolved
 *   (folderPolicy);
 * - CLI: plain paths (the person typed them).
 * The gate runs on the input as the method's schema parsed it (`dispatch`), never on a raw body.
 * Anything else is refused with `field: why, and what to do`.
 */

/** Built-in test sets: a `cases` value that is not a path. */
const BUILT_IN_CASES = new Set(['auto', 'default', 'classic', 'shapes']);

export interface PathField {
  method: MethodName;
  /** Dotted field path; `*` stands for every item of an array. */
  field: string;
  kind: PathKind;
  /** What a value may be instead of a path (a known model, a LoRA id, a built-in test set). */
  alias?: PathAlias;
}

export interface KnownNames {
  isKnownModel(name: string): boolean;
}

/**
 * Values that are names, not paths, and pass untouched. A LoRA id from listLoras
 * (`lora:bundled/<file>`, `lora:home/<file>`) names a file in the studio's own LoRA folders; the
 * service resolves it there and refuses anything that would leave them.
 */
const IS_NAME: Record<PathAlias, (value: string, known: KnownNames) => boolean> = {
  model: (value, known) => known.isKnownModel(value),
  lora: (value) => isLoraId(value),
  cases: (value) => BUILT_IN_CASES.has(value),
};

/** Every path field of every method, read from the method input schemas. */
export const PATH_FIELDS: readonly PathField[] = METHOD_NAMES.flatMap((method) =>
  pathFieldsOf(studioMethods[method].input).map(({ field, path }) => ({
    method,
    field,
    kind: path.kind,
    ...(path.alias ? { alias: path.alias } : {}),
  })),
);

/** Turns one path value into the path to use, or throws a StudioError naming `field`. */
export type PathResolver = (value: string, field: string, kind: PathKind) => string;

/**
 * The parsed input with every path field checked (and, for handles, replaced by the picked path).
 * The input is not changed: what is rewritten is copied along the way.
 */
export function gatePaths<T>(
  method: MethodName,
  input: T,
  resolvePath: PathResolver,
  known: KnownNames,
): T {
  let out: unknown = input;
  for (const spec of PATH_FIELDS) {
    if (spec.method !== method) continue;
    out = rewrite(out, spec.field.split('.'), [], (value, field) => {
      if (spec.alias && IS_NAME[spec.alias](value, known)) return value;
      // A bare word (no separator, no handle) in a model field is a name no adapter takes as a path.
      if (spec.alias === 'model' && /^[^\\/:]+$/.test(value)) {
        throw new StudioError(
          `${field}: unknown model "${value}": use the name of a known model (listModels) or a model folder's path`,
          'not-found',
        );
      }
      return resolvePath(value, field, spec.kind);
    });
  }
  return out as T;
}

/** `node` with the string at `rest` replaced by `fix(value, field)`; copies only what it changes. */
function rewrite(
  node: unknown,
  rest: readonly string[],
  at: readonly string[],
  fix: (value: string, field: string) => string,
): unknown {
  if (rest.length === 0)
    return typeof node === 'string' && node !== '' ? fix(node, at.join('.')) : node;
  if (node === null || typeof node !== 'object') return node;
  const [key, ...tail] = rest;
  if (key === '*') {
    if (Array.isArray(node))
      return node.map((item, i) => rewrite(item, tail, [...at, String(i)], fix));
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, rewrite(v, tail, [...at, k], fix)]),
    );
  }
  if (!Object.prototype.hasOwnProperty.call(node, key)) return node;
  const value = (node as Record<string, unknown>)[key];
  return { ...node, [key]: rewrite(value, tail, [...at, key], fix) };
}

/**
 * `gatePaths` for an adapter: model fields that name a known model (listed by the studio) pass,
 * every other path goes through `resolvePath`.
 */
export async function checkPaths<T>(
  handlers: Pick<StudioHandlers, 'listModels'>,
  method: MethodName,
  input: T,
  resolvePath: PathResolver,
): Promise<T> {
  const needsModels = PATH_FIELDS.some((f) => f.method === method && f.alias === 'model');
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

/**
 * The real path of `p`, or of its nearest existing ancestor joined with the rest (outputs). With
 * `stop`, an ancestor of `p` that exists, the walk up goes no further than it.
 */
function realpathLoose(p: string, stop?: string): string {
  let head = resolve(p);
  const tail: string[] = [];
  while (head !== stop && !existsSync(head)) {
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

/**
 * A network path (`\\host\share`, `//host/share`) or a Windows device path (`\\?\`, `\\.\`):
 * on Windows, opening one connects to another machine (and offers it the person's credentials).
 */
const NETWORK_OR_DEVICE = /^[\\/]{2}/;

/**
 * Web host: only paths under the allowed folders. The path's text is checked first (resolved, `..`
 * taken out), so nothing outside the allowed folders is ever looked at on disk; then symlinks are
 * resolved and the real path must be inside too. An output (`optimizeModel.out`) is a new folder
 * inside an allowed folder, never an allowed folder itself.
 */
export function folderPolicy(folders: readonly string[]): PathResolver {
  return (value, field, kind) => {
    const refuse = (why: string): never => {
      throw new StudioError(`${field}: ${why}`, 'bad-input');
    };
    if (value.includes('\0')) refuse('the path contains a NUL character; give a plain path');
    if (NETWORK_OR_DEVICE.test(value)) {
      refuse(
        `${value} is a network (UNC) or device path; the web studio opens only local paths under an allowed folder: copy the files into one and give that path`,
      );
    }
    if (!isAbsolute(value))
      refuse('give an absolute path under a folder allowed for the web studio');
    if (folders.length === 0) {
      refuse(
        'the web studio reads and writes no folder until you allow one: restart it with `npm run web -- --allow-folder DIR`',
      );
    }
    // The allowed folders as they were given and with their symlinks resolved (they exist).
    const roots = folders.flatMap((f) => [resolve(f), realpathLoose(f)]);
    const outside = (): never =>
      refuse(
        `${value} is outside the folders allowed for the web studio (${[...new Set(roots)].join(', ')}); allow its folder with \`npm run web -- --allow-folder DIR\``,
      );
    const text = resolve(value);
    const base = roots.find((r) => inside(text, r));
    if (base === undefined) return outside();
    const real = realpathLoose(text, base);
    if (!roots.some((r) => inside(real, r))) return outside();
    if (kind === 'output' && roots.some((r) => relative(r, real) === '')) {
      refuse(
        `${value} is an allowed folder itself; the studio writes a new folder inside it, never over it: give a new folder inside it, e.g. ${join(value, 'my-variant')}`,
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
