import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { EventPayload, MethodName } from '../../src/shared/api';
import { dispatch } from '../../src/main/services/dispatch';
import { HubModels } from '../../src/main/hub/hub-models';
import { HubService } from '../../src/main/hub/hub-service';
import { useTempStudio } from '../helpers/temp-studio';
import { createStudio } from '../../src/main/services/studio';
import { tempHome } from '../helpers/temp-home';
import {
  FakeHub,
  commitOf,
  filesFromFolder,
  pytorchFiles,
  tinyShapesRepo,
} from '../helpers/fake-hub';

/**
 * Hub downloads through the real code path (`@huggingface/hub` → HF_ENDPOINT) against a local
 * server that speaks the Hub's file API and serves tiny-shapes beside PyTorch files.
 */

const ctx = useTempStudio();
const hub = new FakeHub();
const caches = tempHome('hf-cache-');
let cacheN = 0;
const saved = { ...process.env };
const events: EventPayload<'modelDownloadProgress'>[] = [];

const call = <M extends MethodName>(method: M, input: unknown) =>
  dispatch(ctx.studio.handlers, method, input);
const download = (input: Record<string, unknown>) =>
  dispatch(ctx.studio.handlers, 'downloadModel', input);

const UNET = 'unet/model.onnx';
const VAE = 'vae_decoder/model.onnx';

/** Each test gets its own HF cache, so nothing is reused by accident. */
function freshCache(): string {
  const dir = join(caches.dir, `cache-${++cacheN}`);
  process.env.HF_HUB_CACHE = dir;
  return dir;
}

const repoDir = (cache: string, repo: string) => join(cache, `models--${repo.replace('/', '--')}`);

beforeAll(async () => {
  process.env.HF_ENDPOINT = await hub.start();
  delete process.env.HF_TOKEN;
  delete process.env.HUGGING_FACE_HUB_TOKEN;
  hub.repos.set('test/tiny-shapes', tinyShapesRepo('tiny'));
  for (const name of ['cancel', 'drop', 'corrupt', 'corrupt-twice', 'busy', 'disk'])
    hub.repos.set(`test/${name}`, tinyShapesRepo(name));
  hub.repos.set('test/in-subfolder', {
    sha: commitOf('sub'),
    files: [
      ...filesFromFolder(resolve('resources/models/tiny-shapes'), 'onnx/'),
      ...pytorchFiles(),
      {
        path: 'model_index.json',
        content: readFileSync('resources/models/tiny-shapes/model_index.json'),
        lfs: false,
      },
    ],
  });
  hub.repos.set('test/pytorch-only', {
    sha: commitOf('pt'),
    files: [
      {
        path: 'model_index.json',
        content: readFileSync('resources/models/tiny-shapes/model_index.json'),
        lfs: false,
      },
      ...pytorchFiles(),
    ],
  });
  hub.repos.set('test/gated', { ...tinyShapesRepo('gated'), gated: 'manual' });
  hub.repos.set('test/evil', {
    ...tinyShapesRepo('evil'),
    rawTree: [
      {
        type: 'file',
        path: 'unet/../../../../escaped.onnx',
        size: 10,
        oid: commitOf('x'),
        lfs: { oid: 'a'.repeat(64), size: 10, pointerSize: 134 },
      },
    ],
  });
  ctx.studio.events.subscribe((event, payload) => {
    if (event === 'modelDownloadProgress')
      events.push(payload as EventPayload<'modelDownloadProgress'>);
  });
});

