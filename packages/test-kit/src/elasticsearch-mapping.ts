/**
 * Field mappings of the Elasticsearch emulator (opt-in `dynamicMapping`): what decides whether a
 * document is indexed, refused, or indexed with some fields ignored, as Elasticsearch decides it.
 *
 * A target's rules come from its index template when it is created, as on a real cluster: the
 * highest-priority `_index_template` whose pattern matches (with its `composed_of` component
 * templates, user-installed or built-in), else the built-in `logs` template for `logs-*-*`, else
 * Elasticsearch's defaults. What the rules model (sources: `logs@template.json`,
 * `logs@mappings.json`, `logs@settings.json` and `ecs@mappings.json` in elasticsearch's
 * `x-pack/plugin/core/template-resources`; facts collected in shared/ecs/README.md):
 *
 * - Defaults (a plain index): date detection on, strings `text`, integers `long`, fractions
 *   `float`, no `ignore_malformed`: a value that does not fit its field refuses the document.
 * - Built-in `logs` (priority 100, `logs-*-*`): `date_detection: false`; `index.mapping.ignore_malformed:
 *   true`, except for `@timestamp` (a misfit in a numeric, date, ip, boolean or geo_point field is
 *   skipped and listed in the document's `_ignored`, the document is kept); ECS dynamic templates
 *   (`*.ip` strings → ip, `*.timestamp`/`*.start`/`*.created`… → date, `*.location` → geo_point,
 *   every other string → keyword).
 * - Always refused, whatever `ignore_malformed` says: a concrete value where an object is mapped,
 *   an object where a leaf is mapped (Elasticsearch issue #12366), a non-object for `flattened`, a
 *   malformed `@timestamp`, and going past `index.mapping.total_fields.limit` — unless
 *   `index.mapping.total_fields.ignore_dynamic_beyond_limit` is on (built-in `logs@settings` since
 *   8.13, Elasticsearch PR #105180): then new fields past the limit are left unmapped and listed in
 *   `_ignored`, and the document is kept.
 * - Fields under an object mapped `dynamic: false` are kept in `_source` and not mapped at all.
 *
 * Dotted keys are object boundaries (`{"a.b": 1}` is field `b` of object `a`), which is how label
 * keys such as `app.kubernetes.io/name` collide with a label `app`.
 *
 * Over 400 lines: Elasticsearch's dynamic mapping is one algorithm (type detection, dynamic
 * templates, object/leaf collisions, limits); its rules reference each other and are kept together
 * so they can be read against the reference in one place.
 */

export type MappingType =
  | 'long' | 'integer' | 'short' | 'byte' | 'double' | 'float' | 'scaled_float' | 'unsigned_long'
  | 'keyword' | 'constant_keyword' | 'wildcard' | 'text' | 'match_only_text'
  | 'boolean' | 'date' | 'date_nanos' | 'ip' | 'geo_point' | 'flattened' | 'object' | 'nested' | 'binary';

const NUMERIC: ReadonlySet<string> = new Set(['long', 'integer', 'short', 'byte', 'double', 'float', 'scaled_float', 'unsigned_long']);
const STRINGY: ReadonlySet<string> = new Set(['keyword', 'constant_keyword', 'wildcard', 'text', 'match_only_text', 'binary']);
/** Types that honour `ignore_malformed`. */
const MALFORMABLE: ReadonlySet<string> = new Set([...NUMERIC, 'boolean', 'date', 'date_nanos', 'ip', 'geo_point']);
const KNOWN_TYPES: ReadonlySet<string> = new Set([...NUMERIC, ...STRINGY, 'boolean', 'date', 'date_nanos', 'ip', 'geo_point', 'flattened', 'object', 'nested']);

export interface DynamicTemplate {
  readonly name: string;
  readonly match?: readonly string[];
  readonly unmatch?: readonly string[];
  readonly pathMatch?: readonly string[];
  readonly pathUnmatch?: readonly string[];
  /** `string`, `long`, `double`, `boolean`, `object`, `date`, `*`; absent: any. */
  readonly matchMappingType?: readonly string[];
  readonly type: string;
  readonly ignoreMalformed?: boolean;
}

export interface PropertyRule {
  readonly type: MappingType;
  readonly ignoreMalformed?: boolean;
  /** `dynamic: false` on an object: fields below are not mapped. */
  readonly dynamic?: boolean;
}

