/**
 * Documents Elasticsearch accepts, as a user meets them: every sample of the four inputs, plus
 * generated adversarial variants (label keys that collide once dots are object boundaries, vendor
 * fields that change type from one event to the next, every envelope), go through `tern run --once`
 * with the `ecs` transform into the emulator with dynamic mapping (the built-in `logs-*-*` template,
 * as a stock cluster has it). Nothing may be refused, and no field may be dropped as malformed.
 * The same corpus with de-dotting off and Elastic's nested vendor shapes is refused, which is what
 * shows the first run's silence means something.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startElasticsearch, type ElasticsearchEmulator, sampleLines, type SampleName } from '@tern/test-kit';
import { nodeToExit, ternArgs } from '@tern/test-kit/e2e';


type J = Record<string, any>;
const read = (name: SampleName): J[] => sampleLines(name).map((l) => JSON.parse(l) as J);
const clone = <T>(v: T): T => structuredClone(v);

const COLLIDING = { app: 'web', 'app.kubernetes.io/name': 'web', 'app.kubernetes.io': 'x', 'app.kubernetes': 'y', 'pod-template-hash': '7d9f' };

/** Tetragon: every sample, each pod's labels (process, parent, ancestors) and the node's labels made to collide. */
function tetragonCorpus(): J[] {
  const out = read('tetragon.log');
  for (const line of read('tetragon.log')) {
    const v = clone(line);
    const key = Object.keys(v).find((k) => k.startsWith('process_')) as string;
    const body = v[key] as J;
    for (const p of [body.process, body.parent, ...(Array.isArray(body.ancestors) ? body.ancestors : [])]) {
      if (p?.pod) p.pod.pod_labels = { ...COLLIDING, ...(p.pod.pod_labels ?? {}) };
    }
    v.node_labels = { 'kubernetes.io/hostname': 'n1', 'kubernetes.io': 'k', kubernetes: 'v', 'topology.kubernetes.io/zone': 'a' };
    out.push(v);
  }
  return out;
}

/** Falco: every sample, plus output fields that collide as dotted paths and change type between alerts. */
function falcoCorpus(): J[] {
  const out = read('falco.json');
  const base = read('falco.json');
  const variants: Array<(f: J) => void> = [
    (f) => Object.assign(f, { 'ka.uri': '/version', 'ka.uri.param[command]': 'sh' }),
    (f) => Object.assign(f, { 'ka.uri': 404, 'proc.tty': 'pts/0', 'custom.plugin': 1, 'custom.plugin.sub': 'x' }),
    (f) => Object.assign(f, { 'proc.tty': { major: 136 }, 'ka.uri': ['/a', 2, { b: 1 }], 'custom.plugin': true }),
    (f) => Object.assign(f, { 'proc.tty': null, 'k8s.pod.labels': { 'app.kubernetes.io/name': 'x', app: 'y' } }),
  ];
  base.forEach((alert, i) => {
    const v = clone(alert);
    v.output_fields ??= {};
    variants[i % variants.length]?.(v.output_fields as J);
    out.push(v);
  });
  return out;
}

const POD = { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'p', labels: COLLIDING }, spec: { containers: [{ name: 'c', image: 'nginx', securityContext: { privileged: true } }] }, status: { phase: 'Running' } };
const STATUS = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'forbidden', reason: 'Forbidden', details: { name: 'p', kind: 'pods' }, code: 403 };

