// Runs @doyensec/electronegativity over the app's sources (src/) and fails on any high or medium
// finding that is not explained in .ci/electronegativity-allow.json, and on allow-list entries
// that match nothing any more. Works offline: the tool's release check and translations fetch
// fail quietly. Its CLI does not start with the commander this project has, so its runner is
// called directly.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';

const require = createRequire(import.meta.url);
const run = require('@doyensec/electronegativity/dist/runner.js');
const root = resolve(import.meta.dirname, '..');
const allowList = JSON.parse(
  readFileSync(resolve(root, '.ci/electronegativity-allow.json'), 'utf8'),
);
const electron = JSON.parse(
  readFileSync(resolve(root, 'node_modules/electron/package.json'), 'utf8'),
);

const timer = setTimeout(() => {
  console.error('electronegativity did not finish within 180 s');
  process.exit(2);
}, 180_000);

const result = await run({
  input: resolve(root, 'src'),
  isRelative: true,
  isVerbose: false,
  customScan: [],
  excludeFromScan: [],
  parserPlugins: [],
  electronVersionOverride: electron.version,
});
clearTimeout(timer);

const serious = result.issues.filter((i) => i.severity.value >= 2);
const allowed = (i) => allowList.allow.some((a) => a.id === i.id && a.file === i.file);
const unexplained = serious.filter((i) => !allowed(i));
const stale = allowList.allow.filter(
  (a) => !serious.some((i) => i.id === a.id && i.file === a.file),
);

console.log(
  `electronegativity ${result.atomicChecks} atomic + ${result.globalChecks} global checks over src/ (Electron ${electron.version}): ` +
    `${result.issues.length} findings, ${serious.length} high/medium, ${serious.length - unexplained.length} allow-listed`,
);
for (const i of result.issues)
  console.log(
    `  ${allowed(i) ? 'allowed ' : '        '}${i.severity.name.padEnd(8)} ${i.id} ${i.file}:${i.location.line}`,
  );
if (result.errors.length)
  console.error(`${result.errors.length} files could not be parsed:`, result.errors);
if (unexplained.length)
  console.error(
    `\n${unexplained.length} high/medium finding(s) not in .ci/electronegativity-allow.json: fix them or explain them there.`,
  );
if (stale.length)
  console.error(
    `\nallow-list entries that match nothing now (remove them): ${stale.map((a) => `${a.id} ${a.file}`).join(', ')}`,
  );
process.exit(unexplained.length || stale.length || result.errors.length ? 1 : 0);
