/**
 * The `_bulk` engine of the Elasticsearch emulator: NDJSON parsing with Elasticsearch's own
 * request-level errors, per-item processing in request order, and the in-memory document store.
 *
 * Two modes. `full` parses every action and source line and applies the rules of protocols §2.5-2.7
 * exactly (data streams accept only `create` and need `@timestamp`, `create` on an existing `_id`
 * is a 409, ids are generated when absent, mapping-conflict and per-item fault rules). `count`
 * is for benchmarks: it never parses a source line, only scans the first bytes of each action
 * line (the technique of shared/bench/fake-es.mjs), keeps per-target counts and still answers one
 * correctly shaped item per action, with the data-stream op_type rule and item faults applied.
 *
 * Over 400 lines: one engine, one class. Both modes answer through the same request-level checks,
 * item order, fault rules and store, and the helpers at the end (date math, index-name rules, the
 * fast item writer) serve only it; split apart, each half would need the other's internals.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_RULES, fitsType, TargetMapping, type MappingRefusal, type MappingRules, type MappingType } from './elasticsearch-mapping.ts';

export type { MappingType } from './elasticsearch-mapping.ts';

export interface MappingConflictRule {
  /** Dotted field path; matches nested objects (`a.b` in `{"a":{"b":…}}`) or a literal dotted key. */
  field: string;
  type: MappingType;
  /** Limit the rule to one target (name or pattern); default: every target. */
  index?: string | RegExp;
}

export interface ItemFaultRule {
  /** 0-based item positions within one bulk request; default: every position. */
  positions?: number[];
  /** Only items whose target (data stream or index name, before backing-index resolution) matches. */
  index?: string | RegExp;
  status: number;
  error?: { type: string; reason: string };
  /** Number of bulk requests this rule applies to (a request with at least one affected item uses one); default 1; Infinity allowed. */
  times?: number;
}

export interface ElasticsearchStats {
  bulkRequests: number;
  /** Items answered 409 `version_conflict_engine_exception` (`create` on an existing `_id`, or an `if_seq_no` mismatch). */
  conflicts: number;
  itemsByStatus: Record<number, number>;
}

export interface StoredDocument {
  _id: string;
  _source: Record<string, unknown>;
  /** Fields skipped under `ignore_malformed` (dynamic mapping only), as Elasticsearch's `_ignored`. */
  _ignored?: string[];
}

interface StoredInternal {
  _id: string;
  _source: Record<string, unknown>;
  version: number;
  seqNo: number;
  ignored?: string[];
}

interface Target {
  name: string;
  dataStream: boolean;
  /** What items report as `_index`: the backing index for a data stream, else the name. */
  writeIndex: string;
  uuid: string;
  docs: Map<string, StoredInternal>;
  seqNo: number;
  count: number;
  /** Dynamic mapping (only with `dynamicMapping`): the rules of the target's template and the fields mapped so far. */
  mapping: TargetMapping;
}

/** A request-level failure: the whole bulk is refused with this status and error envelope. */
export interface BulkRequestError {
  status: number;
  type: string;
  reason: string;
}

type Op = 'index' | 'create' | 'update' | 'delete';
const OPS: ReadonlySet<string> = new Set(['index', 'create', 'update', 'delete']);
const META_FIELDS: ReadonlySet<string> = new Set([
  '_index', '_id', 'routing', 'pipeline', 'require_alias', 'require_data_stream', 'dynamic_templates',
  'if_seq_no', 'if_primary_term', 'version', 'version_type', 'retry_on_conflict', '_source', 'list_executed_pipelines', 'op_type',
]);
const SHARDS = { total: 2, successful: 1, failed: 0 };
const CLOSE_ITEMS = Buffer.from(']}');

interface ParsedAction {
  op: Op;
  meta: Record<string, unknown>;
  source: string | undefined;
  /** 1-based line number of the action line (for error texts). */
  line: number;
}

export interface BulkStoreOptions {
  mode: 'full' | 'count';
  dataStreamPatterns: string[];
  /** Major version: 8+ names parse failures `document_parsing_exception`, 7 `mapper_parsing_exception`. */
  major: number;
  /** Infer a mapping per target from the first value of each field and refuse later misfits. */
  dynamicMapping?: boolean;
  /** `index.mapping.total_fields.limit` (with dynamicMapping); default 1000. */
  totalFieldsLimit?: number;
  /** The mapping rules a new target gets from the installed templates (with dynamicMapping); default: Elasticsearch's defaults. */
  rulesFor?: (name: string) => MappingRules;
}

export class BulkStore {
  readonly stats: ElasticsearchStats = { bulkRequests: 0, conflicts: 0, itemsByStatus: {} };
  #targets = new Map<string, Target>();
  #dsPatterns: RegExp[];
  #itemFaults: Array<{ rule: ItemFaultRule; remaining: number }> = [];
  #mappingRules: MappingConflictRule[] = [];
  #mode: 'full' | 'count';
  #parseType: string;
  #idCounter = 0;

  #dynamic: boolean;
  #fieldsLimit: number;
  #rulesFor: (name: string) => MappingRules;

