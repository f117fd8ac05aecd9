/**
 * LogScale (Humio) ingest emulator (protocols §1, checklist §1.9): the structured and unstructured
 * JSON APIs, the Splunk-HEC compatible endpoints (concatenated objects and raw lines), the raw and
 * JSON endpoints, and the HEC health check. Ingest tokens map to a repository and parser; requests
 * are all-or-nothing; stored events carry the fields LogScale itself adds (`@timestamp` in ms,
 * `@timezone`, `@rawstring`, `#repo`, `#tag` fields, `@ingesttimestamp`).
 *
 * Error bodies are short `text/plain` messages because LogScale's own are undocumented (§1.8):
 * a sink must not parse them.
 *
 * Over 400 lines: one protocol emulator — three ingest APIs (structured, unstructured, HEC) sharing
 * token handling, size limits, parsers and the store; a split would cut through the shared
 * per-token state.
 */
import { EmulatorFacade, EmulatorServer, json, text, countingStatuses } from './server.ts';
import type { CommonOptions, Emulator, Exchange, Reply } from './server.ts';

export interface LogScaleOptions extends CommonOptions {
  /** Ingest tokens; default `{ 'test-token': { repository: 'sandbox' } }`. */
  tokens?: Record<string, { repository: string; parser?: string }>;
  /** `MAX_INGEST_REQUEST_SIZE`, checked after decoding; default 32 MiB. */
  maxRequestBytes?: number;
  /** Status for a missing or unknown token; default 401. */
  authFailureStatus?: 401 | 403;
  /** Events larger than this are truncated, not rejected (§1.7); default 1,000,000 bytes. */
  maxEventBytes?: number;
}

/** One stored event. Tag fields are `#name`; `attributes` keeps what the sender sent. */
export interface LogScaleEvent {
  '@timestamp': number;
  '@timezone': string;
  '@rawstring': string;
  '@ingesttimestamp': number;
  '#repo': string;
  '#type'?: string;
  '@host'?: string;
  '@source'?: string;
  attributes: Record<string, unknown>;
  [tag: `#${string}`]: string | undefined;
}

export interface LogScaleStats {
  /** Ingest requests answered 200. */
  ingestRequests: number;
  events: number;
  byStatus: Record<number, number>;
}

export interface LogScaleEmulator extends Emulator {
  events(repository?: string): LogScaleEvent[];
  count(repository?: string): number;
  stats(): LogScaleStats;
}

const MiB = 1024 * 1024;
const STRUCTURED = '/api/v1/ingest/humio-structured';
const UNSTRUCTURED = '/api/v1/ingest/humio-unstructured';
const HEC_PATHS: ReadonlySet<string> = new Set(['/services/collector/event', '/services/collector', '/api/v1/ingest/hec', '/services/collector/event/1.0']);
const HEC_RAW_PATHS: ReadonlySet<string> = new Set(['/services/collector/raw', '/api/v1/ingest/hec/raw', '/services/collector/raw/1.0']);
const HEALTH_PATHS: ReadonlySet<string> = new Set(['/services/collector/health/1.0', '/services/collector/health']);
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

type Endpoint = 'structured' | 'unstructured' | 'hec' | 'hec-raw' | 'raw' | 'json';

class BadRequest extends Error {}

export async function startLogScale(opts: LogScaleOptions = {}): Promise<LogScaleEmulator> {
  const emu = new LogScaleServer(opts);
  await emu.server.listen();
  return emu;
}

class LogScaleServer extends EmulatorFacade implements LogScaleEmulator {
  override readonly server: EmulatorServer;
  #tokens: Record<string, { repository: string; parser?: string }>;
  #maxRequest: number;
  #maxEvent: number;
  #authStatus: 401 | 403;
  #events = new Map<string, LogScaleEvent[]>();
  #stats: LogScaleStats = { ingestRequests: 0, events: 0, byStatus: {} };

