import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { startWebHost, type WebHost } from '../../src/main/web-host';
import type { EventPayload } from '../../src/shared/api';
import { loraHashCacheFile } from '../../src/main/optimize/lora-hash';
import { tempHome } from '../helpers/temp-home';

/**
 * The Generate page's LoRA picker end to end below the UI: `listLoras` through the web host (the
 * same route the page uses), a generate naming a listed LoRA by id with no allowed folder (ids
 * never leave the studio's LoRA folders, so they need no path consent), merge progress on the
 * first use only, and the service's own message for a LoRA for another family.
 */
let home: ReturnType<typeof tempHome>;
let studio: Studio;
let host: WebHost;

beforeAll(async () => {
  home = tempHome();
  studio = createStudio({ home: home.dir });
  const rendererDir = join(home.dir, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  // No allowed folder at all: a path would be refused, an id must not be.
  host = await startWebHost({ studio, rendererDir, port: 0, allowedFolders: [] });
});

afterAll(async () => {
  await host.close();
  await studio.close();
  home.cleanup();
});

async function post(method: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${host.port}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${host.token}` },
    body: JSON.stringify(body),
  });
  // Success answers `{ result }`, failures `{ error, code }`.
  const answer = (await res.json()) as { result?: unknown; error?: string };
  return { status: res.status, json: res.ok ? answer.result : answer };
}

const request = {
  model: 'tiny-shapes',
  prompt: 'a red circle on a blue background',
  seed: 3,
  scheduler: 'lcm',
  steps: 4,
  guidance: 1,
};

describe('LoRA picker API', () => {
  it('lists the bundled LCM-LoRA with its card for tiny-shapes', async () => {
    const r = await post('listLoras', { model: 'tiny-shapes' });
    expect(r.status).toBe(200);
    expect(r.json).toContainEqual(
      expect.objectContaining({
        id: 'lora:bundled/tiny-shapes-lcm.safetensors',
        kind: 'lcm-lora',
        match: 'model',
        card: { scale: 1, scheduler: 'lcm', steps: 4, guidance: 1 },
      }),
    );
    expect((await post('listLoras', { model: 'no-such-model' })).status).toBe(404);
  });

  it('generates with a listed id; the merge reports progress the first time only', async () => {
    const events: EventPayload<'generateProgress'>[] = [];
    const stop = studio.events.subscribe((event, payload) => {
      if (event === 'generateProgress') events.push(payload as EventPayload<'generateProgress'>);
    });
    try {
      const lora = { path: 'lora:bundled/tiny-shapes-lcm.safetensors', scale: 1 };
      const first = await post('generate', { ...request, loras: [lora], jobId: 'first' });
      expect(first.status).toBe(200);
      const merging = events.filter((e) => e.jobId === 'first' && e.stage === 'merge');
      expect(merging.some((e) => /^merging LoRA… /.test(e.message ?? ''))).toBe(true);
      expect(merging.at(-1)?.step).toBe(100);
      // The merge comes before the engine loads the merged model.
      const firstLoad = events.findIndex((e) => e.jobId === 'first' && e.stage === 'load');
      expect(events.findLastIndex((e) => e.jobId === 'first' && e.stage === 'merge')).toBeLessThan(
        firstLoad,
      );
      expect(existsSync(loraHashCacheFile(home.dir))).toBe(true);

      const again = await post('generate', { ...request, loras: [lora], jobId: 'again' });
      expect(again.status).toBe(200);
      const cached = events.filter((e) => e.jobId === 'again' && e.stage === 'merge');
      expect(cached.map((e) => e.message)).toEqual(['looking for the merged LoRA variant…']);
    } finally {
      stop();
    }
  });

  it('refuses ids outside the LoRA folders and a path outside the allowed ones, naming the field', async () => {
    for (const path of ['lora:home/../studio.db', 'lora:home/missing.safetensors']) {
      const r = await post('generate', { ...request, loras: [{ path }] });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect((r.json as { error: string }).error).toMatch(/^loras\.0\.path: /);
    }
    const byPath = await post('generate', {
      ...request,
      loras: [{ path: resolve('resources/loras/tiny-shapes-lcm.safetensors') }],
    });
    expect((byPath.json as { error: string }).error).toMatch(/^loras\.0\.path: .*web studio/);
  });

  it("passes on the service's message for a LoRA made for another model", async () => {
    // A person's bare LoRA with no card: listed as 'unknown', refused when merged.
    mkdirSync(join(home.dir, 'loras'), { recursive: true });
    copyFileSync(
      resolve('test/fixtures/lora/small/peft-lora.safetensors'),
      join(home.dir, 'loras', 'someone-elses.safetensors'),
    );
    const listed = (await post('listLoras', { model: 'tiny-shapes' })).json as { id: string }[];
    expect(listed.map((l) => l.id)).toContain('lora:home/someone-elses.safetensors');
    const r = await post('generate', {
      ...request,
      loras: [{ path: 'lora:home/someone-elses.safetensors' }],
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect((r.json as { error: string }).error).toMatch(/LoRA key\(s\) map to no weight in unet/);
  });
});
