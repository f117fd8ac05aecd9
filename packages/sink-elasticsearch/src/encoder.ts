/**
 * Encodes events as a `_bulk` NDJSON body: one `create` action line and the event's own JSON line
 * per event (§2.5). The document is the event's original line (`toJson()`), never re-serialised;
 * in data-stream mode an event without `@timestamp` gets one spliced in front of its first key.
 *
 * Targets (data stream or index name) come from templates compiled once: literals, `{{field}}`
 * from event fields, and strftime `%Y %m %d %H` from the event time. Document ids are
 * deterministic (content hash, or host + file identity + offset), so a replayed request answers
 * 409 for what was already stored: exactly-once in effect.
 *
 * Pure: the same events always give the same body, so the kit may re-encode a subset to resend.
 */
import { hash } from 'node:crypto';
import { BodyWriter, getPath, stringifyEvent, type EncodedRequest, type LogEvent } from '@tern/core';
import { DATA_STREAM_NAME, type EsIdStrategy, type EsMode } from './schema.ts';

// ---------------------------------------------------------------- templates

type Part = { readonly lit: string } | { readonly field: readonly string[] } | { readonly time: 'Y' | 'm' | 'd' | 'H' };

export interface Template {
  /** The literal name when the template has no placeholders (no per-event work at all). */
  readonly constant: string | undefined;
  /** Whether rendering needs the event time. */
  readonly usesTime: boolean;
  render(ev: LogEvent, timeMs: number): string;
}

const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}|%([YmdH])/g;

/** Problems in a template's syntax (unclosed `{{`, unknown `%` directive), for `validate`. */
export function templateErrors(src: string): string[] {
  const out: string[] = [];
  const stripped = src.replace(PLACEHOLDER, '');
  if (stripped.includes('{{') || stripped.includes('}}')) out.push(`unbalanced {{ }} in "${src}"`);
  const bad = /%[^YmdH]/.exec(stripped);
  if (bad) out.push(`unknown date directive ${bad[0]} in "${src}" (use %Y %m %d %H)`);
  return out;
}

