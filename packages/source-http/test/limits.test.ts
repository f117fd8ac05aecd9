/**
 * The limits that decide when an answer comes, through the real binary and over real HTTP:
 *
 * - `request_timeout_ms`: kube-apiserver gives up on a request after its own timeout (30 s) and then
 *   loses the batch (a timeout is not retried). When a sink is down but tern still has room, the
 *   events are taken and wait for their acknowledgement; tern must answer 503 + Retry-After before
 *   the apiserver's timeout, so the apiserver retries and delivers after recovery.
 * - `max_concurrent_requests`: with `when_full: reject` a request over the limit is answered 429 +
 *   Retry-After at once (the apiserver retries it); with `hold` it waits for a slot and gets its 200
 *   (Falco would count a 429 as delivered).
 * - Idle connections: the sender closes them, not tern, so no close by tern races a sender's next POST
 *   (Falco drops an alert on any connection error).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { AuditWebhookSender, type ElasticsearchEmulator } from '@tern/test-kit';
import { auditEvent, elasticsearch, esSink, falcoAlert, serve, until } from './helpers.ts';

const stream = (dataset: string): string => `logs-${dataset}-default`;

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
}

/** A POST that is not awaited: `answer()` is its answer once it came, else undefined. */
function send(url: string, body: Record<string, unknown>): { answer: () => Answer | undefined; done: Promise<void> } {
  let answer: Answer | undefined;
  const done = request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (res) => {
    await res.body.text();
    const ra = res.headers['retry-after'];
    answer = { status: res.statusCode, retryAfter: Array.isArray(ra) ? ra[0] : ra };
  });
  return { answer: () => answer, done };
}

/** Until the sink has tried (and been refused) at least once: the events are in tern, unacknowledged. */
const refusedOnce = (es: ElasticsearchEmulator): Promise<void> => until(() => es.requests.some((q) => q.path === '/_bulk' && q.status === 503), 10_000, 'a refused _bulk');

describe('request_timeout_ms', () => {
  it('k8s_audit: a sink down with room left in tern is answered 503 + Retry-After before the apiserver\'s timeout, never a timeout it would drop the batch on; the retry delivers everything', async (t) => {
    const es = await elasticsearch(t, true);
    // Scaled down: the apiserver's 30 s timeout is 5 s here, tern's request_timeout_ms (25 s in the
    // k8s_audit preset) 1.5 s. The sink's memory buffer has room for every replay, so "full" never
    // happens: only the timeout can answer.
    const s = await serve(
      t,
      `data_dir: ./state
sources:
  audit: { type: http_server, address: 127.0.0.1:0, sender: k8s_audit, request_timeout_ms: 1500, retry_after_s: 1 }
sinks:
${esSink('es', 'audit', es.url, 'audit')}`,
    );
    const apiserver = new AuditWebhookSender({ url: s.url, maxBatchWaitMs: 20, requestTimeoutMs: 5000, initialBackoffMs: 100, backoffSteps: 30 });
    t.after(() => apiserver.close());
    for (let i = 0; i < 50; i++) apiserver.enqueue(auditEvent(i));
    await until(() => apiserver.attempts.filter((a) => a.status === 503).length >= 2, 15_000, 'two 503s from tern');
    assert.equal(apiserver.delivered.length, 0, 'nothing answered 2xx while Elasticsearch stored nothing');
    es.clearFaults();
    await apiserver.flush();
    assert.deepEqual(
      apiserver.attempts.filter((a) => a.error !== undefined).map((a) => a.error),
      [],
      'every attempt got an answer within the apiserver\'s timeout',
    );
    const refused = apiserver.attempts.filter((a) => a.status === 503);
    assert.ok(refused.every((a) => a.retryAfter === '1'), 'every 503 carries Retry-After, so the apiserver retries it');
    assert.deepEqual(apiserver.droppedBatches, []);
    assert.equal(apiserver.delivered.length, 50);
    // The replays of events tern had already taken are duplicates, and the Elasticsearch sink's
    // content-hash ids make them harmless: each event is stored once.
    assert.equal(es.count(stream('audit')), 50);
    assert.equal(new Set(es.docs(stream('audit')).map((d) => d._source.auditID)).size, 50);
    assert.equal(await s.stop(), 0);
    const c = s.counters('audit');
    assert.equal(c.requests_unacknowledged, refused.length, 'each 503 was a request whose events were taken but not yet acknowledged');
    assert.equal(c.requests_accepted, 1);
  });
});

