// Delivery driver: batching, acknowledgement, retry timing, partial answers, splitting, pausing,
// healthcheck and shutdown, driven through a scripted protocol and a manual clock (no real sleeps).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { TernError } from '../src/errors.ts';
import { LogEvent } from '../src/event/event.ts';
import type { DeadLetterInfo } from '../src/event/dead-letter.ts';
import type { ComponentContext } from '../src/plugin/types.ts';
import { createDeliverySink, type DeliveryOptions, type Payload, type SendResult, type SinkProtocol } from '../src/sink-kit/index.ts';
import { ManualClock, makeEvents, settle, testContext, trackedBatch } from '../src/testing/helpers.ts';

type Step = SendResult | Error | 'hang' | ((seqs: number[]) => SendResult);

interface Req {
  readonly body: string;
  readonly seqs: number[];
}

class ScriptedProtocol implements SinkProtocol<Req> {
  readonly sent: Array<{ seqs: number[]; payload: Payload; partition: string }> = [];
  readonly script: Step[] = [];
  partitionBy: ((ev: LogEvent) => string) | undefined;
  inflight = 0;
  maxInflight = 0;
  healthy: Array<Error | 'ok'> = [];
  healthCalls = 0;
  private lastPartition = '';

  encode(events: readonly LogEvent[], partition: string): Req {
    this.lastPartition = partition;
    return { body: events.map((e) => e.toJson()).join('\n') + '\n', seqs: events.map((e) => e.data.seq as number) };
  }

  async send(req: Req, payload: Payload, signal: AbortSignal): Promise<SendResult> {
    this.sent.push({ seqs: req.seqs, payload, partition: this.lastPartition });
    const step = this.script.shift();
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    try {
      await Promise.resolve();
      if (step === 'hang') {
        return await new Promise<SendResult>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
      }
      if (step instanceof Error) throw step;
      if (typeof step === 'function') return step(req.seqs);
      return step ?? { kind: 'ok' };
    } finally {
      this.inflight--;
    }
  }

  partition?(ev: LogEvent): string;

  async healthcheck(): Promise<void> {
    this.healthCalls++;
    const h = this.healthy.shift() ?? 'ok';
    if (h !== 'ok') throw h;
  }
}

function setup(options: DeliveryOptions = {}, opts: { partition?: (ev: LogEvent) => string; random?: () => number; ctx?: Partial<ComponentContext> } = {}) {
  const clock = new ManualClock();
  const proto = new ScriptedProtocol();
  if (opts.partition) proto.partition = opts.partition;
  const ctx = testContext('es_out', 'test', opts.ctx);
  const sink = createDeliverySink(
    proto,
    { compression: 'none', healthcheck: false, ...options, batch: { max_events: 10, max_bytes: 1_000_000, timeout_ms: 1000, ...options.batch }, request: { retry_initial_ms: 100, retry_max_ms: 1000, concurrency: 2, ...options.request } },
    ctx,
    { clock, random: opts.random ?? (() => 0.5) },
  );
  const counters = () => ctx.telemetry.snapshot();
  return { clock, proto, ctx, sink, counters };
}

const never = new AbortController().signal;

