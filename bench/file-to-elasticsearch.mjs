#!/usr/bin/env node
// Benchmark: file → elasticsearch on a Tetragon-like log (default 1,000,000 lines of ~1.4 KB) against
// the test-kit Elasticsearch emulator in its own process, in count mode (it checks the NDJSON framing,
// the action lines and the data-stream rules and answers per item, but keeps no documents). Prints
// events/s, MB/s, tern's CPU µs/event and peak RSS, the emulator's CPU seconds (it must not be the
// bottleneck) and checks that every line arrived. Variants: lines forwarded as they are (json_lazy,
// index mode, no ids), parsed lines (json), and the full edge pipeline (ECS mapping into the
// cilium_tetragon data stream with content-hash ids and gzip, the sink's defaults).
// usage: node bench/file-to-elasticsearch.mjs [N=1000000] [ROUNDS=1]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataFile, fileSize, startEmulator, TMP, timeTern } from './lib.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 1);
const data = dataFile(N);
const mb = fileSize(data) / 1e6;

const variants = [
  { name: 'json_lazy, index mode, no ids, no gzip', decoding: 'json_lazy', transforms: '', input: 'in', sink: '    mode: index\n    index: tetragon\n    id: none\n    compression: none' },
  { name: 'json, index mode, no ids, no gzip', decoding: 'json', transforms: '', input: 'in', sink: '    mode: index\n    index: tetragon\n    id: none\n    compression: none' },
  { name: 'json + ecs, data stream, content_hash ids, gzip (defaults)', decoding: 'json', transforms: 'transforms:\n  ecs: { type: ecs, inputs: [in], profile: tetragon }\n', input: 'ecs', sink: '    data_stream: { dataset: cilium_tetragon.log }' },
];
const rows = [];
for (const v of variants) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const emu = await startEmulator(['elasticsearch', '--store', 'count']);
    const dir = join(TMP, 'f2es');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const p = join(dir, 'pipeline.yaml');
    writeFileSync(
      p,
      `data_dir: ./state\nsources:\n  in: { type: file, include: ["${data}"], decoding: ${v.decoding} }\n${v.transforms}sinks:\n  out:\n    type: elasticsearch\n    inputs: [${v.input}]\n    endpoints: ["${emu.url}"]\n${v.sink}\n`,
    );
    const res = await timeTern(['run', '--once', '-c', p, '--log-level', 'warn']);
    const stats = await emu.stop();
    if (res.code !== 0 || stats.docs !== N) throw new Error(`run failed: exit ${res.code}, ${stats.docs}/${N} documents\n${res.stderr}`);
    runs.push({ ...res, emuCpu: stats.cpu_s, emuRss: stats.peak_rss_mb, requests: stats.bulkRequests });
    process.stderr.write(`${v.name} round ${r + 1}: ${(N / res.wall).toFixed(0)} events/s, tern RSS ${res.rssMb.toFixed(0)} MB, emulator CPU ${stats.cpu_s.toFixed(1)} s\n`);
  }
  runs.sort((a, b) => a.wall - b.wall);
  const m = runs[Math.floor(runs.length / 2)];
  rows.push({ name: v.name, eps: N / m.wall, mbs: mb / m.wall, cpuUs: (m.cpu * 1e6) / N, rss: m.rssMb, wall: m.wall, emuCpu: m.emuCpu, emuRss: m.emuRss, requests: m.requests });
}
console.log(`| pipeline | events/s | MB/s | tern CPU µs/event | tern peak RSS MB | emulator CPU s | emulator peak RSS MB | requests | wall s |`);
console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const r of rows) {
  console.log(`| file → elasticsearch, ${r.name} | ${r.eps.toFixed(0)} | ${r.mbs.toFixed(1)} | ${r.cpuUs.toFixed(1)} | ${r.rss.toFixed(0)} | ${r.emuCpu.toFixed(1)} | ${r.emuRss.toFixed(0)} | ${r.requests} | ${r.wall.toFixed(2)} |`);
}
console.log(`\n${N} lines, ${mb.toFixed(0)} MB, median of ${ROUNDS}; test-kit emulator in its own process, store: count.`);
