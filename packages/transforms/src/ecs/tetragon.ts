/**
 * Cilium Tetragon JSON export → ECS, following Elastic's `cilium_tetragon.log` pipeline (see
 * ECS.md): the fields that pipeline moves to ECS leave `cilium_tetragon.log`, which keeps only the
 * remainder (the whole `parent.pod`, the kprobe payload, `ancestors`, ...). Where Elastic sets
 * nothing (event kind/category/type, process names, command lines, file and socket details) we add
 * what the ECS spec asks for; every such addition is listed in ECS.md.
 *
 * Hot path: Tetragon is the highest-volume input, so this builds the output with object literals in
 * one pass over the process objects, shares untouched sub-objects (labels, kprobe args) with the
 * input instead of copying them, and parses `time` with the allocation-free RFC 3339 scanner.
 */
import { formatIsoMs, parseRfc3339 } from '@tern/core';
import { basename, carryTagsAndTern, dedotKeys, ECS_VERSION, EcsShapeError, isObj, keyword, num, put, splitWs, str } from './common.ts';
import type { Doc, EcsMapContext } from './common.ts';

/** Event keys whose body carries `process` (+ `parent`) that Elastic's pipeline maps. */
const PROCESS_EVENTS = new Set(['process_exec', 'process_exit', 'process_kprobe', 'process_tracepoint', 'process_uprobe', 'process_lsm', 'process_loader', 'process_usdt']);
/** Event keys without a process to map: kept under `cilium_tetragon.log` only. */
const OTHER_EVENTS = new Set(['process_throttle', 'rate_limit_info']);
/** Fields of `process`/`parent` that Elastic moves (so they leave `cilium_tetragon.log`). */
const MOVED = new Set(['binary', 'arguments', 'cwd', 'pid', 'tid', 'exec_id', 'uid', 'start_time']);
/** Top-level keys an earlier stage of our pipeline may have added: carried over, not treated as Tetragon's. */
const CARRIED = new Set(['@timestamp', 'tags', 'tern']);

const NETWORK_TYPE: Record<string, string> = { AF_INET: 'ipv4', AF_INET6: 'ipv6' };
const DENY_ACTIONS = new Set(['KPROBE_ACTION_SIGKILL', 'KPROBE_ACTION_OVERRIDE']);
// Kernel MAY_WRITE | MAY_APPEND bits of the mask passed to security_file_permission and friends.
const MAY_WRITE_MASK = 0x2 | 0x8;

/** Pod keys whose maps are free-form Kubernetes labels/annotations (de-dotted unless `dedotLabels: false`). */
const LABEL_KEYS = new Set(['pod_labels', 'pod_annotations']);