describe('sink-kit batching', () => {
  it('flushes at max_events and releases each batch once after delivery', async () => {
    const { sink, proto, clock, counters } = setup();
    const b = trackedBatch(makeEvents(25));
    sink.accept(b);
    await settle();
    assert.deepEqual(proto.sent.map((s) => s.seqs.length), [10, 10]);
    assert.equal(b.status(), undefined, 'not acked while 5 events wait in the open batch');
    await clock.advance(1000);
    assert.deepEqual(proto.sent.map((s) => s.seqs.length), [10, 10, 5]);
    assert.equal(await b.done, 'delivered');
    assert.equal(b.completions(), 1);
    assert.deepEqual(
      proto.sent.flatMap((s) => s.seqs),
      Array.from({ length: 25 }, (_, i) => i),
    );
    const c = counters();
    assert.equal(c.events_in, 25);
    assert.equal(c.events_delivered, 25);
    assert.equal(c.requests, 3);
    assert.ok((c.bytes_sent ?? 0) > 0);
  });

  it('flushes at max_bytes (estimated) and splits an encoded request over max_bytes before sending', async () => {
    // Events of ~500 bytes, so three of them are over the smallest max_bytes the schema allows (1024).
    const evs = makeEvents(6).map((e) => new LogEvent(e.origin, (e.raw as string).replace('"node_name"', `"pad":"${'x'.repeat(400)}","node_name"`), 'json', undefined, e.offset));
    const one = (evs[0] as LogEvent).size + 1;
    const { sink, proto } = setup({ batch: { max_bytes: one * 3, max_events: 100 } });
    const b = trackedBatch(evs);
    sink.accept(b);
    await settle();
    assert.deepEqual(proto.sent.map((s) => s.seqs.length), [3, 3]);
    assert.equal(await b.done, 'delivered');
  });

  it('flushes on timeout_ms measured from the first event', async () => {
    const { sink, proto, clock } = setup();
    sink.accept(trackedBatch(makeEvents(2)));
    await clock.advance(600);
    sink.accept(trackedBatch(makeEvents(2, 2)));
    await clock.advance(399);
    assert.equal(proto.sent.length, 0);
    await clock.advance(1);
    assert.deepEqual(proto.sent.map((s) => s.seqs), [[0, 1, 2, 3]]);
  });

  it('keeps one batch per partition and encodes each with its key', async () => {
    const { sink, proto, clock } = setup({}, { partition: (ev) => ((ev.data.seq as number) % 2 === 0 ? 'even' : 'odd') });
    const b = trackedBatch(makeEvents(6));
    sink.accept(b);
    await clock.advance(1000);
    const byPart = Object.fromEntries(proto.sent.map((s) => [s.partition, s.seqs]));
    assert.deepEqual(byPart, { even: [0, 2, 4], odd: [1, 3, 5] });
    assert.equal(await b.done, 'delivered');
  });

  it('merges several accepted batches into one request and releases each group', async () => {
    const { sink, proto, clock } = setup();
    const a = trackedBatch(makeEvents(3));
    const b = trackedBatch(makeEvents(3, 3));
    const empty = trackedBatch([]);
    sink.accept(a);
    sink.accept(b);
    sink.accept(empty);
    assert.equal(empty.status(), 'delivered', 'an empty batch is released at once');
    await clock.advance(1000);
    assert.equal(proto.sent.length, 1);
    assert.equal(await a.done, 'delivered');
    assert.equal(await b.done, 'delivered');
  });

  it('never has more than `concurrency` requests in flight', async () => {
    const { sink, proto, clock } = setup({ batch: { max_events: 1 }, request: { concurrency: 3 } });
    for (let i = 0; i < 3; i++) proto.script.push('hang');
    const b = trackedBatch(makeEvents(8));
    sink.accept(b);
    await settle();
    assert.equal(proto.sent.length, 3);
    assert.equal(proto.maxInflight, 3);
    await clock.advance(30_000); // request timeout: the hung ones are retried, the rest flow
    await clock.advance(5000);
    assert.equal(await b.done, 'delivered');
    assert.ok(proto.maxInflight <= 3);
  });

  it('gzips the payload and counts wire bytes', async () => {
    const { sink, proto, clock, counters } = setup({ compression: 'gzip' });
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    await b.done;
    void clock;
    const s = proto.sent[0];
    assert.ok(s);
    assert.equal(s.payload.encoding, 'gzip');
    const text = gunzipSync(s.payload.body as Buffer).toString('utf8');
    assert.equal(Buffer.byteLength(text), s.payload.rawBytes);
    assert.equal(counters().bytes_sent, s.payload.wireBytes);
    assert.ok(s.payload.wireBytes < s.payload.rawBytes);
  });
});

