#!/usr/bin/env node
// Runs every package's tests with Node's test runner, straight from the TypeScript sources
// (Node >= 22.18 strips types; `--conditions=tern-src` makes workspace packages resolve to src/).
// One stuck test cannot hang CI (--test-timeout), nor can a file that never exits (the whole run is
// killed after 15 minutes). --test-force-exit is not used: it ends files before their later tests ran,
// silently.
// usage: node scripts/test.mjs [path-filter ...]
import { spawnSync } from 'node:child_process';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`tern needs Node >= 22.18 (this is ${process.versions.node}); see README, "Try it".`);
  process.exit(1);
}
// Imported after the check: Node 20 has no fs.globSync, and a static import would fail before it.
const { globSync } = await import('node:fs');
const filters = process.argv.slice(2);
let files = globSync('packages/*/test/**/*.test.ts').sort();
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
const r = spawnSync(process.execPath, ['--conditions=tern-src', '--test', '--test-concurrency=2', '--test-timeout=180000', '--test-reporter=spec', ...files], { stdio: 'inherit', timeout: 15 * 60_000, killSignal: 'SIGKILL' });
if (r.error) console.error(`test run aborted: ${r.error.message}`);
process.exit(r.status ?? 1);
