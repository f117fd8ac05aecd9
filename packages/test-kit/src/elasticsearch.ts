/**
 * Elasticsearch emulator (protocols §2, checklist §2.11): what the official client and other
 * shippers see of a single-node 8.x cluster — `GET /`, `HEAD /`, `/_cluster/health`, `_bulk`,
 * index templates — with the product header on every reply, `compatible-with` content
 * negotiation, Basic/ApiKey/Bearer authentication, gzip bodies, the 100 MB limit, and an
 * OpenSearch flavour that refuses Elastic's vendor media types.
 *
 * Checks run in this order: authentication (401), media-type versions (400), Content-Type
 * support (406), body size (413), then the bulk itself (see elasticsearch-bulk.ts).
 *
 * Over 400 lines: the HTTP surface of one emulator (routing of every endpoint the spec lists, auth,
 * product headers, index and component templates, data-stream management and the query API tests
 * use); the bulk engine and the mapping live in their own files.
 */
import { randomBytes } from 'node:crypto';
import { BulkStore, globsOverlap, globToRegExp, invalidIndexName, resolveDateMath } from './elasticsearch-bulk.ts';
import { BUILTIN_COMPONENTS, BUILTIN_LOGS_TEMPLATE, resolveRules, templateProblem } from './elasticsearch-mapping.ts';
import type { ElasticsearchStats, ItemFaultRule, MappingConflictRule, MappingType, StoredDocument } from './elasticsearch-bulk.ts';
import { EmulatorFacade, EmulatorServer, json, parseBasic, text } from './server.ts';
import type { CommonOptions, Emulator, Exchange, Reply } from './server.ts';

export type { ElasticsearchStats, ItemFaultRule, MappingConflictRule, MappingType, StoredDocument } from './elasticsearch-bulk.ts';
export { BUILTIN_COMPONENTS, BUILTIN_LOGS_TEMPLATE, TargetMapping, resolveRules } from './elasticsearch-mapping.ts';
export type { MappingRules } from './elasticsearch-mapping.ts';

export interface ElasticsearchOptions extends CommonOptions {
  /** Reported `version.number`; its major drives the compatible-with rule. Default '8.15.0' ('2.17.0' for OpenSearch). */
  version?: string;
  /** Accepted credentials. Omitted: no authentication required. */
  auth?: {
    basic?: Array<{ username: string; password: string }>;
    /** The `ApiKey` header value as sent: base64 of `id:key`. */
    apiKeys?: string[];
    bearer?: string[];
  };
  /** `http.max_content_length`; default 100 MB (104857600). Checked on Content-Length and on the decoded body. */
  maxBodyBytes?: number;
  /** Names that are data streams (built-in templates); default `['logs-*-*', 'metrics-*-*']`. */
  dataStreamPatterns?: string[];
  flavor?: 'elasticsearch' | 'opensearch';
  /** `full` (default) keeps documents; `count` keeps per-target counts only, for benchmarks. */
  store?: 'full' | 'count';
  /**
   * Full store only: map fields as Elasticsearch does (elasticsearch-mapping.ts): from the target's
   * index template — installed with `PUT /_index_template` (and `/_component_template`), or the
   * built-in `logs` template for `logs-*-*` (ECS dynamic templates, no date detection,
   * `ignore_malformed`) — else from each field's first value. Documents that do not fit are 400
   * `document_parsing_exception` items; fields skipped under `ignore_malformed` are listed in the
   * stored document's `_ignored`. Also enforces `totalFieldsLimit`. Default false.
   */
  dynamicMapping?: boolean;
  /** `index.mapping.total_fields.limit` with dynamicMapping; default 1000. */
  totalFieldsLimit?: number;
}

export interface ElasticsearchEmulator extends Emulator {
  docs(target: string): StoredDocument[];
  count(target?: string): number;
  targets(): string[];
  stats(): ElasticsearchStats;
  itemFault(rule: ItemFaultRule): void;
  mappingConflict(rule: MappingConflictRule): void;
  /** Remove item-fault and mapping-conflict rules (request faults: `clearFaults`). */
  clearItemRules(): void;
  /** Field path → type inferred by `dynamicMapping` for a target (data streams always have `@timestamp: date`). */
  mapping(target: string): Record<string, MappingType>;
  /** Which index template a target's mapping came from: an installed template's name, `logs (built-in)` or `(defaults)`. */
  mappingSource(target: string): string | undefined;
  /** Installed index templates (`PUT /_index_template/{name}`), by name. */
  indexTemplates(): Record<string, Record<string, unknown>>;
  /** Installed component templates (`PUT /_component_template/{name}`), by name. */
  componentTemplates(): Record<string, Record<string, unknown>>;
}

