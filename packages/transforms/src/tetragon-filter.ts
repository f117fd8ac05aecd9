/**
 * The `tetragon_filter` transform: Tetragon's own export allow/deny lists, so a user can paste the
 * `exportAllowList` / `exportDenyList` Helm values (or `--export-allowlist` flags) and get the same
 * selection in tern, for example on a node whose Tetragon exports everything.
 *
 * Semantics, as Tetragon implements them (pkg/filters): the filters of a list are ORed, the fields
 * within one filter ANDed, and a field with several values matches when any value does; an event
 * passes when the allow list is empty or one allow filter matches, and no deny filter matches
 * (deny wins). Field by field:
 * - `event_set`: the event type, i.e. the event's top-level key (`process_exec` → PROCESS_EXEC).
 * - `namespace`: exact pod namespace; `""` selects processes outside any pod (host processes).
 * - `namespace_regex`, `pod_regex`, `container_name_regex`: regexes on the pod namespace, pod name,
 *   container name (never match host processes).
 * - `binary_regex`, `parent_binary_regex`, `ancestor_binary_regex`: regexes on the binary of the
 *   process, its parent, any of its ancestors (the `ancestors` list must be in the export).
 * - `arguments_regex`, `parent_arguments_regex`: regexes on the arguments string.
 * - `health_check`: true matches processes (or children of processes) Tetragon flagged as a
 *   possible exec probe (`pod.container.maybe_exec_probe`); false matches the others.
 * - `pid`: process PID; `pid_set`: the PIDs and their descendants (children are learned from exec
 *   events and kept in a bounded cache of 65,536 PIDs; Tetragon's is unbounded, and meant for tests).
 * - `labels`: Kubernetes label selectors on the pod labels; any selector of the list may match.
 * - `policy_names`: the tracing policy of kprobe/tracepoint/uprobe/lsm/usdt events.
 * - `capabilities`: `{effective|permitted|inheritable: {any|all|exactly|none: [CAP_...]}}` on
 *   `process.cap` (needs process credentials in the export).
 * - `container_id`: regex on `process.docker`; `in_init_tree`: `process.in_init_tree`.
 * - `cel_expression`: CEL over the event's top-level fields as Tetragon writes it
 *   (`process_exec.process.binary == "/usr/bin/curl"`); Tetragon's k8s IP/CIDR extensions are not
 *   available.
 * Regexes are RE2 in Tetragon; they are translated once to JavaScript (`(?i)`-style leading flags,
 * `(?P<name>`, `\A`, `\z`, POSIX classes) and compiled at build time. Everything is checked in
 * `validate`, with messages naming the list, the filter and the field.
 *
 * Filters come as a list of objects, or as the string Tetragon takes: JSON objects one after the
 * other (normally one per line); both the proto names (`binary_regex`) and their JSON camelCase
 * (`binaryRegex`) are accepted, as protojson does. A line that was not valid JSON (core hands it on as
 * `{message, error, tags}`) has no Tetragon event type or process: it fails every allow filter
 * except an empty one and matches no deny filter other than `{}` or `cel_expression`, so a deny-only
 * list lets it through, tagged, rather than losing it silently. Counters: `events_dropped`.
 */
import { LruMap, type EventData, type LogEvent, type TransformDefinition } from '@tern/core';
import { compileCondition, conditionError, type CompiledCondition } from './cel.ts';
import { parseLabelSelector, type LabelMatcher } from './label-selector.ts';
import { readData } from './shared.ts';

/** One Tetragon export filter, with the proto field names. */
export interface TetragonFilterSpec {
  binary_regex?: string[];
  namespace?: string[];
  health_check?: boolean;
  pid?: number[];
  pid_set?: number[];
  event_set?: (string | number)[];
  pod_regex?: string[];
  arguments_regex?: string[];
  labels?: string[];
  policy_names?: string[];
  capabilities?: CapFilter;
  parent_binary_regex?: string[];
  cel_expression?: string[];
  parent_arguments_regex?: string[];
  container_id?: string[];
  in_init_tree?: boolean;
  ancestor_binary_regex?: string[];
  namespace_regex?: string[];
  container_name_regex?: string[];
}

export interface CapFilterSet {
  any?: (string | number)[];
  all?: (string | number)[];
  exactly?: (string | number)[];
  none?: (string | number)[];
}
export interface CapFilter {
  permitted?: CapFilterSet;
  effective?: CapFilterSet;
  inheritable?: CapFilterSet;
}

