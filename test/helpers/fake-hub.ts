import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, resolve } from 'node:path';

/**
 * A local stand-in for the Hugging Face Hub's file API, as `@huggingface/hub` (and Python's
 * huggingface_hub) call it:
 * - `GET /api/models/{repo}/revision/{rev}` — model info with `sha` and `gated`;
 * - `GET /api/models/{repo}/tree/{rev}?recursive=true` — the listing, with `oid` and `lfs`;
 * - `GET|HEAD /{repo}/resolve/{rev}/{path}` — small files served directly (ETag = git blob id), LFS
 *   files redirected (302) to `/cdn/{sha256}` with `X-Linked-Size` / `X-Linked-ETag`;
 * - `GET|HEAD /cdn/{sha256}` — the bytes, with HTTP Range (206 + Content-Range);
 * - errors as the Hub sends them: 401/403 + `X-Error-Code: GatedRepo`, 404 + `RepoNotFound`,
 *   `RevisionNotFound`, `EntryNotFound`.
 * Every request is logged; `faults` make a file slow, drop the connection mid-file, or corrupt a byte.
 */

export interface FakeFile {
  path: string;
  content: Buffer;
  lfs: boolean;
}

export interface FakeRepo {
  sha: string;
  gated?: 'manual' | false;
  files: FakeFile[];
  /** Extra listing entries served as they are (hostile names). */
  rawTree?: unknown[];
}

export interface Faults {
  /** Bytes per chunk and the pause between chunks, per repo path. */
  slow?: Record<string, { chunk: number; delayMs: number }>;
  /** Destroy the socket after this many body bytes, the next `times` requests for the path. */
  drop?: Record<string, { afterBytes: number; times: number }>;
  /** Flip one byte in the body, the next `times` requests for the path. */
  corrupt?: Record<string, { times: number }>;
}

export interface LoggedRequest {
  method: string;
  url: string;
  path?: string;
  range?: string;
  auth?: string;
}

const gitOid = (content: Buffer): string =>
  createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
const sha256 = (content: Buffer): string => createHash('sha256').update(content).digest('hex');

export const commitOf = (seed: string): string => createHash('sha1').update(seed).digest('hex');

/** Reads a model folder into repo files; `.onnx` (and anything over 100 kB) are LFS files. */
export function filesFromFolder(dir: string, prefix = ''): FakeFile[] {
  const out: FakeFile[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const content = readFileSync(p);
        out.push({
          path: `${prefix}${relative(dir, p).split('\\').join('/')}`,
          content,
          lfs: name.endsWith('.onnx') || content.length > 100_000,
        });
      }
    }
  };
  walk(dir);
  return out;
}

/** PyTorch weights beside the ONNX files: a download must never fetch them. */
export function pytorchFiles(prefix = ''): FakeFile[] {
  return [
    {
      path: `${prefix}unet/diffusion_pytorch_model.safetensors`,
      content: randomBytes(300_000),
      lfs: true,
    },
    { path: `${prefix}text_encoder/pytorch_model.bin`, content: randomBytes(200_000), lfs: true },
    {
      path: `${prefix}vae/diffusion_pytorch_model.safetensors`,
      content: randomBytes(150_000),
      lfs: true,
    },
  ];
}

