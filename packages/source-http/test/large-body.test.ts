/**
 * A pushed body larger than the pipeline's in-flight budget (`in_flight.max_bytes`, 8 MiB by default)
 * but within `max_body_bytes` (10 MiB): a kube-apiserver audit batch at the RequestResponse level.
 *
 * The steady load is the common one on a node: a `file` source catching up on a Tetragon export keeps
 * the shared in-flight budget in use (it reads as fast as the budget lets it), while its sink delivers
 * about 1 MB/s. Beside it, the apiserver posts small EventLists all along, and one 9 MiB EventList.
 * What must hold: every event of the large body and of the small ones reaches Elasticsearch once,
 * the apiserver never gives up on a batch (no 503 it had to drop the batch after), and tern exits 0.
 * (Before the body was taken in shares of the budget, it was answered 503 five times out of five and
 * the apiserver dropped it, while the small ones all got 200.)
 *
 * A body taken in part keeps the promises of `when_full: reject` and of shutdown: when a later share
 * finds no room (a sink down) or tern stops, the answer is 503 + Retry-After, and the retry stores
 * every event once.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { AuditWebhookSender, startElasticsearch } from '@tern/test-kit';
import { auditEvent, elasticsearch, esSink, logs, serve, tmp, until, write } from './helpers.ts';

const stream = (dataset: string): string => `logs-${dataset}-default`;

/** A RequestResponse-level audit event of about `bytes` bytes: the response (a list of Secrets, say) makes it large. */
function bigAuditEvent(seq: number, bytes: number): Record<string, unknown> {
  const ev = { ...auditEvent(seq), level: 'RequestResponse' };
  const pad = bytes - JSON.stringify(ev).length - 100;
  return { ...ev, responseObject: { kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: [{ metadata: { name: `db-${seq}` }, data: { blob: 'x'.repeat(Math.max(pad, 0)) } }] } };
}

/** Tetragon process_exec lines of about 1 KB each. */
function tetragonLines(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ process_exec: { process: { exec_id: `exec-${i}`, binary: '/usr/bin/curl', arguments: 'x'.repeat(900), pod: { namespace: 'payments', name: `web-${i % 50}` } } }, node_name: 'node-1', time: '2024-11-22T10:20:05.408091526Z' }));
  return `${lines.join('\n')}\n`;
}

/**
 * tern with two sources sharing the in-flight budget: `tetragon` (a file of `lines` lines, read
 * 64 KiB at a time, as fast as the budget allows) into an Elasticsearch answering each 1 MB bulk
 * after `delayMs` (one at a time), and `audit` (http_server, k8s_audit) into another, fast one.
 */
async function busyPipeline(t: TestContext, o: { delayMs: number; lines: number; audit?: string; global?: string }) {
  const es = await elasticsearch(t);
  const slow = await startElasticsearch({ store: 'count', recordBodies: false });
  t.after(() => slow.close());
  slow.fault({ match: { path: '/_bulk' }, times: Infinity, action: { delayMs: o.delayMs } });
  const dir = tmp();
  write(dir, 'tetragon.log', tetragonLines(o.lines));
  const s = await serve(
    t,
    `data_dir: ./state
${o.global ?? ''}
sources:
  tetragon: { type: file, include: [./tetragon.log], read_buffer_bytes: 65536 }
  audit: { type: http_server, address: 127.0.0.1:0, sender: k8s_audit, retry_after_s: 1${o.audit ?? ''} }
sinks:
${esSink('audit_es', 'audit', es.url, 'audit')}  tetragon_es:
    type: elasticsearch
    inputs: [tetragon]
    endpoints: ["${slow.url}"]
    data_stream: { dataset: tetragon }
    batch: { max_bytes: 1000000, timeout_ms: 20 }
    request: { concurrency: 1 }
    buffer: { max_bytes: 1048576 }
`,
    { dir },
  );
  // The budget is in use: Tetragon's backlog is being read.
  await until(() => slow.requests.length >= 2, 10_000, 'Tetragon events on their way');
  return { es, slow, s };
}

/** The 400 events of one 9 MiB EventList. */
const large9MiB = (): Array<Record<string, unknown>> => Array.from({ length: 400 }, (_, i) => bigAuditEvent(1_000_000 + i, Math.floor((9 * 1024 * 1024) / 400)));

