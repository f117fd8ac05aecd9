/**
 * The sink conformance suite: the same delivery scenarios for every network sink, run against the
 * sink's emulator through the engine's contract only (`start`, `accept` with acknowledgement
 * groups, `stop`), as the OpenTelemetry Collector's contract harness does for exporters.
 *
 * A sink's test file calls `runSinkConformance({ name, setup })`; `setup` starts a fresh emulator
 * and returns a harness that builds the sink against it (with the delivery options the scenario
 * needs merged into the sink's config), counts what the emulator stored, and injects faults on the
 * ingest path. Scenarios: all succeed; random transient failures (5xx, 429, connection resets);
 * permanent failures; Retry-After honoured; requests filled up to `batch.max_bytes` and never over
 * it; stop flushes the partial batch; the required metrics
 * (`REQUIRED_SINK_METRICS`) are exposed, agree with what the emulator stored, and reach /metrics
 * under their Prometheus names.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeliveryStatus } from '../event/ack.ts';
import { componentMetricName, counterMetricName, Metrics, REQUIRED_SINK_METRICS } from '../telemetry/metrics.ts';
import { Telemetry } from '../telemetry/telemetry.ts';
import type { ComponentContext, Sink } from '../plugin/types.ts';
import type { DeliveryOptions } from '../sink-kit/types.ts';
import { assertFilledUpTo, within } from './checks.ts';
import { makeEvents, testContext, trackedBatch, type TestContext, type TrackedBatch } from './helpers.ts';

/** A fault on the sink's ingest requests, for `count` consecutive requests. */
export type ConformanceFault =
  | { readonly kind: 'status'; readonly status: number; readonly count: number; readonly retryAfterSeconds?: number }
  /** Destroy the socket before the server processed the request, or after it committed (a replay must not duplicate on idempotent sinks). */
  | { readonly kind: 'reset'; readonly when: 'before' | 'after'; readonly count: number };

export interface ConformanceHarness {
  /** Builds the sink under test against the emulator, with these delivery options merged into its config. */
  build(delivery: DeliveryOptions, ctx: ComponentContext): Sink | Promise<Sink>;
  /** Distinct events the emulator stored (duplicates from replays count again on non-idempotent sinks). */
  stored(): number | Promise<number>;
  /** Queues a fault on the ingest path (not on healthcheck paths). */
  fault(fault: ConformanceFault): void;
  /** Arrival times (ms since epoch) of ingest requests, in order. */
  ingestTimes(): number[];
  /** Body bytes of each ingest request as it came over the wire, in order (the scenario reading it sends uncompressed). */
  ingestBytes(): number[];
  /** Takes the endpoint down (connections refused from now on); `close` must still be safe after it. */
  down(): Promise<void>;
  close(): Promise<void>;
}

export interface ConformanceOptions {
  /** Sink type, for the suite name. */
  readonly name: string;
  readonly setup: () => Promise<ConformanceHarness>;
  /** A whole-request status the sink treats as permanent (default 400). */
  readonly permanentStatus?: number;
  /** Whole-request statuses the sink retries (default 500, 502, 503, 429). */
  readonly transientStatuses?: readonly number[];
  /** True when a replay of a committed request stores nothing twice (Elasticsearch `create` + ids). */
  readonly idempotent?: boolean;
  /** Per-scenario time limit in ms (default 20 s). */
  readonly timeoutMs?: number;
}

/** Delivery options that keep the scenarios fast: short backoff, small batches, no healthcheck. */
const FAST: DeliveryOptions = {
  batch: { max_events: 100, max_bytes: 1_000_000, timeout_ms: 50 },
  request: { concurrency: 2, timeout_ms: 5000, retry_initial_ms: 5, retry_max_ms: 50 },
  healthcheck: false,
};

function merge(over: DeliveryOptions): DeliveryOptions {
  return {
    ...FAST,
    ...over,
    batch: { ...FAST.batch, ...over.batch },
    request: { ...FAST.request, ...over.request },
  };
}

/**
 * A fixed sequence of numbers in [0, 1) (the first values of mulberry32 seeded with 7), read in turn:
 * the transient-failure scenario draws its faults from it, so every run injects the same ones.
 */
