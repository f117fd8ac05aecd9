// The sink against the webhook emulator (generic and Slack modes, protocol notes §4.3): body modes
// on the wire, method, headers and credentials, query strings, HMAC signatures recomputed here,
// Idempotency-Key stable over a retry, Slack pauses (404 no_service, 410 archived) that keep the
// data, 400 permanent, 429 Retry-After waited out, 501 never retried.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import type { OptionsInput } from '@tern/core';
import { testContext, trackedBatch, waitFor, type TestContext } from '@tern/core/testing';
import { startWebhook, type WebhookEmulator, type WebhookOptions } from '@tern/test-kit';
import { type WebhookConfig, type WebhookSink } from '../src/index.ts';
import { createSink, events, EXEC, FALCO, PASSWD_WRITE, SHADOW_READ } from './fixtures.ts';

const FAST = { retry_initial_ms: 5, retry_max_ms: 50, timeout_ms: 5000 };

async function setup(emuOpts: WebhookOptions, config: (url: string) => OptionsInput<WebhookConfig>, id = 'hook'): Promise<{ emu: WebhookEmulator; sink: WebhookSink; ctx: TestContext }> {
  const emu = await startWebhook(emuOpts);
  const ctx = testContext(id, 'webhook');
  const sink = createSink(config(emu.url), ctx);
  sink.start();
  after(async () => {
    await sink.stop(AbortSignal.timeout(500));
    await emu.close();
  });
  return { emu, sink, ctx };
}

describe('generic receiver', () => {
  it('single: one JSON object per request, the original line, POST, path and query kept', async () => {
    const { emu, ctx, sink } = await setup({}, (u) => ({ url: `${u}/falco/in?team=secops`, request: FAST }));
    const evs = events([EXEC, FALCO, SHADOW_READ]);
    const b = trackedBatch(evs);
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.requests.length, 3);
    for (const r of emu.requests) {
      assert.equal(r.method, 'POST');
      assert.equal(r.path, '/falco/in');
      assert.equal(r.query.get('team'), 'secops');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['user-agent'], 'tern');
      assert.equal(r.headers['content-encoding'], undefined, 'no compression by default');
    }
    assert.deepEqual(new Set(emu.requests.map((r) => r.body.toString())), new Set(evs.map((e) => e.raw)));
    assert.equal(ctx.telemetry.snapshot().requests, 3);
  });

  it('array and ndjson: framing and content type per mode', async () => {
    const a = await setup({}, (u) => ({ url: u, body: 'array', batch: { max_events: 2, timeout_ms: 10 }, request: FAST }));
    const b1 = trackedBatch(events([EXEC, FALCO, SHADOW_READ]));
    a.sink.accept(b1);
    assert.equal(await b1.done, 'delivered');
    assert.deepEqual(a.emu.received.map((m) => m.body), [[EXEC, FALCO], [SHADOW_READ]]);
    assert.ok(a.emu.requests.every((r) => r.headers['content-type'] === 'application/json' && r.body.toString().startsWith('[')));

    const n = await setup({}, (u) => ({ url: u, body: 'ndjson', batch: { max_events: 10, timeout_ms: 10 }, request: FAST }));
    const evs = events([EXEC, FALCO, SHADOW_READ]);
    const b2 = trackedBatch(evs);
    n.sink.accept(b2);
    assert.equal(await b2.done, 'delivered');
    assert.equal(n.emu.requests.length, 1);
    assert.equal(n.emu.requests[0]?.headers['content-type'], 'application/x-ndjson');
    assert.equal(n.emu.requests[0]?.body.toString(), evs.map((e) => `${e.raw}\n`).join(''));
  });

  it('PUT with receiver headers and bearer auth; a refused token pauses and keeps the events', async () => {
    const ok = await setup({ secretHeader: { name: 'Authorization', value: 'Bearer s3cr3t-token' } }, (u) => ({
      url: u,
      method: 'PUT',
      headers: { 'X-Team': 'secops' },
      auth: { strategy: 'bearer', token: 's3cr3t-token' },
      request: FAST,
    }));
    const b = trackedBatch(events([FALCO]));
    ok.sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(ok.emu.requests[0]?.method, 'PUT');
    assert.equal(ok.emu.requests[0]?.headers['x-team'], 'secops');

    const bad = await setup({ secretHeader: { name: 'Authorization', value: 'Bearer other' } }, (u) => ({ url: u, auth: { strategy: 'bearer', token: 's3cr3t-token' }, request: FAST }));
    const b2 = trackedBatch(events([FALCO]));
    bad.sink.accept(b2);
    await waitFor(() => bad.sink.state.paused, 5000, 'paused');
    const rec = bad.ctx.records.find((r) => r['code'] === 'TERN_ERR_SINK_AUTH');
    assert.ok(rec, 'paused loudly');
    assert.doesNotMatch(JSON.stringify(bad.ctx.records), /s3cr3t-token/);
    assert.equal(b2.status(), undefined, 'kept, not rejected');
  });

  it('HMAC signature over the body as sent (plain and gzip), secret from a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tern-wh-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'hmac'), 'hmac-key-123\n');
    const plain = await setup({}, (u) => ({ url: u, body: 'array', batch: { timeout_ms: 10 }, signature: { secret: 'hmac-key-123' }, request: FAST }));
    const b = trackedBatch(events([EXEC, FALCO]));
    plain.sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const r = plain.emu.requests[0];
    assert.ok(r);
    assert.equal(r.headers['x-signature-256'], `sha256=${createHmac('sha256', 'hmac-key-123').update(r.body).digest('hex')}`);

    // gzip: the emulator keeps only the decoded body, so a plain server records the bytes as they came.
    const wire: Buffer[] = [];
    const headers: IncomingHttpHeaders[] = [];
    const srv = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        wire.push(Buffer.concat(chunks));
        headers.push(req.headers);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    after(() => new Promise<void>((r) => srv.close(() => r())));
    const port = (srv.address() as AddressInfo).port;
    const ctx = testContext('signed', 'webhook', { configDir: dir });
    const sink = createSink({ url: `http://127.0.0.1:${port}/in`, body: 'ndjson', compression: 'gzip', batch: { timeout_ms: 10 }, signature: { secret_file: 'hmac', header: 'X-Hub-Signature-256', algorithm: 'sha512' }, request: FAST }, ctx);
    after(() => sink.stop(AbortSignal.timeout(500)));
    const evs = events([SHADOW_READ]);
    const b2 = trackedBatch(evs);
    sink.accept(b2);
    assert.equal(await b2.done, 'delivered');
    const body = wire[0];
    assert.ok(body);
    assert.equal(headers[0]?.['content-encoding'], 'gzip');
    assert.equal(gunzipSync(body).toString(), `${evs[0]?.raw}\n`);
    assert.equal(headers[0]?.['x-hub-signature-256'], `sha512=${createHmac('sha512', 'hmac-key-123').update(body).digest('hex')}`);
  });

  it('Idempotency-Key is the same on the retry of a failed request', async () => {
    const { emu, sink } = await setup({}, (u) => ({ url: u, idempotency_key: true, request: FAST }));
    emu.fault({ times: 2, action: { status: 503 } });
    const b = trackedBatch(events([FALCO]));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.requests.length, 3);
    const keys = emu.requests.map((r) => r.headers['idempotency-key']);
    assert.match(String(keys[0]), /^[0-9a-f]{32}$/);
    assert.equal(new Set(keys).size, 1);
  });

  it('501 is permanent: rejected after one request', async () => {
    const { emu, sink, ctx } = await setup({}, (u) => ({ url: u, request: FAST }));
    emu.fault({ times: 1, action: { status: 501 } });
    const b = trackedBatch(events([FALCO]));
    sink.accept(b);
    assert.equal(await b.done, 'rejected');
    assert.equal(emu.requests.length, 1);
    assert.equal(ctx.telemetry.snapshot().events_rejected, 1);
  });
});

