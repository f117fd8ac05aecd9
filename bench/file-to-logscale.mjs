#!/usr/bin/env node
// Benchmark: file → logscale (structured ingest, gzip, default batching) on a Tetragon-like log
// (default 1,000,000 lines of ~1.4 KB) against the LogScale emulator in its own process. Prints
// events/s, MB/s, tern's CPU µs/event and peak RSS, the emulator's CPU seconds and RSS, and checks
// that every line arrived. Variants: the default; json_lazy decoding (no parse at the source: the
// timestamp is read from the line, which goes out as it is); rawstring + event_id (the line sent
// twice, plus a hash per event).
// The emulator has no count-only mode: it parses and keeps every event in memory (about 3 KB per
// event), so N=1,000,000 needs a few GB of RAM; use N=200000 on a small machine.
// usage: node bench/file-to-logscale.mjs [N=1000000] [ROUNDS=1]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataFile, fileSize, startEmulator, TMP, timeTern } from './lib.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 1);
const data = dataFile(N);
const mb = fileSize(data) / 1e6;

const variants = [
  { name: 'structured', extra: '', decoding: 'json' },
  { name: 'structured, decoding json_lazy', extra: '', decoding: 'json_lazy' },
  { name: 'structured, rawstring + event_id', extra: '\n    rawstring: true\n    event_id: true', decoding: 'json' },
];
const rows = [];
for (const v of variants) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const emu = await startEmulator(['logscale', '--token', 'bench-token:bench']);
    const dir = join(TMP, 'f2ls');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const p = join(dir, 'pipeline.yaml');
    writeFileSync(
      p,
      `data_dir: ./state\nsources:\n  in: { type: file, include: ["${data}"], decoding: ${v.decoding} }\nsinks:\n  out:\n    type: logscale\n    inputs: [in]\n    endpoint: "${emu.url}"\n    token: bench-token\n    tags: { source: tetragon, node: "{{@host}}" }${v.extra}\n`,
    );
    const res = await timeTern(['run', '--once', '-c', p, '--log-level', 'warn']);
    const stats = await emu.stop();
    if (res.code !== 0 || stats.events !== N) throw new Error(`run failed: exit ${res.code}, ${stats.events}/${N} events\n${res.stderr}`);
    runs.push({ ...res, emuCpu: stats.cpu_s, emuRss: stats.peak_rss_mb, requests: stats.ingestRequests });
    process.stderr.write(`${v.name} round ${r + 1}: ${(N / res.wall).toFixed(0)} events/s, tern RSS ${res.rssMb.toFixed(0)} MB, emulator CPU ${stats.cpu_s.toFixed(1)} s\n`);
  }
  runs.sort((a, b) => a.wall - b.wall);
  const m = runs[Math.floor(runs.length / 2)];
  rows.push({ name: v.name, eps: N / m.wall, mbs: mb / m.wall, cpuUs: (m.cpu * 1e6) / N, rss: m.rssMb, wall: m.wall, emuCpu: m.emuCpu, emuRss: m.emuRss, requests: m.requests });
}
console.log(`| pipeline | events/s | MB/s | tern CPU µs/event | tern peak RSS MB | emulator CPU s | emulator peak RSS MB | requests | wall s |`);
console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const r of rows) {
  console.log(`| file → logscale, ${r.name} | ${r.eps.toFixed(0)} | ${r.mbs.toFixed(1)} | ${r.cpuUs.toFixed(1)} | ${r.rss.toFixed(0)} | ${r.emuCpu.toFixed(1)} | ${r.emuRss.toFixed(0)} | ${r.requests} | ${r.wall.toFixed(2)} |`);
}
console.log(`\n${N} lines, ${mb.toFixed(0)} MB, median of ${ROUNDS}; emulator in its own process (full store, no count mode).`);
