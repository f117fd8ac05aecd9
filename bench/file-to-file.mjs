#!/usr/bin/env node
// Benchmark: file → file on a Tetragon-like log (default 1,000,000 lines of ~1.4 KB), with the
// events forwarded unchanged (decoding text: no parse, like syslog-ng's no-parse) and parsed
// (decoding json: every line validated by JSON.parse, original bytes written). Prints events/s,
// MB/s, CPU µs/event and peak RSS, and checks every line arrived.
// usage: node bench/file-to-file.mjs [N=1000000] [ROUNDS=3]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countLines, dataFile, fileSize, TMP, timeTern } from './lib.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const data = dataFile(N);
const mb = fileSize(data) / 1e6;

const rows = [];
for (const decoding of ['text', 'json_lazy', 'json']) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const dir = join(TMP, `f2f-${decoding}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const p = join(dir, 'pipeline.yaml');
    writeFileSync(p, `data_dir: ./state\nsources:\n  in: { type: file, include: ["${data}"], decoding: ${decoding} }\nsinks:\n  out: { type: file, inputs: [in], path: ./out.ndjson, encoding: ${decoding === 'text' ? 'text' : 'json'} }\n`);
    const res = await timeTern(['run', '--once', '-c', p, '--log-level', 'warn']);
    const got = countLines(join(dir, 'out.ndjson'));
    if (res.code !== 0 || got !== N) throw new Error(`run failed: exit ${res.code}, ${got}/${N} lines\n${res.stderr}`);
    runs.push(res);
    process.stderr.write(`${decoding} round ${r + 1}: ${(N / res.wall).toFixed(0)} events/s, RSS ${res.rssMb.toFixed(0)} MB\n`);
  }
  runs.sort((a, b) => a.wall - b.wall);
  const m = runs[Math.floor(runs.length / 2)];
  rows.push({ decoding, eps: N / m.wall, mbs: mb / m.wall, cpuUs: (m.cpu * 1e6) / N, rss: m.rssMb, wall: m.wall });
}
console.log(`| pipeline | events/s | MB/s | CPU µs/event | peak RSS MB | wall s |`);
console.log(`|---|---:|---:|---:|---:|---:|`);
for (const r of rows) console.log(`| file → file, decoding ${r.decoding} | ${r.eps.toFixed(0)} | ${r.mbs.toFixed(0)} | ${r.cpuUs.toFixed(1)} | ${r.rss.toFixed(0)} | ${r.wall.toFixed(2)} |`);
console.log(`\n${N} lines, ${mb.toFixed(0)} MB, median of ${ROUNDS} (whole process: start-up, read, write, exit).`);
