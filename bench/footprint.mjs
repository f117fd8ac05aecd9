#!/usr/bin/env node
// What tern costs on a node, with default settings, as it ships (the compiled binary, run through its
// own shebang so its V8 settings apply): the passthrough pipeline (file → elasticsearch) backfilling a
// Tetragon-like log with `run --once`, against the shared harness's fake Elasticsearch.
//
//   flat    peak RSS for 1,000,000 and 5,000,000 lines (must be within 10 %)
//   slow    peak RSS when Elasticsearch answers every bulk request late, so the sink runs ~10× slower
//           than the input (the test-kit emulator, --fault-delay-ms)
//   files   throughput and peak RSS with the input split into 1, 4 and 16 files read at once
//   sinks   throughput and peak RSS with 1, 2 and 4 Elasticsearch sinks, each to its own fake server
//   ecs     the edge ECS pipeline (file → timestamp → ecs tetragon → elasticsearch), 1,000,000 lines
//
// usage: node bench/footprint.mjs [flat|slow|files|sinks|ecs ...]   (default: all)
// Env: BENCH_TMP (data and run dirs; default /tmp/tern-bench), CGROUP_MI=<n> runs tern inside a cgroup v1
// memory group limited to n MiB (root only; what a pod's memory limit does to V8's heap sizing).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIST, ROOT, TMP, dataFile, startEmulator, startFakeEs, tetragonPipeline, timeTern } from './lib.mjs';

if (!existsSync(BIN_DIST)) {
  console.error('tern is not built: run `pnpm build` first');
  process.exit(2);
}
const which = process.argv.slice(2);
const want = (k) => which.length === 0 || which.includes(k);
const CGROUP_MI = process.env.CGROUP_MI ? Number(process.env.CGROUP_MI) : undefined;

/** `tern run --once` as shipped (the compiled binary through its shebang). */
async function runOnce(p) {
  const r = await timeTern(['run', '--once', '-c', p, '--log-level', 'warn'], { dist: true, cgroupMi: CGROUP_MI });
  return { code: r.code, wall: r.wall, cpu: r.cpu, rss: r.rssMb, err: r.stderr };
}

function split(data, k, dir) {
  if (k === 1) return [data];
  const prefix = join(dir, 'part-');
  spawnSync('split', ['-n', `l/${k}`, '-d', '-a', '2', data, prefix], { stdio: 'inherit' });
  return Array.from({ length: k }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
}

async function measure(name, n, { files = 1, sinks = 1, ecs = false, slowMs } = {}) {
  const dir = join(TMP, `footprint-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const inputs = split(dataFile(n), files, dir);
  const servers = [];
  for (let i = 0; i < sinks; i++) servers.push(slowMs ? await startEmulator(['elasticsearch', '--store', 'count', '--fault-delay-ms', String(slowMs)]) : await startFakeEs());
  const r = await runOnce(tetragonPipeline(dir, inputs, servers.map((s) => s.url), ecs));
  for (const s of servers) await s.stop();
  if (files > 1) rmSync(dir, { recursive: true, force: true });
  if (r.code !== 0) console.error(`!! ${name}: exit ${r.code}\n${r.err.slice(-2000)}`);
  const row = { name, n, files, sinks, ecs, slowMs, code: r.code, eps: Math.round(n / r.wall), cpuUsPerEvent: +((r.cpu * 1e6) / n).toFixed(1), rssMb: +r.rss.toFixed(0) };
  process.stderr.write(`${JSON.stringify(row)}\n`);
  return row;
}

const rows = [];
const mark = CGROUP_MI ? ` (inside a ${CGROUP_MI} MiB memory cgroup)` : '';
if (want('flat')) {
  rows.push(await measure('flat-1M', 1_000_000));
  rows.push(await measure('flat-5M', 5_000_000));
}
if (want('slow')) {
  // The emulator answers each 1,000-document bulk 600 ms late: with 4 requests at once that is at
  // most ~6,700 events/s, about a tenth of what tern reads and sends to a prompt server.
  rows.push(await measure('slow-sink', 500_000, { slowMs: 600 }));
}
if (want('files')) for (const k of [1, 4, 16]) rows.push(await measure(`files-${k}`, 1_000_000, { files: k }));
if (want('sinks')) for (const k of [1, 2, 4]) rows.push(await measure(`sinks-${k}`, 1_000_000, { sinks: k }));
if (want('ecs')) rows.push(await measure('ecs', 1_000_000, { ecs: true }));

console.log(`\ntern ${JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')).version}, node ${process.versions.node}, ${new Date().toISOString()}${mark}\n`);
console.log('| run | lines | files | sinks | exit | events/s | CPU µs/event | peak RSS MB |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.n.toLocaleString('en')} | ${r.files} | ${r.sinks} | ${r.code} | ${r.eps.toLocaleString('en')} | ${r.cpuUsPerEvent} | ${r.rssMb} |`);
const f1 = rows.find((r) => r.name === 'flat-1M');
const f5 = rows.find((r) => r.name === 'flat-5M');
if (f1 && f5) console.log(`\nRSS 5M vs 1M: ${(((f5.rssMb - f1.rssMb) / f1.rssMb) * 100).toFixed(1)} % (target: within 10 %)`);
const slow = rows.find((r) => r.name === 'slow-sink');
if (slow && f1) console.log(`slow sink vs fast: ${(((slow.rssMb - f1.rssMb) / f1.rssMb) * 100).toFixed(1)} % RSS at ${((slow.eps / f1.eps) * 100).toFixed(0)} % of the throughput`);
