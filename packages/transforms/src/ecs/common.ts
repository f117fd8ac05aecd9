/**
 * Small helpers shared by the ECS profiles. The profiles build their output objects directly with
 * literals; these helpers only cover the checks every profile repeats (is this a non-empty string,
 * an object, a number) and the few transformations Elastic's pipelines apply the same way everywhere
 * (whitespace splitting, empty-value cleanup). Nothing here allocates per call beyond its result,
 * and the only regular expressions are module constants.
 */
import { isIP } from 'node:net';

export type Doc = Record<string, unknown>;

/** What a profile gets besides the event: options and facts from the event's origin. */
export interface EcsMapContext {
  /** Zeek log kind (`conn`, `dns`, `http`), from the option or the origin file name. */
  readonly zeekLog?: ZeekLog | undefined;
  /** When the forwarder read the event (RFC 3339); Zeek's `event.created` when the input has no `@timestamp`. */
  readonly ingestTime?: string | undefined;
  /** Replace `.` in label and annotation keys with `_` (default true). */
  readonly dedotLabels?: boolean | undefined;
  /** Shape of free-form vendor maps (default `flat`). */
  readonly vendorFields?: VendorFields | undefined;
}

export type ZeekLog = 'conn' | 'dns' | 'http';

/** `ecs.version` stamped on every mapped document (Tetragon's pipeline stamps the same). */
export const ECS_VERSION = '8.11.0';

/** Kubernetes verbs → ECS event.type (README proposal; used by k8s_audit and Falco k8s_audit alerts). */
export const VERB_TYPE: Readonly<Record<string, string>> = {
  create: 'creation',
  update: 'change',
  patch: 'change',
  delete: 'deletion',
  deletecollection: 'deletion',
  get: 'access',
  list: 'access',
  watch: 'access',
};

/** Kubernetes resources whose changes are identity and access management (RBAC, identities, secrets). */
export const IAM_RESOURCES: ReadonlySet<string> = new Set([
  'roles',
  'clusterroles',
  'rolebindings',
  'clusterrolebindings',
  'serviceaccounts',
  'secrets',
  'certificatesigningrequests',
  'tokenreviews',
]);

/** Thrown by a profile when the input does not have the shape it maps; the transform tags the event (the message is prefixed with `ecs <profile>: ` there). */
export class EcsShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EcsShapeError';
  }
}

export function isObj(v: unknown): v is Doc {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The value if it is a non-empty string. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The value if it is a finite number, or a string holding one (protobuf JSON writes int64 as strings). */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** A value as a string ECS keyword (`uid: 0` → `"0"`), or undefined for null/undefined/"". */
export function keyword(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * Splits on runs of whitespace without empty tokens, like the pipelines' `split` on `\s+` followed by
 * their empty-value cleanup. Whitespace is Java's `\s` (ASCII space, \t \n \v \f \r), not JavaScript's
 * Unicode set, so a no-break space stays inside a token as it does in Elastic. A char scan, no regex.
 */
export function splitWs(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13)) {
      if (start !== -1) {
        out.push(s.slice(start, i));
        start = -1;
      }
    } else if (start === -1) start = i;
  }
  if (start !== -1) out.push(s.slice(start));
  return out;
}

/** Last path component (`/usr/bin/curl` → `curl`). */
export function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? p : p.slice(i + 1);
}

export function validIp(v: unknown): string | undefined {
  return typeof v === 'string' && isIP(v) !== 0 ? v : undefined;
}

/** Sets `o[k] = v` when v is not undefined (keeps literal object construction readable). */
export function put(o: Doc, k: string, v: unknown): void {
  if (v !== undefined) o[k] = v;
}

/** Sets `o[k] = v` when v is an object with at least one key. */
export function putObj(o: Doc, k: string, v: Doc): void {
  for (const _ in v) {
    o[k] = v;
    return;
  }
}

export function isEmptyObj(v: Doc): boolean {
  for (const _ in v) return false;
  return true;
}

