/**
 * What the `http_server` source answers, over real HTTP(S), through the real binary: bodies it takes
 * (object, array, NDJSON, text, gzip) and what reaches the sink; 400 naming what was wrong; 401 for
 * missing or wrong credentials (bearer and basic, secrets from files); 404, 405, 413 (declared,
 * streamed, and a gzip bomb), 415; mutual TLS refusing a client without a certificate; and, with
 * acknowledgements off, 200 while the sink is down.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { lines } from '@tern/test-kit/e2e';
import { elasticsearch, esSink, falcoAlert, serve, until } from './helpers.ts';
import { writeTestTls } from '@tern/test-kit';

async function post(url: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }, opts: { method?: 'POST' | 'GET' | 'PUT'; dispatcher?: Agent } = {}) {
  const res = await request(url, { method: opts.method ?? 'POST', headers, body: opts.method === 'GET' ? null : body, ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: (text ? JSON.parse(text) : {}) as { error?: string; events?: number } };
}

const toFile = (source: string) => `data_dir: ./state
sources:
  in:
${source
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
sinks:
  out: { type: file, inputs: [in], path: ./out.ndjson }
`;

describe('bodies', () => {
  it('takes a JSON object, an array, NDJSON, text lines and gzip; each event reaches the sink once', async (t) => {
    const s = await serve(t, toFile('type: http_server\naddress: 127.0.0.1:0\npaths: [/, /text]'));
    const out = join(s.dir, 'out.ndjson');
    assert.deepEqual((await post(s.url, JSON.stringify({ n: 1 }))).json, { events: 1 });
    assert.equal((await post(s.url, JSON.stringify([{ n: 2 }, { n: 3 }]))).json.events, 2);
    assert.equal((await post(s.url, '{"n":4}\n{"n":5}\n', { 'content-type': 'application/x-ndjson' })).json.events, 2);
    assert.equal((await post(s.url, gzipSync('{"n":6}\n{"n":7}'), { 'content-type': 'application/json', 'content-encoding': 'gzip' })).json.events, 2);
    assert.equal((await post(`${s.url}/text`, '12:00:00: Warning a shell\nsecond line\n', { 'content-type': 'text/plain' })).json.events, 2);
    await until(() => lines(out).length === 9, 10_000, 'nine events');
    assert.equal(await s.stop(), 0);
    const got = lines(out).map((l) => JSON.parse(l) as { n?: number; message?: string });
    assert.deepEqual(got.flatMap((e) => (e.n === undefined ? [] : [e.n])), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(got.flatMap((e) => (e.message === undefined ? [] : [e.message])), ['12:00:00: Warning a shell', 'second line']);
    const c = s.counters();
    assert.equal(c.requests, 5);
    assert.equal(c.requests_accepted, 5);
    assert.equal(c.events_read, 9);
  });

  it('400 names what was wrong with the body; nothing of it is taken', async (t) => {
    const s = await serve(t, toFile('type: http_server\naddress: 127.0.0.1:0'));
    const bad = await post(s.url, '{"n":1}\n{"n":2,}\n');
    assert.equal(bad.status, 400);
    assert.match(bad.json.error ?? '', /^malformed json body: NDJSON line 2: /);
    const arr = await post(s.url, '[{"n":1}, "two"]');
    assert.equal(arr.status, 400);
    assert.equal(arr.json.error, 'malformed json body: item 1 of the array is not a JSON object');
    const gz = await post(s.url, Buffer.from('not gzip'), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(gz.status, 400);
    assert.match(gz.json.error ?? '', /^body is not valid gzip/);
    assert.equal((await post(s.url, '{"n":3}')).status, 200);
    assert.equal(await s.stop(), 0);
    assert.deepEqual(lines(join(s.dir, 'out.ndjson')), ['{"n":3}']);
    assert.equal(s.counters().decode_errors, 2);
  });

  it('404 for another path, 405 for GET, 413 over max_body_bytes (declared, streamed, or once gunzipped), 415 for an unknown encoding', async (t) => {
    const s = await serve(t, toFile('type: http_server\naddress: 127.0.0.1:0\npaths: [/falco]\nmax_body_bytes: 2048'));
    const other = await post(`${s.url}/other`, '{}');
    assert.equal(other.status, 404);
    assert.equal(other.json.error, 'no events are taken at /other; paths: /falco');
    const get = await post(`${s.url}/falco`, '', {}, { method: 'GET' });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST, PUT');
    const big = JSON.stringify({ pad: 'x'.repeat(3000) });
    assert.equal((await post(`${s.url}/falco`, big)).status, 413);
    // No Content-Length: counted while it streams in.
    const streamed = await request(`${s.url}/falco`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Readable.from(
        (function* () {
          for (let i = 0; i < 10; i++) yield Buffer.from('x'.repeat(1000));
        })(),
      ),
    }).then(
      async (r) => {
        await r.body.dump();
        return r.statusCode;
      },
      (e: unknown) => (e as Error).message,
    );
    // The answer may race the rest of the upload: a client still sending can see the connection close
    // instead of reading the 413 (the server's count below says it refused the body either way).
    assert.ok(streamed === 413 || /ECONNRESET|EPIPE|other side closed|socket/i.test(String(streamed)), `streamed: ${String(streamed)}`);
    const bomb = gzipSync(Buffer.alloc(1_000_000, 32));
    assert.ok(bomb.length < 2048);
    const b = await post(`${s.url}/falco`, bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(b.status, 413);
    assert.match(b.json.error ?? '', /once decompressed/);
    const br = await post(`${s.url}/falco`, '{}', { 'content-type': 'application/json', 'content-encoding': 'br' });
    assert.equal(br.status, 415);
    assert.equal(br.json.error, 'Content-Encoding br is not supported; send identity, gzip or deflate', 'names every encoding it takes');
    assert.equal((await post(`${s.url}/falco`, '{"ok":true}')).status, 200);
    assert.equal(await s.stop(), 0);
    assert.equal(s.counters().requests_too_large, 3);
  });
});

describe('credentials', () => {
  it('bearer token from a file: 401 without it or with another, 200 with it', async (t) => {
    const s = await serve(t, toFile('type: http_server\naddress: 127.0.0.1:0\nauth: { strategy: bearer, token_file: ./token }'), { files: { token: 's3cret-token\n' } });
    const none = await post(s.url, '{"n":1}');
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="tern"');
    assert.equal((await post(s.url, '{"n":1}', { 'content-type': 'application/json', authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await post(s.url, '{"n":2}', { 'content-type': 'application/json', authorization: 'Bearer s3cret-token' })).status, 200);
    assert.equal((await post(s.url, '{"n":3}', { 'content-type': 'application/json', authorization: 'bearer s3cret-token' })).status, 200, 'the scheme is case-insensitive');
    assert.equal(await s.stop(), 0);
    assert.deepEqual(lines(join(s.dir, 'out.ndjson')), ['{"n":2}', '{"n":3}']);
    assert.equal(s.counters().requests_unauthorized, 2);
  });

  it('basic credentials (as in Falco\'s http_output.url): 401 for a wrong password', async (t) => {
    const s = await serve(t, toFile('type: http_server\naddress: 127.0.0.1:0\nauth: { strategy: basic, user: falco, password_file: ./pw }'), { files: { pw: 'pa55' } });
    const basic = (u: string, p: string) => ({ 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    assert.equal((await post(s.url, '{}', basic('falco', 'nope'))).status, 401);
    assert.equal((await post(s.url, '{"n":1}', basic('falco', 'pa55'))).status, 200);
    assert.equal(await s.stop(), 0);
  });

  it('mutual TLS: a client without a certificate is refused in the handshake; with one it is served', async (t) => {
    const tls = writeTestTls();
    const s = await serve(t, toFile(`type: http_server\naddress: 127.0.0.1:0\ntls: { crt_file: ${tls.cert}, key_file: ${tls.key}, ca_file: ${tls.cert} }`));
    assert.match(s.url, /^https:/);
    const anonymous = new Agent({ connect: { ca: readFileSync(tls.cert) } });
    const withCert = new Agent({ connect: { ca: readFileSync(tls.cert), cert: readFileSync(tls.cert), key: readFileSync(tls.key) } });
    t.after(() => Promise.all([anonymous.close(), withCert.close()]));
    await assert.rejects(post(s.url, '{"n":1}', undefined, { dispatcher: anonymous }));
    const ok = await post(s.url, '{"n":2}', undefined, { dispatcher: withCert });
    assert.equal(ok.status, 200);
    assert.equal(await s.stop(), 0);
    assert.deepEqual(lines(join(s.dir, 'out.ndjson')), ['{"n":2}']);
    assert.ok((s.counters().requests_unauthorized ?? 0) >= 1);
  });
});

describe('acknowledgements', () => {
  it('off: 200 as soon as the events are queued, while the sink is still down; they arrive after it recovers', async (t) => {
    const es = await elasticsearch(t, true);
    const s = await serve(
      t,
      `data_dir: ./state
sources:
  in: { type: http_server, address: 127.0.0.1:0, sender: falco, acknowledgements: false }
sinks:
${esSink('es', 'in', es.url, 'falco')}`,
    );
    const r = await post(s.url, JSON.stringify(falcoAlert(1)));
    assert.equal(r.status, 200);
    await until(() => es.requests.some((q) => q.path === '/_bulk' && q.status === 503), 10_000, 'a refused bulk request');
    assert.equal(es.count(), 0);
    es.clearFaults();
    await until(() => es.count() === 1, 10_000, 'the alert, once ES is back');
    assert.equal(await s.stop(), 0);
  });
});
