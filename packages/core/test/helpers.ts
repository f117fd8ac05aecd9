/**
 * Test doubles for core's own tests: in-memory source and sink definitions that record what they
 * saw, and a silent logger. Real plugins are exercised in the CLI package's end-to-end tests.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LogEvent, Registry, type Batch, type Sink, type SinkDefinition, type SourceDefinition, type TransformDefinition } from '../src/index.ts';

export const silent = pino({ level: 'silent' });

export function tmp(prefix = 'tern-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeYaml(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Source `memory`: emits `count` events `{n: i}` in batches of `batch`, then finishes. */
export const memorySource: SourceDefinition<{ count: number; batch: number }> = {
  kind: 'source',
  type: 'memory',
  description: 'test source',
  schema: { type: 'object', additionalProperties: false, properties: { count: { type: 'integer', default: 10 }, batch: { type: 'integer', default: 3 } } },
  build(cfg, ctx) {
    return {
      async run() {
        const origin = { sourceId: ctx.id, path: 'memory', host: 'test' };
        for (let i = 0; i < cfg.count; i += cfg.batch) {
          const evs: LogEvent[] = [];
          for (let j = i; j < Math.min(cfg.count, i + cfg.batch); j++) evs.push(new LogEvent(origin, JSON.stringify({ n: j, src: ctx.id }), 'json', { n: j, src: ctx.id }, j));
          await ctx.emit(evs, (status) => acks.push({ source: ctx.id, status, first: i }));
        }
      },
    };
  },
};

export const acks: Array<{ source: string; status: string; first: number }> = [];
export const received = new Map<string, unknown[]>();

/** Sink `memory`: records event data per sink id; acknowledges after `delay_ms` (0 = at once). */
export const memorySink: SinkDefinition<{ delay_ms: number }> = {
  kind: 'sink',
  type: 'memory',
  description: 'test sink',
  schema: { type: 'object', additionalProperties: false, properties: { delay_ms: { type: 'integer', default: 0 }, label: { type: 'string', description: 'a label', examples: ['x'] } } },
  build(cfg, ctx): Sink {
    const list: unknown[] = [];
    received.set(ctx.id, list);
    const pending = new Set<Promise<void>>();
    return {
      accept(batch: Batch) {
        for (const e of batch.events) list.push(JSON.parse(e.toJson()));
        if (cfg.delay_ms === 0) batch.ack.release();
        else {
          const p = new Promise<void>((r) => setTimeout(r, cfg.delay_ms).unref()).then(() => {
            batch.ack.release();
            pending.delete(p);
          });
          pending.add(p);
        }
      },
      async stop() {
        await Promise.all(pending);
      },
    };
  },
};

/** Transform `tag`: sets `tag: <value>` on every event (mutating). */
export const tagTransform: TransformDefinition<{ value: string }> = {
  kind: 'transform',
  type: 'tag',
  description: 'test transform',
  mutates: true,
  schema: { type: 'object', additionalProperties: false, required: ['value'], properties: { value: { type: 'string' } } },
  validate: (cfg) => (cfg.value === 'bad' ? ['value: must not be "bad"'] : undefined),
  build(cfg) {
    return {
      process(events, emit) {
        for (const e of events) e.mutate().tag = cfg.value;
        emit(events);
      },
    };
  },
};

/** Transform `split`: named outputs `even` / `odd` by `n`. */
export const splitTransform: TransformDefinition<Record<string, never>> = {
  kind: 'transform',
  type: 'split',
  description: 'test router',
  mutates: false,
  schema: { type: 'object', additionalProperties: false, properties: {} },
  outputs: () => ['even', 'odd'],
  build() {
    return {
      process(events, emit) {
        emit(events.filter((e) => (e.data.n as number) % 2 === 0), 'even');
        emit(events.filter((e) => (e.data.n as number) % 2 === 1), 'odd');
      },
    };
  },
};

export function testRegistry(): Registry {
  return new Registry().register(memorySource, memorySink, tagTransform, splitTransform);
}