const DEFAULT_MAX_BODY = 100 * 1024 * 1024;
const PRODUCT_HEADER = 'X-elastic-product';
const CLUSTER_UUID = randomBytes(16).toString('base64url').slice(0, 22);

export async function startElasticsearch(opts: ElasticsearchOptions = {}): Promise<ElasticsearchEmulator> {
  const emu = new ElasticsearchServer(opts);
  await emu.server.listen();
  return emu;
}

class ElasticsearchServer extends EmulatorFacade implements ElasticsearchEmulator {
  override readonly server: EmulatorServer;
  #opts: ElasticsearchOptions;
  #store: BulkStore;
  #flavor: 'elasticsearch' | 'opensearch';
  #version: string;
  #major: number;
  #maxBody: number;
  #templates = new Map<string, Record<string, unknown>>();
  #components = new Map<string, Record<string, unknown>>();

  constructor(opts: ElasticsearchOptions) {
    super();
    this.#opts = opts;
    this.#flavor = opts.flavor ?? 'elasticsearch';
    this.#version = opts.version ?? (this.#flavor === 'opensearch' ? '2.17.0' : '8.15.0');
    this.#major = Number.parseInt(this.#version, 10);
    this.#maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const mode = opts.store ?? 'full';
    this.#store = new BulkStore({
      mode,
      dataStreamPatterns: opts.dataStreamPatterns ?? ['logs-*-*', 'metrics-*-*'],
      major: this.#major,
      dynamicMapping: opts.dynamicMapping ?? false,
      rulesFor: (name) => resolveRules(name, this.#templates, this.#components),
      ...(opts.totalFieldsLimit === undefined ? {} : { totalFieldsLimit: opts.totalFieldsLimit }),
    });
    this.server = new EmulatorServer({
      options: { ...opts, recordBodies: opts.recordBodies ?? mode === 'full' },
      handle: (ex) => this.#handle(ex),
      // §2.3: the real server sends the product header on every response, errors included.
      baseHeaders: (): Record<string, string> => (this.#flavor === 'elasticsearch' ? { [PRODUCT_HEADER]: 'Elasticsearch' } : {}),
      faultReply: (status, ex) => this.#faultReply(status, ex),
      internalError: (err) => esError(500, 'exception', String(err)),
    });
  }

