#!/usr/bin/env node
// Benchmark: tern's memory under every kind of destination trouble, with default settings. tern reads
// a Tetragon-like log (file source) into the Elasticsearch sink, against the test-kit emulator in its
// own process (count mode), for a fixed time, and its RSS is sampled every 250 ms. The bound that must
// hold is the in-flight budget (shared path) plus each sink's buffer, whatever the destination does:
// - healthy: the emulator answers at once (the run ends when everything is delivered);
// - slow: every bulk request is answered 200 ms late;
// - retrying: every bulk request is answered 503 (the sink retries with backoff, forever);
// - down: nothing listens on the port (connection refused, healthcheck failing);
// - down + disk buffer: the same with `buffer: { type: disk }` (events go to disk, the source keeps reading).
// tern runs as shipped: the compiled binary through its shebang (`pnpm build` first).
// usage: node bench/fault-memory.mjs [SECONDS=25] [N=1000000] [NODE_OPTIONS for tern, e.g. --max-old-space-size=256]
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIST, dataFile, freePort, IMAGE_NODE_OPTIONS, rssOf, startEmulator, TMP } from './lib.mjs';

const SECONDS = Number(process.argv[2] ?? 25);
const N = Number(process.argv[3] ?? 1_000_000);
const NODE_OPTIONS = process.argv[4] ?? IMAGE_NODE_OPTIONS; // as the container image runs tern
const TOP = process.env.TERN_TOP ?? '';
const ONLY = process.env.ONLY;
const data = dataFile(N);


const variants = [
  { name: 'healthy', emulator: [] },
  { name: 'slow (200 ms per bulk)', emulator: ['--fault-delay-ms', '200'] },
  { name: 'retrying (503 on every bulk)', emulator: ['--fault-status', '503'] },
  { name: 'down (connection refused)', emulator: null },
  { name: 'down + disk buffer', emulator: null, buffer: '    buffer: { type: disk }\n' },
];

const rows = [];
for (const v of variants.filter((x) => ONLY === undefined || x.name.startsWith(ONLY))) {
  const emu = v.emulator ? await startEmulator(['elasticsearch', '--store', 'count', ...v.emulator]) : undefined;
  const url = emu?.url ?? `http://127.0.0.1:${await freePort()}`;
  const dir = join(TMP, 'fault-memory');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const p = join(dir, 'pipeline.yaml');
  writeFileSync(p, `data_dir: ./state\n${TOP}\nsources:\n  in: { type: file, include: ["${data}"] }\nsinks:\n  es:\n    type: elasticsearch\n    inputs: [in]\n    endpoints: ["${url}"]\n    mode: index\n    index: tetragon\n${v.buffer ?? ''}`);
  const t0 = Date.now();
  const tern = spawn(BIN_DIST, ['run', '-c', p, '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS } });
  let peak = 0;
  let last = 0;
  const sampler = setInterval(() => {
    last = rssOf(tern.pid) || last;
    peak = Math.max(peak, last);
  }, 250);
  const exited = new Promise((r) => tern.on('close', r));
  await Promise.race([exited, new Promise((r) => setTimeout(r, SECONDS * 1000))]);
  clearInterval(sampler);
  tern.kill('SIGTERM');
  await exited;
  const stats = emu ? await emu.stop() : undefined;
  const row = { variant: v.name, seconds: Math.round((Date.now() - t0) / 100) / 10, peak_rss_mb: Math.round(peak), end_rss_mb: Math.round(last), stored: stats?.documents ?? stats?.items ?? stats?.count ?? 0 };
  rows.push(row);
  process.stderr.write(`${JSON.stringify(row)}\n`);
}
console.log(`\nfile → elasticsearch, default settings, ${N} lines, ${SECONDS} s per variant${NODE_OPTIONS ? `, NODE_OPTIONS=${NODE_OPTIONS}` : ''}\n`);
console.log('| destination | peak RSS MB | RSS at the end MB |');
console.log('|---|---:|---:|');
for (const r of rows) console.log(`| ${r.variant} | ${r.peak_rss_mb} | ${r.end_rss_mb} |`);
