/**
 * Parseable emulator (protocols §3, checklist §3.9), modelled on server v2.9.5: `/api/v1/ingest`
 * with `X-P-Stream` (creates the stream), `/api/v1/logstream/{name}` (existing streams; PUT to
 * create, DELETE, schema), liveness/readiness, Basic or `X-API-Key` auth with Parseable's 401/403
 * split, actix-web's JSON extractor rules (Content-Type, 10 MiB on Content-Length and on the
 * decoded body, serde error texts) and how rows are stored: nested objects flattened with `_`,
 * arrays exploded into one row per element (cartesian product across arrays, §3.4), plus
 * `p_timestamp`, `p_user_agent`, `p_src_ip` and custom `X-P-*` header fields.
 *
 * The check order is the real server's (§3.9.6): auth → Content-Type → Content-Length → body
 * size → JSON parse → X-P-Stream → stream name → stream existence → content rules.
 *
 * Over 400 lines: one protocol emulator — ingest, stream management, schema inference and array
 * flattening share the stream store; a split would cut through it.
 */
import { EmulatorFacade, EmulatorServer, parseBasic, text, countingStatuses } from './server.ts';
import type { CommonOptions, Emulator, Exchange, Reply } from './server.ts';
import { parseStrictJson, StrictJsonError } from './strict-json.ts';

export interface ParseableOptions extends CommonOptions {
  /** `P_USERNAME`; default 'admin'. */
  username?: string;
  /** `P_PASSWORD`; default 'admin'. */
  password?: string;
  /** Values accepted in `X-API-Key`. */
  apiKeys?: string[];
  /** `P_MAX_EVENT_PAYLOAD_SIZE`; default 10 MiB (10485760). */
  maxPayloadBytes?: number;
  /** Explode arrays into rows as V1 streams do (§3.4); default true. False keeps arrays as values (columnar for arrays of objects). */
  explodeArrays?: boolean;
  /** `P_MAX_FLATTEN_LEVEL`: deeper events are not exploded; default 10. */
  maxFlattenLevel?: number;
  /** `P_DATASET_FIELD_COUNT_LIMIT`; default 1000. */
  maxFields?: number;
}

export type ParseableRow = Record<string, unknown>;

export interface ParseableStats {
  /** Ingest requests answered 200. */
  ingestRequests: number;
  rows: number;
  byStatus: Record<number, number>;
}

export interface ParseableEmulator extends Emulator {
  /** Stored rows of a stream, in ingest order (empty when the stream does not exist). */
  rows(stream: string): ParseableRow[];
  streams(): string[];
  /** Field name → Arrow data type name (`Utf8`, `Float64`, `Boolean`, `List`, `Timestamp(Millisecond, None)`). */
  schema(stream: string): Record<string, string>;
  stats(): ParseableStats;
}

const MiB = 1024 * 1024;
const TEXT_401 = 'Your session has expired or is no longer valid. Please re-authenticate to access this resource.';
const TEXT_403 = "You don't have permission to access this resource. Please contact your administrator for assistance.";
const SQL_KEYWORDS: ReadonlySet<string> = new Set(['select', 'from', 'where', 'group', 'by', 'order', 'limit', 'offset', 'join', 'and', 'sql']);
const MAX_CUSTOM_FIELDS = 10;
const MAX_FIELD_VALUE_LENGTH = 100;
/** `x-p-*` headers that are instructions, not custom fields. */
const IGNORE_HEADERS: ReadonlySet<string> = new Set([
  'x-p-stream', 'x-p-log-source', 'x-p-extract-log', 'x-p-update-stream', 'x-p-time-partition', 'x-p-time-partition-limit',
  'x-p-custom-partition', 'x-p-static-schema-flag', 'x-p-stream-type', 'x-p-telemetry-type', 'x-p-tenant', 'x-p-tenant-id', 'x-p-dataset-tag', 'x-p-dataset-tags',
]);
const OTEL_SOURCES: ReadonlySet<string> = new Set(['otel-logs', 'otel-metrics', 'otel-traces']);

