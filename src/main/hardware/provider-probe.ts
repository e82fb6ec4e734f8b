import * as ort from 'onnxruntime-node';
import { forkWorker } from '../workers/fork-worker';
import type { ProviderProbe } from '../../shared/schemas';

const PROBE_TIMEOUT_MS = 20_000;

function probeOne(name: string): Promise<{ works: boolean; error?: string }> {
  return new Promise((resolve) => {
    const child = forkWorker('provider-probe', [name]);
    let settled = false;
    const done = (r: { works: boolean; error?: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ works: false, error: `no answer within ${PROBE_TIMEOUT_MS / 1000} s` }),
      PROBE_TIMEOUT_MS,
    );
    child.on('message', (m) => done(m as { works: boolean; error?: string }));
    child.on('exit', (code, signal) =>
      done({ works: false, error: `probe process exited (${signal ?? `code ${code}`})` }),
    );
  });
}

/** Which execution providers actually create and run a session here, each probed in its own process. */
export async function probeProviders(): Promise<ProviderProbe[]> {
  const backends = ort.listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
  const results: ProviderProbe[] = [];
  for (const backend of backends) {
    if (!backend.bundled) {
      results.push({
        name: backend.name,
        bundled: false,
        works: false,
        error:
          backend.name === 'cuda' || backend.name === 'tensorrt'
            ? 'not installed: reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci on a machine with CUDA 12'
            : 'not part of this onnxruntime-node build',
      });
      continue;
    }
    results.push({ name: backend.name, bundled: true, ...(await probeOne(backend.name)) });
  }
  return results;
}
