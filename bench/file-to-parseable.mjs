#!/usr/bin/env node
// Benchmark: file → parseable (/api/v1/ingest, gzip, default batching) on a Tetragon-like log
// (default 1,000,000 lines of ~1.4 KB) against the Parseable emulator in its own process. Prints
// events/s, MB/s, tern's CPU µs/event and peak RSS, the emulator's CPU seconds and RSS, and checks
// that every line arrived as one row. Variants: the default (array values sent as JSON strings:
// ~10% of these lines, the kprobe events, are parsed and re-serialised; the rest go as their
// original bytes, joined into the JSON array) and explode_arrays: true (every line as is; the
// emulator then explodes kprobe args into one row per element, so rows > N), which measures what
// the rewrite costs tern.
// The emulator has no count-only mode: it flattens and keeps every row in memory, so N=1,000,000
// needs a few GB of RAM; use N=200000 on a small machine.
// usage: node bench/file-to-parseable.mjs [N=1000000] [ROUNDS=1]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataFile, fileSize, startEmulator, TMP, timeTern } from './lib.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 1);
const data = dataFile(N);
const mb = fileSize(data) / 1e6;

const variants = [
  { name: 'arrays as JSON strings (default)', extra: '', exact: true },
  { name: 'explode_arrays: true', extra: '\n    explode_arrays: true', exact: false },
];
const rows = [];
for (const v of variants) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const emu = await startEmulator(['parseable', '--user', 'bench:bench-password']);
    const dir = join(TMP, 'f2pb');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const p = join(dir, 'pipeline.yaml');
    writeFileSync(
      p,
      `data_dir: ./state\nsources:\n  in: { type: file, include: ["${data}"] }\nsinks:\n  out:\n    type: parseable\n    inputs: [in]\n    endpoint: "${emu.url}"\n    stream: tetragon\n    username: bench\n    password: bench-password${v.extra}\n`,
    );
    const res = await timeTern(['run', '--once', '-c', p, '--log-level', 'warn']);
    const stats = await emu.stop();
    const rowsStored = stats.streams?.tetragon ?? 0;
    if (res.code !== 0 || (v.exact ? rowsStored !== N : rowsStored < N)) throw new Error(`run failed: exit ${res.code}, ${rowsStored} rows for ${N} lines\n${res.stderr}`);
    runs.push({ ...res, emuCpu: stats.cpu_s, emuRss: stats.peak_rss_mb, requests: stats.ingestRequests, rows: rowsStored });
    process.stderr.write(`${v.name} round ${r + 1}: ${(N / res.wall).toFixed(0)} events/s, tern RSS ${res.rssMb.toFixed(0)} MB, emulator CPU ${stats.cpu_s.toFixed(1)} s\n`);
  }
  runs.sort((a, b) => a.wall - b.wall);
  const m = runs[Math.floor(runs.length / 2)];
  rows.push({ name: v.name, eps: N / m.wall, mbs: mb / m.wall, cpuUs: (m.cpu * 1e6) / N, rss: m.rssMb, wall: m.wall, emuCpu: m.emuCpu, emuRss: m.emuRss, requests: m.requests, rows: m.rows });
}
console.log(`| pipeline | events/s | MB/s | tern CPU µs/event | tern peak RSS MB | emulator CPU s | emulator peak RSS MB | requests | rows | wall s |`);
console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const r of rows) {
  console.log(`| file → parseable, ${r.name} | ${r.eps.toFixed(0)} | ${r.mbs.toFixed(1)} | ${r.cpuUs.toFixed(1)} | ${r.rss.toFixed(0)} | ${r.emuCpu.toFixed(1)} | ${r.emuRss.toFixed(0)} | ${r.requests} | ${r.rows} | ${r.wall.toFixed(2)} |`);
}
console.log(`\n${N} lines, ${mb.toFixed(0)} MB, median of ${ROUNDS}; emulator in its own process (full store, no count mode).`);