const DICE = [0.0117, 0.062, 0.9769, 0.699, 0.5214, 0.4055, 0.4662, 0.2399, 0.5533, 0.7298, 0.2578, 0.1559, 0.7641, 0.5184, 0.1971, 0.368, 0.2932, 0.5347, 0.2963, 0.9779, 0.2475, 0.8778, 0.1908, 0.1437];

function dice(): () => number {
  let i = 0;
  return () => DICE[i++ % DICE.length] as number;
}

/**
 * Asserts that a sink holds every metric of `REQUIRED_SINK_METRICS` and that they reach `/metrics`
 * under their Prometheus names: the check of the conformance suite, exported for sinks whose
 * destination is no HTTP server (`file`, `console`) and for the CLI's test that holds every
 * registered sink to it. `id` is the sink's component in `telemetry`. Call it once everything fed
 * was delivered: it also checks that the buffer is empty, that every request was timed and every
 * delivered event was in a counted batch, and that the sink is `healthy`. Returns the counters, for
 * the caller's checks against what the destination holds.
 */
export async function assertRequiredSinkMetrics(telemetry: Telemetry, id: string, type: string): Promise<Record<string, number>> {
  const t = telemetry.component(id);
  const c = t.snapshot();
  for (const name of REQUIRED_SINK_METRICS.counters) assert.equal(typeof c[name], 'number', `${type}: counter ${name} is missing`);
  const gauges = new Map(t.gauges().map((g) => [g.name, g.samples]));
  for (const name of REQUIRED_SINK_METRICS.gauges) assert.ok(gauges.has(name), `${type}: gauge ${name} is missing`);
  assert.equal(t.gaugeValue('buffer_events'), 0, `${type}: the buffer is empty once everything was delivered`);
  assert.ok((t.gaugeValue('buffer_max_bytes') ?? 0) > 0, `${type}: the buffer has a capacity in bytes`);
  const state = gauges.get('sink_state') ?? [];
  assert.deepEqual(state.filter(([, v]) => v === 1).map(([l]) => l.state), ['healthy'], `${type}: sink_state`);
  const h = t.histograms();
  for (const name of REQUIRED_SINK_METRICS.histograms) assert.ok(h.has(name), `${type}: histogram ${name} is missing`);
  assert.equal(h.get('request_duration_seconds')?.count, c.requests, `${type}: one latency observation per request`);
  assert.equal(h.get('batch_events')?.sum, c.events_delivered, `${type}: every delivered event was in a counted batch`);
  // As a scrape sees them, through prom-client.
  t.kind = 'sink';
  t.type = type;
  const text = await new Metrics(telemetry, {}, { processMetrics: false }).text();
  const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const labels = `component="${esc(id)}",component_kind="sink",component_type="${esc(type)}"`;
  for (const name of REQUIRED_SINK_METRICS.counters) assert.match(text, new RegExp(`^${counterMetricName(name)}\\{${labels}\\} `, 'm'));
  for (const name of REQUIRED_SINK_METRICS.gauges) assert.match(text, new RegExp(`^${componentMetricName(name)}\\{${labels}`, 'm'));
  for (const name of REQUIRED_SINK_METRICS.histograms) assert.match(text, new RegExp(`^${componentMetricName(name)}_bucket\\{${labels},.*le="\\+Inf"\\} `, 'm'));
  return c;
}

interface Run {
  readonly harness: ConformanceHarness;
  readonly sink: Sink;
  readonly ctx: TestContext;
}

