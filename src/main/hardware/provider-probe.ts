import { z } from 'zod';
import { startWorker } from '../workers/worker-process';
import type { ProviderProbe } from '../../shared/schemas';

const PROBE_TIMEOUT_MS = 20_000;

const ProbeAnswer = z.object({ works: z.boolean(), error: z.string().optional() });
const BackendsAnswer = z.object({
  backends: z.array(z.object({ name: z.string(), bundled: z.boolean() })),
});

/** Runs the provider-probe worker with one argument and returns its one answer (or a failure). */
function ask<T>(arg: string, schema: z.ZodType<T>, onFailure: (reason: string) => T): Promise<T> {
  return new Promise((resolve) => {
    const child = startWorker('provider-probe', {
      args: [arg],
      serviceName: 'Latent Studio provider probe',
    });
    let settled = false;
    const done = (r: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(r);
    };
    const timer = setTimeout(
      () => done(onFailure(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`)),
      PROBE_TIMEOUT_MS,
    );
    child.onMessage((m) => {
      const parsed = schema.safeParse(m);
      done(parsed.success ? parsed.data : onFailure('the probe answered something unexpected'));
    });
    child.onExit((exit) =>
      done(onFailure(`probe process exited (${exit.signal ?? `code ${exit.code}`})`)),
    );
  });
}

/**
 * Which execution providers actually create and run a session here. Everything that touches ONNX
 * Runtime, even listing its backends, happens in the probe worker, one process per provider.
 */
export async function probeProviders(): Promise<ProviderProbe[]> {
  const { backends } = await ask('--list-backends', BackendsAnswer, () => ({
    backends: [{ name: 'cpu', bundled: true }],
  }));
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
    const answer = await ask(backend.name, ProbeAnswer, (error) => ({ works: false, error }));
    results.push({ name: backend.name, bundled: true, ...answer });
  }
  return results;
}
