/**
 * What a pipeline file's problems look like to the user: where an issue is (a JSON pointer from ajv
 * turned into the line and column of the YAML node), what it says (ajv's errors in a user's words,
 * with "did you mean"), how it prints, in what order, and the error that carries them all. The
 * loader (load.ts) finds the problems; this file only words and places them.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import { isMap, isNode, isPair, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import { TernError } from '../errors.ts';
import { suggest } from './suggest.ts';
import type { ConfigIssue } from './types.ts';

/**
 * One issue as one line: `file:line:col: error: component: message [TERN_ERR_…]`. The position and
 * severity come first, as compilers print them (editors' problem matchers read that prefix); the
 * stable code comes last, so a user can look it up in docs/errors.md.
 */
export function formatIssue(i: ConfigIssue): string {
  const where = `${i.file}:${i.line}:${i.col}`;
  return `${where}: ${i.severity}${i.component ? `: ${i.component}` : ''}: ${i.message} [${i.code}]`;
}

/** Appended to the issue after which a file could not be read: the pass stopped there, and says so. */
export const UNREAD_REST = 'tern could not read this file past here, so the rest of it, and the inputs and cycles of the pipeline, were not checked';
/** Appended to a section that is not a map of components. */
export const UNREAD_SECTION = 'the components under it, and the inputs and cycles of the pipeline, were not checked';

/** The order issues are reported in: errors, then warnings, each by file (in the order given) and position. */
export function byPosition(files: readonly string[]): (a: ConfigIssue, b: ConfigIssue) => number {
  return (a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1) || files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line || a.col - b.col;
}

/** Every issue of a failed load; its `code` is the first error's (in file and line order), each issue keeps its own. */
export class ConfigError extends TernError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    const errors = issues.filter((i) => i.severity === 'error');
    super(errors[0]?.code ?? 'TERN_ERR_CONFIG_SCHEMA', `invalid pipeline configuration (${errors.length} error${errors.length === 1 ? '' : 's'}):\n${errors.map(formatIssue).join('\n')}`);
    this.issues = issues;
  }
}

/** Position of the value (or, with `key`, the key) at `path` inside the document. */
export function locate(l: { readonly doc: Document.Parsed; readonly lc: LineCounter }, path: ReadonlyArray<string | number>, key?: string): { line: number; col: number } {
  let node: unknown = l.doc.contents;
  let best: unknown = node;
  const steps: Array<string | number> = [...path];
  if (key !== undefined) steps.push(key);
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) break;
      const isLast = i === steps.length - 1;
      best = isLast && key !== undefined ? pair.key : (pair.value ?? pair.key);
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(step)];
      if (!item) break;
      best = item;
      node = item;
    } else break;
  }
  const range = isNode(best) ? (best as YamlNode).range : undefined;
  const pos = l.lc.linePos(range ? range[0] : 0);
  return { line: pos.line, col: pos.col };
}

export function pointerToPath(ptr: string): string[] {
  if (!ptr) return [];
  return ptr.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function ajvMessage(e: ErrorObject, knownProps: string[]): { message: string; key?: string } {
  const at = e.instancePath ? pointerToPath(e.instancePath).join('.') : '';
  const prefix = at ? `${at}: ` : '';
  switch (e.keyword) {
    case 'additionalProperty':
    case 'additionalProperties': {
      const prop = String((e.params as { additionalProperty: string }).additionalProperty);
      const s = suggest(prop, knownProps);
      return { message: `${prefix}unknown option "${prop}"${s ? ` (did you mean "${s}"?)` : ''}`, key: prop };
    }
    case 'required':
      return { message: `${prefix}missing required option "${String((e.params as { missingProperty: string }).missingProperty)}"` };
    case 'enum':
      return { message: `${prefix}must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { message: `${prefix}must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}` };
    case 'type':
      return { message: `${prefix}must be ${String((e.params as { type: string }).type)}` };
    default:
      return { message: `${prefix}${e.message ?? 'is invalid'}` };
  }
}

/** Property names known at the schema location of an error, for "did you mean". */
export function knownPropsAt(schema: Record<string, unknown>, path: string[]): string[] {
  let s: Record<string, unknown> | undefined = schema;
  for (const p of path) {
    if (!s) return [];
    const props = s.properties as Record<string, Record<string, unknown>> | undefined;
    if (props && props[p]) s = props[p];
    else if (s.items && typeof s.items === 'object' && /^\d+$/.test(p)) s = s.items as Record<string, unknown>;
    else if (s.additionalProperties && typeof s.additionalProperties === 'object') s = s.additionalProperties as Record<string, unknown>;
    else return [];
  }
  return Object.keys((s?.properties as Record<string, unknown> | undefined) ?? {});
}

/** ajv reports `if/then` and `oneOf` noise next to the real error; keep the informative ones. */
export function dedupeAjv(errors: ErrorObject[]): ErrorObject[] {
  const out: ErrorObject[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'if' || e.keyword === 'oneOf' || e.keyword === 'anyOf') continue;
    const k = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(e);
  }
  return out.length ? out : errors;
}
