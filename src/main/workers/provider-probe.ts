import * as ort from 'onnxruntime-node';
import { probeModelPath } from '../paths';
import { parentChannel } from './parent-channel';

/**
 * Worker entry, in two modes:
 * - `--list-backends`: answers with the execution providers compiled into this onnxruntime-node
 *   build (loading ORT's native binding, which the studio's own process never does);
 * - `<provider>`: tries to create a session with that provider on a 96-byte model and run it. A
 *   provider that crashes the process or hangs only costs this worker.
 */
/** ORT errors start with a source location and an assertion; the reason a person needs is last. */
export function conciseReason(message: string): string {
  const first = message.split('\n')[0];
  const afterAssert = first.split(/ was false\. /).pop() ?? first;
  return afterAssert.replace(/^\/\S+:\d+ /, '').slice(0, 300);
}

const parent = parentChannel();

async function probe(provider: string): Promise<{ works: boolean; error?: string }> {
  try {
    const session = await ort.InferenceSession.create(probeModelPath(), {
      executionProviders: [provider],
      logSeverityLevel: 3,
    });
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]);
    const out = await session.run({ x });
    const y = out.y.data as Float32Array;
    const ok = y[3] === 8;
    await session.release();
    return ok ? { works: true } : { works: false, error: 'wrong result from the probe model' };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { works: false, error: conciseReason(message) };
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2] ?? 'cpu';
  if (arg === '--list-backends') {
    const backends = ort.listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
    await parent.send({ backends: backends.map((b) => ({ name: b.name, bundled: b.bundled })) });
  } else {
    await parent.send(await probe(arg));
  }
  parent.finish();
}

void main();
