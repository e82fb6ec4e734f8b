import * as ort from 'onnxruntime-node';
import { probeModelPath } from '../paths';

/**
 * Child-process entry: tries to create a session with one execution provider on a 96-byte model and
 * run it. A provider that crashes the process or hangs only costs this child.
 */
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
    process.send?.({ works: false, error: message.split('\n')[0].slice(0, 300) });
  }
}

void main();
