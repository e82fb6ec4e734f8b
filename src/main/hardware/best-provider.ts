import type { ExecutionProvider, HardwareInfo } from '../../shared/schemas';

/** Most capable first: a dedicated GPU API, then the cross-vendor ones, then the CPU. */
const PREFERENCE: readonly ExecutionProvider[] = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];

/** The best execution provider that probes as working here (the CPU always does). */
export function bestProvider(hw: Pick<HardwareInfo, 'providers'>): ExecutionProvider {
  const works = new Set(hw.providers.filter((p) => p.works).map((p) => p.name));
  return PREFERENCE.find((p) => works.has(p)) ?? 'cpu';
}

/** A provider the caller asked for must probe as working; the message says which ones do. */
export function workingProviders(hw: Pick<HardwareInfo, 'providers'>): ExecutionProvider[] {
  return PREFERENCE.filter((p) => hw.providers.some((x) => x.works && x.name === p));
}
