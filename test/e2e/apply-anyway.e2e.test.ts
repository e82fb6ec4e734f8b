import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { collectPageErrors, launchChromium, requireChromium } from '../helpers/chromium';
import AxeBuilder from '@axe-core/playwright';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { startWebHost, type WebHost } from '../../src/main/web-host';
import { findRecipe, LCM_LORA_RECIPE } from '../../src/main/bench/recipes';
import { tempHome } from '../helpers/temp-home';
import { storedBenchRun } from '../helpers/stored-bench-run';

/**
 * "Apply anyway" in Chromium, from the keyboard: a stored run whose distilled recipe draws the
 * prompts with different pixels shows its adherence beside the baseline's; its Apply anyway button
 * opens a confirmation with the numbers, Cancel has the focus, and confirming saves the profile.
 * The run is seeded in the store (no model runs), so this stays quick.
 */
// RENDERER_DIR: a renderer built elsewhere, so a build here does not swap files under another run.
const rendererDir = resolve(process.env.RENDERER_DIR ?? 'out/renderer');

let home: ReturnType<typeof tempHome>;
let studio: Studio;
let host: WebHost;
let browser: Browser;
let page: Page;
let runId = 0;
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error('out/renderer is not built: run `npm run build:renderer`');
  }
  requireChromium();
  home = tempHome();
  studio = createStudio({ home: home.dir });
  runId = storedBenchRun(studio.db, [
    {
      recipe: findRecipe('baseline'),
      ssim: null,
      psnr: null,
      verdict: 'baseline',
      adherence: { allCorrect: 1, checksPassed: 1, cases: 16 },
    },
    {
      recipe: LCM_LORA_RECIPE,
      ssim: 0.612,
      psnr: 17.3,
      verdict: 'different-pixels',
      adherence: { allCorrect: 15 / 16, checksPassed: 47 / 48, cases: 16 },
    },
  ]);
  host = await startWebHost({ studio, rendererDir, port: 0 });
  browser = await launchChromium();
  // A context of its own: axe opens a page beside this one to finish its run.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  collectPageErrors(page, consoleErrors);
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await studio?.close();
  home?.cleanup();
});

describe('Apply anyway in Chromium', () => {
  it('shows adherence, confirms with the numbers, and saves the profile knowingly', async () => {
    await page.goto(host.url);
    await page.getByTestId('nav-history').click();
    await page.getByRole('heading', { name: 'History', exact: true }).waitFor();
    await page.getByTestId(`open-run-${runId}`).click();
    const detail = page.getByTestId('run-detail');
    const table = detail.getByTestId('recipe-table');
    expect(await table.getByTestId('adherence-baseline').innerText()).toMatch(/^16\/16/);
    expect(await table.getByTestId('adherence-lcm-lora').innerText()).toMatch(/^15\/16/);

    // From the keyboard: focus the button, open, Escape closes without saving.
    const button = table.getByTestId('apply-anyway-lcm-lora');
    await button.focus();
    await page.keyboard.press('Enter');
    const modal = page.getByRole('dialog');
    await modal.getByText('Apply lcm-lora anyway?').waitFor();
    const numbers = await modal.getByTestId('apply-anyway-numbers').innerText();
    expect(numbers).toMatch(/Speed-up: 5\.00x \(95% interval 4\.50–5\.50\)/);
    expect(numbers).toMatch(/SSIM 0\.612/);
    expect(numbers).toMatch(/PSNR 17\.3 dB/);
    expect(numbers).toMatch(/every check right in 15\/16 cases, the baseline 16\/16/);
    // Readable in the modal and the table behind it (serious and critical axe rules).
    const axe = await new AxeBuilder({ page }).analyze();
    expect(
      axe.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    ).toEqual([]);
    // Cancel has the focus: Enter alone never applies.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await page.keyboard.press('Escape');
    await modal.waitFor({ state: 'hidden' });
    expect(await studio.handlers.listProfiles({ model: 'tiny-shapes' })).toEqual([]);

    await button.focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('confirm-apply-anyway').focus();
    await page.keyboard.press('Enter');
    await page.getByText('Profile applied anyway').waitFor();
    const [profile] = await studio.handlers.listProfiles({ model: 'tiny-shapes' });
    expect(profile).toMatchObject({ recipe: 'lcm-lora', isDefault: true, sourceRunId: runId });
    expect(consoleErrors).toEqual([]);
  });
});