export interface TetragonFilterConfig {
  allow?: TetragonFilterSpec[] | string;
  deny?: TetragonFilterSpec[] | string;
}

// ---------------------------------------------------------------- event model

/** Event type names (as in `event_set`) by the JSON key that carries the event, and their enum numbers. */
export const EVENT_TYPES: Readonly<Record<string, { name: string; num: number }>> = {
  process_exec: { name: 'PROCESS_EXEC', num: 1 },
  process_exit: { name: 'PROCESS_EXIT', num: 5 },
  process_kprobe: { name: 'PROCESS_KPROBE', num: 9 },
  process_tracepoint: { name: 'PROCESS_TRACEPOINT', num: 10 },
  process_loader: { name: 'PROCESS_LOADER', num: 11 },
  process_uprobe: { name: 'PROCESS_UPROBE', num: 12 },
  process_throttle: { name: 'PROCESS_THROTTLE', num: 27 },
  process_lsm: { name: 'PROCESS_LSM', num: 28 },
  process_usdt: { name: 'PROCESS_USDT', num: 29 },
  test: { name: 'TEST', num: 40000 },
  rate_limit_info: { name: 'RATE_LIMIT_INFO', num: 40001 },
};
const TYPE_BY_NUM = new Map(Object.values(EVENT_TYPES).map((t) => [t.num, t.name]));
const TYPE_NAMES = new Set(Object.values(EVENT_TYPES).map((t) => t.name));
const POLICY_TYPES = new Set(['process_kprobe', 'process_tracepoint', 'process_uprobe', 'process_lsm', 'process_usdt']);

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** What the filters look at, resolved once per event and shared by every filter. */
interface View {
  readonly data: EventData;
  readonly key: string | undefined;
  readonly type: string | undefined;
  readonly body: Obj | undefined;
  readonly process: Obj | undefined;
  readonly parent: Obj | undefined;
}

function viewOf(data: EventData): View {
  let key: string | undefined;
  for (const k in data) {
    if (Object.hasOwn(EVENT_TYPES, k)) {
      key = k;
      break;
    }
  }
  const body = key === undefined ? undefined : asObj(data[key]);
  return {
    data,
    key,
    type: key === undefined ? undefined : (EVENT_TYPES[key] as { name: string }).name,
    body,
    process: asObj(body?.process),
    parent: asObj(body?.parent),
  };
}