  docs(target: string): StoredDocument[] {
    return this.#store.docs(target);
  }
  count(target?: string): number {
    return this.#store.count(target);
  }
  targets(): string[] {
    return this.#store.targets();
  }
  stats(): ElasticsearchStats {
    const s = this.#store.stats;
    return { bulkRequests: s.bulkRequests, conflicts: s.conflicts, itemsByStatus: { ...s.itemsByStatus } };
  }
  itemFault(rule: ItemFaultRule): void {
    this.#store.itemFault(rule);
  }
  mappingConflict(rule: MappingConflictRule): void {
    this.#store.mappingConflict(rule);
  }
  clearItemRules(): void {
    this.#store.clearRules();
  }
  mapping(target: string): Record<string, MappingType> {
    return this.#store.mapping(target);
  }
  mappingSource(target: string): string | undefined {
    return this.#store.mappingSource(target);
  }
  indexTemplates(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(this.#templates);
  }
  componentTemplates(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(this.#components);
  }

  async #handle(ex: Exchange): Promise<Reply> {
    const denied = this.#authenticate(ex);
    if (denied !== undefined) return denied;
    const hasBody = Number(ex.header('content-length') ?? 0) > 0 || ex.header('transfer-encoding') !== undefined;
    const negotiation = this.#negotiate(ex, hasBody);
    if (negotiation !== undefined) return negotiation;

    const segs = ex.path.split('/').filter((s) => s !== '').map((s) => safeDecode(s));
    const m = ex.method;
    if (segs.length === 0) {
      if (m === 'GET') return this.#reply(ex, 200, this.#info());
      if (m === 'HEAD') return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' } };
      return methodNotAllowed(ex, ['GET', 'HEAD']);
    }
    const [first, second, third] = segs;
    if (first === '_bulk' && segs.length === 1) return this.#bulk(ex, undefined);
    if (second === '_bulk' && segs.length === 2) return this.#bulk(ex, first);
    if (first === '_cluster' && second === 'health' && segs.length <= 3) {
      if (m !== 'GET') return methodNotAllowed(ex, ['GET']);
      return this.#reply(ex, 200, this.#health());
    }
    if (first === '_index_template' && third === undefined && second !== undefined) return this.#template(ex, second);
    if (first === '_component_template' && third === undefined && second !== undefined) return this.#component(ex, second);
    if (first !== undefined && !first.startsWith('_') && segs.length === 1 && m === 'HEAD') {
      return { status: this.#store.target(first) === undefined ? 404 : 200, headers: { 'content-type': 'application/json; charset=utf-8' } };
    }
    // Read side, for examples and manual checks: counts and a match_all search.
    const READ_OPS = ['_count', '_search', '_refresh'];
    const [readTarget, readOp] = segs.length === 1 && READ_OPS.includes(first ?? '') ? ['*', first] : segs.length === 2 && !first?.startsWith('_') && READ_OPS.includes(second ?? '') ? [first, second] : [undefined, undefined];
    if (readTarget !== undefined && readOp !== undefined) {
      const names = this.#resolve(readTarget);
      if (names === undefined) {
        return esError(404, 'index_not_found_exception', `no such index [${readTarget}]`, { 'resource.type': 'index_or_alias', 'resource.id': readTarget, index_uuid: '_na_', index: readTarget });
      }
      if (readOp === '_refresh') return this.#reply(ex, 200, { _shards: { total: 2, successful: 1, failed: 0 } });
      if (readOp === '_count') return this.#reply(ex, 200, { count: names.reduce((a, t) => a + this.#store.count(t), 0), _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } });
      return this.#search(ex, names);
    }
    // Single-document APIs (Falcosidekick without batching, examples): run through the bulk engine.
    if (first !== undefined && !first.startsWith('_') && (second === '_doc' || second === '_create') && (segs.length === 2 || segs.length === 3)) {
      return this.#singleDoc(ex, first, second, third);
    }
    return noHandler(ex);
  }

  /** Concrete targets for a comma-separated list of names or patterns; undefined when a plain name is missing. */
  #resolve(expr: string): string[] | undefined {
    const all = this.#store.targets();
    const out = new Set<string>();
    for (const part of expr.split(',')) {
      if (part === '_all' || part.includes('*')) {
        const re = globToRegExp(part === '_all' ? '*' : part);
        for (const t of all) if (re.test(t)) out.add(t);
      } else {
        const t = this.#store.target(part);
        if (t === undefined) return undefined;
        out.add(t.name);
      }
    }
    return [...out];
  }

  #search(ex: Exchange, names: string[]): Reply {
    const size = Number(ex.query.get('size') ?? 10);
    const from = Number(ex.query.get('from') ?? 0);
    const all = names.flatMap((n) => this.#store.docs(n).map((d) => ({ _index: this.#store.target(n)?.writeIndex ?? n, _id: d._id, _score: 1.0, ...(d._ignored ? { _ignored: d._ignored } : {}), _source: d._source })));
    return this.#reply(ex, 200, {
      took: 1,
      timed_out: false,
      _shards: { total: names.length, successful: names.length, skipped: 0, failed: 0 },
      hits: { total: { value: all.length, relation: 'eq' }, max_score: all.length > 0 ? 1.0 : null, hits: all.slice(from, from + size) },
    });
  }

  async #singleDoc(ex: Exchange, index: string, api: '_doc' | '_create', id: string | undefined): Promise<Reply> {
    const m = ex.method;
    if (id === undefined ? m !== 'POST' : m !== 'PUT' && m !== 'POST') return methodNotAllowed(ex, id === undefined ? ['POST'] : ['PUT', 'POST']);
    if (api === '_create' && id === undefined) return noHandler(ex);
    const r = await ex.body({ maxDeclared: this.#maxBody, maxDecoded: this.#maxBody, decode: ['gzip', 'x-gzip', 'deflate'] });
    if (!r.ok) return { status: 413 };
    // A POST without id defaults to op_type create (that is how data streams take single documents).
    const op = api === '_create' || id === undefined || ex.query.get('op_type') === 'create' ? 'create' : 'index';
    const text = r.body.toString('utf8');
    let source: string;
    try {
      source = JSON.stringify(JSON.parse(text));
    } catch {
      source = text.replace(/[\r\n]+/g, ' ');
    }
    const line = JSON.stringify({ [op]: { _index: index, ...(id === undefined ? {} : { _id: id }) } });
    const result = this.#store.bulk(Buffer.from(`${line}\n${source}\n`), undefined, false);
    if ('status' in result) return esError(result.status, result.type, result.reason);
    const parsed = JSON.parse(result.json.toString()) as { items: Array<Record<string, Record<string, unknown>>> };
    const item = parsed.items[0]?.[op] ?? {};
    const status = Number(item['status'] ?? 500);
    if (status >= 300) {
      const err = (item['error'] ?? { type: 'exception', reason: 'unknown' }) as Record<string, unknown>;
      return json(status, { error: { root_cause: [err], ...err }, status });
    }
    const { status: _status, ...body } = item;
    return this.#reply(ex, status, body, `1 doc → ${index}`);
  }

  /** JSON success reply honouring `filter_path` and `pretty`. */
  #reply(ex: Exchange, status: number, value: unknown, note?: string): Reply {
    const fp = ex.query.get('filter_path');
    let v = value;
    if (fp !== null && fp !== '') v = filterPath(value, fp) ?? {};
    const body = ex.query.has('pretty') ? JSON.stringify(v, null, 2) + '\n' : JSON.stringify(v);
    return { ...json(status, body), ...(note === undefined ? {} : { note }) };
  }

  // ---------------------------------------------------------------- auth (§2.11.4)

  #authenticate(ex: Exchange): Reply | undefined {
    const auth = this.#opts.auth;
    if (auth === undefined) return undefined;
    const header = ex.header('authorization');
    const uri = ex.req.url ?? ex.path;
    if (header === undefined || header.trim() === '') return authError(`missing authentication credentials for REST request [${uri}]`);
    const [scheme = '', ...rest] = header.trim().split(/\s+/);
    const cred = rest.join(' ');
    switch (scheme.toLowerCase()) {
      case 'basic': {
        const b = parseBasic(header);
        if (b !== undefined && (auth.basic ?? []).some((u) => u.username === b.username && u.password === b.password)) return undefined;
        return authError(`unable to authenticate user [${b?.username ?? ''}] for REST request [${uri}]`);
      }
      case 'apikey':
        if ((auth.apiKeys ?? []).includes(cred)) return undefined;
        return authError('unable to authenticate with provided credentials and anonymous access is not allowed for this request');
      case 'bearer':
        if ((auth.bearer ?? []).includes(cred)) return undefined;
        return authError('unable to authenticate with provided credentials and anonymous access is not allowed for this request');
      default:
        return authError(`missing authentication credentials for REST request [${uri}]`);
    }
  }

  // ---------------------------------------------------------------- content negotiation (§2.2, §2.11.3)

  #negotiate(ex: Exchange, hasBody: boolean): Reply | undefined {
    const ctRaw = ex.header('content-type');
    const acceptRaw = ex.header('accept');
    const ct = ctRaw === undefined ? undefined : parseMediaType(ctRaw);
    const accept = acceptRaw === undefined ? undefined : pickAccept(acceptRaw);

    if (this.#flavor === 'opensearch') {
      // OpenSearch (and ES 7.10) know no vendor types at all: 406, as pino-elasticsearch#188 shows.
      if (hasBody && ctRaw !== undefined && ct?.subtype.startsWith('vnd.elasticsearch')) {
        return esJsonError(406, `Content-Type header [${ctRaw}] is not supported`);
      }
    } else {
      const aVersion = accept?.version;
      const cVersion = hasBody ? ct?.version : undefined;
      const max = this.#major;
      const min = this.#major - 1;
      const mtError = (reason: string): Reply =>
        esError(400, 'media_type_header_exception', 'Invalid media-type value on headers [Accept, Content-Type]', {}, { type: 'status_exception', reason });
      if (Number.isNaN(aVersion) || Number.isNaN(cVersion)) {
        return esError(400, 'media_type_header_exception', 'Invalid media-type value on headers [Accept, Content-Type]');
      }
      if (aVersion !== undefined && (aVersion > max || aVersion < min)) {
        return mtError(`Accept version must be either version ${max} or ${min}, but found ${aVersion}. Accept=${acceptRaw ?? ''}`);
      }
      if (hasBody) {
        if (cVersion !== undefined && (cVersion > max || cVersion < min)) {
          return mtError(`Content-Type version must be either version ${max} or ${min}, but found ${cVersion}. Content-Type=${ctRaw ?? ''}`);
        }
        if (aVersion !== undefined && cVersion !== undefined && aVersion !== cVersion) {
          return mtError(`A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Accept=${acceptRaw ?? ''}, Content-Type=${ctRaw ?? ''}`);
        }
        if ((aVersion === undefined) !== (cVersion === undefined)) {
          return mtError(`A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version. Accept=${acceptRaw ?? ''}, Content-Type=${ctRaw ?? ''}`);
        }
      }
    }
    if (hasBody) {
      if (ctRaw === undefined || ctRaw.trim() === '') return esJsonError(406, 'Content-Type header is missing');
      if (ct === undefined || !ACCEPTED_BODY_TYPES.has(`${ct.type}/${ct.subtype}`) || (ct.subtype.startsWith('vnd.') && ct.version === undefined)) {
        return esJsonError(406, `Content-Type header [${ctRaw}] is not supported`);
      }
    }
    return undefined;
  }

  // ---------------------------------------------------------------- routes

  async #bulk(ex: Exchange, target: string | undefined): Promise<Reply> {
    if (ex.method !== 'POST' && ex.method !== 'PUT') return methodNotAllowed(ex, ['POST', 'PUT']);
    for (const k of ex.query.keys()) {
      if (!BULK_PARAMS.has(k)) return esError(400, 'illegal_argument_exception', `request [${ex.path}] contains unrecognized parameter: [${k}]`);
    }
    if (target !== undefined) {
      target = resolveDateMath(target);
      const bad = invalidIndexName(target);
      if (bad !== undefined) return esError(400, 'invalid_index_name_exception', `Invalid index name [${target}], ${bad}`, { index_uuid: '_na_', index: target });
    }
    const r = await ex.body({ maxDeclared: this.#maxBody, maxDecoded: this.#maxBody, decode: ['gzip', 'x-gzip', 'deflate'] });
    if (!r.ok) {
      // §2.7: the 413 comes from the HTTP layer with an empty body.
      if (r.error === 'declared-too-large' || r.error === 'too-large') return { status: 413, note: 'body too large' };
      if (r.error === 'unsupported-encoding') return esJsonError(400, `Unsupported Content-Encoding [${r.encoding}]`);
      return esError(400, 'parse_exception', `failed to decompress request body: ${r.message}`);
    }
    const result = this.#store.bulk(r.body, target);
    if ('status' in result) return { ...esError(result.status, result.type, result.reason), note: result.reason.slice(0, 80) };
    const fp = ex.query.get('filter_path');
    if ((fp !== null && fp !== '') || ex.query.has('pretty')) {
      return this.#reply(ex, 200, JSON.parse(result.json.toString()) as unknown, `${result.items} items${result.errors ? ' (errors)' : ''}`);
    }
    return { ...json(200, result.json), note: `${result.items} items${result.errors ? ' (errors)' : ''}` };
  }

  async #template(ex: Exchange, name: string): Promise<Reply> {
    if (ex.method === 'PUT' || ex.method === 'POST') {
      const body = await this.#jsonObject(ex);
      if ('status' in body) return body;
      const t = body.value;
      const patterns = t['index_patterns'];
      const list = typeof patterns === 'string' ? [patterns] : Array.isArray(patterns) ? patterns.filter((p): p is string => typeof p === 'string') : [];
      if (list.length === 0) return esError(400, 'action_request_validation_exception', 'Validation Failed: 1: index patterns are missing;');
      const problem = templateProblem(t);
      if (problem !== undefined) return esError(400, 'mapper_parsing_exception', problem);
      const missing = (Array.isArray(t['composed_of']) ? (t['composed_of'] as unknown[]) : []).filter(
        (c): c is string => typeof c === 'string' && !this.#components.has(c) && BUILTIN_COMPONENTS[c] === undefined && !(Array.isArray(t['ignore_missing_component_templates']) && (t['ignore_missing_component_templates'] as unknown[]).includes(c)),
      );
      if (missing.length > 0) return esError(400, 'invalid_index_template_exception', `index_template [${name}] invalid, cause [index template [${name}] specifies component templates [${missing.join(', ')}] that do not exist]`);
      if (ex.query.get('create') === 'true' && this.#templates.has(name)) return esError(400, 'illegal_argument_exception', `index template [${name}] already exists`);
      const clash = this.#samePriorityOverlap(name, t, list);
      if (clash !== undefined) return esError(400, 'illegal_argument_exception', clash);
      this.#templates.set(name, t);
      // A template with `data_stream` makes matching names data streams, as on a real cluster.
      if (t['data_stream'] !== undefined) this.#store.addDataStreamPatterns(list);
      return this.#reply(ex, 200, { acknowledged: true });
    }
    if (ex.method === 'GET' || ex.method === 'HEAD') {
      const t = this.#templates.get(name);
      if (t === undefined) return esError(404, 'resource_not_found_exception', `index template matching [${name}] not found`);
      return this.#reply(ex, 200, { index_templates: [{ name, index_template: t }] });
    }
    if (ex.method === 'DELETE') {
      if (!this.#templates.delete(name)) return esError(404, 'index_template_missing_exception', `index_template [${name}] missing`);
      return this.#reply(ex, 200, { acknowledged: true });
    }
    return methodNotAllowed(ex, ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);
  }

  /**
   * Elasticsearch refuses an index template whose patterns could match a name another template of
   * the same priority matches (MetadataIndexTemplateService: "multiple index templates may not match
   * during index creation"); the built-in `logs` template (priority 100) counts too. Undefined when none clashes.
   */
  #samePriorityOverlap(name: string, t: Record<string, unknown>, patterns: readonly string[]): string | undefined {
    const prio = (x: Record<string, unknown>): number => (typeof x['priority'] === 'number' ? x['priority'] : 0);
    const pats = (x: Record<string, unknown>): string[] => {
      const p = x['index_patterns'];
      return typeof p === 'string' ? [p] : Array.isArray(p) ? p.filter((v): v is string => typeof v === 'string') : [];
    };
    const others: Array<[string, Record<string, unknown>]> = [...this.#templates.entries(), ['logs', BUILTIN_LOGS_TEMPLATE]];
    const clashing = others.filter(([n, o]) => n !== name && prio(o) === prio(t) && pats(o).some((a) => patterns.some((b) => globsOverlap(a, b))));
    if (clashing.length === 0) return undefined;
    const names = clashing.map(([n]) => n);
    const theirs = clashing.map(([n, o]) => `${n} => [${pats(o).join(', ')}]`).join(', ');
    return `index template [${name}] has index patterns [${patterns.join(', ')}] matching patterns from existing templates [${names.join(',')}] with patterns (${theirs}) that have the same priority [${prio(t)}], multiple index templates may not match during index creation, please use a different priority`;
  }

  /** A request body that must be a JSON object (template APIs), or the error reply. */
  async #jsonObject(ex: Exchange): Promise<{ value: Record<string, unknown> } | Reply> {
    const r = await ex.body({ maxDeclared: this.#maxBody, maxDecoded: this.#maxBody });
    if (!r.ok) return { status: 413 };
    let v: unknown;
    try {
      v = JSON.parse(r.body.toString('utf8'));
    } catch (err) {
      return esError(400, 'x_content_parse_exception', (err as Error).message);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return esError(400, 'x_content_parse_exception', 'the body must be a JSON object');
    return { value: v as Record<string, unknown> };
  }

  /** `/_component_template/{name}`: the pieces index templates compose (`composed_of`). */
  async #component(ex: Exchange, name: string): Promise<Reply> {
    if (ex.method === 'PUT' || ex.method === 'POST') {
      const body = await this.#jsonObject(ex);
      if ('status' in body) return body;
      const v = body.value;
      if (typeof v['template'] !== 'object') return esError(400, 'action_request_validation_exception', 'Validation Failed: 1: template is missing;');
      const problem = templateProblem(v);
      if (problem !== undefined) return esError(400, 'mapper_parsing_exception', problem);
      if (ex.query.get('create') === 'true' && this.#components.has(name)) return esError(400, 'illegal_argument_exception', `component template [${name}] already exists`);
      this.#components.set(name, v);
      return this.#reply(ex, 200, { acknowledged: true });
    }
    if (ex.method === 'GET' || ex.method === 'HEAD') {
      const t = this.#components.get(name);
      if (t === undefined) return esError(404, 'resource_not_found_exception', `component template matching [${name}] not found`);
      return this.#reply(ex, 200, { component_templates: [{ name, component_template: t }] });
    }
    if (ex.method === 'DELETE') {
      if (!this.#components.delete(name)) return esError(404, 'resource_not_found_exception', `component template matching [${name}] not found`);
      return this.#reply(ex, 200, { acknowledged: true });
    }
    return methodNotAllowed(ex, ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);
  }

  #info(): Record<string, unknown> {
    if (this.#flavor === 'opensearch') {
      return {
        name: 'tern-emulator-node-1',
        cluster_name: 'tern-emulator',
        cluster_uuid: CLUSTER_UUID,
        version: {
          distribution: 'opensearch',
          number: this.#version,
          build_type: 'tar',
          build_hash: '0000000000000000000000000000000000000000',
          build_date: '2024-09-01T00:00:00.000000000Z',
          build_snapshot: false,
          lucene_version: '9.11.1',
          minimum_wire_compatibility_version: '7.10.0',
          minimum_index_compatibility_version: '7.0.0',
        },
        tagline: 'The OpenSearch Project: https://opensearch.org/',
      };
    }
    const compat: Record<number, [string, string, string]> = {
      7: ['8.11.3', '6.8.0', '6.0.0-beta1'],
      8: ['9.11.1', '7.17.0', '7.0.0'],
      9: ['10.2.2', '8.19.0', '8.0.0'],
    };
    const [lucene, wire, index] = compat[this.#major] ?? compat[8] ?? ['', '', ''];
    return {
      name: 'tern-emulator-node-1',
      cluster_name: 'tern-emulator',
      cluster_uuid: CLUSTER_UUID,
      version: {
        number: this.#version,
        build_flavor: 'default',
        build_type: 'docker',
        build_hash: '0000000000000000000000000000000000000000',
        build_date: '2024-08-05T10:05:34.233336849Z',
        build_snapshot: false,
        lucene_version: lucene,
        minimum_wire_compatibility_version: wire,
        minimum_index_compatibility_version: index,
      },
      tagline: 'You Know, for Search',
    };
  }

  #health(): Record<string, unknown> {
    const n = this.#store.targets().length;
    return {
      cluster_name: 'tern-emulator',
      status: 'green',
      timed_out: false,
      number_of_nodes: 1,
      number_of_data_nodes: 1,
      active_primary_shards: n,
      active_shards: n,
      relocating_shards: 0,
      initializing_shards: 0,
      unassigned_shards: 0,
      unassigned_primary_shards: 0,
      delayed_unassigned_shards: 0,
      number_of_pending_tasks: 0,
      number_of_in_flight_fetch: 0,
      task_max_waiting_in_queue_millis: 0,
      active_shards_percent_as_number: 100.0,
    };
  }

  /** Default answer for an injected status, in Elasticsearch's dialect. */
  #faultReply(status: number, ex: Exchange): Reply {
    switch (status) {
      case 200:
        return json(200, '{}');
      case 401:
        return authError(`missing authentication credentials for REST request [${ex.req.url ?? ex.path}]`);
      case 403:
        return esError(403, 'security_exception', `action [indices:data/write/bulk] is unauthorized for user [tern] with effective roles [] on indices [${ex.path.split('/')[1] ?? ''}], this action is granted by the index privileges [create_doc,create,index,write,all]`);
      case 413:
        return { status: 413 };
      case 429:
        return esError(429, 'es_rejected_execution_exception', 'rejected execution of coordinating operation [coordinating_and_primary_bytes=104857600, replica_bytes=0, all_bytes=104857600, coordinating_operation_bytes=1048576, max_coordinating_and_primary_bytes=107374182]');
      case 500:
        return esError(500, 'exception', 'emulated internal server error');
      case 502:
        return text(502, 'Bad Gateway');
      case 503:
        return esError(503, 'cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];');
      case 504:
        return text(504, 'Gateway Timeout');
      default:
        return esError(status, status >= 500 ? 'exception' : 'status_exception', `emulated status ${status}`);
    }
  }
}

// -------------------------------------------------------------------- helpers

const ACCEPTED_BODY_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/x-ndjson',
  'application/vnd.elasticsearch+json',
  'application/vnd.elasticsearch+x-ndjson',
]);

