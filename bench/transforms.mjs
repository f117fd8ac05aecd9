#!/usr/bin/env node
// Cost of each transform per event: the lines are parsed once (as the file source does with
// `decoding: json`), then each transform runs over them in batches of 400 events (about one 512 KiB
// read), with the options shown. Mutating transforms get fresh events each round. Most cases run on
// the Tetragon-like log; the Zeek and enrichment cases on generated Zeek-like lines (N of them, built
// from the fixture samples with varied addresses, names and user agents) and the geoip case on a
// MaxMind-format database this script writes (10,000 /24 networks, with the test writer).
// usage: node --conditions=tern-src --expose-gc bench/transforms.mjs [N=100000]
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComponentTelemetry, createLogger, decodeLine, loadPipeline } from '../packages/core/src/index.ts';
import { builtinRegistry } from '../packages/cli/src/registry.ts';
import { dataFile } from './lib.mjs';
import { writeMmdb } from '../packages/transforms/test/fixtures/mmdb-writer.ts';

const N = Number(process.argv[2] ?? 100_000);
const lines = readFileSync(dataFile(N), 'utf8').split('\n').filter(Boolean);
const origin = { sourceId: 'in', path: '/var/run/cilium/tetragon/tetragon.log', host: 'bench' };
// One origin per input, as a file source shares one origin between the events of a file.
const origins = new Map();
const originOf = (path) => (origins.has(path) ? origins.get(path) : origins.set(path, { ...origin, path }).get(path));
const fresh = (ls = lines, path = origin.path) => {
  const o = originOf(path);
  return ls.map((l, i) => decodeLine(o, l, i, 'json'));
};

// Zeek-like inputs: the fixture lines with addresses, names and user agents varied deterministically.
const FX = new URL('../packages/test-kit/samples/', import.meta.url);
const fixture = (f) => readFileSync(new URL(f, FX), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
// mulberry32: deterministic, and exact in 32-bit integer arithmetic.
let seed = 7;
const rnd = (n) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) % n;
};
const ip = () => `${1 + rnd(223)}.${rnd(256)}.${rnd(256)}.${1 + rnd(254)}`;
const UAS = Array.from({ length: 200 }, (_, i) => [`Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${100 + (i % 30)}.0.${i}.0 Safari/537.36`, `curl/8.${i % 10}.0`, `python-requests/2.${i % 32}.0`, `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_${i % 8}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${i % 5} Safari/605.1.15`][i % 4]);
const NAMES = Array.from({ length: 500 }, (_, i) => [`api${i}.github.com`, `www.example${i}.co.uk`, `host${i}.svc.cluster.local`, `cdn${i}.foo.github.io`][i % 4]);
const zeekLines = (file, edit) => {
  const base = fixture(file);
  return Array.from({ length: N }, (_, i) => {
    const o = structuredClone(base[i % base.length]);
    o['id.orig_h'] = ip();
    o['id.resp_h'] = ip();
    edit?.(o, i);
    return JSON.stringify(o);
  });
};
const INPUTS = {
  'zeek-conn': () => zeekLines('zeek-conn.log'),
  'zeek-dns': () => zeekLines('zeek-dns.log', (o, i) => (o.query = NAMES[i % NAMES.length])),
  'zeek-http': () => zeekLines('zeek-http.log', (o, i) => (o.user_agent = UAS[i % UAS.length])),
  ua: () => Array.from({ length: N }, (_, i) => JSON.stringify({ user_agent: { original: UAS[i % UAS.length] } })),
  'ua-distinct': () => Array.from({ length: Math.min(N, 5000) }, (_, i) => JSON.stringify({ user_agent: { original: `${UAS[i % UAS.length]} build/${i}` } })),
  domain: () => Array.from({ length: N }, (_, i) => JSON.stringify({ url: { domain: NAMES[i % NAMES.length] } })),
  ips: () => Array.from({ length: N }, () => JSON.stringify({ source: { ip: ip() }, destination: { ip: ip() } })),
  kv: () => Array.from({ length: N }, (_, i) => JSON.stringify({ tags: ['a'], message: `level=warn msg="disk ${i} almost full" path=/var/log/pods/payments_checkout-${i % 50}_uid/api/0.log code=507` })),
};
const inputCache = {};
const linesFor = (kind) => (kind === undefined ? lines : (inputCache[kind] ??= INPUTS[kind]()));
const PATH_FOR = { 'zeek-conn': '/var/log/zeek/conn.log', 'zeek-dns': '/var/log/zeek/dns.log', 'zeek-http': '/var/log/zeek/http.log' };

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
  'ecs (zeek conn)': ['type: ecs\n    profile: zeek', 'zeek-conn'],
  'ecs (zeek dns, public-suffix split)': ['type: ecs\n    profile: zeek', 'zeek-dns'],
  'ecs (zeek http, user agent parsed; 200 distinct)': ['type: ecs\n    profile: zeek', 'zeek-http'],
  'user_agent (200 distinct, cached)': ['type: user_agent', 'ua'],
  'user_agent (every one distinct: cache misses; 5,000 events)': ['type: user_agent', 'ua-distinct'],
  'domain (url.domain, 500 distinct)': ['type: domain\n    field: url.domain', 'domain'],
  'geoip (source.ip + destination.ip, random addresses)': [`type: geoip\n    database: GEOIP_DB`, 'ips'],
  'remap (append, parse_key_value, parse_regex, if)': [
    `type: remap\n    operations:\n      - { type: append, field: tags, value: [tern, "{{level}}"] }\n      - { type: parse_key_value, field: message }\n      - { type: parse_regex, field: path, pattern: '^/var/log/pods/(?P<namespace>[^_]+)_(?P<pod>[^_]+)_' }\n      - { type: set, field: alert, value: true, if: 'event.code == "507"' }`,
    'kv',
  ],
};