// ---------------------------------------------------------------- RE2 → JavaScript

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-/:-@[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** Translates the RE2 syntax JavaScript lacks and compiles; Go's `MatchString` is unanchored, as `test` is. */
export function compileRe2(pattern: string): RegExp {
  let src = pattern;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    const f = lead[1] as string;
    if (f.includes('U')) throw new Error('the (?U) flag is not supported');
    flags = [...new Set(f)].join('');
    src = src.slice(lead[0].length);
  }
  src = src
    .replace(/\\Q(.*?)(?:\\E|$)/g, (_m, lit: string) => lit.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
    .replace(/\(\?P</g, '(?<')
    .replace(/\[:(\^?)([a-z]+):\]/g, (m, neg: string, name: string) => {
      const cls = POSIX[name];
      if (cls === undefined) return m;
      if (neg) throw new Error(`negated POSIX class [:^${name}:] is not supported`);
      return cls;
    })
    .replace(/\\A/g, '^')
    .replace(/\\z/g, '(?![\\s\\S])');
  return new RegExp(src, flags);
}

// ---------------------------------------------------------------- capabilities

const CAPS = [
  'CAP_CHOWN', 'DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];
// Tetragon's enum spells capability 1 without the CAP_ prefix (DAC_OVERRIDE); accept both spellings.
const CAP_ALIASES = new Map<string, string>([['CAP_DAC_OVERRIDE', 'DAC_OVERRIDE']]);

function capName(v: string | number): string {
  if (typeof v === 'number') {
    const n = CAPS[v];
    if (n === undefined) throw new Error(`unknown capability number ${v}`);
    return n;
  }
  const name = CAP_ALIASES.get(v) ?? v;
  if (!CAPS.includes(name)) throw new Error(`unknown capability "${v}"`);
  return name;
}

type CapSetMatcher = (caps: unknown) => boolean;

function compileCapSet(set: CapFilterSet | undefined, where: string): CapSetMatcher | undefined {
  if (set === undefined) return undefined;
  const defined = (['any', 'all', 'exactly', 'none'] as const).filter((k) => set[k] !== undefined && (set[k] as unknown[]).length > 0);
  if (defined.length !== 1)
    throw new Error(`${where}: a capability filter must define exactly one of any, all, exactly, none${defined.length ? ` (got ${defined.join(', ')})` : ''}`);
  const mode = defined[0] as 'any' | 'all' | 'exactly' | 'none';
  const want = new Set((set[mode] as (string | number)[]).map(capName));
  return (caps) => {
    const have = new Set<string>();
    if (Array.isArray(caps)) for (const c of caps) if (typeof c === 'string') have.add(CAP_ALIASES.get(c) ?? c);
    switch (mode) {
      case 'any':
        for (const c of want) if (have.has(c)) return true;
        return false;
      case 'all':
        for (const c of want) if (!have.has(c)) return false;
        return true;
      case 'exactly':
        if (have.size !== want.size) return false;
        for (const c of want) if (!have.has(c)) return false;
        return true;
      case 'none':
        for (const c of want) if (have.has(c)) return false;
        return true;
    }
  };
}

// ---------------------------------------------------------------- parsing the filter lists

const FIELD_NAMES = [
  'binary_regex', 'namespace', 'health_check', 'pid', 'pid_set', 'event_set', 'pod_regex', 'arguments_regex', 'labels',
  'policy_names', 'capabilities', 'parent_binary_regex', 'cel_expression', 'parent_arguments_regex', 'container_id',
  'in_init_tree', 'ancestor_binary_regex', 'namespace_regex', 'container_name_regex',
] as const;
type FieldName = (typeof FIELD_NAMES)[number];
const camel = (s: string) => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
const FIELD_BY_ALIAS = new Map<string, FieldName>(FIELD_NAMES.flatMap((f) => [[f, f] as [string, FieldName], [camel(f), f] as [string, FieldName]]));

/** Splits Tetragon's filter-list string (JSON values back to back, usually one per line) into objects. */
export function parseFilterList(text: string): TetragonFilterSpec[] {
  const out: TetragonFilterSpec[] = [];
  let i = 0;
  let n = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (i >= text.length) break;
    n++;
    const start = i;
    if (text[i] !== '{') throw new Error(`filter ${n}: expected a JSON object at offset ${i}`);
    let depth = 0;
    let inStr = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (inStr) {
        if (c === '\\') i++;
        else if (c === '"') inStr = false;
      } else if (c === '"') inStr = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        i++;
        break;
      }
    }
    if (depth !== 0) throw new Error(`filter ${n}: unterminated JSON object`);
    let value: unknown;
    try {
      value = JSON.parse(text.slice(start, i));
    } catch (err) {
      throw new Error(`filter ${n}: ${(err as Error).message}`);
    }
    out.push(value as TetragonFilterSpec);
  }
  return out;
}

function normalize(raw: unknown, where: string): Partial<Record<FieldName, unknown>> {
  const o = asObj(raw);
  if (o === undefined) throw new Error(`${where}: a filter must be a JSON object`);
  const out: Partial<Record<FieldName, unknown>> = {};
  for (const [k, v] of Object.entries(o)) {
    const f = FIELD_BY_ALIAS.get(k);
    if (f === undefined) throw new Error(`${where}: unknown filter field "${k}" (known: ${FIELD_NAMES.join(', ')})`);
    out[f] = v;
  }
  return out;
}

function strings(v: unknown, where: string): string[] {
  // Tetragon's docs sometimes write a single value where the proto wants a list: accept both.
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new Error(`${where}: expected a list of strings`);
}

function numbers(v: unknown, where: string): number[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    const n = typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`${where}: expected a list of PIDs (unsigned integers)`);
    return n;
  });
}

function bool(v: unknown, where: string): boolean {
  const b = asObj(v)?.value ?? v; // {"value": true} is BoolValue's object form
  if (typeof b !== 'boolean') throw new Error(`${where}: expected true or false`);
  return b;
}

function regexes(v: unknown, where: string): RegExp[] {
  return strings(v, where).map((p, i) => {
    try {
      return compileRe2(p);
    } catch (err) {
      throw new Error(`${where}.${i}: invalid regular expression "${p}": ${(err as Error).message}`);
    }
  });
}

// ---------------------------------------------------------------- compiling one filter

type Pred = (v: View) => boolean;

