/**
 * Value helpers of `remap`'s operations, none of which reads an event: deep copies, emptiness
 * (`drop_empty`), key renaming that shares unchanged subtrees (`rename_keys`, `dedot`), value
 * equality for `append`'s duplicates, and the `key=value` parser (`parse_key_value`).
 */

export function clone<T>(v: T): T {
  return v !== null && typeof v === 'object' ? structuredClone(v) : v;
}

export function isEmpty(v: unknown): boolean {
  if (v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') {
    for (const _ in v as object) return false;
    return true;
  }
  return false;
}

/** True when `v` holds something `compact` would remove (checked first so untouched events stay unmodified). */
export function hasEmpty(v: unknown): boolean {
  if (Array.isArray(v)) {
    for (const x of v) if (x !== null && typeof x === 'object' && hasEmpty(x)) return true;
    return false;
  }
  if (v === null || typeof v !== 'object') return false;
  for (const k in v as Record<string, unknown>) {
    const x = (v as Record<string, unknown>)[k];
    if (isEmpty(x) || (x !== null && typeof x === 'object' && hasEmpty(x))) return true;
  }
  return false;
}

/** Removes empty values in place, depth first, so parents emptied by the cleaning go too. */
export function compact(v: unknown): void {
  if (Array.isArray(v)) {
    for (const x of v) if (x !== null && typeof x === 'object') compact(x);
    return;
  }
  if (v === null || typeof v !== 'object') return;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (x !== null && typeof x === 'object') compact(x);
    if (isEmpty(o[k])) delete o[k];
  }
}

export const sameValue = (a: unknown, b: unknown): boolean => a === b || (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));

/** Keys of `o` (and below, when `deep`) renamed by `f`; the same object when no key changes. */
export function renameKeys(o: Record<string, unknown>, f: (k: string) => string, deep: boolean): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    let v = o[k];
    if (deep) v = renameDeep(v, f);
    const nk = f(k);
    if (out === undefined && (nk !== k || v !== o[k])) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = o[keys[j] as string];
    }
    if (out !== undefined) {
      if (nk !== k) delete out[k];
      out[nk] = v;
    }
  }
  return out ?? o;
}

function renameDeep(v: unknown, f: (k: string) => string): unknown {
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    v.forEach((x, i) => {
      const r = renameDeep(x, f);
      if (r !== x) (out ??= v.slice())[i] = r;
    });
    return out ?? v;
  }
  if (v !== null && typeof v === 'object') return renameKeys(v as Record<string, unknown>, f, true);
  return v;
}

/**
 * `key=value` pairs from a string: pairs split on `fieldSplit` (a single space: any whitespace),
 * outside quotes; values may be quoted with `"` or `'` (backslash escapes inside). Undefined when
 * no pair is found.
 */
// Java's / RE2's \s: space, \t \n \v \f \r (a char-code test; a regex per character cost 4x).
const isWs = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

export function parseKeyValue(s: string, fieldSplit = ' ', valueSplit = '='): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let n = 0;
  const ws = fieldSplit === ' ';
  let i = 0;
  while (i < s.length) {
    // skip separators
    if (ws) while (i < s.length && isWs(s.charCodeAt(i))) i++;
    else while (s.startsWith(fieldSplit, i)) i += fieldSplit.length;
    if (i >= s.length) break;
    const kv = s.indexOf(valueSplit, i);
    const end = (from: number): number => {
      if (ws) {
        let j = from;
        while (j < s.length && !isWs(s.charCodeAt(j))) j++;
        return j;
      }
      const j = s.indexOf(fieldSplit, from);
      return j === -1 ? s.length : j;
    };
    const tokenEnd = end(i);
    if (kv === -1 || kv > tokenEnd) {
      i = tokenEnd; // a word without a value: skipped
      continue;
    }
    const key = s.slice(i, kv).trim();
    let j = kv + valueSplit.length;
    let value: string;
    const q = s[j];
    if (q === '"' || q === "'") {
      j++;
      let close = j;
      while (close < s.length && s[close] !== q) close += s[close] === '\\' ? 2 : 1;
      const raw = s.slice(j, Math.min(close, s.length));
      value = raw.includes('\\') ? raw.replace(/\\(.)/g, '$1') : raw;
      j = close + 1;
    } else {
      const e = end(j);
      value = s.slice(j, e);
      j = e;
    }
    if (key !== '') {
      out[key] = value;
      n++;
    }
    i = j;
  }
  return n > 0 ? out : undefined;
}

