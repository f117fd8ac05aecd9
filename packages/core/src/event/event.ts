/**
 * The event that flows through a pipeline.
 *
 * An event keeps the bytes it was read as (`raw`, one line without its newline) next to the parsed
 * value (`data`). Sinks that write JSON ask `toJson()`: an event nobody changed is written as its
 * original line, so a forwarder that only moves events never pays for `JSON.stringify`. A stage that
 * changes an event must go through `mutate()` or `replace()`, which mark it modified; writing into
 * `data` directly is a bug that would make sinks send the stale original.
 *
 * Events are read-only once emitted: reading `data` of a lazily decoded line parses it into a cache
 * but never changes what `toJson()` returns, so two sinks sharing an event, or one sink retrying it,
 * always see the same bytes (a content-hash `_id` stays the same across retries). Only `mutate()`,
 * `replace()`, `replaceSerialized()`, `replaceJson()` and `appendFields()` change an event, and only stages before a
 * fan-out (or on their own copy) may call them.
 *
 * Events are plain class instances with no per-event closures or promises: the hot path allocates
 * one object per line.
 */
import { TernError } from '../errors.ts';

/** What produced a group of events: shared by every event from the same file or stream. */
export interface EventOrigin {
  /** Component id of the source. */
  readonly sourceId: string;
  /** File path for the file source, `-` for stdin. */
  readonly path: string;
  /** Node or host name (`NODE_NAME` in Kubernetes, else the hostname). */
  readonly host: string;
  /** Fields derived from the origin (for example from the file path), copied into nothing until asked. */
  readonly fields?: Readonly<Record<string, string>>;
  /** Stable identity of the file (fingerprint), for deterministic ids. */
  readonly fileId?: string;
}

export type EventData = Record<string, unknown>;

/** How `raw` is framed: a JSON object, or a plain text line. */
export type RawFormat = 'json' | 'text';

export class LogEvent {
  /** The original line, without its line terminator. */
  raw: string | undefined;
  /** `json` when `raw` is the JSON text of `data` (and nobody changed `data` since). */
  rawFormat: RawFormat;
  /** Byte offset of the line start in its origin (file sources), or -1. */
  offset: number;
  origin: EventOrigin;
  private value: EventData | undefined;
  private dirty: boolean;
  private malformed = false;
  private ver = 0;
  /** `size` of an event without a line (fromData). */
  private sizeHint = 256;
  /**
   * Fields `appendFields` added to an otherwise unchanged JSON line: the text is the line plus these,
   * built each time it is asked (not kept: an event waiting for its sinks holds no second copy of
   * its line). Cleared by any other change.
   */
  private appended: EventData | undefined;
  /** The fields as JSON text, given by `replaceJson` and parsed only when read; cleared by any change after it. */
  private json: string | undefined;

  constructor(origin: EventOrigin, raw: string | undefined, rawFormat: RawFormat, data: EventData | undefined, offset = -1) {
    this.origin = origin;
    this.raw = raw;
    this.rawFormat = rawFormat;
    this.value = data;
    this.offset = offset;
    this.dirty = false;
  }

  /**
   * Builds an event from a value (no original line). `size` is what the event weighs in budgets and
   * buffers when its decoder knows it (an item of a pushed JSON array: its share of the body);
   * without it, a flat estimate.
   */
  static fromData(origin: EventOrigin, data: EventData, size?: number): LogEvent {
    const ev = new LogEvent(origin, undefined, 'json', data);
    ev.dirty = true;
    if (size !== undefined) ev.sizeHint = size;
    return ev;
  }

  /**
   * The event's fields, read-only by contract. Text lines read as `{ message: line }`. A JSON line
   * that was not parsed yet (`decoding: json`, the default) is parsed now; if it is not a JSON object it
   * reads as `{ message: line, error: { message }, tags: ['_json_parse_failure'] }`. Reading never
   * changes the event's JSON text: an unchanged malformed line is still forwarded as it was read (a
   * destination that refuses it dead-letters it), and a stage that changes it (`mutate()`) writes the
   * tagged object.
   */
  get data(): EventData {
    let v = this.value;
    if (v === undefined) {
      if (this.json !== undefined) {
        v = JSON.parse(this.json) as EventData; // an object's JSON.stringify (replaceJson)
      } else if (this.rawFormat === 'json' && this.raw !== undefined) {
        try {
          const parsed: unknown = JSON.parse(this.raw);
          if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError('not a JSON object');
          v = parsed as EventData;
        } catch (e) {
          v = { message: this.raw, error: { message: `invalid JSON: ${(e as Error).message}` }, tags: ['_json_parse_failure'] };
          this.malformed = true;
        }
      } else {
        v = { message: this.raw ?? '' };
      }
      this.value = v;
    }
    return v;
  }

  /** True when the event's line was framed as JSON but is not a JSON object (known once `data` was read). */
  get invalidJson(): boolean {
    return this.malformed;
  }

  /** True once the fields exist as an object (parsed at the source, or read since). */
  get parsed(): boolean {
    return this.value !== undefined;
  }

  /** True when no stage changed the event since it was read. */
  get modified(): boolean {
    return this.dirty;
  }

  /** Changes so far (mutate, replace): lets the engine tell which events a failed stage already touched. */
  get version(): number {
    return this.ver;
  }

  /** The fields, for a stage that is about to change them in place. */
  mutate(): EventData {
    const v = this.data;
    this.changed();
    return v;
  }

  /** Replaces all fields (a mapping stage building a new document). */
  replace(data: EventData): void {
    this.value = data;
    this.changed();
  }