const anyTest = (res: RegExp[], s: string) => {
  for (const r of res) if (r.test(s)) return true;
  return false;
};
const canBeHealthCheck = (p: Obj | undefined) => asObj(asObj(p?.pod)?.container)?.maybe_exec_probe === true;
const PID_SET_CACHE = 65_536;

function compileFilter(raw: unknown, where: string): Pred {
  const f = normalize(raw, where);
  const preds: Pred[] = [];
  for (const field of FIELD_NAMES) {
    const v = f[field];
    if (v === undefined || v === null) continue;
    const at = `${where}.${field}`;
    switch (field) {
      case 'event_set': {
        const list = Array.isArray(v) ? v : [v];
        const types = new Set<string>();
        for (const t of list) {
          const name = typeof t === 'number' ? TYPE_BY_NUM.get(t) : typeof t === 'string' && TYPE_NAMES.has(t) ? t : undefined;
          if (name === undefined) throw new Error(`${at}: unknown event type ${JSON.stringify(t)} (known: ${[...TYPE_NAMES].join(', ')})`);
          types.add(name);
        }
        preds.push((e) => e.type !== undefined && types.has(e.type));
        break;
      }
      case 'namespace': {
        const ns = strings(v, at);
        const host = ns.includes('');
        const set = new Set(ns);
        preds.push((e) => {
          if (e.process === undefined) return false;
          const pod = asObj(e.process.pod);
          return pod === undefined ? host : set.has(str(pod.namespace));
        });
        break;
      }
      case 'namespace_regex':
      case 'pod_regex':
      case 'container_name_regex': {
        const res = regexes(v, at);
        preds.push((e) => {
          const pod = asObj(e.process?.pod);
          if (pod === undefined) return false;
          if (field === 'container_name_regex') {
            const c = asObj(pod.container);
            return c !== undefined && anyTest(res, str(c.name));
          }
          return anyTest(res, str(field === 'pod_regex' ? pod.name : pod.namespace));
        });
        break;
      }
      case 'binary_regex':
      case 'parent_binary_regex': {
        const res = regexes(v, at);
        const parent = field === 'parent_binary_regex';
        preds.push((e) => {
          const p = parent ? e.parent : e.process;
          return p !== undefined && anyTest(res, str(p.binary));
        });
        break;
      }
      case 'ancestor_binary_regex': {
        const res = regexes(v, at);
        preds.push((e) => {
          const anc = e.body?.ancestors;
          if (!Array.isArray(anc) || anc.length === 0 || asObj(anc[0]) === undefined) return false;
          for (const a of anc) if (anyTest(res, str(asObj(a)?.binary))) return true;
          return false;
        });
        break;
      }
      case 'arguments_regex':
      case 'parent_arguments_regex': {
        const res = regexes(v, at);
        const parent = field === 'parent_arguments_regex';
        preds.push((e) => {
          const p = parent ? e.parent : e.process;
          return p !== undefined && anyTest(res, str(p.arguments));
        });
        break;
      }
      case 'container_id': {
        const res = regexes(v, at);
        preds.push((e) => e.process !== undefined && anyTest(res, str(e.process.docker)));
        break;
      }
      case 'health_check': {
        const want = bool(v, at);
        preds.push((e) => {
          const maybe = canBeHealthCheck(e.process) || canBeHealthCheck(e.parent);
          return want ? maybe : !maybe;
        });
        break;
      }
      case 'in_init_tree': {
        const want = bool(v, at);
        preds.push((e) => e.process !== undefined && (e.process.in_init_tree === true) === want);
        break;
      }
      case 'pid': {
        const pids = new Set(numbers(v, at));
        preds.push((e) => e.process !== undefined && pids.has(e.process.pid as number));
        break;
      }
      case 'pid_set': {
        const roots = new Set(numbers(v, at));
        // Descendants learned so far; per filter, as in Tetragon, but bounded.
        const children = new LruMap<number, true>(PID_SET_CACHE);
        const member = (pid: unknown) => typeof pid === 'number' && (roots.has(pid) || children.get(pid) !== undefined);
        preds.push((e) => {
          if (e.process === undefined) return false;
          if (member(e.process.pid)) return true;
          if (e.parent === undefined || !member(e.parent.pid)) return false;
          if (typeof e.process.pid === 'number') children.set(e.process.pid, true);
          return true;
        });
        break;
      }
      case 'labels': {
        const selectors: LabelMatcher[] = strings(v, at).map((s, i) => {
          try {
            return parseLabelSelector(s);
          } catch (err) {
            throw new Error(`${at}.${i}: ${(err as Error).message}`);
          }
        });
        preds.push((e) => {
          const pod = asObj(e.process?.pod);
          if (pod === undefined) return false;
          const labels = asObj(pod.pod_labels) as Record<string, string> | undefined;
          for (const s of selectors) if (s(labels)) return true;
          return false;
        });
        break;
      }
      case 'policy_names': {
        const names = new Set(strings(v, at));
        preds.push((e) => {
          if (e.key === undefined || !POLICY_TYPES.has(e.key)) return false;
          const name = str(e.body?.policy_name);
          return name !== '' && names.has(name);
        });
        break;
      }
      case 'capabilities': {
        const c = asObj(v) as CapFilter | undefined;
        if (c === undefined) throw new Error(`${at}: expected {effective|permitted|inheritable: {any|all|exactly|none: [...]}}`);
        for (const k of Object.keys(c)) if (!['permitted', 'effective', 'inheritable'].includes(k)) throw new Error(`${at}: unknown capability set "${k}"`);
        const sets: [string, CapSetMatcher][] = [];
        for (const k of ['permitted', 'effective', 'inheritable'] as const) {
          let m: CapSetMatcher | undefined;
          try {
            m = compileCapSet(c[k], `${at}.${k}`);
          } catch (err) {
            throw new Error((err as Error).message.startsWith(at) ? (err as Error).message : `${at}.${k}: ${(err as Error).message}`);
          }
          if (m !== undefined) sets.push([k, m]);
        }
        preds.push((e) => {
          const cap = asObj(e.process?.cap);
          if (cap === undefined) return false;
          for (const [k, m] of sets) if (!m(cap[k])) return false;
          return true;
        });
        break;
      }
      case 'cel_expression': {
        const conds: CompiledCondition[] = strings(v, at).map((s, i) => {
          const err = conditionError(s, 'tetragon');
          if (err !== undefined) throw new Error(`${at}.${i}: ${err}`);
          return compileCondition(s, 'tetragon');
        });
        // The CEL variables are the event's top-level fields (`process_exec`, ...), as in Tetragon.
        preds.push((e) => {
          for (const c of conds) if (c.test(e.data) === true) return true;
          return false;
        });
        break;
      }
    }
  }
  return (e) => {
    for (const p of preds) if (!p(e)) return false;
    return true;
  };
}

