/**
 * A deterministic generator of Cilium Tetragon export-log lines (about 60% process_exec, 30%
 * process_exit, 10% process_kprobe; 800-1,500 bytes each), the same for a given count and seed:
 * the input of the end-to-end tests and the benchmarks (bench/gen-tetragon.mjs is its command).
 */
import { createWriteStream } from 'node:fs';

// Untyped on purpose: the generator builds JSON documents of free shape.
type Json = any;

/** A seeded pseudo-random stream in [0, 1) (mulberry32): the same seed, the same numbers, so a failing run can be replayed. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The lines (each with its newline), from a mulberry32 stream seeded with `seed`. */
export function* tetragonLog(n: number, seed = 42): Generator<string> {
  const rnd = mulberry32(seed);
  const ri = (a: number, b: number): number => a + Math.floor(rnd() * (b - a + 1));
  const pick = <T,>(arr: readonly T[]): T => arr[Math.floor(rnd() * arr.length)] as T;
  const HEX = '0123456789abcdef';
  const hex = (n: number): string => { let o = ''; for (let i = 0; i < n; i++) o += HEX[Math.floor(rnd() * 16)]; return o; };
  const b64 = (str: string): string => Buffer.from(str).toString('base64');

  const NODES = ['kind-worker', 'kind-worker2', 'kind-control-plane', 'prod-node-7f3a', 'prod-node-k9d4'];
  const WORKLOADS = [
    { ns: 'default', wl: 'xwing', kind: 'Pod', img: 'quay.io/cilium/json-mock:v1.3.8', cname: 'spaceship', labels: { app: 'xwing', class: 'xwing', org: 'alliance' } },
    { ns: 'default', wl: 'deathstar', kind: 'Deployment', img: 'quay.io/cilium/starwars:v2.1', cname: 'deathstar', labels: { class: 'deathstar', org: 'empire', 'app.kubernetes.io/name': 'deathstar' } },
    { ns: 'payments', wl: 'payments-api', kind: 'Deployment', img: 'registry.example.com/payments/api:2024.11.3', cname: 'api', labels: { app: 'payments-api', tier: 'backend' } },
    { ns: 'kube-system', wl: 'coredns', kind: 'Deployment', img: 'registry.k8s.io/coredns/coredns:v1.11.1', cname: 'coredns', labels: { 'k8s-app': 'kube-dns', 'pod-template-hash': '5dd5756b68' } },
    { ns: 'monitoring', wl: 'node-exporter', kind: 'DaemonSet', img: 'quay.io/prometheus/node-exporter:v1.7.0', cname: 'node-exporter', labels: { 'app.kubernetes.io/name': 'node-exporter', 'app.kubernetes.io/component': 'exporter' } },
    { ns: 'web', wl: 'nginx-frontend', kind: 'StatefulSet', img: 'docker.io/library/nginx:1.25.3-alpine', cname: 'nginx', labels: { app: 'nginx', 'controller-revision-hash': 'nginx-frontend-7b9c5d' } },
  ];
  const BINARIES: Array<[string, () => string]> = [
    ['/usr/bin/curl', () => `-s https://ebpf.io/applications/#tetragon`],
    ['/bin/sh', () => `-c "ls /var/run/secrets/kubernetes.io/serviceaccount"`],
    ['/usr/bin/python3', () => `/app/worker.py --queue jobs-${ri(1, 9)} --concurrency ${ri(1, 16)} --log-level info`],
    ['/usr/local/bin/node', () => `/srv/app/dist/server.js --port ${ri(3000, 3999)}`],
    ['/usr/bin/cat', () => pick(['/etc/passwd', '/etc/shadow', '/proc/self/status', '/etc/resolv.conf'])],
    ['/bin/ls', () => `-la /tmp/${hex(6)}`],
    ['/usr/sbin/nginx', () => `-g "daemon off;"`],
    ['/usr/bin/wget', () => `-q -O- http://payments-api.payments.svc.cluster.local:8080/healthz`],
    ['/usr/bin/grep', () => `-r --include=*.yaml token /etc/config`],
    ['/coredns', () => `-conf /etc/coredns/Corefile`],
  ];
  const CWDS = ['/', '/app', '/srv/app', '/tmp', '/root', '/usr/share/nginx/html', '/var/lib/app'];
  const KPROBES: Array<[string, () => Json[], string]> = [
    ['security_file_permission', () => [{ file_arg: { path: pick(['/etc/passwd', '/etc/shadow', '/etc/kubernetes/admin.conf', '/var/run/secrets/kubernetes.io/serviceaccount/token']), permission: pick(['-rw-r--r--', '-rw-r-----', '-rw-------']) } }, { int_arg: pick([2, 4]) }], 'file-monitoring-filtered'],
    ['security_mmap_file', () => [{ file_arg: { path: pick(['/usr/lib/x86_64-linux-gnu/libssl.so.3', '/usr/lib/libc.so.6', '/lib/ld-musl-x86_64.so.1']), permission: '-rwxr-xr-x' } }, { uint_arg: pick([1, 5]) }, { uint_arg: 2 }], 'file-monitoring-filtered'],
    ['fd_install', () => [{ int_arg: ri(3, 64) }, { file_arg: { path: pick(['/tmp/.X11-unix', '/dev/null', '/var/log/app.log', '/etc/ssl/certs/ca-certificates.crt']), permission: pick(['-rw-r--r--', 'crw-rw-rw-', 'drwxrwxrwt']) } }], 'fd-install'],
  ];

  let clockNs = 1732252800000000000n; // 2024-11-22T05:20:00Z
  const BOOT_NS = clockNs - 86400000000000n * 3n; // node booted 3 days earlier
  const iso = (ns: bigint): string => {
    const ms = Number(ns / 1000000n);
    const frac = (ns % 1000000000n).toString().padStart(9, '0');
    return new Date(ms).toISOString().slice(0, 19) + '.' + frac + 'Z';
  };

  function mkPod(wl: Json, podName: string, containerId: string, startNs: bigint): Json {
    return {
      namespace: wl.ns,
      name: podName,
      container: {
        id: 'containerd://' + containerId,
        name: wl.cname,
        image: { id: wl.img.split(':')[0] + '@sha256:' + hex(64), name: wl.img },
        start_time: iso(startNs),
        pid: ri(1, 400),
      },
      pod_labels: wl.labels,
      workload: wl.wl,
      workload_kind: wl.kind,
    };
  }

  function mkProcess(node: string, k8s: Json, parentExecId: string | undefined, withPod: boolean): Json {
    const pid = ri(1000, 4194304);
    const startNs = clockNs - BigInt(ri(0, 5e9));
    const [bin, argf] = pick(BINARIES);
    // Tetragon exec_id = base64("node:ktime_ns:pid"), ktime = ns since boot
    const execId = b64(`${node}:${(startNs - BOOT_NS) }:${pid}`);
    const p: Json = {
      exec_id: execId,
      pid,
      uid: pick([0, 0, 1000, 65534, 101]),
      cwd: pick(CWDS),
      binary: bin,
      arguments: argf(),
      flags: pick(['execve rootcwd clone', 'execve clone', 'execve rootcwd', 'procFS auid rootcwd']),
      start_time: iso(startNs),
      auid: 4294967295,
    };
    if (k8s) {
      // Tetragon attaches full pod info to the event's process; for the parent we keep only the
      // exec linkage (keeps lines in the ~800-1500 byte range the benchmark targets).
      if (withPod) { p.pod = mkPod(k8s.wl, k8s.podName, k8s.cid, k8s.cStart); p.docker = k8s.cid.slice(0, 31); }
    }
    if (parentExecId) p.parent_exec_id = parentExecId;
    p.tid = pid;
    return p;
  }

  function makeLine(): string {
    clockNs += BigInt(ri(50000, 2000000));
    const node = pick(NODES);
    const isK8s = rnd() < 0.85;
    const k8s = isK8s ? (() => {
      const wl = pick(WORKLOADS);
      return { wl, podName: `${wl.wl}-${hex(10).slice(0, 5)}`, cid: hex(64), cStart: clockNs - BigInt(ri(1e9, 9e12)) };
    })() : null;
    const gp = b64(`${node}:${ri(1e9, 9e12)}:${ri(1, 4e6)}`);
    const parent = mkProcess(node, k8s, gp, false);
    const proc = mkProcess(node, k8s, parent.exec_id, true);
    const r = rnd();
    let ev: Json;
    const t = iso(clockNs);
    if (r < 0.6) {
      ev = { process_exec: { process: proc, parent } };
    } else if (r < 0.9) {
      proc.refcnt = 0; // exit events carry refcnt
      ev = { process_exit: { process: proc, parent, signal: pick(['', '', '', 'SIGKILL', 'SIGTERM']), status: pick([0, 0, 0, 1, 2, 127]), time: t } };
    } else {
      const [fn, argsf, policy] = pick(KPROBES);
      ev = { process_kprobe: { process: proc, parent, function_name: fn, args: argsf(), action: 'KPROBE_ACTION_POST', policy_name: policy, return: { int_arg: pick([0, 0, 0, -13]) }, return_action: 'KPROBE_ACTION_POST' } };
    }
    ev.node_name = node;
    ev.time = t;
    return JSON.stringify(ev) + '\n';
  }


  for (let i = 0; i < n; i++) yield makeLine();
}

/** Writes `n` lines to `path` (in 1 MiB writes). */
export async function writeTetragonLog(path: string, n: number, seed = 42): Promise<void> {
  const out = createWriteStream(path);
  let buf = '';
  for (const line of tetragonLog(n, seed)) {
    buf += line;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  await new Promise<void>((resolve, reject) => out.end(buf, () => resolve()).once('error', reject));
}
