// The shared sink conformance suite against the test-kit webhook emulator (generic mode), for the
// two batching body modes. Webhooks are not idempotent: a replay after a reset may store twice.
import { runSinkConformance } from '@tern/core/testing';
import { startWebhook } from '@tern/test-kit';
import { type BodyMode } from '../src/index.ts';
import { createSink } from './fixtures.ts';

for (const body of ['array', 'ndjson'] as const satisfies readonly BodyMode[]) {
  runSinkConformance({
    name: `webhook (${body})`,
    setup: async () => {
      const emu = await startWebhook();
      return {
        build: (delivery, ctx) => createSink({ url: `${emu.url}/ingest`, body, ...delivery }, ctx),
        // Both modes record a list of parsed events per message.
        stored: () => emu.received.reduce((n, m) => n + (Array.isArray(m.body) ? m.body.length : 0), 0),
        fault: (f) =>
          emu.fault({
            match: { path: '/ingest' },
            times: f.count,
            action: f.kind === 'status' ? { status: f.status, ...(f.retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(f.retryAfterSeconds) } } : {}) } : { reset: f.when },
          }),
        ingestTimes: () => emu.requests.filter((r) => r.path === '/ingest').map((r) => r.at),
        ingestBytes: () => emu.requests.filter((r) => r.path === '/ingest').map((r) => r.wireBytes),
        // The emulator gone: its port refuses connections, as a dead endpoint does.
      down: () => emu.close(),
      close: () => emu.close(),
      };
    },
  });
}
