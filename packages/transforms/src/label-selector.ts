/**
 * Kubernetes label selectors (`app=foo`, `tier in (web, api)`, `!canary`, `env!=prod`, `k`,
 * `replicas>2`), as `tetragon_filter`'s `labels` field takes them. The grammar and matching rules
 * follow k8s.io/apimachinery `labels.Parse`: requirements separated by commas are ANDed; an empty
 * selector selects everything; `!=` and `notin` also match when the label is absent; keys and values
 * are checked against the label syntax so a typo fails validation instead of silently matching
 * nothing.
 */

export type LabelMatcher = (labels: Readonly<Record<string, unknown>> | undefined) => boolean;

type Op = 'exists' | '!exists' | '=' | '!=' | 'in' | 'notin' | '>' | '<';
interface Requirement {
  key: string;
  op: Op;
  values: Set<string>;
  num?: number;
}

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string): void {
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) throw new Error(`invalid label key "${key}": prefix must be a DNS subdomain`);
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name))
    throw new Error(`invalid label key "${key}": name must be 63 characters or less, alphanumeric, '-', '_' or '.', starting and ending alphanumeric`);
}

function checkValue(v: string): void {
  if (v.length > 63 || !VALUE.test(v)) throw new Error(`invalid label value "${v}": 63 characters or less, alphanumeric, '-', '_' or '.', starting and ending alphanumeric`);
}

type Tok = { t: 'id' | 'op' | '(' | ')' | ',' | 'end'; v: string; at: number };

function lex(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      out.push({ t: c, v: c, at: i });
      i++;
      continue;
    }
    if (c === '=' || c === '!' || c === '<' || c === '>') {
      const two = s.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        out.push({ t: 'op', v: two, at: i });
        i += 2;
      } else {
        out.push({ t: 'op', v: c, at: i });
        i++;
      }
      continue;
    }
    const start = i;
    while (i < s.length && !' \t\n\r(),=!<>'.includes(s[i] as string)) i++;
    out.push({ t: 'id', v: s.slice(start, i), at: start });
  }
  out.push({ t: 'end', v: '', at: s.length });
  return out;
}

/** Parses a selector; throws with a message naming the problem. */
export function parseLabelSelector(selector: string): LabelMatcher {
  const toks = lex(selector);
  let p = 0;
  const peek = () => toks[p] as Tok;
  const next = () => toks[p++] as Tok;
  const fail = (why: string, tok: Tok = peek()): never => {
    throw new Error(`label selector "${selector}" at column ${tok.at + 1}: ${why}`);
  };
  const reqs: Requirement[] = [];
  if (peek().t === 'end') return () => true;
  for (;;) {
    let tok = next();
    if (tok.t === 'op' && tok.v === '!') {
      const k = next();
      if (k.t !== 'id') fail('expected a label key after "!"', k);
      checkKey(k.v);
      reqs.push({ key: k.v, op: '!exists', values: new Set() });
    } else {
      if (tok.t !== 'id') fail('expected a label key', tok);
      const key = tok.v;
      checkKey(key);
      const o = peek();
      if (o.t === ',' || o.t === 'end') reqs.push({ key, op: 'exists', values: new Set() });
      else if (o.t === 'op' && (o.v === '=' || o.v === '==' || o.v === '!=')) {
        next();
        const v = peek();
        let value = '';
        if (v.t === 'id') {
          value = v.v;
          next();
        } else if (v.t !== ',' && v.t !== 'end') fail('expected a value', v);
        checkValue(value);
        reqs.push({ key, op: o.v === '!=' ? '!=' : '=', values: new Set([value]) });
      } else if (o.t === 'op' && (o.v === '>' || o.v === '<')) {
        next();
        const v = next();
        if (v.t !== 'id' || !/^-?\d+$/.test(v.v)) fail(`"${o.v}" needs an integer value`, v);
        reqs.push({ key, op: o.v, values: new Set(), num: Number(v.v) });
      } else if (o.t === 'id' && (o.v === 'in' || o.v === 'notin')) {
        next();
        if (next().t !== '(') fail(`expected "(" after "${o.v}"`);
        const values = new Set<string>();
        for (;;) {
          const v = next();
          if (v.t === ')') break;
          if (v.t === 'id') {
            checkValue(v.v);
            values.add(v.v);
            const sep = next();
            if (sep.t === ')') break;
            if (sep.t !== ',') fail('expected "," or ")"', sep);
          } else if (v.t === ',') {
            values.add('');
          } else fail('expected a value or ")"', v);
        }
        if (values.size === 0) fail(`"${o.v}" needs at least one value`, o);
        reqs.push({ key, op: o.v, values });
      } else fail('expected an operator (=, ==, !=, in, notin, >, <) or ","', o);
    }
    tok = next();
    if (tok.t === 'end') break;
    if (tok.t !== ',') fail('expected ","', tok);
  }
  return (labels) => {
    for (const r of reqs) {
      const raw = labels?.[r.key];
      const has = typeof raw === 'string';
      const v = has ? (raw as string) : '';
      switch (r.op) {
        case 'exists':
          if (!has) return false;
          break;
        case '!exists':
          if (has) return false;
          break;
        case '=':
        case 'in':
          if (!has || !r.values.has(v)) return false;
          break;
        case '!=':
        case 'notin':
          if (has && r.values.has(v)) return false;
          break;
        case '>':
        case '<': {
          if (!has || !/^-?\d+$/.test(v)) return false;
          const n = Number(v);
          if (r.op === '>' ? !(n > (r.num as number)) : !(n < (r.num as number))) return false;
          break;
        }
      }
    }
    return true;
  };
}