/** What a target's template resolves to. */
export interface MappingRules {
  readonly dateDetection: boolean;
  readonly ignoreMalformed: boolean;
  /** `index.mapping.total_fields.ignore_dynamic_beyond_limit`: new fields past the limit are ignored, not refused. */
  readonly ignoreDynamicBeyondLimit: boolean;
  readonly dynamicTemplates: readonly DynamicTemplate[];
  readonly properties: ReadonlyMap<string, PropertyRule>;
  /** Which template the rules came from (for `mappingSource`). */
  readonly source: string;
}

/** A component or index template body as Elasticsearch takes it (`{template: {settings, mappings}}`). */
export type TemplateBody = Record<string, unknown>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): string[] | undefined => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

/** The built-in component templates a user template may compose (their content as of Elasticsearch 8.13+). */
export const BUILTIN_COMPONENTS: Readonly<Record<string, TemplateBody>> = {
  'logs@mappings': {
    template: {
      mappings: {
        date_detection: false,
        properties: {
          '@timestamp': { type: 'date' },
          'data_stream.type': { type: 'constant_keyword' },
          'data_stream.dataset': { type: 'constant_keyword' },
          'data_stream.namespace': { type: 'constant_keyword' },
        },
      },
    },
  },
  'logs@settings': { template: { settings: { index: { mapping: { ignore_malformed: true, total_fields: { ignore_dynamic_beyond_limit: true } } } } } },
  'ecs@mappings': {
    template: {
      mappings: {
        dynamic_templates: [
          { ecs_timestamp: { match: '@timestamp', mapping: { type: 'date', ignore_malformed: false } } },
          { ecs_message_match_only_text: { path_match: ['message', '*.message'], mapping: { type: 'match_only_text' } } },
          { ecs_ip: { path_match: ['ip', '*.ip', '*_ip'], match_mapping_type: 'string', mapping: { type: 'ip' } } },
          { ecs_wildcard: { path_match: ['*.io.text', '*.message_id', '*registry.data.strings', '*url.path'], mapping: { type: 'wildcard' } } },
          { ecs_path_match_wildcard_and_match_only_text: { path_match: ['*.body.content', '*url.full', '*url.original'], mapping: { type: 'wildcard' } } },
          { ecs_match_wildcard_and_match_only_text: { match: ['*command_line', '*stack_trace'], mapping: { type: 'wildcard' } } },
          {
            ecs_path_match_keyword_and_match_only_text: {
              path_match: ['*.title', '*.executable', '*.name', '*.working_directory', '*.full_name', '*file.path', '*file.target_path', '*os.full', 'email.subject', 'vulnerability.description', 'user_agent.original'],
              mapping: { type: 'keyword' },
            },
          },
          {
            ecs_date: {
              path_match: ['*.timestamp', '*_timestamp', '*.not_after', '*.not_before', '*.accessed', 'created', '*.created', '*.installed', '*.creation_date', '*.ctime', '*.mtime', 'ingested', '*.ingested', '*.start', '*.end'],
              mapping: { type: 'date' },
            },
          },
          { ecs_path_match_float: { path_match: ['*.score.*', '*_score*'], path_unmatch: '*.version', mapping: { type: 'float' } } },
          { ecs_usage_double_scaled_float: { path_match: '*.usage', match_mapping_type: 'double', mapping: { type: 'scaled_float' } } },
          { ecs_usage_long_scaled_float: { path_match: '*.usage', match_mapping_type: 'long', mapping: { type: 'scaled_float' } } },
          { ecs_geo_point: { path_match: ['location', '*.location'], mapping: { type: 'geo_point' } } },
          { ecs_flattened: { path_match: ['*structured_data', '*exports', '*imports'], mapping: { type: 'flattened' } } },
          { all_strings_to_keywords: { match_mapping_type: 'string', mapping: { type: 'keyword', ignore_above: 1024 } } },
        ],
      },
    },
  },
};

/** The built-in `logs` index template (priority 100). */
export const BUILTIN_LOGS_TEMPLATE: TemplateBody = {
  index_patterns: ['logs-*-*'],
  priority: 100,
  data_stream: {},
  composed_of: ['logs@mappings', 'logs@settings', 'logs@custom', 'ecs@mappings'],
  ignore_missing_component_templates: ['logs@custom'],
};

