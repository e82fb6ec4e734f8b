import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import si from 'systeminformation';

/**
 * Live load of the machine and of one process (the engine child): a 1 Hz stream for the UI, and
 * PeakTracker windows for the benchmark runner (peak process memory, peak GPU memory, mean CPU
 * load over one measurement).
 *
 * Sources, and why:
 * - CPU %: busy/total tick deltas of `os.cpus()` (the same /proc/stat counters systeminformation
 *   reads). `si.currentLoad()` reports the load since the previous call by anyone in the process,
 *   so a 1 Hz stream and a measurement window would steal intervals from each other; tick
 *   snapshots give every consumer its own baseline, and a window's mean is exact.
 * - RAM: `si.mem()`; "used" is `active` (total minus available), i.e. without the page cache.
 * - GPU %, VRAM: `si.graphics()` controllers' `utilizationGpu` / `memoryUsed` (NVIDIA through
 *   nvidia-smi; other vendors mostly report nothing, hence null). graphics() starts processes, so
 *   it runs at most once a second however fast a window samples, and never again once it has
 *   shown that no controller reports these figures.
 * - Engine process CPU %: the watched process's CPU time (user + system) between two samples over
 *   the wall time between them and all logical cores, so it reads on the same scale as the system
 *   figure and is part of it. Its own `process.cpuUsage()` when it is this process, else
 *   `/proc/<pid>/stat` utime + stime on Linux (another process's CPU time is not readable from
 *   Node elsewhere: null there rather than a guess).
 * - Process RSS: the engine's own `process.memoryUsage()` when it is this process,
 *   `/proc/<pid>/status` on Linux, `si.processes()` elsewhere (slow: it lists every process).
 * - Peak RSS on Linux: the kernel's high-water mark (VmHWM), reset at the start of a window by
 *   writing "5" to `/proc/<pid>/clear_refs`. It catches allocations that live for a few ms, which
 *   any sampling interval misses; the sampled maximum is the fallback.
 */

export interface LiveSample {
  /** Epoch ms. */
  t: number;
  /** System CPU (all cores): every process's load since the previous sample, 0-100. */
  cpuPercent: number;
  /**
   * Engine process CPU: the watched process's CPU time since the previous sample, as % of all
   * logical cores (0-100, comparable with cpuPercent); null on the first sample of a process, when
   * none runs, or where its CPU time cannot be read (not Linux).
   */
  processCpuPercent: number | null;
  ramUsedMb: number;
  ramTotalMb: number;
  /** Resident memory of the watched process; null when it is not running. */
  processRssMb: number | null;
  /** Highest utilisation of any GPU that reports one; null when none does. */
  gpuPercent: number | null;
  /** Memory used on all GPUs that report it, summed; null when none does. */
  vramUsedMb: number | null;
}

export interface PeakWindow {
  /** Peak resident memory of the process in the window; null when no process was running. */
  peakRssMb: number | null;
  /** Peak GPU memory in use (all GPUs, sampled at most once a second); null without GPU figures. */
  peakGpuMb: number | null;
  /** Mean system CPU load over the whole window, 0-100. */
  meanCpuPercent: number;
  /** 'kernel-peak': the kernel's exact high-water mark; 'sampled': the largest sampled RSS. */
  rssSource: 'kernel-peak' | 'sampled';
  samples: number;
  durationMs: number;
}

export interface GpuReading {
  percent: number | null;
  usedMb: number | null;
}

type GraphicsQuery = () => Promise<{ controllers: si.Systeminformation.GraphicsControllerData[] }>;

const MB = 2 ** 20;
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** GPU figures from systeminformation, rate-limited and shared between consumers. */
export class GpuReader {
  private last: { at: number; reading: GpuReading } | null = null;
  private inFlight: Promise<GpuReading> | null = null;
  private unavailable = false;

  constructor(
    private readonly query: GraphicsQuery = () => si.graphics(),
    private readonly minIntervalMs = 1000,
  ) {}

  async read(): Promise<GpuReading> {
    if (this.unavailable) return { percent: null, usedMb: null };
    if (this.last && Date.now() - this.last.at < this.minIntervalMs) return this.last.reading;
    this.inFlight ??= this.query()
      .then(({ controllers }) => {
        const util = controllers.map((c) => c.utilizationGpu).filter(num);
        const used = controllers.map((c) => c.memoryUsed).filter(num);
        const reading: GpuReading = {
          percent: util.length > 0 ? Math.max(...util) : null,
          usedMb: used.length > 0 ? used.reduce((a, b) => a + b, 0) : null,
        };
        if (this.last === null && reading.percent === null && reading.usedMb === null) {
          this.unavailable = true;
        }
        this.last = { at: Date.now(), reading };
        return reading;
      })
      .catch(() => {
        this.unavailable = true;
        return { percent: null, usedMb: null };
      })
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }
}

