import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream';
import { extname, join, normalize, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { isMethodName } from '../shared/api';
import { StudioError } from '../shared/errors';
import { dispatch, errorPayload } from './services/dispatch';
import type { Studio } from './services/studio';
import { folderPolicy, readAllowedFolders } from './path-consent';

const MAX_BODY_BYTES = 1 << 20;
/** How long a refused connection stays open for the client to read the 413 before it is reset. */
const LINGER_MS = 2000;
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};
const STATUS_BY_CODE: Record<string, number> = {
  'bad-input': 400,
  'not-found': 404,
  // The call that was cancelled (generate, runBenchmark, downloadModel, ...; the cancel itself is a
  // 200 `{cancelled: true}`): a standard status a script can branch on, with `code: 'cancelled'`
  // in the body, which is what the renderer reads to say "Cancelled" instead of an error. Not 499:
  // nginx's non-standard "client closed the request" says the caller hung up, and here it is
  // still listening while another request stopped its job.
  cancelled: 409,
  unavailable: 503,
  failed: 500,
};

export interface WebHost {
  url: string;
  port: number;
  token: string;
  server: Server;
  close(): Promise<void>;
}

export interface WebHostOptions {
  studio: Studio;
  rendererDir: string;
  port?: number;
  token?: string;
  /**
   * Folders whose paths API calls may name (model folders, outputs, test-set and LoRA files).
   * Default: those allowed for this studio home (`npm run web -- --allow-folder DIR`), read on
   * every call.
   */
  allowedFolders?: readonly string[];
}