/** Elasticsearch's defaults for an index no template matches. */
export const DEFAULT_RULES: MappingRules = { dateDetection: true, ignoreMalformed: false, ignoreDynamicBeyondLimit: false, dynamicTemplates: [], properties: new Map(), source: '(defaults)' };

/** Problems Elasticsearch would refuse a template for (400 at PUT time), or undefined. */
export function templateProblem(body: TemplateBody): string | undefined {
  const tpl = body['template'];
  if (tpl !== undefined && !isObj(tpl)) return 'template must be an object';
  const mappings = isObj(tpl) ? tpl['mappings'] : undefined;
  if (mappings === undefined) return undefined;
  if (!isObj(mappings)) return 'mappings must be an object';
  const bad: string[] = [];
  const walk = (props: unknown, prefix: string): void => {
    if (!isObj(props)) return;
    for (const [k, v] of Object.entries(props)) {
      if (!isObj(v)) continue;
      const t = v['type'];
      if (typeof t === 'string' && !KNOWN_TYPES.has(t)) bad.push(`No handler for type [${t}] declared on field [${prefix}${k}]`);
      walk(v['properties'], `${prefix}${k}.`);
    }
  };
  walk(mappings['properties'], '');
  return bad[0];
}

/**
 * Resolves the rules of a new target from the templates: `index` is every installed index template
 * by name, `components` the installed component templates (built-in ones are always there).
 */
export function resolveRules(name: string, index: ReadonlyMap<string, TemplateBody>, components: ReadonlyMap<string, TemplateBody>): MappingRules & { dataStream: boolean } {
  let best: [string, TemplateBody] | undefined;
  let bestPriority = -1;
  const candidates: Array<[string, TemplateBody]> = [...index.entries(), ['logs (built-in)', BUILTIN_LOGS_TEMPLATE]];
  for (const [tname, t] of candidates) {
    const patterns = list(t['index_patterns']) ?? [];
    if (!patterns.some((p) => globMatch(p, name))) continue;
    const priority = typeof t['priority'] === 'number' ? t['priority'] : 0;
    if (priority > bestPriority) {
      best = [tname, t];
      bestPriority = priority;
    }
  }
  if (best === undefined) return { ...DEFAULT_RULES, dataStream: false };
  const [tname, t] = best;
  const parts: TemplateBody[] = [];
  for (const c of list(t['composed_of']) ?? []) {
    const body = components.get(c) ?? BUILTIN_COMPONENTS[c];
    if (body !== undefined) parts.push(body);
  }
  parts.push(t);
  let dateDetection = true;
  let ignoreMalformed = false;
  let ignoreDynamicBeyondLimit = false;
  const templates = new Map<string, DynamicTemplate>();
  const properties = new Map<string, PropertyRule>();
  for (const part of parts) {
    const tpl = isObj(part['template']) ? part['template'] : {};
    const im = settingIgnoreMalformed(tpl['settings']);
    if (im !== undefined) ignoreMalformed = im;
    const beyond = settingBeyondLimit(tpl['settings']);
    if (beyond !== undefined) ignoreDynamicBeyondLimit = beyond;
    const m = tpl['mappings'];
    if (!isObj(m)) continue;
    if (typeof m['date_detection'] === 'boolean') dateDetection = m['date_detection'];
    for (const dt of Array.isArray(m['dynamic_templates']) ? m['dynamic_templates'] : []) {
      if (!isObj(dt)) continue;
      for (const [dname, def] of Object.entries(dt)) if (isObj(def)) templates.set(dname, parseDynamicTemplate(dname, def));
    }
    collectProperties(m['properties'], '', properties);
  }
  return { dateDetection, ignoreMalformed, ignoreDynamicBeyondLimit, dynamicTemplates: [...templates.values()], properties, source: tname, dataStream: t['data_stream'] !== undefined };
}

function settingIgnoreMalformed(settings: unknown): boolean | undefined {
  if (!isObj(settings)) return undefined;
  const flat = settings['index.mapping.ignore_malformed'] ?? settings['mapping.ignore_malformed'];
  if (typeof flat === 'boolean') return flat;
  const index = isObj(settings['index']) ? settings['index'] : settings;
  const mapping = index['mapping'];
  if (isObj(mapping) && typeof mapping['ignore_malformed'] === 'boolean') return mapping['ignore_malformed'];
  const dotted = index['mapping.ignore_malformed'];
  return typeof dotted === 'boolean' ? dotted : undefined;
}

