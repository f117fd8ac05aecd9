// Webhook and Slack emulators against checklist §4.3, over real HTTP.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { startWebhook } from '../src/index.ts';

const JSON_CT = { 'content-type': 'application/json; charset=utf-8' };

async function send(url: string, body: string | Buffer, headers: Record<string, string> = JSON_CT, method = 'POST') {
  const res = await fetch(url, { method, headers, body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe('generic webhook', () => {
  test('records method, path, headers and the gunzipped, parsed body; configurable 2xx', async (t) => {
    const wh = await startWebhook({ status: 202 });
    t.after(() => wh.close());
    const event = { rule: 'Terminal shell', priority: 'Notice', output_fields: { 'k8s.pod.name': 'web-1' } };
    const r = await send(`${wh.url}/falco`, gzipSync(JSON.stringify(event)), { ...JSON_CT, 'content-encoding': 'gzip', 'idempotency-key': 'e1' });
    assert.equal(r.status, 202);
    const put = await send(`${wh.url}/falco`, '{"a":1}', JSON_CT, 'PUT');
    assert.equal(put.status, 202);
    await send(`${wh.url}/nd`, '{"a":1}\n{"a":2}\n', { 'content-type': 'application/x-ndjson' });
    assert.deepEqual(wh.received.map((m) => [m.method, m.path]), [['POST', '/falco'], ['PUT', '/falco'], ['POST', '/nd']]);
    assert.deepEqual(wh.received[0]?.body, event);
    assert.equal(wh.received[0]?.headers['idempotency-key'], 'e1');
    assert.deepEqual(wh.received[2]?.body, [{ a: 1 }, { a: 2 }]);
    assert.ok(typeof wh.received[0]?.at === 'number');
    const nc = await startWebhook({ status: 204 });
    t.after(() => nc.close());
    assert.equal((await send(nc.url, '{}')).status, 204);
  });

  test('secret header: missing → 401, wrong → 403, right → 200', async (t) => {
    const wh = await startWebhook({ secretHeader: { name: 'X-Tern-Secret', value: 's3' } });
    t.after(() => wh.close());
    assert.equal((await send(wh.url, '{}')).status, 401);
    assert.equal((await send(wh.url, '{}', { ...JSON_CT, 'x-tern-secret': 'no' })).status, 403);
    assert.equal((await send(wh.url, '{}', { ...JSON_CT, 'x-tern-secret': 's3' })).status, 200);
    assert.equal(wh.received.length, 1);
  });

  test('scripted answers: 408, 429 + Retry-After (seconds and HTTP-date), 500, 501, 503, 422, slow, reset', async (t) => {
    const wh = await startWebhook();
    t.after(() => wh.close());
    const date = new Date(Date.now() + 2000).toUTCString();
    wh.fault(
      { action: { status: 408 } },
      { action: { status: 429, headers: { 'Retry-After': '1' } } },
      { action: { status: 429, headers: { 'Retry-After': date } } },
      { action: { status: 500 } },
      { action: { status: 501 } },
      { action: { status: 503 } },
      { action: { status: 422 } },
    );
    const got: Array<[number, string | null]> = [];
    for (let i = 0; i < 8; i++) {
      const r = await send(wh.url, '{"n":1}');
      got.push([r.status, r.headers.get('retry-after')]);
    }
    assert.deepEqual(got, [[408, null], [429, '1'], [429, date], [500, null], [501, null], [503, null], [422, null], [200, null]]);
    assert.equal(wh.received.length, 1, 'only the last one was accepted');
    assert.equal(wh.requests.length, 8);

    wh.fault({ action: { delayMs: 100 } });
    const t0 = Date.now();
    assert.equal((await send(wh.url, '{}')).status, 200);
    assert.ok(Date.now() - t0 >= 95);
    wh.fault({ action: { reset: 'before' } }, { action: { reset: 'after' } });
    await assert.rejects(send(wh.url, '{"lost":1}'));
    await assert.rejects(send(wh.url, '{"lost":2}'));
    assert.deepEqual(wh.received.at(-1)?.body, { lost: 2 }, 'reset after: processed, answer lost');
    assert.equal(wh.received.length, 3);
  });
});

describe('slack webhook', () => {
  const HOOK = '/services/T000/B000/XXXX';

  test('200 text/plain ok; payload rules: text/blocks/attachments, invalid_payload, invalid_blocks', async (t) => {
    const sl = await startWebhook({ mode: 'slack' });
    t.after(() => sl.close());
    const ok = await send(sl.url + HOOK, JSON.stringify({ text: 'Falco Notice: Terminal shell' }));
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'ok');
    assert.equal(ok.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal((await send(sl.url + HOOK, JSON.stringify({ attachments: [{ fallback: 'x', color: '#ff0000' }] }))).status, 200);
    const cases: Array<[string, number, string]> = [
      ['not json', 400, 'invalid_payload'],
      [JSON.stringify({ username: 'falco' }), 400, 'invalid_payload'],
      [JSON.stringify({ text: 'x', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) }), 400, 'invalid_blocks'],
      [JSON.stringify({ text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'y'.repeat(3001) } }] }), 400, 'invalid_blocks'],
    ];
    for (const [body, status, code] of cases) {
      const r = await send(sl.url + HOOK, body);
      assert.deepEqual([r.status, r.text], [status, code], body.slice(0, 40));
    }
    assert.equal(sl.received.length, 2);
    const noText = await startWebhook({ mode: 'slack', slackMissingTextError: 'no_text' });
    t.after(() => noText.close());
    assert.equal((await send(noText.url + HOOK, '{}')).text, 'no_text');
  });

  test('unknown webhook → 404 no_service, archived → 410 channel_is_archived', async (t) => {
    const sl = await startWebhook({ mode: 'slack', slackWebhooks: { known: [HOOK], archived: ['/services/T000/B111/OLD'] } });
    t.after(() => sl.close());
    const body = JSON.stringify({ text: 'x' });
    assert.deepEqual(Object.values(await send(`${sl.url}/services/T000/B999/NOPE`, body)).slice(0, 2), [404, 'no_service']);
    assert.deepEqual(Object.values(await send(`${sl.url}/services/T000/B111/OLD`, body)).slice(0, 2), [410, 'channel_is_archived']);
    assert.deepEqual(Object.values(await send(`${sl.url}/hooks/x`, body)).slice(0, 2), [404, 'no_service']);
    assert.equal((await send(sl.url + HOOK, body)).status, 200);
  });

  test('token bucket: burst then 429 with Retry-After; a token returns after 1/perSecond', async (t) => {
    const sl = await startWebhook({ mode: 'slack', slackRate: { perSecond: 10, burst: 2 } });
    t.after(() => sl.close());
    const body = JSON.stringify({ text: 'x' });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const r = await send(sl.url + HOOK, body);
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get('retry-after');
        assert.equal(r.text, 'rate_limited');
      }
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.equal(retryAfter, '1');
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal((await send(sl.url + HOOK, body)).status, 200);
    assert.equal(sl.received.length, 3);
    assert.ok((sl.received[2]?.at ?? 0) - (sl.received[1]?.at ?? 0) >= 100);
  });

  test('Slack fault defaults are Slack error codes', async (t) => {
    const sl = await startWebhook({ mode: 'slack' });
    t.after(() => sl.close());
    sl.fault({ action: { status: 500 } }, { action: { status: 403 } });
    assert.deepEqual(Object.values(await send(sl.url + HOOK, '{"text":"x"}')).slice(0, 2), [500, 'rollup_error']);
    assert.deepEqual(Object.values(await send(sl.url + HOOK, '{"text":"x"}')).slice(0, 2), [403, 'action_prohibited']);
  });
});

test('close() while a request body is still streaming does not crash the process', async () => {
  const { request } = await import('node:http');
  const wh = await startWebhook();
  const u = new URL(wh.url);
  const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/slow', headers: { 'content-type': 'application/json', 'content-length': '1000' } });
  req.on('error', () => {});
  req.write('{"partial":');
  await new Promise((resolve) => setTimeout(resolve, 50));
  await wh.close();
  req.destroy();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(wh.received.length, 0);
});

test('fault headers override standard headers case-insensitively', async () => {
  const wh = await startWebhook();
  try {
    wh.fault({ action: { status: 500, headers: { 'Content-Type': 'application/json' }, body: '{"e":1}' } });
    const res = await fetch(wh.url, { method: 'POST', body: '{}' });
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(await res.text(), '{"e":1}');
  } finally {
    await wh.close();
  }
});
