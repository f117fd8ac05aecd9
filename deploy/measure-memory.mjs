#!/usr/bin/env node
// Measures what the deployment's memory requests and limits rest on: tern's peak RSS running the
// DaemonSet pipelines of examples/ (tetragon-logscale, tetragon-elasticsearch, tetragon-parseable) as
// the image runs them (the compiled binary with the image's NODE_OPTIONS, so its V8 settings apply;
// every default) on a Tetragon-like log of N lines (~1.4 KB each) that it backfills as fast as the emulated
// server (in its own process) accepts, which keeps the in-flight budget and the sink buffers full: the
// worst case for memory. Also the idle RSS once caught up. As root, tern runs inside a memory cgroup
// limited to LIMIT_MI (the manifests' limit), because Node sizes V8's heap from a pod's memory limit.
// Uses bench/lib.mjs (emulators, /usr/bin/time). `pnpm build` first.
// usage: [LIMIT_MI=256] node deploy/measure-memory.mjs [N=200000]
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BIN_DIST, dataFile, IMAGE_NODE_OPTIONS, ROOT, rssOf, startEmulator, TMP, timeTern } from '../bench/lib.mjs';

const N = Number(process.argv[2] ?? 200_000);
const data = dataFile(N);
const LIMIT_MI = Number(process.env.LIMIT_MI ?? 256);
const cgroupMi = process.getuid?.() === 0 && existsSync('/sys/fs/cgroup/memory') ? LIMIT_MI : undefined;

const scenarios = [
  { name: 'tetragon-logscale', emulator: ['logscale', '--token', 'bench-token:tetragon'], env: (url) => ({ LOGSCALE_URL: url }), secrets: { 'logscale-token': 'bench-token' } },
  { name: 'tetragon-elasticsearch', emulator: ['elasticsearch', '--store', 'count', '--api-key', 'YmVuY2g6YmVuY2g='], env: (url) => ({ ES_URL: url }), secrets: { 'es-api-key': 'YmVuY2g6YmVuY2g=' } },
  { name: 'tetragon-parseable', emulator: ['parseable', '--user', 'tern-ingest:bench-password'], env: (url, hook) => ({ PARSEABLE_URL: url, ALERT_WEBHOOK_URL: `${hook}/tetragon` }), secrets: { 'parseable-password': 'bench-password', 'alert-token': 'x' }, webhook: true },
];

function setup(s, url, hook) {
  const dir = join(TMP, `memory-${s.name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'secrets'), { recursive: true });
  for (const [k, v] of Object.entries(s.secrets)) writeFileSync(join(dir, 'secrets', k), `${v}\n`);
  return { TERN_API_ADDRESS: '127.0.0.1:0', TERN_DATA_DIR: join(dir, 'state'), SECRETS_DIR: join(dir, 'secrets'), TETRAGON_LOG: data, TETRAGON_LOG_NEW: join(dir, 'absent.log'), ...s.env(url, hook) };
}

const rows = [];
for (const s of scenarios) {
  const pipeline = join(ROOT, 'examples', s.name, 'pipeline.yaml');
  // 1. Backfill: peak RSS over the whole run (/usr/bin/time).
  // The alert sink of tetragon-parseable needs a receiver, or --once would wait for it forever.
  const hook = s.webhook ? await startEmulator(['webhook']) : undefined;
  let emu = await startEmulator(s.emulator);
  const env = setup(s, emu.url, hook?.url);
  const res = await timeTern(['run', '--once', '-c', pipeline, '--log-level', 'warn'], { env, dist: true, cgroupMi });
  await emu.stop();
  if (res.code !== 0) throw new Error(`${s.name}: exit ${res.code}\n${res.stderr}`);
  // 2. Idle: a long-running tern caught up with the file (the checkpoint from 1), RSS after 10 s.
  emu = await startEmulator(s.emulator);
  const child = spawn(BIN_DIST, ['run', '-c', pipeline, '--log-level', 'warn'], { env: { ...process.env, NODE_OPTIONS: IMAGE_NODE_OPTIONS, ...env, ...s.env(emu.url, hook?.url) }, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 10_000));
  const idle = rssOf(child.pid);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await emu.stop();
  await hook?.stop();
  rows.push({ name: s.name, eps: N / res.wall, rss: res.rssMb, idle });
  process.stderr.write(`${s.name}: ${(N / res.wall).toFixed(0)} events/s, peak RSS ${res.rssMb.toFixed(0)} MB, idle ${idle.toFixed(0)} MB\n`);
}
console.log('| pipeline (examples/…) | backfill events/s | peak RSS MB (backfill, budget full) | RSS MB idle, caught up |');
console.log('|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.eps.toFixed(0)} | ${r.rss.toFixed(0)} | ${r.idle.toFixed(0)} |`);
console.log(`\n${N} lines; every default; ${cgroupMi ? `inside a ${cgroupMi} MiB memory cgroup` : 'no memory cgroup (not root, or no cgroup v1 memory controller)'}.`);