/** `index.mapping.total_fields.ignore_dynamic_beyond_limit` in nested or dotted form. */
function settingBeyondLimit(settings: unknown): boolean | undefined {
  if (!isObj(settings)) return undefined;
  const flat = settings['index.mapping.total_fields.ignore_dynamic_beyond_limit'];
  if (typeof flat === 'boolean') return flat;
  const index = isObj(settings['index']) ? settings['index'] : settings;
  const mapping = isObj(index['mapping']) ? index['mapping'] : undefined;
  const tf = mapping !== undefined && isObj(mapping['total_fields']) ? mapping['total_fields'] : undefined;
  const v = tf?.['ignore_dynamic_beyond_limit'] ?? index['mapping.total_fields.ignore_dynamic_beyond_limit'];
  return typeof v === 'boolean' ? v : undefined;
}

function parseDynamicTemplate(name: string, def: Record<string, unknown>): DynamicTemplate {
  const mapping = isObj(def['mapping']) ? def['mapping'] : {};
  const t: { -readonly [K in keyof DynamicTemplate]: DynamicTemplate[K] } = { name, type: typeof mapping['type'] === 'string' ? mapping['type'] : '{dynamic_type}' };
  const m = list(def['match']);
  if (m) t.match = m;
  const um = list(def['unmatch']);
  if (um) t.unmatch = um;
  const pm = list(def['path_match']);
  if (pm) t.pathMatch = pm;
  const pu = list(def['path_unmatch']);
  if (pu) t.pathUnmatch = pu;
  const mmt = list(def['match_mapping_type']);
  if (mmt) t.matchMappingType = mmt;
  if (typeof mapping['ignore_malformed'] === 'boolean') t.ignoreMalformed = mapping['ignore_malformed'];
  return t;
}

function collectProperties(props: unknown, prefix: string, out: Map<string, PropertyRule>): void {
  if (!isObj(props)) return;
  for (const [k, v] of Object.entries(props)) {
    if (!isObj(v)) continue;
    const path = prefix + k;
    const sub = v['properties'];
    const type = (typeof v['type'] === 'string' ? v['type'] : isObj(sub) || v['dynamic'] !== undefined ? 'object' : undefined) as MappingType | undefined;
    if (type === undefined) continue;
    // A dotted property name is a path of objects, as in documents.
    const segs = path.split('.');
    for (let i = 1; i < segs.length; i++) {
      const parent = segs.slice(0, i).join('.');
      if (!out.has(parent)) out.set(parent, { type: 'object' });
    }
    const rule: { -readonly [K in keyof PropertyRule]: PropertyRule[K] } = { type };
    if (typeof v['ignore_malformed'] === 'boolean') rule.ignoreMalformed = v['ignore_malformed'];
    if (v['dynamic'] === false || v['dynamic'] === 'false') rule.dynamic = false;
    out.set(path, rule);
    collectProperties(sub, `${path}.`, out);
  }
}

/** Elasticsearch's simple match: `*` matches any run of characters (dots included). */
export function globMatch(pattern: string, s: string): boolean {
  if (!pattern.includes('*')) return pattern === s;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(s);
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function isIp(v: string): boolean {
  if (IPV4.test(v)) return true;
  if (!v.includes(':') || !/^[0-9a-fA-F:.]+(%\w+)?$/.test(v)) return false;
  try {
    new URL(`http://[${v}]/`);
    return true;
  } catch {
    return false;
  }
}

/** JSON type of a value as dynamic templates' `match_mapping_type` names it. */
function jsonType(v: unknown, dateDetection: boolean): string {
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'double';
  if (typeof v === 'string') return dateDetection && v.length >= 10 && ISO_DATE.test(v) ? 'date' : 'string';
  return 'object';
}

/** Whether a scalar fits a leaf type (Elasticsearch coerces numeric strings and numbers to text). */
export function fitsType(v: unknown, type: MappingType): boolean {
  if (NUMERIC.has(type)) return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)));
  if (STRINGY.has(type)) return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  switch (type) {
    case 'boolean':
      return typeof v === 'boolean' || v === 'true' || v === 'false' || v === '';
    case 'date':
    case 'date_nanos':
      return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && (ISO_DATE.test(v) || /^\d+$/.test(v)));
    case 'ip':
      return typeof v === 'string' && isIp(v);
    case 'geo_point':
      return (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*$/.test(v)) || (isObj(v) && typeof v['lat'] === 'number' && typeof v['lon'] === 'number');
    default:
      return isObj(v);
  }
}

