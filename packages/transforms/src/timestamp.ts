/**
 * The `timestamp` transform: finds an event's own time (Tetragon `time`, Zeek `ts`, audit
 * `requestReceivedTimestamp`, Falco `output_fields.evt.time`, ...) and writes it as `@timestamp`, an
 * RFC 3339 UTC string with millisecond precision — what Elasticsearch's `date` type and Elastic's
 * ingest pipelines produce. When the input carried sub-millisecond precision, the full value is kept
 * as a nine-digit RFC 3339 string in `nanos_field` (map it as `date_nanos`), since `@timestamp` cannot
 * hold it. An event whose time cannot be read is never dropped: it gets the ingest time, a tag and a
 * count, so a dashboard can find it and the data still arrives.
 *
 * Parsing lives in `timestamp-parse.ts` (shared with the `ecs` profiles). Field paths are compiled
 * once at build time; a path segment may also match a literal dotted key (Falco writes
 * `output_fields` as `{"evt.time": ...}`, so `output_fields.evt.time` must find it).
 */
import { setPath } from '@tern/core';
import type { EventData, TransformDefinition } from '@tern/core';
import { formatIsoMs, formatIsoNanos, parseTime, TIMESTAMP_FORMATS } from './timestamp-parse.ts';
import type { TimestampFormat } from './timestamp-parse.ts';

export interface TimestampConfig {
  field?: string | string[];
  target?: string;
  format?: TimestampFormat;
  nanos_field?: string | null;
  on_error_tag?: string;
}

export const DEFAULT_TIMESTAMP_FIELDS: readonly string[] = ['time', 'ts', 'requestReceivedTimestamp', 'output_fields.evt.time', '@timestamp'];
export const DEFAULT_NANOS_FIELD = 'tern.timestamp_nanos';
export const DEFAULT_TIMESTAMP_ERROR_TAG = '_timestamp_failure';

type Lookup = (data: EventData) => unknown;

/**
 * Compiles a dotted path into a reader that tries, at each level, the longest literal dotted key
 * first (`evt.time` as one key) and then descends one segment. All joined keys are built here, not
 * per event.
 */
export function compileLookup(path: string): Lookup {
  const parts = path.split('.');
  const n = parts.length;
  if (n === 1) {
    const k = parts[0] as string;
    return (data) => data[k];
  }
  // joined[i][j] = parts[i..j].join('.')
  const joined: string[][] = [];
  for (let i = 0; i < n; i++) {
    const row: string[] = [];
    for (let j = i; j < n; j++) row[j] = parts.slice(i, j + 1).join('.');
    joined[i] = row;
  }
  const walk = (obj: Record<string, unknown>, i: number): unknown => {
    const row = joined[i] as string[];
    const whole = obj[row[n - 1] as string];
    if (whole !== undefined) return whole;
    for (let j = i; j < n - 1; j++) {
      const next = obj[row[j] as string];
      if (next !== null && typeof next === 'object' && !Array.isArray(next)) {
        const v = walk(next as Record<string, unknown>, j + 1);
        if (v !== undefined) return v;
      }
    }
    return undefined;
  };
  return (data) => walk(data, 0);
}

/** Appends `tag` to the event's `tags` (creating the array, or wrapping a lone string). */
export function addTag(doc: EventData, tag: string): void {
  const tags = doc.tags;
  if (Array.isArray(tags)) {
    if (!tags.includes(tag)) tags.push(tag);
  } else if (typeof tags === 'string') doc.tags = tags === tag ? [tag] : [tags, tag];
  else doc.tags = [tag];
}

