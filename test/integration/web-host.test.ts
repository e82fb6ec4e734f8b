import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { METHOD_NAMES } from '../../src/shared/api';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { startWebHost, type WebHost } from '../../src/main/web-host';
import { tempHome } from '../helpers/temp-home';

let home: ReturnType<typeof tempHome>;
let studio: Studio;
let host: WebHost;
let base: string;

beforeAll(async () => {
  home = tempHome();
  const rendererDir = join(home.dir, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  studio = createStudio({ home: home.dir });
  host = await startWebHost({ studio, rendererDir, port: 0 });
  base = `http://127.0.0.1:${host.port}`;
});

afterAll(async () => {
  await host.close();
  await studio.close();
  home.cleanup();
});

const auth = (): Record<string, string> => ({ authorization: `Bearer ${host.token}` });
const post = (method: string, body: unknown, headers: Record<string, string> = auth()) =>
  fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('web host token', () => {
  it('prints a URL that carries the token and binds to 127.0.0.1', () => {
    expect(host.url).toBe(`${base}/?token=${host.token}`);
    expect(host.token.length).toBeGreaterThanOrEqual(32);
  });

  it('answers 401 to the page, assets and API without the token', async () => {
    for (const path of ['/', '/assets/app.js']) expect((await fetch(base + path)).status).toBe(401);
    expect((await post('listModels', {}, {})).status).toBe(401);
    expect((await fetch(`${base}/?token=wrong`)).status).toBe(401);
  });

  it('sets an HttpOnly SameSite=Strict cookie from the URL token, then accepts the cookie', async () => {
    const first = await fetch(host.url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/');
    const cookie = first.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await fetch(`${base}/`, { headers: { cookie: cookie.split(';')[0] } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const asset = await fetch(`${base}/assets/app.js`, {
      headers: { cookie: cookie.split(';')[0] },
    });
    expect(asset.status).toBe(200);
  });

  it('refuses the WebSocket upgrade without the token and accepts it with the token', async () => {
    const attempt = (headers: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${host.port}/api/events`, { headers });
        ws.on('open', () => {
          ws.close();
          resolve('open');
        });
        ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
        ws.on('error', () => resolve('error'));
      });
    expect(await attempt({})).toBe('401');
    expect(await attempt(auth())).toBe('open');
  });
});

describe('web host API', () => {
  it('routes every StudioApi method (a schema-violating body gets 400 naming the field)', async () => {
    for (const method of METHOD_NAMES) {
      const res = await post(method, { notAField: 1 });
      const body = (await res.json()) as { error: string; code: string };
      expect(res.status, method).toBe(400);
      expect(body.code).toBe('bad-input');
      expect(body.error).toContain('notAField');
    }
  });

  it('answers a valid call with the result', async () => {
    const res = await post('getHistory', { limit: 5 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { result: unknown[] }).result).toEqual([]);
  });

  it('names the bad field and the fix', async () => {
    const res = await post('generate', { prompt: 'x', width: 100 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string };
    expect(body.error).toMatch(/^width: must be a multiple of 8/);
  });

  it('answers an oversized body with 413 and a malformed URL escape with 400', async () => {
    const big = await post('getHistory', JSON.stringify({ limit: 1, pad: 'x'.repeat(1_100_000) }));
    expect(big.status).toBe(413);
    const bad = await fetch(`${base}/%E0%A4%A`, { headers: auth() });
    expect(bad.status).toBe(400);
  });

  it('names its cookie by port, so two studios do not overwrite each other', async () => {
    const first = await fetch(host.url, { redirect: 'manual' });
    expect(first.headers.get('set-cookie')).toMatch(
      new RegExp(`^latent_studio_token_${host.port}=`),
    );
  });

  it('rejects malformed JSON, unknown methods and GET', async () => {
    expect((await post('getHistory', '{not json')).status).toBe(400);
    expect((await post('dropTables', {})).status).toBe(404);
    expect((await fetch(`${base}/api/getHistory`, { headers: auth() })).status).toBe(405);
  });

  it('refuses requests from other origins and foreign Host headers', async () => {
    expect(
      (await post('getHistory', {}, { ...auth(), origin: 'http://evil.example' })).status,
    ).toBe(403);
    expect((await post('getHistory', {}, { ...auth(), origin: base })).status).toBe(200);
  });

  it('keeps static paths inside the renderer folder', async () => {
    const res = await fetch(`${base}/..%2f..%2fstudio.db`, { headers: auth() });
    expect([200, 403]).toContain(res.status);
    if (res.status === 200) expect(await res.text()).toContain('<title>t</title>');
  });
});