  constructor(opts: LogScaleOptions) {
    super();
    this.#tokens = opts.tokens ?? { 'test-token': { repository: 'sandbox' } };
    this.#maxRequest = opts.maxRequestBytes ?? 32 * MiB;
    this.#maxEvent = opts.maxEventBytes ?? 1_000_000;
    this.#authStatus = opts.authFailureStatus ?? 401;
    this.server = new EmulatorServer({
      options: countingStatuses(opts, this.#stats.byStatus),
      handle: (ex) => this.#handle(ex),
      faultReply: (status) => faultReply(status),
    });
  }

  events(repository?: string): LogScaleEvent[] {
    if (repository !== undefined) return [...(this.#events.get(repository) ?? [])];
    return [...this.#events.values()].flat();
  }
  count(repository?: string): number {
    if (repository !== undefined) return this.#events.get(repository)?.length ?? 0;
    let n = 0;
    for (const list of this.#events.values()) n += list.length;
    return n;
  }
  stats(): LogScaleStats {
    return { ...this.#stats, byStatus: { ...this.#stats.byStatus } };
  }

  async #handle(ex: Exchange): Promise<Reply> {
    const path = ex.path;
    if (HEALTH_PATHS.has(path)) {
      if (ex.method !== 'GET' && ex.method !== 'HEAD') return text(405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
      // Vector's healthcheck: 200 = ok, 400 = invalid token (§1.1).
      const token = this.#token(ex, true);
      if (token === undefined) return json(400, { text: 'Invalid token', code: 4 });
      return json(200, { text: 'HEC is healthy', code: 17 });
    }
    let endpoint: Endpoint | undefined;
    let urlToken: string | undefined;
    if (path === STRUCTURED) endpoint = 'structured';
    else if (path === UNSTRUCTURED) endpoint = 'unstructured';
    else if (HEC_PATHS.has(path)) endpoint = 'hec';
    else if (HEC_RAW_PATHS.has(path)) endpoint = 'hec-raw';
    else if (path === '/api/v1/ingest/json') endpoint = 'json';
    else if (path === '/api/v1/ingest/raw') endpoint = 'raw';
    else if (path.startsWith('/api/v1/ingest/raw/') && path.indexOf('/', 19) === -1) {
      endpoint = 'raw';
      urlToken = decodeURIComponent(path.slice(19));
    }
    if (endpoint === undefined) return text(404, `Not found: ${path}`);
    if (ex.method !== 'POST' && !(ex.method === 'PUT' && endpoint === 'raw')) return text(405, 'Method Not Allowed', { Allow: 'POST' });

    const hec = endpoint === 'hec' || endpoint === 'hec-raw';
    const tokenValue = urlToken ?? this.#tokenValue(ex, hec);
    const token = tokenValue === undefined ? undefined : this.#tokens[tokenValue];
    if (token === undefined) {
      return text(this.#authStatus, tokenValue === undefined ? 'No ingest token was supplied' : 'The supplied ingest token is not valid');
    }

    const encoded = (ex.header('content-encoding') ?? 'identity') !== 'identity';
    const r = await ex.body({ maxDecoded: this.#maxRequest, ...(encoded ? {} : { maxDeclared: this.#maxRequest }) });
    if (!r.ok) {
      if (r.error === 'declared-too-large' || r.error === 'too-large') return text(413, `Request body exceeds the maximum ingest request size of ${this.#maxRequest} bytes`);
      if (r.error === 'unsupported-encoding') return text(415, `Unsupported Content-Encoding: ${r.encoding}`);
      return text(400, `Could not decode request body: ${r.message}`);
    }
    const now = Date.now();
    let events: LogScaleEvent[];
    try {
      const body = r.body.toString('utf8');
      const ctx: Ctx = { repo: token.repository, parser: token.parser, now };
      switch (endpoint) {
        case 'structured':
          events = this.#structured(body, ctx);
          break;
        case 'unstructured':
          events = this.#unstructured(body, ctx);
          break;
        case 'hec':
          events = this.#hec(body, ctx);
          break;
        case 'hec-raw':
          events = this.#hecRaw(body, ctx, ex.header('x-splunk-request-channel') ?? ex.query.get('channel') ?? undefined);
          break;
        case 'json':
          events = this.#json(body, ctx);
          break;
        case 'raw':
          events = body.length === 0 ? [] : [this.#event(ctx, { rawstring: body })];
          break;
      }
    } catch (err) {
      if (err instanceof BadRequest) return text(400, err.message);
      throw err;
    }
    // All or nothing (§1.8): validation finished for the whole request before anything is stored.
    let list = this.#events.get(token.repository);
    if (list === undefined) this.#events.set(token.repository, (list = []));
    for (const e of events) list.push(e);
    this.#stats.ingestRequests++;
    this.#stats.events += events.length;
    const note = `${events.length} events`;
    if (hec) return { ...json(200, { text: 'Success', code: 0 }), note };
    return { ...json(200, '{}'), note };
  }

  #tokenValue(ex: Exchange, allowSplunk: boolean): string | undefined {
    const h = ex.header('authorization');
    if (h === undefined) return undefined;
    const m = /^(\S+)\s+(.+)$/.exec(h.trim());
    if (m === null) return undefined;
    const scheme = (m[1] as string).toLowerCase();
    if (scheme === 'bearer' || (allowSplunk && scheme === 'splunk')) return (m[2] as string).trim();
    return undefined;
  }

  #token(ex: Exchange, allowSplunk: boolean): { repository: string; parser?: string } | undefined {
    const v = this.#tokenValue(ex, allowSplunk);
    return v === undefined ? undefined : this.#tokens[v];
  }

  // ---------------------------------------------------------------- formats

  #structured(body: string, ctx: Ctx): LogScaleEvent[] {
    const v = parseJson(body);
    if (!Array.isArray(v)) throw new BadRequest('Expected a JSON array of {"tags", "events"} objects');
    const out: LogScaleEvent[] = [];
    v.forEach((group: unknown, gi) => {
      if (!isObject(group)) throw new BadRequest(`Element ${gi} is not an object`);
      const tags = stringMap(group['tags'], `tags of element ${gi}`);
      const events = group['events'];
      if (!Array.isArray(events)) throw new BadRequest(`Element ${gi} has no "events" array`);
      events.forEach((e: unknown, ei) => {
        const where = `event ${ei} of element ${gi}`;
        if (!isObject(e)) throw new BadRequest(`${where} is not an object`);
        const ts = parseTimestamp(e['timestamp'], where);
        const timezone = e['timezone'];
        if (timezone !== undefined && typeof timezone !== 'string') throw new BadRequest(`${where}: "timezone" must be a string`);
        const attributes = e['attributes'];
        if (attributes !== undefined && !isObject(attributes)) throw new BadRequest(`${where}: "attributes" must be an object`);
        const rawstring = e['rawstring'];
        if (rawstring !== undefined && typeof rawstring !== 'string') throw new BadRequest(`${where}: "rawstring" must be a string`);
        const attrs = { ...(attributes ?? {}) };
        if (e['kvparse'] === true && rawstring !== undefined) Object.assign(attrs, kvParse(rawstring), attributes);
        out.push(this.#event(ctx, {
          timestamp: ts.ms,
          timezone: timezone ?? ts.zone,
          rawstring: rawstring ?? JSON.stringify(attributes ?? {}),
          attributes: attrs,
          tags,
        }));
      });
    });
    return out;
  }

  #unstructured(body: string, ctx: Ctx): LogScaleEvent[] {
    const v = parseJson(body);
    if (!Array.isArray(v)) throw new BadRequest('Expected a JSON array of {"messages"} objects');
    const out: LogScaleEvent[] = [];
    v.forEach((group: unknown, gi) => {
      if (!isObject(group)) throw new BadRequest(`Element ${gi} is not an object`);
      const messages = group['messages'];
      if (!Array.isArray(messages) || !messages.every((m) => typeof m === 'string')) throw new BadRequest(`Element ${gi}: "messages" must be an array of strings`);
      const fields = stringMap(group['fields'], `fields of element ${gi}`);
      const tags = stringMap(group['tags'], `tags of element ${gi}`);
      const type = group['type'];
      if (type !== undefined && typeof type !== 'string') throw new BadRequest(`Element ${gi}: "type" must be a string`);
      for (const m of messages as string[]) {
        out.push(this.#event(ctx, { rawstring: m, attributes: { ...fields }, tags, ...(type === undefined ? {} : { type }) }));
      }
    });
    return out;
  }

  #hec(body: string, ctx: Ctx): LogScaleEvent[] {
    const out: LogScaleEvent[] = [];
    let n = 0;
    for (const chunk of splitConcatenatedJson(body)) {
      const e = parseJson(chunk);
      if (!isObject(e)) throw new BadRequest(`Invalid data format (event ${n})`);
      const event = e['event'];
      if (event === undefined || event === null || event === '') throw new BadRequest(`Event field is required (event ${n})`);
      let ms = ctx.now;
      const time = e['time'];
      if (time !== undefined) {
        const t = typeof time === 'string' ? Number(time) : time;
        if (typeof t !== 'number' || !Number.isFinite(t)) throw new BadRequest(`Invalid "time" (event ${n}): epoch seconds expected`);
        ms = Math.round(t * 1000);
      }
      const fields = e['fields'];
      if (fields !== undefined && !isObject(fields)) throw new BadRequest(`"fields" must be an object (event ${n})`);
      const tags: Record<string, string> = {};
      const attributes: Record<string, unknown> = isObject(event) ? { ...event } : {};
      for (const [k, v] of Object.entries(fields ?? {})) {
        if (k.startsWith('#')) tags[k.slice(1)] = String(v);
        else attributes[k] = v;
      }
      const index = e['index'];
      if (index !== undefined && index !== ctx.repo) throw new BadRequest(`The index "${String(index)}" does not match the repository of the ingest token (event ${n})`);
      const sourcetype = e['sourcetype'];
      const rawstring = typeof event === 'string' ? event : JSON.stringify(event);
      if (typeof event === 'string') Object.assign(attributes, kvParse(event));
      const ev = this.#event(ctx, {
        timestamp: ms,
        timezone: typeof e['timezone'] === 'string' ? e['timezone'] : 'Z',
        rawstring,
        attributes,
        tags,
        ...(typeof sourcetype === 'string' ? { type: sourcetype } : {}),
      });
      if (typeof e['host'] === 'string') ev['@host'] = e['host'];
      if (typeof e['source'] === 'string') ev['@source'] = e['source'];
      out.push(ev);
      n++;
    }
    return out;
  }

  #hecRaw(body: string, ctx: Ctx, channel: string | undefined): LogScaleEvent[] {
    return body
      .split(/\r\n|\r|\n/)
      .filter((l) => l !== '')
      .map((l) => this.#event(ctx, { rawstring: l, attributes: channel === undefined ? {} : { channel } }));
  }

  #json(body: string, ctx: Ctx): LogScaleEvent[] {
    const v = parseJson(body);
    const items = Array.isArray(v) ? v : [v];
    return items.map((item: unknown, i) => {
      if (!isObject(item)) throw new BadRequest(`Element ${i} is not a JSON object`);
      return this.#event(ctx, { rawstring: JSON.stringify(item), attributes: { ...item } });
    });
  }

  /** Build a stored event and apply the 1 MB truncation rule (§1.7: truncate, never reject). */
  #event(ctx: Ctx, e: { timestamp?: number; timezone?: string; rawstring: string; attributes?: Record<string, unknown>; tags?: Record<string, string>; type?: string }): LogScaleEvent {
    let rawstring = e.rawstring;
    let attributes = e.attributes ?? {};
    const size = Buffer.byteLength(rawstring) + (Object.keys(attributes).length === 0 ? 0 : Buffer.byteLength(JSON.stringify(attributes)));
    if (size > this.#maxEvent) {
      attributes = {};
      rawstring = truncateUtf8(rawstring, this.#maxEvent - 3) + '...';
    }
    const out: LogScaleEvent = {
      '@timestamp': e.timestamp ?? ctx.now,
      '@timezone': e.timezone ?? 'Z',
      '@rawstring': rawstring,
      '@ingesttimestamp': ctx.now,
      '#repo': ctx.repo,
      attributes,
    };
    const type = e.type ?? ctx.parser;
    if (type !== undefined) out['#type'] = type;
    for (const [k, v] of Object.entries(e.tags ?? {})) out[`#${k}`] = v;
    return out;
  }
}

interface Ctx {
  repo: string;
  parser: string | undefined;
  now: number;
}

function faultReply(status: number): Reply {
  const messages: Record<number, string> = {
    400: 'Bad request',
    401: 'The supplied ingest token is not valid',
    403: 'Forbidden',
    413: 'Request body exceeds the maximum ingest request size',
    429: 'Too many requests',
    500: 'Internal server error',
    502: 'Bad Gateway',
    503: 'Ingest is delayed beyond MAX_INGEST_DELAY_SECONDS, please retry later',
    504: 'Gateway Timeout',
  };
  if (status === 204 || status === 304) return { status };
  if (status >= 200 && status < 300) return json(status, '{}');
  return text(status, messages[status] ?? `Emulated status ${status}`);
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch (err) {
    throw new BadRequest(`Could not parse JSON: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined) return {};
  if (!isObject(v)) throw new BadRequest(`${what} must be an object of strings`);
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw new BadRequest(`${what}: value of "${k}" must be a string`);
  return v as Record<string, string>;
}

function parseTimestamp(v: unknown, where: string): { ms: number; zone: string | undefined } {
  if (typeof v === 'number' && Number.isFinite(v)) return { ms: Math.round(v), zone: undefined };
  if (typeof v === 'string') {
    const m = ISO_8601.exec(v);
    const ms = Date.parse(v);
    if (m !== null && Number.isFinite(ms)) {
      const z = m[1];
      return { ms, zone: z === undefined ? undefined : z.toUpperCase() === 'Z' ? 'Z' : z };
    }
    throw new BadRequest(`${where}: "timestamp" is not ISO-8601: ${v}`);
  }
  throw new BadRequest(`${where}: "timestamp" is required (ISO-8601 string or epoch milliseconds)`);
}

/** Split HEC's whitespace-delimited stream of JSON objects without a full parse. */
function* splitConcatenatedJson(body: string): Generator<string> {
  let i = 0;
  const n = body.length;
  while (i < n) {
    while (i < n && /\s/.test(body[i] as string)) i++;
    if (i >= n) return;
    if (body[i] !== '{') throw new BadRequest(`Invalid data format at offset ${i}: expected a JSON object`);
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = body[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    if (depth !== 0) throw new BadRequest(`Invalid data format at offset ${start}: unterminated JSON object`);
    yield body.slice(start, i);
  }
}

/** LogScale's key=value parsing of a rawstring (used by `kvparse` and HEC string events). */
function kvParse(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([A-Za-z_][\w.]*)=("((?:[^"\\]|\\.)*)"|[^\s,]+)/g)) {
    out[m[1] as string] = m[3] ?? (m[2] as string);
  }
  return out;
}

function truncateUtf8(s: string, maxBytes: number): string {
  const b = Buffer.from(s);
  if (b.length <= maxBytes) return s;
  let end = Math.max(0, maxBytes);
  // Do not cut a multi-byte character in half.
  while (end > 0 && ((b[end] as number) & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8');
}
