/**
 * The two senders against the real binary, through Elasticsearch (the test-kit emulator), counting
 * what each sender believes it delivered against what was stored:
 *
 * - Falco alerts, one per request as `http_output` posts them, and kube-apiserver audit EventLists
 *   arrive once each.
 * - With Elasticsearch down and no room left in tern, the audit webhook source refuses with 503 and
 *   Retry-After, and the emulated apiserver's retry delivers everything after recovery; the Falco
 *   source holds its answers (Falco would count any answer as delivered), and every alert that
 *   three emulated Falcos sent arrives.
 * - At shutdown, a request whose events no sink acknowledged is answered 503 with Retry-After.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditWebhookSender, FalcoSender, type ElasticsearchEmulator } from '@tern/test-kit';
import { auditEvent, elasticsearch, esSink, falcoAlert, logs, serve, until } from './helpers.ts';

const stream = (dataset: string): string => `logs-${dataset}-default`;
const seqs = (es: ElasticsearchEmulator, dataset: string, key: string): string[] => es.docs(stream(dataset)).map((d) => String(d._source[key]));

describe('delivery', () => {
  it('Falco alerts posted one per request and audit EventLists arrive at Elasticsearch once each', async (t) => {
    const es = await elasticsearch(t);
    const s = await serve(
      t,
      `data_dir: ./state
sources:
  falco: { type: http_server, address: 127.0.0.1:0, sender: falco }
sinks:
${esSink('falco_es', 'falco', es.url, 'falco')}`,
    );
    const audit = await serve(
      t,
      `data_dir: ./state
sources:
  audit: { type: http_server, address: 127.0.0.1:0, sender: k8s_audit, paths: [/audit] }
sinks:
${esSink('audit_es', 'audit', es.url, 'audit')}`,
    );
    const falco = new FalcoSender({ url: `${s.url}/` });
    const apiserver = new AuditWebhookSender({ url: `${audit.url}/audit`, maxBatchWaitMs: 20, initialBackoffMs: 50 });
    t.after(() => {
      falco.close();
      apiserver.close();
    });
    for (let i = 0; i < 50; i++) falco.send(falcoAlert(i, i % 5 === 0 ? 'Critical' : 'Warning'));
    for (let i = 0; i < 1000; i++) apiserver.enqueue(auditEvent(i));
    await Promise.all([falco.idle(), apiserver.flush()]);
    assert.equal(falco.delivered.length, 50);
    assert.deepEqual(new Set(falco.statuses), new Set([200]));
    assert.equal(falco.requests, 50, 'one request per alert, no retries');
    assert.equal(apiserver.delivered.length, 1000);
    assert.ok(apiserver.attempts.length >= 3 && apiserver.attempts.every((a) => a.status === 200 && a.events <= 400), 'EventLists of up to 400, each answered 200');
    // What the senders believe delivered is what Elasticsearch stored: once each.
    assert.deepEqual(seqs(es, 'falco', 'seq').sort(), falco.delivered.map((a) => String(a.seq)).sort());
    assert.equal(new Set(seqs(es, 'audit', 'auditID')).size, 1000);
    assert.equal(es.count(stream('audit')), 1000);
    assert.equal(es.stats().conflicts, 0, 'nothing sent twice');
    const ev = es.docs(stream('audit'))[0]?._source;
    assert.equal(ev?.kind, 'Event', 'items unwrapped with kind and apiVersion');
    assert.equal(ev?.apiVersion, 'audit.k8s.io/v1');
    assert.equal(await s.stop(), 0);
    assert.equal(await audit.stop(), 0);
    assert.equal(s.counters('falco').events_read, 50);
    assert.equal(audit.counters('audit').events_read, 1000);
  });
});

describe('a sink outage with no room left', () => {
  it('k8s_audit answers 503 with Retry-After; the apiserver retries and everything arrives after recovery', async (t) => {
    const es = await elasticsearch(t, true);
    const s = await serve(
      t,
      `data_dir: ./state
in_flight: { max_events: 40 }
sources:
  audit: { type: http_server, address: 127.0.0.1:0, sender: k8s_audit, full_wait_ms: 50, retry_after_s: 1 }
sinks:
${esSink('es', 'audit', es.url, 'audit', '{ max_events: 40 }')}`,
    );
    // The sink's own buffer (40 events) fills first; then its backpressure fills the in-flight budget
    // and the source has no room left. Scaled down: 100 ms initial backoff instead of 10 s, and more attempts than the real 5 so the
    // result does not depend on how fast this machine recovers; the predicate is the real one.
    const apiserver = new AuditWebhookSender({ url: s.url, maxBatchSize: 20, maxBatchWaitMs: 20, throttleQps: 100, throttleBurst: 100, initialBackoffMs: 100, backoffSteps: 12 });
    t.after(() => apiserver.close());
    for (let i = 0; i < 200; i++) apiserver.enqueue(auditEvent(i));
    await until(() => apiserver.attempts.some((a) => a.status === 503), 10_000, 'a 503 from tern');
    assert.equal(apiserver.delivered.length, 0, 'nothing answered 2xx while nothing was stored');
    es.clearFaults();
    await apiserver.flush();
    const refused = apiserver.attempts.filter((a) => a.status === 503);
    assert.ok(refused.every((a) => a.retryAfter === '1'), 'every 503 carries Retry-After');
    assert.deepEqual(apiserver.droppedBatches, []);
    assert.equal(apiserver.delivered.length, 200);
    assert.equal(es.count(stream('audit')), 200, 'each event stored once: a refused batch was not taken');
    assert.equal(new Set(seqs(es, 'audit', 'auditID')).size, 200);
    assert.equal(es.stats().conflicts, 0, 'and sent once: no replay answered 409');
    assert.equal(await s.stop(), 0);
    const c = s.counters('audit');
    assert.equal(c.requests_refused, refused.length);
    assert.equal(c.events_read, 200);
  });

  it('falco holds its answers (backpressure on Falco, never a status it would drop on); every alert three Falcos sent arrives', async (t) => {
    const es = await elasticsearch(t, true);
    const s = await serve(
      t,
      `data_dir: ./state
in_flight: { max_events: 2 }
sources:
  falco: { type: http_server, address: 127.0.0.1:0, sender: falco }
sinks:
${esSink('es', 'falco', es.url, 'falco')}`,
    );
    // A DaemonSet: one Falco per node, each with its own queue and one request in flight.
    const falcos = [0, 1, 2].map(() => new FalcoSender({ url: s.url }));
    t.after(() => falcos.forEach((f) => f.close()));
    falcos.forEach((f, k) => {
      for (let i = 0; i < 10; i++) f.send(falcoAlert(k * 100 + i));
    });
    await until(() => falcos.every((f) => f.inFlight) && es.requests.filter((q) => q.status === 503).length >= 3, 10_000, 'three held requests, ES refusing');
    assert.deepEqual(
      falcos.map((f) => f.statuses.length),
      [0, 0, 0],
      'no answer at all while nothing can be delivered',
    );
    es.clearFaults();
    await Promise.all(falcos.map((f) => f.idle()));
    assert.deepEqual(
      falcos.map((f) => f.delivered.length),
      [10, 10, 10],
    );
    assert.deepEqual(new Set(falcos.flatMap((f) => f.statuses)), new Set([200]));
    assert.deepEqual(falcos.flatMap((f) => f.dropped), []);
    assert.equal(es.count(stream('falco')), 30);
    assert.equal(await s.stop(), 0);
    assert.equal(s.counters('falco').requests_refused ?? 0, 0);
  });
});

describe('a disk-buffered sink through an outage', () => {
  it('both senders keep getting 2xx at once (their events are durable on disk); everything arrives after recovery, once', async (t) => {
    const es = await elasticsearch(t, true);
    const s = await serve(
      t,
      `data_dir: ./state
in_flight: { max_events: 40 }
sources:
  falco: { type: http_server, address: 127.0.0.1:0, sender: falco }
  audit: { type: http_server, address: 127.0.0.1:0, sender: k8s_audit }
sinks:
${esSink('es_falco', 'falco', es.url, 'falco', '{ type: disk }')}${esSink('es_audit', 'audit', es.url, 'audit', '{ type: disk }')}`,
    );
    const url = (id: string): string => String(logs(s.run).find((l) => l.msg === 'listening' && l.component === id)?.url);
    await until(() => logs(s.run).filter((l) => l.msg === 'listening').length === 2, 10_000, 'both sources listening');
    const falcos = [0, 1, 2].map(() => new FalcoSender({ url: url('falco') }));
    t.after(() => falcos.forEach((f) => f.close()));
    const apiserver = new AuditWebhookSender({ url: url('audit'), maxBatchSize: 20, maxBatchWaitMs: 20, throttleQps: 100, throttleBurst: 100, initialBackoffMs: 100 });
    t.after(() => apiserver.close());
    falcos.forEach((f, k) => {
      for (let i = 0; i < 50; i++) f.send(falcoAlert(k * 100 + i));
    });
    for (let i = 0; i < 500; i++) apiserver.enqueue(auditEvent(i));
    // The outage goes on: every sender is answered 2xx, because the disk buffer holds the events.
    await Promise.all(falcos.map((f) => f.idle()));
    await apiserver.flush();
    assert.deepEqual(new Set(falcos.flatMap((f) => f.statuses)), new Set([200]));
    assert.equal(falcos.reduce((a, f) => a + f.delivered.length, 0), 150);
    assert.equal(apiserver.delivered.length, 500);
    assert.ok(!apiserver.attempts.some((a) => a.status === 429 || a.status === 503), 'never refused');
    assert.deepEqual(apiserver.droppedBatches, []);
    assert.equal(es.count(), 0, 'nothing stored yet: the destination is down');
    // Recovery: the buffers drain.
    es.clearFaults();
    await until(() => es.count(stream('falco')) === 150 && es.count(stream('audit')) === 500, 30_000, 'buffered events delivered');
    assert.equal(es.stats().conflicts, 0, 'each sent once');
    assert.equal(await s.stop(), 0);
    assert.equal(s.counters('falco').requests_refused ?? 0, 0);
    assert.equal(s.counters('audit').requests_refused ?? 0, 0);
  });
});

describe('shutdown', () => {
  it('a request whose events were not acknowledged before tern stops is answered 503 with Retry-After', async (t) => {
    const es = await elasticsearch(t, true);
    const s = await serve(
      t,
      `data_dir: ./state
shutdown_timeout_ms: 300
sources:
  audit: { type: http_server, address: 127.0.0.1:0, sender: k8s_audit }
sinks:
${esSink('es', 'audit', es.url, 'audit')}`,
    );
    const apiserver = new AuditWebhookSender({ url: s.url, maxBatchWaitMs: 10, backoffSteps: 1 });
    t.after(() => apiserver.close());
    apiserver.enqueue(auditEvent(1));
    await until(() => es.requests.some((q) => q.status === 503), 10_000, 'the events stuck in the sink');
    const code = await s.stop();
    await apiserver.flush();
    assert.equal(code, 1, 'the run says it could not deliver everything');
    assert.equal(apiserver.attempts[0]?.status, 503);
    assert.equal(apiserver.attempts[0]?.retryAfter, '5');
    assert.ok(logs(s.run).some((l) => l.msg === 'request refused (503): tern stopped before every sink acknowledged these events; send them again'));
    // The sink's shutdown warning does not promise a re-read that a push source cannot do.
    const warning = logs(s.run).find((l) => l.code === 'TERN_ERR_SHUTDOWN_TIMEOUT');
    assert.match(String(warning?.msg), /a push source \(http_server\) cannot: with acknowledgements it answered their senders 503/);
  });
});