/** Why a document is refused: the field, its mapped type and the value (for Elasticsearch's error text). */
export interface MappingRefusal {
  readonly field: string;
  readonly type: MappingType | 'limit';
  readonly value: unknown;
  readonly kind: 'object_as_value' | 'leaf_as_object' | 'misfit' | 'flattened' | 'limit';
  /** leaf_as_object: the dotted field that needed `field` to be an object. */
  readonly child?: string;
  readonly added?: number;
}

export interface MappingCheck {
  readonly refusal?: MappingRefusal;
  /** Fields whose values were skipped under `ignore_malformed` (the document's `_ignored`). */
  readonly ignored: string[];
  /** New fields to add when the document is accepted. */
  readonly added: Map<string, MappingType>;
  /** `ignore_malformed` of new fields whose dynamic template sets it. */
  readonly addedIgnore: Map<string, boolean>;
}

/** The mapping of one target: its rules and the fields mapped so far. */
export class TargetMapping {
  readonly rules: MappingRules;
  readonly fields = new Map<string, MappingType>();
  /** Per-field `ignore_malformed` that differs from the index setting (explicit or from a dynamic template). */
  readonly #fieldIgnore = new Map<string, boolean>();
  /** Objects mapped `dynamic: false`. */
  readonly #closed = new Set<string>();
  readonly #limit: number;

  constructor(rules: MappingRules, totalFieldsLimit: number, dataStream: boolean) {
    this.rules = rules;
    this.#limit = totalFieldsLimit;
    for (const [path, rule] of rules.properties) {
      this.fields.set(path, rule.type);
      if (rule.ignoreMalformed !== undefined) this.#fieldIgnore.set(path, rule.ignoreMalformed);
      if (rule.dynamic === false) this.#closed.add(path);
    }
    // Data streams map @timestamp as a date and never ignore a bad one.
    if (dataStream) {
      if (!this.fields.has('@timestamp')) this.fields.set('@timestamp', 'date');
      this.#fieldIgnore.set('@timestamp', false);
    }
  }

  /** Checks a document against the mapping without changing it. */
  check(doc: Record<string, unknown>): MappingCheck {
    const added = new Map<string, MappingType>();
    const addedIgnore = new Map<string, boolean>();
    const ignored: string[] = [];
    const refusal = this.#walk(doc, '', added, ignored, addedIgnore);
    if (refusal !== undefined) return { refusal, ignored, added, addedIgnore };
    if (added.size > 0 && this.fields.size + added.size > this.#limit) {
      if (this.rules.ignoreDynamicBeyondLimit) {
        // Fields are added in document order (an object before what is under it); past the limit
        // the rest stay unmapped (kept in _source) and the leaves among them are listed in _ignored.
        let room = Math.max(0, this.#limit - this.fields.size);
        for (const [path, type] of [...added]) {
          if (room > 0) {
            room--;
            continue;
          }
          added.delete(path);
          addedIgnore.delete(path);
          if (type !== 'object' && type !== 'nested' && !ignored.includes(path)) ignored.push(path);
        }
        return { ignored, added, addedIgnore };
      }
      return { refusal: { field: '', type: 'limit', value: undefined, kind: 'limit', added: added.size }, ignored, added, addedIgnore };
    }
    return { ignored, added, addedIgnore };
  }

  /** Adds the new fields of an accepted document. */
  commit(check: MappingCheck): void {
    for (const [k, v] of check.added) this.fields.set(k, v);
    for (const [k, v] of check.addedIgnore) this.#fieldIgnore.set(k, v);
  }

  #known(p: string, added: Map<string, MappingType>): MappingType | undefined {
    return this.fields.get(p) ?? added.get(p);
  }

