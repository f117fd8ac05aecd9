/**
 * A line stream: what a line source (a file, stdin) feeds its bytes into. It splits them into lines
 * (`LineSplitter`), removes the container runtime's framing (`decoding: cri`), groups lines into
 * multiline events (`multiline`), decodes each event and keeps the events until the source takes
 * them as a batch.
 *
 * Framing and grouping may hold lines back: a partial CRI line waits for its final fragment, a stack
 * trace for its next line. `committedOffset` never passes the first byte of a held line, so a
 * checkpoint taken from it never skips one: after a restart the held lines are read again, whole.
 *
 * CRI lines (`2024-11-22T10:20:05.408091526Z stdout F {"rule":…}`): fragments tagged `P` are joined
 * per stream (stdout and stderr may interleave) until the `F` fragment; the joined content is then
 * decoded: a JSON object becomes the event with `stream` and `@timestamp` (the runtime's time of the
 * first fragment) added unless present, anything else becomes `{@timestamp, stream, message}`. The
 * added fields are spliced into the original text, so sinks still forward it without a stringify.
 */
import { LogEvent, type EventOrigin } from '../event/event.ts';
import { DecodeError, decodeLine, type ContentDecoding, type Decoding } from './decode.ts';
import { LineSplitter } from './lines.ts';

/** The `multiline` option of line sources (YAML keys), as `multilineSchema` completes it. */
export interface MultilineOptions {
  /** A line matching starts a new event; other lines are appended to the event before them. */
  readonly start_pattern?: string;
  /** A line matching is appended to the event before it; other lines start a new event. */
  readonly continuation_pattern?: string;
  /** A held event is emitted this long after its last line when no next line came. */
  readonly timeout_ms: number;
  /** Most lines in one event; a longer group is emitted and the next line starts a new one. */
  readonly max_lines: number;
}

export const MULTILINE_DEFAULTS = Object.freeze({ timeout_ms: 1000, max_lines: 500 });

export const multilineSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'Joins several lines into one event (stack traces), as Filebeat\'s and Vector\'s multiline do: set `start_pattern` (a line matching it starts an event, the lines after it that do not match are appended) or `continuation_pattern` (a line matching it is appended to the event before it). Lines are joined with `\\n` and then decoded (use `decoding: text`, or `cri` for container logs, where lines are grouped per stream). The checkpoint never passes a held line, so a restart reads a held event again whole.',
  examples: [{ start_pattern: '^\\d{4}-\\d{2}-\\d{2}' }, { continuation_pattern: '^\\s+(at |\\.\\.\\.)|^Caused by:' }],
  properties: {
    start_pattern: { type: 'string', minLength: 1, description: 'Regular expression (JavaScript syntax) of the first line of an event.', examples: ['^\\d{4}-\\d{2}-\\d{2}', '^\\['] },
    continuation_pattern: { type: 'string', minLength: 1, description: 'Regular expression (JavaScript syntax) of a line that continues the event before it.', examples: ['^\\s', '^\\s+at '] },
    timeout_ms: {
      type: 'integer',
      minimum: 1,
      default: MULTILINE_DEFAULTS.timeout_ms,
      description: 'Emit a held event this long after its last line if no next line came (a file source checks at least every `poll_interval_ms`).',
      examples: [1000, 5000],
    },
    max_lines: { type: 'integer', minimum: 2, default: MULTILINE_DEFAULTS.max_lines, description: 'Most lines in one event; the line after them starts a new event (nothing is dropped).', examples: [500] },
  },
} as const;

/** Checks a `multiline` block: exactly one pattern, and a valid one. Pure; `path` names the option. */
export function validateMultiline(m: MultilineOptions | undefined, path = 'multiline'): string[] {
  if (m === undefined) return [];
  const out: string[] = [];
  if ((m.start_pattern === undefined) === (m.continuation_pattern === undefined)) out.push(`${path}: set start_pattern or continuation_pattern (one of them)`);
  for (const key of ['start_pattern', 'continuation_pattern'] as const) {
    const p = m[key];
    if (p === undefined) continue;
    try {
      new RegExp(p);
    } catch (e) {
      out.push(`${path}.${key}: not a valid regular expression: ${(e as Error).message}`);
    }
  }
  return out;
}

/** What a stream reports about input it cannot turn into events (the source counts and logs it). */
export interface StreamProblems {
  malformed(origin: EventOrigin, offset: number, message: string): void;
  oversize(origin: EventOrigin, offset: number, length: number): void;
}

/** Compiled stream settings, shared by every stream of a source. */
export interface StreamSettings {
  readonly decoding: Decoding;
  readonly maxLineBytes: number;
  readonly multiline: { readonly start: RegExp | undefined; readonly continuation: RegExp | undefined; readonly timeoutMs: number; readonly maxLines: number } | undefined;
  /** Runs on every decoded event before it is kept (the file source's `add_metadata`). */
  readonly enrich: ((ev: LogEvent) => void) | undefined;
  readonly problems: StreamProblems;
}

