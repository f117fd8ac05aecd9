/**
 * `{{field.path}}` templates over event fields, for message texts, titles, the `template` format
 * and rate-limit keys. Compiled once at build time into literal parts and parsed paths; rendering
 * walks them without regexes.
 *
 * Paths are dotted (`process_exec.process.binary`); a key that itself contains dots is written in
 * brackets (`output_fields["k8s.pod.name"]`), and when a dotted path does not resolve, the rest of
 * it is also tried as one literal key, so Falco's `output_fields.k8s.pod.name` works unquoted.
 * `{{path | fallback}}` renders `fallback` when the field is missing or empty. `{{{{` writes a
 * literal `{{`. Paths starting with `_.` read the derived alert fields (see `describe.ts`), which are
 * computed only for templates that use them.
 *
 * JSON templates (`jsonTemplate`): a template that parses as JSON is rendered structurally, so
 * substituted values are escaped correctly; a string that is exactly one placeholder keeps the
 * field's type (a number stays a number, an object is inserted whole).
 *
 * This is the fourth `{{field}}` template in the repository (transforms, logscale, parseable each
 * have one); it belongs in core and is kept small so it can move there.
 */

/** A path: segments resolved one after the other. */
export type Path = readonly string[];

/** Where placeholders read from: the event fields and, for `_.` paths, the derived fields. */
export interface Scope {
  readonly data: unknown;
  /** Derived fields (`_.pod`, `_.file`, ...); called at most once per render, only when needed. */
  readonly derived?: () => unknown;
}

export interface TextTemplate {
  readonly source: string;
  /** True when some placeholder reads `_.` derived fields. */
  readonly usesDerived: boolean;
  /** Renders to a string; `escape` is applied to substituted values only (not to the literal text). */
  render(scope: Scope, escape?: (s: string) => string): string;
  /** The value of a template that is exactly one placeholder (type kept), else the rendered string. */
  value(scope: Scope): unknown;
}

interface Placeholder {
  readonly path: Path;
  readonly fallback: string | undefined;
}

/** Parses `a.b["c.d"].e` into segments; throws on a malformed path. */
export function parsePath(src: string): Path {
  const out: string[] = [];
  let i = 0;
  let cur = '';
  let quotedLast = false;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === '[') {
      const q = src[i + 1];
      if (q !== '"' && q !== "'") throw new Error(`expected a quote after "[" in "${src}"`);
      const end = src.indexOf(`${q}]`, i + 2);
      if (end < 0) throw new Error(`unterminated "[${q}" in "${src}"`);
      if (cur !== '') out.push(cur);
      cur = '';
      out.push(src.slice(i + 2, end));
      i = end + 2;
      quotedLast = true;
      continue;
    }
    if (c === '.') {
      if (cur === '' && !quotedLast) throw new Error(`empty segment in "${src}"`);
      if (cur !== '') out.push(cur);
      cur = '';
      quotedLast = false;
      i++;
      continue;
    }
    cur += c;
    quotedLast = false;
    i++;
  }
  if (cur !== '') out.push(cur);
  else if (!quotedLast) throw new Error(`empty segment in "${src}"`);
  return out;
}

/**
 * Reads a path. When `a.b.c` does not resolve segment by segment, the remaining segments are also
 * tried joined as one key (longest first), because Falco and Kubernetes name keys with dots.
 */
export function getIn(data: unknown, path: Path, from = 0): unknown {
  let cur = data;
  for (let i = from; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const obj = cur as Record<string, unknown>;
    const seg = path[i] as string;
    const next = obj[seg];
    if (next !== undefined) {
      cur = next;
      continue;
    }
    for (let j = path.length; j > i + 1; j--) {
      const key = path.slice(i, j).join('.');
      if (key in obj) return getIn(obj[key], path, j);
    }
    return undefined;
  }
  return cur;
}

