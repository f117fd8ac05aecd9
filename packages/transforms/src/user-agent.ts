/**
 * The `user_agent` transform: parses an HTTP user agent into ECS `user_agent.*` (name, version,
 * os.name/version/full, device.name) the way Elasticsearch's `user_agent` ingest processor does.
 * Both use the ua-parser project's `regexes.yaml` (the `uap-core` package, Apache-2.0), so names
 * match Elastic's ("Chrome", "Mac OS X 10.9.2", device "Mac").
 *
 * The regexes are applied by a small matcher written to uap-core's own specification
 * (`docs/specification.md` in the package): the project's JavaScript reference implementation
 * (`uap-ref-impl`) depends on a YAML parser published without a licence, so it is not used. The
 * rule list is loaded once per process on first use (about 1,200 regexes compiled; tens of ms) and
 * results are kept in an LRU cache, as Elastic's processor keeps them: user agents repeat heavily,
 * and a miss costs a scan of the lists. The `ecs` transform's Zeek http profile calls
 * `parseUserAgent` too, where Elastic's Zeek pipeline runs the processor.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getPath, LruMap, parsePath, pathError, setPath, optionsSchema, type TransformDefinition } from '@tern/core';
import { parse as parseYaml } from 'yaml';
import { pathSchema } from './shared.ts';

/** ECS `user_agent.*` for one user agent string. */
export interface UserAgentFields {
  original: string;
  name: string;
  version?: string;
  os?: { name: string; version?: string; full?: string };
  device: { name: string };
}

interface Rule {
  readonly re: RegExp;
  readonly family?: string | undefined;
  readonly v1?: string | undefined;
  readonly v2?: string | undefined;
  readonly v3?: string | undefined;
  readonly v4?: string | undefined;
}

interface Rules {
  readonly ua: readonly Rule[];
  readonly os: readonly Rule[];
  readonly device: readonly Rule[];
}

let rules: Rules | undefined;

/** Loads and compiles uap-core's regexes once per process (worker threads load their own). */
function loadRules(): Rules {
  if (rules !== undefined) return rules;
  const file = createRequire(import.meta.url).resolve('uap-core/regexes.yaml');
  const doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, Array<Record<string, string | undefined>>>;
  const compile = (list: Array<Record<string, string | undefined>> | undefined, keys: readonly string[]): Rule[] =>
    (list ?? []).map((r) => ({
      re: new RegExp(r.regex ?? '', r.regex_flag === 'i' ? 'i' : ''),
      family: r[keys[0] as string],
      v1: r[keys[1] as string],
      v2: r[keys[2] as string],
      v3: r[keys[3] as string],
      v4: r[keys[4] as string],
    }));
  rules = {
    ua: compile(doc.user_agent_parsers, ['family_replacement', 'v1_replacement', 'v2_replacement', 'v3_replacement', 'v4_replacement']),
    os: compile(doc.os_parsers, ['os_replacement', 'os_v1_replacement', 'os_v2_replacement', 'os_v3_replacement', 'os_v4_replacement']),
    device: compile(doc.device_parsers, ['device_replacement', 'brand_replacement', 'model_replacement']),
  };
  return rules;
}

/** `$1`…`$9` in a replacement, trimmed (the specification's rule for os and device replacements). */
function replace(tpl: string, m: RegExpMatchArray): string {
  return tpl.replace(/\$(\d)/g, (_, i: string) => m[Number(i)] ?? '').trim();
}

function first(list: readonly Rule[], s: string): [Rule, RegExpMatchArray] | undefined {
  for (const r of list) {
    const m = s.match(r.re);
    if (m !== null) return [r, m];
  }
  return undefined;
}

/** Dotted version from up to four parts, stopping at the first missing one (Elastic's format). */
function version(parts: ReadonlyArray<string | undefined>): string | undefined {
  let out: string | undefined;
  for (const p of parts) {
    if (p === undefined || p === '') break;
    out = out === undefined ? p : `${out}.${p}`;
  }
  return out;
}

