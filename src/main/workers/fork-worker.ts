import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Finds a worker entry: `src/main/workers/<name>.ts` when running from source under tsx, or the
 * bundled `out/main/workers/<name>.js` that electron-vite emits for the app.
 */
export function workerEntry(name: string): string {
  const candidates = [
    join(here, `${name}.ts`),
    join(here, 'workers', `${name}.js`),
    join(here, `${name}.js`),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`worker "${name}" not found (looked in ${candidates.join(', ')})`);
  return found;
}

/**
 * Starts a worker in its own Node process. Native code (ONNX Runtime) runs there so that a crash or
 * an out-of-memory kill cannot take the UI or the database down. In Electron, fork() runs the
 * child with the bundled Node (ELECTRON_RUN_AS_NODE).
 */
export function forkWorker(name: string, args: string[] = []): ChildProcess {
  const entry = workerEntry(name);
  const execArgv = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return fork(entry, args, {
    execArgv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // 'advanced' carries Uint8Array PNGs across the channel as bytes, not as JSON objects.
    serialization: 'advanced',
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
}