/** A value as template text: strings as they are, missing as empty, objects as JSON. */
export function stringify(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

function lookup(scope: Scope, p: Placeholder, derived: { v?: unknown; done: boolean }): unknown {
  if (p.path[0] === '_' && scope.derived !== undefined) {
    if (!derived.done) {
      derived.v = scope.derived();
      derived.done = true;
    }
    return getIn(derived.v, p.path, 1);
  }
  return getIn(scope.data, p.path);
}

/** Compiles a text template; throws with the column of a bad placeholder. */
export function compileText(source: string): TextTemplate {
  const literals: string[] = [];
  const holes: Placeholder[] = [];
  let lit = '';
  let i = 0;
  while (i < source.length) {
    if (source.startsWith('{{{{', i)) {
      lit += '{{';
      i += 4;
      continue;
    }
    if (source.startsWith('{{', i)) {
      const end = source.indexOf('}}', i + 2);
      if (end < 0) throw new Error(`unterminated "{{" at column ${i + 1}`);
      const inner = source.slice(i + 2, end);
      const bar = inner.indexOf('|');
      const pathSrc = (bar < 0 ? inner : inner.slice(0, bar)).trim();
      if (pathSrc === '') throw new Error(`empty placeholder at column ${i + 1}`);
      let path: Path;
      try {
        path = parsePath(pathSrc);
      } catch (err) {
        throw new Error(`bad placeholder at column ${i + 1}: ${(err as Error).message}`);
      }
      literals.push(lit);
      holes.push({ path, fallback: bar < 0 ? undefined : inner.slice(bar + 1).trim() });
      lit = '';
      i = end + 2;
      continue;
    }
    lit += source[i];
    i++;
  }
  literals.push(lit);
  const usesDerived = holes.some((h) => h.path[0] === '_');
  const whole = holes.length === 1 && literals[0] === '' && literals[1] === '' ? (holes[0] as Placeholder) : undefined;

  const render = (scope: Scope, escape?: (s: string) => string): string => {
    if (holes.length === 0) return literals[0] as string;
    const d = { done: false };
    let out = literals[0] as string;
    for (let k = 0; k < holes.length; k++) {
      const h = holes[k] as Placeholder;
      let s = stringify(lookup(scope, h, d));
      if (s === '' && h.fallback !== undefined) s = h.fallback;
      out += (escape ? escape(s) : s) + (literals[k + 1] as string);
    }
    return out;
  };
  return {
    source,
    usesDerived,
    render,
    value(scope) {
      if (whole === undefined) return render(scope);
      const v = lookup(scope, whole, { done: false });
      return (v === undefined || v === null || v === '') && whole.fallback !== undefined ? whole.fallback : v;
    },
  };
}

/** A template whose source is JSON: placeholders live in its string values. */
export interface JsonTemplate {
  readonly usesDerived: boolean;
  render(scope: Scope): unknown;
}

type Node = { readonly k: 'lit'; readonly v: unknown } | { readonly k: 'str'; readonly t: TextTemplate } | { readonly k: 'arr'; readonly items: readonly Node[] } | { readonly k: 'obj'; readonly entries: ReadonlyArray<readonly [string, Node]> };

function compileNode(v: unknown): Node {
  if (typeof v === 'string') return v.includes('{{') ? { k: 'str', t: compileText(v) } : { k: 'lit', v };
  if (Array.isArray(v)) return { k: 'arr', items: v.map(compileNode) };
  if (v !== null && typeof v === 'object') return { k: 'obj', entries: Object.entries(v as Record<string, unknown>).map(([key, x]) => [key, compileNode(x)] as const) };
  return { k: 'lit', v };
}

function renderNode(n: Node, scope: Scope): unknown {
  switch (n.k) {
    case 'lit':
      return n.v;
    case 'str': {
      const v = n.t.value(scope);
      // A missing whole-placeholder value becomes null: JSON has no `undefined`.
      return v === undefined ? null : v;
    }
    case 'arr':
      return n.items.map((x) => renderNode(x, scope));
    case 'obj': {
      const o: Record<string, unknown> = {};
      for (const [key, x] of n.entries) o[key] = renderNode(x, scope);
      return o;
    }
  }
}

function anyDerived(n: Node): boolean {
  switch (n.k) {
    case 'lit':
      return false;
    case 'str':
      return n.t.usesDerived;
    case 'arr':
      return n.items.some(anyDerived);
    case 'obj':
      return n.entries.some(([, x]) => anyDerived(x));
  }
}

/** Compiles a JSON template (the source must parse as JSON); throws naming the bad placeholder. */
export function compileJson(source: string): JsonTemplate {
  const parsed: unknown = JSON.parse(source);
  const root = compileNode(parsed);
  return { usesDerived: anyDerived(root), render: (scope) => renderNode(root, scope) };
}

/** True when `source` is a JSON object or array (then it is rendered as a JSON template). */
export function isJsonTemplate(source: string): boolean {
  const s = source.trimStart();
  if (!s.startsWith('{') && !s.startsWith('[')) return false;
  try {
    JSON.parse(source);
    return true;
  } catch {
    return false;
  }
}

/** Syntax problems of a template, for `validate` (undefined when it compiles). */
export function templateError(source: string): string | undefined {
  try {
    if (isJsonTemplate(source)) compileJson(source);
    else compileText(source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