/** Registers the conformance scenarios (node:test `describe`/`it`) for one sink. */
export function runSinkConformance(opts: ConformanceOptions): void {
  const timeout = opts.timeoutMs ?? 20_000;
  const permanent = opts.permanentStatus ?? 400;
  const transient = opts.transientStatuses ?? [500, 502, 503, 429];

  async function start(delivery: DeliveryOptions = {}): Promise<Run> {
    const harness = await opts.setup();
    const ctx = testContext(`${opts.name}_conformance`, opts.name);
    try {
      const sink = await harness.build(merge(delivery), ctx);
      await sink.start?.();
      return { harness, sink, ctx };
    } catch (err) {
      // A sink that cannot be built must not leave its emulator running (the file would never end).
      await harness.close();
      throw err;
    }
  }

  async function finish(run: Run): Promise<void> {
    await run.sink.stop(AbortSignal.timeout(5000));
    await run.harness.close();
  }

  function feed(sink: Sink, sizes: readonly number[]): TrackedBatch[] {
    let seq = 0;
    return sizes.map((n) => {
      const b = trackedBatch(makeEvents(n, seq));
      seq += n;
      sink.accept(b);
      return b;
    });
  }

  async function statuses(batches: readonly TrackedBatch[]): Promise<DeliveryStatus[]> {
    return within(Promise.all(batches.map((b) => b.done)), timeout, 'acknowledgements');
  }

  describe(`conformance: ${opts.name}`, { timeout: timeout * 2 }, () => {
    it('all succeed: every event stored once, every ack released once as delivered', async () => {
      const run = await start();
      try {
        // 250-event batches over 100-event requests: each batch spans several requests.
        const batches = feed(run.sink, [250, 250, 250, 7]);
        assert.deepEqual(await statuses(batches), ['delivered', 'delivered', 'delivered', 'delivered']);
        for (const b of batches) assert.equal(b.completions(), 1);
        assert.equal(await run.harness.stored(), 757);
        const c = run.ctx.telemetry.snapshot();
        assert.equal(c.events_in, 757);
        assert.equal(c.events_delivered, 757);
        assert.equal(c.events_rejected ?? 0, 0);
        assert.ok((c.requests ?? 0) >= 8);
        assert.ok((c.bytes_sent ?? 0) > 0);
      } finally {
        await finish(run);
      }
    });

    it('random transient failures (5xx, 429, resets): everything is eventually delivered', async () => {
      const run = await start();
      try {
        const rnd = dice();
        let faults = 0;
        for (let i = 0; i < 8; i++) {
          const r = rnd();
          const count = 1 + Math.floor(rnd() * 2);
          faults += count;
          if (r < 0.2) run.harness.fault({ kind: 'reset', when: 'before', count });
          else if (r < 0.3 && opts.idempotent) run.harness.fault({ kind: 'reset', when: 'after', count });
          else run.harness.fault({ kind: 'status', status: transient[Math.floor(rnd() * transient.length)] as number, count });
        }
        const batches = feed(run.sink, [300, 300, 300]);
        assert.deepEqual(await statuses(batches), ['delivered', 'delivered', 'delivered']);
        const stored = await run.harness.stored();
        if (opts.idempotent) assert.equal(stored, 900);
        else assert.ok(stored >= 900, `stored ${stored}`);
        const c = run.ctx.telemetry.snapshot();
        assert.equal(c.events_delivered, 900);
        assert.ok((c.retries ?? 0) >= faults, `retries ${c.retries} < faults ${faults}`);
      } finally {
        await finish(run);
      }
    });

    it('permanent failures: no retry, counted as rejected, acks released as rejected', async () => {
      const run = await start({ batch: { max_events: 50 } });
      try {
        run.harness.fault({ kind: 'status', status: permanent, count: 1_000_000 });
        const batches = feed(run.sink, [50, 50]);
        assert.deepEqual(await statuses(batches), ['rejected', 'rejected']);
        const c = run.ctx.telemetry.snapshot();
        assert.equal(c.events_rejected, 100);
        assert.equal(c.events_delivered ?? 0, 0);
        assert.equal(c.retries ?? 0, 0);
        // Every request the server saw is one the sink counted: none was retried (a batching sink sends two here).
        assert.equal(run.harness.ingestTimes().length, c.requests);
        assert.equal(await run.harness.stored(), 0);
      } finally {
        await finish(run);
      }
    });

    it('Retry-After is honoured: the retry comes no sooner than the header says', async () => {
      const run = await start({ batch: { max_events: 10 }, request: { concurrency: 1 } });
      try {
        run.harness.fault({ kind: 'status', status: 429, count: 1, retryAfterSeconds: 1 });
        const batches = feed(run.sink, [10]);
        assert.deepEqual(await statuses(batches), ['delivered']);
        const times = run.harness.ingestTimes();
        assert.ok(times.length >= 2, `${times.length} ingest requests`);
        const gap = (times[1] as number) - (times[0] as number);
        // The server's clock stamps arrival; allow for its millisecond rounding only.
        assert.ok(gap >= 999, `retried after ${gap} ms, Retry-After said 1000`);
        assert.equal(await run.harness.stored(), 10);
      } finally {
        await finish(run);
      }
    });

    it('required metrics: every counter, gauge and histogram of REQUIRED_SINK_METRICS, true to what was stored, and on /metrics', async () => {
      const telemetry = new Telemetry();
      const harness = await opts.setup();
      const ctx = testContext(`${opts.name}_conformance`, opts.name, { telemetry: telemetry.component(`${opts.name}_conformance`) });
      const sink = await harness.build(merge({ batch: { max_events: 40 } }), ctx);
      await sink.start?.();
      try {
        harness.fault({ kind: 'status', status: transient[0] as number, count: 1 });
        const batches = feed(sink, [100]);
        assert.deepEqual(await statuses(batches), ['delivered']);
        const c = await assertRequiredSinkMetrics(telemetry, ctx.telemetry.id, opts.name);
        assert.equal(c.events_in, 100);
        assert.equal(c.events_delivered, await harness.stored());
        assert.ok((c.retries ?? 0) >= 1, 'the injected failure was retried and counted');
        assert.equal(c.requests, harness.ingestTimes().length, 'every request the server saw is counted');
        assert.equal(ctx.telemetry.histograms().get('batch_events')?.sum, 100);
        assert.equal(typeof sink.status?.().state, 'string', 'the sink reports its status (health, buffer fill)');
      } finally {
        await sink.stop(AbortSignal.timeout(5000));
        await harness.close();
      }
    });

    it('batch.max_bytes: requests come close to it and never go over (no split needed before sending)', async () => {
      const maxBytes = 20_000;
      const run = await start({ batch: { max_events: 5000, max_bytes: maxBytes, timeout_ms: 20 }, compression: 'none' });
      try {
        const batches = feed(run.sink, [2000]);
        assert.deepEqual(await statuses(batches), ['delivered']);
        assert.equal(await run.harness.stored(), 2000);
        const sizes = run.harness.ingestBytes();
        assertFilledUpTo(sizes, maxBytes);
        assert.equal(run.ctx.telemetry.snapshot().requests, sizes.length, 'every request counted once');
      } finally {
        await finish(run);
      }
    });

    it('stop() flushes the partial batch and waits for it', async () => {
      const run = await start({ batch: { max_events: 10_000, timeout_ms: 600_000 } });
      try {
        const batches = feed(run.sink, [7, 5]);
        assert.equal(run.harness.ingestTimes().length, 0, 'nothing sent before stop');
        await within(run.sink.stop(AbortSignal.timeout(10_000)), timeout, 'stop');
        assert.equal(batches[0]?.status(), 'delivered');
        assert.equal(batches[1]?.status(), 'delivered');
        assert.equal(await run.harness.stored(), 12);
        await run.sink.stop(AbortSignal.timeout(1000)); // idempotent
      } finally {
        await finish(run);
      }
    });

    // ---------------------------------------------------------------- lifecycle
    // The rules the plugin contract states (plugin/types.ts, Sink): a refused credential pauses the
    // sink and keeps the data; a request too large is split; stop keeps its deadline whatever the
    // destination does, is safe before start and when called twice.

    it('lifecycle: pause and resume after a 401: paused loudly, nothing rejected, everything delivered once accepted again', async () => {
      const run = await start({ batch: { max_events: 50 } });
      try {
        run.harness.fault({ kind: 'status', status: 401, count: 3 });
        const batches = feed(run.sink, [50]);
        assert.deepEqual(await statuses(batches), ['delivered']);
        assert.equal(batches[0]?.completions(), 1);
        // A 401 stores nothing, so even a sink without idempotency stores each event once.
        assert.equal(await run.harness.stored(), 50);
        assert.equal(run.ctx.telemetry.snapshot().events_rejected ?? 0, 0);
        assert.ok(run.harness.ingestTimes().length >= 4, `${run.harness.ingestTimes().length} ingest requests: three refused, then accepted`);
        const paused = run.ctx.records.filter((r) => r.level === 50 && r.code === 'TERN_ERR_SINK_AUTH');
        assert.equal(paused.length, 1, 'one error line for the pause, naming TERN_ERR_SINK_AUTH');
        assert.ok(run.ctx.records.some((r) => r.level === 30 && /resumed/.test(r.msg)), 'the resume is logged');
      } finally {
        await finish(run);
      }
    });

    it('lifecycle: 413 splits the request in halves and retries them; every event arrives once', async () => {
      const run = await start({ batch: { max_events: 100 }, request: { concurrency: 1 } });
      try {
        run.harness.fault({ kind: 'status', status: 413, count: 1 });
        const batches = feed(run.sink, [100]);
        assert.deepEqual(await statuses(batches), ['delivered']);
        assert.equal(await run.harness.stored(), 100);
        const c = run.ctx.telemetry.snapshot();
        assert.equal(c.events_rejected ?? 0, 0);
        assert.equal(c.events_delivered, 100);
        assert.ok(run.harness.ingestTimes().length >= 3, `the refused request and at least its two halves: ${run.harness.ingestTimes().length} requests`);
      } finally {
        await finish(run);
      }
    });

    it('lifecycle: stop at the deadline against a dead endpoint: returns, acknowledges nothing, counts what is undelivered', async () => {
      const run = await start({ batch: { max_events: 10 } });
      try {
        await run.harness.down();
        const batches = feed(run.sink, [20]);
        const t0 = Date.now();
        await within(run.sink.stop(AbortSignal.timeout(300)), timeout, 'stop against a dead endpoint');
        const took = Date.now() - t0;
        // The deadline, then at most the kit's grace for loops and close (1 s each), with room for a loaded machine.
        assert.ok(took < 300 + 4000, `stop took ${took} ms for a 300 ms deadline`);
        assert.deepEqual(
          batches.map((b) => b.status()),
          [undefined],
          'nothing acknowledged: the source reads it again after a restart',
        );
        assert.equal(run.ctx.telemetry.snapshot().events_delivered ?? 0, 0);
        assert.ok(run.ctx.records.some((r) => r.code === 'TERN_ERR_SHUTDOWN_TIMEOUT'), 'the timeout is logged with its code');
        assert.equal(run.sink.report?.().undelivered, 20, 'the run summary counts the undelivered events');
      } finally {
        await run.harness.close();
      }
    });

    it('lifecycle: stop before start resolves and sends nothing', async () => {
      const harness = await opts.setup();
      try {
        const sink = await harness.build(merge({}), testContext(`${opts.name}_conformance`, opts.name));
        await within(sink.stop(AbortSignal.timeout(5000)), timeout, 'stop before start');
        assert.equal(harness.ingestTimes().length, 0);
        assert.equal(await harness.stored(), 0);
      } finally {
        await harness.close();
      }
    });

    it('lifecycle: stop twice is one stop: both calls resolve, every ack is released once', async () => {
      const run = await start({ batch: { max_events: 1000, timeout_ms: 600_000 } });
      try {
        const batches = feed(run.sink, [30]);
        // The second call's short deadline does not cut the first stop short: it is the same stop.
        const first = run.sink.stop(AbortSignal.timeout(10_000));
        const second = run.sink.stop(AbortSignal.timeout(1));
        await within(Promise.all([first, second]), timeout, 'both stops');
        assert.equal(batches[0]?.status(), 'delivered');
        assert.equal(batches[0]?.completions(), 1);
        assert.equal(await run.harness.stored(), 30);
        await within(run.sink.stop(AbortSignal.timeout(1000)), timeout, 'a third stop after the first finished');
      } finally {
        await run.harness.close();
      }
    });
  });
}
