import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { collectPageErrors, launchChromium, requireChromium } from '../helpers/chromium';
import AxeBuilder from '@axe-core/playwright';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { startWebHost, type WebHost } from '../../src/main/web-host';
import { tempHome } from '../helpers/temp-home';

/**
 * The studio as a person sees it: the web host serving the built renderer, driven in Debian's
 * Chromium, with the bundled tiny-shapes model and small benchmark plans (one prompt, one repeat).
 * UPDATE_SCREENSHOTS=1 writes docs/screenshots/*.png.
 */
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
  requireChromium();
  home = tempHome();
  studio = createStudio({ home: home.dir });
  // Probe the providers before the browser and the engine load the machine: a probe that times
  // out under load would leave no working provider for the benchmark (probed again once).
  let hw = await studio.handlers.getHardware({ refresh: false });
  if (!hw.providers.some((p) => p.name === 'cpu' && p.works)) {
    hw = await studio.handlers.getHardware({ refresh: true });
  }
  expect(hw.providers.find((p) => p.name === 'cpu')).toMatchObject({ works: true });
  // Settings adds a model by path: the web studio only accepts paths under allowed folders.
  host = await startWebHost({
    studio,
    rendererDir,
    port: 0,
    allowedFolders: [resolve('test/fixtures/models')],
  });
  browser = await launchChromium();
  // The system asks for dark: the studio follows it until the person picks a theme.
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    colorScheme: 'dark',
  });
  page = await context.newPage();
  collectPageErrors(page, consoleErrors);
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
  // Transient notifications would cover the page's header in the picture.
  for (const close of await page.getByRole('button', { name: 'Close this message' }).all()) {
    await close.click().catch(() => undefined);
  }
  await page
    .locator('.mantine-Notification-root')
    .first()
    .waitFor({ state: 'detached', timeout: 3000 })
    .catch(() => undefined);
  // A viewport as tall as the page, so the fixed header and navbar stay where a person sees them
  // (a full-page capture would paint them halfway down).
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: 1280, height: Math.max(860, Math.min(height, 4000)) });
  await page.screenshot({ path: join(screenshots, `${name}.png`) });
  await page.setViewportSize({ width: 1280, height: 860 });
}

const visible = (testId: string) => page.locator(`[data-testid="${testId}"]:visible`);

async function show(id: string, heading: string): Promise<void> {
  await page.getByTestId(`nav-${id}`).click();
  await page.getByRole('heading', { name: heading, exact: true }).waitFor();
}

/** Serious and critical axe violations on the page as shown (hidden pages are not checked). */
async function axeViolations(): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

const PAGES = [
  ['generate', 'Generate'],
  ['wizard', 'Optimization wizard'],
  ['monitor', 'Monitor'],
  ['gallery', 'Gallery'],
  ['history', 'History'],
  ['settings', 'Settings'],
  ['models', 'Models'],
] as const;

