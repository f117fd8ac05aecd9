// The shared sink conformance suite, run against the test-kit Parseable emulator.
import { runSinkConformance } from '@tern/core/testing';
import { startParseable } from '@tern/test-kit';
import { withDefaults } from '@tern/core';
import { createParseableSink, parseableSink } from '../src/index.ts';

runSinkConformance({
  name: 'parseable',
  // No idempotency key in Parseable: a replay after a lost answer stores the rows again (§3.7).
  idempotent: false,
  setup: async () => {
    const emu = await startParseable({ recordBodies: false });
    return {
      build: (delivery, ctx) => createParseableSink(withDefaults(parseableSink, { endpoint: emu.url, stream: 'conformance', username: 'admin', password: 'admin', ...delivery }), ctx),
      stored: () => emu.rows('conformance').length,
      fault: (f) =>
        emu.fault({
          match: { path: '/api/v1/ingest' },
          times: f.count,
          action: f.kind === 'status' ? { status: f.status, ...(f.retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(f.retryAfterSeconds) } } : {}) } : { reset: f.when },
        }),
      ingestTimes: () => emu.requests.filter((r) => r.path === '/api/v1/ingest').map((r) => r.at),
      ingestBytes: () => emu.requests.filter((r) => r.path === '/api/v1/ingest').map((r) => r.wireBytes),
      // The emulator gone: its port refuses connections, as a dead endpoint does.
      down: () => emu.close(),
      close: () => emu.close(),
    };
  },
});