  constructor(opts: BulkStoreOptions) {
    this.#mode = opts.mode;
    this.#rulesFor = opts.rulesFor ?? (() => DEFAULT_RULES);
    this.#dynamic = opts.dynamicMapping ?? false;
    this.#fieldsLimit = opts.totalFieldsLimit ?? 1000;
    this.#dsPatterns = opts.dataStreamPatterns.map(globToRegExp);
    this.#parseType = opts.major >= 8 ? 'document_parsing_exception' : 'mapper_parsing_exception';
  }

  get mode(): 'full' | 'count' {
    return this.#mode;
  }

  addDataStreamPatterns(patterns: string[]): void {
    for (const p of patterns) this.#dsPatterns.push(globToRegExp(p));
  }

  itemFault(rule: ItemFaultRule): void {
    if ((rule.times ?? 1) > 0) this.#itemFaults.push({ rule, remaining: rule.times ?? 1 });
  }

  mappingConflict(rule: MappingConflictRule): void {
    this.#mappingRules.push(rule);
  }

  clearRules(): void {
    this.#itemFaults = [];
    this.#mappingRules = [];
  }

  targets(): string[] {
    return [...this.#targets.keys()];
  }

  /** Resolve a name, or a data stream's backing index name, to its target. */
  target(name: string): Target | undefined {
    const t = this.#targets.get(name);
    if (t !== undefined) return t;
    for (const x of this.#targets.values()) if (x.writeIndex === name) return x;
    return undefined;
  }

  docs(name: string): StoredDocument[] {
    const t = this.target(name);
    if (t === undefined) return [];
    return [...t.docs.values()].map((d) => (d.ignored !== undefined && d.ignored.length > 0 ? { _id: d._id, _source: d._source, _ignored: d.ignored } : { _id: d._id, _source: d._source }));
  }

  count(name?: string): number {
    if (name !== undefined) return this.target(name)?.count ?? 0;
    let n = 0;
    for (const t of this.#targets.values()) n += t.count;
    return n;
  }

  isDataStream(name: string): boolean {
    const t = this.#targets.get(name);
    if (t !== undefined) return t.dataStream;
    return this.#dsPatterns.some((r) => r.test(name));
  }

  #getOrCreate(name: string): Target {
    let t = this.#targets.get(name);
    if (t === undefined) {
      const dataStream = this.isDataStream(name);
      t = {
        name,
        dataStream,
        writeIndex: dataStream ? `.ds-${name}-${utcDate()}-000001` : name,
        uuid: randomBytes(16).toString('base64url').slice(0, 22),
        docs: new Map(),
        seqNo: 0,
        count: 0,
        // Data-stream templates map @timestamp as a date.
        mapping: new TargetMapping(this.#dynamic ? this.#rulesFor(name) : DEFAULT_RULES, this.#fieldsLimit, dataStream),
      };
      this.#targets.set(name, t);
    }
    return t;
  }

  #countStatus(status: number): void {
    this.stats.itemsByStatus[status] = (this.stats.itemsByStatus[status] ?? 0) + 1;
  }

  /**
   * Run one bulk request. Returns the response JSON text, or a request-level error.
   * `defaultIndex` is the `{target}` of `/{target}/_bulk`.
   */
  bulk(body: Buffer, defaultIndex: string | undefined, countAsBulk = true): { json: string | Buffer; items: number; errors: boolean } | BulkRequestError {
    const started = performance.now();
    if (body.length > 0 && body[body.length - 1] !== 0x0a) {
      return { status: 400, type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline [\\n]' };
    }
    if (this.#mode === 'count') {
      const r = this.#bulkCount(body, defaultIndex);
      if ('status' in r) return r;
      if (countAsBulk) this.stats.bulkRequests++;
      const took = Math.max(1, Math.round(performance.now() - started));
      const head = Buffer.from(`{"took":${took},"errors":${r.errors},"items":[`);
      return { json: Buffer.concat([head, r.out, CLOSE_ITEMS]), items: r.items, errors: r.errors };
    }
    const result = this.#bulkFull(body, defaultIndex);
    if ('status' in result) return result;
    if (countAsBulk) this.stats.bulkRequests++;
    const took = Math.max(1, Math.round(performance.now() - started));
    return { json: `{"took":${took},"errors":${result.errors},"items":[${result.items.join(',')}]}`, items: result.items.length, errors: result.errors };
  }

  // ---------------------------------------------------------------- full mode

  #parse(body: Buffer, defaultIndex: string | undefined): ParsedAction[] | BulkRequestError {
    const text = body.toString('utf8');
    const actions: ParsedAction[] = [];
    let pos = 0;
    let line = 0;
    const nextLine = (): string | undefined => {
      if (pos >= text.length) return undefined;
      let nl = text.indexOf('\n', pos);
      if (nl === -1) nl = text.length;
      let s = text.slice(pos, nl);
      if (s.endsWith('\r')) s = s.slice(0, -1);
      pos = nl + 1;
      line++;
      return s;
    };
    const malformed = (reason: string): BulkRequestError => ({ status: 400, type: 'illegal_argument_exception', reason });
    for (;;) {
      const actionLine = nextLine();
      if (actionLine === undefined) break;
      // Elasticsearch skips empty lines between actions.
      if (actionLine.trim() === '') continue;
      const n = line;
      let v: unknown;
      try {
        v = JSON.parse(actionLine);
      } catch (err) {
        return { status: 400, type: 'x_content_parse_exception', reason: `[${n}:1] Malformed action/metadata line [${n}]: ${(err as Error).message}` };
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return malformed(`Malformed action/metadata line [${n}], expected START_OBJECT but found [${tokenName(v)}]`);
      const keys = Object.keys(v);
      if (keys.length === 0) return malformed(`Malformed action/metadata line [${n}], expected FIELD_NAME but found [END_OBJECT]`);
      const op = keys[0] as string;
      if (!OPS.has(op)) return malformed(`Malformed action/metadata line [${n}], expected field [create], [delete], [index] or [update] but found [${op}]`);
      const meta = (v as Record<string, unknown>)[op];
      if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return malformed(`Malformed action/metadata line [${n}], expected START_OBJECT but found [${tokenName(meta)}]`);
      if (keys.length > 1) return malformed(`Malformed action/metadata line [${n}], expected END_OBJECT but found [FIELD_NAME]`);
      for (const [k, mv] of Object.entries(meta)) {
        if (!META_FIELDS.has(k)) return malformed(`Action/metadata line [${n}] contains an unknown parameter [${k}]`);
        if (k !== 'dynamic_templates' && k !== '_source' && typeof mv === 'object' && mv !== null) {
          return malformed(`Malformed action/metadata line [${n}], expected a simple value for field [${k}] but found [${tokenName(mv)}]`);
        }
      }
      let source: string | undefined;
      if (op !== 'delete') source = nextLine();
      // `{"index":{"op_type":"create"}}` is a create (and answered under the `create` key).
      const effective = op === 'index' && (meta as Record<string, unknown>)['op_type'] === 'create' ? 'create' : op;
      actions.push({ op: effective as Op, meta: meta as Record<string, unknown>, source, line: n });
    }
    // Request validation, as ActionRequestValidationException: every problem numbered, one 400.
    const problems: string[] = [];
    if (actions.length === 0) problems.push('no requests added');
    for (const a of actions) {
      const index = a.meta['_index'] ?? defaultIndex;
      if (index === undefined || index === '') problems.push('index is missing');
      const id = a.meta['_id'];
      if ((a.op === 'update' || a.op === 'delete') && (id === undefined || id === null)) problems.push('id is missing');
      if (id !== undefined && id !== null && Buffer.byteLength(String(id)) > 512) {
        problems.push(`id [${String(id)}] is too long, must be no longer than 512 bytes but was: ${Buffer.byteLength(String(id))}`);
      }
      if ((a.op === 'index' || a.op === 'create' || a.op === 'update') && (a.source === undefined || a.source.trim() === '')) problems.push('source is missing');
    }
    if (problems.length > 0) {
      return { status: 400, type: 'action_request_validation_exception', reason: `Validation Failed: ${problems.map((p, i) => `${i + 1}: ${p};`).join('')}` };
    }
    return actions;
  }

  #bulkFull(body: Buffer, defaultIndex: string | undefined): { items: string[]; errors: boolean } | BulkRequestError {
    const parsed = this.#parse(body, defaultIndex);
    if (!Array.isArray(parsed)) return parsed;
    const faults = this.#requestItemFaults();
    const items: string[] = [];
    let errors = false;
    parsed.forEach((a, position) => {
      const name = resolveDateMath(String(a.meta['_index'] ?? defaultIndex));
      const item = this.#processItem(a, name, position, faults);
      const status = item['status'] as number;
      // A delete of a missing document answers 404 `not_found` but is not a failure (no `error`).
      if (item['error'] !== undefined) errors = true;
      this.#countStatus(status);
      items.push(JSON.stringify({ [a.op]: item }));
    });
    this.#consumeItemFaults(faults);
    return { items, errors };
  }

  #processItem(a: ParsedAction, name: string, position: number, faults: ActiveFaults): Record<string, unknown> {
    const rawId = a.meta['_id'];
    const givenId = rawId === undefined || rawId === null ? undefined : String(rawId);
    const fail = (index: string, status: number, error: Record<string, unknown>, id: string | null | undefined = givenId): Record<string, unknown> => ({
      _index: index,
      _id: id ?? null,
      status,
      error,
    });

    const badName = invalidIndexName(name);
    if (badName !== undefined) {
      return fail(name, 400, { type: 'invalid_index_name_exception', reason: `Invalid index name [${name}], ${badName}`, index_uuid: '_na_', index: name });
    }
    const injected = this.#matchItemFault(faults, position, name);
    if (injected !== undefined) {
      const t = this.#targets.get(name);
      const index = t?.writeIndex ?? name;
      return fail(index, injected.status, { ...(injected.error ?? defaultItemError(injected.status, name, givenId)), ...(injected.status === 429 ? {} : { index_uuid: t?.uuid ?? '_na_', shard: '0', index }) });
    }
    const dataStream = this.isDataStream(name);
    if (dataStream && a.op !== 'create') {
      return fail(name, 400, { type: 'illegal_argument_exception', reason: 'only write ops with an op_type of create are allowed in data streams' });
    }
    const t = this.#getOrCreate(name);
    const idx = t.writeIndex;
    const withIndex = (error: Record<string, unknown>): Record<string, unknown> => ({ ...error, index_uuid: t.uuid, shard: '0', index: idx });

    if (a.op === 'delete') {
      const id = givenId as string;
      const existing = t.docs.get(id);
      if (existing === undefined) return { _index: idx, _id: id, _version: 1, result: 'not_found', _shards: SHARDS, _seq_no: t.seqNo++, _primary_term: 1, status: 404 };
      t.docs.delete(id);
      t.count--;
      return { _index: idx, _id: id, _version: existing.version + 1, result: 'deleted', _shards: SHARDS, _seq_no: t.seqNo++, _primary_term: 1, status: 200 };
    }

    const src = a.source as string;
    let doc: unknown;
    try {
      doc = JSON.parse(src);
    } catch (err) {
      return fail(idx, 400, withIndex({ type: this.#parseType, reason: `[1:${src.length}] failed to parse`, caused_by: { type: 'x_content_parse_exception', reason: (err as Error).message } }));
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      return fail(idx, 400, withIndex({ type: this.#parseType, reason: '[1:1] failed to parse: Malformed content, must start with an object' }));
    }
    const d = doc as Record<string, unknown>;

    if (a.op === 'update') {
      const id = givenId as string;
      const existing = t.docs.get(id);
      const partial = d['doc'];
      const upsert = d['upsert'];
      const docAsUpsert = d['doc_as_upsert'] === true;
      if (existing === undefined) {
        const fresh = upsert ?? (docAsUpsert ? partial : undefined);
        if (typeof fresh !== 'object' || fresh === null) {
          return fail(idx, 404, withIndex({ type: 'document_missing_exception', reason: `[${id}]: document missing` }), id);
        }
        const checked = this.#checkSource(t, fresh as Record<string, unknown>, id, src);
        if ('problem' in checked) return fail(idx, 400, withIndex(checked.problem), id);
        checked.commit();
        t.docs.set(id, { _id: id, _source: fresh as Record<string, unknown>, version: 1, seqNo: t.seqNo, ignored: checked.ignored });
        t.count++;
        return { _index: idx, _id: id, _version: 1, result: 'created', _shards: SHARDS, _seq_no: t.seqNo++, _primary_term: 1, status: 201 };
      }
      if (typeof partial !== 'object' || partial === null) {
        return fail(idx, 400, withIndex({ type: 'action_request_validation_exception', reason: 'Validation Failed: 1: script or doc is missing;' }), id);
      }
      const merged = deepMerge(existing._source, partial as Record<string, unknown>);
      if (JSON.stringify(merged) === JSON.stringify(existing._source)) {
        return { _index: idx, _id: id, _version: existing.version, result: 'noop', _shards: { total: 0, successful: 0, failed: 0 }, _seq_no: existing.seqNo, _primary_term: 1, status: 200 };
      }
      const checked = this.#checkSource(t, merged, id, src);
      if ('problem' in checked) return fail(idx, 400, withIndex(checked.problem), id);
      checked.commit();
      existing._source = merged;
      existing.ignored = checked.ignored;
      existing.version++;
      existing.seqNo = t.seqNo;
      return { _index: idx, _id: id, _version: existing.version, result: 'updated', _shards: SHARDS, _seq_no: t.seqNo++, _primary_term: 1, status: 200 };
    }

    // index / create
    const id = givenId ?? generateId();
    if (t.dataStream) {
      const ts = d['@timestamp'];
      if (ts === undefined) {
        return fail(idx, 400, withIndex({
          type: this.#parseType,
          reason: `[1:${src.length}] failed to parse: data stream timestamp field [@timestamp] is missing`,
          caused_by: { type: 'illegal_argument_exception', reason: 'data stream timestamp field [@timestamp] is missing' },
        }), givenId);
      }
    }
    const existing = t.docs.get(id);
    const ifSeqNo = a.meta['if_seq_no'];
    if (ifSeqNo !== undefined && (existing === undefined || existing.seqNo !== Number(ifSeqNo))) {
      const current = existing === undefined ? 'document does not exist' : `current document has seqNo [${existing.seqNo}] and primary term [1]`;
      this.stats.conflicts++;
      return fail(idx, 409, withIndex({ type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, required seqNo [${String(ifSeqNo)}], primary term [${String(a.meta['if_primary_term'] ?? 1)}]. ${current}` }), id);
    }
    if (a.op === 'create' && existing !== undefined) {
      this.stats.conflicts++;
      return fail(idx, 409, withIndex({ type: 'version_conflict_engine_exception', reason: `[${id}]: version conflict, document already exists (current version [${existing.version}])` }), id);
    }
    const checked = this.#checkSource(t, d, id, src);
    if ('problem' in checked) return fail(idx, 400, withIndex(checked.problem), givenId);
    checked.commit();
    const seqNo = t.seqNo++;
    if (existing !== undefined) {
      existing._source = d;
      existing.ignored = checked.ignored;
      existing.version++;
      existing.seqNo = seqNo;
      return { _index: idx, _id: id, _version: existing.version, result: 'updated', _shards: SHARDS, _seq_no: seqNo, _primary_term: 1, status: 200 };
    }
    t.docs.set(id, { _id: id, _source: d, version: 1, seqNo, ignored: checked.ignored });
    t.count++;
    return { _index: idx, _id: id, _version: 1, result: 'created', _shards: SHARDS, _seq_no: seqNo, _primary_term: 1, status: 201 };
  }

  /**
   * Mapping checks: the data-stream @timestamp must be a date, the configured conflict rules, and
   * with dynamicMapping the target's mapping (see elasticsearch-mapping.ts). An accepted document
   * may come back with fields ignored under `ignore_malformed`; the mapping grows only when the
   * caller stores it (`#accept`).
   */
  #checkSource(t: Target, d: Record<string, unknown>, id: string, src: string): { problem: Record<string, unknown> } | { ignored: string[]; commit: () => void } {
    const col = src.length;
    if (t.dataStream && d['@timestamp'] !== undefined && !fitsAll(d['@timestamp'], 'date')) {
      return { problem: this.#fieldError({ field: '@timestamp', type: 'date', value: d['@timestamp'], kind: 'misfit' }, id, col) };
    }
    for (const rule of this.#mappingRules) {
      if (rule.index !== undefined && !matches(rule.index, t.name)) continue;
      const v = getPath(d, rule.field);
      if (v === undefined || v === null) continue;
      if (!fitsAll(v, rule.type)) return { problem: this.#fieldError({ field: rule.field, type: rule.type, value: v, kind: 'misfit' }, id, col) };
    }
    if (!this.#dynamic) return { ignored: [], commit: () => {} };
    const check = t.mapping.check(d);
    if (check.refusal !== undefined) return { problem: this.#fieldError(check.refusal, id, col) };
    return { ignored: check.ignored, commit: () => t.mapping.commit(check) };
  }

  mapping(name: string): Record<string, MappingType> {
    return Object.fromEntries(this.target(name)?.mapping.fields ?? []);
  }

  /** Which template a target's mapping rules came from (`(defaults)`, `logs (built-in)`, or an installed template's name). */
  mappingSource(name: string): string | undefined {
    return this.target(name)?.mapping.rules.source;
  }

  #fieldError(r: MappingRefusal, id: string, col: number): Record<string, unknown> {
    const { field, type, value } = r;
    if (r.kind === 'limit') {
      const reason = `Limit of total fields [${this.#fieldsLimit}] has been exceeded while adding new fields [${r.added ?? 0}]`;
      return { type: this.#parseType, reason: `[1:${col}] failed to parse: ${reason}`, caused_by: { type: 'illegal_argument_exception', reason } };
    }
    if (r.kind === 'leaf_as_object') {
      return { type: this.#parseType, reason: `[1:${col}] Could not dynamically add mapping for field [${r.child ?? field}]. Existing mapping for [${field}] must be of type object but found [${type}].` };
    }
    if (type === 'object' || type === 'nested') {
      return { type: this.#parseType, reason: `[1:${col}] object mapping for [${field}] tried to parse field [${field}] as object, but found a concrete value` };
    }
    const preview = typeof value === 'object' ? javaPreview(value) : String(value);
    const reason = `[1:${col}] failed to parse field [${field}] of type [${type}] in document with id '${id}'. Preview of field's value: '${preview}'`;
    if (r.kind === 'flattened') {
      return { type: this.#parseType, reason, caused_by: { type: 'parsing_exception', reason: `Failed to parse object: expecting token of type [START_OBJECT] but found [${tokenName(value)}]` } };
    }
    const numeric = type === 'long' || type === 'integer' || type === 'short' || type === 'byte' || type === 'double' || type === 'float';
    const causedBy = typeof value === 'string' && numeric
      ? { type: 'illegal_argument_exception', reason: `For input string: "${value}"` }
      : { type: 'illegal_state_exception', reason: `Can't get text on a ${typeof value === 'object' ? 'START_OBJECT' : 'VALUE_STRING'} at 1:${col}` };
    return { type: this.#parseType, reason, caused_by: causedBy };
  }

  // ---------------------------------------------------------------- item faults

  #requestItemFaults(): ActiveFaults {
    return { rules: this.#itemFaults.filter((f) => f.remaining > 0), used: new Set() };
  }

  #matchItemFault(faults: ActiveFaults, position: number, name: string): ItemFaultRule | undefined {
    for (const f of faults.rules) {
      const r = f.rule;
      if (r.positions !== undefined && !r.positions.includes(position)) continue;
      if (r.index !== undefined && !matches(r.index, name)) continue;
      faults.used.add(f);
      return r;
    }
    return undefined;
  }

  #consumeItemFaults(faults: ActiveFaults): void {
    for (const f of faults.used) f.remaining--;
    this.#itemFaults = this.#itemFaults.filter((f) => f.remaining > 0);
  }

  // ---------------------------------------------------------------- count mode

  /**
   * Benchmark path: one pass over the bytes. The answer is written straight into a byte buffer
   * (cached per-target prefixes, `_id` bytes copied from the request), so a 1,000-item bulk
   * creates almost no garbage.
   */
  #bulkCount(body: Buffer, defaultIndex: string | undefined): { out: Buffer; items: number; errors: boolean } | BulkRequestError {
    const len = body.length;
    const faults = this.#requestItemFaults();
    const w = new ByteWriter(Math.max(1024, Math.ceil(len / 4)));
    let items = 0;
    let ok201 = 0;
    let errors = false;
    let pos = 0;
    let expectSource = false;
    let line = 0;
    let lastName = '';
    let lastTarget: Target | undefined;
    while (pos < len) {
      let nl = body.indexOf(10, pos);
      if (nl === -1) nl = len;
      line++;
      if (expectSource) {
        expectSource = false;
      } else if (!(nl === pos || (nl - pos === 1 && body[pos] === 13))) {
        // Action lines are short; only their head is looked at, source lines are never decoded.
        const head = body.toString('latin1', pos, Math.min(nl, pos + 512));
        const m = ACTION_RE.exec(head);
        if (m === null) return { status: 400, type: 'illegal_argument_exception', reason: `Malformed action/metadata line [${line}], expected field [create], [delete], [index] or [update] but found [${head.slice(0, 40)}]` };
        const op = (m[1] === 'index' && OP_TYPE_CREATE_RE.test(head) ? 'create' : m[1]) as Op;
        const mi = INDEX_RE.exec(head);
        const raw = mi ? (mi[1] as string) : defaultIndex;
        const name = raw !== undefined && raw.charCodeAt(0) === 0x3c ? resolveDateMath(raw) : raw;
        if (name === undefined) return { status: 400, type: 'action_request_validation_exception', reason: 'Validation Failed: 1: index is missing;' };
        const mid = ID_RE.exec(head);
        if (mid === null && (op === 'delete' || op === 'update')) return { status: 400, type: 'action_request_validation_exception', reason: 'Validation Failed: 1: id is missing;' };
        // latin1 keeps byte offsets: the quoted id is copied from the request as it was sent.
        const idEnd = mid === null ? 0 : pos + mid.index + mid[0].length;
        const idStart = mid === null ? 0 : idEnd - (mid[1] as string).length - 2;
        if (items > 0) w.byte(0x2c);
        const fast = (op === 'create' || op === 'index') && faults.rules.length === 0;
        let t = name === lastName ? lastTarget : undefined;
        if (fast && t === undefined && !(this.isDataStream(name) && op !== 'create')) {
          t = this.#getOrCreate(name);
          lastName = name;
          lastTarget = t;
        }
        if (fast && t !== undefined && !(t.dataStream && op !== 'create')) {
          w.bytes(prefixFor(t, op));
          if (mid === null) w.latin1(`"c${(this.#idCounter++).toString(36)}"`);
          else w.copy(body, idStart, idEnd);
          w.bytes(CREATED_MID);
          w.latin1(String(t.seqNo++));
          w.bytes(CREATED_TAIL);
          t.count++;
          ok201++;
        } else {
          const idJson = mid === null ? `"c${(this.#idCounter++).toString(36)}"` : body.toString('latin1', idStart, idEnd);
          const r = this.#countItem(op, name, idJson, items, faults);
          if (r.status >= 300) errors = true;
          w.latin1(r.json);
        }
        items++;
        if (op !== 'delete') expectSource = true;
      }
      pos = nl + 1;
    }
    if (expectSource) return { status: 400, type: 'action_request_validation_exception', reason: 'Validation Failed: 1: source is missing;' };
    if (items === 0) return { status: 400, type: 'action_request_validation_exception', reason: 'Validation Failed: 1: no requests added;' };
    if (ok201 > 0) this.stats.itemsByStatus[201] = (this.stats.itemsByStatus[201] ?? 0) + ok201;
    this.#consumeItemFaults(faults);
    return { out: w.result(), items, errors };
  }

  #countItem(op: Op, name: string, idJson: string, position: number, faults: ActiveFaults): { json: string; status: number } {
    const injected = faults.rules.length > 0 ? this.#matchItemFault(faults, position, name) : undefined;
    if (injected !== undefined) {
      this.#countStatus(injected.status);
      const error = injected.error ?? defaultItemError(injected.status, name, undefined);
      return { status: injected.status, json: `{"${op}":${JSON.stringify({ _index: this.#targets.get(name)?.writeIndex ?? name, _id: JSON.parse(idJson) as string, status: injected.status, error })}}` };
    }
    const dataStream = this.isDataStream(name);
    if (dataStream && op !== 'create') {
      this.#countStatus(400);
      return { status: 400, json: `{"${op}":{"_index":"${name}","_id":${idJson},"status":400,"error":{"type":"illegal_argument_exception","reason":"only write ops with an op_type of create are allowed in data streams"}}}` };
    }
    const t = this.#getOrCreate(name);
    if (op === 'delete') {
      this.#countStatus(200);
      t.count = Math.max(0, t.count - 1);
      return { status: 200, json: `{"delete":{"_index":"${t.writeIndex}","_id":${idJson},"_version":2,"result":"deleted","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":${t.seqNo++},"_primary_term":1,"status":200}}` };
    }
    const status = op === 'update' ? 200 : 201;
    this.#countStatus(status);
    if (op !== 'update') t.count++;
    return { status, json: `{"${op}":{"_index":"${t.writeIndex}","_id":${idJson},"_version":1,"result":"${op === 'update' ? 'updated' : 'created'}","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":${t.seqNo++},"_primary_term":1,"status":${status}}}` };
  }
}

const CREATED_MID = Buffer.from(',"_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":', 'latin1');
const CREATED_TAIL = Buffer.from(',"_primary_term":1,"status":201}}', 'latin1');
const prefixCache = new WeakMap<Target, Map<Op, Buffer>>();

function prefixFor(t: Target, op: Op): Buffer {
  let m = prefixCache.get(t);
  if (m === undefined) prefixCache.set(t, (m = new Map()));
  let b = m.get(op);
  if (b === undefined) m.set(op, (b = Buffer.from(`{"${op}":{"_index":${JSON.stringify(t.writeIndex)},"_id":`)));
  return b;
}

/** Append-only byte buffer that doubles when full. */
class ByteWriter {
  #buf: Buffer;
  #off = 0;

  constructor(size: number) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  #ensure(n: number): void {
    if (this.#off + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#off + n));
    this.#buf.copy(next, 0, 0, this.#off);
    this.#buf = next;
  }

  byte(b: number): void {
    this.#ensure(1);
    this.#buf[this.#off++] = b;
  }

  bytes(b: Buffer): void {
    this.#ensure(b.length);
    this.#off += b.copy(this.#buf, this.#off);
  }

  copy(src: Buffer, start: number, end: number): void {
    this.#ensure(end - start);
    this.#off += src.copy(this.#buf, this.#off, start, end);
  }

  latin1(s: string): void {
    // Item JSON is ASCII except for non-ASCII names, which JSON.stringify kept as UTF-16: use utf8 then.
    const n = Buffer.byteLength(s);
    this.#ensure(n);
    this.#off += this.#buf.write(s, this.#off, n === s.length ? 'latin1' : 'utf8');
  }

  result(): Buffer {
    return this.#buf.subarray(0, this.#off);
  }
}

interface ActiveFaults {
  rules: Array<{ rule: ItemFaultRule; remaining: number }>;
  used: Set<{ rule: ItemFaultRule; remaining: number }>;
}

const ACTION_RE = /^\s*\{\s*"(index|create|update|delete)"\s*:/;
const OP_TYPE_CREATE_RE = /"op_type"\s*:\s*"create"/;
const INDEX_RE = /"_index"\s*:\s*"([^"\\]*)"/;
const ID_RE = /"_id"\s*:\s*"((?:[^"\\]|\\.)*)"/;

function defaultItemError(status: number, index: string, id: string | undefined): { type: string; reason: string } {
  switch (status) {
    case 429:
      return { type: 'es_rejected_execution_exception', reason: `rejected execution of primary operation [shard_detail=[${index}][0][P], shard_write_bytes=1024] on EsThreadPoolExecutor[name = tern-emulator/write, queue capacity = 10000, task execution EWMA = 1ms]` };
    case 409:
      return { type: 'version_conflict_engine_exception', reason: `[${id ?? 'unknown'}]: version conflict, document already exists (current version [1])` };
    case 404:
      return { type: 'index_not_found_exception', reason: `no such index [${index}]` };
    case 403:
      return { type: 'security_exception', reason: `action [indices:data/write/bulk[s]] is unauthorized for user [tern] with effective roles [] on indices [${index}]` };
    case 503:
      return { type: 'unavailable_shards_exception', reason: `[${index}][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[${index}][0]] containing [1] requests]` };
    case 400:
      return { type: 'illegal_argument_exception', reason: 'emulated item failure' };
    default:
      return { type: status >= 500 ? 'exception' : 'status_exception', reason: `emulated item failure with status ${status}` };
  }
}

function tokenName(v: unknown): string {
  if (v === null) return 'VALUE_NULL';
  if (Array.isArray(v)) return 'START_ARRAY';
  switch (typeof v) {
    case 'object':
      return 'START_OBJECT';
    case 'string':
      return 'VALUE_STRING';
    case 'number':
      return 'VALUE_NUMBER';
    case 'boolean':
      return 'VALUE_BOOLEAN';
    default:
      return 'null';
  }
}

/**
 * Elasticsearch date math in index names: `<logs-{now/d}>`, `<logs-{now-1d/d}>`,
 * `<logs-{now/M{yyyy.MM}}>` (UTC; default format `yyyy.MM.dd`). Other names are returned as they
 * are; a malformed expression is returned unchanged, so it fails the index-name check like on a
 * real cluster.
 */
export function resolveDateMath(name: string, now: Date = new Date()): string {
  if (!name.startsWith('<') || !name.endsWith('>')) return name;
  let failed = false;
  const out = name.slice(1, -1).replace(/\{now([^{}]*)(?:\{([^{}|]*)(?:\|[^{}]*)?\})?\}/g, (_m, expr: string, format: string | undefined) => {
    const d = applyDateMath(now, expr);
    if (d === undefined) {
      failed = true;
      return '';
    }
    return formatDate(d, format === undefined || format === '' ? 'yyyy.MM.dd' : format);
  });
  return failed || out.includes('{') || out.includes('}') ? name : out;
}

function applyDateMath(now: Date, expr: string): Date | undefined {
  const d = new Date(now.getTime());
  const re = /([+-])(\d+)([yMwdhHms])|\/([yMwdhHms])/g;
  let consumed = 0;
  for (const m of expr.matchAll(re)) {
    if (m.index !== consumed) return undefined;
    consumed += m[0].length;
    const unit = (m[3] ?? m[4]) as string;
    if (m[1] !== undefined) {
      const n = Number(m[2]) * (m[1] === '-' ? -1 : 1);
      if (unit === 'y') d.setUTCFullYear(d.getUTCFullYear() + n);
      else if (unit === 'M') d.setUTCMonth(d.getUTCMonth() + n);
      else d.setTime(d.getTime() + n * ({ w: 604_800_000, d: 86_400_000, h: 3_600_000, H: 3_600_000, m: 60_000, s: 1000 } as Record<string, number>)[unit]!);
    } else {
      // Rounding down to the start of the unit.
      if (unit === 'y') d.setUTCMonth(0, 1);
      if (unit === 'M' || unit === 'y') d.setUTCDate(1);
      if (unit === 'w') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
      if (unit !== 'h' && unit !== 'H' && unit !== 'm' && unit !== 's') d.setUTCHours(0, 0, 0, 0);
      else if (unit === 'h' || unit === 'H') d.setUTCMinutes(0, 0, 0);
      else if (unit === 'm') d.setUTCSeconds(0, 0);
      else d.setUTCMilliseconds(0);
    }
  }
  return consumed === expr.length ? d : undefined;
}

function formatDate(d: Date, format: string): string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return format.replace(/yyyy|yy|MM|dd|HH|mm|ss/g, (t) => {
    switch (t) {
      case 'yyyy':
        return String(d.getUTCFullYear());
      case 'yy':
        return pad(d.getUTCFullYear() % 100);
      case 'MM':
        return pad(d.getUTCMonth() + 1);
      case 'dd':
        return pad(d.getUTCDate());
      case 'HH':
        return pad(d.getUTCHours());
      case 'mm':
        return pad(d.getUTCMinutes());
      default:
        return pad(d.getUTCSeconds());
    }
  });
}

/**
 * Whether two `*` globs match at least one common name (Elasticsearch intersects their automata
 * to refuse two index templates of the same priority that could both match a new index).
 */
export function globsOverlap(a: string, b: string): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const seen = memo.get(key);
    if (seen !== undefined) return seen;
    let r: boolean;
    if (i === a.length && j === b.length) r = true;
    else if (i < a.length && a[i] === '*') r = go(i + 1, j) || (j < b.length && go(i, j + 1));
    else if (j < b.length && b[j] === '*') r = go(i, j + 1) || (i < a.length && go(i + 1, j));
    else r = i < a.length && j < b.length && a[i] === b[j] && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/** Why Elasticsearch would refuse this index name, or undefined when it is valid. */
export function invalidIndexName(name: string): string | undefined {
  if (name !== name.toLowerCase()) return 'must be lowercase';
  if (/[\\/*?"<>| ,#:]/.test(name)) return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?, #, :]';
  if (/^[-_+]/.test(name)) return "must not start with '_', '-', or '+'";
  if (name === '.' || name === '..') return "must not be '.' or '..'";
  if (Buffer.byteLength(name) > 255) return 'index name is too long';
  return undefined;
}

export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

function matches(p: string | RegExp, s: string): boolean {
  return typeof p === 'string' ? p === s : p.test(s);
}

function utcDate(): string {
  const d = new Date();
  return `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
}

function generateId(): string {
  // Elasticsearch's auto ids are 20 URL-safe base64 characters.
  return randomBytes(15).toString('base64url');
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  if (path in obj) return obj[path];
  const dot = path.indexOf('.');
  // Try every split point so `a.b.c` finds `{"a.b":{"c":…}}` as Elasticsearch's dotted names do.
  for (let i = dot; i !== -1; i = path.indexOf('.', i + 1)) {
    const head = obj[path.slice(0, i)];
    if (typeof head === 'object' && head !== null && !Array.isArray(head)) {
      const v = getPath(head as Record<string, unknown>, path.slice(i + 1));
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

/** A value, or every item of a list, fits a leaf type (the configured conflict rules and @timestamp). */
function fitsAll(v: unknown, type: MappingType): boolean {
  if (Array.isArray(v)) return v.every((x) => x === null || fitsAll(x, type));
  return fitsType(v, type);
}

/** Java's Map.toString, which is how Elasticsearch previews an object value in errors. */
function javaPreview(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(javaPreview).join(', ')}]`;
  if (typeof v === 'object' && v !== null) return `{${Object.entries(v).map(([k, x]) => `${k}=${javaPreview(x)}`).join(', ')}}`;
  return String(v);
}

function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof b === 'object' && b !== null && !Array.isArray(b)
      ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out;
}
