/** The engine: fan-in, fan-out, named outputs, copies for mutating branches, acks and the in-flight bound. */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { AckGroup, InFlightBudget, loadPipeline, Pipeline, type SinkDefinition } from '../src/index.ts';
import { acks, received, silent, testRegistry, tmp, writeYaml } from './helpers.ts';

async function run(yaml: string) {
  const dir = tmp();
  const cfg = loadPipeline([writeYaml(dir, 'p.yaml', yaml)], testRegistry(), { env: {} });
  const p = new Pipeline(cfg, { logger: silent, once: true });
  const result = await p.run();
  return { result, p };
}

beforeEach(() => {
  acks.length = 0;
  received.clear();
});

describe('pipeline graph', () => {
  it('fans one source out to several sinks and acknowledges each batch once all of them delivered', async () => {
    const { result } = await run('sources:\n  a: { type: memory, count: 10, batch: 4 }\nsinks:\n  s1: { type: memory, inputs: [a] }\n  s2: { type: memory, inputs: [a], delay_ms: 5 }\n');
    assert.equal(result.drained, true);
    assert.equal(received.get('s1')?.length, 10);
    assert.equal(received.get('s2')?.length, 10);
    assert.deepEqual(acks.map((a) => a.first), [0, 4, 8]);
    assert.ok(acks.every((a) => a.status === 'delivered'));
  });

  it('fans several sources into one sink', async () => {
    await run('sources:\n  a: { type: memory, count: 5 }\n  b: { type: memory, count: 7 }\nsinks:\n  s: { type: memory, inputs: [a, b] }\n');
    const got = received.get('s') as Array<{ src: string }>;
    assert.equal(got.filter((e) => e.src === 'a').length, 5);
    assert.equal(got.filter((e) => e.src === 'b').length, 7);
  });

  it('routes named outputs and keeps a mutating branch from changing what another sink holds', async () => {
    await run(
      'sources:\n  a: { type: memory, count: 6 }\ntransforms:\n  r: { type: split, inputs: [a] }\n  t: { type: tag, inputs: [a], value: tagged }\nsinks:\n  raw: { type: memory, inputs: [a], delay_ms: 2 }\n  even: { type: memory, inputs: [r.even] }\n  odd: { type: memory, inputs: [r.odd] }\n  tagged: { type: memory, inputs: [t] }\n',
    );
    assert.deepEqual((received.get('even') as Array<{ n: number }>).map((e) => e.n), [0, 2, 4]);
    assert.deepEqual((received.get('odd') as Array<{ n: number }>).map((e) => e.n), [1, 3, 5]);
    assert.ok((received.get('tagged') as Array<{ tag?: string }>).every((e) => e.tag === 'tagged'));
    assert.ok((received.get('raw') as Array<{ tag?: string }>).every((e) => e.tag === undefined), 'the raw sink must not see the tag');
  });

  it('counts the bytes of the events each transform received and passed on, per output', async () => {
    const { p } = await run('sources:\n  a: { type: memory, count: 12, batch: 5 }\ntransforms:\n  r: { type: split, inputs: [a] }\n  t: { type: tag, inputs: [r.even], value: x }\nsinks:\n  even: { type: memory, inputs: [t] }\n');
    const line = (n: number): number => JSON.stringify({ n, src: 'a' }).length;
    const all = Array.from({ length: 12 }, (_, n) => line(n)).reduce((x, y) => x + y, 0);
    const even = Array.from({ length: 6 }, (_, i) => line(2 * i)).reduce((x, y) => x + y, 0);
    const c = p.telemetry.snapshot();
    assert.equal(c.r?.event_bytes_in, all);
    assert.equal(c.r?.event_bytes_out, all, 'split passes every event on, to one output or the other');
    assert.equal(c.t?.event_bytes_in, even, 't reads only r.even');
    assert.equal(c.t?.event_bytes_out, even);
  });

  it('acknowledges events a transform dropped', async () => {
    await run('sources:\n  a: { type: memory, count: 4, batch: 4 }\ntransforms:\n  r: { type: split, inputs: [a] }\nsinks:\n  even: { type: memory, inputs: [r.even] }\n');
    assert.equal(received.get('even')?.length, 2);
    assert.deepEqual(acks.map((a) => a.status), ['delivered']);
  });
});

