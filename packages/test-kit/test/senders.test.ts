// The emulated senders against a scripted receiver, checked against senders.md: Falco posts one alert
// per request with one in flight, counts any status as delivered, retries only after a timeout and
// drops on other errors; the apiserver batches EventLists, retries exactly what DefaultShouldRetry
// retries, gives up after its attempts, and drops events beyond its buffer.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { apiserverShouldRetry, AuditWebhookSender, FalcoSender } from '../src/index.ts';

interface Seen {
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A receiver answering request n with `script(n)`: a status (and headers), or 'hang' (never answers). */
async function receiver(t: TestContext, script: (n: number, body: string) => { status: number; headers?: Record<string, string> } | 'hang') {
  const seen: Seen[] = [];
  let open = 0;
  let maxOpen = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    open++;
    maxOpen = Math.max(maxOpen, open);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ body, headers: req.headers });
      const a = script(seen.length, body);
      if (a === 'hang') {
        res.on('close', () => open--);
        return;
      }
      open--;
      res.writeHead(a.status, a.headers).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, maxOpen: () => maxOpen };
}

describe('FalcoSender', () => {
  test('one POST per alert, one in flight, JSON with its content type; any status counts as delivered', async (t) => {
    const r = await receiver(t, (n) => ({ status: n === 2 ? 503 : n === 3 ? 400 : 200 }));
    const falco = new FalcoSender({ url: `"${r.url}/"` });
    t.after(() => falco.close());
    falco.send({ rule: 'a', seq: 1 }, { rule: 'b', seq: 2 }, { rule: 'c', seq: 3 });
    await falco.idle();
    assert.deepEqual(r.seen.map((s) => JSON.parse(s.body).seq), [1, 2, 3]);
    assert.equal(r.seen[0]?.headers['content-type'], 'application/json');
    assert.equal(r.seen[0]?.headers['user-agent'], 'falcosecurity/falco');
    assert.deepEqual(falco.statuses, [200, 503, 400]);
    assert.equal(falco.delivered.length, 3, 'a 503 and a 400 are "delivered" for Falco: the alerts are gone');
    assert.equal(r.maxOpen(), 1);
  });

  test('retries only after a timeout, up to max_consecutive_timeouts, then drops; text output without json_output', async (t) => {
    const r = await receiver(t, (n) => (n <= 2 ? 'hang' : { status: 200 }));
    const falco = new FalcoSender({ url: r.url, timeoutMs: 50, maxConsecutiveTimeouts: 5, jsonOutput: false });
    t.after(() => falco.close());
    falco.send({ output: 'Warning shell in container' });
    await falco.idle();
    assert.equal(falco.requests, 3);
    assert.deepEqual(falco.statuses, [200]);
    assert.equal(r.seen[2]?.body, 'Warning shell in container');
    assert.equal(r.seen[2]?.headers['content-type'], 'text/plain');
    const always = await receiver(t, () => 'hang');
    const f2 = new FalcoSender({ url: always.url, timeoutMs: 20, maxConsecutiveTimeouts: 2 });
    t.after(() => f2.close());
    f2.send({ rule: 'x' });
    await f2.idle();
    assert.equal(f2.requests, 3);
    assert.equal(f2.dropped.length, 1);
  });

  test('a refused connection drops the alert at once (no retry); credentials in the URL become Basic auth', async (t) => {
    const r = await receiver(t, () => ({ status: 200 }));
    const auth = new FalcoSender({ url: r.url.replace('http://', 'http://falco:p%40ss@') });
    t.after(() => auth.close());
    auth.send({ rule: 'x' });
    await auth.idle();
    assert.equal(r.seen[0]?.headers.authorization, `Basic ${Buffer.from('falco:p@ss').toString('base64')}`);
    const dead = new FalcoSender({ url: 'http://127.0.0.1:1/' });
    t.after(() => dead.close());
    dead.send({ rule: 'x' });
    await dead.idle();
    assert.equal(dead.requests, 1);
    assert.match(dead.dropped[0]?.error ?? '', /ECONNREFUSED/);
  });
});

