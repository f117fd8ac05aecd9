/**
 * Encodes a batch (one tag set: the kit partitions by rendered tags) into one LogScale request body:
 *
 * - structured (§1.3): `[{"tags":{…},"events":[{"timestamp":…,"attributes":<event>,"rawstring"?}]}]`
 * - unstructured (§1.4): `[{"tags":{…},"messages":["<line>",…]}]`
 * - hec (§1.5): concatenated `{"event":<event>,"time":<epoch s>,"fields":{"#tag":…}}` objects
 *
 * The event goes in as its original line (`toJson()`), never re-serialised; the timestamp follows
 * core's time rules (field/time.ts) and is read straight from the line when it can be (Tetragon's
 * `"time"` is the last key), so an unchanged event is not parsed at all unless a tag template names
 * one of its fields. Tags are core templates (`NAME_TEMPLATE`: a missing field renders `unknown`).
 *
 * Pure apart from the clock for events without a time: the kit may re-encode subsets to split.
 */
import { hash } from 'node:crypto';
import { compileTemplate, getPath, lastKeyString, NAME_TEMPLATE, parsePath, timeMs, type EncodedRequest, type EventOrigin, type FieldPath, type LogEvent, type Template } from '@tern/core';
import type { LogScaleConfig, LogScaleMode } from './schema.ts';

export interface LogScaleRequest extends EncodedRequest {
  readonly body: string;
  readonly count: number;
  readonly events: readonly LogEvent[];
}

/** The options the encoder reads (YAML keys, as the schema completes them). */
export type EncoderConfig = Pick<LogScaleConfig, 'mode' | 'tags' | 'timestamp_fields' | 'rawstring' | 'event_id'>;

/**
 * RFC 3339 as LogScale's structured endpoint parses it: such strings go out unchanged (their zone
 * and digits kept). A `,` decimal sign or a space for `T` is RFC 3339 too, but not every parser
 * takes it: those times go out as epoch ms.
 */
const LOGSCALE_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** An event time: epoch milliseconds, and the string to send as is when it is one. */
export interface Time {
  readonly ms: number;
  readonly iso?: string;
}

export class LogScaleEncoder {
  private readonly mode: LogScaleMode;
  private readonly tags: ReadonlyArray<readonly [string, Template]>;
  /** The tags JSON when no template reads per-event values. */
  private readonly constantTags: string | undefined;
  /** Tags per origin (one per file), when templates read only origin names such as `{{@host}}`. */
  private readonly byOrigin: WeakMap<EventOrigin, string> | undefined;
  /** Time fields: the parsed path, and the quoted key when it is a top-level one (read from the line). */
  private readonly fields: ReadonlyArray<{ readonly path: FieldPath; readonly key: string | undefined }>;
  private readonly rawstring: boolean;
  private readonly eventId: boolean;
  private readonly now: () => number;

  /** `now`: the clock for events without a usable time (injectable for tests). */
  constructor(c: EncoderConfig, now: () => number = Date.now) {
    this.mode = c.mode;
    this.tags = Object.entries(c.tags).map(([k, v]) => [k, compileTemplate(v, NAME_TEMPLATE)] as const);
    this.constantTags = this.tags.every(([, t]) => t.constant !== undefined) ? tagsJson(this.tags.map(([k, t]) => [k, t.constant as string])) : undefined;
    this.byOrigin = this.constantTags === undefined && this.tags.every(([, t]) => !t.readsData) ? new WeakMap() : undefined;
    this.fields = c.timestamp_fields.map((f) => {
      const path = parsePath(f);
      return { path, key: path.length === 1 ? JSON.stringify(path[0]) : undefined };
    });
    this.rawstring = c.rawstring && c.mode !== 'unstructured';
    this.eventId = c.event_id && c.mode !== 'unstructured';
    this.now = now;
  }

  /** The partition key of an event: its tags as the JSON object the request carries. */
  partition(ev: LogEvent): string {
    if (this.constantTags !== undefined) return this.constantTags;
    if (this.byOrigin !== undefined) {
      let tags = this.byOrigin.get(ev.origin);
      if (tags === undefined) {
        tags = tagsJson(this.tags.map(([k, t]) => [k, t.render(ev)]));
        this.byOrigin.set(ev.origin, tags);
      }
      return tags;
    }
    return tagsJson(this.tags.map(([k, t]) => [k, t.render(ev)]));
  }

  /**
   * Encoded size of one event, for `max_bytes` before encoding, erring a little high: the kit
   * flushes a batch once the estimates reach `max_bytes` and splits a body that came out larger,
   * so an estimate that is exact or low would have most byte-limited batches encoded twice and
   * sent as two half requests. Envelope: `{"timestamp":<≤34>,"attributes":…}` and a comma (~62).
   */
  estimate(ev: LogEvent): number {
    const n = ev.size;
    let e = n + 80 + (this.eventId ? 44 : 0);
    // A JSON string of the line escapes its quotes: about one character in eight for JSON lines.
    if (this.rawstring || this.mode === 'unstructured') e += n + (n >>> 3) + 16;
    return e;
  }

