import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function ortVersion(): string {
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

export function appVersion(): string {
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return process.env.npm_package_version ?? '0.0.0';
  }
}
