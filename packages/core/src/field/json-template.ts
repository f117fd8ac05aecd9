/**
 * JSON templates: a template whose source is a JSON document with `{{field}}` placeholders in its
 * string values (a webhook body). It is rendered structurally, so substituted values are escaped
 * correctly whatever they hold, and a string that is exactly one placeholder keeps the field's type
 * (a number stays a number, an object is inserted whole). Each string is compiled by the one
 * template compiler (template.ts) with the caller's options.
 */
import { compileTemplate, type Template, type TemplateInput, type TemplateOptions } from './template.ts';

export interface JsonTemplate {
  readonly readsData: boolean;
  readonly usesDerived: boolean;
  /** The rendered document (a missing whole-placeholder value becomes null: JSON has no `undefined`). */
  render(input: TemplateInput): unknown;
}

type Node = { readonly k: 'lit'; readonly v: unknown } | { readonly k: 'str'; readonly t: Template } | { readonly k: 'arr'; readonly items: readonly Node[] } | { readonly k: 'obj'; readonly entries: ReadonlyArray<readonly [string, Node]> };

function compileNode(v: unknown, o: TemplateOptions): Node {
  if (typeof v === 'string') return v.includes('{{') ? { k: 'str', t: compileTemplate(v, o) } : { k: 'lit', v };
  if (Array.isArray(v)) return { k: 'arr', items: v.map((x) => compileNode(x, o)) };
  if (v !== null && typeof v === 'object') return { k: 'obj', entries: Object.entries(v as Record<string, unknown>).map(([key, x]) => [key, compileNode(x, o)] as const) };
  return { k: 'lit', v };
}

function renderNode(n: Node, input: TemplateInput): unknown {
  switch (n.k) {
    case 'lit':
      return n.v;
    case 'str':
      return n.t.value(input) ?? null;
    case 'arr':
      return n.items.map((x) => renderNode(x, input));
    case 'obj': {
      const o: Record<string, unknown> = {};
      for (const [key, x] of n.entries) o[key] = renderNode(x, input);
      return o;
    }
  }
}

function some(n: Node, pred: (t: Template) => boolean): boolean {
  switch (n.k) {
    case 'lit':
      return false;
    case 'str':
      return pred(n.t);
    case 'arr':
      return n.items.some((x) => some(x, pred));
    case 'obj':
      return n.entries.some(([, x]) => some(x, pred));
  }
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

/** Compiles a JSON template (the source must parse as JSON); throws naming the bad placeholder. */
export function compileJsonTemplate(source: string, options: TemplateOptions = {}): JsonTemplate {
  const root = compileNode(JSON.parse(source), options);
  return { readsData: some(root, (t) => t.readsData), usesDerived: some(root, (t) => t.usesDerived), render: (input) => renderNode(root, input) };
}