/** Compiles a target template once. Field values are lower-cased (index names must be). */
export function compileTemplate(src: string): Template {
  const parts: Part[] = [];
  let last = 0;
  for (const m of src.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push({ lit: src.slice(last, m.index) });
    if (m[1] !== undefined) parts.push({ field: m[1].split('.') });
    else parts.push({ time: m[2] as 'Y' | 'm' | 'd' | 'H' });
    last = m.index + m[0].length;
  }
  if (last < src.length) parts.push({ lit: src.slice(last) });
  const constant = parts.every((p) => 'lit' in p) ? src.toLowerCase() : undefined;
  const usesTime = parts.some((p) => 'time' in p);
  return {
    constant,
    usesTime,
    render(ev, timeMs) {
      if (constant !== undefined) return constant;
      let out = '';
      let d: Date | undefined;
      for (const p of parts) {
        if ('lit' in p) out += p.lit;
        else if ('field' in p) {
          const v = getPath(ev.data, p.field);
          // A missing field renders as `unknown` rather than dropping the event or failing the batch.
          out += v === undefined || v === null || typeof v === 'object' ? 'unknown' : String(v);
        } else {
          d ??= new Date(timeMs);
          out += p.time === 'Y' ? String(d.getUTCFullYear()) : pad2(p.time === 'm' ? d.getUTCMonth() + 1 : p.time === 'd' ? d.getUTCDate() : d.getUTCHours());
        }
      }
      return out.toLowerCase();
    },
  };
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

// ---------------------------------------------------------------- encoder

export interface BulkRequest extends EncodedRequest {
  readonly body: Buffer;
  /** Number of actions (= events), to check the response's item count. */
  readonly count: number;
}

export interface EncoderOptions {
  readonly mode: EsMode;
  readonly index: string;
  readonly dataStream: { readonly type: string; readonly dataset: string; readonly namespace: string };
  readonly id: EsIdStrategy;
  readonly timestampField: string;
  /** Clock for events without a usable time (injectable for tests). */
  readonly now?: () => number;
}

export class BulkEncoder {
  private readonly target: Template | undefined;
  private readonly dsParts: readonly [Template, Template, Template] | undefined;
  private readonly constantTarget: string | undefined;
  private readonly needsTime: boolean;
  private readonly dataStreamMode: boolean;
  private readonly id: EsIdStrategy;
  private readonly timestampPath: readonly string[];
  private readonly now: () => number;
  /** Action-line prefixes per target name; bounded (a runaway template must not grow it forever). */
  private readonly prefixes = new Map<string, string>();
  private readonly dsNames = new Map<string, boolean>();

  constructor(o: EncoderOptions) {
    this.dataStreamMode = o.mode === 'data_stream';
    this.id = o.id;
    this.timestampPath = o.timestampField.split('.');
    this.now = o.now ?? Date.now;
    if (this.dataStreamMode) {
      const ds: [Template, Template, Template] = [compileTemplate(o.dataStream.type), compileTemplate(o.dataStream.dataset), compileTemplate(o.dataStream.namespace)];
      this.dsParts = ds;
      this.constantTarget = ds.every((t) => t.constant !== undefined) ? ds.map((t) => t.constant).join('-') : undefined;
      this.needsTime = ds.some((t) => t.usesTime);
    } else {
      this.target = compileTemplate(o.index);
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
      if (this.id !== 'none') body.write(`,"_id":"${this.docId(ev, doc.original)}"`);
      body.write('}}\n');
      body.write(doc.line);
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
      if (this.prefixes.size >= 10_000) this.prefixes.clear();
      this.prefixes.set(target, p);
    }
    return p;
  }

  /** Whether an index-mode target is named like a data stream (then it needs `@timestamp` as one). */
  private isDataStream(target: string): boolean {
    let v = this.dsNames.get(target);
    if (v === undefined) {
      v = DATA_STREAM_NAME.test(target);
      if (this.dsNames.size >= 10_000) this.dsNames.clear();
      this.dsNames.set(target, v);
    }
    return v;
  }

  /** The document line, and the original JSON the content hash is taken over (stable across @timestamp splicing). */
  private document(ev: LogEvent, dataStream: boolean): { line: string; original: string } {
    const first = ev.toJson();
    if (!dataStream) return { line: first, original: first };
    // Cheap tests first: parsing every line just to look for @timestamp would cost more than the send.
    // A document whose first key is @timestamp (what the ecs transform writes) needs no parse at all.
    if (first.startsWith('{"@timestamp":"')) return { line: first, original: first };
    if (first.includes('"@timestamp"') && ev.data['@timestamp'] !== undefined && !ev.invalidJson) return { line: first, original: first };
    const ts = new Date(this.eventTime(ev)).toISOString();
    // Reading the time may have parsed a lazily decoded line and found it is not JSON: this sink then
    // stores its tagged `{message, error, tags}` object (its own bytes; the shared event is untouched),
    // not a line Elasticsearch would refuse. (Unparsed, it goes as it is, and a refusal resends the tagged copy.)
    const original = ev.parsed && ev.invalidJson ? stringifyEvent(ev.data) : first;
    // `original` is a JSON object text: splice the field in after its `{` (leading blanks allowed).
    const open = original.indexOf('{');
    const rest = original.slice(open + 1).trimStart();
    const line = rest.startsWith('}') ? `{"@timestamp":"${ts}"}` : `{"@timestamp":"${ts}",${rest}`;
    return { line, original };
  }

  /** Event time in ms from `timestamp_field` (RFC 3339 string, or epoch ms / s number), else now. */
  private eventTime(ev: LogEvent): number {
    const fast = this.fastTime(ev);
    if (fast !== undefined) return fast;
    const v = getPath(ev.data, this.timestampPath);
    if (typeof v === 'string') {
      const t = Date.parse(v);
      if (!Number.isNaN(t)) return t;
    } else if (typeof v === 'number' && Number.isFinite(v)) {
      return v < 1e11 ? v * 1000 : v;
    }
    const at = getPath(ev.data, ['@timestamp']);
    if (typeof at === 'string') {
      const t = Date.parse(at);
      if (!Number.isNaN(t)) return t;
    }
    return this.now();
  }

  /**
   * Reads a top-level string time field straight from the original line when it is the line's
   * last key (Tetragon's `"time"` is): no JSON.parse per event. Sound because inside JSON strings
   * quotes are escaped, so `"time":"` preceded by `,` or `{` is a key, and a value followed only by
   * the final `}` belongs to the outermost object. Anything else falls back to parsing.
   */
  private fastTime(ev: LogEvent): number | undefined {
    const raw = ev.raw;
    if (raw === undefined || ev.modified || ev.rawFormat !== 'json' || this.timestampPath.length !== 1) return undefined;
    const key = `"${this.timestampPath[0] as string}":"`;
    const i = raw.lastIndexOf(key);
    if (i <= 0) return undefined;
    const before = raw.charCodeAt(i - 1);
    if (before !== 44 /* , */ && before !== 123 /* { */) return undefined;
    const start = i + key.length;
    const end = raw.indexOf('"', start);
    if (end < 0 || raw.slice(end + 1).trim() !== '}') return undefined;
    const t = Date.parse(raw.slice(start, end));
    return Number.isNaN(t) ? undefined : t;
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