export function tinyShapesRepo(seed: string, extra: FakeFile[] = pytorchFiles()): FakeRepo {
  return {
    sha: commitOf(seed),
    files: [
      ...filesFromFolder(resolve('resources/models/tiny-shapes')),
      ...extra,
      { path: '.gitattributes', content: Buffer.from('*.onnx filter=lfs\n'), lfs: false },
    ],
  };
}

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly log: LoggedRequest[] = [];
  faults: Faults = {};
  /** Tokens that have accepted the licence of gated repos. */
  readonly acceptedTokens = new Set<string>(['hf_accepted']);
  private server: Server | undefined;
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  /** Requests that fetched bytes of a repo file (the resolve endpoint, any method but the probes). */
  fetched(path: string): LoggedRequest[] {
    return this.log.filter((l) => l.path === path && l.method === 'GET');
  }

  private error(res: ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'X-Error-Code': code,
      'X-Error-Message': message,
    });
    res.end(JSON.stringify({ error: message }));
  }

  private findRepo(owner: string, name: string, res: ServerResponse): FakeRepo | undefined {
    const repo = this.repos.get(`${owner}/${name}`);
    if (!repo) this.error(res, 401, 'RepoNotFound', 'Repository not found');
    return repo;
  }

  private revisionOk(repo: FakeRepo, rev: string, res: ServerResponse): boolean {
    if (rev === 'main' || rev === repo.sha) return true;
    this.error(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
    return false;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const logged: LoggedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '',
      range: req.headers.range,
      auth: req.headers.authorization,
    };
    this.log.push(logged);
    // /api/models/{owner}/{name}/revision/{rev}
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'revision') {
      const repo = this.findRepo(parts[2] ?? '', parts[3] ?? '', res);
      if (!repo || !this.revisionOk(repo, parts[5] ?? '', res)) return;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          _id: commitOf(`${parts[2]}/${parts[3]}`).slice(0, 24),
          id: `${parts[2]}/${parts[3]}`,
          sha: repo.sha,
          private: false,
          gated: repo.gated ?? false,
          downloads: 0,
          likes: 0,
          lastModified: '2025-01-01T00:00:00.000Z',
          siblings: repo.files.map((f) => ({ rfilename: f.path })),
        }),
      );
      return;
    }
    // /api/models/{owner}/{name}/tree/{rev}
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'tree') {
      const repo = this.findRepo(parts[2] ?? '', parts[3] ?? '', res);
      if (!repo || !this.revisionOk(repo, parts[5] ?? '', res)) return;
      const dirs = new Set<string>();
      for (const f of repo.files) {
        const segs = f.path.split('/');
        for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
      }
      const entries: unknown[] = [
        ...[...dirs].map((d) => ({ type: 'directory', oid: commitOf(d), size: 0, path: d })),
        ...repo.files.map((f) => ({
          type: 'file',
          oid: gitOid(f.lfs ? Buffer.from(`pointer ${sha256(f.content)}`) : f.content),
          size: f.lfs ? 134 : f.content.length,
          path: f.path,
          ...(f.lfs
            ? { lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: 134 } }
            : {}),
        })),
        ...(repo.rawTree ?? []),
      ];
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(entries));
      return;
    }
    // /{owner}/{name}/resolve/{rev}/{path...}
    if (parts[2] === 'resolve') {
      const repo = this.findRepo(parts[0] ?? '', parts[1] ?? '', res);
      if (!repo || !this.revisionOk(repo, parts[3] ?? '', res)) return;
      const path = parts.slice(4).join('/');
      logged.path = path;
      if (repo.gated) {
        const token = req.headers.authorization?.replace(/^Bearer /, '');
        if (!token) {
          this.error(
            res,
            401,
            'GatedRepo',
            'Access to this model is restricted. You must be authenticated.',
          );
          return;
        }
        if (!this.acceptedTokens.has(token)) {
          this.error(
            res,
            403,
            'GatedRepo',
            'Access to this model is restricted: accept the conditions first.',
          );
          return;
        }
      }
      const file = repo.files.find((f) => f.path === path);
      if (!file) {
        this.error(res, 404, 'EntryNotFound', `${path} does not exist`);
        return;
      }
      const common = { 'X-Repo-Commit': repo.sha, 'Accept-Ranges': 'bytes' };
      if (file.lfs) {
        const oid = sha256(file.content);
        res.writeHead(302, {
          ...common,
          Location: `/cdn/${oid}?path=${encodeURIComponent(path)}`,
          'X-Linked-Size': String(file.content.length),
          'X-Linked-ETag': `"${oid}"`,
          ETag: `"${gitOid(Buffer.from(`pointer ${oid}`))}"`,
        });
        res.end();
        return;
      }
      await this.send(req, res, file, { ...common, ETag: `"${gitOid(file.content)}"` });
      return;
    }
    if (parts[0] === 'cdn') {
      const path = url.searchParams.get('path') ?? '';
      logged.path = path;
      for (const repo of this.repos.values()) {
        const file = repo.files.find((f) => f.lfs && sha256(f.content) === parts[1]);
        if (file) {
          await this.send(req, res, file, {
            ETag: `"${sha256(file.content)}"`,
            'Accept-Ranges': 'bytes',
          });
          return;
        }
      }
      res.writeHead(404);
      res.end();
      return;
    }
    this.error(res, 404, 'RepoNotFound', `no route ${url.pathname}`);
  }

  private async send(
    req: IncomingMessage,
    res: ServerResponse,
    file: FakeFile,
    headers: Record<string, string>,
  ): Promise<void> {
    const size = file.content.length;
    let start = 0;
    let end = size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` });
        res.end();
        return;
      }
    }
    const status = range ? 206 : 200;
    res.writeHead(status, {
      ...headers,
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(end - start + 1),
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    let body = file.content.subarray(start, end + 1);
    const isProbe = start === 0 && end === 0;
    const corrupt = this.faults.corrupt?.[file.path];
    if (corrupt && corrupt.times > 0 && !isProbe && body.length > 10) {
      corrupt.times -= 1;
      body = Buffer.from(body);
      body[Math.floor(body.length / 2)] ^= 0xff;
    }
    const drop = this.faults.drop?.[file.path];
    let limit = body.length;
    let dropping = false;
    if (drop && drop.times > 0 && !isProbe && body.length > drop.afterBytes) {
      drop.times -= 1;
      limit = drop.afterBytes;
      dropping = true;
    }
    const slow = this.faults.slow?.[file.path];
    const chunk = isProbe ? body.length : (slow?.chunk ?? 256 * 1024);
    for (let off = 0; off < limit; off += chunk) {
      if (res.destroyed) return;
      const piece = body.subarray(off, Math.min(off + chunk, limit));
      const ok = res.write(piece);
      if (!ok) await new Promise((r) => res.once('drain', r));
      if (slow && !isProbe) await new Promise((r) => setTimeout(r, slow.delayMs));
    }
    if (dropping) {
      // Let the bytes written so far reach the client, then cut the connection mid-file.
      await new Promise((r) => setTimeout(r, 50));
      res.socket?.destroy();
      return;
    }
    res.end();
  }
}
