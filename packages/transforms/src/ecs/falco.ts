/**
 * Falco JSON alerts → ECS, following Elastic's `falco.alerts` pipeline (≥1.2 behaviour, see
 * ECS.md): `output_fields` is flat with dotted keys; every key Elastic maps to ECS leaves
 * `falco.output_fields` (the pipeline's default "nopreserve" mode) and the rest is expanded into
 * nested objects. `@timestamp` comes from the syscall event time (`evt.time*`, or the newer
 * `evt_time`), not from the alert's top-level `time`. For `source: k8s_audit` alerts Elastic maps
 * nothing from `ka.*`; we add the ECS fields README's proposal lists (documented in ECS.md).
 *
 * Falco volume is alert volume (low), so clarity wins over micro-optimisation here; still no regex
 * is built per event and nothing is deep-copied.
 */
import { formatIsoMs, parseTime } from '@tern/core';
import { appendTo, EcsShapeError, ECS_VERSION, IAM_RESOURCES, isObj, keyword, keywordLeaf, num, put, putObj, splitWs, str, validIp, VERB_TYPE } from './common.ts';
import type { Doc, EcsMapContext } from './common.ts';

const SEVERITY: Record<string, number> = {
  emergency: 99,
  alert: 99,
  critical: 99,
  error: 73,
  warning: 47,
  notice: 47,
  informational: 21,
  info: 21,
  debug: 21,
};

const ECS_CATEGORIES = new Set([
  'api', 'authentication', 'configuration', 'database', 'driver', 'email', 'file', 'host', 'iam', 'intrusion_detection',
  'library', 'malware', 'network', 'package', 'process', 'registry', 'session', 'threat', 'vulnerability', 'web',
]);
const CATEGORY_MAP: Record<string, string> = { net: 'network', file: 'file', process: 'process' };

/** Syscall → ECS event.type, after Elastic's table (unlisted syscalls → `info`). */
const SYSCALL_TYPE: Record<string, string> = {};
for (const s of ['open', 'openat', 'openat2', 'open_by_handle_at', 'read', 'readv', 'pread', 'preadv', 'stat', 'lstat', 'fstat', 'access', 'faccessat', 'readlink', 'readlinkat', 'getdents', 'getdents64'])
  SYSCALL_TYPE[s] = 'access';
for (const s of ['execve', 'execveat']) SYSCALL_TYPE[s] = 'start';
for (const s of ['connect', 'sendto', 'sendmsg', 'recvfrom', 'recvmsg', 'accept', 'accept4', 'listen', 'bind']) SYSCALL_TYPE[s] = 'connection';
for (const s of ['unlink', 'unlinkat', 'rmdir']) SYSCALL_TYPE[s] = 'deletion';
for (const s of ['clone', 'clone3', 'fork', 'vfork', 'mkdir', 'mkdirat', 'mount', 'creat', 'symlink', 'symlinkat', 'link', 'linkat', 'mknod', 'mknodat', 'memfd_create'])
  SYSCALL_TYPE[s] = 'creation';
for (const s of ['kill', 'tkill', 'tgkill', 'exit', 'exit_group', 'umount', 'umount2']) SYSCALL_TYPE[s] = 'end';
for (const s of ['write', 'writev', 'pwrite', 'pwritev', 'chmod', 'fchmod', 'fchmodat', 'chown', 'fchown', 'fchownat', 'lchown', 'setuid', 'setgid', 'setresuid', 'setresgid', 'setreuid', 'setregid', 'rename', 'renameat', 'renameat2', 'truncate', 'ftruncate', 'init_module', 'finit_module', 'delete_module'])
  SYSCALL_TYPE[s] = 'change';
SYSCALL_TYPE.ptrace = 'admin';

const TECHNIQUE = /^T\d{4}$/;
const SUBTECHNIQUE = /^T\d{4}\.\d{3}$/;

/**
 * Output-field keys Elastic copies to ECS and then removes from `falco.output_fields`. `fd.name`,
 * `fd.type` and `proc.args` are conditional and handled in code.
 */