  /**
   * Adds top-level fields the event does not have, as `mutate()` followed by `data[key] = value`
   * for each would. When the event is a JSON object line that no stage changed otherwise, its JSON
   * text becomes that line with the fields appended before the closing brace, built only when a
   * sink (or a worker pool) asks `toJson()`: the whole event is never re-serialised for one added
   * field (the timestamp stage adds `@timestamp` to every line this way). `raw` stays the line as read.
   * The values are kept for that text: the caller must not change them afterwards, and a later
   * stage changes them only through `mutate()` (which drops the shortcut) like any other field.
   */
  appendFields(fields: EventData): void {
    const v = this.data;
    let ok = this.baseText() !== undefined;
    for (const k in fields) {
      if (ok && Object.hasOwn(v, k)) ok = false;
      v[k] = fields[k];
    }
    this.appended = !ok ? undefined : this.appended === undefined ? fields : { ...this.appended, ...fields };
    if (!ok) this.json = undefined;
    this.dirty = true;
    this.ver++;
  }

  /**
   * Replaces all fields with a document given as its JSON text (`JSON.stringify` of an object), for
   * a stage that serialises what it builds: sinks send that text as it is, and the fields are parsed
   * from it only if a later stage reads them, so the stage's objects need not live as long as the
   * event waits for its sinks. The event is changed (`modified`) and keeps `raw`, the line as read.
   */
  replaceJson(json: string): void {
    this.value = undefined;
    this.changed();
    this.json = json;
  }

  /** A stage changed the fields: the text shortcuts (`appendFields`, `replaceJson`) no longer hold. */
  private changed(): void {
    this.dirty = true;
    this.appended = undefined;
    this.json = undefined;
    this.ver++;
  }

  /** The JSON text the fields had before `appended` was added, when known without serialising. */
  private baseText(): string | undefined {
    if (this.json !== undefined) return this.json;
    if (this.dirty && this.appended === undefined) return undefined;
    return this.rawFormat === 'json' && !this.malformed ? this.raw : undefined;
  }

  /**
   * Replaces the event with a serialised document a stage produced elsewhere (a transform run in a
   * worker thread): the text becomes the event's line, and its fields are parsed only if a later
   * stage reads them. Sinks then forward that text as it is.
   */
  replaceSerialized(json: string): void {
    this.raw = json;
    this.rawFormat = 'json';
    this.value = undefined;
    this.dirty = false;
    this.malformed = false;
    this.appended = undefined;
    this.json = undefined;
    this.ver++;
  }

  /**
   * JSON text of the event: the original line when it is JSON and unchanged (plus what
   * `appendFields` added to it). Throws a `TernError` with code `TERN_ERR_EVENT_ENCODE` when the
   * fields cannot be serialised (nested too deep for the serializer's stack): callers that encode
   * batches treat that event alone as refused.
   */
  toJson(): string {
    if (!this.dirty && this.rawFormat === 'json' && this.raw !== undefined) return this.raw;
    if (this.appended !== undefined) return appendToObject(this.baseText() as string, this.appended);
    return this.json ?? stringifyEvent(this.data);
  }

  /** Approximate size in bytes, for memory budgets (the raw line, the size its decoder gave, or a flat estimate). */
  get size(): number {
    return this.raw !== undefined ? this.raw.length : this.sizeHint;
  }

  /**
   * A copy that can be changed without affecting this event (used when one output feeds a mutating
   * stage and others). An unchanged event copies only its line (the copy parses it again if read);
   * a changed one deep-copies its fields, which throws `TERN_ERR_EVENT_ENCODE` when they are nested
   * too deep to copy.
   */
  clone(): LogEvent {
    const ev = new LogEvent(this.origin, this.raw, this.rawFormat, undefined, this.offset);
    if (this.dirty || this.rawFormat !== 'json' || this.raw === undefined) {
      try {
        ev.value = this.value === undefined ? undefined : structuredClone(this.value);
      } catch (e) {
        throw encodeError(e, 'copy');
      }
      ev.dirty = this.dirty;
      ev.json = this.appended !== undefined ? this.toJson() : this.json;
    }
    ev.malformed = this.malformed;
    return ev;
  }
}

/** `JSON.stringify` of event fields, with a stack overflow (absurd nesting) turned into `TERN_ERR_EVENT_ENCODE`. */
/** The summed `size` of a batch's events: what budgets, buffers and the event-bytes counters count. */
export function eventBytes(events: readonly LogEvent[]): number {
  let n = 0;
  for (const e of events) n += e.size;
  return n;
}

export function stringifyEvent(data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch (e) {
    throw encodeError(e, 'serialise');
  }
}

const isBlank = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

/** A JSON object's text with fields added before its closing brace (no comma after `{` when it was empty). */
function appendToObject(json: string, fields: EventData): string {
  let tail = '';
  for (const k in fields) {
    const f = fields[k];
    if (f !== undefined) tail += `,${JSON.stringify(k)}:${stringifyEvent(f)}`; // JSON.stringify leaves out undefined too
  }
  const close = json.lastIndexOf('}');
  let p = close - 1;
  while (p > 0 && isBlank(json.charCodeAt(p))) p--;
  return `${json.slice(0, close)}${json.charCodeAt(p) === 123 /* { */ ? tail.slice(1) : tail}${json.slice(close)}`;
}

function encodeError(e: unknown, what: string): Error {
  if (e instanceof RangeError) return new TernError('TERN_ERR_EVENT_ENCODE', `cannot ${what} the event: nested too deep (${e.message})`, { cause: e });
  if (e instanceof TypeError) return new TernError('TERN_ERR_EVENT_ENCODE', `cannot ${what} the event: ${e.message}`, { cause: e });
  return e as Error;
}