describe('AuditWebhookSender', () => {
  test('DefaultShouldRetry: reset, 500, 504, 429 and Retry-After retried; 502, 503 without Retry-After, refused and timeouts not', () => {
    const retried = (status: number, retryAfter?: string, error?: string) => apiserverShouldRetry({ status, retryAfter, error });
    assert.deepEqual([500, 504, 429].map((s) => retried(s)), [true, true, true]);
    assert.equal(retried(503, '5'), true);
    assert.equal(retried(503), false);
    assert.equal(retried(502), false);
    assert.equal(retried(400, '1'), true);
    assert.equal(retried(0, undefined, 'ECONNRESET'), true);
    assert.equal(retried(0, undefined, 'ECONNREFUSED'), false);
    assert.equal(retried(0, undefined, 'ETIMEDOUT'), false);
  });

  test('EventLists of at most maxBatchSize, bearer token, kind and apiVersion; 2xx counts as delivered', async (t) => {
    const r = await receiver(t, () => ({ status: 200 }));
    const api = new AuditWebhookSender({ url: r.url, bearerToken: 'tok', maxBatchSize: 400, maxBatchWaitMs: 10 });
    t.after(() => api.close());
    for (let i = 0; i < 1000; i++) api.enqueue({ auditID: String(i) });
    await api.flush();
    const lists = r.seen.map((s) => JSON.parse(s.body) as { kind: string; apiVersion: string; items: unknown[] });
    assert.deepEqual(lists.map((l) => l.items.length), [400, 400, 200]);
    assert.ok(lists.every((l) => l.kind === 'EventList' && l.apiVersion === 'audit.k8s.io/v1'));
    assert.equal(r.seen[0]?.headers.authorization, 'Bearer tok');
    assert.equal(api.delivered.length, 1000);
  });

  test('retries 503 + Retry-After with backoff until success; 503 alone and 502 lose the batch at once; attempts are bounded', async (t) => {
    const r = await receiver(t, (n) => (n <= 2 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }));
    const api = new AuditWebhookSender({ url: r.url, maxBatchWaitMs: 5, initialBackoffMs: 10 });
    t.after(() => api.close());
    api.enqueue({ auditID: 'a' });
    await api.flush();
    assert.deepEqual(api.attempts.map((a) => a.status), [503, 503, 200]);
    assert.ok((api.attempts[1]?.at ?? 0) - (api.attempts[0]?.at ?? 0) >= 10, 'waited the backoff');
    assert.equal(api.delivered.length, 1);
    for (const status of [503, 502]) {
      const bad = await receiver(t, () => ({ status }));
      const a2 = new AuditWebhookSender({ url: bad.url, maxBatchWaitMs: 5, initialBackoffMs: 10 });
      t.after(() => a2.close());
      a2.enqueue({ auditID: 'b' });
      await a2.flush();
      assert.equal(a2.attempts.length, 1, `HTTP ${status} is not retried`);
      assert.equal(a2.droppedBatches[0]?.events, 1);
    }
    const busy = await receiver(t, () => ({ status: 429 }));
    const a3 = new AuditWebhookSender({ url: busy.url, maxBatchWaitMs: 5, initialBackoffMs: 5, backoffSteps: 5 });
    t.after(() => a3.close());
    a3.enqueue({ auditID: 'c' });
    await a3.flush();
    assert.equal(a3.attempts.length, 5);
    assert.equal(a3.droppedBatches[0]?.reason, 'gave up after 5 attempts');
  });

  test('events beyond the buffer are dropped and counted; a request over the timeout is lost, not retried', async (t) => {
    const r = await receiver(t, () => 'hang');
    const api = new AuditWebhookSender({ url: r.url, bufferSize: 10, maxBatchWaitMs: 60_000, requestTimeoutMs: 30 });
    t.after(() => api.close());
    api.enqueue(...Array.from({ length: 15 }, (_, i) => ({ auditID: String(i) })));
    assert.equal(api.droppedBuffer, 5);
    const quick = new AuditWebhookSender({ url: r.url, maxBatchWaitMs: 5, requestTimeoutMs: 30, initialBackoffMs: 5 });
    t.after(() => quick.close());
    quick.enqueue({ auditID: 'x' });
    await quick.flush();
    assert.deepEqual(quick.attempts.map((a) => a.error), ['ETIMEDOUT']);
    assert.equal(quick.droppedBatches.length, 1);
  });
});