const MAPPED = new Set([
  'evt.time', 'evt.time.iso8601', 'evt_time', 'evt.rawtime', 'evt.category', 'evt.type', 'evt.res', 'evt.failed', 'evt.num',
  'proc.exepath', 'proc.pexepath', 'proc.name', 'proc.pname', 'proc.cmdline', 'proc.pcmdline', 'proc.cmdnargs', 'proc.env', 'proc.cwd',
  'proc.pid', 'proc.ppid', 'proc.vpid', 'proc.pvpid', 'proc.sid', 'proc.sname', 'proc.sid.exepath', 'proc.vpgid', 'proc.vpgid.name',
  'proc.vpgid.exepath', 'proc.is_sid_leader', 'proc.is_vpgid_leader', 'proc.duration', 'proc.ppid.duration', 'proc.pid.ts', 'proc.ppid.ts',
  'thread.tid', 'thread.cap_permitted', 'thread.cap_effective', 'user.uid', 'user.name', 'group.gid', 'group.name',
  'container.id', 'container.name', 'container.image', 'container.image.digest', 'container.type', 'container.privileged', 'container.ip',
  'container.mounts', 'fd.directory', 'fd.filename', 'fd.ino',
  'fd.cip', 'fd.sip', 'fd.lip', 'fd.rip', 'fd.cport', 'fd.sport', 'fd.lport', 'fd.rport', 'fd.cip.name', 'fd.sip.name', 'fd.lip.name', 'fd.rip.name',
  'k8s.ns.name', 'k8s.pod.name', 'k8s.pod.uid', 'k8s.pod.labels', 'k8s.pod.ip',
]);
/** Always removed (Elastic drops the ancestor names past the grandparent and the exe flags). */
const DROPPED = new Set(['proc.aname[2]', 'proc.aname[3]', 'proc.aname[4]', 'proc.aname[5]', 'proc.aname[6]', 'proc.aname[7]', 'evt.arg.flags']);
/** Top-level alert keys that go under `falco.*` unchanged (`rule` goes to `rule.name` instead). */
const KEPT_TOP = ['hostname', 'output', 'priority', 'source', 'tags', 'time', 'uuid'];

const ENDPOINTS: readonly [string, string][] = [
  ['c', 'client'],
  ['s', 'server'],
  ['l', 'source'],
  ['r', 'destination'],
];

