import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { startWebHost, type WebHost } from '../../src/main/web-host';
import { allowFolder } from '../../src/main/path-consent';
import { tempHome } from '../helpers/temp-home';

/**
 * The studio as a person sees it: the web host serving the built renderer, driven in Debian's
 * Chromium. UPDATE_SCREENSHOTS=1 writes docs/screenshots/*.png.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const rendererDir = resolve('out/renderer');
const screenshots =
  process.env.UPDATE_SCREENSHOTS === '1' ? resolve('docs/screenshots') : undefined;

let home: ReturnType<typeof tempHome>;
let studio: Studio;
let host: WebHost;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error(
      'out/renderer is not built: run `npm run build:renderer` (npm test does it first)',
    );
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  home = tempHome();
  studio = createStudio({ home: home.dir });
  host = await startWebHost({ studio, rendererDir, port: 0 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  if (screenshots) mkdirSync(screenshots, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await studio?.close();
  home?.cleanup();
});

async function shot(name: string): Promise<void> {
  if (!screenshots) return;
  // A viewport as tall as the page, so the fixed header and navbar stay where a person sees them
  // (a full-page capture would paint them halfway down).
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: 1280, height: Math.max(860, Math.min(height, 4000)) });
  await page.screenshot({ path: join(screenshots, `${name}.png`) });
  await page.setViewportSize({ width: 1280, height: 860 });
}

describe('studio in Chromium', () => {
  it('opens with the printed URL, drops the token from the address bar, and generates an image', async () => {
    await page.goto(host.url);
    expect(page.url()).toBe(`http://127.0.0.1:${host.port}/`);
    await page.getByRole('heading', { name: 'Generate' }).waitFor();
    await page.getByTestId('prompt').fill('a red circle on a blue background');
    await page.keyboard.press('Control+Enter');
    const image = page.getByTestId('result-image');
    await page.getByTestId('timings').waitFor({ timeout: 60_000 });
    const src = await image.getAttribute('src');
    expect(src).toMatch(/^data:image\/png;base64,/);
    await shot('generate');
  });

  it('visits every page without console errors', async () => {
    const pages = [
      ['wizard', 'Optimization wizard'],
      ['monitor', 'Monitor'],
      ['gallery', 'Gallery'],
      ['history', 'History'],
      ['settings', 'Settings'],
      ['generate', 'Generate'],
    ] as const;
    for (const [id, heading] of pages) {
      await page.getByTestId(`nav-${id}`).click();
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      // Every page stays mounted; only the shown one is visible.
      if (id === 'wizard' || id === 'monitor') {
        await page.locator('[data-testid="hardware"]:visible').waitFor({ timeout: 60_000 });
      }
      if (id === 'history') await page.getByTestId('history-table').waitFor();
      if (id === 'gallery') await page.getByTestId('gallery').locator('img').first().waitFor();
      await shot(id);
    }
    // Back on Generate after visiting every page: the image made earlier is still there.
    expect(await page.getByTestId('result-image').getAttribute('src')).toMatch(/^data:image\/png/);
    expect(consoleErrors).toEqual([]);
  });

  it('runs the wizard: candidates, a measured benchmark, an explanation, a saved default profile', async () => {
    await page.getByTestId('nav-wizard').click();
    const candidates = page.getByTestId('wizard-candidates');
    await candidates.getByText('baseline —').waitFor();
    // Keep the end-to-end run short: the baseline and one candidate.
    for (const box of await candidates.getByRole('checkbox').all()) {
      if ((await box.isEnabled()) && (await box.isChecked())) await box.uncheck();
    }
    await candidates.getByRole('checkbox', { name: /^dpm-fast —/ }).check();
    await page.getByLabel('Repeats per prompt').fill('1');
    await page.getByTestId('run-benchmark').click();
    const result = page.getByTestId('wizard-result');
    await result.waitFor({ timeout: 180_000 });
    expect(await result.getByTestId('recipe-table').locator('tbody tr').count()).toBe(2);
    await shot('wizard-result');
    // The answer is either a recommendation, which can be saved as the default profile, or "keep
    // the baseline" with the reason (nothing faster beyond the noise), with nothing to save.
    const answer = await result.getByTestId('wizard-answer').innerText();
    if (/Recommended:/.test(answer)) {
      await page.getByTestId('save-profile').click();
      await page.getByText(/as the default profile/).waitFor();
    } else {
      expect(answer).toMatch(/Keep the baseline/);
      expect(await page.getByTestId('save-profile').isDisabled()).toBe(true);
    }
  });

  it('opens the benchmark run in the history with its before/after gallery', async () => {
    await page.getByTestId('nav-history').click();
    await page.locator('[data-testid^="open-run-"]').first().click();
    const detail = page.getByTestId('run-detail');
    await detail.waitFor();
    await detail.getByRole('img').first().waitFor();
    await shot('history-run');
    expect(consoleErrors).toEqual([]);
  });

  it('adds a model folder by path from Settings (only under an allowed folder)', async () => {
    await page.getByTestId('nav-settings').click();
    await page
      .getByTestId('add-model-path')
      .fill(resolve('test/fixtures/models/sd15-optimum-float'));
    await page.getByTestId('add-model').click();
    await page
      .getByTestId('add-model-result')
      .getByText(/outside the folders allowed|until you allow one/)
      .waitFor();
    // What `npm run web -- --allow-folder DIR` does.
    allowFolder(studio.home, resolve('test/fixtures/models'));
    await page
      .getByTestId('add-model-path')
      .fill(resolve('test/fixtures/models/sd15-optimum-float'));
    await page.getByTestId('add-model').click();
    await page
      .getByTestId('add-model-result')
      .getByText(/Added sd15-optimum-float \(sd1\)/)
      .waitFor();
    await shot('settings');
  });

  it('switches pages from the keyboard', async () => {
    await page.keyboard.press('Alt+5');
    await page.getByRole('heading', { name: 'History', exact: true }).waitFor();
    await page.keyboard.press('Alt+1');
    await page.getByRole('heading', { name: 'Generate', exact: true }).waitFor();
  });
});
