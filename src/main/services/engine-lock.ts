import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StudioError } from '../../shared/errors';

export type EngineUse = 'benchmark' | 'generate';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Keeps a benchmark and generations from disturbing each other's timings, in this process and
 * across processes sharing one LATENT_STUDIO_HOME (the app, the web host, CLI runs): each holder
 * leaves `locks/<use>-<pid>` while it runs. A benchmark needs the machine to itself; generations
 * only need no benchmark. The second comer is refused with a message saying what runs and how to
 * proceed. Files of processes that died are ignored and removed.
 */
export class EngineLock {
  private readonly dir: string;
  private readonly held = new Map<EngineUse, number>();

  constructor(home: string) {
    this.dir = join(home, 'locks');
  }

  /** Takes the lock for `use`, or throws `unavailable`; call the returned function to release it. */
  acquire(use: EngineUse): () => void {
    const conflict = this.holders().find((h) =>
      use === 'benchmark' ? true : h.use === 'benchmark',
    );
    if (conflict) {
      const where = conflict.pid === process.pid ? 'in this studio' : `in process ${conflict.pid}`;
      throw new StudioError(
        use === 'benchmark'
          ? `a ${conflict.use === 'benchmark' ? 'benchmark' : 'generation'} is running ${where}; a benchmark needs the machine to itself, so start it when that has finished`
          : `a benchmark is running ${where}; generating now would disturb its timings (and it yours): wait for it to finish or cancel it`,
        'unavailable',
      );
    }
    const count = this.held.get(use) ?? 0;
    this.held.set(use, count + 1);
    if (count === 0) {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(this.file(use, process.pid), new Date().toISOString());
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(use) ?? 1) - 1;
      this.held.set(use, left);
      if (left === 0) rmSync(this.file(use, process.pid), { force: true });
    };
  }

  private file(use: EngineUse, pid: number): string {
    return join(this.dir, `${use}-${pid}`);
  }

  /** Live holders (this process's included); stale files are removed on the way. */
  private holders(): { use: EngineUse; pid: number }[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const found: { use: EngineUse; pid: number }[] = [];
    for (const name of names) {
      const m = /^(benchmark|generate)-(\d+)$/.exec(name);
      if (!m) continue;
      const pid = Number(m[2]);
      const use = m[1] as EngineUse;
      if (pid === process.pid) {
        if ((this.held.get(use) ?? 0) > 0) found.push({ use, pid });
        else rmSync(join(this.dir, name), { force: true });
      } else if (alive(pid)) found.push({ use, pid });
      else rmSync(join(this.dir, name), { force: true });
    }
    return found;
  }
}
