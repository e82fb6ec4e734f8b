import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Starting a worker process, one way for both runtimes:
 * - in the Electron app, `utilityProcess.fork` (the adapter calls `useUtilityProcess` at startup):
 *   a Chromium-managed Node process that needs no RunAsNode fuse;
 * - under plain Node (CLI, web host, tests), `child_process.fork`.
 * The engine, the optimizer, the image-quality work and the provider probes all start here, so
 * native code (ONNX Runtime) and heavy arithmetic never run in the process that holds the window
 * or the database, and a crash or an out-of-memory kill only costs the worker.
 *
 * Workers talk to their parent through `parentChannel()` (parent-channel.ts), which speaks
 * `process.parentPort` in a utility process and `process.send` in a forked child.
 */

const here = dirname(fileURLToPath(import.meta.url));

/** Finds a worker entry: `src/main/workers/<name>.ts` under tsx, or the bundled `out/main/workers/<name>.js`. */
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

/** How a worker ended. Under Electron only the exit code is known, unless we killed it ourselves. */
export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The parent's side of a running worker, whichever runtime started it. */
export interface WorkerProcess {
  /** `utility` under Electron, `child` under plain Node. */
  readonly kind: 'utility' | 'child';
  readonly pid: number | undefined;
  /** False once the worker has exited (or its channel closed). */
  readonly alive: boolean;
  /** Posts a message; false (and nothing sent) when the worker is gone. */
  send(message: unknown): boolean;
  /** Ends the worker; SIGKILL for a worker that may be stuck in native code. */
  kill(signal?: NodeJS.Signals): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (exit: WorkerExit) => void): void;
  /** The last ~2000 characters the worker wrote to stderr (its last line is usually the reason). */
  stderrTail(): string;
}

export interface StartWorkerOptions {
  args?: string[];
  /** Shown as the process name in Electron's metrics and crash reports. */
  serviceName?: string;
}

/** What `utilityProcess` looks like to us: the subset we use, so tests can stand in for it. */
export interface UtilityProcessLike {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  postMessage(message: unknown): void;
  kill(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'spawn', listener: () => void): unknown;
}
export interface UtilityProcessModuleLike {
  fork(
    modulePath: string,
    args?: string[],
    options?: {
      env?: Record<string, string | undefined>;
      execArgv?: string[];
      stdio?: 'pipe' | 'ignore' | 'inherit';
      serviceName?: string;
    },
  ): UtilityProcessLike;
}

type Launcher = (entry: string, options: Required<StartWorkerOptions>) => WorkerProcess;

function tail(stream: NodeJS.ReadableStream | null | undefined): () => string {
  let text = '';
  stream?.on('data', (chunk: Buffer | string) => {
    text = (text + chunk.toString()).slice(-2000);
  });
  return () => text;
}

/** A worker's environment: the parent's, minus the switch that turns Electron into plain Node. */
function workerEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  return env;
}

const execArgvFor = (entry: string): string[] => (entry.endsWith('.ts') ? ['--import', 'tsx'] : []);

const forkChild: Launcher = (entry, { args }) => {
  const child = fork(entry, args, {
    execArgv: execArgvFor(entry),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // 'advanced' carries Uint8Array PNGs across the channel as bytes, not as JSON objects.
    serialization: 'advanced',
    env: workerEnv(),
  });
  const stderrTail = tail(child.stderr);
  child.stdout?.on('data', () => {});
  // A send racing the child's death surfaces here; 'exit' reports the death itself.
  child.on('error', () => {});
  return {
    kind: 'child',
    get pid() {
      return child.pid;
    },
    get alive() {
      return child.exitCode === null && child.signalCode === null && child.connected;
    },
    send(message) {
      if (!child.connected) return false;
      child.send(message as never, () => {});
      return true;
    },
    kill(signal = 'SIGTERM') {
      child.kill(signal);
    },
    onMessage(listener) {
      child.on('message', listener);
    },
    onExit(listener) {
      child.on('exit', (code, signal) => listener({ code, signal }));
    },
    stderrTail,
  };
};

function utilityLauncher(utility: UtilityProcessModuleLike): Launcher {
  return (entry, { args, serviceName }) => {
    const child = utility.fork(entry, args, {
      env: workerEnv(),
      execArgv: execArgvFor(entry),
      stdio: 'pipe',
      serviceName,
    });
    const stderrTail = tail(child.stderr);
    child.stdout?.on('data', () => {});
    let exited = false;
    let killedWith: NodeJS.Signals | null = null;
    child.on('exit', () => {
      exited = true;
    });
    return {
      kind: 'utility',
      get pid() {
        return child.pid;
      },
      get alive() {
        return !exited;
      },
      send(message) {
        if (exited) return false;
        child.postMessage(message);
        return true;
      },
      kill(signal = 'SIGTERM') {
        if (exited) return;
        killedWith = signal;
        // utilityProcess.kill() sends SIGTERM; a worker stuck in native code needs SIGKILL.
        if (signal === 'SIGKILL' && child.pid !== undefined) {
          try {
            process.kill(child.pid, 'SIGKILL');
            return;
          } catch {
            // already gone
          }
        }
        child.kill();
      },
      onMessage(listener) {
        child.on('message', listener);
      },
      onExit(listener) {
        child.on('exit', (code) => {
          // waitpid's status reaches us as a code: 9 or 137 is a SIGKILL (the OOM killer's too).
          const signal = killedWith ?? (code === 9 || code === 137 ? 'SIGKILL' : null);
          listener({ code: signal ? null : code, signal });
        });
      },
      stderrTail,
    };
  };
}

let launcher: Launcher = forkChild;

/**
 * Called once by the Electron adapter after `app` is ready: from then on workers start as utility
 * processes. Services never import Electron; they only call `startWorker`.
 */
export function useUtilityProcess(utility: UtilityProcessModuleLike): void {
  launcher = utilityLauncher(utility);
}

/** Back to `child_process.fork` (tests). */
export function useChildProcess(): void {
  launcher = forkChild;
}

type WorkerObserver = (name: string, worker: WorkerProcess) => void;
const observers = new Set<WorkerObserver>();

/**
 * Sees every worker as it starts (the reliability scripts kill them at random moments; a monitor
 * could list them). Returns the function that stops observing.
 */
export function observeWorkers(observer: WorkerObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/** Starts the worker `src/main/workers/<name>` (bundled: `out/main/workers/<name>.js`). */
export function startWorker(name: string, options: StartWorkerOptions = {}): WorkerProcess {
  const worker = launcher(workerEntry(name), {
    args: options.args ?? [],
    serviceName: options.serviceName ?? `Latent Studio ${name}`,
  });
  for (const observe of observers) observe(name, worker);
  return worker;
}

/**
 * A person-readable reason for a worker's death, e.g. "the engine process was killed (SIGKILL,
 * possibly out of memory): <its last stderr line>".
 */
export function describeExit(what: string, exit: WorkerExit, stderrTail: string): string {
  const lastLine = stderrTail.trim().split('\n').pop() ?? '';
  const why = exit.signal
    ? `the ${what} process was killed (${exit.signal}${exit.signal === 'SIGKILL' ? ', possibly out of memory' : ''})`
    : `the ${what} process exited with code ${exit.code}`;
  return `${why}${lastLine ? `: ${lastLine}` : ''}`;
}