describe('in-flight budget', () => {
  it('makes a source wait while the budget is spent and serves waiters in order', async () => {
    const b = new InFlightBudget(10, 1_000_000);
    assert.equal(b.acquire(6, 10), undefined);
    const order: number[] = [];
    const w1 = b.acquire(6, 10);
    const w2 = b.acquire(1, 10);
    assert.ok(w1 && w2, 'both wait: FIFO keeps the small one behind the big one');
    void w1.then(() => order.push(1));
    void w2.then(() => order.push(2));
    b.release(6, 10);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [1, 2]);
    assert.equal(b.events, 7);
  });

  it('an aborted wait takes no budget, rejects with AbortError, and lets the waiters behind it through', async () => {
    const b = new InFlightBudget(10, 1_000_000);
    assert.equal(b.acquire(6, 10), undefined);
    const ac = new AbortController();
    const big = b.acquire(6, 10, ac.signal);
    const small = b.acquire(1, 10);
    assert.ok(big && small);
    let smallDone = false;
    void small.then(() => (smallDone = true));
    ac.abort(new Error('stop'));
    await assert.rejects(big, { name: 'AbortError', message: 'stop' });
    await new Promise((r) => setImmediate(r));
    assert.equal(smallDone, true, 'the small waiter no longer queues behind the aborted one');
    assert.equal(b.events, 7);
    assert.equal(b.waiting, 0);
    const ac2 = new AbortController();
    ac2.abort();
    await assert.rejects(b.acquire(100, 10, ac2.signal) as Promise<void>, { name: 'AbortError' });
  });

  it('lets a batch larger than the whole budget through when nothing else is in flight', () => {
    const b = new InFlightBudget(10, 100);
    assert.equal(b.acquire(50, 5000), undefined);
  });

  it('bounds events in flight when the sink is slow', async () => {
    const dir = tmp();
    const cfg = loadPipeline([writeYaml(dir, 'p.yaml', 'in_flight: { max_events: 20 }\nsources:\n  a: { type: memory, count: 200, batch: 5 }\nsinks:\n  s: { type: memory, inputs: [a], delay_ms: 3 }\n')], testRegistry(), { env: {} });
    const p = new Pipeline(cfg, { logger: silent, once: true });
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, p.budget.events)), 1);
    const r = await p.run();
    clearInterval(timer);
    assert.equal(r.drained, true);
    assert.equal(received.get('s')?.length, 200);
    assert.ok(peak <= 20, `peak in flight ${peak} > 20`);
    assert.ok(peak > 0);
  });
});

describe('AckGroup', () => {
  it('runs its callback once when the last holder releases, reporting the worst status', () => {
    const seen: string[] = [];
    const g = new AckGroup(3, 30, (s) => seen.push(s));
    const own = g.ref();
    const a = g.ref();
    const b = g.ref();
    own.release();
    a.release('rejected');
    assert.deepEqual(seen, []);
    b.release('dead_lettered');
    assert.deepEqual(seen, ['rejected']);
    assert.throws(() => b.release(), /released twice/);
    assert.throws(() => g.ref(), /after completion/);
  });

  it('admission comes first: the budget callback runs once every holder admitted, before delivery', () => {
    const order: string[] = [];
    const g = new AckGroup(2, 20, () => order.push('done'), () => order.push('admitted'));
    const own = g.ref();
    const slow = g.ref();
    const fast = g.ref();
    own.release();
    fast.release('delivered'); // releasing admits too
    assert.deepEqual(order, []);
    slow.admit();
    slow.admit(); // idempotent
    assert.deepEqual(order, ['admitted'], 'the slow sink buffered the events: the budget may go');
    slow.release('delivered');
    assert.deepEqual(order, ['admitted', 'done']);
  });
});

describe('the stop deadline', () => {
  it('counts from the stop request, even when it comes while the start-up is still applying (a slow sink start)', async () => {
    // A sink whose start takes 400 ms and whose stop never ends: the run must still be over
    // shutdown_timeout_ms after stop(), not that long after the start-up finished.
    const slowStart: SinkDefinition<Record<string, never>> = {
      kind: 'sink',
      type: 'slow_start',
      description: 'test sink',
      schema: { type: 'object', additionalProperties: false, properties: {} },
      build: () => ({
        start: () => new Promise<void>((r) => setTimeout(r, 400)),
        accept() {},
        stop: () => new Promise<void>(() => undefined),
      }),
    };
    const dir = tmp();
    const cfg = loadPipeline([writeYaml(dir, 'p.yaml', 'shutdown_timeout_ms: 1000\nsources:\n  a: { type: memory, count: 3 }\nsinks:\n  s: { type: slow_start, inputs: [a] }\n')], testRegistry().register(slowStart), { env: {} });
    const p = new Pipeline(cfg, { logger: silent });
    const run = p.run();
    const stoppedAt = Date.now();
    p.stop('signal');
    await run;
    const took = Date.now() - stoppedAt;
    assert.ok(took < 1000, `over ${took} ms after the stop request (shutdown_timeout_ms 1000)`);
  });
});

describe('drain after the inputs end', () => {
  it('gives up when no sink acknowledges anything for shutdown_timeout_ms, and says it did not drain', async () => {
    const dir = tmp();
    const cfg = loadPipeline([writeYaml(dir, 'p.yaml', 'shutdown_timeout_ms: 200\nsources:\n  a: { type: memory, count: 3 }\nsinks:\n  s: { type: memory, inputs: [a], delay_ms: 600000 }\n')], testRegistry(), { env: {} });
    const p = new Pipeline(cfg, { logger: silent, once: true });
    const t0 = Date.now();
    const r = await p.run();
    assert.equal(r.drained, false);
    assert.ok(Date.now() - t0 < 5000);
  });

  it('keeps draining a slow sink that still makes progress, past shutdown_timeout_ms', async () => {
    const dir = tmp();
    const cfg = loadPipeline([writeYaml(dir, 'p.yaml', 'shutdown_timeout_ms: 150\nin_flight: { max_events: 5 }\nsources:\n  a: { type: memory, count: 40, batch: 1 }\nsinks:\n  s: { type: memory, inputs: [a], delay_ms: 30 }\n')], testRegistry(), { env: {} });
    const r = await new Pipeline(cfg, { logger: silent, once: true }).run();
    assert.equal(r.drained, true);
    assert.equal(received.get('s')?.length, 40);
  });
});
