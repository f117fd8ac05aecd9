/**
 * The `dedupe` transform: drops events already seen recently.
 *
 * Identity is the event's original line by default (byte-identical duplicates, e.g. a file read
 * twice after a rotation mix-up or a Falco sidekick retry), or the values of `fields` (an event id
 * such as Falco's `uuid` or k8s audit's `auditID` plus `stage`). As in Vector's `dedupe`, a
 * missing field counts as the value "missing": events lacking all `fields` are duplicates of each
 * other, so choose fields every event carries. An event changed upstream (no original line) is
 * identified by its JSON; a line that was not valid JSON by its raw text (default identity) or as
 * an event lacking the `fields`.
 *
 * Seen identities sit in an LRU cache of `cache_size` entries; a hit refreshes the entry, so a key
 * that keeps repeating stays suppressed. Long identities are stored as a SHA-1 digest (native
 * one-shot hash) to bound memory at roughly `cache_size` × 100 bytes however long the lines are.
 *
 * Counters: `events_dropped`, `decode_errors`.
 */
import { hash } from 'node:crypto';
import { getPath, LruMap, parsePath, type FieldPath, type LogEvent, optionsSchema, type TransformDefinition } from '@tern/core';
import { emitKept, keyString, pathListErrors, readData } from './shared.ts';

/** Options as the schema completes them. */
export interface DedupeConfig {
  readonly fields?: readonly string[];
  readonly cache_size: number;
}

export const DEFAULT_CACHE_SIZE = 5000;
const DIGEST_ABOVE = 40;

function compactKey(s: string): string {
  return s.length > DIGEST_ABOVE ? hash('sha1', s, 'base64') : s;
}

export const dedupeTransform: TransformDefinition<DedupeConfig> = {
  kind: 'transform',
  type: 'dedupe',
  description: 'Drops events whose identity (the raw line, or chosen fields) was seen among the last `cache_size` identities.',
  mutates: false,
  schema: optionsSchema<DedupeConfig>()({
    type: 'object',
    additionalProperties: false,
    properties: {
      fields: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', minLength: 1 },
        description: 'Fields whose values together identify an event (missing fields count as "missing"). Default: the whole original line.',
        examples: [['uuid'], ['auditID', 'stage'], ['process_exec.process.exec_id']],
      },
      cache_size: {
        type: 'integer',
        minimum: 1,
        default: DEFAULT_CACHE_SIZE,
        description: 'How many recent identities are remembered (least recently seen forgotten first).',
        examples: [5000, 100000],
      },
    },
  }),
  validate(cfg) {
    const errors = pathListErrors('fields', cfg.fields);
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const fields: FieldPath[] | undefined = cfg.fields?.map(parsePath);
    const cache = new LruMap<string, true>(cfg.cache_size);
    const dropped = ctx.telemetry.counter('events_dropped');
    const decodeErrors = ctx.telemetry.counter('decode_errors');

    const identity = (ev: LogEvent): string => {
      if (fields === undefined) {
        if (!ev.modified && ev.raw !== undefined) return ev.raw;
        return ev.toJson();
      }
      const data = readData(ev, decodeErrors);
      if (fields.length === 1) return keyString(getPath(data, fields[0] as FieldPath));
      let k = '';
      for (const f of fields) k += keyString(getPath(data, f)) + '\u0000';
      return k;
    };

    return {
      process(events, emit) {
        const kept: LogEvent[] = [];
        for (const ev of events) {
          let id: string;
          try {
            id = compactKey(identity(ev));
          } catch {
            // toJson() of an unparsable modified event: nothing to compare, let it through.
            kept.push(ev);
            continue;
          }
          if (cache.get(id) !== undefined) continue;
          cache.set(id, true);
          kept.push(ev);
        }
        emitKept(events, kept, dropped, emit);
      },
    };
  },
};
