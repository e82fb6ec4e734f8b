import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { startWebHost, type WebHost } from '../../src/main/web-host';
import { allowFolder } from '../../src/main/path-consent';
import { tempHome } from '../helpers/temp-home';

/**
 * The web host's extras: security headers on every response, symlinks resolved before a file is
 * served (renderer assets, images), an oversized body cut off at the limit, and paths only under
 * the folders the person allowed.
 */
let home: ReturnType<typeof tempHome>;
let outside: ReturnType<typeof tempHome>;
let studio: Studio;
let host: WebHost;
let base: string;
const fixtures = resolve('test/fixtures/models');

beforeAll(async () => {
  home = tempHome();
  outside = tempHome('latent-studio-outside-');
  const rendererDir = join(home.dir, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(outside.dir, 'secret.txt'), 'secret');
  symlinkSync(join(outside.dir, 'secret.txt'), join(rendererDir, 'assets', 'link.js'));
  studio = createStudio({ home: home.dir });
  allowFolder(home.dir, fixtures);
  host = await startWebHost({ studio, rendererDir, port: 0 });
  base = `http://127.0.0.1:${host.port}`;
});

afterAll(async () => {
  await host.close();
  await studio.close();
  home.cleanup();
  outside.cleanup();
});

const auth = (): Record<string, string> => ({ authorization: `Bearer ${host.token}` });
const post = (method: string, body: unknown) =>
  fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth() },
    body: JSON.stringify(body),
  });