/**
 * Elastic's recursive cleanup (Tetragon and Kubernetes pipelines): drops `null`, `""`, empty objects
 * and empty arrays. Copy-on-write: returns the same object when nothing was dropped, so clean input
 * costs one walk and no allocation. Returns undefined when the value itself is empty.
 */
export function pruneEmpty(v: unknown): unknown {
  if (v === null || v === '') return undefined;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      const p = pruneEmpty(item);
      if (p !== item && out === undefined) out = v.slice(0, i);
      if (out !== undefined && p !== undefined) out.push(p);
    }
    const r = out ?? v;
    return r.length === 0 ? undefined : r;
  }
  if (typeof v === 'object') {
    const o = v as Doc;
    let out: Doc | undefined;
    let n = 0;
    for (const k in o) {
      const item = o[k];
      const p = pruneEmpty(item);
      if (p !== item && out === undefined) {
        out = {};
        for (const k2 in o) {
          if (k2 === k) break;
          out[k2] = o[k2];
        }
      }
      if (p !== undefined) {
        n++;
        if (out !== undefined) out[k] = p;
      }
    }
    return n === 0 ? undefined : (out ?? o);
  }
  return v;
}

/** Copies an object without the listed keys (a shallow "leftovers" view). */
export function without(o: Doc, skip: ReadonlySet<string>): Doc {
  const out: Doc = {};
  for (const k in o) if (!skip.has(k)) out[k] = o[k];
  return out;
}

/** Appends to an array-valued field, creating it; `unique` skips values already there. */
export function appendTo(o: Doc, k: string, v: unknown, unique = true): void {
  const cur = o[k];
  if (Array.isArray(cur)) {
    if (!unique || !cur.includes(v)) cur.push(v);
  } else o[k] = [v];
}

/** How free-form vendor maps are shaped (ECS.md, "Documents that index"). */
export type VendorFields = 'flat' | 'nested';

/**
 * Label and annotation keys with `.` replaced by `_`, as Filebeat's `labels.dedot` does: Elasticsearch
 * reads a dot in a key as an object boundary, so `app` and `app.kubernetes.io/name` in one map would
 * make `app` both a value and an object. Copy-on-write: a map without dotted keys is returned as is.
 * Two keys that collide after the replacement (`a.b` and `a_b`) both survive: the later one gets
 * another `_` appended until it is free.
 */
export function dedotKeys(o: Doc): Doc {
  // Object.keys and an indexed loop: a `for…in` shared by label maps of many shapes goes
  // megamorphic (it cost 0.5 µs per Tetragon event even with no dotted key).
  const keys = Object.keys(o);
  let dotted = false;
  for (let i = 0; i < keys.length; i++) {
    if ((keys[i] as string).indexOf('.') !== -1) {
      dotted = true;
      break;
    }
  }
  if (!dotted) return o;
  const out: Doc = {};
  for (const k in o) {
    let key = k.includes('.') ? k.replaceAll('.', '_') : k;
    while (Object.hasOwn(out, key)) key += '_';
    out[key] = o[k];
  }
  return out;
}

/**
 * A leaf of a free-form vendor map as a keyword string: strings stay, numbers and booleans become
 * their text, objects become JSON text, lists keep their shape with each item converted, null stays
 * null (Elasticsearch skips it). Every leaf is then a keyword under any dynamic mapping, so a field
 * that is a number in one event and a word in the next can neither be refused nor dropped as malformed.
 */
export function keywordLeaf(v: unknown): unknown {
  if (v === null || typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      out[i] = x !== null && typeof x === 'object' ? JSON.stringify(x) : keywordLeaf(x);
    }
    return out;
  }
  if (v === undefined) return undefined;
  return JSON.stringify(v);
}

/** Carries the event's own `tags` (as a list) and tern's `tern` object over to the mapped document. */
export function carryTagsAndTern(input: Doc, out: Doc): Doc {
  if (input.tags !== undefined) out.tags = Array.isArray(input.tags) ? input.tags.slice() : [input.tags];
  if (input.tern !== undefined) out.tern = input.tern;
  return out;
}
