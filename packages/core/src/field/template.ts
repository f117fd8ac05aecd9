/**
 * `{{field}}` templates: the one compiler behind every option rendered per event (Elasticsearch
 * index and data stream names, LogScale tags, Parseable streams, remap `set` values, webhook
 * texts and bodies, Slack/Teams messages, rate-limit keys).
 *
 * Grammar, the same everywhere:
 * - `{{path}}` inserts a field; paths are field paths (path.ts: dots, `["dotted.key"]`, `[0]`);
 *   origin fields (`{{@host}}`, `{{@source}}`, `{{@path}}`, `{{@offset}}`, `{{@fields.name}}`,
 *   origin.ts) read where the event came from and cost no parse.
 * - `{{a | b | "text"}}`: alternatives, the first one present wins; a bare alternative is a field
 *   path, a quoted one (`"…"` or `'…'`) is literal text. A value is present unless it is missing,
 *   null or the empty string.
 * - `{{{{` writes a literal `{{`; a `}}` outside a placeholder is literal text.
 * - with `dates`, `%Y %m %d %H` insert the UTC year, month, day and hour of the time given to
 *   `render`, and `%%` writes `%`.
 *
 * What differs between uses is said by explicit options, never by a copy of the compiler: the text
 * for a value that is not present (`missing`: `''`, or `unknown` for names), whether an object value
 * renders as its JSON or as missing, letter case, dates, Falco's unquoted dotted keys, and `_.`
 * derived fields (the webhook's alert summary).
 *
 * Compiled once at build into literal parts and parsed paths; rendering walks them without regexes,
 * and a template without placeholders renders with no per-event work at all.
 */
import { getOrigin, isOriginPath, type OriginSource } from './origin.ts';
import { getPath, getPathDotted, parsePath, type FieldPath } from './path.ts';

export interface TemplateOptions {
  /** Text for a placeholder none of whose alternatives is present. Default `''`. */
  readonly missing?: string;
  /** An object or list value: rendered as its JSON text (`json`, the default) or as not present (`missing`). */
  readonly objects?: 'json' | 'missing';
  /** Letter case of the whole result: as written (`keep`, the default) or lower-cased (`lower`, index names). */
  readonly case?: 'keep' | 'lower';
  /** Accept `%Y %m %d %H` (UTC, from the time passed to `render`) and `%%`. Default false. */
  readonly dates?: boolean;
  /** Where a dotted path does not resolve, also try the rest as one dotted key (path.ts `getPathDotted`). Default false. */
  readonly dottedKeys?: boolean;
  /** Paths starting with `_.` read `input.derived()` instead of the event fields. Default false. */
  readonly derived?: boolean;
}

/**
 * Options for templates that name something (LogScale tags, Parseable streams, and with case and
 * dates Elasticsearch targets): a field that is missing, empty or an object renders as `unknown`,
 * because one odd name beats failing the batch.
 */
export const NAME_TEMPLATE: TemplateOptions = Object.freeze({ missing: 'unknown', objects: 'missing' });

/** What a template reads: event fields (read lazily: a `LogEvent` parses only when a field is asked for), the origin, derived fields. */
export interface TemplateInput extends OriginSource {
  readonly data: unknown;
  /** Derived fields for `_.` paths; called at most once per render, only when a placeholder needs it. */
  readonly derived?: () => unknown;
}

export interface Template {
  readonly source: string;
  /** The rendered text when the template has no placeholder, else undefined. */
  readonly constant: string | undefined;
  /** True when rendering reads event fields (so a lazily decoded line gets parsed). */
  readonly readsData: boolean;
  /** True when some placeholder reads `_.` derived fields. */
  readonly usesDerived: boolean;
  /** True when the template has date directives (it needs the event time). */
  readonly usesTime: boolean;
  /** Renders to text; `escape` is applied to substituted values only. `timeMs` dates the `%` directives (default: now). */
  render(input: TemplateInput, timeMs?: number, escape?: (s: string) => string): string;
  /**
   * The value of a template that is exactly one placeholder, with its type (a number stays a number,
   * an object is the same object); when no alternative is present, the first one's value (so `''` and
   * null stay what they were). Any other template: the rendered text.
   */
  value(input: TemplateInput): unknown;
  /** The template with every placeholder and date directive replaced by `fill` (an index pattern: `logs-*-default`). */
  skeleton(fill: string): string;
}

type Alt = { readonly lit: string } | { readonly path: FieldPath; readonly from: 'data' | 'origin' | 'derived' };
type Hole = { readonly alts: readonly Alt[] } | { readonly date: 'Y' | 'm' | 'd' | 'H' };