export const timestampTransform: TransformDefinition<TimestampConfig> = {
  kind: 'transform',
  type: 'timestamp',
  description: "Parses the event's own time into @timestamp (RFC 3339 UTC, ms), keeping nanoseconds aside; tags events it cannot parse.",
  mutates: true,
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      field: {
        description:
          'Dotted path of the source time, or a list tried in order (the first present value wins). A segment also matches a literal dotted key, e.g. Falco `output_fields["evt.time"]`.',
        oneOf: [
          { type: 'string', minLength: 1 },
          { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        ],
        default: [...DEFAULT_TIMESTAMP_FIELDS],
        examples: ['time', ['ts', 'time']],
      },
      target: {
        description: 'Dotted path where the RFC 3339 UTC millisecond string is written.',
        type: 'string',
        minLength: 1,
        default: '@timestamp',
        examples: ['@timestamp', 'event.created'],
      },
      format: {
        description:
          'How to read the value. `auto`: RFC 3339 strings (any fraction, Z or offset), and epoch numbers or numeric strings whose unit is guessed from the integer part (≤11 digits seconds, ≤14 ms, ≤17 µs, ≤20 ns). The `epoch_*` formats force the unit.',
        type: 'string',
        enum: [...TIMESTAMP_FORMATS],
        default: 'auto',
        examples: ['auto', 'epoch_ns'],
      },
      nanos_field: {
        description:
          'Dotted path for the full-precision time as an RFC 3339 UTC string with nine fractional digits (map it as `date_nanos`); written only when the input had sub-millisecond precision. `null` disables it.',
        type: ['string', 'null'],
        default: DEFAULT_NANOS_FIELD,
        examples: [DEFAULT_NANOS_FIELD, null],
      },
      on_error_tag: {
        description: 'Tag appended to `tags` when no time could be read; the event then gets the ingest time.',
        type: 'string',
        minLength: 1,
        default: DEFAULT_TIMESTAMP_ERROR_TAG,
        examples: [DEFAULT_TIMESTAMP_ERROR_TAG],
      },
    },
  },
  validate(cfg) {
    const errors: string[] = [];
    const fields = cfg.field === undefined ? [] : Array.isArray(cfg.field) ? cfg.field : [cfg.field];
    for (const f of fields) if (f.split('.').some((p) => p === '')) errors.push(`field: "${f}" has an empty path segment`);
    if (cfg.target !== undefined && cfg.target.split('.').some((p) => p === '')) errors.push(`target: "${cfg.target}" has an empty path segment`);
    if (typeof cfg.nanos_field === 'string' && cfg.nanos_field.split('.').some((p) => p === ''))
      errors.push(`nanos_field: "${cfg.nanos_field}" has an empty path segment`);
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const fields = cfg.field === undefined ? DEFAULT_TIMESTAMP_FIELDS : Array.isArray(cfg.field) ? cfg.field : [cfg.field];
    const lookups = fields.map(compileLookup);
    const target = (cfg.target ?? '@timestamp').split('.');
    const format = cfg.format ?? 'auto';
    const nanosField = cfg.nanos_field === undefined ? DEFAULT_NANOS_FIELD.split('.') : cfg.nanos_field === null ? undefined : cfg.nanos_field.split('.');
    const tag = cfg.on_error_tag ?? DEFAULT_TIMESTAMP_ERROR_TAG;
    const failures = ctx.telemetry.counter('timestamp_failures');
    return {
      process(events, emit) {
        let ingest: string | undefined; // one clock read per batch, only if needed
        for (const ev of events) {
          let data: EventData;
          try {
            data = ev.data;
          } catch {
            // Not JSON although framed as such: it still gets a time and the tag (as a text line).
            ev.replace({ message: ev.raw ?? '' });
            data = ev.data;
          }
          let parsed;
          for (let i = 0; i < lookups.length; i++) {
            const v = (lookups[i] as Lookup)(data);
            if (v === undefined || v === null) continue;
            parsed = parseTime(v, format);
            break; // the first present value decides; a later field is not a silent fallback for garbage
          }
          const doc = ev.mutate();
          if (parsed !== undefined) {
            setPath(doc, target, formatIsoMs(parsed));
            if (nanosField !== undefined && parsed.subMs) setPath(doc, nanosField, formatIsoNanos(parsed));
          } else {
            ingest ??= new Date().toISOString();
            setPath(doc, target, ingest);
            addTag(doc, tag);
            failures.inc();
          }
        }
        emit(events);
      },
    };
  },
};
