#!/usr/bin/env node
// Cost of each transform per event on the Tetragon-like log: the lines are parsed once (as the file
// source does with `decoding: json`), then each transform runs over them in batches of 400 events
// (about one 512 KiB read), with the options shown. Mutating transforms get fresh events each round.
// usage: node --conditions=tern-src --expose-gc bench/transforms.mjs [N=100000]
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComponentTelemetry, createLogger, decodeLine, loadPipeline } from '../packages/core/src/index.ts';
import { builtinRegistry } from '../packages/cli/src/registry.ts';
import { dataFile } from './lib.mjs';

const N = Number(process.argv[2] ?? 100_000);
const lines = readFileSync(dataFile(N), 'utf8').split('\n').filter(Boolean);
const origin = { sourceId: 'in', path: '/var/run/cilium/tetragon/tetragon.log', host: 'bench' };
const fresh = () => lines.map((l, i) => decodeLine(origin, l, i, 'json'));

const CASES = {
  timestamp: 'type: timestamp',
  'ecs (tetragon)': 'type: ecs\n    profile: tetragon',
  'filter (CEL)': `type: filter\n    condition: 'has(event.process_kprobe) && event.process_kprobe.args.exists(a, has(a.file_arg) && a.file_arg.path.startsWith("/etc/"))'`,
  'route (2 CEL routes)': `type: route\n    routes:\n      exec: has(event.process_exec)\n      shell: 'has(event.process_exec) && event.process_exec.process.binary.endsWith("sh")'`,
  'remap (set, rename, remove)': `type: remap\n    operations:\n      - { type: set, field: cluster, value: "prod-{{node_name}}" }\n      - { type: rename, from: node_name, to: host.name }\n      - { type: remove, fields: [process_exec.process.docker] }`,
  'sample (1 in 10, keyed by pod)': 'type: sample\n    rate: 10\n    key_field: process_exec.process.pod.name',
  'throttle (100/s per pod)': 'type: throttle\n    threshold: 100\n    window_ms: 1000\n    key_field: process_exec.process.pod.name',
  'dedupe (raw line)': 'type: dedupe',
  'tetragon_filter (Helm default deny list)': `type: tetragon_filter\n    deny:\n      - { health_check: true }\n      - { namespace: [kube-system, cilium] }`,
};

const dir = mkdtempSync(join(tmpdir(), 'tern-bench-tx-'));
const registry = builtinRegistry();
const ctx = (id) => ({ id, kind: 'transform', type: id, logger: createLogger({ level: 'silent', format: 'json' }), telemetry: new ComponentTelemetry(id), dataDir: dir, host: 'bench', signal: new AbortController().signal, once: true, configDir: dir });
console.log('| transform | µs/event | events out |');
console.log('|---|---:|---:|');
const base = [];
for (const [name, yaml] of Object.entries(CASES)) {
  const p = join(dir, 'p.yaml');
  writeFileSync(p, `sources:\n  in: { type: stdin }\ntransforms:\n  t:\n    inputs: [in]\n    ${yaml}\nsinks:\n  out: { type: console, inputs: [t${yaml.includes('route') ? '.exec' : ''}] }\n`);
  const c = loadPipeline([p], registry, { env: {} }).components.find((x) => x.id === 't');
  const t = await c.definition.build(c.options, ctx('t'));
  let best = Infinity;
  let out = 0;
  for (let round = 0; round < 4; round++) {
    const events = fresh();
    out = 0;
    const emit = (evs) => (out += evs.length);
    globalThis.gc?.(); // the previous round's garbage is not this round's cost
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < events.length; i += 400) t.process(events.slice(i, i + 400), emit);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / events.length);
  }
  console.log(`| ${name} | ${best.toFixed(2)} | ${out} |`);
}
{
  // The baseline these compare to: decoding (JSON.parse) and re-serialising one event.
  const t0 = process.hrtime.bigint();
  const evs = fresh();
  const parse = Number(process.hrtime.bigint() - t0) / 1e3 / evs.length;
  const t1 = process.hrtime.bigint();
  for (const e of evs) JSON.stringify(e.data);
  const str = Number(process.hrtime.bigint() - t1) / 1e3 / evs.length;
  console.log(`| (for scale) JSON.parse at the source | ${parse.toFixed(2)} | |`);
  console.log(`| (for scale) JSON.stringify of the event | ${str.toFixed(2)} | |`);
}
console.log(`\n${lines.length} Tetragon-like lines (~60% exec, 30% exit, 10% kprobe), best of 4 rounds, Node ${process.versions.node}.`);