/** The block's patterns compiled; its limits as the schema completed them (no default is picked here). */
export function compileMultiline(m: MultilineOptions | undefined): StreamSettings['multiline'] {
  if (m === undefined) return undefined;
  return {
    start: m.start_pattern !== undefined ? new RegExp(m.start_pattern) : undefined,
    continuation: m.continuation_pattern !== undefined ? new RegExp(m.continuation_pattern) : undefined,
    timeoutMs: m.timeout_ms,
    maxLines: m.max_lines,
  };
}

/** The runtime's framing of a line, kept for the event built from it. */
interface CriMeta {
  readonly time: string;
  readonly stream: string;
}

/** Lines held back: CRI fragments waiting for their end, or a multiline group waiting for more. */
interface Held {
  readonly parts: string[];
  bytes: number;
  readonly offset: number;
  readonly meta: CriMeta | undefined;
  /** Date.now() of the last line added. */
  last: number;
}

const CRI_TIME = /^\d{4}-\d\d-\d\dT[^ ]+$/;

export class LineStream {
  /** Where the events come from; a source may change it (a renamed file), later events carry the new one. */
  origin: EventOrigin;
  private readonly s: StreamSettings;
  private readonly splitter: LineSplitter;
  private readonly content: ContentDecoding;
  private events: LogEvent[] = [];
  /** CRI fragments per stream name. */
  private readonly partial = new Map<string, Held>();
  /** CRI streams whose joined line went over the limit: fragments are dropped until the final one. */
  private readonly skipping = new Set<string>();
  /** Multiline groups per stream name ('' without CRI). */
  private readonly groups = new Map<string, Held>();

  constructor(origin: EventOrigin, offset: number, settings: StreamSettings) {
    this.origin = origin;
    this.s = settings;
    this.content = settings.decoding === 'cri' ? 'json_strict' : settings.decoding;
    const cri = settings.decoding === 'cri';
    this.splitter = new LineSplitter(
      {
        line: (text, off) => (cri ? this.criLine(text, off) : this.logical(text, off, undefined)),
        oversize: (off, length) => this.s.problems.oversize(this.origin, off, length),
      },
      settings.maxLineBytes,
      offset,
    );
  }

  /** Feeds bytes read from the input. */
  push(chunk: Buffer): void {
    this.splitter.push(chunk);
  }

  /** The events decoded since the last call (a batch). */
  take(): LogEvent[] {
    const e = this.events;
    if (e.length > 0) this.events = [];
    return e;
  }

  /** Offset just after the last byte of input that no held line needs: where a reader may safely resume. */
  get committedOffset(): number {
    let o = this.splitter.committedOffset;
    for (const h of this.partial.values()) if (h.offset < o) o = h.offset;
    for (const h of this.groups.values()) if (h.offset < o) o = h.offset;
    return o;
  }

  /** True while input is held: an unterminated last line, CRI fragments, a multiline group. */
  get held(): boolean {
    return this.splitter.pendingBytes > 0 || this.partial.size > 0 || this.groups.size > 0;
  }

  /** Bytes of an unterminated last line (not counting held complete lines). */
  get pendingBytes(): number {
    return this.splitter.pendingBytes;
  }

  /** End of input (or no more can come): everything held becomes events. */
  flush(): void {
    this.splitter.flush();
    for (const [key, h] of [...this.partial]) {
      this.partial.delete(key);
      this.logical(h.parts.join(''), h.offset, h.meta);
    }
    this.skipping.clear();
    for (const [key, g] of [...this.groups]) {
      this.groups.delete(key);
      this.decode(g.parts.join('\n'), g.offset, g.meta);
    }
  }

  /** Emits multiline groups whose last line is older than the timeout; returns whether any was. */
  expire(now = Date.now()): boolean {
    const ml = this.s.multiline;
    if (ml === undefined || this.groups.size === 0) return false;
    let any = false;
    for (const [key, g] of [...this.groups]) {
      if (now - g.last < ml.timeoutMs) continue;
      this.groups.delete(key);
      this.decode(g.parts.join('\n'), g.offset, g.meta);
      any = true;
    }
    return any;
  }

  /** Time at which `expire` has something to do, or undefined. */
  get nextExpiry(): number | undefined {
    const ml = this.s.multiline;
    if (ml === undefined) return undefined;
    let t: number | undefined;
    for (const g of this.groups.values()) if (t === undefined || g.last + ml.timeoutMs < t) t = g.last + ml.timeoutMs;
    return t;
  }

  /** Forgets everything held and restarts at `offset` (after a truncation). */
  reset(offset: number): void {
    this.splitter.reset(offset);
    this.partial.clear();
    this.skipping.clear();
    this.groups.clear();
    this.events = [];
  }

  // ------------------------------------------------------------------ CRI

