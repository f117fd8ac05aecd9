/**
 * Derived alert fields: what a human needs to read a security event (which pod, which binary,
 * which file, read or written, how bad), pulled out of the three shapes tern forwards (Tetragon
 * export, Falco alerts, Kubernetes audit) into one flat object. Message templates reach it as
 * `{{_.pod}}`, `{{_.file}}`, ...; rate-limit keys can use it too (`_.pod`), which is what makes
 * one `key_fields` list work across event sources.
 *
 * Pure functions over parsed event data; computed only for events that are formatted as messages
 * or whose key or template names a `_.` field.
 */

/** The derived fields (every value a string; missing ones are empty). */
export interface Derived {
  /** `process_exec`, `process_exit`, `process_kprobe`, ... for Tetragon; `falco`; `k8s_audit`; else `event`. */
  readonly kind: string;
  /** Short title: the Falco rule, the Tetragon policy, the audit verb and resource. */
  readonly title: string;
  /** Lower-case severity: Falco priority, else inferred (see `inferSeverity`). */
  readonly severity: string;
  /** Falco's priority as written (`Critical`); empty for other events. */
  readonly priority: string;
  /**
   * `namespace/name` of the pod; for a Tetragon process outside any pod `host`; empty when the
   * event does not say (a Falco alert on the host, a Falco k8s_audit alert).
   */
  readonly pod: string;
  readonly namespace: string;
  readonly container: string;
  readonly binary: string;
  readonly arguments: string;
  /** The Kubernetes node, when the event names it (Tetragon `node_name`, Falco `k8s.node.name`). */
  readonly node: string;
  /** Falco's `hostname`: the node only if Falco runs with FALCO_HOSTNAME=spec.nodeName, else its pod's name. */
  readonly hostname: string;
  readonly time: string;
  /** First file path among a kprobe's arguments (or Falco `fd.name`). */
  readonly file: string;
  /** What happened to `file`: read, written, opened, mapped, accessed. */
  readonly access: string;
  /** Remote address of a socket argument (`daddr:dport`). */
  readonly destination: string;
  readonly function: string;
  readonly policy: string;
  /** Tetragon kprobe action (`KPROBE_ACTION_SIGKILL` → `sigkill`), empty for plain observation. */
  readonly action: string;
  readonly rule: string;
  readonly user: string;
  /** The whole event as compact JSON (for events of no known shape). */
  readonly json: string;
  /** How many similar alerts the rate limit suppressed before this one (0 when none). */
  readonly suppressed: number;
  /** `(N similar alerts suppressed)` or empty. */
  readonly suppressed_note: string;
}

const TETRAGON_KINDS = ['process_exec', 'process_exit', 'process_kprobe', 'process_tracepoint', 'process_uprobe', 'process_lsm', 'process_usdt'] as const;

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '');

export function suppressedNote(n: number): string {
  return n > 0 ? `(${n} similar alert${n === 1 ? '' : 's'} suppressed)` : '';
}

function base(kind: string, data: unknown, suppressed: number): { -readonly [K in keyof Derived]: Derived[K] } {
  return {
    kind,
    title: '',
    severity: '',
    priority: '',
    pod: '',
    namespace: '',
    container: '',
    binary: '',
    arguments: '',
    node: '',
    hostname: '',
    time: '',
    file: '',
    access: '',
    destination: '',
    function: '',
    policy: '',
    action: '',
    rule: '',
    user: '',
    // Lazy: rate-limit keys and most templates never read it, and stringifying every event is not free.
    get json(): string {
      return JSON.stringify(data) ?? '';
    },
    suppressed,
    suppressed_note: suppressedNote(suppressed),
  };
}

/** `security_file_permission`'s mask argument: MAY_WRITE (2), MAY_READ (4), MAY_EXEC (1). */
function accessOf(fn: string, args: readonly unknown[]): string {
  if (fn === 'security_file_permission' || fn === 'security_path_truncate' || fn === 'security_inode_permission') {
    for (const a of args) {
      const mask = obj(a)?.['int_arg'];
      if (typeof mask === 'number') {
        if (mask & 2) return 'written';
        if (mask & 4) return 'read';
        if (mask & 1) return 'executed';
      }
    }
    return 'accessed';
  }
  if (fn === 'fd_install' || fn.includes('open')) return 'opened';
  if (fn.includes('mmap')) return 'mapped';
  if (fn.includes('unlink')) return 'deleted';
  if (fn.includes('write')) return 'written';
  if (fn.includes('read')) return 'read';
  return 'accessed';
}

function tetragon(kind: string, data: Obj, suppressed: number): Derived {
  const d = base(kind, data, suppressed);
  const ev = obj(data[kind]) ?? {};
  const proc = obj(ev['process']) ?? {};
  const pod = obj(proc['pod']);
  d.namespace = str(pod?.['namespace']);
  d.pod = pod ? `${d.namespace}/${str(pod['name'])}` : 'host';
  d.container = str(obj(pod?.['container'])?.['name']);
  d.binary = str(proc['binary']);
  d.arguments = str(proc['arguments']);
  d.node = str(data['node_name']);
  d.time = str(data['time']);
  d.function = str(ev['function_name'] ?? ev['event'] ?? ev['subsys']);
  d.policy = str(ev['policy_name']);
  const action = str(ev['action']);
  d.action = action === '' || action === 'KPROBE_ACTION_POST' ? '' : action.replace(/^KPROBE_ACTION_/, '').toLowerCase();
  const args = Array.isArray(ev['args']) ? (ev['args'] as unknown[]) : [];
  for (const a of args) {
    const o = obj(a);
    if (o === undefined) continue;
    const file = obj(o['file_arg']) ?? obj(o['path_arg']) ?? obj(o['linux_binprm_arg']);
    if (d.file === '' && file !== undefined) d.file = str(file['path']);
    const sock = obj(o['sock_arg']) ?? obj(o['sockaddr_arg']);
    if (d.destination === '' && sock !== undefined) {
      const addr = str(sock['daddr'] ?? sock['addr']);
      const port = str(sock['dport'] ?? sock['port']);
      d.destination = port ? `${addr}:${port}` : addr;
    }
  }
  if (d.file !== '') d.access = accessOf(d.function, args);
  d.title = d.policy !== '' ? `Tetragon ${d.policy}` : `Tetragon ${kind}`;
  d.severity = inferSeverity(d);
  return d;
}

