/**
 * Field paths as users write them in options (`key_field`, `fields`, remap targets, templates):
 * dotted segments, with brackets for keys that contain dots or are list indexes —
 * `process_exec.process.pod.pod_labels["app.kubernetes.io/name"]`, `output_fields."k8s.ns.name"`
 * is written `output_fields["k8s.ns.name"]`, `args[0].file_arg.path`.
 *
 * Paths are parsed once at build time into segment arrays; the per-event helpers only walk them.
 */
import type { EventData, LogEvent } from '@tern/core';

export type Path = readonly string[];

/** Parses a path; throws with the offending column on bad syntax. */
export function parsePath(path: string): Path {
  const out: string[] = [];
  let i = 0;
  let cur = '';
  let afterBracket = false;
  const fail = (why: string): never => {
    throw new Error(`invalid field path "${path}" at column ${i + 1}: ${why}`);
  };
  if (path === '') fail('empty path');
  while (i < path.length) {
    const c = path[i] as string;
    if (c === '.') {
      if (cur === '' && !afterBracket) fail('empty segment');
      if (!afterBracket) out.push(cur);
      cur = '';
      afterBracket = false;
      i++;
      if (i === path.length) fail('path ends with "."');
    } else if (c === '[') {
      if (cur !== '') out.push(cur);
      else if (out.length === 0 && i !== 0) fail('empty segment');
      cur = '';
      i++;
      const q = path[i];
      let key = '';
      if (q === '"' || q === "'") {
        i++;
        while (i < path.length && path[i] !== q) {
          if (path[i] === '\\' && i + 1 < path.length) i++;
          key += path[i];
          i++;
        }
        if (path[i] !== q) fail('unterminated quote');
        i++;
      } else {
        while (i < path.length && path[i] !== ']') key += path[i++];
        key = key.trim();
        if (!/^\d+$/.test(key)) fail('unquoted bracket key must be a list index');
      }
      if (path[i] !== ']') fail('expected "]"');
      i++;
      out.push(key);
      afterBracket = true;
      if (i < path.length && path[i] !== '.' && path[i] !== '[') fail('expected "." or "[" after "]"');
    } else {
      if (afterBracket) fail('expected "." after "]"');
      cur += c;
      i++;
    }
  }
  if (!afterBracket) {
    if (cur === '') fail('empty segment');
    out.push(cur);
  }
  return out;
}

/** Validation helper: undefined when the path parses, else the message. */
export function pathError(path: unknown): string | undefined {
  if (typeof path !== 'string') return 'must be a field path string';
  try {
    parsePath(path);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Reads a parsed path; undefined when any step is missing. */
export function getIn(data: unknown, path: Path): unknown {
  let cur = data;
  for (let i = 0; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[path[i] as string];
  }
  return cur;
}

/**
 * Origin fields: what tern knows about where an event came from, readable where a field path is
 * (remap `from`, templates): `@path` (file path), `@host` (node name), `@source` (source id),
 * `@offset` (byte offset of the line) and `@fields.<name>` (a `path_fields` capture, e.g.
 * `@fields.k8s.pod.name`). `@timestamp` and every other name stay ordinary event fields.
 */
export const ORIGIN_FIELDS: ReadonlySet<string> = new Set(['@path', '@host', '@source', '@offset', '@fields']);

/** Whether a parsed path reads an origin field. */
export function isOriginPath(path: Path): boolean {
  return path.length > 0 && ORIGIN_FIELDS.has(path[0] as string);
}

/** Reads an origin field of an event (see ORIGIN_FIELDS); undefined when the origin has no such value. */
export function getOrigin(ev: Pick<LogEvent, 'origin' | 'offset'>, path: Path): unknown {
  switch (path[0]) {
    case '@path':
      return path.length === 1 ? ev.origin.path : undefined;
    case '@host':
      return path.length === 1 ? ev.origin.host : undefined;
    case '@source':
      return path.length === 1 ? ev.origin.sourceId : undefined;
    case '@offset':
      return path.length === 1 && ev.offset >= 0 ? ev.offset : undefined;
    case '@fields':
      return path.length === 1 ? ev.origin.fields : ev.origin.fields?.[path.slice(1).join('.')];
    default:
      return undefined;
  }
}

/** Writes a parsed path, creating objects on the way (an existing non-object on the way is replaced). */
export function setIn(data: EventData, path: Path, value: unknown): void {
  let cur: Record<string, unknown> = data;
  const last = path.length - 1;
  for (let i = 0; i < last; i++) {
    const k = path[i] as string;
    const next = cur[k];
    if (next === null || typeof next !== 'object') {
      const o: Record<string, unknown> = {};
      cur[k] = o;
      cur = o;
    } else cur = next as Record<string, unknown>;
  }
  cur[path[last] as string] = value;
}

/** Deletes a parsed path (list elements are spliced out); true when something was removed. */
export function deleteIn(data: EventData, path: Path): boolean {
  const parent = getIn(data, path.slice(0, -1));
  const k = path[path.length - 1] as string;
  if (parent === null || typeof parent !== 'object') return false;
  if (Array.isArray(parent)) {
    const idx = Number(k);
    if (!Number.isInteger(idx) || idx < 0 || idx >= parent.length) return false;
    parent.splice(idx, 1);
    return true;
  }
  if (!Object.hasOwn(parent, k)) return false;
  delete (parent as Record<string, unknown>)[k];
  return true;
}

/** A stable string for a field value, used as a key by sample/throttle/dedupe. */
export function keyString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '\u0000undefined';
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}
