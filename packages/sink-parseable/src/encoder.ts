/**
 * Encodes a batch (one stream: the kit partitions by rendered stream name) as the JSON array body
 * of `POST /api/v1/ingest` (§3.4).
 *
 * Two rewrites keep Parseable from doing something other than "one event, one row":
 * - arrays: Parseable explodes every array into one row per element (a cartesian product across
 *   arrays, §3.4), so by default every array value, at any depth, is sent as its JSON string
 *   (`"args":"[{\"int_arg\":3}]"`). `explode_arrays: true` keeps them.
 * - `p_timestamp`: reserved; an event carrying it would make the server refuse the whole request
 *   (400). A top-level `p_timestamp` is renamed `_p_timestamp` (the `_` prefix is what Parseable
 *   itself does to `@` names); when the event already has `_p_timestamp`, the original is dropped.
 *
 * Everything else goes in as the original line (`toJson()`): the array body is the lines joined by
 * commas. A line is parsed only when it might need a rewrite (it contains `[` or `"p_timestamp"`),
 * and re-serialised only when it really did.
 *
 * Pure: the same events always give the same body, so the kit may re-encode subsets to split.
 */
import { compileTemplate, LruMap, NAME_TEMPLATE, stringifyEvent, type EncodedRequest, type EventOrigin, type LogEvent, type Template } from '@tern/core';
import { sanitizeStream, type ParseableConfig } from './schema.ts';

export interface ParseableRequest extends EncodedRequest {
  readonly body: string;
  readonly stream: string;
  readonly count: number;
  readonly events: readonly LogEvent[];
}

/** The options the encoder reads (YAML keys, as the schema completes them). */
export type EncoderConfig = Pick<ParseableConfig, 'stream' | 'explode_arrays'>;

export const RENAMED_P_TIMESTAMP = '_p_timestamp';

export class ParseableEncoder {
  private readonly stream: Template;
  private readonly explodeArrays: boolean;
  /** Sanitised names per rendered value; bounded (a runaway template must not grow it forever). */
  private readonly names = new LruMap<string, string>(10_000);
  /** Stream per origin (one per file), when the template reads only origin names such as `{{@source}}`. */
  private readonly byOrigin: WeakMap<EventOrigin, string> | undefined;

  constructor(c: EncoderConfig) {
    this.stream = compileTemplate(c.stream, NAME_TEMPLATE);
    this.explodeArrays = c.explode_arrays;
    this.byOrigin = this.stream.constant === undefined && !this.stream.readsData ? new WeakMap() : undefined;
  }

  /** The stream of an event (sanitised to Parseable's charset). */
  partition(ev: LogEvent): string {
    const c = this.stream.constant;
    if (c !== undefined) return c;
    if (this.byOrigin !== undefined) {
      let name = this.byOrigin.get(ev.origin);
      if (name === undefined) {
        name = sanitizeStream(this.stream.render(ev));
        this.byOrigin.set(ev.origin, name);
      }
      return name;
    }
    const rendered = this.stream.render(ev);
    let name = this.names.get(rendered);
    if (name === undefined) {
      name = sanitizeStream(rendered);
      this.names.set(rendered, name);
    }
    return name;
  }

  /**
   * Encoded size of one event (the line and a comma), erring a little high: the kit flushes a
   * batch once the estimates reach `max_bytes` and splits a body that came out larger, so an exact
   * estimate would have most byte-limited batches encoded twice and sent as two half requests.
   * Stringified arrays also grow a line by their escaped quotes.
   */
  estimate(ev: LogEvent): number {
    const n = ev.size;
    return n + 2 + (n >>> 6);
  }

  encode(events: readonly LogEvent[], stream: string): ParseableRequest {
    let body = '[';
    for (let i = 0; i < events.length; i++) {
      if (i > 0) body += ',';
      body += this.line(events[i] as LogEvent);
    }
    return { body: `${body}]`, stream, count: events.length, events };
  }

  /**
   * Events this sink sends re-serialised from their parsed values instead of their original lines
   * (Parseable's parser refused the line: duplicate keys). The sink's own encoding choice: the
   * shared event is never changed, and entries go with the events.
   */
  private readonly reserialized = new WeakSet<LogEvent>();

  /** Marks events to be sent re-serialised from now on; false when they all already are. */
  reserialize(events: readonly LogEvent[]): boolean {
    let changed = false;
    for (const ev of events) {
      if (ev.modified || this.reserialized.has(ev)) continue;
      this.reserialized.add(ev);
      changed = true;
    }
    return changed;
  }

  /** One event's JSON: the original line unless an array or `p_timestamp` must be rewritten. */
  line(ev: LogEvent): string {
    const json = this.reserialized.has(ev) ? stringifyEvent(ev.data) : ev.toJson();
    const mayHaveArray = !this.explodeArrays && json.includes('[');
    const mayHaveReserved = ev.parsed ? Object.hasOwn(ev.data, 'p_timestamp') : json.includes('"p_timestamp"');
    if (!mayHaveArray && !mayHaveReserved) return json;
    const data = ev.data;
    let changed = false;
    let out: Record<string, unknown> = data;
    if (mayHaveArray) {
      const s = stringifyArrays(data);
      if (s !== data) {
        out = s as Record<string, unknown>;
        changed = true;
      }
    }
    if (mayHaveReserved && Object.hasOwn(out, 'p_timestamp')) {
      const { p_timestamp: original, ...rest } = out;
      out = Object.hasOwn(rest, RENAMED_P_TIMESTAMP) ? rest : { ...rest, [RENAMED_P_TIMESTAMP]: original };
      changed = true;
    }
    return changed ? JSON.stringify(out) : json;
  }
}

/**
 * A copy of `v` with every array value replaced by its JSON string; `v` itself (same reference)
 * when it holds no array, so unchanged subtrees are shared, not copied.
 */
export function stringifyArrays(v: unknown): unknown {
  if (Array.isArray(v)) return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return v;
  let copy: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const y = stringifyArrays(x);
    if (y !== x) {
      copy ??= { ...(v as Record<string, unknown>) };
      copy[k] = y;
    }
  }
  return copy ?? v;
}