  private criLine(text: string, offset: number): void {
    const s1 = text.indexOf(' ');
    const s2 = s1 < 0 ? -1 : text.indexOf(' ', s1 + 1);
    const time = s1 > 0 ? text.slice(0, s1) : '';
    if (s2 < 0 || !CRI_TIME.test(time)) {
      this.s.problems.malformed(this.origin, offset, `not a CRI log line (<time> <stream> <P|F> <line>): ${text.length === 0 ? 'empty line' : JSON.stringify(text.slice(0, 60))}`);
      return;
    }
    const stream = text.slice(s1 + 1, s2);
    const s3 = text.indexOf(' ', s2 + 1);
    const tag = s3 < 0 ? text.slice(s2 + 1) : text.slice(s2 + 1, s3);
    const line = s3 < 0 ? '' : text.slice(s3 + 1);
    // Tags are `:`-separated; `P` is the only one defined besides `F`.
    const partial = tag === 'P' || tag.startsWith('P:') || tag.includes(':P');
    const h = this.partial.get(stream);
    if (partial) {
      if (this.skipping.has(stream)) return;
      if (h === undefined) this.partial.set(stream, { parts: [line], bytes: line.length, offset, meta: { time, stream }, last: 0 });
      else {
        h.parts.push(line);
        h.bytes += line.length;
        if (h.bytes > this.s.maxLineBytes) {
          this.partial.delete(stream);
          this.skipping.add(stream);
          this.s.problems.oversize(this.origin, h.offset, h.bytes);
        }
      }
      return;
    }
    if (this.skipping.delete(stream)) return;
    if (h === undefined) {
      this.logical(line, offset, { time, stream });
      return;
    }
    this.partial.delete(stream);
    const joined = h.parts.join('') + line;
    if (joined.length > this.s.maxLineBytes) {
      this.s.problems.oversize(this.origin, h.offset, joined.length);
      return;
    }
    this.logical(joined, h.offset, h.meta);
  }

  // ------------------------------------------------------------------ multiline

  /** One logical line (framing removed): grouped when `multiline` is set, else decoded. */
  private logical(text: string, offset: number, meta: CriMeta | undefined): void {
    const ml = this.s.multiline;
    if (ml === undefined) {
      this.decode(text, offset, meta);
      return;
    }
    const key = meta?.stream ?? '';
    const g = this.groups.get(key);
    const continues = ml.start !== undefined ? !ml.start.test(text) : (ml.continuation as RegExp).test(text);
    const now = Date.now();
    if (g !== undefined && continues && g.parts.length < ml.maxLines && g.bytes + 1 + text.length <= this.s.maxLineBytes) {
      g.parts.push(text);
      g.bytes += 1 + text.length;
      g.last = now;
      return;
    }
    if (g !== undefined) {
      this.groups.delete(key);
      this.decode(g.parts.join('\n'), g.offset, g.meta);
    }
    this.groups.set(key, { parts: [text], bytes: text.length, offset, meta, last: now });
  }

  // ------------------------------------------------------------------ decoding

  private decode(text: string, offset: number, meta: CriMeta | undefined): void {
    const ev = meta !== undefined ? criEvent(this.origin, text, offset, meta) : decodeLine(this.origin, text, offset, this.content);
    if (ev instanceof DecodeError) {
      this.s.problems.malformed(this.origin, ev.offset, `malformed line skipped: ${ev.message}`);
      return;
    }
    this.s.enrich?.(ev);
    this.events.push(ev);
  }
}

/**
 * The event of one CRI line: its JSON object with `@timestamp` and `stream` added when absent, or
 * `{@timestamp, stream, message}`. The added keys are spliced into the original text, so the event
 * still travels as text that sinks forward unchanged.
 */
export function criEvent(origin: EventOrigin, content: string, offset: number, meta: CriMeta): LogEvent {
  const t = content.trimStart();
  if (t.charCodeAt(0) === 123 /* { */) {
    let value: unknown;
    try {
      value = JSON.parse(t);
    } catch {
      value = undefined;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const data = value as Record<string, unknown>;
      let prefix = '';
      if (!('@timestamp' in data)) {
        prefix += `"@timestamp":${JSON.stringify(meta.time)},`;
        data['@timestamp'] = meta.time;
      }
      if (!('stream' in data)) {
        prefix += `"stream":${JSON.stringify(meta.stream)},`;
        data.stream = meta.stream;
      }
      const body = t.trimEnd();
      const rest = body.slice(1).trimStart();
      // `{}` has nothing after the added keys: drop their trailing comma.
      const raw = prefix === '' ? body : rest === '}' ? `{${prefix.slice(0, -1)}}` : `{${prefix}${rest}`;
      return new LogEvent(origin, raw, 'json', data, offset);
    }
  }
  const raw = `{"@timestamp":${JSON.stringify(meta.time)},"stream":${JSON.stringify(meta.stream)},"message":${JSON.stringify(content)}}`;
  return new LogEvent(origin, raw, 'json', { '@timestamp': meta.time, stream: meta.stream, message: content }, offset);
}