const NOT_PRESENT = (v: unknown): boolean => v === undefined || v === null || v === '';

type DerivedCache = { v?: unknown; done: boolean };
/** Shared by renders of templates without `_.` paths: never written, so nothing is allocated per render. */
const NO_DERIVED: DerivedCache = Object.freeze({ done: true });

/** Splits a placeholder's inside on `|` outside quotes. */
function alternatives(inner: string, column: number): string[] {
  const out: string[] = [];
  let q = '';
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (q !== '') {
      if (c === '\\') i++;
      else if (c === q) q = '';
    } else if (c === '"' || c === "'") q = c;
    else if (c === '|') {
      out.push(inner.slice(start, i));
      start = i + 1;
    }
  }
  if (q !== '') throw new Error(`unterminated quote in placeholder at column ${column}`);
  out.push(inner.slice(start));
  return out.map((s) => s.trim());
}

function quoted(s: string): string | undefined {
  const q = s[0];
  if ((q !== '"' && q !== "'") || s.length < 2 || s[s.length - 1] !== q) return undefined;
  let out = '';
  for (let i = 1; i < s.length - 1; i++) {
    let c = s[i] as string;
    if (c === '\\' && i + 1 < s.length - 1) c = s[++i] as string;
    else if (c === q) return undefined;
    out += c;
  }
  return out;
}

function compileAlt(src: string, column: number, o: TemplateOptions): Alt {
  if (src === '') throw new Error(`empty placeholder at column ${column}`);
  const lit = quoted(src);
  if (lit !== undefined) return { lit };
  let path: FieldPath;
  try {
    path = parsePath(src);
  } catch (err) {
    throw new Error(`bad placeholder at column ${column}: ${(err as Error).message}`);
  }
  if (isOriginPath(path)) return { path, from: 'origin' };
  if (o.derived === true && path[0] === '_') return { path, from: 'derived' };
  return { path, from: 'data' };
}

