/**
 * The `timestamp` transform: finds an event's own time (Tetragon `time`, Zeek `ts`, audit
 * `requestReceivedTimestamp`, Falco `output_fields.evt.time`, ...) and writes it as `@timestamp`, an
 * RFC 3339 UTC string with millisecond precision — what Elasticsearch's `date` type and Elastic's
 * ingest pipelines produce. When the input carried sub-millisecond precision, the full value is kept
 * as a nine-digit RFC 3339 string in `nanos_field` (map it as `date_nanos`), since `@timestamp` cannot
 * hold it. An event whose time cannot be read is never dropped: it gets the ingest time, a tag and a
 * count, so a dashboard can find it and the data still arrives.
 *
 * The fields are added with `LogEvent.appendFields` when none of their top-level keys is in the event
 * yet (the usual case): an unchanged line then keeps its bytes and a sink right after this stage
 * writes it with `,"@timestamp":…` appended instead of re-serialising the whole event. Where the
 * target's root already exists they are set with `setPath` into the fields, as before.
 *
 * Parsing is core's one set of time rules (`@tern/core` field/time.ts, shared with the `ecs`
 * profiles and the sinks). Field paths are parsed once at build time and read with
 * `getPathDotted`, so a path also finds a literal dotted key (Falco writes `output_fields` as
 * `{"evt.time": ...}`, so `output_fields.evt.time` must find it).
 */
import { formatIsoMs, formatIsoNanos, getPathDotted, parsePath, parseTime, setPath, TIMESTAMP_FORMATS, type EventData, type FieldPath, type TimestampFormat, optionsSchema, type TransformDefinition } from '@tern/core';
import { addTag, pathListErrors } from './shared.ts';

/** Options as the schema completes them (every one has a default). */
export interface TimestampConfig {
  readonly field: string | readonly string[];
  readonly target: string;
  readonly format: TimestampFormat;
  readonly nanos_field: string | null;
  readonly on_error_tag: string;
}

export const DEFAULT_TIMESTAMP_FIELDS: readonly string[] = ['time', 'ts', 'requestReceivedTimestamp', 'output_fields.evt.time', '@timestamp'];
export const DEFAULT_NANOS_FIELD = 'tern.timestamp_nanos';
export const DEFAULT_TIMESTAMP_ERROR_TAG = '_timestamp_failure';

export const timestampTransform: TransformDefinition<TimestampConfig> = {
  kind: 'transform',
  type: 'timestamp',
  description: "Parses the event's own time into @timestamp (RFC 3339 UTC, ms), keeping nanoseconds aside; tags events it cannot parse.",
  mutates: true,
  schema: optionsSchema<TimestampConfig>()({
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
  }),
  validate(cfg) {
    const errors = [...pathListErrors('field', cfg.field), ...pathListErrors('target', cfg.target)];
    if (cfg.nanos_field !== null) errors.push(...pathListErrors('nanos_field', cfg.nanos_field));
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const fields = (typeof cfg.field === 'string' ? [cfg.field] : cfg.field).map(parsePath);
    const target = parsePath(cfg.target);
    const format = cfg.format;
    const nanosField = cfg.nanos_field === null ? undefined : parsePath(cfg.nanos_field);
    const tag = cfg.on_error_tag;
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
          for (let i = 0; i < fields.length; i++) {
            const v = getPathDotted(data, fields[i] as FieldPath);
            if (v === undefined || v === null) continue;
            parsed = parseTime(v, format);
            break; // the first present value decides; a later field is not a silent fallback for garbage
          }
          if (parsed !== undefined) {
            // The new fields as their own object first: when none of its top-level keys is in the
            // event yet, appending them is exactly what setPath on the event would do.
            const ms = formatIsoMs(parsed);
            const nanos = nanosField !== undefined && parsed.subMs ? formatIsoNanos(parsed) : undefined;
            const add: EventData = {};
            setPath(add, target, ms);
            if (nanosField !== undefined && nanos !== undefined) setPath(add, nanosField, nanos);
            let fresh = true;
            for (const k in add) if (Object.hasOwn(data, k)) fresh = false;
            if (fresh) ev.appendFields(add);
            else {
              const doc = ev.mutate();
              setPath(doc, target, ms);
              if (nanosField !== undefined && nanos !== undefined) setPath(doc, nanosField, nanos);
            }
          } else {
            const doc = ev.mutate();
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
