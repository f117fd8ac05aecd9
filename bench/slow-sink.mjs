#!/usr/bin/env node
// Benchmark: memory stays flat when the output is 10x slower than the input.
// tern reads a 1,000,000-line Tetragon-like log (file source, decoding json) and writes it to
// stdout, which a reader drains at one tenth of tern's unthrottled file → file rate. tern's RSS is
// sampled every second; the in-flight bound (in_flight.max_bytes) is what must cap it.
// Run it as is, and with NODE_OPTIONS=--max-old-space-size=160 to see the bound without V8's lazy growth.
// usage: node bench/slow-sink.mjs [SECONDS=40] [INPUT_EPS=100000]
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, dataFile, ROOT, rssOf, TMP } from './lib.mjs';

const SECONDS = Number(process.argv[2] ?? 40);
const INPUT_EPS = Number(process.argv[3] ?? 100_000);
const data = dataFile(1_000_000);
const dir = join(TMP, 'slow');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const p = join(dir, 'pipeline.yaml');
writeFileSync(p, `data_dir: ./state\nin_flight: { max_events: 20000, max_bytes: 16777216 }\nsources:\n  in: { type: file, include: ["${data}"], decoding: json }\nsinks:\n  out: { type: console, inputs: [in] }\n`);
const bytesPerEvent = 1350;
const rate = Math.round((INPUT_EPS / 10) * bytesPerEvent);
const reader = spawn(process.execPath, [join(ROOT, 'bench/slow-reader.mjs'), String(rate)], { stdio: ['pipe', 'ignore', 'inherit'] });
const tern = spawn(process.execPath, ['--conditions=tern-src', BIN, 'run', '-c', p, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
tern.stdout.pipe(reader.stdin);
const samples = [];
const t0 = Date.now();
const timer = setInterval(() => {
  const s = Math.round((Date.now() - t0) / 1000);
  let offset = 0;
  try {
    offset = Object.values(JSON.parse(readFileSync(join(dir, 'state/checkpoints/in.json'), 'utf8')).files)[0]?.offset ?? 0;
  } catch {}
  samples.push({ s, rss: rssOf(tern.pid), ackedMb: offset / 1e6 });
}, 1000);
await new Promise((r) => setTimeout(r, SECONDS * 1000));
clearInterval(timer);
tern.kill('SIGTERM');
const code = await new Promise((r) => tern.on('close', r));
reader.kill('SIGTERM');
console.log(`| t (s) | tern RSS MB | acknowledged MB |`);
console.log(`|---:|---:|---:|`);
for (const x of samples.filter((x, i) => i % 5 === 4)) console.log(`| ${x.s} | ${x.rss.toFixed(0)} | ${x.ackedMb.toFixed(1)} |`);
const late = samples.slice(Math.floor(samples.length / 4));
const rss = late.map((x) => x.rss);
console.log(`\noutput drained at ${(rate / 1e6).toFixed(1)} MB/s (~${INPUT_EPS / 10} events/s); RSS after warm-up: min ${Math.min(...rss).toFixed(0)} MB, max ${Math.max(...rss).toFixed(0)} MB; tern exit code after SIGTERM: ${code}`);
