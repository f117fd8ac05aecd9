/**
 * Field paths, the one way every option names a place in an event (`key_field`, remap targets,
 * `{{field}}` templates, `timestamp_field`, index names): dotted segments, with brackets for keys
 * that contain dots and for list indexes — `process_exec.process.pod.pod_labels["app.kubernetes.io/name"]`,
 * `output_fields["k8s.ns.name"]`, `args[0].file_arg.path`.
 *
 * Paths are parsed once at build time into segment arrays; the per-event helpers only walk them.
 *
 * One array rule for reading, writing and deleting: a list is entered only by a list-index segment
 * (`args[0]`, or `args.0`); any other name on a list reads as missing (never a list's `length`).
 * Writing creates objects on the way; a value on the way that cannot hold the next segment (a
 * scalar, or a list for a non-index name) is replaced by an object, as the write asks. Deleting a
 * list element splices it out.
 */

/** A parsed field path: the segments, resolved one after the other. */
export type FieldPath = readonly string[];

/** An object key that would reach the prototype instead of a field; refused in every path. */
const FORBIDDEN = '__proto__';

/** Parses a path; throws with the offending column on bad syntax. */
export function parsePath(path: string): FieldPath {
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
        if (!isIndex(key)) fail('unquoted bracket key must be a list index');
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
  if (out.includes(FORBIDDEN)) {
    i = path.indexOf(FORBIDDEN);
    fail(`"${FORBIDDEN}" is not a field name`);
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

/** True for a list index segment: decimal digits, no sign, no leading zero (except `0`). */
export function isIndex(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 15) return false;
  const c0 = s.charCodeAt(0);
  if (c0 < 48 || c0 > 57 || (c0 === 48 && n > 1)) return false;
  for (let i = 1; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** One step down: the value under `key` of an object, or of a list for an index; else undefined. */
function step(cur: unknown, key: string): unknown {
  if (cur === null || typeof cur !== 'object') return undefined;
  if (Array.isArray(cur) && !isIndex(key)) return undefined;
  const v = (cur as Record<string, unknown>)[key];
  // Event data is JSON: a function here is an inherited method (`constructor`), not a field.
  return typeof v === 'function' ? undefined : v;
}

/** Reads a parsed path (from segment `from` on); undefined when any step is missing. */
export function getPath(data: unknown, path: FieldPath, from = 0): unknown {
  let cur = data;
  for (let i = from; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = step(cur, path[i] as string);
  }
  return cur;
}

/**
 * Reads a parsed path like `getPath`, and where a segment does not resolve, also tries the rest of
 * the path joined as one key with dots (longest first): Falco and Kubernetes name keys with dots,
 * so `output_fields.k8s.pod.name` finds `output_fields["k8s.pod.name"]` written unquoted.
 */
export function getPathDotted(data: unknown, path: FieldPath, from = 0): unknown {
  let cur = data;
  for (let i = from; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const next = step(cur, path[i] as string);
    if (next !== undefined) {
      cur = next;
      continue;
    }
    if (Array.isArray(cur)) return undefined;
    const obj = cur as Record<string, unknown>;
    for (let j = path.length; j > i + 1; j--) {
      const key = path.slice(i, j).join('.');
      if (Object.hasOwn(obj, key)) return getPathDotted(obj[key], path, j);
    }
    return undefined;
  }
  return cur;
}

/** Writes a parsed path, creating objects on the way (see the array rule above). */
export function setPath(data: Record<string, unknown>, path: FieldPath, value: unknown): void {
  let cur: Record<string, unknown> = data;
  const last = path.length - 1;
  for (let i = 0; i < last; i++) {
    const k = path[i] as string;
    const next = cur[k];
    if (next === null || typeof next !== 'object' || (Array.isArray(next) && !isIndex(path[i + 1] as string))) {
      const o: Record<string, unknown> = {};
      cur[k] = o;
      cur = o;
    } else cur = next as Record<string, unknown>;
  }
  cur[path[last] as string] = value;
}

/** Deletes a parsed path (list elements are spliced out); true when something was removed. */
export function deletePath(data: Record<string, unknown>, path: FieldPath): boolean {
  const parent = getPath(data, path.slice(0, -1));
  const k = path[path.length - 1] as string;
  if (parent === null || typeof parent !== 'object') return false;
  if (Array.isArray(parent)) {
    if (!isIndex(k)) return false;
    const idx = Number(k);
    if (idx >= parent.length) return false;
    parent.splice(idx, 1);
    return true;
  }
  if (!Object.hasOwn(parent, k)) return false;
  delete (parent as Record<string, unknown>)[k];
  return true;
}
