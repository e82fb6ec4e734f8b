import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { StudioError } from '../../shared/errors';
import { isModelFolder } from '../models/model-folder';

/**
 * A variant folder's file names, and how a build claims, fills and gives up its output folder;
 * free of ONNX Runtime: the studio's own process (variant store, optimize client) needs them, and
 * must not load the native binding that `build-variant.ts` does.
 */

/** The manifest every optimized model folder carries. */
export const MANIFEST = 'latent-studio.json';

/** The partial folder's name, inside the output folder. */
export const PARTIAL = '.latent-studio.partial';

/**
 * The partial folder a build writes into before its files are moved into place: inside the output
 * folder, so it lies wherever the output was consented to, and nothing beside it is ever touched.
 */
export const partialDir = (outDir: string): string => join(resolve(outDir), PARTIAL);

/** Past this many entries a folder is not one the studio wrote (a variant holds a few dozen). */
const MAX_ENTRIES = 2000;

/** The real path of `p`, or of its nearest existing ancestor joined with the rest. */
function realpathLoose(p: string): string {
  let head = resolve(p);
  const tail: string[] = [];
  while (!existsSync(head) && dirname(head) !== head) {
    tail.unshift(basename(head));
    head = dirname(head);
  }
  const real = existsSync(head) ? realpathSync(head) : head;
  return tail.length ? join(real, ...tail) : real;
}