describe('studio in Chromium', () => {
  it('opens with the printed URL in the system theme, and generates an image', async () => {
    await page.goto(host.url);
    expect(page.url()).toBe(`http://127.0.0.1:${host.port}/`);
    await page.getByRole('heading', { name: 'Generate' }).waitFor();
    expect(await page.getByTestId('theme-toggle').getAttribute('data-scheme')).toBe('dark');
    // Empty states point to the next step.
    await show('gallery', 'Gallery');
    await page
      .getByTestId('gallery-empty')
      .getByRole('button', { name: 'Generate an image' })
      .click();
    await page.getByRole('heading', { name: 'Generate', exact: true }).waitFor();
    await page.getByTestId('prompt').fill('a red circle on a blue background');
    await page.getByTestId('batch').fill('2');
    await page.getByTestId('prompt').press('Control+Enter');
    await page.getByTestId('timings').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('result-image').getAttribute('src')).toMatch(
      /^data:image\/png;base64,/,
    );
    // Every image of the batch, and the seed can be reused.
    expect(await page.getByTestId('batch-images').locator('img').count()).toBe(2);
    await page.getByTestId('use-seed').click();
    expect(await page.getByTestId('seed').inputValue()).toMatch(/^\d+$/);
  });

  it('cancels a generation: Generate becomes Cancel while it runs', async () => {
    // Long enough on an idle machine (800 steps of a batch of 4: about 10 s) that Cancel lands
    // mid-run; at 400 steps of one image an idle run could finish before the click. (1000 steps
    // is refused by DDIM with steps_offset 1: its first timestep would be 1000.)
    await page.getByTestId('batch').fill('4');
    await page.getByTestId('steps').fill('800');
    await page.getByTestId('generate').click();
    const cancel = page.getByTestId('cancel-generate');
    await cancel.waitFor();
    await page
      .getByTestId('generate-status')
      .getByText(/denoise/)
      .waitFor({ timeout: 60_000 });
    await cancel.click();
    // A cancel is an outcome, not a failure: said in place, with no error alert or notification.
    const note = page.getByTestId('generate-cancelled');
    await note.getByText(/cancelled/).waitFor({ timeout: 30_000 });
    expect(await note.innerText()).toMatch(/^Cancelled/);
    expect(await page.getByTestId('generate-error').count()).toBe(0);
    expect(await page.getByText('Generation failed').count()).toBe(0);
    await page.getByTestId('generate').waitFor();
    await page.getByTestId('steps').fill('');
    await page.getByTestId('batch').fill('1');
    const [cancelled] = await studio.handlers.getHistory({ limit: 1 });
    expect(cancelled).toMatchObject({ status: 'cancelled', error: 'generation cancelled' });
    // History reads CANCELLED whole ("CANCEL…" before), in a neutral grey.
    await show('history', 'History');
    const badge = page.getByTestId(`run-row-${cancelled.id}`).getByTestId('run-status-badge');
    await badge.waitFor();
    expect(await badge.innerText()).toBe('CANCELLED');
    expect(
      await badge.locator('.mantine-Badge-label').evaluate((l) => l.scrollWidth <= l.clientWidth),
    ).toBe(true);
    expect(await badge.getAttribute('style')).toMatch(/gray/);
    await show('generate', 'Generate');
  });

  // A calibration, a cancelled run and a whole run: minutes on a busy 2-core machine.
  it(
    'walks the wizard through every step on a small plan and applies the profile',
    { timeout: 360_000 },
    async () => {
      await show('wizard', 'Optimization wizard');
      await visible('hardware-words').waitFor({ timeout: 60_000 });
      await shot('wizard');
      await page.getByTestId('hardware-step').getByTestId('wizard-next').click();
      await page.getByTestId('goals-step').getByTestId('wizard-next').click();
      const candidates = page.getByTestId('wizard-candidates');
      await candidates.getByText('baseline —').waitFor();
      // The baseline and one candidate, one prompt, one repeat, no stacking: a short run.
      for (const box of await candidates.getByRole('checkbox').all()) {
        if ((await box.isEnabled()) && (await box.isChecked())) await box.uncheck();
      }
      // dpm-fast is past the wizard's cap on this machine: ticked in from "also worth measuring".
      await candidates.getByRole('checkbox', { name: /^dpm-fast —/ }).check();
      await page.getByLabel('Prompts (cases)').fill('1');
      await page.getByLabel('Repeats per prompt').fill('1');
      await page.getByLabel('Then stack what passed into tiers').uncheck({ force: true });
      await expect.poll(() => page.getByTestId('plan-estimate').innerText()).toMatch(/^2 recipes/);
      // The time budget: a calibration on this model predicts the plan's time, phase by phase.
      await page.getByTestId('time-budget').getByText('5 min', { exact: true }).click();
      expect(await page.getByRole('radio', { name: '5 min', exact: true }).isChecked()).toBe(true);
      await page.getByTestId('predict-time').click();
      const prediction = page.getByTestId('plan-prediction');
      await prediction.waitFor({ timeout: 60_000 });
      expect(await prediction.innerText()).toMatch(
        /Predicted .* of your 5\.0 min: 2 recipes on 1 prompt/,
      );
      expect(await prediction.getByRole('row').count()).toBeGreaterThanOrEqual(3);
      await shot('wizard-budget');
      // Cancelled while the baseline is measured: the run step says Cancelled (not Measuring), the
      // baseline's row is cancelled (not failed), no error; back to the plan, it runs again.
      await page.getByTestId('run-benchmark').click();
      await page
        .getByTestId('run-status')
        .getByText(/^baseline \(1\/2\) · case 1\/1 · (warmup|measure)/)
        .waitFor({ timeout: 120_000 });
      await page.getByTestId('cancel-benchmark').click();
      const runStep = page.getByTestId('run-step');
      await runStep.getByTestId('run-cancelled').waitFor({ timeout: 60_000 });
      expect(await runStep.getByTestId('run-title').innerText()).toBe('Cancelled');
      const baselineRow = runStep.getByTestId('run-progress').locator('tbody tr').first();
      expect(await baselineRow.innerText()).toMatch(/^baseline\s+cancelled/i);
      expect(await page.getByText('The benchmark stopped').count()).toBe(0);
      const [cancelledRun] = await studio.handlers.getHistory({ limit: 1 });
      expect(cancelledRun).toMatchObject({ kind: 'bench', status: 'cancelled' });
      await runStep.getByRole('button', { name: 'Back to the plan' }).click();
      await page.getByTestId('run-benchmark').click();
      // The run step: progress per recipe, the live monitor beside it, Cancel.
      await page.getByTestId('run-progress').waitFor();
      await page.getByTestId('cancel-benchmark').waitFor();
      const result = page.getByTestId('wizard-result');
      // A one-case run can end before the monitor's first sample is drawn: then the result is shown.
      await page.getByTestId('monitor-load').or(result).first().waitFor();
      await result.waitFor({ timeout: 240_000 });
      expect(await result.getByTestId('recipe-table').locator('tbody tr').count()).toBe(2);
      await result.getByTestId('case-latency-chart').waitFor();
      await result.getByTestId('speed-quality-chart').waitFor();
      await result.getByTestId('findings').waitFor();
      const answer = await result.getByTestId('wizard-answer').innerText();
      expect(answer).toMatch(/Recommended: dpm-fast|Keep the baseline/);
      // Apply dpm-fast (the recommendation, or chosen by hand when the baseline was kept): what it
      // changes is said before the click.
      const apply = result.getByTestId('apply-profile');
      if (!/Recommended: dpm-fast/.test(answer)) {
        await apply.getByTestId('profile-recipe').click();
        await page.getByRole('option', { name: /^dpm-fast/ }).click();
      }
      await apply
        .getByTestId('profile-changes')
        .getByText(/scheduler: dpm\+\+2m-karras/)
        .waitFor();
      await shot('wizard-result');
      // At one prompt and the model's 25 steps dpm-fast may fail the quality check; then it is
      // applied knowingly, through the confirmation that shows its numbers.
      if (await apply.getByTestId('save-profile-anyway').isVisible()) {
        await apply.getByTestId('save-profile-anyway').click();
        await page.getByTestId('apply-anyway-numbers').waitFor();
        await page.getByTestId('confirm-apply-anyway').click();
      } else {
        await apply.getByTestId('save-profile').click();
      }
      await apply
        .getByTestId('profile-applied')
        .getByText(/default profile for tiny-shapes/)
        .waitFor();
    },
  );

  it('generates with the applied profile', async () => {
    await show('generate', 'Generate');
    await expect
      .poll(() => page.getByTestId('profile-select').getAttribute('placeholder'))
      .toMatch(/default: tiny-shapes-dpm-fast/);
    await page.getByTestId('generate').click();
    await page
      .getByTestId('generate-note')
      .getByText(/profile "tiny-shapes-dpm-fast" applied/)
      .waitFor({ timeout: 60_000 });
    await shot('generate');
  });

  it(
    'picks the bundled LoRA from the keyboard, takes its card settings, generates with it merged',
    { timeout: 180_000 },
    async () => {
      await show('generate', 'Generate');
      const picker = page.getByTestId('lora-picker');
      // The list arrives with the model: wait until the bundled LoRA can be added.
      const add = picker.getByRole('combobox', { name: 'LoRAs' });
      await expect.poll(() => add.isEnabled()).toBe(true);
      // The step-distilled student's card names its own timestep grid as well.
      await add.focus();
      await page.keyboard.type('tiny-shapes-distill10-cfg');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      const student = picker.getByTestId('lora-tiny-shapes-distill10-cfg');
      await student
        .getByText(
          /the card recommends ddim · 10 steps · guidance 7\.5 · timesteps 961, 921, 881, 841, 761, 681, 561, 401, 241, 81/,
        )
        .waitFor();
      // The button names only what it puts in the form; generate applies the grid itself.
      await student
        .getByRole('button', { name: 'Use the card’s settings (ddim · 10 steps · guidance 7.5)' })
        .waitFor();
      await shot('generate-lora-student');
      await student
        .getByRole('button', { name: 'Remove the LoRA tiny-shapes-distill10-cfg' })
        .click();
      await student.waitFor({ state: 'detached' });
      await add.focus();
      await page.keyboard.type('tiny-shapes-lcm');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      const row = picker.getByTestId('lora-tiny-shapes-lcm');
      await row.getByText(/the card recommends lcm · 4 steps · guidance 1/).waitFor();
      // A scale outside the schema's range is refused before anything runs.
      await row.getByTestId('lora-scale').fill('9');
      await row.getByText('must be between -4 and 4 (1 = as trained)').waitFor();
      expect(await page.getByTestId('generate').isDisabled()).toBe(true);
      // The card's settings in one keypress: scale, scheduler, steps, guidance.
      await row.getByTestId('lora-use-card').focus();
      await page.keyboard.press('Enter');
      expect(await row.getByTestId('lora-scale').inputValue()).toBe('1');
      expect(await page.getByTestId('steps').inputValue()).toBe('4');
      // The form around the picker (other pages, hidden, have their own Scheduler field).
      const form = picker.locator('xpath=..');
      expect(await form.getByLabel('Guidance').inputValue()).toBe('1');
      expect(await form.getByRole('combobox', { name: 'Scheduler' }).inputValue()).toBe('lcm');
      await page.getByTestId('prompt').fill('a red circle on a blue background');
      await page.getByTestId('prompt').press('Control+Enter');
      // The first use merges the LoRA: the status says so instead of sitting at "starting…".
      await page.getByTestId('generate-status').getByText(/LoRA/).waitFor({ timeout: 30_000 });
      await page
        .getByTestId('generate-note')
        .getByText(/LoRA .*tiny-shapes-lcm\.safetensors merged at scale 1/)
        .waitFor({ timeout: 120_000 });
      expect(await page.getByTestId('result-image').getAttribute('src')).toMatch(
        /^data:image\/png;base64,/,
      );
      await page.getByTestId('timings').getByText('4 · lcm · 1').waitFor();
      await shot('generate-lora');
    },
  );

  it('opens a before/after pair in the Gallery, moves the slider, shows the heatmap at 1:1 pixels', async () => {
    await show('gallery', 'Gallery');
    const pair = page.locator('[data-testid^="thumb-b"][data-paired="yes"]').first();
    await pair.waitFor();
    await shot('gallery');
    await pair.click();
    const viewer = page.getByTestId('before-after');
    await viewer.waitFor();
    await page.getByRole('dialog').getByTestId('ssim-badge').waitFor();
    const slider = viewer.getByRole('slider');
    await slider.waitFor();
    expect(await slider.getAttribute('aria-valuenow')).toBe('50');
    // Drag the handle to the left quarter of the image, then nudge it from the keyboard.
    const box = await viewer.getByTestId('compare-slider').boundingBox();
    if (!box) throw new Error('the compare slider has no box');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 4, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect
      .poll(async () => Number(await slider.getAttribute('aria-valuenow')))
      .toBeLessThan(35);
    await shot('gallery-before-after');
    // Zoom: 64x64 pixels at 8:1 is 512 screen pixels wide, scaled nearest-neighbour.
    await viewer.getByTestId('zoom').getByText('8:1').click();
    await expect
      .poll(async () => (await viewer.getByTestId('compare-slider').boundingBox())?.width)
      .toBe(512);
    await viewer.getByTestId('view-toggle').getByText('Difference heatmap').click();
    const heatmap = viewer.getByTestId('heatmap');
    await heatmap.waitFor();
    expect(await heatmap.evaluate((img) => getComputedStyle(img).imageRendering)).toBe('pixelated');
    expect(await heatmap.getAttribute('width')).toBe('512');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  it('compares two benchmark runs side by side in History, with a trend', async () => {
    // A second small run of the same plan, through the API (the web host serves the same studio).
    await studio.handlers.runBenchmark({
      model: 'tiny-shapes',
      recipes: ['baseline', 'dpm-fast'],
      cases: 'auto',
      repeats: 1,
      warmup: 1,
      maxCases: 1,
      priority: 'balance',
      objective: 'latency',
      settings: 'model',
      stack: false,
      interleave: true,
      profileOps: false,
      budgetMinutes: 15,
    });
    await show('history', 'History');
    await page.getByRole('button', { name: 'Refresh' }).click();
    // The wizard's two runs (the cancelled one first) and this one, newest first.
    const picks = page.locator('[data-testid^="pick-run-"]');
    await expect.poll(() => picks.count()).toBe(3);
    await picks.nth(0).check();
    await picks.nth(1).check();
    const compare = page.getByTestId('compare');
    await compare.getByTestId('compare-chart').waitFor();
    expect(await compare.getByTestId('compare-table').locator('tbody tr').count()).toBe(2);
    await compare.getByTestId('compare-cases').waitFor();
    await page.getByTestId('trend').locator('.recharts-line').first().waitFor();
    await page.locator('[data-testid^="open-run-"]').first().click();
    await page.getByTestId('run-detail').waitFor();
    await shot('history');
  });

  it('deletes a run with confirmation, its images too', async () => {
    const before = await studio.handlers.getHistory({ limit: 50 });
    const victim = before.find((r) => r.kind === 'generate' && r.status === 'done');
    if (!victim) throw new Error('no finished generation to delete');
    expect(victim.images.every((p) => existsSync(p))).toBe(true);
    await page.getByTestId(`delete-run-${victim.id}`).click();
    await page.getByTestId('confirm-delete').click();
    await page.getByTestId(`run-row-${victim.id}`).waitFor({ state: 'detached' });
    await page.getByText(`Run #${victim.id} deleted`).waitFor();
    expect(victim.images.some((p) => existsSync(p))).toBe(false);
    const after = await studio.handlers.getHistory({ limit: 50 });
    expect(after.some((r) => r.id === victim.id)).toBe(false);
  });

  it('shows the monitor with the spans where generations and benchmark cases ran', async () => {
    await show('monitor', 'Monitor');
    await page
      .getByTestId('monitor-now')
      .getByText(/system CPU \(all cores\) \d+%/)
      .waitFor({ timeout: 30_000 });
    await page
      .getByTestId('monitor-peak')
      .getByText(/Peak during/)
      .waitFor();
    // Shaded spans from this session's generations and the wizard's run.
    await expect
      .poll(() => page.getByTestId('monitor-load').locator('.recharts-reference-area').count())
      .toBeGreaterThan(0);
    await shot('monitor');
  });

  it('adds a model folder by path from Settings', async () => {
    await show('settings', 'Settings');
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

  it(
    'has no serious or critical accessibility violations on any page, in either theme',
    { timeout: 240_000 },
    async () => {
      const found: string[] = [];
      for (const scheme of ['dark', 'light'] as const) {
        if ((await page.getByTestId('theme-toggle').getAttribute('data-scheme')) !== scheme) {
          await page.getByTestId('theme-toggle').click();
        }
        expect(await page.locator('html').getAttribute('data-mantine-color-scheme')).toBe(scheme);
        for (const [id, heading] of PAGES) {
          await show(id, heading);
          if (id === 'gallery') await visible('gallery').locator('img').first().waitFor();
          if (id === 'history') await visible('history-table').waitFor();
          found.push(...(await axeViolations()).map((v) => `${scheme} ${id}: ${v}`));
          if (scheme === 'light' && id === 'history') await shot('history-light');
        }
      }
      expect(found).toEqual([]);
      // The cancelled generation and benchmark calls are answered 409 (Conflict, code
      // cancelled; their cancels 200), which Chromium logs; nothing else.
      expect(consoleErrors.filter((e) => !/status of 409 \(Conflict\)/.test(e))).toEqual([]);
    },
  );

  it('drives pages and the theme from the keyboard', async () => {
    await page.keyboard.press('Alt+5');
    await page.getByRole('heading', { name: 'History', exact: true }).waitFor();
    await page.keyboard.press('Alt+1');
    await page.getByRole('heading', { name: 'Generate', exact: true }).waitFor();
    const scheme = await page.getByTestId('theme-toggle').getAttribute('data-scheme');
    await page.keyboard.press('Alt+T');
    await expect
      .poll(() => page.getByTestId('theme-toggle').getAttribute('data-scheme'))
      .not.toBe(scheme);
  });
});
