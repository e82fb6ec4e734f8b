import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import type {
  UtilityProcessLike,
  UtilityProcessModuleLike,
} from '../../src/main/workers/worker-process';

/**
 * A stand-in for Electron's `utilityProcess`, which cannot run on these machines: `fork` starts
 * the module in a Node process whose `process.parentPort` speaks Electron's message shapes
 * (test/helpers/utility-process-shim.mjs). It records every call, and reports a SIGKILL the way
 * Electron does: as an exit code (9), not a signal.
 */
export interface ForkCall {
  modulePath: string;
  args: string[];
  options: Parameters<UtilityProcessModuleLike['fork']>[2];
}

export function utilityProcessStandIn(): UtilityProcessModuleLike & { calls: ForkCall[] } {
  const calls: ForkCall[] = [];
  return {
    calls,
    fork(modulePath, args = [], options = {}) {
      calls.push({ modulePath, args, options });
      const child = fork(modulePath, args, {
        execArgv: [
          ...(options.execArgv ?? []),
          '--import',
          resolve('test/helpers/utility-process-shim.mjs'),
        ],
        env: options.env as NodeJS.ProcessEnv,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        // Electron's ports use structured clone: bytes stay bytes.
        serialization: 'advanced',
      });
      const emitter = new EventEmitter();
      child.on('message', (m) => emitter.emit('message', m));
      child.on('spawn', () => emitter.emit('spawn'));
      child.on('error', () => {});
      child.on('exit', (code, signal) =>
        emitter.emit('exit', code ?? (signal === 'SIGKILL' ? 9 : 1)),
      );
      const utility: UtilityProcessLike = {
        get pid() {
          return child.pid;
        },
        stdout: child.stdout,
        stderr: child.stderr,
        postMessage: (message) => {
          if (child.connected) child.send(message as never);
        },
        kill: () => child.kill(),
        on: ((event: string, listener: (...a: unknown[]) => void) =>
          emitter.on(event, listener)) as UtilityProcessLike['on'],
      };
      return utility;
    },
  };
}
