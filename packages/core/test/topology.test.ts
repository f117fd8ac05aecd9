/**
 * The diffable topology: what a configuration change keeps, rebuilds, adds and removes (diff.ts), and
 * `Pipeline.apply` on a running pipeline: an unchanged source keeps running (same instance, no
 * restart), a changed sink is replaced without losing an event, a removed sink drains before it stops,
 * a component that fails to build leaves the running pipeline as it was.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { diffTopology, loadPipeline, LogEvent, Pipeline, Registry, type SinkDefinition, type SourceDefinition, type TransformDefinition } from '../src/index.ts';
import { waitFor } from '../src/testing/helpers.ts';
import { memorySink, received, silent, splitTransform, tagTransform, tmp, writeYaml } from './helpers.ts';

/** Builds and instances per component id. */
const builds = new Map<string, number>();
const closed: string[] = [];
let emitted = 0;

/** Source `ticker`: a batch of 5 events `{n}` every `every_ms` until aborted (a live input). */
const ticker: SourceDefinition<{ every_ms: number }> = {
  kind: 'source',
  type: 'ticker',
  description: 'test source',
  schema: { type: 'object', additionalProperties: false, properties: { every_ms: { type: 'integer', default: 2 } } },
  build(cfg, ctx) {
    builds.set(ctx.id, (builds.get(ctx.id) ?? 0) + 1);
    return {
      async run() {
        const origin = { sourceId: ctx.id, path: 'ticker', host: 'test' };
        while (!ctx.signal.aborted) {
          const evs: LogEvent[] = [];
          for (let j = 0; j < 5; j++, emitted++) evs.push(new LogEvent(origin, JSON.stringify({ n: emitted }), 'json', { n: emitted }, emitted));
          await ctx.emit(evs).catch(() => undefined);
          await new Promise((r) => setTimeout(r, cfg.every_ms));
        }
      },
    };
  },
};

/** Sink `broken`: its build throws (a component that cannot be built from valid options). */
const broken: SinkDefinition<Record<string, never>> = {
  kind: 'sink',
  type: 'broken',
  description: 'test sink',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  build() {
    throw new Error('cannot open the thing');
  },
};

/** Transform `noted`: passes events, records its close. */
const noted: TransformDefinition<Record<string, never>> = {
  kind: 'transform',
  type: 'noted',
  description: 'test transform',
  mutates: false,
  schema: { type: 'object', additionalProperties: false, properties: {} },
  build(_cfg, ctx) {
    return { process: (events, emit) => emit(events), close: async () => void closed.push(ctx.id) };
  },
};

const registry = (): Registry => new Registry().register(ticker, memorySink, broken, noted, tagTransform, splitTransform);

function config(dir: string, yaml: string, name = 'p.yaml') {
  return loadPipeline([writeYaml(dir, name, yaml)], registry(), { env: {} });
}

const seen = (lists: ReadonlyArray<readonly unknown[] | undefined>): Set<number> => new Set(lists.flatMap((l) => (l ?? []).map((e) => (e as { n: number }).n)));

beforeEach(() => {
  builds.clear();
  received.clear();
  closed.length = 0;
  emitted = 0;
});

describe('diffTopology', () => {
  it('keeps unchanged components (a changed inputs list is rewiring), rebuilds changed ones, adds and removes', () => {
    const dir = tmp();
    const a = config(dir, 'sources:\n  s: { type: ticker }\ntransforms:\n  t: { type: tag, inputs: [s], value: x }\nsinks:\n  k: { type: memory, inputs: [t] }\n  gone: { type: memory, inputs: [s] }\n');
    const b = config(dir, 'sources:\n  s: { type: ticker }\ntransforms:\n  t: { type: tag, inputs: [s], value: y }\nsinks:\n  k: { type: memory, inputs: [t, s] }\n  new: { type: memory, inputs: [s] }\n', 'q.yaml');
    const d = diffTopology(a, b);
    assert.deepEqual([...d.keep].sort(), ['k', 's']);
    assert.deepEqual(d.change, ['t']);
    assert.deepEqual(d.add, ['new']);
    assert.deepEqual(d.remove, ['gone']);
    assert.equal(d.same, false);
    assert.equal(diffTopology(a, a).same, true);
    assert.deepEqual(diffTopology(undefined, a).add, ['s', 't', 'k', 'gone']);
  });

  it('a changed data_dir rebuilds sources and sinks (their checkpoints and buffers live there), not transforms', () => {
    const dir = tmp();
    const yaml = 'sources:\n  s: { type: ticker }\ntransforms:\n  t: { type: tag, inputs: [s], value: x }\nsinks:\n  k: { type: memory, inputs: [t] }\n';
    const d = diffTopology(config(dir, `data_dir: ./one\n${yaml}`), config(dir, `data_dir: ./two\n${yaml}`, 'q.yaml'));
    assert.deepEqual(d.keep, ['t']);
    assert.deepEqual([...d.change].sort(), ['k', 's']);
  });
});

