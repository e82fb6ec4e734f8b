import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where the database, images and optimized models live. Tests always set LATENT_STUDIO_HOME. */
export function studioHome(electronUserData?: string): string {
  const fromEnv = process.env.LATENT_STUDIO_HOME;
  if (fromEnv && fromEnv.trim() !== '') return resolve(fromEnv);
  if (electronUserData) return electronUserData;
  return join(homedir(), '.latent-studio');
}

/**
 * The repository (or unpacked app) root: the folder holding `resources/`. Found by walking up from
 * this file, because the same code runs from src/ under tsx and from out/ when bundled.
 */
export function appRoot(): string {
  const override = process.env.LATENT_STUDIO_APP_ROOT;
  if (override) return resolve(override);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'resources', 'probe'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    'Could not find the studio resources folder (resources/probe); set LATENT_STUDIO_APP_ROOT to the app folder.',
  );
}

export function resourcesDir(): string {
  // Packaged Electron apps keep resources unpacked next to app.asar (see electron-builder.yml).
  const packaged = (process as NodeJS.Process & { resourcesPath?: string }).resourcesPath;
  if (packaged && existsSync(join(packaged, 'resources', 'probe')))
    return join(packaged, 'resources');
  return join(appRoot(), 'resources');
}

export const bundledModelsDir = (): string => join(resourcesDir(), 'models');
export const probeModelPath = (): string => join(resourcesDir(), 'probe', 'add.onnx');