const dir = mkdtempSync(join(tmpdir(), 'tern-bench-tx-'));
// A MaxMind-format City database with 10,000 random /24 networks (about a quarter of lookups hit).
{
  const nets = new Map();
  while (nets.size < 10_000) nets.set(`${1 + rnd(223)}.${rnd(256)}.${rnd(256)}.0/24`, { city: { names: { en: `City ${nets.size}` } }, country: { iso_code: 'SE', names: { en: 'Sweden' } }, continent: { names: { en: 'Europe' } }, location: { latitude: 58.4, longitude: 15.6 } });
  writeFileSync(join(dir, 'city.mmdb'), writeMmdb([...nets].map(([network, data]) => ({ network, data })), 'GeoIP2-City'));
}
const registry = builtinRegistry();
const ctx = (id) => ({ id, kind: 'transform', type: id, logger: createLogger({ level: 'silent', format: 'json' }), telemetry: new ComponentTelemetry(id), dataDir: dir, host: 'bench', signal: new AbortController().signal, once: true, configDir: dir });
console.log('| transform | µs/event | events out |');
console.log('|---|---:|---:|');
const base = [];
for (const [name, spec] of Object.entries(CASES)) {
  const [yaml0, kind] = Array.isArray(spec) ? spec : [spec, undefined];
  const yaml = yaml0.replace('GEOIP_DB', join(dir, 'city.mmdb'));
  const p = join(dir, 'p.yaml');
  writeFileSync(p, `sources:\n  in: { type: stdin }\ntransforms:\n  t:\n    inputs: [in]\n    ${yaml}\nsinks:\n  out: { type: console, inputs: [t${yaml.includes('route') ? '.exec' : ''}] }\n`);
  const c = loadPipeline([p], registry, { env: {} }).components.find((x) => x.id === 't');
  const t = await c.definition.build(c.options, ctx('t'));
  if (kind === 'ua-distinct' || kind === 'zeek-http') fresh(linesFor('ua').slice(0, 1)); // warm: the regex list loads once per process
  let best = Infinity;
  let out = 0;
  for (let round = 0; round < 4; round++) {
    const events = fresh(linesFor(kind), PATH_FOR[kind] ?? origin.path);
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
console.log(`\n${lines.length} Tetragon-like lines (~60% exec, 30% exit, 10% kprobe) and ${N} Zeek-like or enrichment inputs per case, best of 4 rounds, Node ${process.versions.node}.`);
