// Load test of the http_server source on loopback with autocannon: requests/s and latency for
// single-alert posts (as Falco's http_output sends them) and for 100-event audit EventLists (as
// kube-apiserver's webhook sends them), with acknowledgements on (each answer waits for the sink).
// Sinks: `file` to /dev/null (the source's own cost) and `elasticsearch` against the test-kit
// emulator in count mode, in its own process (the answer waits for a real _bulk round trip).
//
// usage: node bench/http-load.mjs [seconds=15] [sink=file|elasticsearch|both]
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { BIN, TMP, rssOf, startEmulator } from './lib.mjs';

const seconds = Number(process.argv[2] ?? 15);
const which = process.argv[3] ?? 'both';

const alert = JSON.stringify({
  uuid: '2d2f1ed4-4a0b-4d0b-9d61-2c0a2e5a1c11',
  output: '10:20:05.408091526: Warning Sensitive file opened for reading by non-trusted program (user=root user_loginuid=-1 program=cat command=cat /etc/shadow pid=4321 file=/etc/shadow parent=bash gparent=containerd-shim ggparent=<NA> container_id=612176b07673 image=ghcr.io/acme/checkout-api k8s.ns=payments k8s.pod=checkout-api-7d9f8b6c5-x2k4p)',
  priority: 'Warning',
  rule: 'Read sensitive file untrusted',
  time: '2024-11-22T10:20:05.408091526Z',
  source: 'syscall',
  hostname: 'worker-3',
  tags: ['filesystem', 'mitre_credential_access', 'T1555'],
  output_fields: { 'container.id': '612176b07673', 'container.image.repository': 'ghcr.io/acme/checkout-api', 'evt.time': 1732270805408091526, 'fd.name': '/etc/shadow', 'k8s.ns.name': 'payments', 'k8s.pod.name': 'checkout-api-7d9f8b6c5-x2k4p', 'proc.cmdline': 'cat /etc/shadow', 'proc.exepath': '/usr/bin/cat', 'proc.pid': 4321, 'user.loginuid': -1, 'user.name': 'root' },
});

const auditItem = (i) => ({
  level: 'Metadata',
  auditID: `a0000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  stage: 'ResponseComplete',
  requestURI: `/api/v1/namespaces/payments/pods/checkout-${i}`,
  verb: 'get',
  user: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: '2b5c1f8e-7a1d-4f3c-9d2e-1b8a6c4e0f93', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] },
  sourceIPs: ['10.0.0.7'],
  userAgent: 'kube-controller-manager/v1.31.0 (linux/amd64) kubernetes/9b5f4a4/system:serviceaccount:kube-system:replicaset-controller',
  objectRef: { resource: 'pods', namespace: 'payments', name: `checkout-${i}`, apiVersion: 'v1' },
  responseStatus: { metadata: {}, code: 200 },
  requestReceivedTimestamp: '2024-11-22T10:00:00.000000Z',
  stageTimestamp: '2024-11-22T10:00:00.002000Z',
  annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller"' },
});
const eventList = JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: Array.from({ length: 100 }, (_, i) => auditItem(i)) });

function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function startTern(sinkYaml) {
  const dir = join(TMP, `http-load-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'pipeline.yaml'),
    `data_dir: ./state
sources:
  falco: { type: http_server, address: 127.0.0.1:0, sender: falco, max_concurrent_requests: 256 }
  audit: { type: http_server, address: 127.0.0.1:0, sender: k8s_audit }
sinks:
${sinkYaml}`,
  );
  const child = spawn(process.execPath, ['--conditions=tern-src', BIN, 'run', '-c', join(dir, 'pipeline.yaml'), '--log-format', 'json', '--stats-interval', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const urls = {};
  await new Promise((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`tern exited ${c}`)));
    createInterface({ input: child.stderr }).on('line', (l) => {
      if (!l.startsWith('{')) return;
      const j = JSON.parse(l);
      if (j.msg === 'listening') urls[j.component] = j.url;
      if (urls.falco && urls.audit) resolve();
    });
  });
  return { child, urls };
}

async function load(name, url, body, connections, events, pid) {
  const cpu0 = cpuSeconds(pid);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid) || 0)), 250);
  const r = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration: seconds, pipelining: 1 });
  clearInterval(sampler);
  const cpu = cpuSeconds(pid) - cpu0;
  const row = {
    name,
    connections,
    req_s: Math.round(r.requests.average),
    events_s: Math.round(r.requests.average * events),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    max_ms: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    tern_cpu_pct: Math.round((cpu / r.duration) * 100),
    tern_rss_mb: Math.round(peak),
  };
  console.log(JSON.stringify(row));
  return row;
}

async function run(sink) {
  let emu;
  let sinkYaml;
  if (sink === 'file') {
    // A 1 ms batch timeout: each answer waits for the file sink's write, not its batching delay
    // (100 ms by default, which would make every row measure that delay instead of the source).
    sinkYaml = `  out: { type: file, inputs: [falco, audit], path: /dev/null, batch: { timeout_ms: 1 } }\n`;
  } else {
    emu = await startEmulator(['elasticsearch', '--store', 'count']);
    sinkYaml = `  es:
    type: elasticsearch
    inputs: [falco, audit]
    endpoints: ["${emu.url}"]
    mode: index
    index: bench
    id: none
    batch: { timeout_ms: 5 }
`;
  }
  const { child, urls } = await startTern(sinkYaml);
  const rows = [];
  for (const c of [1, 16, 64]) rows.push(await load(`${sink}: single alert (Falco)`, urls.falco, alert, c, 1, child.pid));
  for (const c of [1, 4]) rows.push(await load(`${sink}: EventList of 100 (apiserver)`, urls.audit, eventList, c, 100, child.pid));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  if (emu) console.error(JSON.stringify(await emu.stop()));
  return rows;
}

const out = [];
for (const s of which === 'both' ? ['file', 'elasticsearch'] : [which]) out.push(...(await run(s)));
console.log(`\nbody sizes: alert ${alert.length} B, EventList ${eventList.length} B; ${seconds} s per row\n`);
console.log('| sink: workload | connections | requests/s | events/s | p50 ms | p99 ms | max ms | non-2xx | tern CPU % | tern peak RSS MB |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of out) console.log(`| ${r.name} | ${r.connections} | ${r.req_s.toLocaleString('en')} | ${r.events_s.toLocaleString('en')} | ${r.p50_ms} | ${r.p99_ms} | ${r.max_ms} | ${r.non2xx} | ${r.tern_cpu_pct} | ${r.tern_rss_mb} |`);