describe('sink-kit retry', () => {
  it('retries a transient failure after a full-jitter backoff, then delivers', async () => {
    // random 0.5: first retry waits 0.5 × 100 ms, the second 0.5 × 200 ms.
    const { sink, proto, clock, counters } = setup();
    proto.script.push({ kind: 'retry', reason: 'HTTP 503' }, new Error('ECONNRESET'));
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    await settle();
    assert.equal(proto.sent.length, 1);
    await clock.advance(49);
    assert.equal(proto.sent.length, 1);
    await clock.advance(1);
    assert.equal(proto.sent.length, 2);
    await clock.advance(99);
    assert.equal(proto.sent.length, 2);
    await clock.advance(1);
    assert.equal(proto.sent.length, 3);
    assert.equal(await b.done, 'delivered');
    assert.equal(counters().retries, 2);
    assert.equal(counters().events_delivered, 10);
  });

  it('waits out Retry-After when it is longer than the backoff', async () => {
    const { sink, proto, clock } = setup();
    proto.script.push({ kind: 'retry', reason: 'HTTP 429', afterMs: 3000 });
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    await clock.advance(2999);
    assert.equal(proto.sent.length, 1);
    await clock.advance(1);
    assert.equal(proto.sent.length, 2);
    assert.equal(await b.done, 'delivered');
  });

  it('caps the exponential backoff at retry_max_ms', async () => {
    const { sink, proto, clock } = setup({ request: { retry_initial_ms: 100, retry_max_ms: 400 } }, { random: () => 0.999999 });
    for (let i = 0; i < 6; i++) proto.script.push({ kind: 'retry', reason: 'x' });
    sink.accept(trackedBatch(makeEvents(10)));
    await settle();
    const times: number[] = [clock.now()];
    for (let i = 0; i < 6; i++) {
      const at = clock.nextAt();
      assert.ok(at !== undefined);
      await clock.advance(at - clock.now());
      times.push(clock.now());
    }
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    assert.deepEqual(gaps, [99, 199, 399, 399, 399, 399]);
  });

  it('resends only the items the server asked for, and rejects refused items', async () => {
    const { sink, proto, clock, counters, ctx } = setup();
    proto.script.push({ kind: 'retry_items', indices: [2, 7], rejected: [{ index: 5, reason: 'mapper_parsing_exception: bad field' }], reason: 'item 429', duplicates: 1 });
    const a = trackedBatch(makeEvents(5));
    const b = trackedBatch(makeEvents(5, 5));
    sink.accept(a);
    sink.accept(b);
    await clock.advance(1000);
    assert.deepEqual(proto.sent.map((s) => s.seqs), [Array.from({ length: 10 }, (_, i) => i), [2, 7]]);
    assert.equal(await a.done, 'delivered');
    assert.equal(await b.done, 'rejected', 'group b lost event 5 for good');
    const c = counters();
    assert.equal(c.events_delivered, 9);
    assert.equal(c.events_rejected, 1);
    assert.equal(c.events_duplicate, 1);
    assert.ok(ctx.records.some((r) => r.reason === 'mapper_parsing_exception: bad field'));
  });

  it('splits on too_large and rejects a single event that is too large', async () => {
    const { sink, proto, clock, counters } = setup({ batch: { max_events: 4 } });
    proto.script.push({ kind: 'too_large' }, { kind: 'ok' }, (seqs) => (seqs.includes(3) && seqs.length > 1 ? { kind: 'too_large' } : { kind: 'ok' }), { kind: 'too_large' });
    const b = trackedBatch(makeEvents(4));
    sink.accept(b);
    await clock.advance(10);
    assert.deepEqual(proto.sent.map((s) => s.seqs), [[0, 1, 2, 3], [0, 1], [2, 3], [2], [3]]);
    assert.equal(await b.done, 'rejected');
    assert.equal(counters().events_delivered, 3);
    assert.equal(counters().events_rejected, 1);
  });

  it('rejects a permanent failure without retrying and logs once per interval', async () => {
    const { sink, proto, clock, counters, ctx } = setup({ batch: { max_events: 1 } });
    for (let i = 0; i < 5; i++) proto.script.push({ kind: 'permanent', reason: 'HTTP 400: bad request' });
    const b = trackedBatch(makeEvents(5));
    sink.accept(b);
    await clock.advance(10);
    assert.equal(proto.sent.length, 5);
    assert.equal(await b.done, 'rejected');
    assert.equal(b.completions(), 1);
    assert.equal(counters().events_rejected, 5);
    assert.equal(counters().retries ?? 0, 0);
    assert.equal(ctx.records.filter((r) => r.msg.includes('refused events for good')).length, 1);
  });

  it('a request refused whole is split until the refused event stands alone: only it is rejected', async () => {
    const { sink, proto, clock, counters } = setup({ batch: { max_events: 4 } });
    // Events 0-3 in one request; the server refuses any request that holds event 2.
    for (let i = 0; i < 10; i++) proto.script.push((seqs) => (seqs.includes(2) ? { kind: 'permanent', reason: 'HTTP 400: bad event', status: 400 } : { kind: 'ok' }));
    const b = trackedBatch(makeEvents(4));
    sink.accept(b);
    await clock.advance(10);
    assert.deepEqual(proto.sent.map((s) => s.seqs), [[0, 1, 2, 3], [0, 1], [2, 3], [2], [3]]);
    assert.equal(await b.done, 'rejected');
    assert.equal(counters().events_delivered, 3);
    assert.equal(counters().events_rejected, 1);
  });

  it('gives up after retry_max_duration_ms and rejects', async () => {
    const { sink, proto, clock, counters } = setup({ request: { retry_max_duration_ms: 1000 } });
    for (let i = 0; i < 100; i++) proto.script.push({ kind: 'retry', reason: 'HTTP 503' });
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    await clock.advance(5000);
    assert.equal(await b.done, 'rejected');
    assert.equal(counters().events_rejected, 10);
  });

  it('retries a request that times out', async () => {
    const { sink, proto, clock } = setup({ request: { timeout_ms: 500 } });
    proto.script.push('hang');
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    await clock.advance(500);
    await clock.advance(100);
    assert.equal(proto.sent.length, 2);
    assert.equal(await b.done, 'delivered');
  });
});

