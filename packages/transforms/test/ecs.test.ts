/**
 * ecs transform: golden documents per profile (expected output written from the field tables in
 * shared/ecs/README.md, in test/fixtures/expected/), the transform envelope (replace, keep_original,
 * Zeek kind from the origin path), and malformed input, which must pass through tagged and counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogEvent, withDefaults, type OptionsInput } from '@tern/core';
import { ecsTransform, mapFalco, mapK8sAudit, mapTetragon, mapZeek, zeekLogFromPath, ECS_FAILURE_TAG, communityId } from '../src/ecs/index.ts';
import type { Doc, EcsConfig, ZeekLog } from '../src/ecs/index.ts';
import { expected, fixtureLine, fixtureLines, jsonEvent, origin, run } from './fixtures/context.ts';

const CREATED = '2024-11-06T15:00:00.000Z';
const isObjDoc = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

type Golden = [file: string, line: number, expectedName: string, map: (input: Doc) => Doc];
const zeek = (zeekLog: ZeekLog) => (input: Doc) => mapZeek(input, { zeekLog, ingestTime: CREATED });

const GOLDENS: Golden[] = [
  ['tetragon.log', 2, 'tetragon-process_exec', (i) => mapTetragon(i)],
  ['tetragon.log', 21, 'tetragon-process_exit', (i) => mapTetragon(i)],
  ['tetragon.log', 14, 'tetragon-process_kprobe-file', (i) => mapTetragon(i)],
  ['tetragon.log', 4, 'tetragon-process_kprobe-sock', (i) => mapTetragon(i)],
  ['falco.json', 1, 'falco-terminal-shell', (i) => mapFalco(i)],
  ['falco.json', 2, 'falco-read-sensitive-file', (i) => mapFalco(i)],
  ['falco.json', 4, 'falco-cloud-metadata', (i) => mapFalco(i)],
  ['falco.json', 12, 'falco-k8s-secret-deleted', (i) => mapFalco(i)],
  ['k8s-audit.log', 1, 'k8s-audit-list-allowed', (i) => mapK8sAudit(i)],
  ['k8s-audit.log', 3, 'k8s-audit-get-secret-forbidden', (i) => mapK8sAudit(i)],
  ['k8s-audit.log', 5, 'k8s-audit-unauthenticated', (i) => mapK8sAudit(i)],
  ['k8s-audit.log', 8, 'k8s-audit-create-clusterrole', (i) => mapK8sAudit(i)],
  ['k8s-audit.log', 15, 'k8s-audit-podsecurity-denied', (i) => mapK8sAudit(i)],
  ['zeek-conn.log', 1, 'zeek-conn-sf-http', zeek('conn')],
  ['zeek-conn.log', 5, 'zeek-conn-oth-icmp', zeek('conn')],
  ['zeek-conn.log', 8, 'zeek-conn-s1-iso-ts', zeek('conn')],
  ['zeek-dns.log', 1, 'zeek-dns-answer', zeek('dns')],
  ['zeek-dns.log', 2, 'zeek-dns-query-local', zeek('dns')],
  ['zeek-http.log', 1, 'zeek-http-get', zeek('http')],
  ['zeek-http.log', 2, 'zeek-http-post-bad-uri', zeek('http')],
];

for (const [file, line, name, map] of GOLDENS) {
  test(`golden ${name} (${file}:${line})`, () => {
    const input = JSON.parse(fixtureLine(file, line)) as Doc;
    assert.deepEqual(map(input), expected(name));
  });
}

test('the transform replaces each event with its mapped document (marked modified)', async () => {
  const line = fixtureLine('tetragon.log', 2);
  const ev = jsonEvent(line);
  const { out, ctx } = await run<EcsConfig>(ecsTransform, { profile: 'tetragon' }, [ev]);
  assert.equal(out.length, 1);
  assert.equal(out[0], ev);
  assert.equal(ev.modified, true);
  assert.deepEqual(ev.data, expected('tetragon-process_exec'));
  assert.deepEqual(JSON.parse(ev.toJson()), expected('tetragon-process_exec'));
  assert.equal(ctx.telemetry.snapshot().ecs_failures ?? 0, 0);
});

test('keep_original puts the raw line in event.original', async () => {
  const line = fixtureLine('k8s-audit.log', 1);
  const { out } = await run<EcsConfig>(ecsTransform, { profile: 'k8s_audit', keep_original: true }, [jsonEvent(line)]);
  const doc = out[0]?.data as { event: Doc };
  assert.equal(doc.event.original, line);
  assert.equal(doc.event.action, 'list');
});

test('every sample line maps without a failure, per profile', async () => {
  const cases: [OptionsInput<EcsConfig>, string][] = [
    [{ profile: 'tetragon' }, 'tetragon.log'],
    [{ profile: 'falco' }, 'falco.json'],
    [{ profile: 'k8s_audit' }, 'k8s-audit.log'],
    [{ profile: 'zeek' }, 'zeek-conn.log'],
    [{ profile: 'zeek' }, 'zeek-dns.log'],
    [{ profile: 'zeek' }, 'zeek-http.log'],
  ];
  for (const [cfg, file] of cases) {
    const events = fixtureLines(file).map((l) => jsonEvent(l, `/var/log/zeek/${file}`));
    const { out, ctx } = await run(ecsTransform, cfg, events);
    assert.equal(out.length, events.length, file);
    assert.equal(ctx.telemetry.snapshot().ecs_failures ?? 0, 0, file);
    for (const ev of out) {
      const d = ev.data as { event: Doc; error?: unknown; '@timestamp'?: unknown };
      assert.equal(d.error, undefined, file);
      assert.notEqual(d.event.kind, 'pipeline_error', file);
      assert.match(String(d['@timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, file);
    }
  }
});

test('zeek log kind comes from the origin file name when zeek_log is unset', async () => {
  assert.equal(zeekLogFromPath('/var/log/zeek/conn.log'), 'conn');
  assert.equal(zeekLogFromPath('zeek-conn.log'), 'conn');
  assert.equal(zeekLogFromPath('/logs/dns.2024-11-05.log'), 'dns');
  assert.equal(zeekLogFromPath('/logs/http.log.gz'), 'http');
  assert.equal(zeekLogFromPath('/logs/zeek.log'), undefined);
  const dns = new LogEvent(origin('/var/log/zeek/dns.log'), fixtureLine('zeek-dns.log', 1), 'json', undefined);
  const conn = new LogEvent(origin('/var/log/zeek/zeek-conn.log'), fixtureLine('zeek-conn.log', 1), 'json', undefined);
  const unknown = new LogEvent(origin('/var/log/zeek/weird.log'), fixtureLine('zeek-conn.log', 1), 'json', undefined);
  const { out, ctx } = await run<EcsConfig>(ecsTransform, { profile: 'zeek' }, [dns, conn, unknown]);
  assert.equal((out[0]?.data.event as Doc).dataset, 'zeek.dns');
  assert.equal((out[1]?.data.event as Doc).dataset, 'zeek.connection');
  assert.ok(((out[2]?.data.tags as string[]) ?? []).includes(ECS_FAILURE_TAG));
  assert.equal(ctx.telemetry.snapshot().ecs_failures, 1);
  // The option wins over the file name.
  const forced = new LogEvent(origin('/var/log/zeek/weird.log'), fixtureLine('zeek-http.log', 1), 'json', undefined);
  const r2 = await run<EcsConfig>(ecsTransform, { profile: 'zeek', zeek_log: 'http' }, [forced]);
  assert.equal((r2.out[0]?.data.event as Doc).dataset, 'zeek.http');
});

test('malformed input is passed on with error.message and a tag, never dropped, and counted', async () => {
  const notJson = new LogEvent(origin('/x.log'), '{"process_exec": {"process": ', 'json', undefined);
  const wrongShape = jsonEvent('{"hello":"world","tags":["seen"]}');
  const textLine = new LogEvent(origin('/x.log'), 'just some text', 'text', undefined);
  const arrayLine = new LogEvent(origin('/x.log'), '[1,2,3]', 'json', undefined);
  const { out, ctx } = await run<EcsConfig>(ecsTransform, { profile: 'tetragon', keep_original: true }, [notJson, wrongShape, textLine, arrayLine]);
  assert.equal(out.length, 4);
  assert.equal(ctx.telemetry.snapshot().ecs_failures, 4);
  const messages = (d: Doc): string[] => {
    const m = (d.error as Doc).message;
    return Array.isArray(m) ? (m as string[]) : [m as string];
  };
  for (const ev of out) {
    const d = ev.data as { tags: string[]; event: Doc };
    assert.ok(d.tags.includes(ECS_FAILURE_TAG));
    assert.ok(messages(d).some((m) => m.startsWith('ecs tetragon: ')));
    assert.equal(d.event.kind, 'pipeline_error');
    assert.equal(ev.modified, true);
  }
  const [a, b, c] = out.map((e) => e.data);
  assert.equal(a?.message, '{"process_exec": {"process": ');
  // Either we saw the SyntaxError, or the event decoder already marked the line (and we append).
  assert.ok(messages(a as Doc).some((m) => /not JSON|invalid JSON/.test(m)));
  assert.equal((a?.event as Doc).original, '{"process_exec": {"process": ');
  // The original fields are kept; existing tags are extended.
  assert.equal(b?.hello, 'world');
  assert.deepEqual(b?.tags, ['seen', ECS_FAILURE_TAG]);
  assert.equal(c?.message, 'just some text');
});

test('each profile rejects documents of another shape', async () => {
  const bad: [OptionsInput<EcsConfig>, string][] = [
    [{ profile: 'falco' }, '{"output_fields": "x", "rule": "r"}'],
    [{ profile: 'falco' }, '{"kind":"Event"}'],
    [{ profile: 'k8s_audit' }, '{"process_exec":{}}'],
    [{ profile: 'k8s_audit' }, '{"properties":{"log":"not json"}}'],
    [{ profile: 'zeek', zeek_log: 'conn' }, '{"uid":"C1","id.orig_h":"10.0.0.1"}'],
    [{ profile: 'zeek', zeek_log: 'conn' }, '{"ts":"yesterday"}'],
    [{ profile: 'tetragon' }, '{"process_exec": "not an object"}'],
  ];
  for (const [cfg, line] of bad) {
    const { out, ctx } = await run(ecsTransform, cfg, [jsonEvent(line)]);
    assert.ok((out[0]?.data.tags as string[]).includes(ECS_FAILURE_TAG), line);
    assert.equal(ctx.telemetry.snapshot().ecs_failures, 1, line);
  }
});

test('a JSON line that arrived as text ({message}) is parsed before mapping', async () => {
  const line = fixtureLine('tetragon.log', 21);
  const ev = new LogEvent(origin('/x.log'), line, 'text', undefined);
  const { out } = await run<EcsConfig>(ecsTransform, { profile: 'tetragon' }, [ev]);
  assert.deepEqual(out[0]?.data, expected('tetragon-process_exit'));
});

test('fields added by an earlier stage (@timestamp fallback, tags, tern) are carried over', () => {
  const input = JSON.parse(fixtureLine('tetragon.log', 2)) as Doc;
  delete input.time;
  input['@timestamp'] = '2024-01-01T00:00:00.000Z';
  input.tags = ['from_before'];
  input.tern = { timestamp_nanos: '2024-01-01T00:00:00.000000001Z' };
  const out = mapTetragon(input);
  assert.equal(out['@timestamp'], '2024-01-01T00:00:00.000Z');
  assert.deepEqual(out.tags, ['from_before']);
  assert.deepEqual(out.tern, input.tern);
  const log = (out.cilium_tetragon as { log: Doc }).log;
  assert.equal(log.tags, undefined);
  assert.equal(log['@timestamp'], undefined);
});

test('tetragon details: exit signal stays in the log, host processes, IPv6 sockets, setuid hooks', () => {
  const killed = mapTetragon(JSON.parse(fixtureLine('tetragon.log', 15)) as Doc);
  assert.equal((killed.process as Doc).exit_code, undefined);
  assert.equal(((killed.cilium_tetragon as { log: { process_exit: Doc } }).log.process_exit).signal, 'SIGKILL');
  const host = mapTetragon(JSON.parse(fixtureLine('tetragon.log', 28)) as Doc);
  assert.equal(host.container, undefined);
  assert.deepEqual(host.orchestrator, { type: 'kubernetes', cluster: { name: 'ci-eu-west-1' } });
  assert.deepEqual(host.user, { id: '1000', name: 'ec2-user' });
  assert.equal((host.process as Doc).args, undefined); // no arguments → no process.args (Elastic)
  const v6 = mapTetragon(JSON.parse(fixtureLine('tetragon.log', 34)) as Doc);
  assert.deepEqual(v6.network, { type: 'ipv6', transport: 'tcp' });
  assert.equal((v6.destination as Doc).ip, '2a05:d018:1f2:5e00::443');
  const setuid = mapTetragon(JSON.parse(fixtureLine('tetragon.log', 23)) as Doc);
  assert.deepEqual(setuid.event, {
    kind: 'event',
    action: '__x64_sys_setuid',
    category: ['process'],
    type: ['change'],
    outcome: 'failure',
    module: 'cilium_tetragon',
    dataset: 'cilium_tetragon.log',
  });
});

test('falco details: evt_time, severity scale, technique only from the first matching tag', () => {
  const newTime = mapFalco(JSON.parse(fixtureLine('falco.json', 3)) as Doc);
  assert.equal(newTime['@timestamp'], '2024-11-07T03:12:48.551Z');
  assert.equal((newTime.event as Doc).severity, 99);
  assert.equal(newTime.threat, undefined); // TA0003 is a tactic, not a technique
  assert.deepEqual((newTime.falco as Doc).output_fields, {});
  const err = mapFalco(JSON.parse(fixtureLine('falco.json', 15)) as Doc);
  assert.equal((err.event as Doc).severity, 73);
  assert.deepEqual(err.container, { id: 'host', name: 'host' });
  assert.deepEqual((err.event as Doc).type, ['change']); // init_module
  // Falco's own rule tags stay under falco.tags; no top-level tags.
  assert.equal(err.tags, undefined);
});

test('k8s audit: AKS diagnostic envelopes are unwrapped', () => {
  const inner = JSON.parse(fixtureLine('k8s-audit.log', 1)) as Doc;
  const aks = {
    category: 'kube-audit',
    operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
    resourceId: '/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS1',
    time: '2024-11-06T14:01:55.1089020Z',
    properties: { log: JSON.stringify(inner), pod: 'kube-apiserver-7d9f', stream: 'stdout', containerID: 'abc123' },
  };
  const out = mapK8sAudit(aks);
  const want = expected('k8s-audit-list-allowed');
  (want.kubernetes as { audit: Doc }).audit.aks_metadata = {
    category: 'kube-audit',
    operation_name: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
    resource_id: '/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS1',
    time: '2024-11-06T14:01:55.1089020Z',
    container_id: 'abc123',
    pod: 'kube-apiserver-7d9f',
    stream: 'stdout',
  };
  want.cloud = { provider: 'azure' };
  assert.deepEqual(out, want);
  // The newer form carries the audit event as an object: same document.
  assert.deepEqual(mapK8sAudit({ ...aks, properties: { ...aks.properties, log: inner } }), want);
});

test('k8s audit: GKE Cloud Audit Log records are renamed into audit Events (Elastic\'s test record)', () => {
  // The GKE record of Elastic's kubernetes audit_logs pipeline test (test-audit.log, line 4).
  const gke = JSON.parse(fixtureLine('gke-audit.log', 1)) as Doc;
  const out = mapK8sAudit(gke);
  const audit = (out.kubernetes as { audit: Doc }).audit;
  // Elastic's renames and fields (expected test output):
  assert.equal(audit.auditID, '1234abcd');
  assert.equal(audit.requestReceivedTimestamp, '2025-07-13T08:38:41.005864307Z');
  assert.equal(audit.stageTimestamp, '2025-07-13T08:38:39.127266Z');
  assert.deepEqual(audit.responseStatus, { code: 0 });
  assert.equal((audit.protoPayload as Doc).status, undefined);
  assert.deepEqual(audit.annotations, { 'authorization_k8s_io/decision': 'allow', 'authorization_k8s_io/reason': 'RBAC: allowed by ClusterRoleBinding' });
  assert.equal((out.event as Doc).outcome, 'success');
  assert.deepEqual(out.orchestrator, { type: 'kubernetes', resource: { name: 'readyz', type: 'k8s_cluster' }, cluster: { name: 'test-cluster', id: 'elastic-siem' } });
  assert.equal(out['@timestamp'], '2025-07-13T08:38:39.127Z');
  // Additions: the verb from the method name, the caller, the cloud.
  assert.equal((out.event as Doc).action, 'get');
  assert.deepEqual(out.user, { name: 'system:gke-master-healthcheck' });
  assert.deepEqual(out.source, { ip: ['67.43.156.1'] });
  assert.deepEqual(out.user_agent, { original: 'gke-master-healthcheck' });
  assert.deepEqual(out.cloud, { provider: 'gcp', region: 'us-central1', project: { id: 'elastic-siem' } });
  assert.deepEqual((audit.resource as Doc).labels, { cluster_name: 'test-cluster', project_id: 'elastic-siem' });
  assert.equal(out.http, undefined, 'a gRPC status code is not an HTTP status');
});

test('Splunk search exports: the event is result._raw, host and source become host.name and log.file.path', async () => {
  const line = fixtureLine('zeek-conn.log', 1);
  const wrapped = JSON.stringify({ preview: false, offset: 0, result: { _raw: line, host: 'zeek-sensor-1', source: '/opt/zeek/logs/current/conn.log', sourcetype: 'bro:conn:json' } });
  const ev = jsonEvent(wrapped, '/exports/splunk-export.json');
  const { out, ctx } = await run<EcsConfig>(ecsTransform, { profile: 'zeek', keep_original: true }, [ev]);
  const d = out[0]?.data as Doc;
  const want = mapZeek(JSON.parse(line) as Doc, { zeekLog: 'conn' });
  assert.equal(ctx.telemetry.snapshot().ecs_failures ?? 0, 0);
  assert.deepEqual(d.zeek, want.zeek);
  assert.deepEqual(d.source, want.source);
  assert.deepEqual(d.host, { name: 'zeek-sensor-1' });
  assert.deepEqual(d.log, { file: { path: '/opt/zeek/logs/current/conn.log' } });
  assert.equal((d.event as Doc).original, line, 'event.original is the raw event');
  const bad = await run<EcsConfig>(ecsTransform, { profile: 'zeek', zeek_log: 'conn' }, [jsonEvent('{"result":{"_raw":"not json"}}')]);
  assert.ok((bad.out[0]?.data.tags as string[]).includes(ECS_FAILURE_TAG));
});

test('Splunk search exports are unwrapped by every profile, not only Zeek (ECS.md "Envelopes")', async () => {
  const cases: Array<[EcsConfig['profile'], string, (d: Doc) => Doc]> = [
    ['tetragon', 'tetragon.log', (d) => mapTetragon(d)],
    ['falco', 'falco.json', (d) => mapFalco(d)],
    ['k8s_audit', 'k8s-audit.log', (d) => mapK8sAudit(d)],
  ];
  for (const [profile, file, map] of cases) {
    const line = fixtureLine(file, 1);
    const wrapped = JSON.stringify({ preview: false, offset: 0, result: { _raw: line, host: 'forwarder-1', source: `/var/log/${file}`, sourcetype: profile } });
    const { out, ctx } = await run<EcsConfig>(ecsTransform, { profile }, [jsonEvent(wrapped, '/exports/splunk-export.json')]);
    const d = out[0]?.data as Doc;
    const want = map(JSON.parse(line) as Doc);
    assert.equal(ctx.telemetry.snapshot().ecs_failures ?? 0, 0, profile);
    assert.equal(d.result, undefined, `${profile}: the wrapper is gone`);
    assert.deepEqual(d.event, want.event, profile);
    assert.deepEqual(d.log, { file: { path: `/var/log/${file}` } }, profile);
    // The event's own host (Tetragon's node_name, Falco's hostname) wins over the forwarder's.
    assert.deepEqual(d.host, (want.host as Doc | undefined) ?? { name: 'forwarder-1' }, profile);
  }
});

test('metadata the file source wrote (add_metadata: ecs, path_fields) stays at its ECS place, for every profile', async () => {
  const cases: [OptionsInput<EcsConfig>, string, string, (d: Doc) => unknown][] = [
    [{ profile: 'tetragon' }, 'tetragon.log', '/var/log/pods/payments_checkout/tetragon.log', (d) => (d.cilium_tetragon as { log: Doc }).log],
    [{ profile: 'falco' }, 'falco.json', '/var/log/pods/payments_checkout/falco.json', (d) => (d.falco as Doc).output_fields],
    [{ profile: 'k8s_audit' }, 'k8s-audit.log', '/var/log/pods/payments_checkout/audit.log', (d) => (d.kubernetes as { audit: Doc }).audit],
    [{ profile: 'zeek' }, 'zeek-conn.log', '/var/log/zeek/checkout-7d9f/conn.log', (d) => (d.zeek as Doc).connection],
  ];
  for (const [cfg, file, path, vendor] of cases) {
    const o = { sourceId: 'src', path, host: 'node-a', fields: { 'k8s.pod.name': 'checkout-7d9f', 'zeek.log': 'conn', pod: 'checkout-7d9f' } };
    const input = JSON.parse(fixtureLine(file, 1)) as Doc;
    // What the file source writes with add_metadata: ecs.
    Object.assign(input, { log: { file: { path }, offset: 1234 }, k8s: { pod: { name: 'checkout-7d9f' } }, pod: 'checkout-7d9f' });
    if (!isObjDoc(input.host)) input.host = { name: 'node-a' };
    if (cfg.profile === 'zeek') input.zeek = { log: 'conn' };
    const ev = new LogEvent(o, JSON.stringify(input), 'json', input);
    const { out } = await run<EcsConfig>(ecsTransform, cfg, [ev]);
    const d = out[0]?.data as Doc;
    assert.deepEqual(d.log, { file: { path }, offset: 1234 }, cfg.profile);
    assert.deepEqual(d.k8s, { pod: { name: 'checkout-7d9f' } }, cfg.profile);
    assert.equal(d.pod, 'checkout-7d9f', cfg.profile);
    assert.equal(typeof (d.host as Doc).name, 'string', cfg.profile);
    const v = JSON.stringify(vendor(d));
    assert.ok(!v.includes('"k8s":{') && !v.includes('"pod":"checkout-7d9f"'), `${cfg.profile}: path fields are not in the vendor namespace: ${v.slice(0, 200)}`);
    assert.ok(!v.includes('"log":{"file"') && !v.includes('"offset":1234'), `${cfg.profile}: file metadata not in the vendor namespace`);
    if (cfg.profile === 'zeek') assert.equal((d.zeek as Doc).log, 'conn');
  }
  // The profile's own host.name wins over the collector's (Tetragon: the node that saw the event).
  const t = JSON.parse(fixtureLine('tetragon.log', 1)) as Doc;
  const mapped = (await run<EcsConfig>(ecsTransform, { profile: 'tetragon' }, [jsonEvent(JSON.stringify({ ...t, host: { name: 'collector' } }))])).out[0]?.data as Doc;
  assert.equal((mapped.host as Doc).name, t.node_name);
});

test('dedot_labels: false keeps label keys as Kubernetes wrote them', async () => {
  const line = fixtureLine('tetragon.log', 2);
  const { out } = await run<EcsConfig>(ecsTransform, { profile: 'tetragon', dedot_labels: false }, [jsonEvent(line)]);
  const labels = ((((out[0]?.data.cilium_tetragon as { log: Doc }).log.process_exec as Doc).process as Doc).pod as Doc).pod_labels as Doc;
  assert.ok(Object.keys(labels).includes('app.kubernetes.io/name'));
  const deDotted = mapTetragon(JSON.parse(line) as Doc);
  const labels2 = ((((deDotted.cilium_tetragon as { log: Doc }).log.process_exec as Doc).process as Doc).pod as Doc).pod_labels as Doc;
  assert.deepEqual(Object.keys(labels2).sort(), ['app_kubernetes_io/name', 'app_kubernetes_io/part-of', 'pod-template-hash']);
});

test('vendor_fields: flat makes Falco output fields one level of keyword strings; nested is Elastic\'s shape', () => {
  const alert = JSON.parse(fixtureLine('falco.json', 1)) as Doc;
  (alert.output_fields as Doc)['ka.uri'] = '/version';
  (alert.output_fields as Doc)['ka.uri.param[command]'] = 'sh';
  (alert.output_fields as Doc)['custom.obj'] = { a: 1 };
  const flat = (mapFalco(alert).falco as Doc).output_fields as Doc;
  assert.equal(flat.ka_uri, '/version');
  assert.equal(flat['ka_uri_param[command]'], 'sh');
  assert.equal(flat.proc_tty, '34816');
  assert.equal(flat.custom_obj, '{"a":1}');
  assert.ok(Object.values(flat).every((v) => v === null || typeof v === 'string' || Array.isArray(v)));
  const nested = (mapFalco(alert, { vendorFields: 'nested' }).falco as Doc).output_fields as Doc;
  assert.deepEqual((nested.proc as Doc).tty, 34816);
  assert.equal(((nested.ka as Doc).uri), '/version');
  const audit = JSON.parse(fixtureLine('k8s-audit.log', 8)) as Doc;
  assert.equal(typeof ((mapK8sAudit(audit).kubernetes as { audit: Doc }).audit.requestObject), 'string');
  assert.equal(typeof ((mapK8sAudit(audit, { vendorFields: 'nested' }).kubernetes as { audit: Doc }).audit.requestObject), 'object');
});

test('community id matches Zeek and the spec (both directions of a flow share one id)', () => {
  assert.equal(communityId('10.52.1.23', '10.56.0.10', 17, 51022, 53), '1:29RVkhDrlFYXi8p1spDH/bnrCGs=');
  assert.equal(communityId('10.56.0.10', '10.52.1.23', 17, 53, 51022), '1:29RVkhDrlFYXi8p1spDH/bnrCGs=');
  assert.equal(communityId('10.52.1.23', '10.52.2.14', 6, 37702, 5432), '1:/M5u3Jtrtt/V0yLT/Kf4FQemj3w=');
  // Port 0 TCP: no id (Elastic's output has none).
  assert.equal(communityId('10.0.0.1', '10.0.0.2', 6, 0, 80), undefined);
  // ICMP echo request and reply hash alike.
  assert.equal(communityId('10.0.0.1', '10.0.0.2', 1, 8, 0), communityId('10.0.0.2', '10.0.0.1', 1, 0, 0));
  assert.ok(communityId('2001:db8:85a3::8a2e:370:7334', '2001:db8:100::10', 6, 55012, 443)?.startsWith('1:'));
  assert.equal(communityId('not-an-ip', '10.0.0.1', 6, 1, 2), undefined);
});

test('definition: schema is closed and documents every option; validate checks zeek_log', () => {
  const schema = ecsTransform.schema as { additionalProperties: boolean; properties: Record<string, Record<string, unknown>> };
  assert.equal(schema.additionalProperties, false);
  for (const [k, p] of Object.entries(schema.properties)) {
    assert.ok(typeof p.description === 'string', k);
    assert.ok(Array.isArray(p.examples), k);
  }
  assert.equal(ecsTransform.mutates, true);
  assert.equal(ecsTransform.type, 'ecs');
  assert.deepEqual(ecsTransform.validate?.(withDefaults(ecsTransform, { profile: 'falco', zeek_log: 'dns' })), ['zeek_log: only applies to profile "zeek" (profile is "falco")']);
  assert.equal(ecsTransform.validate?.(withDefaults(ecsTransform, { profile: 'zeek', zeek_log: 'dns' })), undefined);
});

test('an earlier error.message is kept: ours is appended, as Elastic appends', async () => {
  const ev = jsonEvent('{"message":"x","error":{"message":"invalid JSON: Unexpected token"},"tags":["_json_parse_failure"]}');
  const { out } = await run<EcsConfig>(ecsTransform, { profile: 'falco' }, [ev]);
  const d = out[0]?.data as { error: { message: unknown }; tags: string[] };
  assert.deepEqual(d.error.message, ['invalid JSON: Unexpected token', 'ecs falco: neither rule nor output_fields in the document']);
  assert.deepEqual(d.tags, ['_json_parse_failure', ECS_FAILURE_TAG]);
});

test('tetragon events without a process to map (rate_limit_info, process_loader) still map', () => {
  const rl = mapTetragon({ rate_limit_info: { number_of_dropped_process_events: '12' }, node_name: 'n1', time: '2024-11-05T08:57:41Z' });
  assert.deepEqual(rl, {
    '@timestamp': '2024-11-05T08:57:41.000Z',
    ecs: { version: '8.11.0' },
    event: { kind: 'event', module: 'cilium_tetragon', dataset: 'cilium_tetragon.log' },
    host: { name: 'n1' },
    cilium_tetragon: { log: { rate_limit_info: { number_of_dropped_process_events: '12' }, node_name: 'n1', time: '2024-11-05T08:57:41Z' } },
  });
  // process_loader: the process is mapped, its parent is not (as in Elastic).
  const loader = mapTetragon({
    process_loader: { process: { binary: '/bin/x', pid: 7 }, parent: { binary: '/bin/p', pid: 1 }, path: '/lib/libc.so.6' },
    node_name: 'n1',
    time: '2024-11-05T08:57:41Z',
  });
  assert.deepEqual(loader.process, { executable: '/bin/x', name: 'x', command_line: '/bin/x', pid: 7 });
  assert.deepEqual([(loader.event as Doc).category, (loader.event as Doc).type], [['library'], ['start']]);
  assert.deepEqual((loader.cilium_tetragon as { log: Doc }).log.process_loader, { path: '/lib/libc.so.6', parent: { binary: '/bin/p', pid: 1 } });
});

test('whitespace split follows Elastic (Java \\s: ASCII only; quotes stay inside tokens)', async () => {
  const { splitWs, pruneEmpty } = await import('../src/ecs/common.ts');
  assert.deepEqual(splitWs('  -c  "a b"\t>/dev/null\n'), ['-c', '"a', 'b"', '>/dev/null']);
  assert.deepEqual(splitWs('a\u00a0b c'), ['a\u00a0b', 'c']); // no-break space is not \s in Java
  assert.deepEqual(splitWs('   '), []);
  // Elastic's empty-value cleanup, copy-on-write.
  const clean = { a: 1, b: { c: [1] } };
  assert.equal(pruneEmpty(clean), clean);
  assert.deepEqual(pruneEmpty({ a: '', b: { c: null, d: [] }, e: [{}, 'x', ''], f: 0, g: false }), { e: ['x'], f: 0, g: false });
  assert.equal(pruneEmpty({ a: { b: {} } }), undefined);
});

test('profiles are pure: a deep-frozen input maps without being written to', () => {
  const freeze = (v: unknown): unknown => {
    if (v !== null && typeof v === 'object') {
      for (const x of Object.values(v)) freeze(x);
      Object.freeze(v);
    }
    return v;
  };
  const cases: [string, (d: Doc) => Doc][] = [
    ['tetragon.log', (d) => mapTetragon(d)],
    ['falco.json', (d) => mapFalco(d)],
    ['k8s-audit.log', (d) => mapK8sAudit(d)],
    ['zeek-conn.log', zeek('conn')],
    ['zeek-dns.log', zeek('dns')],
    ['zeek-http.log', zeek('http')],
  ];
  for (const [file, map] of cases) {
    for (const line of fixtureLines(file)) {
      const input = freeze(JSON.parse(line)) as Doc;
      assert.doesNotThrow(() => map(input), `${file}: ${line.slice(0, 60)}`);
      assert.deepEqual(input, JSON.parse(line));
    }
  }
});
