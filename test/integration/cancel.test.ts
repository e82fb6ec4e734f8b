import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EventName, EventPayload } from '../../src/shared/api';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { startWebHost, type WebHost } from '../../src/main/web-host';
import { tempHome } from '../helpers/temp-home';

/**
 * Cancel is an outcome, not a failure (issue 24): through the web host a cancel is answered 200
 * `{cancelled: true}`, the cancelled call itself 409 with `code: 'cancelled'`, and the run is in
 * the history as `cancelled`; Ctrl+C in the CLI does the same and exits 130. The real engine on
 * the bundled tiny-shapes, real SQLite in a temporary LATENT_STUDIO_HOME.
 */
let home: ReturnType<typeof tempHome>;
let studio: Studio;
let host: WebHost;

beforeAll(async () => {
  home = tempHome();
  const rendererDir = join(home.dir, 'renderer');
  mkdirSync(rendererDir, { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  studio = createStudio({ home: home.dir });
  host = await startWebHost({ studio, rendererDir, port: 0 });
});

afterAll(async () => {
  await host?.close();
  await studio?.close();
  home?.cleanup();
});

const post = async (
  method: string,
  body: unknown,
): Promise<{ status: number; body: { result?: unknown; error?: string; code?: string } }> => {
  const response = await fetch(`http://127.0.0.1:${host.port}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${host.token}` },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as { result?: unknown; error?: string; code?: string },
  };
};

/** Resolves with the first event of that name that `when` accepts. */
function nextEvent<E extends EventName>(
  name: E,
  when: (p: EventPayload<E>) => boolean,
  timeoutMs = 120_000,
): Promise<EventPayload<E>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no ${name} event in ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = studio.events.subscribe((event: EventName, payload: unknown) => {
      if (event !== name || !when(payload as EventPayload<E>)) return;
      clearTimeout(timer);
      stop();
      resolve(payload as EventPayload<E>);
    });
  });
}

describe('cancel through the web host', () => {
  it('cancels a generation: 200 for the cancel, 409 cancelled for the generation, cancelled in history', async () => {
    const jobId = 'cancel-generate-1';
    const denoising = nextEvent(
      'generateProgress',
      (p) => p.jobId === jobId && p.stage === 'denoise',
    );
    const generation = post('generate', {
      model: 'tiny-shapes',
      prompt: 'a red circle on a blue background',
      steps: 800,
      batch: 4,
      jobId,
    });
    await denoising;
    const cancel = await post('cancelGenerate', { jobId });
    expect(cancel).toEqual({ status: 200, body: { result: { cancelled: true } } });
    const answer = await generation;
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ code: 'cancelled', error: 'generation cancelled' });

    const history = await post('getHistory', { limit: 1 });
    expect(history.status).toBe(200);
    expect(history.body.result).toMatchObject([
      { kind: 'generate', status: 'cancelled', error: 'generation cancelled', images: [] },
    ]);
    // Nothing left to cancel: answered, and false.
    expect(await post('cancelGenerate', { jobId })).toEqual({
      status: 200,
      body: { result: { cancelled: false } },
    });
  });

  it('cancels a benchmark: 200 for the cancel, 409 cancelled for the run, cancelled in history and getRun', async () => {
    const jobId = 'cancel-bench-1';
    // An id that runs nothing is not cancelled (and not remembered for a later run).
    expect(await post('cancelBenchmark', { jobId })).toEqual({
      status: 200,
      body: { result: { cancelled: false } },
    });
    const phases: string[] = [];
    const stop = studio.events.subscribe((event, payload) => {
      if (event === 'benchProgress') phases.push((payload as EventPayload<'benchProgress'>).phase);
    });
    try {
      const measuring = nextEvent(
        'benchProgress',
        (p) => p.jobId === jobId && (p.phase === 'warmup' || p.phase === 'measure'),
      );
      const run = post('runBenchmark', {
        model: 'tiny-shapes',
        recipes: ['dpm-fast'],
        maxCases: 1,
        repeats: 5,
        stack: false,
        jobId,
      });
      const { runId } = await measuring;
      expect(await post('cancelBenchmark', { jobId: 'some-other-job' })).toEqual({
        status: 200,
        body: { result: { cancelled: false } },
      });
      expect(await post('cancelBenchmark', { jobId })).toEqual({
        status: 200,
        body: { result: { cancelled: true } },
      });
      const answer = await run;
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ code: 'cancelled', error: 'benchmark cancelled' });
      // The recipe being measured is said to be cancelled, not failed.
      expect(phases.at(-1)).toBe('cancelled');
      expect(phases).not.toContain('failed');

      const history = await post('getHistory', { limit: 1 });
      expect(history.body.result).toMatchObject([
        { id: runId, kind: 'bench', status: 'cancelled', error: 'benchmark cancelled' },
      ]);
      const detail = await post('getRun', { runId });
      expect(detail.status).toBe(200);
      expect(detail.body.result).toMatchObject({ id: runId, status: 'cancelled' });
    } finally {
      stop();
    }
  });
});