/**
 * A Falco alert. Pod, namespace and node are what the alert itself carries, nothing guessed: an alert
 * on the host has no pod (not "host"), a k8s_audit-source alert has the audited object's namespace
 * (`ka.target.namespace`) and no pod, and Falco's `hostname` is not taken for the node (it is the
 * Falco pod's name unless FALCO_HOSTNAME is set from spec.nodeName); a node shows only when an
 * output field names it (`k8s.node.name`, for example added by the rule's output or a custom field).
 */
function falco(data: Obj, suppressed: number): Derived {
  const d = base('falco', data, suppressed);
  const f = obj(data['output_fields']) ?? {};
  d.rule = str(data['rule']);
  d.title = d.rule;
  d.priority = str(data['priority']);
  d.severity = d.priority.toLowerCase();
  d.namespace = str(f['k8s.ns.name'] ?? f['k8smeta.ns.name'] ?? f['ka.target.namespace']);
  const pod = str(f['k8s.pod.name'] ?? f['k8smeta.pod.name']);
  d.pod = pod !== '' ? (d.namespace !== '' ? `${d.namespace}/${pod}` : pod) : '';
  d.container = str(f['container.name']);
  d.binary = str(f['proc.exepath'] ?? f['proc.name']);
  d.arguments = str(f['proc.cmdline']);
  d.node = str(f['k8s.node.name']);
  d.hostname = str(data['hostname'] ?? f['evt.hostname']);
  d.time = str(data['time']);
  d.file = str(f['fd.name']);
  d.user = str(f['user.name'] ?? f['ka.user.name']);
  return d;
}

function audit(data: Obj, suppressed: number): Derived {
  const d = base('k8s_audit', data, suppressed);
  const ref = obj(data['objectRef']) ?? {};
  d.user = str(obj(data['user'])?.['username']);
  d.namespace = str(ref['namespace']);
  const resource = str(ref['resource']) + (ref['subresource'] ? `/${str(ref['subresource'])}` : '');
  d.title = `Kubernetes ${str(data['verb'])} ${resource}`.trim();
  d.time = str(data['requestReceivedTimestamp'] ?? data['stageTimestamp']);
  const code = obj(data['responseStatus'])?.['code'];
  d.severity = typeof code === 'number' && code >= 400 ? 'warning' : 'notice';
  return d;
}

/**
 * Severity of a Tetragon event, which carries none: an enforcing action is critical, a watched
 * file or other kprobe hit a warning, a process start a notice, everything else informational.
 */
export function inferSeverity(d: Pick<Derived, 'kind' | 'action' | 'file'>): string {
  if (d.action !== '' && d.action !== 'post' && d.action !== 'nopost') return 'critical';
  if (d.kind === 'process_kprobe' || d.kind === 'process_lsm' || d.kind === 'process_tracepoint' || d.kind === 'process_uprobe') return 'warning';
  if (d.kind === 'process_exec') return 'notice';
  return 'informational';
}

/** A Falco alert as Falco posts it (`rule`, `priority`, `output`). */
export function isFalcoAlert(o: Record<string, unknown>): boolean {
  return typeof o['rule'] === 'string' && typeof o['priority'] === 'string' && typeof o['output'] === 'string';
}

// Falco's priority order (Falcosidekick's `minimumpriority`) is core's, shared with the CEL function
// `priority_at_least` of filter and route.
export { PRIORITIES, priorityRank, type Priority } from '@tern/core';

/**
 * The event with custom fields added, as Falcosidekick's `customfields` are: into a Falco alert's
 * `output_fields`, at the top level of any other event. A field the event already has keeps its value.
 */
export function withCustomFields(data: unknown, custom: Readonly<Record<string, string>> | undefined): unknown {
  const o = obj(data);
  if (custom === undefined || o === undefined) return data;
  if (isFalcoAlert(o)) return { ...o, output_fields: { ...custom, ...(obj(o['output_fields']) ?? {}) } };
  return { ...custom, ...o };
}

/** Derived fields of one event's data; `suppressed` is the rate limiter's count for it. */
export function describe(data: unknown, suppressed = 0): Derived {
  const o = obj(data);
  if (o === undefined) {
    const d = base('event', data, suppressed);
    d.severity = 'informational';
    return d;
  }
  for (const k of TETRAGON_KINDS) if (obj(o[k]) !== undefined) return tetragon(k, o, suppressed);
  if (isFalcoAlert(o)) return falco(o, suppressed);
  if (o['kind'] === 'Event' && typeof o['apiVersion'] === 'string' && o['apiVersion'].startsWith('audit.k8s.io')) return audit(o, suppressed);
  const d = base('event', data, suppressed);
  d.node = str(o['node_name'] ?? o['hostname'] ?? o['host']);
  d.time = str(o['time'] ?? o['@timestamp'] ?? o['timestamp']);
  d.severity = str(o['severity'] ?? o['level'] ?? o['priority']).toLowerCase() || 'informational';
  d.title = 'Event';
  return d;
}