  #ignores(path: string, type: MappingType, pending: Map<string, boolean>): boolean {
    if (!MALFORMABLE.has(type)) return false;
    return pending.get(path) ?? this.#fieldIgnore.get(path) ?? this.rules.ignoreMalformed;
  }

  #walk(obj: Record<string, unknown>, prefix: string, added: Map<string, MappingType>, ignored: string[], pendingIgnore: Map<string, boolean>): MappingRefusal | undefined {
    for (const [key, value] of Object.entries(obj)) {
      const path = prefix + key;
      // A dotted key `a.b` means object `a` with field `b`: every step must be (or become) an object.
      const parts = path.split('.');
      let closed = false;
      for (let i = prefix === '' ? 1 : prefix.split('.').length; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('.');
        const pt = this.#known(parent, added);
        if (pt === 'flattened') {
          // Everything below a flattened field is its content; a dotted key into it is fine.
          closed = true;
          break;
        }
        if (this.#closed.has(parent)) {
          closed = true;
          break;
        }
        if (pt === undefined) added.set(parent, 'object');
        else if (pt !== 'object' && pt !== 'nested') return { field: parent, type: pt, value: { [parts.slice(i).join('.')]: value }, kind: 'leaf_as_object', child: path };
      }
      if (closed) continue;
      const values = Array.isArray(value) ? value : [value];
      const current0 = this.#known(path, added);
      // A geo_point may be given as [lon, lat].
      if (current0 === 'geo_point' && Array.isArray(value) && value.length === 2 && value.every((x) => typeof x === 'number')) continue;
      for (const v of values) {
        if (v === null || v === undefined) continue;
        const current = this.#known(path, added);
        if (current === undefined) {
          const t = this.#dynamicType(path, key, v, pendingIgnore);
          added.set(path, t);
          if (t === 'object' || t === 'nested') {
            if (!isObj(v)) return { field: path, type: t, value: v, kind: 'object_as_value' };
            const r = this.#walk(v, `${path}.`, added, ignored, pendingIgnore);
            if (r !== undefined) return r;
          } else {
            const r = this.#leaf(path, t, v, ignored, pendingIgnore);
            if (r !== undefined) return r;
          }
          continue;
        }
        if (current === 'object' || current === 'nested') {
          if (!isObj(v)) return { field: path, type: current, value: v, kind: 'object_as_value' };
          if (this.#closed.has(path)) continue;
          const r = this.#walk(v, `${path}.`, added, ignored, pendingIgnore);
          if (r !== undefined) return r;
          continue;
        }
        const r = this.#leaf(path, current, v, ignored, pendingIgnore);
        if (r !== undefined) return r;
      }
    }
    return undefined;
  }

  #leaf(path: string, type: MappingType, v: unknown, ignored: string[], pending: Map<string, boolean>): MappingRefusal | undefined {
    if (type === 'flattened') return isObj(v) ? undefined : { field: path, type, value: v, kind: 'flattened' };
    if (type === 'geo_point') {
      if (fitsType(v, type)) return undefined;
    } else if (isObj(v)) {
      // An object for a leaf field is refused even with ignore_malformed.
      return { field: path, type, value: v, kind: 'misfit' };
    } else if (fitsType(v, type)) return undefined;
    if (this.#ignores(path, type, pending)) {
      if (!ignored.includes(path)) ignored.push(path);
      return undefined;
    }
    return { field: path, type, value: v, kind: 'misfit' };
  }

  /** The type a new field gets: the first matching dynamic template, else Elasticsearch's default for the JSON type. */
  #dynamicType(path: string, name: string, v: unknown, pendingIgnore: Map<string, boolean>): MappingType {
    const jt = jsonType(v, this.rules.dateDetection);
    for (const t of this.rules.dynamicTemplates) {
      if (t.matchMappingType !== undefined && !t.matchMappingType.some((m) => m === '*' || m === jt || (m === 'string' && jt === 'date'))) continue;
      if (t.match !== undefined && !t.match.some((m) => globMatch(m, name))) continue;
      if (t.unmatch !== undefined && t.unmatch.some((m) => globMatch(m, name))) continue;
      if (t.pathMatch !== undefined && !t.pathMatch.some((m) => globMatch(m, path))) continue;
      if (t.pathUnmatch !== undefined && t.pathUnmatch.some((m) => globMatch(m, path))) continue;
      if (t.ignoreMalformed !== undefined) pendingIgnore.set(path, t.ignoreMalformed);
      const type = t.type === '{dynamic_type}' ? defaultType(jt) : t.type;
      return (KNOWN_TYPES.has(type) ? type : 'keyword') as MappingType;
    }
    return defaultType(jt);
  }
}

function defaultType(jt: string): MappingType {
  switch (jt) {
    case 'boolean':
      return 'boolean';
    case 'long':
      return 'long';
    case 'double':
      return 'float';
    case 'date':
      return 'date';
    case 'object':
      return 'object';
    default:
      return 'text';
  }
}
