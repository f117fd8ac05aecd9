/**
 * The `sample` transform: keeps 1 event in `rate` and drops the rest.
 *
 * Without `key_field` it keeps every `rate`-th event (the first, then one in each following run of
 * `rate`), a deterministic counter that carries across batches, as Vector's `sample` does: the kept
 * share is exact and tests are reproducible. With `key_field` the decision is a hash of the field's
 * value, so every event with the same key is kept or dropped together (all events of one process
 * `exec_id`, one Zeek connection `uid`): the sampled data stays internally consistent. An event
 * without the key field (e.g. a line that was not valid JSON) falls back to the counter.
 *
 * `exclude` is a CEL condition for events that must never be sampled away (alerts, exec events);
 * they pass and do not advance the counter. An exclude condition that errors counts as false.
 *
 * Counters: `events_dropped`, `condition_errors`, `decode_errors`.
 */
import { getPath, parsePath, type LogEvent, optionsSchema, type TransformDefinition } from '@tern/core';
import { compileCondition } from './cel.ts';
import { emitKept, fnv1a, keyAndExcludeErrors, keyString, readData } from './shared.ts';

export interface SampleConfig {
  /** Keep 1 event in `rate`. */
  rate: number;
  /** Field whose value decides consistently per key. */
  key_field?: string;
  /** CEL condition: matching events are always kept. */
  exclude?: string;
}

/** murmur3's finalizer: spreads FNV's weak low bits so `hash % rate` is uniform. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** True when the key falls in the kept 1/rate share (exported for tests and reuse). */
export function keepKey(key: string, rate: number): boolean {
  return mix(fnv1a(key)) % rate === 0;
}

export const sampleTransform: TransformDefinition<SampleConfig> = {
  kind: 'transform',
  type: 'sample',
  description: 'Keeps 1 event in `rate` (consistently per key with `key_field`); events matching `exclude` are always kept.',
  mutates: false,
  schema: optionsSchema<SampleConfig>()({
    type: 'object',
    additionalProperties: false,
    required: ['rate'],
    properties: {
      rate: {
        type: 'integer',
        minimum: 1,
        description: 'Keep 1 event in this many (1 keeps everything).',
        examples: [10, 100],
      },
      key_field: {
        type: 'string',
        minLength: 1,
        description:
          'Field whose value decides (by hash) whether an event is kept, so all events sharing a value are kept or dropped together. Events without it fall back to the 1-in-N counter. Default: no key (counter only).',
        examples: ['process_exec.process.exec_id', 'uid'],
      },
      exclude: {
        type: 'string',
        minLength: 1,
        description: 'CEL condition over `event`; events for which it is true are never sampled away. Default: none.',
        examples: ['has(event.process_exec)', 'event.priority in ["Critical", "Error"]'],
      },
    },
  }),
  validate: keyAndExcludeErrors,
  build(cfg, ctx) {
    const rate = Math.max(1, Math.floor(cfg.rate));
    const key = cfg.key_field === undefined ? undefined : parsePath(cfg.key_field);
    const exclude = cfg.exclude === undefined ? undefined : compileCondition(cfg.exclude);
    const dropped = ctx.telemetry.counter('events_dropped');
    const condErrors = ctx.telemetry.counter('condition_errors');
    const decodeErrors = ctx.telemetry.counter('decode_errors');
    const needData = key !== undefined || exclude !== undefined;
    let counter = 0;
    return {
      process(events, emit) {
        if (rate === 1) {
          if (events.length) emit(events);
          return;
        }
        const kept: LogEvent[] = [];
        for (const ev of events) {
          const data = needData ? readData(ev, decodeErrors) : undefined;
          if (exclude !== undefined && data !== undefined) {
            const r = exclude.test(data);
            if (r === true) {
              kept.push(ev);
              continue;
            }
            if (r === undefined) condErrors.inc();
          }
          const k = key !== undefined && data !== undefined ? getPath(data, key) : undefined;
          let keep: boolean;
          if (k !== undefined) keep = keepKey(keyString(k), rate);
          else {
            keep = counter % rate === 0;
            counter = (counter + 1) % rate;
          }
          if (keep) kept.push(ev);
        }
        emitKept(events, kept, dropped, emit);
      },
    };
  },
};
