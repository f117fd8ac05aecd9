/**
 * Encodes events as a `_bulk` NDJSON body: one `create` action line and the event's own JSON line
 * per event (§2.5). The document is the event's original line (`toJson()`), never re-serialised;
 * in data-stream mode an event without `@timestamp` gets one spliced in front of its first key.
 *
 * Targets (data stream or index name) come from core's templates, compiled once (`TARGET_TEMPLATE`:
 * `{{field}}` from event fields, `%Y %m %d %H` from the event time, lower-cased); the event time
 * follows core's time rules (field/time.ts), read straight from the line when the time field is its
 * last key. Document ids are deterministic (content hash, or host + file identity + offset), so a
 * replayed request answers 409 for what was already stored: exactly-once in effect.
 *
 * Pure: the same events always give the same body, so the kit may re-encode a subset to resend.
 */
import { hash } from 'node:crypto';
import { BodyWriter, compileTemplate, formatEpochMsIso, getPath, lastKeyString, LruMap, parsePath, stringifyEvent, timeMs, type EncodedRequest, type FieldPath, type LogEvent, type Template } from '@tern/core';
import type { ElasticsearchConfig } from './schema.ts';
import { DATA_STREAM_NAME, DEFAULT_INDEX, effectiveMode, TARGET_TEMPLATE, type EsIdStrategy } from './target.ts';

export interface BulkRequest extends EncodedRequest {
  readonly body: Buffer;
  /** Number of actions (= events), to check the response's item count. */
  readonly count: number;
}

/** The options the encoder reads (YAML keys, as the schema completes them). */
export type EncoderConfig = Pick<ElasticsearchConfig, 'mode' | 'index' | 'data_stream' | 'id' | 'timestamp_field'>;

/** Names remembered per cache (action-line prefixes, data-stream checks): a runaway template must not grow them forever. */
const NAME_CACHE = 10_000;
const AT_TIMESTAMP: FieldPath = ['@timestamp'];

export class BulkEncoder {
  private readonly target: Template | undefined;
  private readonly dsParts: readonly [Template, Template, Template] | undefined;
  private readonly constantTarget: string | undefined;
  private readonly needsTime: boolean;
  private readonly dataStreamMode: boolean;
  private readonly id: EsIdStrategy;
  private readonly timestampPath: FieldPath;
  /** `"<key>"` when the time field is a top-level key (then it may be read from the line). */
  private readonly timestampKey: string | undefined;
  private readonly now: () => number;
  /** Action-line prefixes per target name. */
  private readonly prefixes = new LruMap<string, string>(NAME_CACHE);
  private readonly dsNames = new LruMap<string, boolean>(NAME_CACHE);

  /** `now`: the clock for events without a usable time (injectable for tests). */
  constructor(c: EncoderConfig, now: () => number = Date.now) {
    this.dataStreamMode = effectiveMode(c) === 'data_stream';
    this.id = c.id;
    this.timestampPath = parsePath(c.timestamp_field);
    this.timestampKey = this.timestampPath.length === 1 ? JSON.stringify(this.timestampPath[0]) : undefined;
    this.now = now;
    if (this.dataStreamMode) {
      const ds = c.data_stream;
      const parts: [Template, Template, Template] = [compileTemplate(ds.type, TARGET_TEMPLATE), compileTemplate(ds.dataset, TARGET_TEMPLATE), compileTemplate(ds.namespace, TARGET_TEMPLATE)];
      this.dsParts = parts;
      this.constantTarget = parts.every((t) => t.constant !== undefined) ? parts.map((t) => t.constant).join('-') : undefined;
      this.needsTime = parts.some((t) => t.usesTime);
    } else {
      this.target = compileTemplate(c.index ?? DEFAULT_INDEX, TARGET_TEMPLATE);
      this.constantTarget = this.target.constant;
      this.needsTime = this.target.usesTime;
    }
  }

  /** The target (data stream or index) of one event. */
  targetOf(ev: LogEvent): string {
    if (this.constantTarget !== undefined) return this.constantTarget;
    const t = this.needsTime ? this.eventTime(ev) : 0;
    if (this.dsParts) return `${this.dsParts[0].render(ev, t)}-${this.dsParts[1].render(ev, t)}-${this.dsParts[2].render(ev, t)}`;
    return (this.target as Template).render(ev, t);
  }

  encode(events: readonly LogEvent[]): BulkRequest {
    let hint = 0;
    for (const ev of events) hint += ev.size + 160;
    const body = new BodyWriter(hint);
    for (const ev of events) {
      // Target first: rendering fields may parse the event, and the document must reflect that parse.
      const target = this.targetOf(ev);
      const doc = this.document(ev, this.dataStreamMode || this.isDataStream(target));
      body.write(this.prefix(target));
      if (this.id !== 'none') {
        body.write(',"_id":"');
        body.write(this.docId(ev, doc.original));
        body.write('"');
      }
      body.write('}}\n');
      // The spliced document goes out as its two pieces: joining them would copy every line once more.
      if (doc.timestamp !== undefined) {
        body.write('{"@timestamp":"');
        body.write(doc.timestamp);
        body.write(doc.rest === '}' ? '"' : '",');
      }
      body.write(doc.rest);
      body.write('\n');
    }
    return { body: body.toBuffer(), count: events.length };
  }