const BULK_PARAMS: ReadonlySet<string> = new Set([
  'pipeline', 'refresh', 'routing', 'require_alias', 'require_data_stream', 'filter_path', 'timeout',
  'wait_for_active_shards', 'include_source_on_error', 'list_executed_pipelines', '_source', '_source_excludes',
  '_source_includes', 'error_trace', 'human', 'pretty',
]);

interface MediaType {
  type: string;
  subtype: string;
  version: number | undefined;
}

/** `type/subtype; compatible-with=N` with optional whitespace; undefined when unparsable. */
function parseMediaType(raw: string): MediaType | undefined {
  const [main = '', ...params] = raw.split(';');
  const m = /^\s*([a-z0-9.+*-]+)\/([a-z0-9.+*-]+)\s*$/i.exec(main);
  if (m === null) return undefined;
  let version: number | undefined;
  for (const p of params) {
    const [k = '', v = ''] = p.split('=');
    if (k.trim().toLowerCase() === 'compatible-with') {
      const n = Number(v.trim());
      version = Number.isInteger(n) ? n : Number.NaN;
    }
  }
  return { type: (m[1] as string).toLowerCase(), subtype: (m[2] as string).toLowerCase(), version };
}

/** An Accept header may list several types (client 9.x adds `,text/plain`); the versioned one counts. */
function pickAccept(raw: string): MediaType | undefined {
  const parsed = raw.split(',').map(parseMediaType).filter((x): x is MediaType => x !== undefined);
  return parsed.find((p) => p.version !== undefined) ?? parsed[0];
}

