#!/usr/bin/env node
// Where the time and the memory go, for the passthrough pipeline (file → elasticsearch) and the edge ECS
// pipeline (file → timestamp → ecs tetragon → elasticsearch), with default settings, against the shared
// harness's fake Elasticsearch. tern runs compiled, as the container image runs it (its NODE_OPTIONS),
// plus --cpu-prof, and `run --once` over N Tetragon-like lines:
//   - CPU: self time of the main thread by function and by area (V8 profile), and CPU seconds per
//     thread (main, libuv pool: file reads and gzip, V8 GC helpers, transform workers) from /proc;
//   - memory: the process's resident memory by mapping at its peak (/proc/<pid>/smaps: the node binary's
//     code pages, malloc's main arena, anonymous mappings that hold V8's heap and large buffers), and
//     a heap snapshot taken half-way (live V8 objects by type).
// usage: node bench/profile.mjs [passthrough|ecs ...] [--n N]   (default: both, N = 500000)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIST, dataFile, IMAGE_NODE_OPTIONS, startFakeEs, tetragonPipeline, TMP } from './lib.mjs';

const args = process.argv.slice(2);
const ni = args.indexOf('--n');
const N = ni >= 0 ? Number(args.splice(ni, 2)[1]) : 500_000;
const which = args.length ? args : ['passthrough', 'ecs'];
if (!existsSync(BIN_DIST)) {
  console.error('tern is not built: run `pnpm build` first');
  process.exit(2);
}

/** Resident kB by mapping kind, from /proc/<pid>/smaps. */
function smaps(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  const out = { total: 0, 'node binary': 0, 'malloc arena ([heap])': 0, 'anonymous (V8 heap, buffers, thread arenas)': 0, 'other files': 0 };
  let kind = '';
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const name = line.split(/\s+/)[5] ?? '';
      kind = name === '' ? 'anonymous (V8 heap, buffers, thread arenas)' : name === '[heap]' ? 'malloc arena ([heap])' : /\/node$/.test(name) ? 'node binary' : name.startsWith('[') ? 'anonymous (V8 heap, buffers, thread arenas)' : 'other files';
    } else if (line.startsWith('Rss:')) {
      const kb = Number(line.split(/\s+/)[1]);
      out[kind] += kb;
      out.total += kb;
    }
  }
  return out;
}

/** CPU seconds per thread name, from /proc/<pid>/task. */
function threads(pid) {
  const tick = 100;
  const by = {};
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const kind = name === 'node' || name === 'MainThread' ? 'main thread' : /libuv/.test(name) ? 'libuv pool (file reads, gzip)' : /V8Worker/.test(name) ? 'V8 helpers (GC)' : /^(WorkerThread|tern)/.test(name) ? 'transform workers' : name;
      by[kind] = (by[kind] ?? 0) + (Number(f[11]) + Number(f[12])) / tick;
    }
  } catch {}
  return by;
}

