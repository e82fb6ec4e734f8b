// better-sqlite3 is a V8-API addon: it is built either for Node (CLI, web host, tests) or for
// Electron (npm start), never both at once in one node_modules. This marker records which build is
// installed so each entry point can switch it when needed, instead of failing with
// NODE_MODULE_VERSION errors. (onnxruntime-node is N-API and works in both unchanged.)
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const marker = join(root, 'node_modules', '.latent-studio-native-abi');

export function installedAbi() {
  return existsSync(marker) ? readFileSync(marker, 'utf8').trim() : 'node';
}

export function ensureAbi(target) {
  if (installedAbi() === target) return;
  console.error(`Rebuilding better-sqlite3 for ${target} (it was built for ${installedAbi()})...`);
  const command =
    target === 'electron' ? 'npx electron-builder install-app-deps' : 'npm rebuild better-sqlite3';
  execSync(command, { cwd: root, stdio: 'inherit' });
  writeFileSync(marker, `${target}\n`);
}

if (process.argv[1] === import.meta.filename) ensureAbi(process.argv[2] ?? 'node');