describe('max_concurrent_requests', () => {
  it('reject: a request over the limit is answered 429 + Retry-After at once; the one in its slot gets 200 after recovery', async (t) => {
    const es = await elasticsearch(t, true);
    const s = await serve(
      t,
      `data_dir: ./state
sources:
  in: { type: http_server, address: 127.0.0.1:0, sender: generic, max_concurrent_requests: 1, retry_after_s: 2 }
sinks:
${esSink('es', 'in', es.url, 'generic')}`,
    );
    const first = send(s.url, { n: 1 });
    await refusedOnce(es);
    const t0 = Date.now();
    const second = send(s.url, { n: 2 });
    await second.done;
    assert.deepEqual(second.answer(), { status: 429, retryAfter: '2' });
    // At once: not after the request timeout (30 s in the generic preset), which would also end in a refusal.
    assert.ok(Date.now() - t0 < 10_000, `answered after ${Date.now() - t0} ms`);
    assert.equal(first.answer(), undefined, 'the first still waits for its acknowledgement, holding the only slot');
    es.clearFaults();
    await first.done;
    assert.equal(first.answer()?.status, 200);
    const third = send(s.url, { n: 3 });
    await third.done;
    assert.equal(third.answer()?.status, 200, 'the slot is free again');
    assert.deepEqual(
      es
        .docs(stream('generic'))
        .map((d) => d._source.n)
        .sort(),
      [1, 3],
    );
    assert.equal(await s.stop(), 0);
    const c = s.counters('in');
    assert.equal(c.requests_refused, 1);
    assert.equal(c.requests_accepted, 2);
  });

  it('hold (Falco): a request over the limit waits for a slot instead of getting a status Falco would drop the alert on', async (t) => {
    const es = await elasticsearch(t, true);
    const s = await serve(
      t,
      `data_dir: ./state
sources:
  falco: { type: http_server, address: 127.0.0.1:0, sender: falco, max_concurrent_requests: 1 }
sinks:
${esSink('es', 'falco', es.url, 'falco')}`,
    );
    const first = send(s.url, falcoAlert(1));
    await refusedOnce(es);
    const second = send(s.url, falcoAlert(2));
    // Long enough for a 429 to have come back (it does in milliseconds with reject).
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(first.answer(), undefined);
    assert.equal(second.answer(), undefined, 'held: no answer while no slot is free');
    es.clearFaults();
    await Promise.all([first.done, second.done]);
    assert.equal(first.answer()?.status, 200);
    assert.equal(second.answer()?.status, 200);
    await until(() => es.count(stream('falco')) === 2, 10_000, 'both alerts stored');
    assert.equal(await s.stop(), 0);
    assert.equal(s.counters('falco').requests_refused ?? 0, 0);
  });
});

describe('idle connections', () => {
  it('a Falco that pauses longer than Node\'s 5 s keep-alive sends its next alert on the same connection: tern does not close it under the sender', async (t) => {
    const s = await serve(
      t,
      `data_dir: ./state
sources:
  falco: { type: http_server, address: 127.0.0.1:0, sender: falco }
sinks:
  out: { type: file, inputs: [falco], path: ./out.ndjson, batch: { timeout_ms: 1 } }`,
    );
    // libcurl keeps one connection alive between alerts, as this agent does.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    let closedByServer = 0;
    const post = (alert: Record<string, unknown>): Promise<{ status: number; reused: boolean }> =>
      new Promise((resolve, reject) => {
        const req = http.request(s.url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on('socket', (sock) => {
          if (!req.reusedSocket) sock.once('end', () => closedByServer++);
        });
        req.on('error', reject);
        req.end(JSON.stringify(alert));
      });
    assert.deepEqual(await post(falcoAlert(1)), { status: 200, reused: false });
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(closedByServer, 0, 'tern did not close the idle connection');
    assert.deepEqual(await post(falcoAlert(2)), { status: 200, reused: true });
    assert.equal(await s.stop(), 0);
  });
});