/** Main-thread self time from a .cpuprofile: top functions and areas. */
function cpuSummary(file) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const cf = byId.get(p.samples[i]).callFrame;
    const d = p.timeDeltas[i] ?? 0;
    total += d;
    const url = (cf.url || '').replace(/^.*\/(packages|node_modules)\//, '');
    const k = `${cf.functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-3).join('/')}:${cf.lineNumber + 1}` : ''}`.trim();
    self.set(k, (self.get(k) ?? 0) + d);
  }
  const area = (k) =>
    /garbage collector/.test(k) ? 'GC (main thread)' : /\(idle\)/.test(k) ? 'idle' : /^read$/.test(k) ? 'file source, line splitting' : /^writev$/.test(k) ? 'HTTP client' : /zlib/.test(k) ? 'gzip (main-thread side)' : /crypto/.test(k) ? 'content-hash _id (SHA-1)' : /sink-elasticsearch/.test(k) ? 'ES encoder' : /transforms\//.test(k) ? 'transforms (ecs, timestamp)' : /JSON|stringify|parse/.test(k) ? 'JSON parse/stringify' : /source-file|io\/|read /.test(k) ? 'file source, line splitting' : /undici|http|net/.test(k) ? 'HTTP client' : /core\//.test(k) ? 'engine (core)' : 'other (native, node internals)';
  const areas = new Map();
  for (const [k, v] of self) areas.set(area(k), (areas.get(area(k)) ?? 0) + v);
  const pct = (v) => `${((v / total) * 100).toFixed(1)} %`;
  return { top: [...self].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => [k, pct(v)]), areas: [...areas].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, pct(v)]) };
}

/** Live V8 heap by node type / constructor, from a .heapsnapshot. */
function heapSummary(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [iT, iN, iS] = ['type', 'name', 'self_size'].map((x) => f.indexOf(x));
  const agg = new Map();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += f.length) {
    const t = types[s.nodes[i + iT]];
    const name = /string/.test(t) ? 'strings (event lines and others)' : t === 'object' ? s.strings[s.nodes[i + iN]] : t === 'code' ? 'compiled code, bytecode' : `(${t})`;
    const sz = s.nodes[i + iS];
    total += sz;
    agg.set(name, (agg.get(name) ?? 0) + sz);
  }
  return { total, top: [...agg].sort((a, b) => b[1] - a[1]).slice(0, 8) };
}

/** One run of tern on `kind`; `onTick(child, elapsedMs)` every 250 ms. */
async function runTern(kind, dir, extraFlags, onTick) {
  const es = await startFakeEs();
  const p = tetragonPipeline(dir, [dataFile(N)], [es.url], kind === 'ecs');
  const t0 = Date.now();
  const child = spawn(process.execPath, [...extraFlags, BIN_DIST, 'run', '--once', '-c', p, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS: IMAGE_NODE_OPTIONS } });
  const timer = setInterval(() => onTick(child, Date.now() - t0), 250);
  const code = await new Promise((r) => child.on('exit', r));
  clearInterval(timer);
  await es.stop();
  return { code, wall: (Date.now() - t0) / 1000 };
}

for (const kind of which) {
  // Into the page cache first: a cold read would show up as an idle main thread.
  spawnSync('cat', [dataFile(N)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const dir = join(TMP, `profile-${kind}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // 1. CPU profile, threads, resident memory at its peak.
  let peak;
  let lastThreads = {};
  const run = await runTern(kind, dir, ['--cpu-prof', `--cpu-prof-dir=${dir}`], (child) => {
    const m = smaps(child.pid);
    if (m && (!peak || m.total > peak.total)) peak = m;
    lastThreads = threads(child.pid);
  });
  // 2. A second run for one heap snapshot half-way (writing it costs memory and time of its own).
  let snapped = false;
  const half = (run.wall * 1000) / 2;
  await runTern(kind, dir, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`], (child, ms) => {
    if (!snapped && ms > half) {
      snapped = true;
      child.kill('SIGUSR2');
    } else if (snapped && readdirSync(dir).some((f) => f.endsWith('.heapsnapshot'))) child.kill('SIGTERM');
  });
  const prof = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  const snap = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot'));
  console.log(`\n### ${kind}: ${N.toLocaleString('en')} lines, exit ${run.code}, ${run.wall.toFixed(1)} s wall (profiling on), node ${process.versions.node}, NODE_OPTIONS=${IMAGE_NODE_OPTIONS}\n`);
  console.log('CPU seconds by thread (at the last sample before exit):\n');
  console.log('| thread | CPU s |\n|---|---:|');
  for (const [k, v] of Object.entries(lastThreads).sort((a, b) => b[1] - a[1])) if (v > 0.05) console.log(`| ${k} | ${v.toFixed(2)} |`);
  if (prof) {
    const c = cpuSummary(join(dir, prof));
    console.log('\nMain thread, self time by area:\n\n| area | share |\n|---|---:|');
    for (const [k, v] of c.areas) console.log(`| ${k} | ${v} |`);
    console.log('\nMain thread, top functions (self time):\n\n| function | share |\n|---|---:|');
    for (const [k, v] of c.top) console.log(`| \`${k}\` | ${v} |`);
  }
  if (peak) {
    console.log(`\nResident memory at the peak sample (${(peak.total / 1024).toFixed(0)} MB):\n\n| mapping | MB |\n|---|---:|`);
    for (const [k, v] of Object.entries(peak)) if (k !== 'total') console.log(`| ${k} | ${(v / 1024).toFixed(0)} |`);
  }
  if (snap) {
    const h = heapSummary(join(dir, snap));
    console.log(`\nLive V8 heap half-way (heap snapshot of a second run): ${(h.total / 1e6).toFixed(1)} MB\n\n| objects | MB |\n|---|---:|`);
    for (const [k, v] of h.top) console.log(`| ${k} | ${(v / 1e6).toFixed(1)} |`);
  }
}