describe('Pipeline.apply on a running pipeline', () => {
  it('a reload asked for before run() (a SIGHUP held while tern started) is applied after the start-up configuration, not undone by it', async () => {
    const dir = tmp();
    const p = new Pipeline(config(dir, 'sources:\n  s: { type: ticker }\nsinks:\n  old: { type: memory, inputs: [s] }\n'), { logger: silent });
    const reloaded = p.reload(config(dir, 'sources:\n  s: { type: ticker }\nsinks:\n  new: { type: memory, inputs: [s] }\n', 'q.yaml'));
    const run = p.run();
    try {
      assert.ok(await reloaded, 'the reload applied');
      await waitFor(() => (received.get('new')?.length ?? 0) >= 20, 5000, 'events at the new sink');
      assert.deepEqual(p.config.components.map((c) => c.id).sort(), ['new', 's']);
      const oldNow = received.get('old')?.length ?? 0;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(received.get('old')?.length ?? 0, oldNow, 'the start-up sink is gone');
    } finally {
      p.stop('signal');
      await run;
    }
  });

  it('replaces a changed sink and adds one while the unchanged source keeps running: every event arrives', async () => {
    const dir = tmp();
    const p = new Pipeline(config(dir, 'sources:\n  s: { type: ticker }\nsinks:\n  a: { type: memory, inputs: [s], delay_ms: 3 }\n'), { logger: silent });
    const run = p.run();
    await waitFor(() => (received.get('a')?.length ?? 0) >= 50, 5000, 'events at the first sink');
    const oldA = received.get('a');
    const r = await p.reload(config(dir, 'sources:\n  s: { type: ticker }\nsinks:\n  a: { type: memory, inputs: [s], label: changed }\n  b: { type: memory, inputs: [s] }\n', 'q.yaml'));
    assert.ok(r, 'the reload applied');
    assert.deepEqual(r.kept, ['s']);
    assert.deepEqual([...r.started].sort(), ['a', 'b']);
    assert.deepEqual(r.stopped, ['a']);
    const newA = received.get('a');
    assert.notEqual(newA, oldA, 'a new instance of a');
    await waitFor(() => (newA?.length ?? 0) >= 50 && (received.get('b')?.length ?? 0) >= 50, 5000, 'events at the new sinks');
    p.stop();
    const result = await run;
    assert.equal(result.ok, true, result.summary.problems.join('; '));
    assert.equal(builds.get('s'), 1, 'the source was built once: it kept running');
    const got = seen([oldA, newA]);
    for (let n = 0; n < emitted; n++) if (!got.has(n)) assert.fail(`event ${n} of ${emitted} never reached sink a (old or new)`);
    assert.equal(p.reloads.applied, 1);
  });

  it('a reload that changes every source replaces them and the pipeline runs on (the old instances stopping is not the inputs ending)', async () => {
    const dir = tmp();
    const p = new Pipeline(config(dir, 'sources:\n  s: { type: ticker }\nsinks:\n  a: { type: memory, inputs: [s] }\n'), { logger: silent });
    let ended = false;
    const run = p.run().finally(() => (ended = true));
    await waitFor(() => (received.get('a')?.length ?? 0) >= 20, 5000, 'events');
    const r = await p.reload(config(dir, 'sources:\n  s: { type: ticker, every_ms: 3 }\nsinks:\n  a: { type: memory, inputs: [s] }\n', 'q.yaml'));
    assert.ok(r, 'the reload applied');
    assert.deepEqual(r.started, ['s']);
    assert.equal(builds.get('s'), 2, 'a new instance of s');
    const a = received.get('a') as unknown[];
    const before = a.length;
    await waitFor(() => a.length >= before + 50, 5000, 'events from the new instance of s');
    assert.equal(p.signal.aborted, false, 'the pipeline was not stopped by the old source leaving');
    assert.equal(ended, false);
    p.stop();
    const result = await run;
    assert.equal(result.reason, 'signal', 'the run ended on the stop request, not because its inputs finished');
    assert.equal(result.ok, true, result.summary.problems.join('; '));
  });

  it('a component that fails to build rejects the reload and leaves the running pipeline as it was', async () => {
    const dir = tmp();
    const p = new Pipeline(config(dir, 'sources:\n  s: { type: ticker }\nsinks:\n  a: { type: memory, inputs: [s] }\n'), { logger: silent });
    const run = p.run();
    await waitFor(() => (received.get('a')?.length ?? 0) >= 10, 5000, 'events');
    const a = received.get('a') as unknown[];
    const r = await p.reload(config(dir, 'sources:\n  s: { type: ticker }\nsinks:\n  a: { type: memory, inputs: [s], label: x }\n  b: { type: broken, inputs: [s] }\n', 'q.yaml'));
    assert.equal(r, undefined);
    assert.equal(p.reloads.rejected, 1);
    assert.equal(received.get('a'), a, 'the old instance of a is still the one registered... and running');
    const before = a.length;
    await waitFor(() => a.length >= before + 20, 5000, 'more events at the old sink');
    assert.deepEqual(p.components().map((c) => c.id).sort(), ['a', 's']);
    p.stop();
    assert.equal((await run).ok, true);
  });

  it('a removed sink drains what it holds before it stops; a removed transform is closed; rewiring keeps the rest running', async () => {
    const dir = tmp();
    const p = new Pipeline(config(dir, 'sources:\n  s: { type: ticker }\ntransforms:\n  t: { type: noted, inputs: [s] }\nsinks:\n  a: { type: memory, inputs: [s] }\n  slow: { type: memory, inputs: [t], delay_ms: 200 }\n'), { logger: silent });
    const run = p.run();
    await waitFor(() => (received.get('slow')?.length ?? 0) >= 10, 5000, 'events at the slow sink');
    const r = await p.reload(config(dir, 'sources:\n  s: { type: ticker }\nsinks:\n  a: { type: memory, inputs: [s] }\n', 'q.yaml'));
    assert.deepEqual([...(r?.stopped ?? [])].sort(), ['slow', 't']);
    assert.deepEqual(closed, ['t']);
    // Every batch the slow sink accepted was acknowledged before it stopped: nothing is left in flight for it.
    const a = received.get('a') as unknown[];
    const before = a.length;
    await waitFor(() => a.length >= before + 20, 5000, 'events at the remaining sink');
    p.stop();
    const result = await run;
    assert.equal(result.ok, true, result.summary.problems.join('; '));
    assert.deepEqual(Object.keys(result.summary.sinks), ['a']);
  });
});
