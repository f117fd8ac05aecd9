/**
 * Tetragon export filters as text and data: the filter types, the parser of Tetragon's filter-list
 * string (JSON objects one after the other, proto or camelCase field names), the checks of each
 * field's value, and RE2 regexes translated to JavaScript (`(?i)`-style leading flags, `(?P<name>`,
 * `\A`, `\z`, POSIX classes). compile.ts turns the parsed filters into predicates.
 */
export type Obj = Record<string, unknown>;
export const asObj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);

/** One Tetragon export filter, with the proto field names. */
export interface TetragonFilterSpec {
  binary_regex?: string[];
  namespace?: string[];
  health_check?: boolean;
  pid?: number[];
  pid_set?: number[];
  event_set?: (string | number)[];
  pod_regex?: string[];
  arguments_regex?: string[];
  labels?: string[];
  policy_names?: string[];
  capabilities?: CapFilter;
  parent_binary_regex?: string[];
  cel_expression?: string[];
  parent_arguments_regex?: string[];
  container_id?: string[];
  in_init_tree?: boolean;
  ancestor_binary_regex?: string[];
  namespace_regex?: string[];
  container_name_regex?: string[];
}

export interface CapFilterSet {
  any?: (string | number)[];
  all?: (string | number)[];
  exactly?: (string | number)[];
  none?: (string | number)[];
}
export interface CapFilter {
  permitted?: CapFilterSet;
  effective?: CapFilterSet;
  inheritable?: CapFilterSet;
}

/** The transform's options as the schema completes them: an empty list (the default) is no list. */
export interface TetragonFilterConfig {
  readonly allow: TetragonFilterSpec[] | string;
  readonly deny: TetragonFilterSpec[] | string;
}

/** RE2's POSIX classes, in JavaScript. */
const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-/:-@[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** Translates the RE2 syntax JavaScript lacks and compiles; Go's `MatchString` is unanchored, as `test` is. */
export function compileRe2(pattern: string): RegExp {
  let src = pattern;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    const f = lead[1] as string;
    if (f.includes('U')) throw new Error('the (?U) flag is not supported');
    flags = [...new Set(f)].join('');
    src = src.slice(lead[0].length);
  }
  src = src
    .replace(/\\Q(.*?)(?:\\E|$)/g, (_m, lit: string) => lit.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
    .replace(/\(\?P</g, '(?<')
    .replace(/\[:(\^?)([a-z]+):\]/g, (m, neg: string, name: string) => {
      const cls = POSIX[name];
      if (cls === undefined) return m;
      if (neg) throw new Error(`negated POSIX class [:^${name}:] is not supported`);
      return cls;
    })
    .replace(/\\A/g, '^')
    .replace(/\\z/g, '(?![\\s\\S])');
  return new RegExp(src, flags);
}

export const FIELD_NAMES = [
  'binary_regex', 'namespace', 'health_check', 'pid', 'pid_set', 'event_set', 'pod_regex', 'arguments_regex', 'labels',
  'policy_names', 'capabilities', 'parent_binary_regex', 'cel_expression', 'parent_arguments_regex', 'container_id',
  'in_init_tree', 'ancestor_binary_regex', 'namespace_regex', 'container_name_regex',
] as const;
export type FieldName = (typeof FIELD_NAMES)[number];
const camel = (s: string) => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
const FIELD_BY_ALIAS = new Map<string, FieldName>(FIELD_NAMES.flatMap((f) => [[f, f] as [string, FieldName], [camel(f), f] as [string, FieldName]]));

/** Splits Tetragon's filter-list string (JSON values back to back, usually one per line) into objects. */
export function parseFilterList(text: string): TetragonFilterSpec[] {
  const out: TetragonFilterSpec[] = [];
  let i = 0;
  let n = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (i >= text.length) break;
    n++;
    const start = i;
    if (text[i] !== '{') throw new Error(`filter ${n}: expected a JSON object at offset ${i}`);
    let depth = 0;
    let inStr = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (inStr) {
        if (c === '\\') i++;
        else if (c === '"') inStr = false;
      } else if (c === '"') inStr = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        i++;
        break;
      }
    }
    if (depth !== 0) throw new Error(`filter ${n}: unterminated JSON object`);
    let value: unknown;
    try {
      value = JSON.parse(text.slice(start, i));
    } catch (err) {
      throw new Error(`filter ${n}: ${(err as Error).message}`);
    }
    out.push(value as TetragonFilterSpec);
  }
  return out;
}

export function normalize(raw: unknown, where: string): Partial<Record<FieldName, unknown>> {
  const o = asObj(raw);
  if (o === undefined) throw new Error(`${where}: a filter must be a JSON object`);
  const out: Partial<Record<FieldName, unknown>> = {};
  for (const [k, v] of Object.entries(o)) {
    const f = FIELD_BY_ALIAS.get(k);
    if (f === undefined) throw new Error(`${where}: unknown filter field "${k}" (known: ${FIELD_NAMES.join(', ')})`);
    out[f] = v;
  }
  return out;
}

export function strings(v: unknown, where: string): string[] {
  // Tetragon's docs sometimes write a single value where the proto wants a list: accept both.
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new Error(`${where}: expected a list of strings`);
}

export function numbers(v: unknown, where: string): number[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    const n = typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`${where}: expected a list of PIDs (unsigned integers)`);
    return n;
  });
}

export function bool(v: unknown, where: string): boolean {
  const b = asObj(v)?.value ?? v; // {"value": true} is BoolValue's object form
  if (typeof b !== 'boolean') throw new Error(`${where}: expected true or false`);
  return b;
}

export function regexes(v: unknown, where: string): RegExp[] {
  return strings(v, where).map((p, i) => {
    try {
      return compileRe2(p);
    } catch (err) {
      throw new Error(`${where}.${i}: invalid regular expression "${p}": ${(err as Error).message}`);
    }
  });
}

