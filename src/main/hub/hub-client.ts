import { downloadFile, HubApiError, listFiles, modelInfo } from '@huggingface/hub';
import { z } from 'zod';
import { StudioError, describeZodError } from '../../shared/errors';
import { TreeEntrySchema, type TreeEntry } from './pipeline-files';

/**
 * The studio's only door to the Hugging Face Hub: `@huggingface/hub`'s own functions (model info,
 * tree listing, resolve + ranged reads, Xet when the Hub serves it), pointed at `HF_ENDPOINT`, with
 * `HF_TOKEN`, an abort signal on every request, every JSON answer validated by zod, and the Hub's
 * errors turned into sentences (a gated repo says which licence and which token).
 */

export function hubEndpoint(): string {
  return (process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

export function hubToken(): string | undefined {
  const t = process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
  return t && t.trim() !== '' ? t.trim() : undefined;
}

const RepoInfoSchema = z
  .object({
    sha: z.string().regex(/^[0-9a-f]{40}$/, 'must be a commit id'),
    gated: z.union([z.literal(false), z.enum(['auto', 'manual'])]).default(false),
    private: z.boolean().default(false),
  })
  .loose();
export type RepoInfo = z.infer<typeof RepoInfoSchema>;

interface FailedRequest {
  url: string;
  status: number;
  code: string | null;
  message: string | null;
}

export class HubClient {
  readonly endpoint: string;
  private readonly token: string | undefined;
  private lastFailure: FailedRequest | undefined;

  constructor(
    private readonly signal?: AbortSignal,
    options: { endpoint?: string; token?: string } = {},
  ) {
    this.endpoint = options.endpoint ?? hubEndpoint();
    this.token = options.token ?? hubToken();
    if (this.token && !this.token.startsWith('hf_')) {
      throw new StudioError(
        'HF_TOKEN does not look like a Hugging Face token (they start with "hf_"); create one at https://huggingface.co/settings/tokens',
        'bad-input',
      );
    }
  }

  /** fetch with the job's abort signal; remembers the Hub's error code of a failed answer. */
  readonly fetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, { ...init, signal: this.signal });
    if (!response.ok) {
      this.lastFailure = {
        url: response.url || String(input),
        status: response.status,
        code: response.headers.get('x-error-code'),
        message: response.headers.get('x-error-message'),
      };
    }
    return response;
  };

  private get params(): { hubUrl: string; accessToken?: string; fetch: typeof fetch } {
    return {
      hubUrl: this.endpoint,
      fetch: this.fetch,
      ...(this.token ? { accessToken: this.token } : {}),
    };
  }

  async repoInfo(repo: string, revision: string): Promise<RepoInfo> {
    const info = await this.call(repo, revision, () =>
      modelInfo({ name: repo, revision, additionalFields: ['sha'], ...this.params }),
    );
    return this.validate(RepoInfoSchema, info, `${repo}: the Hub's model info`);
  }

  async listTree(repo: string, commit: string): Promise<TreeEntry[]> {
    const entries: TreeEntry[] = [];
    await this.call(repo, commit, async () => {
      for await (const entry of listFiles({
        repo: { type: 'model', name: repo },
        revision: commit,
        recursive: true,
        ...this.params,
      })) {
        entries.push(this.validate(TreeEntrySchema, entry, `${repo}: the Hub's file listing`));
        if (entries.length > 100_000)
          throw new StudioError(`${repo}: more than 100000 files listed`, 'bad-input');
      }
    });
    return entries;
  }

  /** A Blob over the file (ranged reads; Xet when the Hub serves it). */
  async fileBlob(repo: string, commit: string, path: string): Promise<Blob> {
    const blob = await this.call(repo, commit, () =>
      downloadFile({ repo: { type: 'model', name: repo }, revision: commit, path, ...this.params }),
    );
    if (!blob) {
      throw new StudioError(
        `${repo}: ${path} is listed but the Hub does not serve it`,
        'not-found',
      );
    }
    return blob;
  }

  private validate<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new StudioError(
        `${what} is not what the studio expects (${describeZodError(parsed.error, 'answer')}); is HF_ENDPOINT (${this.endpoint}) a Hugging Face Hub?`,
        'unavailable',
      );
    }
    return parsed.data;
  }

  /** Runs one Hub call and turns its failure into a message a person can act on. */
  async call<T>(repo: string, revision: string, fn: () => Promise<T>): Promise<T> {
    this.lastFailure = undefined;
    try {
      return await fn();
    } catch (error) {
      throw this.explain(error, repo, revision);
    }
  }

  explain(error: unknown, repo: string, revision: string): Error {
    if (error instanceof StudioError) return error;
    if (this.signal?.aborted) return new StudioError(`${repo}: download cancelled`, 'cancelled');
    const failure = this.lastFailure;
    const status = error instanceof HubApiError ? error.statusCode : failure?.status;
    const code = failure?.code ?? '';
    const tokenHint = this.token
      ? 'the token in HF_TOKEN does not give access to it'
      : 'no token is set (HF_TOKEN)';
    if (code === 'GatedRepo' || ((status === 401 || status === 403) && code !== 'RepoNotFound')) {
      return new StudioError(
        `${repo} is gated: its licence must be accepted on ${this.endpoint}/${repo} while signed in, and the studio needs a read token from that account (set HF_TOKEN); ${tokenHint}`,
        'unavailable',
      );
    }
    if (code === 'RevisionNotFound') {
      return new StudioError(
        `${repo}: revision "${revision}" does not exist; use a branch, tag or commit of the repo`,
        'not-found',
      );
    }
    if (code === 'RepoNotFound' || status === 404) {
      return new StudioError(
        `${repo}: no such repo on ${this.endpoint} (or it is private and ${tokenHint})`,
        'not-found',
      );
    }
    if (status !== undefined) {
      return new StudioError(
        `${repo}: the Hub answered ${status}${failure?.message ? ` (${failure.message})` : ''}; try again later`,
        'unavailable',
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    return new StudioError(
      `${repo}: could not reach ${this.endpoint} (${reason}); check the connection or HF_ENDPOINT`,
      'unavailable',
    );
  }
}
