/**
 * `{{field}}` templates for option values rendered per event (LogScale tags, Parseable stream names):
 * a literal, event fields by dotted path, and three origin
 * names that need no parsing (`{{@host}}` node name, `{{@source}}` source id, `{{@path}}` file
 * path). Compiled once at build; a template without placeholders renders with no per-event work,
 * and only templates naming event fields make the sink parse lines.
 */
import { getPath, type LogEvent } from './event.ts';

export interface Template {
  /** The value when the template has no placeholders. */
  readonly constant: string | undefined;
  /** True when rendering reads event fields (so the line is parsed). */
  readonly readsData: boolean;
  render(ev: LogEvent): string;
}

type Part = { readonly lit: string } | { readonly origin: 'host' | 'source' | 'path' } | { readonly field: readonly string[] };

const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;
const ORIGIN: Readonly<Record<string, 'host' | 'source' | 'path'>> = { '@host': 'host', '@source': 'source', '@path': 'path' };

/** Syntax problems of a template (for `validate`). */
export function templateErrors(src: string): string[] {
  const stripped = src.replace(PLACEHOLDER, '');
  return stripped.includes('{{') || stripped.includes('}}') ? [`unbalanced {{ }} in "${src}"`] : [];
}

export function compileTemplate(src: string): Template {
  const parts: Part[] = [];
  let last = 0;
  for (const m of src.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push({ lit: src.slice(last, m.index) });
    const name = m[1] as string;
    const o = ORIGIN[name];
    parts.push(o !== undefined ? { origin: o } : { field: name.split('.') });
    last = m.index + m[0].length;
  }
  if (last < src.length) parts.push({ lit: src.slice(last) });
  const constant = parts.every((p) => 'lit' in p) ? src : undefined;
  return {
    constant,
    readsData: parts.some((p) => 'field' in p),
    render(ev) {
      if (constant !== undefined) return constant;
      let out = '';
      for (const p of parts) {
        if ('lit' in p) out += p.lit;
        else if ('origin' in p) out += p.origin === 'host' ? ev.origin.host : p.origin === 'source' ? ev.origin.sourceId : ev.origin.path;
        else {
          const v = getPath(ev.data, p.field);
          // A missing field renders as `unknown`: one odd tag value beats failing the batch.
          out += v === undefined || v === null || typeof v === 'object' ? 'unknown' : String(v);
        }
      }
      return out;
    },
  };
}
