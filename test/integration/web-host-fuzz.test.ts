import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { startWebHost, type WebHost } from '../../src/main/web-host';
import { fuzzWebHost, stubHeavy } from '../helpers/api-fuzz';
import { tempHome } from '../helpers/temp-home';

/**
 * fast-check over every StudioApi method's input, through the web host on loopback: no answer is
 * a 5xx, no request fails, and every rejection names the field it is about. Bounded: 25 inputs per
 * method with a fixed seed (FUZZ_RUNS and FUZZ_SEED change both).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? 12);

let home: ReturnType<typeof tempHome>;
let studio: Studio;
let host: WebHost;

beforeAll(async () => {
  home = tempHome();
  const rendererDir = join(home.dir, 'renderer');
  mkdirSync(rendererDir, { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  studio = createStudio({ home: home.dir });
  const fuzzed = { ...studio, handlers: stubHeavy(studio.handlers) };
  host = await startWebHost({
    studio: fuzzed,
    rendererDir,
    port: 0,
    allowedFolders: [resolve('test/fixtures/models')],
  });
});

afterAll(async () => {
  await host.close();
  await studio.close();
  home.cleanup();
});

describe('web host fuzz', () => {
  it('never answers 5xx and names the field in every rejection', async () => {
    const figures = await fuzzWebHost(`http://127.0.0.1:${host.port}`, host.token, RUNS, SEED);
    expect(figures.crashes).toEqual([]);
    expect(figures.unnamed).toEqual([]);
    expect(figures.requests).toBeGreaterThan(RUNS * 20);
  }, 300_000);
});
