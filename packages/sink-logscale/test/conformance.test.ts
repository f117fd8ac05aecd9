// The shared sink conformance suite, run against the test-kit LogScale emulator (structured mode).
import { runSinkConformance } from '@tern/core/testing';
import { startLogScale } from '@tern/test-kit';
import { withDefaults } from '@tern/core';
import { createLogScaleSink, logscaleSink } from '../src/index.ts';

runSinkConformance({
  name: 'logscale',
  // LogScale has no idempotency key: a replay after a lost answer stores the events again (§1.8).
  idempotent: false,
  // LogScale documents every answer but 200 as a failure: a 204 joins the transient mix.
  transientStatuses: [500, 502, 503, 429, 204],
  setup: async () => {
    const emu = await startLogScale({ recordBodies: false });
    return {
      build: (delivery, ctx) => createLogScaleSink(
          // LogScale documents at most 5,000 events per request, and the schema holds the batch to that.
          withDefaults(logscaleSink, { endpoint: emu.url, token: 'test-token', ...delivery, batch: { ...delivery.batch, max_events: Math.min(delivery.batch?.max_events ?? 1000, 5000) } }),
          ctx,
        ),
      stored: () => emu.count(),
      fault: (f) =>
        emu.fault({
          match: { path: '/api/v1/ingest/humio-structured' },
          times: f.count,
          action: f.kind === 'status' ? { status: f.status, ...(f.retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(f.retryAfterSeconds) } } : {}) } : { reset: f.when },
        }),
      ingestTimes: () => emu.requests.filter((r) => r.path === '/api/v1/ingest/humio-structured').map((r) => r.at),
      ingestBytes: () => emu.requests.filter((r) => r.path === '/api/v1/ingest/humio-structured').map((r) => r.wireBytes),
      // The emulator gone: its port refuses connections, as a dead endpoint does.
      down: () => emu.close(),
      close: () => emu.close(),
    };
  },
});