interface Stream {
  name: string;
  rows: ParseableRow[];
  schema: Map<string, string>;
  createdAt: string;
}

class BadRequest extends Error {}

export async function startParseable(opts: ParseableOptions = {}): Promise<ParseableEmulator> {
  const emu = new ParseableServer(opts);
  await emu.server.listen();
  return emu;
}

class ParseableServer extends EmulatorFacade implements ParseableEmulator {
  override readonly server: EmulatorServer;
  #opts: ParseableOptions;
  #limit: number;
  #streams = new Map<string, Stream>();
  #stats: ParseableStats = { ingestRequests: 0, rows: 0, byStatus: {} };

  constructor(opts: ParseableOptions) {
    super();
    this.#opts = opts;
    this.#limit = opts.maxPayloadBytes ?? 10 * MiB;
    this.server = new EmulatorServer({
      options: countingStatuses(opts, this.#stats.byStatus),
      handle: (ex) => this.#handle(ex),
      faultReply: (status) => this.#faultReply(status),
      internalError: (err) => text(500, `Error: ${String(err)}`),
    });
  }

  rows(stream: string): ParseableRow[] {
    return [...(this.#streams.get(stream)?.rows ?? [])];
  }
  streams(): string[] {
    return [...this.#streams.keys()];
  }
  schema(stream: string): Record<string, string> {
    return Object.fromEntries(this.#streams.get(stream)?.schema ?? []);
  }
  stats(): ParseableStats {
    return { ...this.#stats, byStatus: { ...this.#stats.byStatus } };
  }

  async #handle(ex: Exchange): Promise<Reply> {
    const path = ex.path.replace(/\/+$/, '') || '/';
    const m = ex.method;
    // Health endpoints answer without authentication.
    if (path === '/api/v1/liveness' || path === '/api/v1/readiness') {
      if (m !== 'GET' && m !== 'HEAD') return { status: 405 };
      return { status: 200 };
    }
    const denied = this.#authenticate(ex);
    if (denied !== undefined) return denied;

    if (path === '/api/v1/ingest') {
      if (m !== 'POST') return { status: 405 };
      return this.#ingest(ex, undefined);
    }
    if (path === '/api/v1/logstream') {
      if (m !== 'GET') return { status: 405 };
      return jsonReply(200, [...this.#streams.keys()].map((name) => ({ name })));
    }
    const lm = /^\/api\/v1\/logstream\/([^/]+)(?:\/(schema|info))?$/.exec(path);
    if (lm !== null) {
      const name = decodeURIComponent(lm[1] as string);
      const sub = lm[2];
      if (sub === 'schema' || sub === 'info') {
        if (m !== 'GET') return { status: 405 };
        const s = this.#streams.get(name);
        if (s === undefined) return text(404, `Stream not found: ${name}`);
        if (sub === 'info') return jsonReply(200, { createdAt: s.createdAt, firstEventAt: s.rows[0]?.['p_timestamp'] ?? null, streamType: 'UserDefined', logSource: [{ log_source_format: 'json', fields: [] }] });
        return jsonReply(200, {
          fields: [...s.schema].map(([field, type]) => ({ name: field, data_type: type, nullable: true, dict_id: 0, dict_is_ordered: false, metadata: {} })),
          metadata: {},
        });
      }
      if (m === 'POST') return this.#ingest(ex, name);
      if (m === 'PUT') return this.#createStream(ex, name);
      if (m === 'DELETE') {
        if (!this.#streams.delete(name)) return text(404, `Stream not found: ${name}`);
        return text(200, `log stream ${name} deleted`);
      }
      return { status: 405 };
    }
    return { status: 404 };
  }

  // ---------------------------------------------------------------- auth (§3.2)

  #authenticate(ex: Exchange): Reply | undefined {
    const key = ex.header('x-api-key');
    if (key !== undefined) {
      if ((this.#opts.apiKeys ?? []).includes(key)) return undefined;
      return text(401, 'Invalid API key');
    }
    const basic = parseBasic(ex.header('authorization'));
    if (basic === undefined) return text(401, TEXT_401);
    // Wrong credentials are a 403, not a 401, in Parseable (rbac authorize → ErrorForbidden).
    if (basic.username !== (this.#opts.username ?? 'admin') || basic.password !== (this.#opts.password ?? 'admin')) return text(403, TEXT_403);
    return undefined;
  }

  // ---------------------------------------------------------------- streams

  async #createStream(ex: Exchange, name: string): Promise<Reply> {
    await ex.body({ maxDeclared: this.#limit, maxWire: this.#limit, maxDecoded: this.#limit });
    const bad = validateStreamName(name);
    if (bad !== undefined) return text(400, bad);
    if (this.#streams.has(name)) {
      if (ex.header('x-p-update-stream') === 'true') return text(200, 'Log stream updated');
      return text(400, `Logstream ${name} already exists, please create a new log stream with unique name`);
    }
    this.#create(name);
    return text(200, 'Log stream created');
  }

  #create(name: string): Stream {
    const s: Stream = { name, rows: [], schema: new Map(), createdAt: new Date().toISOString() };
    this.#streams.set(name, s);
    return s;
  }

  // ---------------------------------------------------------------- ingest

  async #ingest(ex: Exchange, pathStream: string | undefined): Promise<Reply> {
    // actix-web's Json extractor: Content-Type first, then the declared size, then the body.
    if (!isJsonContentType(ex.header('content-type'))) return text(400, 'Content type error');
    const declared = Number(ex.header('content-length') ?? Number.NaN);
    const r = await ex.body({ maxDeclared: this.#limit, maxWire: this.#limit, maxDecoded: this.#limit });
    if (!r.ok) {
      if (r.error === 'declared-too-large') return text(413, `JSON payload (${declared} bytes) is larger than allowed (limit: ${this.#limit} bytes).`);
      if (r.error === 'too-large') return text(413, `JSON payload has exceeded limit (${this.#limit} bytes).`);
      if (r.error === 'unsupported-encoding') return text(415, `Unsupported Content-Encoding: ${r.encoding}`);
      return text(400, `Json payload error: ${r.message}`);
    }
    let body: unknown;
    try {
      body = parseStrictJson(r.body.toString('utf8'));
    } catch (err) {
      if (err instanceof StrictJsonError) return text(400, `Json deserialize error: ${err.message}`);
      throw err;
    }

    let stream: Stream;
    if (pathStream === undefined) {
      const name = ex.header('x-p-stream');
      if (name === undefined) return text(400, 'Header Error: Stream name not found in header [x-p-stream]');
      const source = ex.header('x-p-log-source');
      if (source !== undefined && OTEL_SOURCES.has(source.toLowerCase())) {
        return text(400, 'Please use endpoints `/v1/logs` for otel formatted logs, `/v1/metrics` for otel formatted metrics and `/v1/traces` for otel formatted traces');
      }
      const bad = validateStreamName(name);
      if (bad !== undefined) return text(400, bad);
      // Created before the content is looked at, as create_stream_if_not_exists does.
      stream = this.#streams.get(name) ?? this.#create(name);
    } else {
      const s = this.#streams.get(pathStream);
      if (s === undefined) return text(404, `Stream not found: ${pathStream}`);
      stream = s;
    }

    let rows: ParseableRow[];
    let schema: Map<string, string>;
    try {
      ({ rows, schema } = this.#toRows(body, stream, ex));
    } catch (err) {
      if (err instanceof BadRequest) return text(400, err.message);
      throw err;
    }
    // One record batch: all rows or none (§3.7).
    stream.schema = schema;
    for (const row of rows) stream.rows.push(row);
    this.#stats.ingestRequests++;
    this.#stats.rows += rows.length;
    return { status: 200, note: `${rows.length} rows → ${stream.name}` };
  }

  #toRows(body: unknown, stream: Stream, ex: Exchange): { rows: ParseableRow[]; schema: Map<string, string> } {
    const events = Array.isArray(body) ? body : [body];
    if (Array.isArray(body) && body.length === 0) throw new BadRequest('Invalid Request: Empty data object received');
    for (const e of events) {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new BadRequest('Invalid Request: Expected an object or a list of objects');
      if ('p_timestamp' in e) throw new BadRequest('Invalid Request: field p_timestamp is a reserved field');
    }
    const explode = this.#opts.explodeArrays ?? true;
    const maxLevel = this.#opts.maxFlattenLevel ?? 10;
    const flat: ParseableRow[] = [];
    for (const e of events as Array<Record<string, unknown>>) {
      const exploded = explode && !tooDeep(e, 1, maxLevel) ? genericFlattening(e) : [e];
      for (const x of exploded) flat.push(flattenObject(x as Record<string, unknown>));
    }
    const extra = this.#extraFields(ex);
    const schema = new Map(stream.schema);
    const now = new Date().toISOString();
    const rows: ParseableRow[] = [];
    for (const f of flat) {
      const row: ParseableRow = {};
      for (const [k0, v] of Object.entries(f)) {
        // Docs: names starting with `@` are renamed to `_…`; a collision rejects the event.
        const k = k0.startsWith('@') ? `_${k0.slice(1)}` : k0;
        if (k !== k0 && Object.hasOwn(f, k)) throw new BadRequest(`Invalid Request: field ${k0} collides with ${k} after renaming`);
        if (v === null || v === undefined) {
          row[k] = null;
          continue;
        }
        const type = arrowType(v);
        const known = schema.get(k);
        if (known === undefined || known === type) {
          schema.set(k, type);
          row[k] = v;
        } else {
          // A type change is stored under a type-suffixed name instead of failing (docs §3.4).
          const alt = `${k}_${type.toLowerCase()}`;
          schema.set(alt, type);
          row[alt] = v;
        }
      }
      row['p_timestamp'] = now;
      schema.set('p_timestamp', 'Timestamp(Millisecond, None)');
      for (const [k, v] of extra) {
        row[k] = v;
        if (!schema.has(k)) schema.set(k, 'Utf8');
      }
      rows.push(row);
    }
    const limit = this.#opts.maxFields ?? 1000;
    if (schema.size > limit) {
      throw new BadRequest(`Failed to ingest events in dataset ${stream.name}. Total number of fields ${schema.size} exceeds the permissible limit of ${limit}. We recommend creating a new dataset beyond ${limit} or partitioning your data to stay within the limit.`);
    }
    return { rows, schema };
  }

  /** `p_user_agent`, `p_src_ip` and custom `X-P-*` header fields: at most 10 together, values cut at 100 chars. */
  #extraFields(ex: Exchange): Array<[string, string]> {
    const ip = ex.remoteAddress.replace(/^::ffff:/, '');
    const out: Array<[string, string]> = [
      ['p_user_agent', ex.header('user-agent') ?? ''],
      ['p_src_ip', ip],
    ];
    for (const [name, value] of Object.entries(ex.headers)) {
      if (!name.startsWith('x-p-') || IGNORE_HEADERS.has(name) || value === undefined) continue;
      if (out.length >= MAX_CUSTOM_FIELDS) break;
      const v = Array.isArray(value) ? value.join(',') : value;
      out.push([name.slice(4), v.slice(0, MAX_FIELD_VALUE_LENGTH)]);
    }
    return out;
  }

  #faultReply(status: number): Reply {
    switch (status) {
      case 401:
        return text(401, TEXT_401);
      case 403:
        return text(403, TEXT_403);
      case 413:
        return text(413, `JSON payload has exceeded limit (${this.#limit} bytes).`);
      case 500:
        return text(500, 'Error: emulated internal error');
      case 502:
        return text(502, 'Bad Gateway');
      case 503:
        return text(503, 'Server is shutting down');
      case 504:
        return text(504, 'Gateway Timeout');
      default:
        return status >= 200 && status < 300 ? { status } : text(status, `Emulated status ${status}`);
    }
  }
}

function jsonReply(status: number, v: unknown): Reply {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(v) };
}

/** actix-web accepts a `json` subtype or a `+json` suffix, parameters allowed. */
function isJsonContentType(ct: string | undefined): boolean {
  if (ct === undefined) return false;
  const m = /^\s*[a-z0-9!#$&^_.+-]+\/([a-z0-9!#$&^_.+-]+)\s*(;.*)?$/i.exec(ct);
  if (m === null) return false;
  const sub = (m[1] as string).toLowerCase();
  return sub === 'json' || sub.endsWith('+json');
}

/** Parseable's stream-name rules (validator.rs); the texts other than the special-character one are approximations. */
export function validateStreamName(name: string): string | undefined {
  if (name === '') return 'Stream name cannot be empty';
  for (const c of name) {
    if (/\s/.test(c)) return 'Stream name cannot contain whitespace';
    if (!/[\p{L}\p{N}_-]/u.test(c)) return `Stream name cannot contain special character: ${c}`;
  }
  if (SQL_KEYWORDS.has(name)) return `The stream \`${name}\` is a reserved word and cannot be used`;
  if (name === 'DEFAULT_TENANT') return `The stream \`${name}\` is a reserved word and cannot be used`;
  return undefined;
}

/** `has_more_than_max_allowed_levels`: objects add a level, arrays do not. */
function tooDeep(v: unknown, level: number, max: number): boolean {
  if (level > max) return true;
  if (Array.isArray(v)) return v.some((x) => tooDeep(x, level, max));
  if (typeof v === 'object' && v !== null) return Object.values(v).some((x) => tooDeep(x, level + 1, max));
  return false;
}

/**
 * Parseable's `generic_flattening` (utils/json/flatten.rs): every non-empty array yields one
 * result per (flattened) element, nested objects are expanded the same way, and the results of
 * several keys combine as a cartesian product. Empty arrays stay as `[]`.
 */
export function genericFlattening(v: unknown): unknown[] {
  if (Array.isArray(v)) return v.flatMap((x) => genericFlattening(x));
  if (typeof v !== 'object' || v === null) return [v];
  let results: Array<Record<string, unknown>> = [{}];
  for (const [key, val] of Object.entries(v)) {
    if (Array.isArray(val)) {
      if (val.length === 0) {
        for (const r of results) r[key] = [];
        continue;
      }
      const items = val.flatMap((x) => genericFlattening(x));
      results = items.flatMap((item) => results.map((r) => ({ ...r, [key]: item })));
    } else if (typeof val === 'object' && val !== null) {
      const nested = genericFlattening(val);
      results = nested.flatMap((item) => results.map((r) => ({ ...r, [key]: item })));
    } else {
      for (const r of results) r[key] = val;
    }
  }
  return results;
}

/** Parseable's `flatten` with separator `_`: objects become `a_b`, arrays of objects become columns. */
function flattenObject(obj: Record<string, unknown>, parent?: string, out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [key, value] of Object.entries(obj)) {
    const k = parent === undefined ? key : `${parent}_${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) flattenObject(value as Record<string, unknown>, k, out);
    else if (Array.isArray(value) && value.some((x) => typeof x === 'object' && x !== null && !Array.isArray(x))) flattenArrayOfObjects(value, k, out);
    else out[k] = value;
  }
  return out;
}

function flattenArrayOfObjects(arr: unknown[], parent: string, out: Record<string, unknown>): void {
  const columns = new Map<string, unknown[]>();
  arr.forEach((item, index) => {
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      for (const [k, v] of Object.entries(flattenObject(item as Record<string, unknown>, parent))) {
        let col = columns.get(k);
        if (col === undefined) columns.set(k, (col = new Array<unknown>(index).fill(null)));
        col.push(v);
      }
    } else if (item !== null) {
      throw new BadRequest('Found non-object element while flattening array of objects');
    }
    for (const col of columns.values()) while (col.length < index + 1) col.push(null);
  });
  for (const [k, v] of [...columns].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = v;
}

function arrowType(v: unknown): string {
  if (typeof v === 'number') return 'Float64';
  if (typeof v === 'boolean') return 'Boolean';
  if (Array.isArray(v)) return 'List';
  return 'Utf8';
}
