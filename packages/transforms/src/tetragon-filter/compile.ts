/**
 * Tetragon export filters compiled into predicates over an event: the event model (the event's
 * type from its top-level key, its process and parent, resolved once per event and shared by every
 * filter), one matcher per filter field, and the lists (filters ORed, fields of a filter ANDed,
 * deny wins). parse.ts reads and checks the filters first.
 */
import { LruMap, type EventData } from '@tern/core';
import { compileCondition, conditionError, type CompiledCondition } from '../cel.ts';
import { parseLabelSelector, type LabelMatcher } from '../label-selector.ts';
import { asObj, bool, FIELD_NAMES, normalize, numbers, parseFilterList, regexes, strings, type CapFilter, type CapFilterSet, type FieldName, type Obj, type TetragonFilterConfig, type TetragonFilterSpec } from './parse.ts';

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
export const TYPE_NAMES = new Set(Object.values(EVENT_TYPES).map((t) => t.name));
const POLICY_TYPES = new Set(['process_kprobe', 'process_tracepoint', 'process_uprobe', 'process_lsm', 'process_usdt']);

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

// ---------------------------------------------------------------- one matcher per field

type Pred = (v: View) => boolean;

const anyTest = (res: RegExp[], s: string) => {
  for (const r of res) if (r.test(s)) return true;
  return false;
};
const canBeHealthCheck = (p: Obj | undefined) => asObj(asObj(p?.pod)?.container)?.maybe_exec_probe === true;
const PID_SET_CACHE = 65_536;

/** A regex field on the pod (namespace, pod name, container name): never matches host processes. */
function podRegex(pick: (pod: Obj) => string | undefined): (v: unknown, at: string) => Pred {
  return (v, at) => {
    const res = regexes(v, at);
    return (e) => {
      const pod = asObj(e.process?.pod);
      const s = pod === undefined ? undefined : pick(pod);
      return s !== undefined && anyTest(res, s);
    };
  };
}

/** A regex field on the process or its parent. */
function processRegex(parent: boolean, key: 'binary' | 'arguments'): (v: unknown, at: string) => Pred {
  return (v, at) => {
    const res = regexes(v, at);
    return (e) => {
      const p = parent ? e.parent : e.process;
      return p !== undefined && anyTest(res, str(p[key]));
    };
  };
}