afterAll(async () => {
  await hub.close();
  caches.cleanup();
  for (const k of ['HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_TOKEN']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

beforeEach(() => {
  hub.faults = {};
  delete process.env.HF_TOKEN;
});

describe('Hub downloads', () => {
  it('plans first: the pipeline files, the total size, the PyTorch files left out', async () => {
    freshCache();
    const plan = await call('planModelDownload', { repo: 'test/tiny-shapes' });
    const paths = plan.files.map((f: { path: string }) => f.path);
    expect(paths).toContain(UNET);
    expect(paths).toContain('tokenizer/vocab.json');
    expect(paths.at(-1)).toBe('model_index.json');
    expect(paths.some((p: string) => /safetensors|\.bin$|README|gitattributes/.test(p))).toBe(
      false,
    );
    expect(plan.skipped).toBe(5);
    expect(plan.totalBytes).toBeGreaterThan(10_000_000);
    expect(plan.neededBytes).toBe(plan.totalBytes);
    expect(plan.commit).toBe(commitOf('tiny'));
    expect(plan.fit.verdict).toBe('fits');
  });

  it('downloads into the HF cache layout, registers owner/name, and generates with it', async () => {
    const cache = freshCache();
    events.length = 0;
    const before = hub.log.length;
    const result = await download({ repo: 'test/tiny-shapes', jobId: 'full' });
    expect(result).toMatchObject({ name: 'test/tiny-shapes', family: 'sd1', files: 14 });
    const dir = repoDir(cache, 'test/tiny-shapes');
    expect(readFileSync(join(dir, 'refs', 'main'), 'utf8')).toBe(commitOf('tiny'));
    const pointer = join(dir, 'snapshots', commitOf('tiny'), UNET);
    expect(lstatSync(pointer).isSymbolicLink()).toBe(true);
    const bytes = readFileSync(pointer);
    expect(bytes.equals(readFileSync(join('resources/models/tiny-shapes', UNET)))).toBe(true);
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(existsSync(join(dir, 'blobs', sha))).toBe(true);
    expect(readdirSync(join(dir, 'blobs')).some((f) => f.endsWith('.incomplete'))).toBe(false);
    // PyTorch weights were never asked for.
    const asked = hub.log.slice(before);
    expect(asked.some((l) => /safetensors|pytorch_model/.test(l.url + (l.path ?? '')))).toBe(false);
    // Progress: per file and overall, ending done at the total.
    const mine = events.filter((e) => e.jobId === 'full');
    expect(mine.some((e) => e.phase === 'downloading' && e.file === UNET)).toBe(true);
    const last = mine.at(-1);
    expect(last?.phase).toBe('done');
    expect(last?.bytes).toBe(last?.total);
    const listed = (await call('listModels', {})) as { name: string; source: string }[];
    expect(listed.find((m) => m.name === 'test/tiny-shapes')?.source).toBe('downloaded');
    const image = await call('generate', {
      model: 'test/tiny-shapes',
      prompt: 'a red circle',
      steps: 2,
      seed: 3,
    });
    expect(image).toMatchObject({ model: 'test/tiny-shapes' });
    // A second download reuses every blob and fetches nothing.
    const again = await download({ repo: 'test/tiny-shapes' });
    expect(again).toMatchObject({ downloadedBytes: 0 });
  });

  it('cancels, keeps the partial file, and resumes it with a Range request from where it stopped', async () => {
    const cache = freshCache();
    hub.faults = { slow: { [UNET]: { chunk: 64 * 1024, delayMs: 15 } } };
    const stop = ctx.studio.events.subscribe((event, payload) => {
      const p = payload as EventPayload<'modelDownloadProgress'>;
      if (
        event === 'modelDownloadProgress' &&
        p.jobId === 'c1' &&
        p.file === UNET &&
        p.fileBytes > 1_000_000
      )
        void call('cancelModelDownload', { jobId: 'c1' });
    });
    await expect(download({ repo: 'test/cancel', jobId: 'c1' })).rejects.toThrow(/cancelled/);
    stop();
    const blobs = join(repoDir(cache, 'test/cancel'), 'blobs');
    const partial = readdirSync(blobs).find((f) => f.endsWith('.incomplete'));
    expect(partial).toBeDefined();
    const stoppedAt = statSync(join(blobs, partial ?? '')).size;
    expect(stoppedAt).toBeGreaterThan(1_000_000);
    expect(stoppedAt).toBeLessThan(6_239_651);
    // Nothing half-downloaded is a model.
    await expect(call('generate', { model: 'test/cancel', prompt: 'x' })).rejects.toThrow(
      /unknown model/,
    );
    const plan = await call('planModelDownload', { repo: 'test/cancel' });
    expect(
      (plan as { files: { path: string; partialBytes: number }[] }).files.find(
        (f) => f.path === UNET,
      )?.partialBytes,
    ).toBe(stoppedAt);
    hub.faults = {};
    const before = hub.log.length;
    await download({ repo: 'test/cancel', jobId: 'c2' });
    const ranges = hub.log
      .slice(before)
      .filter((l) => l.path === UNET && l.range && l.range !== 'bytes=0-0');
    expect(ranges.map((l) => l.range)).toEqual([`bytes=${stoppedAt}-6239650`]);
  });

  it('survives a connection dropped mid-file: resumes from the bytes it has', async () => {
    freshCache();
    hub.faults = { drop: { [UNET]: { afterBytes: 2_000_000, times: 1 } } };
    const before = hub.log.length;
    const result = await download({ repo: 'test/drop' });
    expect(result).toMatchObject({ name: 'test/drop' });
    const resumed = hub.log
      .slice(before)
      .filter((l) => l.path === UNET && l.range && l.range !== 'bytes=0-0');
    expect(resumed).toHaveLength(1);
    const start = Number(/^bytes=(\d+)-/.exec(resumed[0]?.range ?? '')?.[1]);
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThanOrEqual(2_000_000);
  });

  it('refuses a corrupted byte (sha256 mismatch) and fetches the file again', async () => {
    const cache = freshCache();
    hub.faults = { corrupt: { [VAE]: { times: 1 } } };
    const before = hub.log.length;
    await download({ repo: 'test/corrupt' });
    const fetches = hub.log
      .slice(before)
      .filter((l) => l.path === VAE && l.url.startsWith('/cdn/') && l.range !== 'bytes=0-0');
    expect(fetches).toHaveLength(2);
    const snap = join(repoDir(cache, 'test/corrupt'), 'snapshots', commitOf('corrupt'), VAE);
    expect(readFileSync(snap).equals(readFileSync(join('resources/models/tiny-shapes', VAE)))).toBe(
      true,
    );
  });

  it('gives up on a file that is corrupt every time, and registers nothing', async () => {
    const cache = freshCache();
    hub.faults = { corrupt: { [VAE]: { times: 5 } } };
    await expect(download({ repo: 'test/corrupt-twice' })).rejects.toThrow(
      /does not match the Hub's LFS sha256/,
    );
    const dir = repoDir(cache, 'test/corrupt-twice');
    const vaeSha = createHash('sha256')
      .update(readFileSync(join('resources/models/tiny-shapes', VAE)))
      .digest('hex');
    expect(existsSync(join(dir, 'blobs', vaeSha))).toBe(false);
    expect(existsSync(join(dir, 'snapshots', commitOf('corrupt-twice'), 'model_index.json'))).toBe(
      false,
    );
    const listed = (await call('listModels', {})) as { name: string }[];
    expect(listed.map((m) => m.name)).not.toContain('test/corrupt-twice');
  });

  it('refuses a repo without an ONNX pipeline before writing a byte, and points at a subfolder', async () => {
    const cache = freshCache();
    await expect(download({ repo: 'test/pytorch-only' })).rejects.toThrow(
      /no ONNX Stable Diffusion pipeline at the repo root/,
    );
    await expect(download({ repo: 'test/in-subfolder' })).rejects.toThrow(/add --subfolder onnx/);
    expect(existsSync(cache)).toBe(false);
    const r = await download({ repo: 'test/in-subfolder', subfolder: 'onnx' });
    expect(r).toMatchObject({ name: 'test/in-subfolder', family: 'sd1' });
    expect(r.path.endsWith(join(commitOf('sub'), 'onnx'))).toBe(true);
  });

  it('says a gated repo needs its licence accepted and a token (401 / 403)', async () => {
    freshCache();
    await expect(download({ repo: 'test/gated' })).rejects.toThrow(
      /is gated: accept its licence .* set HF_TOKEN/,
    );
    process.env.HF_TOKEN = 'hf_not_accepted';
    await expect(download({ repo: 'test/gated' })).rejects.toThrow(
      /test\/gated is gated: its licence must be accepted .* the token in HF_TOKEN does not give access/,
    );
    process.env.HF_TOKEN = 'hf_accepted';
    await expect(download({ repo: 'test/gated' })).resolves.toMatchObject({ name: 'test/gated' });
    expect(hub.log.some((l) => l.auth === 'Bearer hf_accepted')).toBe(true);
  });

  it('uses a token stored by the app (encrypted) for a gated repo', async () => {
    freshCache();
    const secrets = {
      isEncryptionAvailable: () => true,
      encryptString: (t: string) => Buffer.from(t).reverse(),
      decryptString: (b: Buffer) => Buffer.from(b).reverse().toString(),
    };
    const appHome = tempHome();
    const app = createStudio({ home: appHome.dir, secrets });
    try {
      const status = await dispatch(app.handlers, 'setHubToken', { token: 'hf_accepted' });
      expect(status).toEqual({ source: 'stored', canStore: true });
      const r = await dispatch(app.handlers, 'downloadModel', { repo: 'test/gated' });
      expect(r.name).toBe('test/gated');
      await expect(call('setHubToken', { token: 'hf_accepted' })).rejects.toThrow(
        /no secure storage/,
      );
    } finally {
      await app.close();
      appHome.cleanup();
    }
  });

  it('names unknown repos and revisions', async () => {
    freshCache();
    await expect(download({ repo: 'test/nope' })).rejects.toThrow(/test\/nope: no such repo/);
    await expect(download({ repo: 'test/tiny-shapes@v9' })).rejects.toThrow(
      /revision "v9" does not exist/,
    );
  });

  it('checks free disk first and names the size needed', async () => {
    const cache = freshCache();
    const service = new HubService({
      home: ctx.home,
      models: new HubModels(ctx.home),
      hardware: async () => ({
        memory: { totalMb: 16384, availableMb: 8000 },
        gpus: [],
        providers: [],
      }),
      emit: () => {},
      freeBytes: async () => 1_000_000,
    });
    await expect(service.download({ repo: 'test/disk' })).rejects.toThrow(
      /not enough disk space in .*: test\/disk needs 1\d\.\d MiB more, and 1\.0 MiB is free/,
    );
    expect(existsSync(repoDir(cache, 'test/disk'))).toBe(false);
  });

  it('runs one download per repo at a time', async () => {
    freshCache();
    hub.faults = { slow: { [UNET]: { chunk: 256 * 1024, delayMs: 10 } } };
    const first = download({ repo: 'test/busy', jobId: 'b1' });
    await new Promise((r) => setTimeout(r, 50));
    await expect(download({ repo: 'test/busy', jobId: 'b2' })).rejects.toThrow(
      /already downloading \(job b1\)/,
    );
    await expect(first).resolves.toMatchObject({ name: 'test/busy' });
  });

  it('refuses repo ids, revisions and subfolders with path tricks before any request', async () => {
    freshCache();
    const before = hub.log.length;
    for (const repo of [
      '../etc/passwd',
      '/etc/passwd',
      'owner/..',
      'owner/%2e%2e',
      '%2e%2e/x',
      'owner/name/../../x',
      'owner--x/name',
      'C:\\x/y',
    ]) {
      await expect(download({ repo }), repo).rejects.toThrow(/^repo: /);
    }
    await expect(download({ repo: 'test/tiny-shapes@../../x' })).rejects.toThrow(/^revision: /);
    await expect(download({ repo: 'test/tiny-shapes', subfolder: '../x' })).rejects.toThrow(
      /^subfolder: /,
    );
    await expect(download({ repo: 'test/tiny-shapes', subfolder: '/abs' })).rejects.toThrow(
      /^subfolder: /,
    );
    expect(hub.log.length).toBe(before);
  });

  it('refuses a file list with a name that would escape the cache folder', async () => {
    const cache = freshCache();
    await expect(download({ repo: 'test/evil' })).rejects.toThrow(
      /would escape the cache folder; refusing the whole repo/,
    );
    expect(existsSync(cache)).toBe(false);
  });

  it('finds an ONNX pipeline that another tool put in the HF cache, and generates with it', async () => {
    const cache = freshCache();
    // The layout huggingface_hub writes: blobs, relative links in a snapshot, refs/main.
    const commit = commitOf('python');
    const dir = join(cache, 'models--someone--shapes-onnx');
    const snap = join(dir, 'snapshots', commit);
    for (const f of filesFromFolder(resolve('resources/models/tiny-shapes'))) {
      const sha = createHash('sha256').update(f.content).digest('hex');
      mkdirSync(join(dir, 'blobs'), { recursive: true });
      writeFileSync(join(dir, 'blobs', sha), f.content);
      const link = join(snap, f.path);
      mkdirSync(join(link, '..'), { recursive: true });
      const depth = f.path.split('/').length + 1;
      symlinkSync(`${'../'.repeat(depth)}blobs/${sha}`, link);
    }
    mkdirSync(join(dir, 'refs'), { recursive: true });
    writeFileSync(join(dir, 'refs', 'main'), commit);
    // A half-downloaded one beside it (no model_index.json yet) is not offered.
    const half = join(cache, 'models--someone--half', 'snapshots', commitOf('half'));
    cpSync(resolve('resources/models/tiny-shapes/unet'), join(half, 'unet'), { recursive: true });
    mkdirSync(join(cache, 'models--someone--half', 'refs'), { recursive: true });
    writeFileSync(join(cache, 'models--someone--half', 'refs', 'main'), commitOf('half'));

    const listed = (await call('listModels', {})) as {
      name: string;
      source: string;
      commit?: string;
    }[];
    expect(listed.find((m) => m.name === 'someone/shapes-onnx')).toMatchObject({
      source: 'hf-cache',
      commit,
    });
    expect(listed.map((m) => m.name)).not.toContain('someone/half');
    const image = await call('generate', {
      model: 'someone/shapes-onnx',
      prompt: 'a blue square',
      steps: 2,
      seed: 1,
    });
    expect(image).toMatchObject({ model: 'someone/shapes-onnx' });
    await expect(call('deleteModel', { name: 'someone/shapes-onnx' })).rejects.toThrow(
      /another tool/,
    );
  });

  it('deletes a downloaded model (blobs, snapshot, refs) but never a folder registered by path', async () => {
    const cache = freshCache();
    await download({ repo: 'test/tiny-shapes' });
    const r = (await call('deleteModel', { name: 'test/tiny-shapes' })) as { freedBytes: number };
    expect(r.freedBytes).toBeGreaterThan(10_000_000);
    expect(existsSync(repoDir(cache, 'test/tiny-shapes'))).toBe(false);
    const listed = (await call('listModels', {})) as { name: string }[];
    expect(listed.map((m) => m.name)).not.toContain('test/tiny-shapes');
    await call('registerModel', { path: resolve('test/fixtures/models/lcm'), name: 'by-path' });
    await expect(call('deleteModel', { name: 'by-path' })).rejects.toThrow(/registered by path/);
    await expect(call('deleteModel', { name: 'tiny-shapes' })).rejects.toThrow(/ships with/);
    expect(existsSync(resolve('test/fixtures/models/lcm/unet/model.onnx'))).toBe(true);
  });
});