/** Maps one Tetragon event. Throws EcsShapeError when no known event key is present. */
export function mapTetragon(input: Doc, ctx?: EcsMapContext): Doc {
  const dedot = ctx?.dedotLabels !== false;
  let key: string | undefined;
  let body: Doc | undefined;
  for (const k in input) {
    if (PROCESS_EVENTS.has(k) || OTHER_EVENTS.has(k)) {
      const b = input[k];
      if (isObj(b)) {
        key = k;
        body = b;
        break;
      }
    }
  }
  if (key === undefined || body === undefined) throw new EcsShapeError('no process_* event object in the document');

  const event: Doc = { kind: 'event' };
  const out: Doc = {};
  const ts = parseTimeField(input.time);
  if (ts !== undefined) out['@timestamp'] = ts;
  else if (input['@timestamp'] !== undefined) out['@timestamp'] = input['@timestamp'];
  out.ecs = { version: ECS_VERSION };
  out.event = event;

  // cilium_tetragon.log: the envelope as-is plus the event body's leftovers.
  const log: Doc = {};
  for (const k in input) if (k !== key && !CARRIED.has(k)) log[k] = input[k];
  if (dedot && isObj(log.node_labels)) log.node_labels = dedotKeys(log.node_labels);

  const nodeName = str(input.node_name);
  if (nodeName !== undefined) out.host = { name: nodeName };

  if (PROCESS_EVENTS.has(key)) {
    const rest: Doc = {};
    let restN = 0;
    for (const k in body) {
      if (k === 'process' || k === 'parent') continue;
      const v = body[k];
      rest[k] = dedot && k === 'ancestors' && Array.isArray(v) ? v.map(dedotProcessPod) : v;
      restN++;
    }
    const proc = body.process;
    let ecsProc: Doc | undefined;
    if (isObj(proc)) {
      ecsProc = mapProcessFields(proc);
      const left = processLeftovers(proc, dedot);
      if (left !== undefined) {
        rest.process = left;
        restN++;
      }
      const pod = proc.pod;
      if (isObj(pod)) mapPod(pod, out);
      const userName = isObj(proc.user) ? str(proc.user.name) : undefined;
      const uid = keyword(proc.uid);
      if (uid !== undefined) out.user = userName !== undefined ? { id: uid, name: userName } : { id: uid };
      else if (userName !== undefined) out.user = { name: userName };
    }
    const parent = body.parent;
    // Elastic takes no parent from process_loader; it then stays whole in the log.
    if (key !== 'process_loader' && isObj(parent)) {
      const ecsParent = mapProcessFields(parent);
      if (ecsParent !== undefined) (ecsProc ??= {}).parent = ecsParent;
      const left = parentLeftovers(parent, dedot);
      if (left !== undefined) {
        rest.parent = left;
        restN++;
      }
    } else if (parent !== undefined) {
      rest.parent = dedot ? dedotProcessPod(parent) : parent;
      restN++;
    }

    if (key === 'process_exec') {
      event.category = ['process'];
      event.type = ['start'];
      event.action = 'executed';
    } else if (key === 'process_exit') {
      event.category = ['process'];
      event.type = ['end'];
      event.action = 'end';
      const status = num(body.status);
      if (status !== undefined) (ecsProc ??= {}).exit_code = status;
    } else if (key === 'process_kprobe' || key === 'process_tracepoint' || key === 'process_uprobe' || key === 'process_lsm' || key === 'process_usdt') {
      mapHook(body, event, out);
    } else {
      // process_loader reports a shared object being loaded: ECS's `library` category.
      event.category = ['library'];
      event.type = ['start'];
    }
    if (ecsProc !== undefined) out.process = ecsProc;
    // Elastic's empty-value cleanup needs no walk here: protobuf JSON omits empty values, and the
    // only empties we could create (a pod container left with nothing) are never attached.
    if (restN > 0) log[key] = rest;
  } else {
    log[key] = body;
  }

  const cluster = str(input.cluster_name);
  if (cluster !== undefined) {
    let orch = out.orchestrator as Doc | undefined;
    if (orch === undefined) out.orchestrator = orch = { type: 'kubernetes' };
    orch.cluster = { name: cluster };
  }
  event.module = 'cilium_tetragon';
  event.dataset = 'cilium_tetragon.log';
  out.cilium_tetragon = { log };
  return carryTagsAndTern(input, out);
}

function parseTimeField(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = parseRfc3339(v);
  return t === undefined ? undefined : formatIsoMs(t);
}

/** The ECS `process` (or `process.parent`) fields of one Tetragon process object; undefined if none. */
function mapProcessFields(p: Doc): Doc | undefined {
  const o: Doc = {};
  const binary = str(p.binary);
  const args = str(p.arguments);
  if (binary !== undefined) {
    o.executable = binary;
    o.name = basename(binary);
    o.command_line = args !== undefined ? `${binary} ${args}` : binary;
  }
  if (args !== undefined) {
    const a = splitWs(args);
    if (a.length) o.args = a;
  }
  // Direct stores rather than put(): a shared setter sees every key and goes megamorphic.
  const cwd = str(p.cwd);
  if (cwd !== undefined) o.working_directory = cwd;
  const pid = num(p.pid);
  if (pid !== undefined) o.pid = pid;
  const tid = num(p.tid);
  if (tid !== undefined) o.thread = { id: tid };
  const entity = str(p.exec_id);
  if (entity !== undefined) o.entity_id = entity;
  const uid = keyword(p.uid);
  const userName = isObj(p.user) ? str(p.user.name) : undefined;
  if (uid !== undefined) o.user = userName !== undefined ? { id: uid, name: userName } : { id: uid };
  else if (userName !== undefined) o.user = { name: userName };
  const start = str(p.start_time);
  if (start !== undefined) o.start = start;
  else if (binary === undefined && pid === undefined && entity === undefined && o.user === undefined && cwd === undefined) return undefined;
  return o;
}

