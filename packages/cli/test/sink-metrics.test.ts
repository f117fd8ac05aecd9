/**
 * Every sink tern ships exposes the required metrics (core's `REQUIRED_SINK_METRICS`): each sink
 * type in the CLI's registry is built from its definition, as a pipeline builds it, against a real
 * destination (an emulator, a file, stderr), fed events until all are delivered, and held to the
 * conformance kit's `assertRequiredSinkMetrics`, its counters to what the destination holds.
 *
 * The list of sinks comes from the registry, not from this file: a sink registered without a
 * destination below fails here, so no new sink can skip the required metrics (the conformance suite
 * a network sink runs checks them too, but a sink package is free not to run it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Telemetry, withDefaults, type ComponentDefinition, type Sink } from '@tern/core';
import { assertRequiredSinkMetrics, makeEvents, testContext, trackedBatch } from '@tern/core/testing';
import { startElasticsearch, startLogScale, startParseable, startWebhook } from '@tern/test-kit';
import { builtinRegistry } from '../src/registry.ts';
import { tmp } from './helpers.ts';

interface Destination {
  /** Options of the sink (batching and healthcheck settings are added). */
  readonly options: Record<string, unknown>;
  /** Events the destination holds; undefined where it cannot be read back (stderr). */
  stored(): number | undefined;
  close(): Promise<void>;
}

/** How to stand up a destination for each sink type. A new sink type needs an entry here. */
const DESTINATIONS: Record<string, () => Promise<Destination>> = {
  elasticsearch: async () => {
    const emu = await startElasticsearch();
    return { options: { endpoints: [emu.url], index: 'metrics' }, stored: () => emu.count(), close: () => emu.close() };
  },
  logscale: async () => {
    const emu = await startLogScale({ recordBodies: false });
    return { options: { endpoint: emu.url, token: 'test-token' }, stored: () => emu.count(), close: () => emu.close() };
  },
  parseable: async () => {
    const emu = await startParseable({ recordBodies: false });
    return { options: { endpoint: emu.url, stream: 'metrics', username: 'admin', password: 'admin' }, stored: () => emu.rows('metrics').length, close: () => emu.close() };
  },
  webhook: async () => {
    const emu = await startWebhook();
    return {
      options: { url: `${emu.url}/ingest` },
      stored: () => emu.received.reduce((n, m) => n + (Array.isArray(m.body) ? m.body.length : 1), 0),
      close: () => emu.close(),
    };
  },
  file: async () => {
    const path = join(tmp(), 'out.ndjson');
    return {
      options: { path },
      stored: () => readFileSync(path, 'utf8').split('\n').filter(Boolean).length,
      close: async () => undefined,
    };
  },
  // stderr, not stdout: the test runner reads a test file's stdout.
  console: async () => ({ options: { target: 'stderr' }, stored: () => undefined, close: async () => undefined }),
};

const sinks = builtinRegistry()
  .all()
  .filter((d) => d.kind === 'sink');

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('required metrics of every sink tern ships', () => {
  it('the registry has sinks, and each has a destination here', () => {
    assert.ok(sinks.length >= 6, `${sinks.length} sinks registered`);
    const missing = sinks.map((d) => d.type).filter((t) => DESTINATIONS[t] === undefined);
    assert.deepEqual(missing, [], 'a sink type with no destination in sink-metrics.test.ts: add one, so its required metrics are checked');
  });

  for (const def of sinks) {
    it(`${def.type}: every required counter, gauge and histogram, true to what the destination holds, on /metrics`, async () => {
      const setup = DESTINATIONS[def.type];
      if (setup === undefined) return; // reported by the test above
      const dest = await setup();
      cleanups.push(() => dest.close());
      const telemetry = new Telemetry();
      const id = `${def.type}_metrics`;
      const ctx = testContext(id, def.type, { telemetry: telemetry.component(id), configDir: tmp() });
      const cfg = withDefaults(def as ComponentDefinition<never>, { ...dest.options, batch: { max_events: 4, timeout_ms: 20 } } as never);
      const sink = (await (def as ComponentDefinition<unknown> & { build: (c: unknown, x: typeof ctx) => Sink | Promise<Sink> }).build(cfg, ctx)) as Sink;
      await sink.start?.();
      try {
        const batches = [trackedBatch(makeEvents(6, 0)), trackedBatch(makeEvents(4, 6))];
        for (const b of batches) sink.accept(b);
        assert.deepEqual(await Promise.all(batches.map((b) => b.done)), ['delivered', 'delivered']);
        const c = await assertRequiredSinkMetrics(telemetry, id, def.type);
        assert.equal(c.events_in, 10);
        assert.equal(c.events_delivered, 10);
        assert.equal(c.events_rejected, 0);
        assert.ok((c.requests ?? 0) >= 3, `${c.requests} requests for 10 events in batches of at most 4`);
        assert.ok((c.bytes_sent ?? 0) > 0, 'bytes sent are counted');
        const stored = dest.stored();
        if (stored !== undefined) assert.equal(stored, 10, 'the destination holds every event once');
      } finally {
        await sink.stop(AbortSignal.timeout(5000));
      }
    });
  }
});
