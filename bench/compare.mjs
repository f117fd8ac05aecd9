#!/usr/bin/env node
// tern beside the other shippers, in one run, with the shared harness (bench/harness/run-peer.sh: the
// fake Elasticsearch, each shipper under /usr/bin/time -v, the clock stopping when doc N arrived):
// syslog-ng forwarding lines verbatim, pino-elasticsearch, and tern with default settings as a
// passthrough (file → elasticsearch) and as the edge ECS pipeline (file → timestamp → ecs → elasticsearch),
// plus the passthrough with gzip on and off. Peers run round-robin, ROUNDS times, and the table shows
// medians, the ratios the performance targets are set in, and whether each target is met.
//
// usage: node bench/compare.mjs [N=500000] [ROUNDS=2]
// Needs the peers installed as the shared harness does it (syslog-ng from Debian, pino-elasticsearch
// from npm into $BENCH_TMP/npm-pino): `bash ../shared/bench/setup.sh`, or just those two. tern runs
// compiled (`pnpm build` first), as the container image runs it (its NODE_OPTIONS).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGE_NODE_OPTIONS, ROOT, dataFile } from './lib.mjs';

const N = Number(process.argv[2] ?? 500_000);
const ROUNDS = Number(process.argv[3] ?? 2);
const BENCH_TMP = process.env.BENCH_TMP ?? '/tmp/bench';
const RESULTS = join(BENCH_TMP, `compare-${Date.now()}.jsonl`);
const PEERS = (process.env.PEERS ?? 'syslog-ng-raw pino-elasticsearch tern-default tern-ecs-default tern-default-gzip tern-default-nogzip').split(/\s+/).filter(Boolean);

if (!existsSync(join(ROOT, 'packages/cli/dist/bin.js'))) {
  console.error('tern is not built: run `pnpm build` first');
  process.exit(2);
}
const data = dataFile(N); // the shared generator's data (seed 42), as the harness uses it
// Into the page cache first, so no peer pays for the disk (the first run would otherwise read it cold).
spawnSync('cat', [data], { stdio: ['ignore', 'ignore', 'inherit'] });
for (let r = 0; r < ROUNDS; r++) {
  for (const peer of PEERS) {
    process.stderr.write(`== round ${r + 1}/${ROUNDS} ${peer}\n`);
    const res = spawnSync('bash', [join(ROOT, 'bench/harness/run-peer.sh'), peer, String(N), RESULTS], {
      env: { ...process.env, DATA: data, BENCH_TMP, TERN_DIST: '1', TERN_NODE_OPTIONS: IMAGE_NODE_OPTIONS },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (res.status !== 0) process.stderr.write(`!! ${peer} failed\n`);
  }
}

const rows = readFileSync(RESULTS, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const med = (a) => {
  const s = a.filter((x) => x != null).sort((x, y) => x - y);
  if (s.length === 0) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const by = new Map();
for (const peer of PEERS) {
  const ok = rows.filter((r) => r.peer === peer && r.status === 'ok');
  by.set(peer, ok.length === 0 ? undefined : { eps: med(ok.map((r) => r.eps)), cpu: med(ok.map((r) => r.cpu_s)), rss: med(ok.map((r) => r.rss_mb)), rssMax: Math.max(...ok.map((r) => r.rss_mb)), runs: ok.length, all: ok.map((r) => r.eps) });
}
const f = (x, d = 0) => (x === undefined ? '-' : Number(x).toFixed(d));
console.log(`\n${N} Tetragon-like lines, ${ROUNDS} round(s), medians; node ${process.versions.node}, ${new Date().toISOString()}\n`);
console.log('| shipper | runs | events/s (each run) | CPU µs/event | peak RSS MB |');
console.log('|---|---:|---|---:|---:|');
for (const [peer, r] of by) console.log(`| ${peer} | ${r?.runs ?? 0} | ${f(r?.eps)} (${r?.all.map((x) => f(x)).join(', ') ?? '-'}) | ${r ? f((r.cpu * 1e6) / N, 1) : '-'} | ${f(r?.rss)} |`);

const ratio = (a, b) => (by.get(a) && by.get(b) ? by.get(a).eps / by.get(b).eps : undefined);
const targets = [
  ['passthrough ≥ 1.0× syslog-ng verbatim', ratio('tern-default', 'syslog-ng-raw'), (x) => x >= 1.0, (x) => `${f(x, 2)}×`],
  ['passthrough peak RSS ≤ 120 MB', by.get('tern-default')?.rssMax, (x) => x <= 120, (x) => `${f(x)} MB`],
  ['ECS pipeline ≥ 2.0× pino-elasticsearch', ratio('tern-ecs-default', 'pino-elasticsearch'), (x) => x >= 2.0, (x) => `${f(x, 2)}×`],
  ['ECS pipeline peak RSS ≤ 160 MB', by.get('tern-ecs-default')?.rssMax, (x) => x <= 160, (x) => `${f(x)} MB`],
  ['gzip on ≥ 70% of gzip off', ratio('tern-default-gzip', 'tern-default-nogzip'), (x) => x >= 0.7, (x) => `${f(x * 100)}%`],
];
console.log('\n| target | measured | met |');
console.log('|---|---:|---|');
for (const [name, v, ok, show] of targets) console.log(`| ${name} | ${v === undefined ? '-' : show(v)} | ${v === undefined ? '-' : ok(v) ? 'yes' : 'no'} |`);
console.log(`\nraw results: ${RESULTS}`);
if (process.env.KEEP_RESULTS !== '1') rmSync(RESULTS, { force: true });