/** `process` minus what was moved; `pod` minus name/namespace/workload_kind/container id+name/image name. */
// Emptiness is tracked with counters, not with a `for…in` probe: a probe shared by objects of many
// shapes goes megamorphic and made this function the mapper's hot spot.
function processLeftovers(p: Doc, dedot: boolean): Doc | undefined {
  return leftovers(p, dedot, podLeftovers);
}

/** `parent` minus what was moved; the parent's pod stays whole (Elastic never maps it), labels de-dotted. */
function parentLeftovers(p: Doc, dedot: boolean): Doc | undefined {
  return leftovers(p, dedot, parentPod);
}

/** A process object minus the keys moved to ECS, its `pod` through `pod` (dropped when that leaves nothing). */
function leftovers(p: Doc, dedot: boolean, pod: (v: Doc, dedot: boolean) => Doc | undefined): Doc | undefined {
  const o: Doc = {};
  let n = 0;
  for (const k in p) {
    if (MOVED.has(k)) continue;
    const v = p[k];
    const w = k === 'pod' && isObj(v) ? pod(v, dedot) : v;
    if (w === undefined) continue;
    o[k] = w;
    n++;
  }
  return n > 0 ? o : undefined;
}

const parentPod = (v: Doc, dedot: boolean): Doc => (dedot ? dedotPod(v) : v);

/** The process's pod minus name/namespace/workload_kind/container id+name/image name; undefined when nothing is left. */
function podLeftovers(v: Doc, dedot: boolean): Doc | undefined {
  const po: Doc = {};
  let pn = 0;
  for (const pk in v) {
    if (pk === 'name' || pk === 'namespace' || pk === 'workload_kind') continue;
    const pv = v[pk];
    if (pk === 'container' && isObj(pv)) {
      const co: Doc = {};
      let cn = 0;
      for (const ck in pv) {
        if (ck === 'id' || ck === 'name') continue;
        const cv = pv[ck];
        if (ck === 'image' && isObj(cv)) {
          const io: Doc = {};
          let iN = 0;
          for (const ik in cv) {
            if (ik === 'name') continue;
            io[ik] = cv[ik];
            iN++;
          }
          if (iN > 0) {
            co.image = io;
            cn++;
          }
        } else {
          co[ck] = cv;
          cn++;
        }
      }
      if (cn > 0) {
        po.container = co;
        pn++;
      }
    } else {
      po[pk] = dedot && LABEL_KEYS.has(pk) && isObj(pv) ? dedotKeys(pv) : pv;
      pn++;
    }
  }
  return pn > 0 ? po : undefined;
}

/** A pod object with its label/annotation keys de-dotted; the same object when none has a dot. */
function dedotPod(pod: Doc): Doc {
  let out: Doc | undefined;
  for (const k of LABEL_KEYS) {
    const m = pod[k];
    if (!isObj(m)) continue;
    const d = dedotKeys(m);
    if (d !== m) (out ??= { ...pod })[k] = d;
  }
  return out ?? pod;
}

/** A process object (an ancestor, a loader's parent) with its pod's labels de-dotted; copy-on-write. */
function dedotProcessPod(p: unknown): unknown {
  if (!isObj(p) || !isObj(p.pod)) return p;
  const pod = dedotPod(p.pod);
  return pod === p.pod ? p : { ...p, pod };
}