/** The general error envelope of §2.7. */
export function esError(status: number, type: string, reason: string, extra: Record<string, unknown> = {}, causedBy?: { type: string; reason: string }): Reply {
  const cause = { type, reason, ...extra };
  const error = causedBy === undefined ? cause : { ...cause, caused_by: causedBy };
  return json(status, { error: { root_cause: [cause], ...error }, status });
}

/** The older string-valued envelope Elasticsearch still uses for 405/406 and unknown routes. */
function esJsonError(status: number, message: string): Reply {
  return json(status, { error: message, status });
}

/** RestController.handleBadRequest: the only envelope without a `status` member; the uri keeps its query. */
function noHandler(ex: Exchange): Reply {
  return json(400, { error: `no handler found for uri [${ex.req.url ?? ex.path}] and method [${ex.method}]` });
}

const WWW_AUTHENTICATE = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', 'ApiKey'];

function authError(reason: string): Reply {
  const cause = { type: 'security_exception', reason, header: { 'WWW-Authenticate': WWW_AUTHENTICATE } };
  return json(401, { error: { root_cause: [cause], ...cause }, status: 401 }, { 'WWW-Authenticate': WWW_AUTHENTICATE });
}

function methodNotAllowed(ex: Exchange, allowed: string[]): Reply {
  return json(405, { error: `Incorrect HTTP method for uri [${ex.req.url ?? ex.path}] and method [${ex.method}], allowed: [${allowed.join(', ')}]`, status: 405 }, { Allow: allowed.join(',') });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Elasticsearch's `filter_path`: comma-separated dotted paths, `*` within a name, `**` for any
 * depth, arrays transparent; elements and objects left empty are dropped (so `items.*.error`
 * keeps only failed items, exactly the positional trap real clients fall into).
 */
export function filterPath(value: unknown, spec: string): unknown {
  const includes = spec.split(',').map((s) => s.trim()).filter((s) => s !== '' && !s.startsWith('-')).map((s) => s.split('.'));
  if (includes.length === 0) return value;
  return pick(value, includes);
}

function pick(value: unknown, paths: string[][]): unknown {
  if (paths.some((p) => p.length === 0)) return value;
  if (Array.isArray(value)) {
    const out = value.map((v) => pick(v, paths)).filter((v) => v !== undefined);
    return out.length === 0 ? undefined : out;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const next: string[][] = [];
    for (const p of paths) {
      const [head = '', ...rest] = p;
      if (head === '**') {
        next.push(p); // `**` may swallow this level
        if (rest.length > 0 && globToRegExp(rest[0] as string).test(k)) next.push(rest.slice(1));
      } else if (globToRegExp(head).test(k)) next.push(rest);
    }
    if (next.length === 0) continue;
    const picked = pick(v, next);
    if (picked !== undefined) out[k] = picked;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}