function compileList(list: TetragonFilterSpec[] | string | undefined, name: string): Pred[] {
  if (list === undefined) return [];
  if (typeof list === 'string') {
    let parsed: TetragonFilterSpec[];
    try {
      parsed = parseFilterList(list);
    } catch (err) {
      throw new Error(`${name}: ${(err as Error).message}`);
    }
    return parsed.map((f, i) => compileFilter(f, `${name}: filter ${i + 1}`));
  }
  if (!Array.isArray(list)) throw new Error(`${name}: expected a list of filters or Tetragon's JSON-lines string`);
  // Dotted indexes (`deny.0.labels.1`): the engine maps them to the YAML position.
  return list.map((f, i) => compileFilter(f, `${name}.${i}`));
}

/** Compiles both lists into one decision function over event data; throws with a located message. */
export function compileTetragonFilter(cfg: TetragonFilterConfig): (data: EventData) => boolean {
  const allow = compileList(cfg.allow, 'allow');
  const deny = compileList(cfg.deny, 'deny');
  return (data) => {
    const view = viewOf(data);
    if (allow.length > 0) {
      let ok = false;
      for (const p of allow)
        if (p(view)) {
          ok = true;
          break;
        }
      if (!ok) return false;
    }
    for (const p of deny) if (p(view)) return false;
    return true;
  };
}

// ---------------------------------------------------------------- definition

const regexList = (description: string, examples: string[][]) => ({
  type: 'array',
  items: { type: 'string' },
  description: `${description} RE2 syntax (translated to JavaScript), unanchored; any of the list may match.`,
  examples,
});

