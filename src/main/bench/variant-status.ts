import { staleReason, variantStorePath } from '../optimize/variant-store';
import { variantParts } from './variants';

/**
 * Whether running `variant` will first build it (what the budget charges a build for): an
 * optimizer variant missing from the store or stale. A variant with a LoRA part is built on a
 * merged model whose folder depends on the LoRA's contents, so it is counted as a build.
 */
export function variantNeedsBuild(modelDir: string, variant: string, home: string): boolean {
  if (variant === 'source') return false;
  const parts = variantParts(variant);
  if ('refused' in parts) return false;
  if (parts.lora !== undefined) return true;
  if (parts.optimize === undefined) return false;
  return (
    staleReason(variantStorePath(home, modelDir, parts.optimize), modelDir, parts.optimize) !==
    undefined
  );
}