interface CpuTicks {
  busy: number;
  total: number;
}

function cpuTicks(): CpuTicks {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

function cpuPercentBetween(a: CpuTicks, b: CpuTicks): number {
  const total = b.total - a.total;
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, (100 * (b.busy - a.busy)) / total));
}

async function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s*kB`, 'm').exec(status);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * utime + stime from the text of `/proc/<pid>/stat`, in clock ticks. The command name (field 2) is
 * in parentheses and may itself hold spaces and parentheses, so fields are counted after the last
 * ')': the state is field 3, utime and stime are fields 14 and 15.
 */
export function procStatCpuTicks(stat: string): number | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : null;
}

/**
 * Ticks per second in /proc: USER_HZ, which Linux fixes at 100 for user space on every
 * architecture Node runs on (sysconf(_SC_CLK_TCK) is not reachable from Node).
 */
const USER_HZ = 100;

/** CPU time (user + system) a process has used, in ms; null when it is gone or unreadable. */
export async function readProcessCpuMs(pid: number): Promise<number | null> {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  if (process.platform !== 'linux') return null;
  try {
    const ticks = procStatCpuTicks(await readFile(`/proc/${pid}/stat`, 'utf8'));
    return ticks === null ? null : (ticks * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

/** Resident memory of a process in MB, or null when it is not running (or cannot be read). */
export async function readProcessRssMb(pid: number): Promise<number | null> {
  if (pid === process.pid) return process.memoryUsage().rss / MB;
  if (process.platform === 'linux') {
    const kb = await procStatusKb(pid, 'VmRSS');
    return kb === null ? null : kb / 1024;
  }
  try {
    const { list } = await si.processes();
    const entry = list.find((p) => p.pid === pid);
    return entry ? entry.memRss / 1024 : null;
  } catch {
    return null;
  }
}

/** Pids whose kernel peak a window has reset and still reads: a second window on the same pid must
 * not reset it again (that would lower the first window's peak), so it samples instead. */
const kernelPeakOwners = new Set<number>();

async function resetKernelPeak(pid: number): Promise<boolean> {
  if (process.platform !== 'linux' || kernelPeakOwners.has(pid)) return false;
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    kernelPeakOwners.add(pid);
    return true;
  } catch {
    return false;
  }
}

export interface LiveSamplerOptions {
  /** The watched process, asked on every sample because the engine may restart; default: this
   * process. Undefined means no process is running. */
  pid?: () => number | undefined;
  /** Stream interval; default 1000 ms. */
  intervalMs?: number;
  /** Shared GPU reader; default: systeminformation, at most once a second. */
  gpu?: GpuReader;
}

/** Streams a LiveSample every `intervalMs` (default 1 s) until stopped. */
export class LiveSampler {
  readonly pid: () => number | undefined;
  readonly gpu: GpuReader;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private generation = 0;
  private lastTicks = cpuTicks();
  /** The watched process's CPU time at the previous sample (a new pid starts afresh). */
  private lastProcess: { pid: number; cpuMs: number; at: number } | null = null;

  constructor(options: LiveSamplerOptions = {}) {
    this.pid = options.pid ?? (() => process.pid);
    this.intervalMs = options.intervalMs ?? 1000;
    this.gpu = options.gpu ?? new GpuReader();
  }

  /** One sample now; its CPU figure covers the time since the previous sample (or construction). */
  async sample(): Promise<LiveSample> {
    const pid = this.pid();
    const [mem, rss, gpu, processCpuMs] = await Promise.all([
      si.mem(),
      pid === undefined ? Promise.resolve(null) : readProcessRssMb(pid),
      this.gpu.read(),
      pid === undefined ? Promise.resolve(null) : readProcessCpuMs(pid),
    ]);
    const ticks = cpuTicks();
    const cpuPercent = cpuPercentBetween(this.lastTicks, ticks);
    this.lastTicks = ticks;
    const at = performance.now();
    const prev = this.lastProcess;
    const processCpuPercent =
      pid !== undefined && processCpuMs !== null && prev?.pid === pid && at > prev.at
        ? Math.min(
            100,
            Math.max(0, (100 * (processCpuMs - prev.cpuMs)) / ((at - prev.at) * os.cpus().length)),
          )
        : null;
    this.lastProcess =
      pid !== undefined && processCpuMs !== null ? { pid, cpuMs: processCpuMs, at } : null;
    return {
      t: Date.now(),
      cpuPercent,
      processCpuPercent,
      ramUsedMb: mem.active / MB,
      ramTotalMb: mem.total / MB,
      processRssMb: rss,
      gpuPercent: gpu.percent,
      vramUsedMb: gpu.usedMb,
    };
  }

  /** Starts streaming (restarting if already running). A failed sample is skipped, not fatal. */
  start(onSample: (sample: LiveSample) => void): void {
    this.stop();
    const generation = ++this.generation;
    this.lastTicks = cpuTicks();
    this.lastProcess = null;
    const tick = (): void => {
      this.timer = setTimeout(() => {
        this.sample()
          .then((s) => {
            if (generation === this.generation) onSample(s);
          })
          .catch(() => undefined)
          .finally(() => {
            if (generation === this.generation) tick();
          });
      }, this.intervalMs);
      // A forgotten sampler must not keep the CLI alive.
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** A tracker for the same process and GPU reader. */
  tracker(options: { intervalMs?: number; kernelPeak?: boolean } = {}): PeakTracker {
    return new PeakTracker({ pid: this.pid, gpu: this.gpu, ...options });
  }
}

export interface PeakTrackerOptions {
  pid?: () => number | undefined;
  gpu?: GpuReader;
  /** Sampling interval while a window is open; default 150 ms. */
  intervalMs?: number;
  /** Use the kernel's RSS high-water mark where possible (Linux); default true. */
  kernelPeak?: boolean;
}

/**
 * Peak process memory, peak GPU memory and mean CPU load over one measurement window:
 * `begin()` before the measured run, `await end()` after it. One window at a time per tracker.
 */
export class PeakTracker {
  private readonly pid: () => number | undefined;
  private readonly gpu: GpuReader;
  private readonly intervalMs: number;
  private readonly kernelPeak: boolean;
  private window: {
    startedAt: number;
    ticks: CpuTicks;
    peakRss: number | null;
    peakGpu: number | null;
    samples: number;
    kernelPid: Promise<number | null>;
    timer: NodeJS.Timeout | null;
    pending: Promise<void> | null;
  } | null = null;

  constructor(options: PeakTrackerOptions = {}) {
    this.pid = options.pid ?? (() => process.pid);
    this.gpu = options.gpu ?? new GpuReader();
    this.intervalMs = options.intervalMs ?? 150;
    this.kernelPeak = options.kernelPeak ?? true;
  }

  get open(): boolean {
    return this.window !== null;
  }

  begin(): void {
    if (this.window) throw new Error('PeakTracker.begin() called while a window is open');
    const pid = this.pid();
    const kernelPid =
      this.kernelPeak && pid !== undefined
        ? resetKernelPeak(pid).then((ok) => (ok ? pid : null))
        : Promise.resolve(null);
    const w = {
      startedAt: performance.now(),
      ticks: cpuTicks(),
      peakRss: null as number | null,
      peakGpu: null as number | null,
      samples: 0,
      kernelPid,
      timer: null as NodeJS.Timeout | null,
      pending: null as Promise<void> | null,
    };
    this.window = w;
    const tick = (): void => {
      w.pending = this.sampleInto(w).finally(() => {
        w.pending = null;
        if (this.window === w) {
          w.timer = setTimeout(tick, this.intervalMs);
          w.timer.unref();
        }
      });
    };
    tick();
  }

  private async sampleInto(w: NonNullable<PeakTracker['window']>): Promise<void> {
    const pid = this.pid();
    const [rss, gpu] = await Promise.all([
      pid === undefined ? Promise.resolve(null) : readProcessRssMb(pid).catch(() => null),
      this.gpu.read(),
    ]);
    w.samples++;
    if (rss !== null) w.peakRss = Math.max(w.peakRss ?? 0, rss);
    if (gpu.usedMb !== null) w.peakGpu = Math.max(w.peakGpu ?? 0, gpu.usedMb);
  }

  async end(): Promise<PeakWindow> {
    const w = this.window;
    if (!w) throw new Error('PeakTracker.end() called without begin()');
    this.window = null;
    if (w.timer) clearTimeout(w.timer);
    const ticks = cpuTicks();
    const durationMs = performance.now() - w.startedAt;
    await w.pending;
    // A last sample so that a window shorter than the interval still has the state at its end.
    await this.sampleInto(w);

    let rssSource: PeakWindow['rssSource'] = 'sampled';
    const kernelPid = await w.kernelPid;
    if (kernelPid !== null) {
      kernelPeakOwners.delete(kernelPid);
      // The engine may have restarted under a new pid; then the reset process is not the one
      // measured and only the samples count.
      const hwm = kernelPid === this.pid() ? await procStatusKb(kernelPid, 'VmHWM') : null;
      if (hwm !== null) {
        w.peakRss = Math.max(w.peakRss ?? 0, hwm / 1024);
        rssSource = 'kernel-peak';
      }
    }
    return {
      peakRssMb: w.peakRss,
      peakGpuMb: w.peakGpu,
      meanCpuPercent: cpuPercentBetween(w.ticks, ticks),
      rssSource,
      samples: w.samples,
      durationMs,
    };
  }
}