/** Builds the predicate of one filter field from its value (`at` names it in errors). */
const MATCHERS: Readonly<Record<FieldName, (v: unknown, at: string) => Pred>> = {
  event_set(v, at) {
    const list = Array.isArray(v) ? v : [v];
    const types = new Set<string>();
    for (const t of list) {
      const name = typeof t === 'number' ? TYPE_BY_NUM.get(t) : typeof t === 'string' && TYPE_NAMES.has(t) ? t : undefined;
      if (name === undefined) throw new Error(`${at}: unknown event type ${JSON.stringify(t)} (known: ${[...TYPE_NAMES].join(', ')})`);
      types.add(name);
    }
    return (e) => e.type !== undefined && types.has(e.type);
  },
  namespace(v, at) {
    const ns = strings(v, at);
    const host = ns.includes('');
    const set = new Set(ns);
    return (e) => {
      if (e.process === undefined) return false;
      const pod = asObj(e.process.pod);
      return pod === undefined ? host : set.has(str(pod.namespace));
    };
  },
  namespace_regex: podRegex((pod) => str(pod.namespace)),
  pod_regex: podRegex((pod) => str(pod.name)),
  container_name_regex: podRegex((pod) => {
    const c = asObj(pod.container);
    return c === undefined ? undefined : str(c.name);
  }),
  binary_regex: processRegex(false, 'binary'),
  parent_binary_regex: processRegex(true, 'binary'),
  arguments_regex: processRegex(false, 'arguments'),
  parent_arguments_regex: processRegex(true, 'arguments'),
  ancestor_binary_regex(v, at) {
    const res = regexes(v, at);
    return (e) => {
      const anc = e.body?.ancestors;
      if (!Array.isArray(anc) || anc.length === 0 || asObj(anc[0]) === undefined) return false;
      for (const a of anc) if (anyTest(res, str(asObj(a)?.binary))) return true;
      return false;
    };
  },
  container_id(v, at) {
    const res = regexes(v, at);
    return (e) => e.process !== undefined && anyTest(res, str(e.process.docker));
  },
  health_check(v, at) {
    const want = bool(v, at);
    return (e) => {
      const maybe = canBeHealthCheck(e.process) || canBeHealthCheck(e.parent);
      return want ? maybe : !maybe;
    };
  },
  in_init_tree(v, at) {
    const want = bool(v, at);
    return (e) => e.process !== undefined && (e.process.in_init_tree === true) === want;
  },
  pid(v, at) {
    const pids = new Set(numbers(v, at));
    return (e) => e.process !== undefined && pids.has(e.process.pid as number);
  },
  pid_set(v, at) {
    const roots = new Set(numbers(v, at));
    // Descendants learned so far; per filter, as in Tetragon, but bounded.
    const children = new LruMap<number, true>(PID_SET_CACHE);
    const member = (pid: unknown) => typeof pid === 'number' && (roots.has(pid) || children.get(pid) !== undefined);
    return (e) => {
      if (e.process === undefined) return false;
      if (member(e.process.pid)) return true;
      if (e.parent === undefined || !member(e.parent.pid)) return false;
      if (typeof e.process.pid === 'number') children.set(e.process.pid, true);
      return true;
    };
  },
  labels(v, at) {
    const selectors: LabelMatcher[] = strings(v, at).map((s, i) => {
      try {
        return parseLabelSelector(s);
      } catch (err) {
        throw new Error(`${at}.${i}: ${(err as Error).message}`);
      }
    });
    return (e) => {
      const pod = asObj(e.process?.pod);
      if (pod === undefined) return false;
      const labels = asObj(pod.pod_labels) as Record<string, string> | undefined;
      for (const s of selectors) if (s(labels)) return true;
      return false;
    };
  },
  policy_names(v, at) {
    const names = new Set(strings(v, at));
    return (e) => {
      if (e.key === undefined || !POLICY_TYPES.has(e.key)) return false;
      const name = str(e.body?.policy_name);
      return name !== '' && names.has(name);
    };
  },
  capabilities(v, at) {
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
    return (e) => {
      const cap = asObj(e.process?.cap);
      if (cap === undefined) return false;
      for (const [k, m] of sets) if (!m(cap[k])) return false;
      return true;
    };
  },
  cel_expression(v, at) {
    const conds: CompiledCondition[] = strings(v, at).map((s, i) => {
      const err = conditionError(s, 'tetragon');
      if (err !== undefined) throw new Error(`${at}.${i}: ${err}`);
      return compileCondition(s, 'tetragon');
    });
    // The CEL variables are the event's top-level fields (`process_exec`, ...), as in Tetragon.
    return (e) => {
      for (const c of conds) if (c.test(e.data) === true) return true;
      return false;
    };
  },
};

// ---------------------------------------------------------------- filters and lists

/** One filter: its fields ANDed. */
function compileFilter(raw: unknown, where: string): Pred {
  const f = normalize(raw, where);
  const preds: Pred[] = [];
  for (const field of FIELD_NAMES) {
    const v = f[field];
    if (v !== undefined && v !== null) preds.push(MATCHERS[field](v, `${where}.${field}`));
  }
  return (e) => {
    for (const p of preds) if (!p(e)) return false;
    return true;
  };
}

export function compileList(list: TetragonFilterSpec[] | string | undefined, name: string): Pred[] {
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

/** Compiles both lists into one decision function over event data; throws with a located message. A list left out is none. */
export function compileTetragonFilter(cfg: Partial<TetragonFilterConfig>): (data: EventData) => boolean {
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

