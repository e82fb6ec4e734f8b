import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GpuReader,
  LiveSampler,
  PeakTracker,
  procStatCpuTicks,
  readProcessCpuMs,
  readProcessRssMb,
  type LiveSample,
} from './live-sampler';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a condition without asserting on how long it takes (shared, noisy machines). */
async function until(cond: () => boolean | Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met before the deadline');
    await sleep(50);
  }
}

/** A child that allocates (and touches) 200 MB on 'alloc' and frees it on 'free'. */
const CHILD = `
let keep = null;
process.on('message', (m) => {
  if (m === 'alloc') { keep = Buffer.alloc(200 * 2 ** 20, 1); process.send('allocated'); }
  if (m === 'free') { keep = null; global.gc(); process.send('freed'); }
});
setInterval(() => {}, 1000);
process.send('ready');
`;

let child: ChildProcess;
async function ask(message: string, reply: string): Promise<void> {
  const answered = new Promise<void>((resolve) => {
    const on = (m: unknown): void => {
      if (m === reply) {
        child.off('message', on);
        resolve();
      }
    };
    child.on('message', on);
  });
  child.send(message);
  await answered;
}

beforeAll(async () => {
  child = spawn(process.execPath, ['--expose-gc', '-e', CHILD], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const [first] = (await once(child, 'message')) as [unknown];
  expect(first).toBe('ready');
});

afterAll(() => {
  child.kill();
});

function expectSampleShape(s: LiveSample): void {
  expect(s.t).toBeGreaterThan(0);
  expect(s.cpuPercent).toBeGreaterThanOrEqual(0);
  expect(s.cpuPercent).toBeLessThanOrEqual(100);
  expect(s.ramTotalMb).toBeGreaterThan(0);
  expect(s.ramUsedMb).toBeGreaterThan(0);
  expect(s.ramUsedMb).toBeLessThanOrEqual(s.ramTotalMb);
  if (s.gpuPercent !== null) expect(s.gpuPercent).toBeGreaterThanOrEqual(0);
  if (s.vramUsedMb !== null) expect(s.vramUsedMb).toBeGreaterThanOrEqual(0);
  if (s.processCpuPercent !== null) {
    expect(s.processCpuPercent).toBeGreaterThanOrEqual(0);
    expect(s.processCpuPercent).toBeLessThanOrEqual(100);
  }
}

describe('readProcessRssMb', () => {
  it('reads this process, a child, and null for a process that is gone', async () => {
    expect(await readProcessRssMb(process.pid)).toBeGreaterThan(10);
    expect(await readProcessRssMb(child.pid as number)).toBeGreaterThan(5);
    const done = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await once(done, 'exit');
    expect(await readProcessRssMb(done.pid as number)).toBeNull();
  });
});

describe('LiveSampler', () => {
  it('streams well-formed samples of the watched process until stopped', async () => {
    const sampler = new LiveSampler({ pid: () => child.pid, intervalMs: 100 });
    const samples: LiveSample[] = [];
    sampler.start((s) => samples.push(s));
    expect(sampler.running).toBe(true);
    await until(() => samples.length >= 2);
    sampler.stop();
    expect(sampler.running).toBe(false);
    for (const s of samples) {
      expectSampleShape(s);
      expect(s.processRssMb).toBeGreaterThan(5);
    }
    expect(samples[1].t).toBeGreaterThanOrEqual(samples[0].t);
    const count = samples.length;
    await sleep(300);
    expect(samples.length).toBe(count);
  });

  it('reports no process RSS while no process runs', async () => {
    const s = await new LiveSampler({ pid: () => undefined }).sample();
    expectSampleShape(s);
    expect(s.processRssMb).toBeNull();
  });
});

describe('engine process CPU', () => {
  it('reads utime + stime after the last ")", whatever the command name holds', () => {
    const fields = 'S 1 2 3 4 5 6 7 8 9 10 250 50 7 8 20 0 1 0 100 2000 300';
    expect(procStatCpuTicks(`1234 (node) ${fields}`)).toBe(300);
    expect(procStatCpuTicks(`1234 (a (b) ) c) ${fields}`)).toBe(300);
    expect(procStatCpuTicks('garbage')).toBeNull();
  });

  it.runIf(process.platform === 'linux')(
    "tells a busy engine from an idle one, on all cores' scale; null on a process's first sample",
    async () => {
      const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
      try {
        const idle = new LiveSampler({ pid: () => child.pid });
        const spinning = new LiveSampler({ pid: () => busy.pid });
        const [idleFirst, busyFirst] = [await idle.sample(), await spinning.sample()];
        expect(idleFirst.processCpuPercent).toBeNull();
        expect(busyFirst.processCpuPercent).toBeNull();
        await sleep(1000);
        const [idleNext, busyNext] = [await idle.sample(), await spinning.sample()];
        expectSampleShape(busyNext);
        // One spinning thread is at most one core's share (100 / cores); on a shared machine it
        // gets less, but far more than a process that only waits on a timer.
        expect(busyNext.processCpuPercent).toBeGreaterThan(3);
        expect(busyNext.processCpuPercent).toBeLessThanOrEqual(100 / cpus().length + 2);
        expect(idleNext.processCpuPercent).toBeLessThan(2);
        expect(await readProcessCpuMs(busy.pid as number)).toBeGreaterThan(300);
      } finally {
        busy.kill();
      }
      await once(busy, 'exit');
      expect(await readProcessCpuMs(busy.pid as number)).toBeNull();
    },
  );
});

describe('PeakTracker', () => {
  it('sees a 200 MB allocation in the child raise its peak RSS', async () => {
    const tracker = new PeakTracker({ pid: () => child.pid, intervalMs: 100 });
    tracker.begin();
    await sleep(200);
    const before = await tracker.end();
    expect(before.peakRssMb).toBeGreaterThan(5);
    expect(before.meanCpuPercent).toBeGreaterThanOrEqual(0);
    expect(before.meanCpuPercent).toBeLessThanOrEqual(100);
    expect(before.samples).toBeGreaterThanOrEqual(1);

    tracker.begin();
    expect(tracker.open).toBe(true);
    await ask('alloc', 'allocated');
    const during = await tracker.end();
    expect(during.peakRssMb as number).toBeGreaterThan((before.peakRssMb as number) + 150);
    if (process.platform === 'linux') expect(during.rssSource).toBe('kernel-peak');

    // The sampled fallback sees it too while the buffer is held.
    const sampled = new PeakTracker({ pid: () => child.pid, intervalMs: 100, kernelPeak: false });
    sampled.begin();
    await sleep(200);
    const held = await sampled.end();
    expect(held.rssSource).toBe('sampled');
    expect(held.peakRssMb as number).toBeGreaterThan((before.peakRssMb as number) + 150);
  });

  it.runIf(process.platform === 'linux')(
    'resets the kernel peak at begin(), so an earlier peak does not leak into a window',
    async () => {
      await ask('alloc', 'allocated');
      await ask('free', 'freed');
      const low = async () => ((await readProcessRssMb(child.pid as number)) ?? 0) < 150;
      await until(low);
      const tracker = new PeakTracker({ pid: () => child.pid, intervalMs: 100 });
      tracker.begin();
      await sleep(100);
      const after = await tracker.end();
      expect(after.rssSource).toBe('kernel-peak');
      expect(after.peakRssMb as number).toBeLessThan(150);
    },
  );

  it('has no peak without a process and refuses unbalanced calls', async () => {
    const tracker = new PeakTracker({ pid: () => undefined });
    await expect(tracker.end()).rejects.toThrow(/without begin/);
    tracker.begin();
    expect(() => tracker.begin()).toThrow(/already|open/);
    const w = await tracker.end();
    expect(w.peakRssMb).toBeNull();
    expect(w.rssSource).toBe('sampled');
  });
});

describe('GpuReader', () => {
  it('takes the highest utilisation and sums memory over controllers that report them', async () => {
    const reader = new GpuReader(async () => ({
      controllers: [
        { utilizationGpu: 40, memoryUsed: 1000 },
        { utilizationGpu: 90, memoryUsed: 500 },
        {},
      ] as never,
    }));
    expect(await reader.read()).toEqual({ percent: 90, usedMb: 1500 });
  });

  it('asks at most once per interval and stops asking when nothing reports figures', async () => {
    let calls = 0;
    const counting = new GpuReader(async () => {
      calls++;
      return { controllers: [{ utilizationGpu: 10, memoryUsed: 10 }] as never };
    }, 60_000);
    await Promise.all([counting.read(), counting.read()]);
    await counting.read();
    expect(calls).toBe(1);

    let noneCalls = 0;
    const none = new GpuReader(async () => {
      noneCalls++;
      return { controllers: [{ vendor: 'Intel' }] as never };
    }, 0);
    expect(await none.read()).toEqual({ percent: null, usedMb: null });
    await none.read();
    expect(noneCalls).toBe(1);

    const failing = new GpuReader(() => Promise.reject(new Error('nvidia-smi missing')), 0);
    expect(await failing.read()).toEqual({ percent: null, usedMb: null });
  });
});