/** Maps one Falco alert. Throws EcsShapeError when it is not an alert (no `rule` and no `output_fields`). */
export function mapFalco(input: Doc, ctx?: EcsMapContext): Doc {
  const rule = str(input.rule);
  const of = input.output_fields;
  if (rule === undefined && !isObj(of)) throw new EcsShapeError('neither rule nor output_fields in the document');
  if (of !== undefined && of !== null && !isObj(of)) throw new EcsShapeError('output_fields is not an object');
  const f: Doc = isObj(of) ? of : {};
  const source = str(input.source);
  const isK8s = source === 'k8s_audit';

  const out: Doc = {};
  const tsVal = f['evt.time.iso8601'] ?? f['evt.time'] ?? f.evt_time ?? f['evt.rawtime'];
  let t = tsVal === undefined || tsVal === null ? undefined : parseTime(tsVal);
  // Deviation: with no syscall time, use the alert time rather than leave @timestamp unset.
  t ??= parseTime(input.time);
  if (t !== undefined) out['@timestamp'] = formatIsoMs(t);
  else if (input['@timestamp'] !== undefined) out['@timestamp'] = input['@timestamp'];
  out.ecs = { version: ECS_VERSION };

  // ---- event
  const event: Doc = { kind: 'alert' };
  out.event = event;
  const evtCat = str(f['evt.category']);
  if (isK8s) {
    const resource = str(f['ka.target.resource']);
    event.category = [resource !== undefined && IAM_RESOURCES.has(resource) ? 'iam' : 'configuration'];
    const verb = str(f['ka.verb']);
    event.type = [(verb !== undefined ? VERB_TYPE[verb] : undefined) ?? 'info'];
    put(event, 'action', verb);
  } else {
    event.category = [evtCat === undefined ? 'process' : ECS_CATEGORIES.has(evtCat) ? evtCat : (CATEGORY_MAP[evtCat] ?? 'process')];
    const evtType = str(f['evt.type']);
    event.type = [(evtType !== undefined ? SYSCALL_TYPE[evtType] : undefined) ?? 'info'];
  }
  const priority = str(input.priority);
  if (priority !== undefined) put(event, 'severity', SEVERITY[priority.toLowerCase()]);
  put(event, 'provider', source);
  const res = f['evt.res'];
  if (res === 'SUCCESS') event.outcome = 'success';
  else if (res !== undefined && res !== null && f['evt.failed'] === true) event.outcome = 'failure';
  put(event, 'sequence', num(f['evt.num']));
  event.module = 'falco';
  event.dataset = 'falco.alerts';

  // ---- rule, message, observer, host
  if (rule !== undefined) {
    out.message = rule;
    out.rule = { name: rule };
  }
  const hostname = str(input.hostname);
  out.observer = hostname !== undefined ? { hostname, type: 'sensor', vendor: 'sysdig', product: 'falco' } : { type: 'sensor', vendor: 'sysdig', product: 'falco' };
  const host: Doc = {};
  put(host, 'name', hostname);
  const cip = f['container.ip'];
  const hostIp = validIp(cip);
  if (hostIp !== undefined) host.ip = [hostIp];
  putObj(out, 'host', host);
  if (hostname !== undefined) out.related = { hosts: [hostname] };

  // ---- threat (MITRE tags): the first technique and the first sub-technique only
  if (Array.isArray(input.tags)) {
    let tech: string | undefined;
    let sub: string | undefined;
    for (const tag of input.tags) {
      if (typeof tag !== 'string') continue;
      if (tech === undefined && TECHNIQUE.test(tag)) tech = tag;
      else if (sub === undefined && SUBTECHNIQUE.test(tag)) sub = tag;
    }
    // Deviation: a lone sub-technique tag (T1552.005) also yields its technique (T1552), as ECS expects both.
    if (tech === undefined && sub !== undefined) tech = sub.slice(0, 5);
    if (tech !== undefined || sub !== undefined) {
      const technique: Doc = {};
      if (tech !== undefined) technique.id = [tech];
      if (sub !== undefined) technique.subtechnique = { id: [sub] };
      out.threat = { technique };
    }
  }

  // ---- process
  const used = new Set<string>();
  const proc = mapProcess(f, used);
  putObj(out, 'process', proc);

  // ---- container
  const container: Doc = {};
  put(container, 'id', keyword(f['container.id']));
  put(container, 'name', keyword(f['container.name']));
  const image: Doc = {};
  put(image, 'name', str(f['container.image']));
  const digest = f['container.image.digest'];
  if (Array.isArray(digest) && digest.length) image.hash = { all: digest };
  else if (typeof digest === 'string' && digest !== '') image.hash = { all: [digest] };
  putObj(container, 'image', image);
  put(container, 'runtime', str(f['container.type']));
  if (typeof f['container.privileged'] === 'boolean') container.security_context = { privileged: f['container.privileged'] };
  putObj(out, 'container', container);

  // ---- file (only when the fd is a file or directory)
  const file: Doc = {};
  const fdType = f['fd.type'];
  if ((fdType === 'file' || fdType === 'directory') && str(f['fd.name']) !== undefined) {
    file.path = f['fd.name'];
    file.type = fdType;
    used.add('fd.name').add('fd.type');
  }
  put(file, 'directory', str(f['fd.directory']));
  put(file, 'name', str(f['fd.filename']));
  put(file, 'inode', keyword(f['fd.ino']));
  putObj(out, 'file', file);

  // ---- network endpoints
  for (const [letter, field] of ENDPOINTS) {
    const ep: Doc = {};
    const ip = validIp(f[`fd.${letter}ip`]);
    if (ip !== undefined) {
      ep.ip = ip;
      ep.address = ip;
    }
    put(ep, 'port', num(f[`fd.${letter}port`]));
    put(ep, 'domain', str(f[`fd.${letter}ip.name`]));
    putObj(out, field, ep);
  }

  // ---- orchestrator (syscall alerts in pods, and k8s_audit alerts)
  const orch: Doc = {};
  put(orch, 'namespace', str(f['k8s.ns.name']));
  const resource: Doc = {};
  const podName = str(f['k8s.pod.name']);
  if (podName !== undefined) {
    resource.name = podName;
    resource.type = 'pod';
  }
  put(resource, 'id', str(f['k8s.pod.uid']));
  const labels = podLabels(f['k8s.pod.labels']);
  if (labels !== undefined) resource.label = labels;
  put(resource, 'ip', validIp(f['k8s.pod.ip']));
  if (isK8s) {
    if (orch.namespace === undefined) put(orch, 'namespace', str(f['ka.target.namespace']));
    if (resource.type === undefined) put(resource, 'type', str(f['ka.target.resource']));
    if (resource.name === undefined) put(resource, 'name', str(f['ka.target.name']) ?? str(f['ka.resp.name']));
    const userName = str(f['ka.user.name']);
    if (userName !== undefined) {
      out.user = { name: userName };
      appendTo((out.related ??= {}) as Doc, 'user', userName);
    }
    const code = num(f['ka.response.code']);
    if (code !== undefined) out.http = { response: { status_code: code } };
  }
  putObj(orch, 'resource', resource);
  putObj(out, 'orchestrator', orch);

  // ---- falco.*: alert envelope, container mounts, and the unmapped output fields, nested
  const falco: Doc = {};
  for (const k of KEPT_TOP) if (input[k] !== undefined) falco[k] = input[k];
  const mounts = str(f['container.mounts']);
  if (mounts !== undefined) falco.container = { mounts: parseMounts(mounts) };
  const rest: Doc = {};
  if (ctx?.vendorFields === 'nested') {
    for (const k in f) {
      if (DROPPED.has(k)) {
        if (k === 'evt.arg.flags') ensureObj(ensureObj(rest, 'evt'), 'arg');
        continue;
      }
      if (MAPPED.has(k) || used.has(k)) continue;
      setExpanded(rest, k, f[k]);
    }
  } else {
    // Flat: Falco's own field names with `_` for `.`, every value a keyword. Falco fields are flat by
    // nature and plugins add any name, so `ka.uri` next to `ka.uri.param[command]` is routine:
    // nested, one is a value and an object at once and Elasticsearch refuses the document.
    for (const k in f) {
      if (DROPPED.has(k) || MAPPED.has(k) || used.has(k)) continue;
      let key = k.includes('.') ? k.replaceAll('.', '_') : k;
      while (Object.hasOwn(rest, key)) key += '_';
      rest[key] = keywordLeaf(f[k]);
    }
  }
  falco.output_fields = rest;
  out.falco = falco;
  if (input.tern !== undefined) out.tern = input.tern;
  return out;
}

