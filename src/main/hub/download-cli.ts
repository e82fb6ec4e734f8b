import cliProgress from 'cli-progress';
import { randomUUID } from 'node:crypto';
import type { EventPayload, MethodOutput } from '../../shared/api';
import type { DownloadPlan } from '../../shared/hub-schemas';
import { dispatch } from '../services/dispatch';
import type { Studio } from '../services/studio';

/**
 * `models --download owner/name[@revision] [--subfolder DIR]` for a person at a terminal: the plan
 * first (files, total size, what is already cached, free disk, will it fit), then one bar for the
 * whole download and one for the current file (bytes, rate, time left); Ctrl+C cancels and keeps
 * the partial files, so running the same command again resumes.
 */

export const formatBytes = (b: number): string =>
  b >= 2 ** 30
    ? `${(b / 2 ** 30).toFixed(2)} GiB`
    : b >= 2 ** 20
      ? `${(b / 2 ** 20).toFixed(1)} MiB`
      : `${(b / 1024).toFixed(0)} KiB`;

const formatEta = (s: number | null): string =>
  s === null
    ? '--'
    : s >= 3600
      ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
      : s >= 60
        ? `${Math.floor(s / 60)}m${s % 60}s`
        : `${s}s`;

export function describePlan(plan: DownloadPlan): string[] {
  const cached = plan.totalBytes - plan.neededBytes;
  return [
    `${plan.repo}@${plan.revision} (commit ${plan.commit.slice(0, 12)})${plan.subfolder ? `, subfolder ${plan.subfolder}` : ''}${plan.gated ? ', gated' : ''}`,
    `  ${plan.files.length} files of the ONNX pipeline, ${formatBytes(plan.totalBytes)}${cached > 0 ? ` (${formatBytes(cached)} already in the cache)` : ''}; ${plan.skipped} other files (PyTorch weights, docs) not fetched`,
    `  to fetch: ${formatBytes(plan.neededBytes)}; free in ${plan.cacheDir}: ${formatBytes(plan.freeBytes)}`,
    `  fit (${plan.fit.ep}): ${plan.fit.verdict} — ${plan.fit.explanation}`,
  ];
}

export async function downloadFromCli(
  studio: Studio,
  input: { repo: string; revision?: string; subfolder?: string },
  opts: { json: boolean; planOnly: boolean },
): Promise<{ plan: DownloadPlan; result?: MethodOutput<'downloadModel'> }> {
  const plan = await dispatch(studio.handlers, 'planModelDownload', input);
  if (!opts.json) for (const line of describePlan(plan)) console.log(line);
  if (opts.planOnly) return { plan };
  const jobId = randomUUID();
  const tty = process.stderr.isTTY && !opts.json;
  const bars = tty
    ? new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: '{label} [{bar}] {percentage}% {done}/{size} {rate} eta {eta_text}',
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const overall = bars?.create(plan.totalBytes, 0, {
    label: 'total'.padEnd(24),
    done: '',
    size: '',
    rate: '',
    eta_text: '--',
  });
  const file = bars?.create(1, 0, {
    label: ''.padEnd(24),
    done: '',
    size: '',
    rate: '',
    eta_text: '',
  });
  let lastFile: string | null = null;
  const stop = studio.events.subscribe((event, payload) => {
    if (event !== 'modelDownloadProgress') return;
    const p = payload as EventPayload<'modelDownloadProgress'>;
    if (p.jobId !== jobId) return;
    if (!tty) {
      if (p.file && p.file !== lastFile && !opts.json)
        console.error(`  ${p.file} (${formatBytes(p.fileTotal)})`);
      lastFile = p.file;
      return;
    }
    overall?.update(p.bytes, {
      done: formatBytes(p.bytes),
      size: formatBytes(p.total),
      rate: `${formatBytes(p.rateBps)}/s`,
      eta_text: formatEta(p.etaSeconds),
    });
    if (p.file) {
      file?.setTotal(Math.max(1, p.fileTotal));
      file?.update(p.fileBytes, {
        label: p.file.slice(-24).padEnd(24),
        done: formatBytes(p.fileBytes),
        size: formatBytes(p.fileTotal),
        rate: '',
        eta_text: '',
      });
    }
  });
  const onSigint = (): void => {
    void dispatch(studio.handlers, 'cancelModelDownload', { jobId });
  };
  process.once('SIGINT', onSigint);
  try {
    const result = await dispatch(studio.handlers, 'downloadModel', { ...input, jobId });
    return { plan, result };
  } finally {
    process.off('SIGINT', onSigint);
    stop();
    bars?.stop();
  }
}
