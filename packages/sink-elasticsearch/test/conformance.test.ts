// The shared sink conformance suite, run against the test-kit Elasticsearch emulator.
import { runSinkConformance } from '@tern/core/testing';
import { startElasticsearch } from '@tern/test-kit';
import { withDefaults } from '@tern/core';
import { createElasticsearchSink, elasticsearchSink } from '../src/index.ts';

runSinkConformance({
  name: 'elasticsearch',
  // create + content-hash ids: a replay of a committed request answers 409 and stores nothing twice.
  idempotent: true,
  setup: async () => {
    const emu = await startElasticsearch();
    return {
      build: (delivery, ctx) => createElasticsearchSink(withDefaults(elasticsearchSink, { endpoints: [emu.url], data_stream: { dataset: 'conformance' }, ...delivery }), ctx),
      stored: () => emu.count(),
      fault: (f) =>
        emu.fault({
          match: { path: /\/_bulk$/ },
          times: f.count,
          action: f.kind === 'status' ? { status: f.status, ...(f.retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(f.retryAfterSeconds) } } : {}) } : { reset: f.when },
        }),
      ingestTimes: () => emu.requests.filter((r) => r.path.endsWith('/_bulk')).map((r) => r.at),
      ingestBytes: () => emu.requests.filter((r) => r.path.endsWith('/_bulk')).map((r) => r.wireBytes),
      // The emulator gone: its port refuses connections, as a dead endpoint does.
      down: () => emu.close(),
      close: () => emu.close(),
    };
  },
});
