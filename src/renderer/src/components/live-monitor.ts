import { useEffect, useSyncExternalStore } from 'react';
import type { MonitorSample } from '../../../shared/schemas';
import { studio } from '../api/client';

/** The monitor keeps five minutes of 1 Hz samples. */
export const MONITOR_WINDOW_MS = 5 * 60_000;

/** When something ran on the engine: a generation, a benchmark case, a variant build. */
export interface ActivitySpan {
  key: string;
  /** The generation or benchmark job the span belongs to. */
  job: string;
  kind: 'generate' | 'bench' | 'build';
  label: string;
  start: number;
  end: number;
  /** No closing event yet (still running, or the event that would close it never came). */
  open: boolean;
}

interface MonitorState {
  samples: MonitorSample[];
  spans: ActivitySpan[];
}

let state: MonitorState = { samples: [], spans: [] };
const listeners = new Set<() => void>();
let started = false;
let users = 0;
let sampling = false;
let idleTimer: ReturnType<typeof setInterval> | undefined;

/** A span with no event for this long is taken as finished (its closing event never came). */
const STALE_MS = 15_000;

/**
 * The studio's 1 Hz sampler runs while a monitor is shown or something runs on the engine (so a
 * generation's or a case's peak is known even if the Monitor was not open), and stops after.
 */
function updateSampling(): void {
  const now = Date.now();
  const busy = state.spans.some((s) => s.open && now - s.end < STALE_MS);
  const wanted = users > 0 || busy;
  if (wanted === sampling) return;
  sampling = wanted;
  void studio.setMonitoring({ on: wanted }).catch(() => undefined);
  if (wanted && !idleTimer) idleTimer = setInterval(updateSampling, 5000);
  if (!wanted && idleTimer) {
    clearInterval(idleTimer);
    idleTimer = undefined;
  }
}

function publish(next: MonitorState): void {
  const cutoff = Date.now() - MONITOR_WINDOW_MS;
  state = {
    samples: next.samples.filter((s) => s.t >= cutoff),
    spans: next.spans.filter((s) => s.end >= cutoff || s.open).slice(-200),
  };
  for (const l of listeners) l();
}

/** Opens the span `key` or extends it to now; `close` marks it finished. */
function touch(
  job: string,
  key: string,
  kind: ActivitySpan['kind'],
  label: string,
  close: boolean,
): void {
  const now = Date.now();
  const spans = state.spans.map((s) =>
    s.open && s.key !== key && s.kind !== 'generate' && kind !== 'generate'
      ? { ...s, open: false }
      : s,
  );
  const i = spans.findIndex((s) => s.key === key);
  if (i >= 0) spans[i] = { ...spans[i], end: now, open: !close };
  else spans.push({ key, job, kind, label, start: now, end: now, open: !close });
  publish({ ...state, spans });
  updateSampling();
}

/** Listens once for the studio's events; spans are recorded even while no monitor is shown. */
function start(): void {
  if (started) return;
  started = true;
  studio.on('monitorSample', (s) => publish({ ...state, samples: [...state.samples, s] }));
  studio.on('generateProgress', (p) =>
    touch(p.jobId, `g:${p.jobId}`, 'generate', 'generation', p.stage === 'done'),
  );
  studio.on('benchProgress', (p) => {
    if (p.phase === 'prepare') {
      touch(
        p.jobId,
        `b:${p.jobId}:${p.recipe}:build`,
        'build',
        `${p.recipe} build`,
        p.fraction === 1,
      );
      return;
    }
    touch(
      p.jobId,
      `b:${p.jobId}:${p.recipe}:${p.caseIndex}`,
      'bench',
      `${p.recipe} · case ${p.caseIndex + 1}`,
      p.phase === 'done' || p.phase === 'failed' || p.phase === 'cancelled',
    );
  });
}

/** Closes whatever is still open (a run ended without a closing event: cancelled or failed). */
export function closeOpenSpans(): void {
  publish({ ...state, spans: state.spans.map((s) => ({ ...s, open: false })) });
  updateSampling();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * The live samples and activity spans. While at least one component uses it (or something runs),
 * the studio's 1 Hz sampler runs.
 */
export function useLiveMonitor(): MonitorState & { error?: string } {
  start();
  useEffect(() => {
    users++;
    updateSampling();
    return () => {
      users--;
      updateSampling();
    };
  }, []);
  return useSyncExternalStore(subscribe, () => state);
}

/** Starts listening for activity early, so spans before the monitor is first opened are known. */
export function startActivityTracking(): void {
  start();
}

/** Each job's spans merged into one: a generation, or a benchmark with all its cases and builds. */
export function jobSpans(spans: ActivitySpan[]): ActivitySpan[] {
  const jobs = new Map<string, ActivitySpan>();
  for (const s of spans) {
    const j = jobs.get(s.job);
    jobs.set(
      s.job,
      j
        ? {
            ...j,
            start: Math.min(j.start, s.start),
            end: Math.max(j.end, s.end),
            open: j.open || s.open,
          }
        : {
            ...s,
            key: `job:${s.job}`,
            kind: s.kind === 'generate' ? 'generate' : 'bench',
            label: s.kind === 'generate' ? 'generation' : 'benchmark',
          },
    );
  }
  return [...jobs.values()];
}

/** The latest job's spans merged into one (the "last run"), or null before anything ran. */
export function lastRun(spans: ActivitySpan[]): ActivitySpan | null {
  const last = jobSpans(spans).at(-1);
  if (!last) return null;
  return {
    ...last,
    label: last.kind === 'generate' ? 'the last generation' : 'the last benchmark',
  };
}

/** The highest figures seen while a span ran (the samples inside it, one second of slack). */
export function peakDuring(
  samples: MonitorSample[],
  span: ActivitySpan,
): { cpu: number; rssMb: number | null; vramMb: number | null; gpu: number | null } | null {
  const inside = samples.filter((s) => s.t >= span.start - 1000 && s.t <= span.end + 1000);
  if (inside.length === 0) return null;
  const max = (values: (number | null)[]): number | null => {
    const v = values.filter((x): x is number => x !== null);
    return v.length ? Math.max(...v) : null;
  };
  return {
    cpu: Math.max(...inside.map((s) => s.cpuPercent)),
    rssMb: max(inside.map((s) => s.processRssMb)),
    vramMb: max(inside.map((s) => s.vramUsedMb)),
    gpu: max(inside.map((s) => s.gpuPercent)),
  };
}
