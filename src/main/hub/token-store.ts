import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StudioError } from '../../shared/errors';

/**
 * A Hugging Face token entered in the app, kept encrypted by the operating system's keychain through
 * Electron's `safeStorage` (the Electron adapter passes it in as a `SecretCodec`). Never written in
 * plain text, never in the database, never logged; without a codec (CLI, web host) nothing is
 * stored and `HF_TOKEN` is the way. `HF_TOKEN` in the environment always wins.
 */
export interface SecretCodec {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(encrypted: Buffer): string;
}

export type TokenSource = 'env' | 'stored' | 'none';

export class HubTokenStore {
  constructor(
    private readonly home: string,
    private readonly codec?: SecretCodec,
  ) {}

  private get file(): string {
    return join(this.home, 'hf-token.enc');
  }

  get canStore(): boolean {
    return this.codec?.isEncryptionAvailable() ?? false;
  }

  /** The token the Hub calls use: HF_TOKEN, else the stored one. */
  token(): string | undefined {
    const env = process.env.HF_TOKEN?.trim() || process.env.HUGGING_FACE_HUB_TOKEN?.trim();
    if (env) return env;
    if (!this.codec || !this.canStore || !existsSync(this.file)) return undefined;
    try {
      return this.codec.decryptString(readFileSync(this.file));
    } catch {
      return undefined;
    }
  }

  source(): TokenSource {
    if (process.env.HF_TOKEN?.trim() || process.env.HUGGING_FACE_HUB_TOKEN?.trim()) return 'env';
    return this.token() ? 'stored' : 'none';
  }

  /** Stores (or with null, forgets) the token. */
  set(token: string | null): void {
    if (token === null) {
      rmSync(this.file, { force: true });
      return;
    }
    if (!/^hf_[A-Za-z0-9_]{6,}$/.test(token)) {
      throw new StudioError(
        'token: a Hugging Face token starts with "hf_" (create a read token at https://huggingface.co/settings/tokens)',
        'bad-input',
      );
    }
    if (!this.codec || !this.canStore) {
      throw new StudioError(
        'token: this studio has no secure storage (only the desktop app does); set HF_TOKEN in the environment instead',
        'unavailable',
      );
    }
    writeFileSync(this.file, this.codec.encryptString(token), { mode: 0o600 });
  }
}