/** Parses one user agent (uncached). */
export function parseUserAgentUncached(ua: string): UserAgentFields {
  const r = loadRules();
  const out: UserAgentFields = { original: ua, name: 'Other', device: { name: 'Other' } };
  const u = first(r.ua, ua);
  if (u !== undefined) {
    const [rule, m] = u;
    // User-agent rules: `$1` in the family, versions taken literally (uap-core's specification).
    out.name = (rule.family !== undefined ? rule.family.replace('$1', m[1] ?? '') : m[1]) || 'Other';
    const v = version([rule.v1 ?? m[2], rule.v2 ?? m[3], rule.v3 ?? m[4], rule.v4 ?? m[5]]);
    if (v !== undefined) out.version = v;
  }
  const o = first(r.os, ua);
  if (o !== undefined) {
    const [rule, m] = o;
    const pick = (rep: string | undefined, i: number): string | undefined => (rep !== undefined ? replace(rep, m) : m[i]) || undefined;
    const name = pick(rule.family, 1) ?? 'Other';
    const v = version([pick(rule.v1, 2), pick(rule.v2, 3), pick(rule.v3, 4), pick(rule.v4, 5)]);
    out.os = v !== undefined ? { name, version: v, full: `${name} ${v}` } : { name };
  }
  const d = first(r.device, ua);
  if (d !== undefined) {
    const [rule, m] = d;
    const name = (rule.family !== undefined ? replace(rule.family, m) : m[1]?.trim()) || 'Other';
    out.device = { name };
  }
  return out;
}

/** A parser with its own LRU cache of `size` user agents. */
export function createUserAgentParser(size = 1000): (ua: string) => UserAgentFields {
  const cache = new LruMap<string, UserAgentFields>(size);
  return (ua) => {
    let r = cache.get(ua);
    if (r === undefined) {
      r = parseUserAgentUncached(ua);
      cache.set(ua, r);
    }
    return r;
  };
}

/** A copy of parsed fields, safe to put into an event (cached results are shared). */
export function userAgentDoc(f: UserAgentFields): Record<string, unknown> {
  const out: Record<string, unknown> = { original: f.original, name: f.name };
  if (f.version !== undefined) out.version = f.version;
  if (f.os !== undefined) out.os = { ...f.os };
  out.device = { name: f.device.name };
  return out;
}

/** Options as the schema completes them. */
export interface UserAgentConfig {
  readonly field: string;
  readonly target: string;
  readonly cache_size: number;
}

export const userAgentTransform: TransformDefinition<UserAgentConfig> = {
  kind: 'transform',
  type: 'user_agent',
  description: "Parses a user agent string into ECS user_agent.* (name, version, os, device) with uap-core's regexes, as Elasticsearch's user_agent processor does.",
  mutates: true,
  schema: optionsSchema<UserAgentConfig>()({
    type: 'object',
    additionalProperties: false,
    properties: {
      field: { ...pathSchema('Field holding the user agent string; events without it pass unchanged.', ['user_agent.original', 'userAgent']), default: 'user_agent.original' },
      target: { ...pathSchema('Object to write name, version, os.{name,version,full}, device.name and original into (replaced whole, as Elastic does).', ['user_agent']), default: 'user_agent' },
      cache_size: { type: 'integer', minimum: 1, default: 1000, description: 'Parsed user agents kept in an LRU cache (a miss scans about 1,200 regexes).', examples: [10000] },
    },
  }),
  validate(cfg) {
    const errors: string[] = [];
    for (const k of ['field', 'target'] as const) {
      const e = cfg[k] === undefined ? undefined : pathError(cfg[k]);
      if (e !== undefined) errors.push(`${k}: ${e}`);
    }
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const field = parsePath(cfg.field);
    const target = parsePath(cfg.target);
    const parse = createUserAgentParser(cfg.cache_size);
    const parsed = ctx.telemetry.counter('events_parsed');
    return {
      process(events, emit) {
        for (const ev of events) {
          let ua: unknown;
          try {
            ua = getPath(ev.data, field);
          } catch {
            continue; // unreadable line: passed on as it is
          }
          if (typeof ua !== 'string' || ua === '') continue;
          setPath(ev.mutate(), target, userAgentDoc(parse(ua)));
          parsed.inc();
        }
        emit(events);
      },
    };
  },
};