function mapProcess(f: Doc, used: Set<string>): Doc {
  const p: Doc = {};
  const parent: Doc = {};
  const exe = str(f['proc.exepath']);
  put(p, 'executable', exe);
  put(parent, 'executable', str(f['proc.pexepath']));
  put(p, 'name', keyword(f['proc.name']));
  put(parent, 'name', keyword(f['proc.pname']));
  put(p, 'command_line', keyword(f['proc.cmdline']));
  put(parent, 'command_line', keyword(f['proc.pcmdline']));
  const args = f['proc.args'];
  if (exe !== undefined && typeof args === 'string') {
    const parts = args.split(' ');
    while (parts.length && parts[parts.length - 1] === '') parts.pop(); // Java's split drops trailing empties
    p.args = [exe, ...parts];
    used.add('proc.args');
  }
  put(p, 'args_count', num(f['proc.cmdnargs']));
  const env = str(f['proc.env']);
  if (env !== undefined) p.env_vars = splitWs(env);
  put(p, 'working_directory', str(f['proc.cwd']));
  put(p, 'pid', num(f['proc.pid']));
  put(parent, 'pid', num(f['proc.ppid']));
  put(p, 'vpid', num(f['proc.vpid']));
  put(parent, 'vpid', num(f['proc.pvpid']));
  const sl: Doc = {};
  put(sl, 'pid', num(f['proc.sid']));
  put(sl, 'name', str(f['proc.sname']));
  put(sl, 'executable', str(f['proc.sid.exepath']));
  if (typeof f['proc.is_sid_leader'] === 'boolean') sl.same_as_process = f['proc.is_sid_leader'];
  putObj(p, 'session_leader', sl);
  const gl: Doc = {};
  put(gl, 'vpid', num(f['proc.vpgid']));
  put(gl, 'name', str(f['proc.vpgid.name']));
  put(gl, 'executable', str(f['proc.vpgid.exepath']));
  if (typeof f['proc.is_vpgid_leader'] === 'boolean') gl.same_as_process = f['proc.is_vpgid_leader'];
  putObj(p, 'group_leader', gl);
  const up = num(f['proc.duration']);
  if (up !== undefined) p.uptime = Math.trunc(up);
  const pup = num(f['proc.ppid.duration']);
  if (pup !== undefined) parent.uptime = Math.trunc(pup);
  put(p, 'start', f['proc.pid.ts'] ?? undefined);
  put(parent, 'start', f['proc.ppid.ts'] ?? undefined);
  const thread: Doc = {};
  put(thread, 'id', num(f['thread.tid']));
  const caps: Doc = {};
  put(caps, 'permitted', f['thread.cap_permitted'] ?? undefined);
  put(caps, 'effective', f['thread.cap_effective'] ?? undefined);
  putObj(thread, 'capabilities', caps);
  putObj(p, 'thread', thread);
  const user: Doc = {};
  put(user, 'id', keyword(f['user.uid']));
  put(user, 'name', keyword(f['user.name']));
  putObj(p, 'user', user);
  const group: Doc = {};
  put(group, 'id', keyword(f['group.gid']));
  put(group, 'name', keyword(f['group.name']));
  putObj(p, 'group', group);
  putObj(p, 'parent', parent);
  return p;
}

