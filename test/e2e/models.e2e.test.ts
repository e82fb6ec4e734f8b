import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { collectPageErrors, launchChromium, requireChromium } from '../helpers/chromium';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { startWebHost, type WebHost } from '../../src/main/web-host';
import { tempHome } from '../helpers/temp-home';
import { FakeHub, tinyShapesRepo } from '../helpers/fake-hub';

/**
 * The Models page in Chromium: check a Hub repo (size, fit), download it from a local fake Hub,
 * cancel halfway, resume, see it installed, delete it.
 */
const rendererDir = resolve('out/renderer');
const UNET = 'unet/model.onnx';

let home: ReturnType<typeof tempHome>;
let studio: Studio;
let host: WebHost;
let browser: Browser;
let page: Page;
const hub = new FakeHub();
const saved = { endpoint: process.env.HF_ENDPOINT, cache: process.env.HF_HUB_CACHE };
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error('out/renderer is not built: run `npm run build:renderer`');
  }
  requireChromium();
  home = tempHome();
  process.env.HF_ENDPOINT = await hub.start();
  process.env.HF_HUB_CACHE = join(home.dir, 'hf-cache');
  hub.repos.set('test/tiny-shapes', tinyShapesRepo('e2e'));
  studio = createStudio({ home: home.dir });
  host = await startWebHost({ studio, rendererDir, port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  collectPageErrors(page, consoleErrors);
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await studio?.close();
  await hub.close();
  home?.cleanup();
  if (saved.endpoint === undefined) delete process.env.HF_ENDPOINT;
  else process.env.HF_ENDPOINT = saved.endpoint;
  if (saved.cache === undefined) delete process.env.HF_HUB_CACHE;
  else process.env.HF_HUB_CACHE = saved.cache;
});

describe('Models page in Chromium', () => {
  it('checks a repo, downloads it with progress, cancels, resumes, and deletes it', async () => {
    await page.goto(host.url);
    await page.getByText('Alt+7', { exact: true }).waitFor();
    await page.keyboard.press('Alt+7');
    await page.getByRole('heading', { name: 'Models', exact: true }).waitFor();
    await page.getByTestId('catalogue').getByText('onnxruntime/sd-turbo').waitFor();

    await page.getByTestId('download-repo').fill('test/tiny-shapes');
    await page.getByTestId('download-check').click();
    const plan = page.getByTestId('download-plan');
    await plan.getByText(/14 files, 10\.\d MiB/).waitFor();
    await plan.getByText('fits', { exact: true }).waitFor();

    // Slow enough to press Cancel while the UNet is on its way.
    hub.faults = { slow: { [UNET]: { chunk: 32 * 1024, delayMs: 20 } } };
    await page.getByTestId('download-start').click();
    const progress = page.getByTestId('download-progress-test/tiny-shapes');
    await progress.getByText(/unet\/model\.onnx \(\d+\/14\)/).waitFor({ timeout: 30_000 });
    await progress.getByText(/MiB\/s/).waitFor();
    await page.getByTestId('download-cancel').click();
    await page
      .getByTestId('download-result')
      .getByText(/download cancelled/)
      .waitFor();
    const blobs = join(home.dir, 'hf-cache', 'models--test--tiny-shapes', 'blobs');
    const partial = readdirSync(blobs).find((f) => f.endsWith('.incomplete'));
    expect(partial).toBeDefined();
    const stoppedAt = statSync(join(blobs, partial ?? '')).size;
    expect(stoppedAt).toBeGreaterThan(0);

    hub.faults = {};
    const before = hub.log.length;
    await page.getByTestId('download-check').click();
    await page.getByTestId('download-start').click();
    await page
      .getByTestId('download-result')
      .getByText(/test\/tiny-shapes \(sd1\) is ready/)
      .waitFor({ timeout: 60_000 });
    const resumed = hub.log
      .slice(before)
      .filter((l) => l.path === UNET && l.range && l.range !== 'bytes=0-0');
    expect(resumed.map((l) => l.range)).toEqual([`bytes=${stoppedAt}-6239650`]);

    const row = page.getByTestId('model-row-test/tiny-shapes');
    await row.getByText(/^downloaded \(test\/tiny-shapes @ /).waitFor();
    await row.getByRole('button', { name: 'Check' }).click();
    await row.getByText(/^fits/).waitFor({ timeout: 60_000 });
    await page.getByTestId('delete-test/tiny-shapes').click();
    await page
      .getByTestId('download-result')
      .getByText(/Deleted test\/tiny-shapes/)
      .waitFor();
    await row.waitFor({ state: 'detached' });
    // The cancelled download's call is answered 409 (cancelled) by the web host, which Chromium logs.
    expect(consoleErrors.filter((e) => !/status of 409/.test(e))).toEqual([]);
    expect(consoleErrors.filter((e) => /status of 409/.test(e))).toHaveLength(1);
  });

  it('optimizes tiny-shapes to int8 with progress, shows the checked result, lists the variant', async () => {
    await page.goto(host.url);
    // The shortcut works once the app has rendered its navigation (which lists it).
    await page.getByText('Alt+7', { exact: true }).waitFor();
    await page.keyboard.press('Alt+7');
    await page.getByRole('heading', { name: 'Models', exact: true }).waitFor();
    const card = page.getByTestId('optimize-card');
    await card.waitFor();
    await page.getByTestId('optimize-model').click();
    await page.getByRole('option', { name: 'tiny-shapes', exact: true }).click();
    await page.getByTestId('optimize-recipe').click();
    await page.getByRole('option', { name: 'int8', exact: true }).click();
    await card.getByText(/Conv weights and embedding tables stored int8/).waitFor();
    await page.getByTestId('optimize-start').click();
    const result = page.getByTestId('optimize-result');
    await result.waitFor({ timeout: 60_000 });
    const unet = result.getByRole('row', { name: /^unet / });
    await unet.getByText('int8-matmul + int8-weights-dq').waitFor();
    const cosine = Number(await unet.getByRole('cell').nth(3).textContent());
    expect(cosine).toBeGreaterThan(0.99);
    await page
      .getByTestId('model-row-tiny-shapes--int8')
      .getByText(/^optimized/)
      .waitFor();
    // UPDATE_SCREENSHOTS=1: the Models page as a person sees it after an optimization.
    if (process.env.UPDATE_SCREENSHOTS === '1')
      await page.screenshot({ path: resolve('docs/screenshots/models.png'), fullPage: true });
  });
});