const within = (child: string, folder: string): boolean => {
  const rel = relative(folder, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
};

/** A studio manifest: `kind: latent-studio-variant`, with the source and recipe it was built from. */
function isStudioManifest(dir: string): boolean {
  try {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Record<string, unknown>;
    return (
      m.kind === 'latent-studio-variant' &&
      typeof m.source === 'string' &&
      typeof m.recipe === 'string'
    );
  } catch {
    return false;
  }
}

/**
 * What under `dir` (not `dir` itself, nor its partial folder) shows it is more than one variant:
 * another model (a folder with a model index, a UNet or a studio manifest), or more files than a
 * variant holds. Undefined: nothing.
 */
function foreignContent(dir: string): string | undefined {
  let seen = 0;
  const walk = (at: string): string | undefined => {
    for (const e of readdirSync(at, { withFileTypes: true })) {
      if (++seen > MAX_ENTRIES) return `more than ${MAX_ENTRIES} files, more than a variant holds`;
      if (!e.isDirectory() || (at === dir && e.name === PARTIAL)) continue;
      const sub = join(at, e.name);
      if (isModelFolder(sub) || existsSync(join(sub, MANIFEST)))
        return `another model (${relative(dir, sub)})`;
      const deeper = walk(sub);
      if (deeper) return deeper;
    }
    return undefined;
  };
  return walk(dir);
}

/**
 * What the output folder was when the build began: `new` (absent), `empty`, a `variant` the
 * studio wrote (its manifest), or `interrupted` (a studio build stopped while moving its files in).
 */
export type OutClaim = 'new' | 'empty' | 'variant' | 'interrupted';

/**
 * Stamped into the partial folder while its files move into place, and only then: a partial
 * folder holding it marks the output folder as the studio's own, files and all.
 */
const MOVING = '.moving';
const interrupted = (out: string): boolean => existsSync(join(partialDir(out), MOVING));

/**
 * Refuses an output folder a build of `source` must not write, before anything is written: the
 * source itself, a folder that holds it or lies inside it, a path through a folder named like the
 * studio's partial folder and, when it is not empty, anything but a variant the studio wrote
 * there (or one it was moving in when it was stopped), and only with `force`. A variant that
 * holds another model is not replaced either.
 */
export function checkOutDir(sourceDir: string, outDir: string, force: boolean): OutClaim {
  const out = resolve(outDir);
  const source = realpathLoose(sourceDir);
  const real = realpathLoose(out);
  const refuse = (why: string): never => {
    throw new StudioError(`out: ${why}`, 'bad-input');
  };
  if (out.split(/[\\/]/).includes(PARTIAL) || real.split(/[\\/]/).includes(PARTIAL))
    refuse(`${PARTIAL} is the name of the studio's own partial folder; choose another folder name`);
  if (real === source) refuse('must differ from the source model folder; choose a new folder');
  if (within(source, real))
    refuse(`${out} holds the source model ${source}; choose a folder outside it`);
  if (within(real, source))
    refuse(`${out} is inside the source model ${source}; choose a folder outside it`);
  if (!existsSync(out)) return 'new';
  if (!statSync(out).isDirectory()) refuse(`${out} is a file; choose a folder`);
  const entries = readdirSync(out).filter((e) => e !== PARTIAL);
  if (entries.length === 0) return 'empty';
  if (!force) {
    refuse(
      `${out} exists and is not empty; choose a new folder, or pass --force (force: true) to replace a variant the studio wrote there`,
    );
  }
  const claim: OutClaim | undefined = isStudioManifest(out)
    ? 'variant'
    : interrupted(out)
      ? 'interrupted'
      : undefined;
  if (!claim) {
    refuse(
      `${out} was not written by the studio (it has no ${MANIFEST}), so it is never replaced; choose a new or empty folder`,
    );
  }
  const foreign = foreignContent(out);
  if (foreign) {
    refuse(
      `${out} holds ${foreign}; it is not replaced: move that out, or choose a new or empty folder`,
    );
  }
  return claim as OutClaim;
}

/**
 * Creates the output folder (if new) and an empty partial folder inside it; for an interrupted
 * folder, the partial folder keeps its mark until the new files are in.
 */
export function preparePartial(outDir: string, claim: OutClaim): string {
  const tmp = partialDir(outDir);
  mkdirSync(resolve(outDir), { recursive: true });
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  if (claim === 'interrupted') writeFileSync(join(tmp, MOVING), '');
  return tmp;
}

/**
 * Moves a finished build from the partial folder into the output folder: the old variant's
 * manifest goes first, then its other files, the new files come in, the new manifest last, and
 * the partial folder is removed at the end. A reader sees a variant only once its manifest is
 * there; a build stopped half-way leaves the partial folder with its mark, which lets the next
 * forced build replace the folder.
 */
export function installPartial(outDir: string, claim: OutClaim): void {
  const out = resolve(outDir);
  const tmp = partialDir(out);
  const notKept = (why: string): never => {
    throw new StudioError(
      `out: ${out} ${why}; it was not replaced and the new variant was not kept: move that out and build again`,
      'bad-input',
    );
  };
  // Checked again now: what the folder holds may have changed while the build ran.
  const old = readdirSync(out).filter((e) => e !== PARTIAL);
  if ((claim === 'new' || claim === 'empty') && old.length > 0)
    notKept(`was given files while the variant was built (${old.slice(0, 3).join(', ')})`);
  if (claim === 'variant' && !isStudioManifest(out)) notKept(`no longer holds its ${MANIFEST}`);
  const foreign = foreignContent(out);
  if (foreign) notKept(`now holds ${foreign}`);
  writeFileSync(join(tmp, MOVING), '');
  if (old.includes(MANIFEST)) rmSync(join(out, MANIFEST), { force: true });
  for (const e of old) rmSync(join(out, e), { recursive: true, force: true });
  for (const e of readdirSync(tmp)) {
    if (e !== MANIFEST && e !== MOVING && e !== PARTIAL) renameSync(join(tmp, e), join(out, e));
  }
  renameSync(join(tmp, MANIFEST), join(out, MANIFEST));
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * After a failed or cancelled build: the partial folder goes. Where the build was stopped while
 * moving its files in (the output folder holds some of them and no manifest), an empty partial
 * folder with its mark stays, so the next forced build may replace the folder. An output folder
 * the build created is removed when empty.
 */
export function discardPartial(outDir: string, createdOut: boolean): void {
  const out = resolve(outDir);
  const tmp = partialDir(out);
  if (!existsSync(out)) return;
  const wasMoving = interrupted(out);
  rmSync(tmp, { recursive: true, force: true });
  const rest = readdirSync(out);
  if (wasMoving && rest.length > 0 && !rest.includes(MANIFEST)) {
    mkdirSync(tmp);
    writeFileSync(join(tmp, MOVING), '');
  } else if (createdOut && rest.length === 0) rmSync(out, { recursive: true, force: true });
}