/**
 * The CLI as a terminal runs it: its own process group, and `ctrlC` signals the whole group, as a
 * terminal does on Ctrl+C, so the CLI's workers get the SIGINT too.
 */
function cli(
  args: string[],
  onStderr?: (text: string, ctrlC: () => void) => void,
): {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  ctrlC: () => void;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], {
    env: { ...process.env, LATENT_STUDIO_HOME: home.dir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  let sent = false;
  const ctrlC = (): void => {
    if (sent || child.pid === undefined) return;
    sent = true;
    process.kill(-child.pid, 'SIGINT');
  };
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr, ctrlC);
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { done, ctrlC };
}

/** The newest run as the database holds it, read by another connection. */
function lastRun(): { id: number; kind: string; status: string; error: string | null } | undefined {
  const db = new Database(join(home.dir, 'studio.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, kind, status, error FROM runs ORDER BY id DESC LIMIT 1').get() as
      { id: number; kind: string; status: string; error: string | null } | undefined;
  } finally {
    db.close();
  }
}

describe('Ctrl+C in the CLI', () => {
  it('bench: cancels the run, records it cancelled, exits 130 with one line on stderr', async () => {
    // Without --json and without a terminal, each progress event is a line on stderr.
    const r = await cli(
      ['bench', '--recipes', 'dpm-fast', '--max-cases', '1', '--repeats', '5', '--no-stack'],
      (text, ctrlC) => {
        if (/ (warmup|measure)\n/.test(text)) ctrlC();
      },
    ).done;
    const lines = r.stderr.split('\n').filter(Boolean);
    const progress = /^\S+ \(\d+\/\d+\) case \d+\/\d+ \w+$/;
    expect(r.code, r.stderr).toBe(130);
    expect(lines.filter((l) => !progress.test(l))).toEqual(['cancelled: benchmark cancelled']);
    // The recipe being measured is reported cancelled, not failed.
    expect(lines.some((l) => / cancelled$/.test(l))).toBe(true);
    expect(lines.some((l) => / failed$/.test(l))).toBe(false);
    expect(r.stdout).toBe('');
    expect(lastRun()).toMatchObject({ kind: 'bench', status: 'cancelled' });

    // history --json says so too.
    const history = await cli(['history', '--limit', '1', '--json']).done;
    expect(history.code, history.stderr).toBe(0);
    const { runs } = JSON.parse(history.stdout.trim().split('\n').at(-1) ?? '{}') as {
      runs: { id: number; status: string }[];
    };
    expect(runs[0]).toMatchObject({ id: lastRun()?.id, status: 'cancelled' });
  });

  it('generate: cancels the generation, records it cancelled, exits 130 with one line on stderr', async () => {
    const before = lastRun()?.id ?? 0;
    const generate = cli([
      'generate',
      '--prompt',
      'a red circle',
      '--steps',
      '800',
      '--batch',
      '4',
      '--out',
      join(home.dir, 'never.png'),
    ]);
    // generate prints no progress: wait for its run to be recorded, then for the engine to work.
    const deadline = Date.now() + 120_000;
    while ((lastRun()?.id ?? 0) <= before) {
      if (Date.now() > deadline) throw new Error('generate never recorded its run');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1500));
    generate.ctrlC();
    const r = await generate.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr.split('\n').filter(Boolean)).toEqual(['cancelled: generation cancelled']);
    expect(lastRun()).toMatchObject({
      kind: 'generate',
      status: 'cancelled',
      error: 'generation cancelled',
    });
  });
});