const FILTER_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  description: 'One Tetragon export filter: its fields are ANDed.',
  properties: {
    event_set: {
      type: 'array',
      items: { type: ['string', 'integer'] },
      description: `Event types: ${[...TYPE_NAMES].join(', ')}.`,
      examples: [['PROCESS_EXEC', 'PROCESS_EXIT']],
    },
    namespace: { type: 'array', items: { type: 'string' }, description: 'Pod namespaces; "" selects processes outside any pod.', examples: [['default'], ['', 'kube-system']] },
    namespace_regex: regexList('Regexes on the pod namespace.', [['^team-']]),
    pod_regex: regexList('Regexes on the pod name.', [['^checkout-api-']]),
    container_name_regex: regexList('Regexes on the container name.', [['^istio-proxy$']]),
    binary_regex: regexList("Regexes on the process's binary.", [['^/usr/bin/curl$', '(?:^|/)nc$']]),
    parent_binary_regex: regexList("Regexes on the parent process's binary.", [['^/usr/bin/containerd-shim']]),
    ancestor_binary_regex: regexList("Regexes on any ancestor's binary (needs ancestors in the export).", [['^/usr/bin/sshd$']]),
    arguments_regex: regexList("Regexes on the process's arguments.", [['^--version$']]),
    parent_arguments_regex: regexList("Regexes on the parent's arguments.", [['-c']]),
    container_id: regexList('Regexes on the container id (`process.docker`).', [['^612176b0767']]),
    health_check: { type: 'boolean', description: 'true: possible Kubernetes exec probes (process or parent); false: everything else.', examples: [true] },
    in_init_tree: { type: 'boolean', description: "Whether the process descends from its container's init process (false: e.g. `kubectl exec`).", examples: [false] },
    pid: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'Process PIDs.', examples: [[1]] },
    pid_set: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'PIDs and their descendants (for tests and debugging).', examples: [[4242]] },
    labels: { type: 'array', items: { type: 'string' }, description: 'Kubernetes label selectors on pod labels; any may match.', examples: [['app=checkout', 'tier in (web, api), !canary']] },
    policy_names: { type: 'array', items: { type: 'string' }, description: 'Tracing policy names (kprobe, tracepoint, uprobe, lsm, usdt events).', examples: [['file-monitoring']] },
    capabilities: {
      type: 'object',
      description: 'Capability sets of the process; each set takes exactly one of any, all, exactly, none.',
      examples: [{ effective: { any: ['CAP_SYS_ADMIN', 'CAP_BPF'] } }],
    },
    cel_expression: {
      type: 'array',
      items: { type: 'string' },
      description: "CEL over the event's top-level fields, as Tetragon evaluates it; any may match.",
      examples: [['process_exec.process.binary == "/usr/bin/curl"']],
    },
  },
};

const listSchema = (which: string) => ({
  description: `${which} filters: a list of filter objects (ORed), or the JSON-lines string Tetragon takes in its Helm values.`,
  oneOf: [{ type: 'string' }, { type: 'array', items: FILTER_SCHEMA }],
});

export const tetragonFilterTransform: TransformDefinition<TetragonFilterConfig> = {
  kind: 'transform',
  type: 'tetragon_filter',
  description: "Tetragon's export allow/deny lists: passes events matching the allow list (or all, if empty) and no deny filter.",
  mutates: false,
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      allow: {
        ...listSchema('Allow'),
        default: [],
        examples: [[{ event_set: ['PROCESS_EXEC', 'PROCESS_EXIT', 'PROCESS_KPROBE', 'PROCESS_UPROBE', 'PROCESS_TRACEPOINT', 'PROCESS_LSM'] }], '{"namespace":["default"],"event_set":["PROCESS_EXEC"]}'],
      },
      deny: {
        ...listSchema('Deny'),
        default: [],
        examples: ['{"health_check":true}\n{"namespace":["", "cilium", "kube-system"]}', [{ binary_regex: ['^/usr/bin/containerd'] }]],
      },
    },
  },
  validate(cfg) {
    const errors: string[] = [];
    for (const name of ['allow', 'deny'] as const) {
      try {
        compileList(cfg[name], name);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    return errors.length ? errors : undefined;
  },
  build(cfg, ctx) {
    const pass = compileTetragonFilter(cfg);
    const dropped = ctx.telemetry.counter('events_dropped');
    const decodeErrors = ctx.telemetry.counter('decode_errors');
    return {
      process(events, emit) {
        const kept: LogEvent[] = [];
        for (const ev of events) {
          if (pass(readData(ev, decodeErrors))) kept.push(ev);
        }
        if (kept.length !== events.length) dropped.inc(events.length - kept.length);
        if (kept.length) emit(kept);
      },
    };
  },
};