/** End of the placeholder opened at `i` (index of its `}}`), skipping quoted text; -1 when unterminated. */
function placeholderEnd(src: string, i: number): number {
  let q = '';
  for (let j = i + 2; j < src.length; j++) {
    const c = src[j];
    if (q !== '') {
      if (c === '\\') j++;
      else if (c === q) q = '';
    } else if (c === '"' || c === "'") q = c;
    else if (c === '}' && src[j + 1] === '}') return j;
  }
  return -1;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Compiles a template; throws with the column of a bad placeholder or date directive. */
export function compileTemplate(source: string, options: TemplateOptions = {}): Template {
  const literals: string[] = [];
  const holes: Hole[] = [];
  let lit = '';
  let i = 0;
  while (i < source.length) {
    if (source.startsWith('{{{{', i)) {
      lit += '{{';
      i += 4;
    } else if (source.startsWith('{{', i)) {
      const end = placeholderEnd(source, i);
      if (end < 0) throw new Error(`unterminated "{{" at column ${i + 1}`);
      const alts = alternatives(source.slice(i + 2, end), i + 1).map((a) => compileAlt(a, i + 1, options));
      literals.push(lit);
      holes.push({ alts });
      lit = '';
      i = end + 2;
    } else if (options.dates === true && source[i] === '%') {
      const d = source[i + 1];
      if (d === '%') lit += '%';
      else if (d === 'Y' || d === 'm' || d === 'd' || d === 'H') {
        literals.push(lit);
        holes.push({ date: d });
        lit = '';
      } else throw new Error(`unknown date directive %${d ?? ''} at column ${i + 1} (use %Y %m %d %H, %% for %)`);
      i += 2;
    } else {
      lit += source[i];
      i++;
    }
  }
  literals.push(lit);
  return new CompiledTemplate(source, literals, holes, options);
}

class CompiledTemplate implements Template {
  readonly source: string;
  readonly constant: string | undefined;
  readonly readsData: boolean;
  readonly usesDerived: boolean;
  readonly usesTime: boolean;
  private readonly literals: readonly string[];
  private readonly holes: readonly Hole[];
  private readonly missing: string;
  private readonly objectsMissing: boolean;
  private readonly lower: boolean;
  private readonly dotted: boolean;
  /** The placeholder when the template is exactly one. */
  private readonly whole: readonly Alt[] | undefined;

  constructor(source: string, literals: string[], holes: Hole[], o: TemplateOptions) {
    this.source = source;
    this.literals = literals;
    this.holes = holes;
    this.missing = o.missing ?? '';
    this.objectsMissing = o.objects === 'missing';
    this.lower = o.case === 'lower';
    this.dotted = o.dottedKeys === true;
    const alts = holes.flatMap((h) => ('alts' in h ? h.alts : []));
    this.readsData = alts.some((a) => 'from' in a && a.from !== 'origin');
    this.usesDerived = alts.some((a) => 'from' in a && a.from === 'derived');
    this.usesTime = holes.some((h) => 'date' in h);
    const text = literals[0] as string;
    this.constant = holes.length === 0 ? (this.lower ? text.toLowerCase() : text) : undefined;
    const only = holes[0];
    this.whole = holes.length === 1 && only !== undefined && 'alts' in only && literals[0] === '' && literals[1] === '' ? only.alts : undefined;
  }

  private read(a: Exclude<Alt, { lit: string }>, input: TemplateInput, derived: DerivedCache): unknown {
    if (a.from === 'origin') return getOrigin(input, a.path);
    if (a.from === 'derived') {
      if (!derived.done) {
        derived.v = input.derived?.();
        derived.done = true;
      }
      return this.dotted ? getPathDotted(derived.v, a.path, 1) : getPath(derived.v, a.path, 1);
    }
    return this.dotted ? getPathDotted(input.data, a.path) : getPath(input.data, a.path);
  }

  /** The text of the first present alternative, else undefined. */
  private text(alts: readonly Alt[], input: TemplateInput, derived: DerivedCache): string | undefined {
    for (let j = 0; j < alts.length; j++) {
      const a = alts[j] as Alt;
      if ('lit' in a) return a.lit;
      const v = this.read(a, input, derived);
      if (NOT_PRESENT(v)) continue;
      if (typeof v === 'string') return v;
      if (typeof v === 'object') {
        if (this.objectsMissing) continue;
        return JSON.stringify(v);
      }
      return String(v);
    }
    return undefined;
  }

  render(input: TemplateInput, timeMs?: number, escape?: (s: string) => string): string {
    if (this.constant !== undefined) return this.constant;
    const { literals, holes } = this;
    const derived: DerivedCache = this.usesDerived ? { done: false } : NO_DERIVED;
    let date: Date | undefined;
    let out = literals[0] as string;
    for (let k = 0; k < holes.length; k++) {
      const h = holes[k] as Hole;
      let s: string;
      if ('date' in h) {
        date ??= new Date(timeMs ?? Date.now());
        s = h.date === 'Y' ? String(date.getUTCFullYear()) : pad2(h.date === 'm' ? date.getUTCMonth() + 1 : h.date === 'd' ? date.getUTCDate() : date.getUTCHours());
      } else {
        s = this.text(h.alts, input, derived) ?? this.missing;
        if (escape !== undefined) s = escape(s);
      }
      out += s + (literals[k + 1] as string);
    }
    return this.lower ? out.toLowerCase() : out;
  }

  skeleton(fill: string): string {
    let out = this.literals[0] as string;
    for (let k = 0; k < this.holes.length; k++) out += fill + (this.literals[k + 1] as string);
    return this.lower ? out.toLowerCase() : out;
  }

  value(input: TemplateInput): unknown {
    const alts = this.whole;
    if (alts === undefined) return this.render(input);
    const derived: DerivedCache = this.usesDerived ? { done: false } : NO_DERIVED;
    let first: unknown;
    let seen = false;
    for (const a of alts) {
      if ('lit' in a) return a.lit;
      const v = this.read(a, input, derived);
      if (!NOT_PRESENT(v)) return v;
      if (!seen) {
        first = v;
        seen = true;
      }
    }
    return first;
  }
}

/**
 * One field path read as a template placeholder would read it (`path` is what goes between the
 * braces, alternatives included): `render` gives its text ('' or `missing` when absent), `value`
 * its typed value. For options that name fields rather than templates (`message.fields`,
 * rate-limit `key_fields`), so they follow the same rules (origin fields, `_.`, dotted keys).
 */
export function fieldTemplate(path: string, options: TemplateOptions = {}): Template {
  const alts = alternatives(path, 1).map((a) => compileAlt(a, 1, options));
  return new CompiledTemplate(path, ['', ''], [{ alts }], options);
}

/** Syntax problem of a template, for `validate`: undefined when it compiles, else the message. */
export function templateError(source: unknown, options: TemplateOptions = {}): string | undefined {
  if (typeof source !== 'string') return undefined;
  try {
    compileTemplate(source, options);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