describe('sink-kit pause on refused credentials', () => {
  it('pauses loudly once, keeps the data, probes slowly and resumes', async () => {
    const { sink, proto, clock, ctx, counters } = setup({ batch: { max_events: 5 }, request: { concurrency: 1, retry_max_ms: 1000 } });
    proto.script.push({ kind: 'auth', status: 401, reason: 'security_exception' }, { kind: 'auth', status: 401, reason: 'security_exception' });
    const b = trackedBatch(makeEvents(15));
    sink.accept(b);
    await settle();
    assert.equal(sink.state.paused, true);
    const errors = ctx.records.filter((r) => r.level === 50);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, 'TERN_ERR_SINK_AUTH');
    assert.equal(errors[0]?.status, 401);
    assert.match(errors[0]?.msg ?? '', /es_out/);
    await clock.advance(999);
    assert.equal(proto.sent.length, 1, 'no new request while paused');
    await clock.advance(1);
    assert.equal(proto.sent.length, 2, 'probe after retry_max_ms');
    await clock.advance(1000);
    assert.equal(sink.state.paused, false);
    assert.equal(await b.done, 'delivered');
    assert.equal(counters().events_delivered, 15);
    assert.equal(counters().events_rejected ?? 0, 0);
    assert.equal(ctx.records.filter((r) => r.level === 50).length, 1, 'one error for the whole episode');
  });

  it('treats a thrown TERN_ERR_SINK_UNSUPPORTED like a pause', async () => {
    const { sink, proto, clock, ctx } = setup({ request: { retry_max_ms: 200 } });
    proto.script.push(new TernError('TERN_ERR_SINK_UNSUPPORTED', 'server is OpenSearch'));
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    await settle();
    assert.equal(sink.state.paused, true);
    assert.ok(ctx.records.some((r) => r.code === 'TERN_ERR_SINK_UNSUPPORTED'));
    await clock.advance(200);
    assert.equal(await b.done, 'delivered');
  });
});