/** The page's CSP: nothing remote, scripts only from this origin, images also as data: URLs. */
const csp = (port: number): string =>
  [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Cookies are not scoped by port: naming ours by port keeps two studios (or two launches) apart. */
const cookieName = (port: number): string => `latent_studio_token_${port}`;

function cookieToken(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(text);
}

/**
 * Reads a request body up to MAX_BODY_BYTES. A larger one is refused as soon as the limit is
 * passed (or at once, from its Content-Length): the rest is never read, and the connection is
 * closed after the 413.
 */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): StudioError =>
      new StudioError(`request body is over ${MAX_BODY_BYTES} bytes`, 'too-large');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) return reject(tooLarge());
    let size = 0;
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Serves the built renderer and the StudioApi over HTTP + WebSocket on 127.0.0.1 only. Every request
 * (page, asset, API, WebSocket upgrade) needs the per-launch token: in the printed URL on first
 * load, then an HttpOnly SameSite=Strict cookie (Jupyter's scheme), or an Authorization: Bearer
 * header for scripts. Host and Origin must be this server's own, which stops DNS rebinding and
 * cross-site requests.
 */
export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const { studio, rendererDir } = options;
  const token = options.token ?? randomBytes(24).toString('hex');
  let port = 0;

  const ownOrigins = (): string[] => [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  const hostAllowed = (req: IncomingMessage): boolean =>
    [`127.0.0.1:${port}`, `localhost:${port}`].includes(req.headers.host ?? '');
  const originAllowed = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    return origin === undefined || ownOrigins().includes(origin);
  };
  const authorized = (req: IncomingMessage, url: URL): 'cookie' | 'query' | 'header' | null => {
    if (sameToken(cookieToken(req, cookieName(port)), token)) return 'cookie';
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && sameToken(auth.slice(7), token)) return 'header';
    if (sameToken(url.searchParams.get('token') ?? undefined, token)) return 'query';
    return null;
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, errorPayload(error));
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // On every response, pages, assets, API answers and refusals alike.
    res.setHeader('content-security-policy', csp(port));
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('x-content-type-options', 'nosniff');
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (!hostAllowed(req))
      return sendJson(res, 403, { error: 'Host header not allowed', code: 'forbidden' });
    if (!originAllowed(req))
      return sendJson(res, 403, { error: 'cross-origin request refused', code: 'forbidden' });
    const auth = authorized(req, url);
    if (!auth) {
      return sendJson(res, 401, {
        error:
          'missing or wrong token: open the URL that `npm run web` printed (it ends in ?token=...)',
        code: 'unauthorized',
      });
    }
    if (auth === 'query') {
      res.setHeader(
        'set-cookie',
        `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`,
      );
    }
    if (url.pathname.startsWith('/api/')) return handleApi(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: `${req.method} is not allowed here`, code: 'bad-input' });
    }
    if (auth === 'query') {
      // Drop the token from the address bar once the cookie carries it.
      url.searchParams.delete('token');
      res.writeHead(303, { location: url.pathname + url.search });
      return void res.end();
    }
    return serveStatic(res, url.pathname);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = url.pathname.slice('/api/'.length);
    if (!isMethodName(method)) {
      return sendJson(res, 404, { error: `unknown API method "${method}"`, code: 'not-found' });
    }
    if (req.method !== 'POST') {
      return sendJson(res, 405, {
        error: 'API calls are POST with a JSON body',
        code: 'bad-input',
      });
    }
    let input: unknown;
    try {
      const text = await readBody(req);
      input = text.trim() === '' ? undefined : JSON.parse(text);
    } catch (error) {
      if (error instanceof StudioError && error.code === 'too-large') {
        res.setHeader('connection', 'close');
        // The unread rest of the body is dropped with the connection, but not at once: closing a
        // socket with unread input sends a TCP reset, and a reset that reaches the client before
        // it has read the 413 throws the reply away. So the reply and a FIN go out first, reading
        // stays paused (the client's sends stall in its own buffers), and the socket is destroyed
        // after a grace period ("lingering close", as Apache and nginx do it).
        const socket = req.socket;
        res.once('finish', () => {
          socket.end();
          setTimeout(() => socket.destroy(), LINGER_MS).unref();
        });
        return sendJson(res, 413, { error: error.message, code: 'bad-input' });
      }
      return sendJson(res, 400, { error: 'body is not valid JSON', code: 'bad-input' });
    }
    try {
      // Paths in the input must lie under a folder the person allowed for the web studio.
      const folders = options.allowedFolders ?? readAllowedFolders(studio.home);
      const result = await dispatch(studio.handlers, method, input, {
        paths: folderPolicy(folders),
      });
      sendJson(res, 200, { result });
    } catch (error) {
      const payload = errorPayload(error);
      sendJson(res, STATUS_BY_CODE[payload.code] ?? 500, payload);
    }
  }

  function serveStatic(res: ServerResponse, pathname: string): void {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return sendJson(res, 400, { error: 'malformed URL escape', code: 'bad-input' });
    }
    if (!existsSync(rendererDir)) {
      return sendJson(res, 503, {
        error: `the renderer is not built (${rendererDir} is missing): run npm run build:renderer`,
        code: 'unavailable',
      });
    }
    // Symlinks resolved first: a link inside the folder that points out of it is refused.
    const root = normalize(realpathSync(rendererDir) + sep);
    let file = normalize(join(root, decoded));
    if (!file.startsWith(root))
      return sendJson(res, 403, { error: 'path outside the app', code: 'forbidden' });
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(root, 'index.html');
    if (!existsSync(file)) {
      return sendJson(res, 503, {
        error: `the renderer is not built (${file} is missing): run npm run build:renderer`,
        code: 'unavailable',
      });
    }
    const real = realpathSync(file);
    if (!real.startsWith(root))
      return sendJson(res, 403, { error: 'path outside the app', code: 'forbidden' });
    const type = MIME[extname(real)] ?? 'application/octet-stream';
    const headers: Record<string, string> = { 'content-type': type };
    if (type.startsWith('text/html')) headers['cache-control'] = 'no-store';
    res.writeHead(200, headers);
    // A file removed mid-read (a renderer rebuild) ends this response, not the host.
    pipeline(createReadStream(real), res, () => {});
  }

  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (
      url.pathname !== '/api/events' ||
      !hostAllowed(req) ||
      !originAllowed(req) ||
      !authorized(req, url)
    ) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
    });
  });
  const unsubscribe = studio.events.subscribe((event, payload) => {
    const text = JSON.stringify({ event, payload });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/?token=${token}`;

  return {
    url,
    port,
    token,
    server,
    async close() {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
