// Shared helpers for tern's benchmarks: data generation, running tern under /usr/bin/time, RSS sampling.
import { connect, createServer } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'packages/cli/src/bin.ts');
export const TMP = process.env.BENCH_TMP ?? '/tmp/tern-bench';

/** Deterministic Tetragon-like log of n lines (the shared harness's generator, seed 42). */
export function dataFile(n) {
  mkdirSync(join(TMP, 'data'), { recursive: true });
  const f = join(TMP, 'data', `tetragon-${n}.jsonl`);
  if (!existsSync(f)) {
    process.stderr.write(`generating ${n} lines into ${f}\n`);
    const r = spawnSync(process.execPath, [join(ROOT, 'bench/gen-tetragon.mjs'), String(n), f], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('generator failed');
  }
  return f;
}

export function fileSize(f) {
  return statSync(f).size;
}

/** Runs tern under /usr/bin/time -v; returns wall seconds, CPU seconds and peak RSS MB. */
export const BIN_DIST = join(ROOT, 'packages/cli/dist/bin.js');
/** NODE_OPTIONS as the container image sets them (deploy/Dockerfile's ENV line): how tern runs in a pod. */
export const IMAGE_NODE_OPTIONS = /NODE_OPTIONS=(\S+)/.exec(readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8'))?.[1] ?? '';

/**
 * Runs tern under /usr/bin/time -v: wall time, CPU and peak RSS. `dist: true` runs the compiled binary
 * as the container image does (with the image's NODE_OPTIONS unless `env` sets others; `pnpm build`
 * first), else the sources. `cgroupMi` runs it inside a cgroup v1 memory group limited to that many
 * MiB, as a pod's memory limit would (root only; Node sizes V8's heap from that limit).
 */
export function timeTern(args, { stdout = 'ignore', env = {}, dist = false, cgroupMi } = {}) {
  return new Promise((resolve, reject) => {
    const tv = join(TMP, `time-${process.pid}-${Date.now()}.txt`);
    const t0 = process.hrtime.bigint();
    const cmd = ['/usr/bin/time', '-v', '-o', tv, ...(dist ? [BIN_DIST] : [process.execPath, '--conditions=tern-src', BIN]), ...args];
    const argv = cgroupMi ? ['bash', '-c', `${CGROUP_ENTER} ${cgroupMi} && exec "$@"`, 'cg', ...cmd] : cmd;
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', stdout, 'pipe'],
      env: { ...process.env, ...(dist ? { NODE_OPTIONS: IMAGE_NODE_OPTIONS } : {}), ...env },
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const t = readFileSync(tv, 'utf8');
      const num = (k) => Number(new RegExp(`${k}: ([0-9.]+)`).exec(t)?.[1] ?? NaN);
      resolve({ code, wall, cpu: num('User time \\(seconds\\)') + num('System time \\(seconds\\)'), rssMb: num('Maximum resident set size \\(kbytes\\)') / 1024, stderr: err });
    });
  });
}

/** A shell function body that moves the shell into a cgroup v1 memory group limited to $1 MiB. */
const CGROUP_ENTER = 'cg=/sys/fs/cgroup/memory/tern-bench; enter() { mkdir -p $cg && echo $(($1 * 1048576)) > $cg/memory.limit_in_bytes && echo $$ > $cg/cgroup.procs; }; enter';

export function countLines(f) {
  const r = spawnSync('wc', ['-l', f], { encoding: 'utf8' });
  return Number(r.stdout.trim().split(/\s+/)[0]);
}

export function rssOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024;
  } catch {
    return NaN;
  }
}

/** Starts the emulator CLI; resolves with its URL and a stop() that returns its final statistics. */
export async function startEmulator(args) {
  const child = spawn(process.execPath, ['--conditions=tern-src', join(ROOT, 'packages/test-kit/src/cli.ts'), ...args, '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(child.pid) || 0)), 250);
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator exited ${code}: ${err}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        clearInterval(sampler);
        child.once('exit', () => resolve({ ...JSON.parse(err.trim().split('\n').pop()), peak_rss_mb: peakRss }));
        child.kill('SIGINT');
      }),
  };
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The shared harness's fake Elasticsearch (fast, counts documents), on a free port. */
export async function startFakeEs() {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bench/harness/fake-es.mjs'), '--port', String(port), '--quiet'], { stdio: 'inherit' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => connect(port, '127.0.0.1').once('connect', function () { this.end(); resolve(true); }).once('error', () => resolve(false)));
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://127.0.0.1:${port}`, stop: async () => void child.kill('SIGTERM') };
}

/** A pipeline file in `dir`: the file source on `files`, optionally timestamp + ecs tetragon, one ES sink per URL (all defaults). */
export function tetragonPipeline(dir, files, urls, ecs = false) {
  const include = files.map((f) => JSON.stringify(f)).join(', ');
  const sinks = urls.map((u, i) => `  es${i}:\n    type: elasticsearch\n    inputs: [${ecs ? 'ecs' : 'tetragon'}]\n    endpoints: ["${u}"]\n${ecs ? '    data_stream: { dataset: cilium_tetragon.log }\n' : ''}`).join('');
  const transforms = ecs ? 'transforms:\n  ts: { type: timestamp, inputs: [tetragon] }\n  ecs: { type: ecs, inputs: [ts], profile: tetragon }\n' : '';
  const p = join(dir, 'pipeline.yaml');
  writeFileSync(p, `data_dir: ${join(dir, 'state')}\nsources:\n  tetragon: { type: file, include: [${include}] }\n${transforms}sinks:\n${sinks}`);
  return p;
}
