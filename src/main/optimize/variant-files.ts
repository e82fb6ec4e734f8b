import { resolve } from 'node:path';

/**
 * A variant folder's file names, free of ONNX Runtime: the studio's own process (variant store,
 * optimize client) needs them, and must not load the native binding that `build-variant.ts` does.
 */

/** The manifest every optimized model folder carries. */
export const MANIFEST = 'latent-studio.json';

/** The partial folder a build writes into before it is renamed into place. */
export const partialDir = (outDir: string): string => `${resolve(outDir)}.partial`;