describe('other formats and options', () => {
  it('teams: one Adaptive Card message per event', async () => {
    const { emu, sink } = await setup({ status: 202 }, (u) => ({ url: `${u}/workflows/abc`, format: 'teams', request: FAST }));
    const b = trackedBatch(events([PASSWD_WRITE]));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    const card = emu.received[0]?.body as { type: string; attachments: Array<{ contentType: string; content: { body: Array<{ text?: string; style?: string }> } }> };
    assert.equal(card.type, 'message');
    assert.equal(card.attachments[0]?.contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(card.attachments[0]?.content.body[0]?.style, 'attention');
    assert.match(card.attachments[0]?.content.body[1]?.text ?? '', /^Unauthorised access: \/etc\/passwd written by pod default\/debug-shell/);
  });

  it('template: a text template is sent as text/plain, one line per event in ndjson', async () => {
    const { emu, sink } = await setup({}, (u) => ({ url: u, format: 'template', body: 'ndjson', template: '{{_.severity}} {{_.pod}} {{_.binary}} {{_.file | "-"}}', batch: { timeout_ms: 10 }, request: FAST }));
    const b = trackedBatch(events([SHADOW_READ, EXEC]));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.requests[0]?.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(emu.requests[0]?.body.toString(), 'warning default/debug-shell /bin/cat /etc/shadow\nnotice payments/checkout-api-7d9f8b6c5-x2k4p /usr/local/bin/node -\n');
  });

  it('api_key goes in X-API-Key; healthcheck: true waits for any HTTP answer before sending', async () => {
    const { emu, sink } = await setup({ secretHeader: { name: 'X-API-Key', value: 'k-123' } }, (u) => ({ url: u, auth: { strategy: 'api_key', api_key: 'k-123' }, healthcheck: true, request: FAST }));
    const b = trackedBatch(events([FALCO]));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.requests[0]?.method, 'HEAD', 'the reachability check came first (and its 405 counts as reachable)');
    assert.equal(emu.received.length, 1);
  });
});