describe('web host hardening', () => {
  it('sends CSP, Referrer-Policy and nosniff on every response', async () => {
    const responses = [
      await fetch(`${base}/`, { headers: auth() }),
      await fetch(`${base}/`), // 401
      await post('getHistory', {}),
      await post('noSuchMethod', {}), // 404
      await post('getHistory', { limit: 0 }), // 400
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 200, 404, 400]);
    for (const r of responses) {
      expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(r.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('refuses a symlink in the renderer folder that points outside it', async () => {
    const res = await fetch(`${base}/assets/link.js`, { headers: auth() });
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain('secret');
  });

  it('refuses an image symlink under images/ that points outside the data folder', async () => {
    const png = join(outside.dir, 'x.png');
    copyFileSync(resolve('docs/screenshots/generate.png'), png);
    const link = join(home.dir, 'images', 'link.png');
    symlinkSync(png, link);
    const res = await post('readImage', { path: link });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^path: only PNG files under/);
  });

  it('stops reading an oversized body at the limit and closes the connection', async () => {
    // 64 MiB announced as chunked (no Content-Length), sent as fast as the socket takes it.
    const { status, sent } = await new Promise<{ status: string; sent: number }>((done) => {
      const socket = connect(host.port, '127.0.0.1');
      let sent = 0;
      let reply = '';
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const finish = (): void => done({ status: reply.split('\r\n')[0] ?? '', sent });
      socket.on('data', (d) => (reply += d.toString()));
      socket.on('close', finish);
      socket.on('error', () => {});
      socket.on('connect', () => {
        socket.write(
          `POST /api/getHistory HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nAuthorization: Bearer ${host.token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
        );
        const pump = (): void => {
          while (sent < 64 * 2 ** 20 && !socket.destroyed) {
            sent += chunk.length;
            const more = socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
            if (!more) return void socket.once('drain', pump);
          }
        };
        pump();
      });
    });
    expect(status).toBe('HTTP/1.1 413 Payload Too Large');
    // Cut off long before the 64 MiB: the limit (1 MiB) plus what the socket buffers held.
    expect(sent).toBeLessThan(16 * 2 ** 20);
  });

  it('refuses an oversized Content-Length before reading anything', async () => {
    const res = await fetch(`${base}/api/getHistory`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth() },
      body: JSON.stringify({ pad: 'x'.repeat(2 * 2 ** 20) }),
    }).catch((e: unknown) => e);
    if (res instanceof Response) expect(res.status).toBe(413);
    else expect(String(res)).toMatch(/fetch failed|socket|ECONNRESET|EPIPE/);
  });

  it('takes paths only under the allowed folders, symlinks resolved', async () => {
    const inside = await post('registerModel', { path: join(fixtures, 'sd15-optimum-float') });
    expect(inside.status).toBe(200);
    const out = await post('registerModel', { path: outside.dir });
    expect(out.status).toBe(400);
    expect(((await out.json()) as { error: string }).error).toMatch(
      /^path: .* is outside the folders allowed for the web studio .*--allow-folder/,
    );
    // A link inside an allowed folder that leads out of it is outside.
    const linkDir = tempHome('latent-studio-allowed-');
    try {
      allowFolder(home.dir, linkDir.dir);
      symlinkSync(outside.dir, join(linkDir.dir, 'escape'));
      const escaped = await post('registerModel', { path: join(linkDir.dir, 'escape') });
      expect(escaped.status).toBe(400);
      expect(((await escaped.json()) as { error: string }).error).toMatch(/^path: .* is outside/);
      const relative = await post('optimizeModel', { recipe: 'graph-all', out: 'models/x' });
      expect(((await relative.json()) as { error: string }).error).toMatch(
        /^out: give an absolute path/,
      );
      const cases = await post('runBenchmark', { cases: '/etc/passwd' });
      expect(((await cases.json()) as { error: string }).error).toMatch(/^cases: .* is outside/);
      const lora = await post('generate', { loras: [{ path: '/etc/passwd' }] });
      expect(((await lora.json()) as { error: string }).error).toMatch(
        /^loras\.0\.path: .* is outside/,
      );
      const model = await post('generate', { model: '/etc' });
      expect(((await model.json()) as { error: string }).error).toMatch(/^model: .* is outside/);
      const unc = await post('registerModel', { path: '\\\\attacker.example\\share\\m' });
      expect(unc.status).toBe(400);
      expect(((await unc.json()) as { error: string }).error).toMatch(
        /^path: .* is a network \(UNC\) or device path/,
      );
    } finally {
      linkDir.cleanup();
    }
  });

  it('gates checkFit.model and listLoras.model: a model outside the allowed folders is not read', async () => {
    const model = join(outside.dir, 'model');
    cpSync(join(fixtures, 'sd15-diffusers-script'), model, { recursive: true });
    for (const method of ['checkFit', 'listLoras']) {
      for (const value of [model, join(outside.dir, 'missing')]) {
        const res = await post(method, { model: value });
        const body = (await res.json()) as { error?: string };
        expect([method, res.status]).toEqual([method, 400]);
        expect(body.error).toMatch(/^model: .* is outside the folders allowed/);
      }
    }
    // A known model name needs no consent.
    expect((await post('checkFit', { model: 'tiny-shapes' })).status).toBe(200);
  });

  it('validates before it gates: a deeply nested body is a 400 naming the field, not a 500', async () => {
    const depth = 400_000;
    const body = `{"model":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(body.length).toBeLessThan(2 ** 20);
    for (const method of ['generate', 'optimizeModel', 'runBenchmark']) {
      const res = await fetch(`${base}/api/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth() },
        body,
      });
      const payload = (await res.json()) as { error: string; code: string };
      expect([method, res.status, payload.code]).toEqual([method, 400, 'bad-input']);
      expect(payload.error).toMatch(/^model: /);
    }
  });

  it('never lets optimizeModel replace an allowed folder itself (force or not)', async () => {
    const allowed = tempHome('latent-studio-allowed-root-');
    try {
      allowFolder(home.dir, allowed.dir);
      const source = join(allowed.dir, 'sd15');
      cpSync(join(fixtures, 'sd15-diffusers-script'), source, { recursive: true });
      writeFileSync(join(allowed.dir, 'notes.txt'), 'mine');
      const res = await post('optimizeModel', {
        model: source,
        recipe: 'int8',
        out: allowed.dir,
        force: true,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(
        /^out: .* is an allowed folder itself; .*a new folder inside it/,
      );
      expect(existsSync(join(source, 'unet', 'model.onnx'))).toBe(true);
      expect(existsSync(join(allowed.dir, 'notes.txt'))).toBe(true);
      expect(existsSync(`${allowed.dir}.partial`)).toBe(false);
    } finally {
      allowed.cleanup();
    }
  });
});
