import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, requireChromium } from '../helpers/chromium';
import { tempHome } from '../helpers/temp-home';

/**
 * The packaged app loads the renderer from file://, where no response header carries a CSP: the
 * policy must come from the page itself. This loads the built renderer from file:// in Debian's
 * Chromium and shows that an inline script and a remote image are refused, and that the same
 * page with its <meta> policy removed runs both (so the test can tell the difference).
 */
const rendererDir = resolve('out/renderer');

let browser: Browser;
let home: ReturnType<typeof tempHome>;

beforeAll(async () => {
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error(
      'out/renderer is not built: run `npm run build:renderer` (npm test does it first)',
    );
  }
  requireChromium();
  home = tempHome();
  // A copy of the build, and beside it the same page without its <meta> policy.
  cpSync(rendererDir, join(home.dir, 'renderer'), { recursive: true });
  const html = readFileSync(join(rendererDir, 'index.html'), 'utf8');
  const withoutMeta = html.replace(/<meta\s+http-equiv="Content-Security-Policy"[^>]*>/s, '');
  if (withoutMeta === html) throw new Error('the built index.html has no CSP <meta> tag');
  writeFileSync(join(home.dir, 'renderer', 'no-csp.html'), withoutMeta);
  copyFileSync(join(rendererDir, 'index.html'), join(home.dir, 'renderer', 'index.html'));
  browser = await launchChromium([
    // Electron lets file:// pages load their own module scripts; plain Chromium needs this flag.
    '--allow-file-access-from-files',
  ]);
});

afterAll(async () => {
  await browser?.close();
  home?.cleanup();
});

interface Probe {
  inlineRan: boolean;
  remoteImageLoaded: boolean;
  violations: { directive: string; blocked: string }[];
}

/** Opens a page from file:// and tries an inline script and a remote image in it. */
async function probe(file: string): Promise<{ result: Probe; page: Page; requests: string[] }> {
  const page = await browser.newPage();
  // How each request to the remote address ended: the network error Chromium reports.
  const requests: string[] = [];
  page.on('requestfailed', (r) => requests.push(`${r.url()} ${r.failure()?.errorText ?? ''}`));
  // Collect every CSP violation from the first byte on.
  await page.addInitScript(() => {
    const w = window as unknown as { __violations: { directive: string; blocked: string }[] };
    w.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      w.__violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI }),
    );
  });
  await page.goto(pathToFileURL(join(home.dir, 'renderer', file)).href);
  const result = await page.evaluate(async () => {
    const w = window as unknown as {
      __violations: { directive: string; blocked: string }[];
      __inlineRan?: boolean;
    };
    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = true;';
    document.body.appendChild(script);
    const img = document.createElement('img');
    // Loopback on a closed port: nothing leaves the machine, and "loaded" can only mean allowed.
    img.src = 'http://127.0.0.1:9/remote.png';
    const settled = new Promise<boolean>((resolve) => {
      img.onload = () => resolve(true);
      img.onerror = () => resolve(false);
    });
    document.body.appendChild(img);
    const remoteImageLoaded = await settled;
    await new Promise((r) => setTimeout(r, 100));
    return { inlineRan: w.__inlineRan === true, remoteImageLoaded, violations: w.__violations };
  });
  return { result, page, requests };
}

describe('renderer CSP on file://', () => {
  it('blocks an inline script and a remote image', async () => {
    const { result, page, requests } = await probe('index.html');
    expect(result.inlineRan).toBe(false);
    expect(result.remoteImageLoaded).toBe(false);
    const directives = result.violations.map((v) => v.directive);
    expect(directives).toContain('script-src-elem');
    expect(directives).toContain('img-src');
    // Refused by the policy before it reached the network.
    expect(requests.filter((u) => u.startsWith('http://127.0.0.1:9/'))).toEqual([
      'http://127.0.0.1:9/remote.png csp',
    ]);
    // The app's own bundle is allowed ('self' on file://): it mounted the studio's shell.
    expect(result.violations.filter((v) => v.blocked.startsWith('file:'))).toEqual([]);
    await page.waitForFunction(() => (document.getElementById('root')?.children.length ?? 0) > 0, {
      timeout: 30_000,
    });
    await page.close();
  });

  it('without the <meta> policy the same page runs both (the check can fail)', async () => {
    const { result, page, requests } = await probe('no-csp.html');
    expect(result.inlineRan).toBe(true);
    expect(result.violations).toEqual([]);
    const remote = requests.filter((u) => u.startsWith('http://127.0.0.1:9/'));
    expect(remote).toHaveLength(1);
    expect(remote[0]).not.toMatch(/ csp$/);
    await page.close();
  });
});