describe('Slack', () => {
  const HOOK = '/services/T024BE7LD/B01234567/abcdefghijklmnopqrstuvwx';

  it('posts one readable message per event to the exact webhook path', async () => {
    const { emu, sink } = await setup({ mode: 'slack' }, (u) => ({ url: `${u}${HOOK}`, format: 'slack', request: FAST }));
    const b = trackedBatch(events([SHADOW_READ, FALCO]));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.received.length, 2);
    for (const m of emu.received) assert.equal(m.path, HOOK);
    const texts = emu.received.map((m) => (m.body as { text: string }).text).sort();
    assert.deepEqual(texts, [
      `Read sensitive file untrusted: ${FALCO.output}`,
      'Tetragon file-monitoring-filtered: Unauthorised access: /etc/shadow read by pod default/debug-shell (binary /bin/cat, node kind-worker2)',
    ]);
  });

  it('404 no_service pauses loudly with the reason (not the URL), keeps the events, and resumes when the webhook answers again', async () => {
    const { emu, sink, ctx } = await setup({ mode: 'slack' }, (u) => ({ url: `${u}${HOOK}`, format: 'slack', request: { ...FAST, retry_max_ms: 100 } }));
    emu.fault({ times: 3, action: { status: 404, body: 'no_service' } });
    const b = trackedBatch(events([SHADOW_READ]));
    sink.accept(b);
    await waitFor(() => ctx.records.some((r) => r['code'] === 'TERN_ERR_SINK_UNSUPPORTED'), 5000, 'pause logged');
    const pause = ctx.records.find((r) => r['code'] === 'TERN_ERR_SINK_UNSUPPORTED');
    assert.equal(pause?.level, 50, 'logged as an error');
    assert.match(pause?.msg ?? '', /paused: Slack HTTP 404 no_service/);
    assert.equal(await b.done, 'delivered', 'nothing dropped: delivered once the webhook works again');
    assert.equal(emu.received.length, 1);
    assert.ok(ctx.records.some((r) => /resumed/.test(r.msg)));
    assert.equal(ctx.telemetry.snapshot().events_rejected ?? 0, 0);
    assert.doesNotMatch(JSON.stringify(ctx.records), /abcdefghijklmnopqrstuvwx|B01234567/);
  });

  it('410 channel_is_archived: paused until stop; the events stay unacknowledged (re-read after restart)', async () => {
    const emu = await startWebhook({ mode: 'slack', slackWebhooks: { archived: [HOOK] } });
    after(() => emu.close());
    const ctx = testContext('slack', 'webhook');
    const sink = createSink({ url: `${emu.url}${HOOK}`, format: 'slack', request: FAST }, ctx);
    const b = trackedBatch(events([SHADOW_READ, FALCO]));
    sink.accept(b);
    await waitFor(() => sink.state.paused, 5000, 'paused');
    assert.match(ctx.records.find((r) => r['code'] === 'TERN_ERR_SINK_UNSUPPORTED')?.msg ?? '', /channel_is_archived/);
    await sink.stop(AbortSignal.timeout(200));
    assert.equal(b.status(), undefined);
    assert.equal(ctx.telemetry.snapshot().events_rejected ?? 0, 0);
  });

  it('400 invalid_payload is permanent', async () => {
    const { emu, sink, ctx } = await setup({ mode: 'slack' }, (u) => ({ url: `${u}${HOOK}`, format: 'slack', request: FAST }));
    emu.fault({ times: 1, action: { status: 400, body: 'invalid_payload' } });
    const b = trackedBatch(events([FALCO]));
    sink.accept(b);
    assert.equal(await b.done, 'rejected');
    assert.equal(emu.requests.length, 1);
    assert.equal(ctx.telemetry.snapshot().events_rejected, 1);
  });

  it('429 with Retry-After (token bucket 1/s) is waited out', async () => {
    const { emu, sink } = await setup({ mode: 'slack', slackRate: { perSecond: 1, burst: 1 } }, (u) => ({ url: `${u}${HOOK}`, format: 'slack', request: { ...FAST, concurrency: 1 } }));
    const b = trackedBatch(events([SHADOW_READ, FALCO]));
    sink.accept(b);
    assert.equal(await b.done, 'delivered');
    assert.equal(emu.received.length, 2);
    const limited = emu.requests.filter((r) => r.status === 429);
    assert.ok(limited.length >= 1, 'the second message was rate limited');
    const gap = (emu.received[1]?.at ?? 0) - (limited[0]?.at ?? 0);
    assert.ok(gap >= 999, `retried ${gap} ms after the 429, Retry-After said 1 s`);
  });
});
