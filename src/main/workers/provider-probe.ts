import * as ort from 'onnxruntime-node';
import { probeModelPath } from '../paths';

/**
 * Child-process entry: tries to create a session with one execution provider on a 96-byte model and
 * run it. A provider that crashes the process or hangs only costs this child.
 */
/** ORT errors start with a source location and an assertion; the reason a person needs is last. */
export function conciseReason(message: string): string {
  const first = message.split('\n')[0];
  const afterAssert = first.split(/ was false\. /).pop() ?? first;
  return afterAssert.replace(/^\/\S+:\d+ /, '').slice(0, 300);
}

async function main(): Promise<void> {
  const provider = process.argv[2] ?? 'cpu';
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
    process.send?.({ works: ok, error: ok ? undefined : 'wrong result from the probe model' });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.send?.({ works: false, error: conciseReason(message) });
  }
}

void main();