/** Kubernetes audit: every sample, whole objects of different kinds, colliding extra/annotation keys, and each envelope. */
function auditCorpus(): J[] {
  const out = read('k8s-audit.log');
  const first = read('k8s-audit.log')[0] as J;
  const ev = (over: J): J => ({ ...clone(first), ...over });
  out.push(
    ev({ auditID: 'v-pod', level: 'RequestResponse', requestObject: POD, responseObject: POD }),
    ev({ auditID: 'v-status', level: 'RequestResponse', requestObject: { kind: 'DeleteOptions', status: 7 }, responseObject: STATUS }),
    ev({ auditID: 'v-extra', user: { username: 'u', extra: { 'authentication.kubernetes.io/pod-name': ['x'], authentication: ['y'] } }, annotations: { a: 'x', 'a.b': 'y', 'authorization.k8s.io/decision': 'allow' } }),
    // AKS diagnostic records: the audit event as a JSON string, then as an object
    { category: 'kube-audit', operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read', properties: { log: JSON.stringify(ev({ auditID: 'aks-string' })), pod: 'kube-apiserver-1', stream: 'stdout' }, time: '2025-09-30T06:23:35.101355367Z' },
    { category: 'kube-audit', operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read', properties: { log: ev({ auditID: 'aks-object', responseObject: STATUS }), pod: 'kube-apiserver-1', stream: 'stdout' }, time: '2025-09-30T06:23:36.101355367Z' },
    // GKE Cloud Audit Log records: Elastic's test record, and one with the request and response objects
    ...read('gke-audit.log'),
    {
      protoPayload: { methodName: 'io.k8s.core.v1.pods.create', authenticationInfo: { principalEmail: 'admin@example.com' }, resourceName: 'core/v1/namespaces/default/pods/p', request: POD, response: STATUS, status: { code: 7, message: 'denied' } },
      insertId: 'gke-2',
      resource: { type: 'k8s_cluster', labels: { cluster_name: 'test-cluster', project_id: 'elastic-siem' } },
      timestamp: '2025-07-13T08:38:40.127266Z',
      labels: { 'authorization.k8s.io/decision': 'forbid' },
    },
  );
  return out;
}

/** Zeek: every conn/dns/http sample, and a conn line inside a Splunk search export. */
function zeekCorpus(): { conn: J[]; dns: J[]; http: J[] } {
  const conn = read('zeek-conn.log');
  conn.push({ preview: false, offset: 0, result: { _raw: JSON.stringify(conn[0]), host: 'zeek-sensor-1', source: '/opt/zeek/logs/current/conn.log', sourcetype: 'bro:conn:json' } });
  return { conn, dns: read('zeek-dns.log'), http: read('zeek-http.log') };
}

/** `tern <args>` in `cwd`, to its end. */
const run = (args: string[], cwd: string) => nodeToExit(ternArgs(args), cwd);

const STREAMS: Array<[string, string, string]> = [
  // source id, file, dataset
  ['tetragon', 'tetragon.log', 'cilium_tetragon.log'],
  ['falco', 'falco.json', 'falco.alerts'],
  ['audit', 'k8s-audit.log', 'kubernetes.audit_logs'],
  ['conn', 'conn.log', 'zeek.connection'],
  ['dns', 'dns.log', 'zeek.dns'],
  ['http', 'http.log', 'zeek.http'],
];
const PROFILE: Record<string, string> = { tetragon: 'tetragon', falco: 'falco', audit: 'k8s_audit', conn: 'zeek', dns: 'zeek', http: 'zeek' };

/** Writes the corpus and a pipeline sending each input through `ecs` into its integration's data stream. */
function setup(es: ElasticsearchEmulator, ecsExtra: string, sinkExtra = ''): { dir: string; counts: Record<string, number> } {
  const dir = mkdtempSync(join(tmpdir(), 'tern-ecs-docs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const z = zeekCorpus();
  const corpus: Record<string, J[]> = { tetragon: tetragonCorpus(), falco: falcoCorpus(), audit: auditCorpus(), conn: z.conn, dns: z.dns, http: z.http };
  const counts: Record<string, number> = {};
  let yaml = 'data_dir: ./state\nsources:\n';
  for (const [id, file] of STREAMS) {
    writeFileSync(join(dir, file), corpus[id]!.map((o) => JSON.stringify(o)).join('\n') + '\n');
    yaml += `  ${id}: { type: file, include: ["./${file}"] }\n`;
  }
  yaml += 'transforms:\n';
  for (const [id] of STREAMS) yaml += `  ${id}_ecs: { type: ecs, inputs: [${id}], profile: ${PROFILE[id]}${ecsExtra} }\n`;
  yaml += 'sinks:\n';
  for (const [id, , dataset] of STREAMS) {
    yaml += `  ${id}_es: { type: elasticsearch, inputs: [${id}_ecs], endpoints: ["${es.url}"], data_stream: { dataset: ${dataset} }, healthcheck: false${sinkExtra} }\n`;
    counts[`logs-${dataset}-default`] = corpus[id]!.length;
  }
  writeFileSync(join(dir, 'pipeline.yaml'), yaml);
  return { dir, counts };
}

describe('ECS documents index under Elasticsearch\'s dynamic mapping for logs-*-*', () => {
  it('every sample and every adversarial variant of every profile is accepted, with no field ignored', { timeout: 120_000 }, async () => {
    const es = await startElasticsearch({ dynamicMapping: true });
    after(() => es.close());
    const { dir, counts } = setup(es, '');
    const r = await run(['run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const refused = Object.entries(es.stats().itemsByStatus).filter(([s]) => Number(s) >= 300);
    assert.deepEqual(refused, [], 'no item refused');
    for (const [ds, n] of Object.entries(counts)) {
      assert.equal(es.count(ds), n, ds);
      assert.equal(es.mappingSource(ds), 'logs (built-in)', ds);
      const ignored = es.docs(ds).filter((d) => d._ignored !== undefined).map((d) => `${d._id}: ${d._ignored?.join(',')}`);
      assert.deepEqual(ignored, [], `${ds}: no field dropped as malformed`);
      for (const d of es.docs(ds)) assert.notEqual((d._source.event as J).kind, 'pipeline_error', `${ds}: ${JSON.stringify(d._source.error)}`);
    }
    // The envelopes were unwrapped by their profiles.
    const audits = es.docs('logs-kubernetes.audit_logs-default').map((d) => d._source);
    const gke = audits.find((s) => (s.kubernetes as J).audit.auditID === 'gke-2') as J;
    assert.deepEqual([gke.event.action, gke.event.outcome, gke.orchestrator.cluster, gke.user.name], ['create', 'failure', { name: 'test-cluster', id: 'elastic-siem' }, 'admin@example.com']);
    assert.ok(audits.some((s) => (s.kubernetes as J).audit.aks_metadata?.pod === 'kube-apiserver-1' && (s.kubernetes as J).audit.auditID === 'aks-object'));
    const splunk = es.docs('logs-zeek.connection-default').map((d) => d._source).find((s) => (s.host as J | undefined)?.name === 'zeek-sensor-1') as J;
    assert.equal(splunk.log.file.path, '/opt/zeek/logs/current/conn.log');
    assert.equal(splunk.event.dataset, 'zeek.connection');
  });

  it('control: with labels kept dotted and Elastic\'s nested vendor shapes, the same corpus is refused', { timeout: 120_000 }, async () => {
    const es = await startElasticsearch({ dynamicMapping: true });
    after(() => es.close());
    const { dir } = setup(es, ', dedot_labels: false, vendor_fields: nested');
    const r = await run(['run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json'], dir);
    assert.equal(r.code, 1, 'refused events with no dead-letter output: the run does not report success');
    assert.match(r.stderr, /refused for good with no dead-letter output/);
    const byStatus = es.stats().itemsByStatus;
    assert.ok((byStatus[400] ?? 0) > 0, `refusals expected: ${JSON.stringify(byStatus)}`);
    // Each free-form map the defaults protect is among the refused: labels, Falco output fields, audit objects.
    const stored = (ds: string) => es.count(ds);
    assert.ok(stored('logs-cilium_tetragon.log-default') < tetragonCorpus().length, 'colliding Tetragon labels refused');
    assert.ok(stored('logs-falco.alerts-default') < falcoCorpus().length, 'Falco ka.uri / ka.uri.param refused');
    assert.ok(stored('logs-kubernetes.audit_logs-default') < auditCorpus().length, 'Pod and Status objects in one index refused');
  });

  it('with the sink\'s index template (flattened vendor maps), Elastic\'s nested shapes and dotted labels index too', { timeout: 120_000 }, async () => {
    const es = await startElasticsearch({ dynamicMapping: true });
    after(() => es.close());
    const { dir, counts } = setup(es, ', dedot_labels: false, vendor_fields: nested', ', index_template: { install: true }');
    const r = await run(['run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(es.stats().itemsByStatus), ['201'], JSON.stringify(es.stats().itemsByStatus));
    for (const [ds, n] of Object.entries(counts)) {
      assert.equal(es.count(ds), n, ds);
      assert.match(es.mappingSource(ds) ?? '', /^tern-logs-/, ds);
    }
    assert.equal(es.mapping('logs-falco.alerts-default')['falco.output_fields'], 'flattened');
    assert.equal(es.mapping('logs-kubernetes.audit_logs-default')['kubernetes.audit.requestObject'], 'flattened');
  });
});