describe('a body larger than in_flight.max_bytes, under steady load', () => {
  it('k8s_audit: a 9 MiB EventList and a stream of small ones all arrive once; the apiserver never gives up on a batch', async (t) => {
    // Tetragon's destination: about 1 MB/s.
    const tetragon = 15_000;
    const { es, slow, s } = await busyPipeline(t, { delayMs: 1000, lines: tetragon });
    // Scaled down: the apiserver's first retry after 100 ms instead of 10 s, the rest as it does
    // (× 1.5, 5 attempts); tern's full_wait_ms stays the k8s_audit default (1 s).
    const apiserver = new AuditWebhookSender({ url: s.url, maxBatchSize: 20, maxBatchWaitMs: 50, initialBackoffMs: 100 });
    const large = new AuditWebhookSender({ url: s.url, maxBatchSize: 400, maxBatchWaitMs: 10, initialBackoffMs: 100 });
    t.after(() => {
      apiserver.close();
      large.close();
    });
    let n = 0;
    const steady = setInterval(() => {
      for (let i = 0; i < 10; i++) apiserver.enqueue(auditEvent(n++));
    }, 50);
    t.after(() => clearInterval(steady));
    await new Promise((r) => setTimeout(r, 500));
    large.enqueue(...large9MiB());
    await large.flush();
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(steady);
    await apiserver.flush();
    const body = large.attempts[0];
    assert.ok(body !== undefined && large.attempts.every((a) => a.events === 400), 'one EventList of 400 events');
    assert.deepEqual(large.droppedBatches, [], 'the apiserver did not give up on the large EventList');
    assert.deepEqual(apiserver.droppedBatches, [], 'nor on any small one');
    assert.equal(large.delivered.length, 400);
    assert.equal(apiserver.delivered.length, n);
    // Elasticsearch has every audit event once.
    await until(() => es.count(stream('audit')) >= n + 400, 10_000, 'audit events stored');
    assert.equal(es.count(stream('audit')), n + 400);
    assert.equal(new Set(es.docs(stream('audit')).map((d) => d._source.auditID)).size, n + 400);
    // Tetragon's backlog arrives too once its destination is fast again, and tern exits 0.
    slow.clearFaults();
    await until(() => slow.count(stream('tetragon')) >= tetragon, 60_000, 'Tetragon backlog delivered');
    assert.equal(slow.count(stream('tetragon')), tetragon);
    assert.equal(await s.stop(), 0);
  });

  it('shutdown while the rest of a large body waits for room: 503 + Retry-After saying only part was taken', async (t) => {
    // Elasticsearch is down: the sink's buffer (50 events) and then the budget (100 events, shares of
    // 3) fill with the first shares of the body, and the rest waits for room (full_wait_ms is long
    // here, so only the shutdown ends that wait). Counted in events: the events of an EventList are
    // estimated at 256 bytes each wherever a sink counts bytes.
    const es = await elasticsearch(t, true);
    const s = await serve(
      t,
      `data_dir: ./state
shutdown_timeout_ms: 300
in_flight: { max_events: 100 }
sources:
  audit: { type: http_server, address: 127.0.0.1:0, sender: k8s_audit, retry_after_s: 1, full_wait_ms: 60000 }
sinks:
${esSink('audit_es', 'audit', es.url, 'audit', '{ max_events: 50 }')}`,
    );
    const large = new AuditWebhookSender({ url: s.url, maxBatchSize: 400, maxBatchWaitMs: 10, backoffSteps: 1 });
    t.after(() => large.close());
    large.enqueue(...large9MiB());
    await until(() => es.requests.filter((q) => q.path === '/_bulk').length >= 3, 15_000, 'the first shares refused by Elasticsearch');
    assert.equal(large.attempts.length, 0, 'no answer yet: the rest of the body waits for room');
    const code = await s.stop();
    await large.flush();
    assert.equal(large.attempts.length, 1);
    assert.equal(large.attempts[0]?.status, 503);
    assert.equal(large.attempts[0]?.retryAfter, '1', 'the apiserver sends it all again');
    assert.ok(logs(s.run).some((l) => l.msg === 'request refused (503): tern is shutting down and took only part of these events; sending them again is safe (duplicates, not loss)'));
    assert.equal(code, 1, 'not everything taken was delivered');
  });

  it('a sink down while a large body goes in: 503 + Retry-After once a share found no room for full_wait_ms; the retry after recovery stores every event once', async (t) => {
    const es = await elasticsearch(t, true);
    const s = await serve(
      t,
      `data_dir: ./state
in_flight: { max_events: 100 }
sources:
  audit: { type: http_server, address: 127.0.0.1:0, sender: k8s_audit, retry_after_s: 1 }
sinks:
${esSink('audit_es', 'audit', es.url, 'audit', '{ max_events: 50 }')}`,
    );
    // Scaled down: retries after 300 ms, × 1.5, and more attempts than the real 5 so that the result
    // does not depend on how fast this machine recovers.
    const large = new AuditWebhookSender({ url: s.url, maxBatchSize: 400, maxBatchWaitMs: 10, initialBackoffMs: 300, backoffSteps: 12 });
    t.after(() => large.close());
    large.enqueue(...large9MiB());
    await until(() => large.attempts.length >= 1, 15_000, 'the first answer');
    assert.equal(large.attempts[0]?.status, 503);
    assert.equal(large.attempts[0]?.retryAfter, '1');
    assert.ok(logs(s.run).some((l) => String(l.msg).startsWith('request refused (503): tern took part of these events, then had no room for the rest for full_wait_ms')));
    es.clearFaults();
    await large.flush();
    assert.deepEqual(large.droppedBatches, []);
    assert.equal(large.delivered.length, 400);
    // The part taken before the 503 arrives twice; the sink's content-hash ids store it once.
    await until(() => es.count(stream('audit')) >= 400, 20_000, 'every audit event stored');
    assert.equal(es.count(stream('audit')), 400);
    assert.equal(new Set(es.docs(stream('audit')).map((d) => d._source.auditID)).size, 400);
    assert.equal(await s.stop(), 0);
  });
});
