import { readFileSync } from 'node:fs';
import { LogEvent } from '@tern/core';
import { testContext, trackedBatch } from '@tern/core/testing';
import { createElasticsearchSink } from '../src/index.ts';
const lines = readFileSync('/tmp/bench-es/t.log', 'utf8').split('\n').filter(Boolean).slice(0, 100000);
const origin = { sourceId: 's', path: '/x', host: 'h', fileId: 'f' };
for (const compression of ['none', 'gzip'] as const) {
  const evs = lines.map((l, i) => new LogEvent(origin, l, 'json', undefined, i * 1000));
  const ctx = testContext('es');
  const sink = createElasticsearchSink({ endpoints: ['http://127.0.0.1:19212'], compression, healthcheck: false, data_stream: { dataset: 'x' } }, ctx);
  const t = Date.now(); const c0 = process.cpuUsage(); const e0 = performance.eventLoopUtilization();
  const bs = []; for (let i = 0; i < evs.length; i += 500) { const b = trackedBatch(evs.slice(i, i + 500)); bs.push(b.done); sink.accept(b); }
  await Promise.all(bs);
  const cpu = process.cpuUsage(c0); const e = performance.eventLoopUtilization(e0);
  console.log(compression, 'wall', Date.now() - t, 'ms; cpu', ((cpu.user + cpu.system) / 1000).toFixed(0), 'ms; main-thread active', e.active.toFixed(0), 'ms', JSON.stringify(ctx.telemetry.snapshot()));
  await sink.stop(AbortSignal.timeout(1000));
}