describe('sink-kit healthcheck', () => {
  it('buffers until the healthcheck passes, retrying it with backoff', async () => {
    const { sink, proto, clock } = setup({ healthcheck: true });
    proto.healthy.push(new Error('ECONNREFUSED'), new Error('ECONNREFUSED'));
    sink.start();
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    await settle();
    assert.equal(proto.sent.length, 0);
    assert.equal(sink.state.healthy, false);
    await clock.advance(50); // 0.5 × 100
    assert.equal(proto.healthCalls, 2);
    await clock.advance(100); // 0.5 × 200
    assert.equal(proto.healthCalls, 3);
    assert.equal(await b.done, 'delivered');
  });

  it('logs an unsupported server once as an error and keeps checking slowly', async () => {
    const { sink, proto, clock, ctx } = setup({ healthcheck: true, request: { retry_max_ms: 1000 } });
    const e = new TernError('TERN_ERR_SINK_UNSUPPORTED', 'the server is OpenSearch 2.11, not Elasticsearch');
    proto.healthy.push(e, e);
    sink.start();
    await clock.advance(1000);
    assert.equal(proto.healthCalls, 2);
    await clock.advance(1000);
    assert.equal(proto.healthCalls, 3);
    assert.equal(ctx.records.filter((r) => r.code === 'TERN_ERR_SINK_UNSUPPORTED').length, 1);
    assert.equal(sink.state.healthy, true);
  });

  it('skips the check when healthcheck is false', async () => {
    const { sink, proto } = setup({ healthcheck: false });
    sink.start();
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(proto.healthCalls, 0);
  });
});

describe('sink-kit stop', () => {
  it('flushes the partial batch and waits for in-flight retries', async () => {
    const { sink, proto, clock } = setup();
    proto.script.push({ kind: 'retry', reason: 'HTTP 503' });
    const b = trackedBatch(makeEvents(3));
    sink.accept(b);
    const stopped = sink.stop(never);
    let done = false;
    void stopped.then(() => (done = true));
    await settle();
    assert.equal(proto.sent.length, 1);
    assert.equal(done, false);
    await clock.advance(50);
    await stopped;
    assert.equal(b.status(), 'delivered');
    assert.equal(sink.stop(never), stopped, 'stop is idempotent');
  });

  it('gives up at the deadline without releasing undelivered acks', async () => {
    const { sink, proto, ctx } = setup();
    proto.script.push('hang');
    const b = trackedBatch(makeEvents(3));
    sink.accept(b);
    const deadline = new AbortController();
    const stopped = sink.stop(deadline.signal);
    await settle();
    deadline.abort();
    await stopped;
    assert.equal(b.status(), undefined);
    assert.equal(sink.state.outstanding, 3);
    assert.ok(ctx.records.some((r) => r.code === 'TERN_ERR_SHUTDOWN_TIMEOUT'));
  });

  it('returns shortly after the deadline even when a send ignores its abort signal', async () => {
    const { sink, proto } = setup();
    const stuck = new Promise<SendResult>(() => {});
    (proto as unknown as { send: () => Promise<SendResult> }).send = () => stuck;
    const b = trackedBatch(makeEvents(3));
    sink.accept(b);
    const deadline = new AbortController();
    const stopped = sink.stop(deadline.signal);
    await settle();
    deadline.abort();
    const t = Date.now();
    await stopped;
    assert.ok(Date.now() - t < 1500, 'bounded by the grace period');
    assert.equal(b.status(), undefined);
  });

  it('stops cleanly when nothing was accepted and before start', async () => {
    const { sink } = setup({ healthcheck: true });
    await sink.stop(never);
  });
});