  /** Rough encoded size of one event, for `max_bytes` before encoding. */
  estimate(ev: LogEvent): number {
    return ev.size + 48 + (this.constantTarget?.length ?? 40) + (this.id === 'none' ? 0 : 36);
  }

  private prefix(target: string): string {
    let p = this.prefixes.get(target);
    if (p === undefined) {
      p = `{"create":{"_index":${JSON.stringify(target)}`;
      this.prefixes.set(target, p);
    }
    return p;
  }

  /** Whether an index-mode target is named like a data stream (then it needs `@timestamp` as one). */
  private isDataStream(target: string): boolean {
    let v = this.dsNames.get(target);
    if (v === undefined) {
      v = DATA_STREAM_NAME.test(target);
      this.dsNames.set(target, v);
    }
    return v;
  }

  /**
   * The document, and the original JSON the content hash is taken over (stable across @timestamp
   * splicing). The document is `rest` alone, or, when `timestamp` is set, `{"@timestamp":"<timestamp>",`
   * followed by `rest` (the original after its `{`; `"` instead of `",` when `rest` is just `}`).
   */
  private document(ev: LogEvent, dataStream: boolean): { timestamp: string | undefined; rest: string; original: string } {
    const first = ev.toJson();
    if (!dataStream) return { timestamp: undefined, rest: first, original: first };
    // Cheap tests first: parsing every line just to look for @timestamp would cost more than the send.
    // A document whose first key is @timestamp (what the ecs transform writes) needs no parse at all.
    if (first.startsWith('{"@timestamp":"')) return { timestamp: undefined, rest: first, original: first };
    if (hasTimestampKeyText(first) && ev.data['@timestamp'] !== undefined && !ev.invalidJson) return { timestamp: undefined, rest: first, original: first };
    const ts = formatEpochMsIso(this.eventTime(ev));
    // Reading the time may have parsed a lazily decoded line and found it is not JSON: this sink then
    // stores its tagged `{message, error, tags}` object (its own bytes; the shared event is untouched),
    // not a line Elasticsearch would refuse. (Unparsed, it goes as it is, and a refusal resends the tagged copy.)
    const original = ev.parsed && ev.invalidJson ? stringifyEvent(ev.data) : first;
    // `original` is a JSON object text: the field goes in after its `{`. Usually a key's quote follows
    // at once; anything else (blanks) is trimmed as before.
    const open = original.indexOf('{');
    const rest = original.charCodeAt(open + 1) === 0x22 ? original.slice(open + 1) : original.slice(open + 1).trimStart();
    // An empty object (`{}`, `{ }`) takes the field alone.
    return { timestamp: ts, rest: rest.startsWith('}') ? '}' : rest, original };
  }

  /** Event time in ms from `timestamp_field` (core's time rules), else `@timestamp`, else now. */
  private eventTime(ev: LogEvent): number {
    const key = this.timestampKey;
    if (key !== undefined && !ev.modified && ev.rawFormat === 'json' && ev.raw !== undefined && !ev.parsed) {
      // Tetragon's `time` is the line's last key: read it without parsing the line.
      const fast = lastKeyString(ev.raw, key);
      const t = fast === undefined ? undefined : timeMs(fast);
      if (t !== undefined) return t;
    }
    return timeMs(getPath(ev.data, this.timestampPath)) ?? timeMs(getPath(ev.data, AT_TIMESTAMP)) ?? this.now();
  }

  /** A deterministic `_id` (27 characters of base64url SHA-1; ids need uniqueness, not secrecy). */
  private docId(ev: LogEvent, original: string): string {
    if (this.id === 'source_offset' && ev.offset >= 0) {
      const o = ev.origin;
      return hash('sha1', `${o.host}\u0000${o.fileId ?? o.path}\u0000${ev.offset}`, 'base64url');
    }
    return hash('sha1', original, 'base64url');
  }
}

/**
 * Whether the text holds `"@timestamp"`. Searched as `@timestamp"` and checked for the opening quote:
 * V8 scans for a pattern's first character, and in JSON every other character is a quote, so a
 * pattern that starts with one crawls (0.66 µs per Tetragon line, against 0.05 starting at `@`).
 */
function hasTimestampKeyText(s: string): boolean {
  for (let i = s.indexOf('@timestamp"'); i !== -1; i = s.indexOf('@timestamp"', i + 11)) if (i > 0 && s.charCodeAt(i - 1) === 0x22) return true;
  return false;
}
