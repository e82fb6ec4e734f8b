import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempHome } from '../../../test/helpers/temp-home';
import { EngineLock } from './engine-lock';

const home = tempHome();
afterAll(() => home.cleanup());

describe('EngineLock', () => {
  it('lets generations share, refuses a benchmark while one runs, and the other way round', () => {
    const lock = new EngineLock(home.dir);
    const g1 = lock.acquire('generate');
    const g2 = lock.acquire('generate');
    expect(() => lock.acquire('benchmark')).toThrow(/a generation is running in this studio/);
    g1();
    expect(() => lock.acquire('benchmark')).toThrow(/a generation is running/);
    g2();
    const b = lock.acquire('benchmark');
    expect(() => lock.acquire('generate')).toThrow(/a benchmark is running .*disturb its timings/);
    expect(() => lock.acquire('benchmark')).toThrow(/a benchmark is running in this studio/);
    b();
    lock.acquire('generate')();
  });

  it('sees a benchmark in another live process, and ignores one whose process has died', () => {
    const dir = join(home.dir, 'locks');
    mkdirSync(dir, { recursive: true });
    const lock = new EngineLock(home.dir);
    // The parent of this test process is alive and is not this process.
    writeFileSync(join(dir, `benchmark-${process.ppid}`), '');
    expect(() => lock.acquire('generate')).toThrow(`in process ${process.ppid}`);
    rmSync(join(dir, `benchmark-${process.ppid}`));
    // A pid above any the kernel hands out (pid_max is at most 4194304): a stale file.
    writeFileSync(join(dir, 'benchmark-4194999'), '');
    lock.acquire('generate')();
    expect(existsSync(join(dir, 'benchmark-4194999'))).toBe(false);
  });
});