/**
 * Falco's `k8s.pod.labels` as ECS `orchestrator.resource.label`: a list of `key:value` strings (what
 * Falco sends); a map or a lone string is brought to that shape so the field has one type everywhere.
 */
function podLabels(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  if (isObj(v)) return Object.entries(v).map(([k, x]) => `${k}:${typeof x === 'string' ? x : JSON.stringify(x)}`);
  return [String(v)];
}

/** `src:dst:mode:rdrw:propagation` items separated by whitespace or commas. */
function parseMounts(s: string): Doc[] {
  const out: Doc[] = [];
  for (const item of splitWs(s.replaceAll(',', ' '))) {
    const [source, dest, mode, rdrw, propagation] = item.split(':');
    const m: Doc = {};
    put(m, 'source', source);
    put(m, 'dest', dest);
    put(m, 'mode', mode);
    put(m, 'rdrw', rdrw);
    put(m, 'propagation', propagation);
    out.push(m);
  }
  return out;
}

function ensureObj(o: Doc, k: string): Doc {
  const v = o[k];
  if (isObj(v)) return v;
  const n: Doc = {};
  o[k] = n;
  return n;
}

/**
 * Writes a dotted key as nested objects. Where a leaf already sits on the way (`ka.uri` and
 * `ka.uri.param[command]` in one alert), the key stays literal
 * instead of overwriting data: the whole key is kept literally at the top of `output_fields`.
 */
function setExpanded(root: Doc, key: string, value: unknown): void {
  let cur = root;
  let start = 0;
  for (;;) {
    const dot = key.indexOf('.', start);
    if (dot === -1) {
      const leaf = key.slice(start);
      if (isObj(cur[leaf])) root[key] = value;
      else cur[leaf] = value;
      return;
    }
    const seg = key.slice(start, dot);
    const next = cur[seg];
    if (next === undefined) {
      const n: Doc = {};
      cur[seg] = n;
      cur = n;
    } else if (isObj(next)) cur = next;
    else {
      root[key] = value;
      return;
    }
    start = dot + 1;
  }
}
