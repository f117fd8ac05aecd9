#!/usr/bin/env node
// Benchmark: CPU that tern spends watching quiet files. Starts tern on FILES files that never
// change (each holding a few lines, read at start-up), lets it settle, then reads utime+stime of the
// process from /proc/<pid>/stat over SECONDS and reports CPU % and CPU ms per second. Two
// configurations: the defaults (files stay open; one fstat per file per poll_interval_ms, a scan per
// glob_interval_ms) and close_inactive_ms: 2000 (handles closed; only the scan's stat per file).
// tern runs as the container image runs it (the compiled binary, the image's NODE_OPTIONS; `pnpm build` first).
// usage: node bench/idle-cpu.mjs [FILES=50] [SECONDS=60]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIST, IMAGE_NODE_OPTIONS, TMP } from './lib.mjs';

const FILES = Number(process.argv[2] ?? 50);
const SECONDS = Number(process.argv[3] ?? 60);
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** utime + stime of a process, in ms. */
function cpuMs(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat; f[0] is field 3 (state).
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function measure(name, extra) {
  const dir = join(TMP, `idle-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  for (let i = 0; i < FILES; i++) writeFileSync(join(dir, 'logs', `f${i}.log`), `{"seq":${i},"msg":"quiet"}\n`.repeat(10));
  const p = join(dir, 'pipeline.yaml');
  writeFileSync(p, `data_dir: ./state\nsources:\n  in:\n    type: file\n    include: ["./logs/*.log"]\n${extra}sinks:\n  out: { type: file, inputs: [in], path: ./out.ndjson }\n`);
  const child = spawn(BIN_DIST, ['run', '-c', p, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS: IMAGE_NODE_OPTIONS } });
  try {
    await sleep(5000); // start-up, first read of every file, close_inactive
    const c0 = cpuMs(child.pid);
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const ms = cpuMs(child.pid) - c0;
    const wall = (performance.now() - t0) / 1000;
    return { name, msPerS: ms / wall, pct: (ms / wall) / 10 };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('close', r));
  }
}

const rows = [
  { label: 'defaults (open, poll 1 s, scan 1 s)', ...(await measure('defaults', '')) },
  { label: 'poll_interval_ms: 250', ...(await measure('poll-250', '    poll_interval_ms: 250\n')) },
  { label: 'close_inactive_ms: 2000 (handles closed, scan 1 s)', ...(await measure('close-inactive', '    close_inactive_ms: 2000\n')) },
];
console.log(`| tern watching ${FILES} quiet files | CPU % of one core | CPU ms per s |`);
console.log('|---|---:|---:|');
for (const r of rows) console.log(`| ${r.label} | ${r.pct.toFixed(2)} | ${r.msPerS.toFixed(2)} |`);
console.log(`\n${SECONDS} s each, after 5 s of start-up; utime+stime from /proc/<pid>/stat (clock tick ${1000 / TICK} ms).`);