function mapPod(pod: Doc, out: Doc): void {
  const orch: Doc = { type: 'kubernetes' };
  const ns = str(pod.namespace);
  if (ns !== undefined) orch.namespace = ns;
  const resource: Doc = { type: 'pod' };
  const podName = str(pod.name);
  if (podName !== undefined) resource.name = podName;
  const kind = str(pod.workload_kind);
  if (kind !== undefined) resource.parent = { type: kind };
  orch.resource = resource;
  out.orchestrator = orch;
  const c = pod.container;
  if (isObj(c)) {
    const container: Doc = {};
    const id = str(c.id);
    if (id !== undefined) container.id = id;
    const name = str(c.name);
    if (name !== undefined) container.name = name;
    const imageName = isObj(c.image) ? str(c.image.name) : undefined;
    if (imageName !== undefined) container.image = { name: imageName };
    if (container.id !== undefined || container.name !== undefined || imageName !== undefined) out.container = container;
  }
}

/** kprobe/tracepoint/uprobe/lsm: event classification from the hook, plus file and socket arguments. */
function mapHook(body: Doc, event: Doc, out: Doc): void {
  const fn = str(body.function_name) ?? str(body.event) ?? str(body.subsys);
  if (fn !== undefined) event.action = fn;
  let filePath: string | undefined;
  let sock: Doc | undefined;
  let mask = 0;
  const args = body.args;
  if (Array.isArray(args)) {
    for (const a of args) {
      if (!isObj(a)) continue;
      if (filePath === undefined) {
        const f = isObj(a.file_arg) ? a.file_arg : isObj(a.path_arg) ? a.path_arg : undefined;
        if (f !== undefined) filePath = str(f.path);
      }
      if (sock === undefined && isObj(a.sock_arg)) sock = a.sock_arg;
      if (typeof a.int_arg === 'number') mask |= a.int_arg;
    }
  }
  let category: string;
  let type: string[];
  const name = fn ?? '';
  if (sock !== undefined) {
    category = 'network';
    type = name === 'tcp_connect' ? ['connection', 'start'] : name === 'tcp_close' ? ['connection', 'end'] : ['connection'];
    out.source = endpoint(str(sock.saddr), num(sock.sport));
    out.destination = endpoint(str(sock.daddr), num(sock.dport));
    const fam = str(sock.family);
    const netType = fam !== undefined ? NETWORK_TYPE[fam] : undefined;
    const proto = str(sock.protocol);
    const transport = proto !== undefined ? (proto.startsWith('IPPROTO_') ? proto.slice(8) : proto).toLowerCase() : undefined;
    if (netType !== undefined || transport !== undefined) {
      const network: Doc = {};
      put(network, 'type', netType);
      put(network, 'transport', transport);
      out.network = network;
    }
  } else if (filePath !== undefined) {
    category = 'file';
    type = [fileType(name, mask)];
    out.file = { path: filePath };
  } else {
    category = 'process';
    type = name.includes('setuid') || name.includes('setgid') || name.includes('setres') || name.includes('capset') ? ['change'] : ['info'];
  }
  const action = str(body.action);
  if (action !== undefined && DENY_ACTIONS.has(action)) {
    type.push('denied');
    event.outcome = 'failure';
  } else if (isObj(body.return)) {
    const r = num(body.return.int_arg);
    if (r !== undefined) event.outcome = r < 0 ? 'failure' : 'success';
  }
  event.category = [category];
  event.type = type;
}

function endpoint(ip: string | undefined, port: number | undefined): Doc {
  const o: Doc = {};
  put(o, 'ip', ip);
  put(o, 'port', port);
  return o;
}

/** ECS file event type from the hooked function, or the access mask for permission hooks. */
function fileType(fn: string, mask: number): string {
  if (fn.includes('unlink') || fn.includes('rmdir')) return 'deletion';
  if (fn.includes('mkdir') || fn.includes('create') || fn.includes('mknod')) return 'creation';
  if (fn.includes('write') || fn.includes('truncate') || fn.includes('rename') || fn.includes('chmod') || fn.includes('chown')) return 'change';
  if (fn.startsWith('security_file_permission') || fn === 'security_mmap_file') return (mask & MAY_WRITE_MASK) !== 0 ? 'change' : 'access';
  return 'access';
}