describe('sink-kit acknowledgement model (randomized)', () => {
  // Random answers of every kind, random batch sizes and partitions: whatever happens, each group
  // completes exactly once, with `rejected` iff one of its events was refused, and the counters add up.
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: every group completes once and counters add up`, async () => {
      let s = seed * 7919;
      const rnd = (): number => {
        s = (s * 1103515245 + 12345) % 2147483648;
        return s / 2147483648;
      };
      const { sink, proto, clock, counters } = setup({ batch: { max_events: 1 + Math.floor(rnd() * 20) }, request: { concurrency: 1 + Math.floor(rnd() * 4) } }, { partition: (ev) => `p${(ev.data.seq as number) % 3}`, random: rnd });
      const refused = new Set<number>();
      const answer = (seqs: number[]): SendResult => {
        const r = rnd();
        if (r < 0.35) return { kind: 'ok' };
        if (r < 0.5) return { kind: 'retry', reason: 'HTTP 503' };
        if (r < 0.7) {
          const indices: number[] = [];
          const rejected: Array<{ index: number; reason: string }> = [];
          seqs.forEach((seq, i) => {
            const x = rnd();
            if (x < 0.3) indices.push(i);
            else if (x < 0.4) {
              rejected.push({ index: i, reason: 'item status 400: mapper_parsing_exception' });
              refused.add(seq);
            }
          });
          return { kind: 'retry_items', indices, rejected, reason: 'item 429' };
        }
        if (r < 0.8) {
          if (seqs.length === 1) refused.add(seqs[0] as number);
          return { kind: 'too_large' };
        }
        if (r < 0.85) {
          // A multi-event request refused whole is split, so only a lone event is refused for good.
          if (seqs.length === 1) refused.add(seqs[0] as number);
          return { kind: 'permanent', reason: 'HTTP 400' };
        }
        if (r < 0.9) return { kind: 'auth', status: 401, reason: 'security_exception' };
        return new Error('ECONNRESET') as never;
      };
      for (let i = 0; i < 400; i++) proto.script.push((seqs) => {
        const a = answer(seqs);
        if (a instanceof Error) throw a;
        return a;
      });
      const batches = [];
      let seq = 0;
      for (let b = 0; b < 12; b++) {
        const n = Math.floor(rnd() * 30);
        const tb = trackedBatch(makeEvents(n, seq));
        seq += n;
        batches.push(tb);
        sink.accept(tb);
      }
      for (let i = 0; i < 2000 && sink.state.outstanding > 0; i++) {
        const at = clock.nextAt();
        if (at === undefined) {
          await settle();
          continue;
        }
        await clock.advance(Math.max(0, at - clock.now()));
      }
      assert.equal(sink.state.outstanding, 0, 'everything settled');
      let start = 0;
      for (const b of batches) {
        assert.equal(b.completions(), 1);
        const mine = b.events.map((e) => e.data.seq as number);
        const anyRefused = mine.some((q) => refused.has(q));
        assert.equal(b.status(), anyRefused ? 'rejected' : 'delivered', `batch starting at ${start}`);
        start += b.events.length;
      }
      const c = counters();
      assert.equal((c.events_delivered ?? 0) + (c.events_rejected ?? 0), seq);
      assert.equal(c.events_rejected ?? 0, refused.size);
      assert.equal(c.events_in, seq);
    });
  }
});

describe('sink-kit buffer and admission', () => {
  it('admits a batch into a buffer with room at once (the in-flight budget returns) and delivers it later', async () => {
    const { sink, proto, clock } = setup({ batch: { max_events: 100, timeout_ms: 1000 } });
    const b = trackedBatch(makeEvents(10));
    sink.accept(b);
    assert.equal(b.admitted(), true, 'in the buffer: the budget may go');
    assert.equal(b.status(), undefined, 'but not acknowledged: not delivered yet');
    await clock.advance(1000);
    assert.equal(await b.done, 'delivered');
    assert.equal(proto.sent.length, 1);
  });

  it('when_full: block keeps a batch waiting (budget held) until delivered events make room', async () => {
    const { sink, proto, clock } = setup({ batch: { max_events: 10 }, buffer: { max_events: 10, when_full: 'block' }, request: { concurrency: 1 } });
    proto.script.push('hang');
    const first = trackedBatch(makeEvents(10, 0));
    const second = trackedBatch(makeEvents(10, 10));
    sink.accept(first);
    sink.accept(second);
    assert.equal(first.admitted(), true);
    assert.equal(second.admitted(), false, 'no room: it waits, holding its budget (backpressure)');
    assert.equal(sink.state.waiting, 1);
    // The hung request times out and is retried; then both go through.
    await clock.advance(30_000);
    await clock.advance(1000);
    assert.equal(await first.done, 'delivered');
    assert.equal(second.admitted(), true);
    assert.equal(await second.done, 'delivered');
  });

  it('when_full: drop_newest drops what does not fit, counts it and says so; the rest is delivered', async () => {
    const { sink, proto, clock, counters, ctx } = setup({ batch: { max_events: 10 }, buffer: { max_events: 10, when_full: 'drop_newest' }, request: { concurrency: 1 } });
    proto.script.push({ kind: 'retry', reason: 'HTTP 503' });
    const first = trackedBatch(makeEvents(10, 0));
    const second = trackedBatch(makeEvents(10, 10));
    sink.accept(first);
    sink.accept(second);
    assert.equal(second.status(), 'dropped');
    await clock.advance(100);
    assert.equal(await first.done, 'delivered');
    assert.equal(counters().events_dropped, 10);
    assert.ok(ctx.records.some((r) => /drop_newest/.test(r.msg)));
    assert.deepEqual(sink.report(), { delivered: 10, dead_lettered: 0, rejected: 0, dropped: 10, buffered: 0, undelivered: 0 });
  });
});

describe('sink-kit dead letters', () => {
  it('refused events go to the dead-letter output with their reason; the batch completes once the consumer took them', async () => {
    const sent: Array<{ events: LogEvent[]; info: readonly DeadLetterInfo[] | DeadLetterInfo; done: (s: 'delivered') => void }> = [];
    const deadLetters = { connected: true, send: (events: readonly LogEvent[], info: readonly DeadLetterInfo[] | DeadLetterInfo, done: (s: 'delivered') => void) => sent.push({ events: [...events], info, done }) };
    const { sink, proto, clock, counters } = setup({ batch: { max_events: 3 } }, { ctx: { deadLetters } });
    proto.script.push({ kind: 'retry_items', indices: [], rejected: [{ index: 1, reason: 'item status 400: mapper_parsing_exception', status: 400, answer: '{"type":"mapper_parsing_exception"}' }], reason: 'items' });
    const b = trackedBatch(makeEvents(3));
    sink.accept(b);
    await clock.advance(10);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.events[0]?.data.seq, 1);
    assert.equal((sent[0]?.info as DeadLetterInfo[])[0]?.status, 400);
    assert.equal(b.status(), undefined, 'held until the dead-letter consumer took it');
    sent[0]?.done('delivered');
    assert.equal(await b.done, 'dead_lettered');
    assert.equal(counters().events_dead_lettered, 1);
    assert.equal(counters().events_rejected ?? 0, 0, 'dead-lettered is not lost');
    assert.equal(counters().events_delivered, 2);
  });

  it('an event that cannot be encoded is refused alone; its batch goes on', async () => {
    const { sink, proto, clock, counters } = setup({ batch: { max_events: 3 } });
    const events = makeEvents(3);
    const deep = events[1] as LogEvent;
    let v: unknown = [];
    for (let i = 0; i < 20_000; i++) v = [v];
    deep.mutate().deep = v;
    const b = trackedBatch(events);
    sink.accept(b);
    await clock.advance(10);
    assert.equal(await b.done, 'rejected');
    assert.deepEqual(proto.sent.map((x) => x.seqs), [[0, 2]]);
    assert.equal(counters().events_rejected, 1);
    assert.equal(counters().encode_errors, 1);
  });
});

describe('sink-kit limits hold in every state', () => {
  it('retry_max_duration_ms also refuses events waiting behind a failing healthcheck', async () => {
    const { sink, proto, clock, counters } = setup({ healthcheck: true, request: { retry_max_duration_ms: 1000, retry_max_ms: 300 } });
    for (let i = 0; i < 50; i++) proto.healthy.push(new Error('ECONNREFUSED'));
    sink.start();
    const b = trackedBatch(makeEvents(5));
    sink.accept(b);
    await clock.advance(2000);
    assert.equal(await b.done, 'rejected');
    assert.equal(proto.sent.length, 0, 'nothing was sent to a server that never came up');
    assert.equal(counters().events_rejected, 5);
  });

  it('--once: refused credentials are reported to the run, which ends with that error once nothing moves', async () => {
    const fatal: Error[] = [];
    const { sink, proto, clock } = setup({}, { ctx: { fatal: (e) => fatal.push(e) } });
    proto.script.push({ kind: 'auth', status: 401, reason: 'security_exception' });
    sink.accept(trackedBatch(makeEvents(2)));
    await clock.advance(1000);
    assert.equal(fatal.length, 1);
    assert.match(fatal[0]?.message ?? '', /credentials refused \(HTTP 401\)/);
    assert.equal((fatal[0] as TernError).code, 'TERN_ERR_SINK_AUTH');
  });
});
