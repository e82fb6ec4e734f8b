import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HubTokenStore, type SecretCodec } from './token-store';
import { tempHome } from '../../../test/helpers/temp-home';

/** Stands in for Electron's safeStorage: reversible, and never the plain text on disk. */
const codec: SecretCodec = {
  isEncryptionAvailable: () => true,
  encryptString: (s) => Buffer.from(Buffer.from(s).map((b) => b ^ 0x5a)),
  decryptString: (b) => Buffer.from(b.map((x) => x ^ 0x5a)).toString(),
};

const home = tempHome();
const saved = process.env.HF_TOKEN;
afterEach(() => {
  if (saved === undefined) delete process.env.HF_TOKEN;
  else process.env.HF_TOKEN = saved;
});

describe('the Hub token store', () => {
  it('keeps a token only encrypted, and HF_TOKEN wins over it', () => {
    delete process.env.HF_TOKEN;
    const store = new HubTokenStore(home.dir, codec);
    expect(store.source()).toBe('none');
    store.set('hf_abcdefghijklmnop');
    expect(readFileSync(join(home.dir, 'hf-token.enc')).toString()).not.toContain('hf_abc');
    expect(store.token()).toBe('hf_abcdefghijklmnop');
    expect(store.source()).toBe('stored');
    process.env.HF_TOKEN = 'hf_fromtheenvironment';
    expect(store.token()).toBe('hf_fromtheenvironment');
    expect(store.source()).toBe('env');
    delete process.env.HF_TOKEN;
    store.set(null);
    expect(store.token()).toBeUndefined();
  });

  it('refuses to store without secure storage, and refuses what is not a token', () => {
    delete process.env.HF_TOKEN;
    expect(() => new HubTokenStore(home.dir).set('hf_abcdefghijklmnop')).toThrow(
      /no secure storage .* set HF_TOKEN/,
    );
    expect(() => new HubTokenStore(home.dir, codec).set('password123')).toThrow(
      /starts with "hf_"/,
    );
    expect(new HubTokenStore(home.dir).token()).toBeUndefined();
  });
});