  encode(events: readonly LogEvent[], tags: string): LogScaleRequest {
    const count = events.length;
    switch (this.mode) {
      case 'structured':
        return { body: this.structured(events, tags), count, events };
      case 'unstructured':
        // Lines travel as JSON strings here: a malformed one cannot break the body.
        return { body: this.unstructured(events, tags), count, events };
      case 'hec':
        return { body: this.hec(events, tags), count, events };
    }
  }

  private structured(events: readonly LogEvent[], tags: string): string {
    let body = tags === '{}' ? '[{"events":[' : `[{"tags":${tags},"events":[`;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i] as LogEvent;
      const t = this.time(ev);
      body += i === 0 ? '{"timestamp":' : ',{"timestamp":';
      body += t.iso !== undefined ? JSON.stringify(t.iso) : String(t.ms);
      body += ',"attributes":';
      body += this.attributes(ev);
      if (this.rawstring) body += `,"rawstring":${JSON.stringify(ev.raw ?? ev.toJson())}`;
      body += '}';
    }
    return `${body}]}]`;
  }

  private unstructured(events: readonly LogEvent[], tags: string): string {
    let body = tags === '{}' ? '[{"messages":[' : `[{"tags":${tags},"messages":[`;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i] as LogEvent;
      if (i > 0) body += ',';
      // A changed event has no faithful original line: its current JSON is the message.
      body += JSON.stringify(ev.modified || ev.raw === undefined ? ev.toJson() : ev.raw);
    }
    return `${body}]}]`;
  }

  private hec(events: readonly LogEvent[], tags: string): string {
    // Tags become `#`-prefixed fields, which LogScale's HEC endpoint turns into tags (§1.5).
    let fields = '';
    if (tags !== '{}') {
      const t = JSON.parse(tags) as Record<string, string>;
      fields = Object.entries(t)
        .map(([k, v]) => `${JSON.stringify(`#${k}`)}:${JSON.stringify(v)}`)
        .join(',');
    }
    let body = '';
    for (const ev of events) {
      const ms = this.time(ev).ms;
      body += '{"event":';
      body += this.rawstring ? JSON.stringify(ev.raw ?? ev.toJson()) : ev.toJson();
      body += `,"time":${ms / 1000}`;
      const id = this.eventId ? this.idOf(ev) : undefined;
      if (fields !== '' || id !== undefined) body += `,"fields":{${fields}${id !== undefined ? `${fields === '' ? '' : ','}"event_id":"${id}"` : ''}}`;
      body += '}';
    }
    return body;
  }

  /** The attributes object: the original line, with `event_id` spliced in front when asked for. */
  private attributes(ev: LogEvent): string {
    const json = ev.toJson();
    if (!this.eventId) return json;
    const id = this.idOf(ev);
    if (id === undefined) return json;
    const rest = json.slice(1).trimStart();
    return rest.startsWith('}') ? `{"event_id":"${id}"}` : `{"event_id":"${id}",${rest}`;
  }

  /** Stable id: host + file identity + offset when the event has one, else the line's hash; undefined when the event has its own `event_id`. */
  private idOf(ev: LogEvent): string | undefined {
    const json = ev.toJson();
    if ((ev.parsed || json.includes('"event_id"')) && ev.data.event_id !== undefined) return undefined;
    if (ev.offset >= 0) {
      const o = ev.origin;
      return hash('sha1', `${o.host}\u0000${o.fileId ?? o.path}\u0000${ev.offset}`, 'base64url');
    }
    return hash('sha1', json, 'base64url');
  }

  /** The event time from the first of `timestamp_fields` present, else now. */
  time(ev: LogEvent): Time {
    // Parsed already (the default `json` decoding): field lookups are cheaper than scanning the text.
    // Not parsed: the unchanged JSON line, or the JSON text a stage gave (replaceJson), never a stale line.
    const raw = ev.parsed ? undefined : ev.modified || ev.rawFormat === 'json' ? ev.toJson() : undefined;
    for (const f of this.fields) {
      if (raw !== undefined && f.key !== undefined) {
        // A key that does not occur in the line as a quoted string is not in the event: no parse needed.
        if (!raw.includes(f.key)) continue;
        const fast = lastKeyString(raw, f.key);
        if (fast !== undefined) {
          const t = fromValue(fast);
          if (t !== undefined) return t;
          continue;
        }
      }
      const t = fromValue(getPath(ev.data, f.path));
      if (t !== undefined) return t;
    }
    return { ms: this.now() };
  }
}

/** A time from a field value by core's rules; an RFC 3339 string LogScale parses is kept to be sent as is. */
export function fromValue(v: unknown): Time | undefined {
  const ms = timeMs(v);
  if (ms === undefined) return undefined;
  return typeof v === 'string' && LOGSCALE_ISO.test(v) ? { ms, iso: v } : { ms };
}

function tagsJson(entries: ReadonlyArray<readonly [string, string]>): string {
  let s = '{';
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i] as readonly [string, string];
    s += `${i === 0 ? '' : ','}${JSON.stringify(k)}:${JSON.stringify(v)}`;
  }
  return `${s}}`;
}
