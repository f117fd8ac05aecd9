// Retry-After parsing, backoff bounds, the shared option schemas (compiled with ajv), secrets, and the
// undici HTTP helper against real local servers (auth headers, gzip, status classification, proxy).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import {
  AUTH_SCHEMA,
  BATCH_SCHEMA,
  COMPRESSION_SCHEMA,
  HEALTHCHECK_SCHEMA,
  HttpClient,
  REQUEST_SCHEMA,
  RETRY_AFTER_CAP_MS,
  TLS_SCHEMA,
  authHeaders,
  backoffDelay,
  batchSchema,
  classifyHttpStatus,
  parseRetryAfter,
  resolveAuth,
  resolveDelivery,
  tlsConnectOptions,
  validateAuth,
  validateTls,
} from '../src/sink-kit/index.ts';
import { isTernError, TernError } from '../src/errors.ts';
import type { JsonSchema } from '../src/plugin/types.ts';
import { createServer as createHttpsServer } from 'node:https';
import { TEST_TLS_CERT, TEST_TLS_KEY, writeTestTls } from '@tern/test-kit';

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 10, 22, 6, 0, 0);
  const table: Array<[string | string[] | undefined, number | undefined]> = [
    ['120', 120_000],
    [' 3 ', 3000],
    ['0', 0],
    ['1.5', 1500],
    [['7', '9'], 7000],
    ['Sun, 22 Nov 2026 06:00:30 GMT', 30_000],
    ['Sunday, 22-Nov-26 06:00:10 GMT', 10_000],
    ['Sun, 22 Nov 2026 05:00:00 GMT', 0],
    ['soon', undefined],
    ['-5', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [input, want] of table) {
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(parseRetryAfter(input, now), want));
  }
});

describe('backoffDelay', () => {
  const p = { initialMs: 100, maxMs: 1000 };
  it('is a full jitter over the capped exponential', () => {
    assert.equal(backoffDelay(p, 0, () => 0), 0);
    assert.equal(backoffDelay(p, 0, () => 0.999), 99);
    assert.equal(backoffDelay(p, 3, () => 0.5), 400);
    assert.equal(backoffDelay(p, 60, () => 0.5), 500);
    assert.equal(backoffDelay(p, 5000, () => 0.5), 500);
  });
  it('waits at least Retry-After, capped', () => {
    assert.equal(backoffDelay(p, 0, () => 0.5, 5000), 5000);
    assert.equal(backoffDelay(p, 5, () => 0.9, 10), 900);
    assert.equal(backoffDelay(p, 0, () => 0.5, 24 * 3_600_000), RETRY_AFTER_CAP_MS);
  });
});

describe('option schemas', () => {
  const ajv = new Ajv({ strict: true, useDefaults: true, strictTuples: false });

  it('every property has a description, a default and examples; objects are closed', () => {
    const check = (s: Record<string, unknown>, path: string): void => {
      if (s.type === 'object' && s.properties) {
        assert.equal(s.additionalProperties, false, `${path}: additionalProperties`);
        for (const [k, v] of Object.entries(s.properties as Record<string, Record<string, unknown>>)) {
          // Secrets, files and names have no default (absent means unset); every other option documents its default.
          const needsDefault = (v.type !== 'string' || 'enum' in v) && !((s.required as string[] | undefined) ?? []).includes(k);
          for (const f of ['description', 'examples', ...(needsDefault ? ['default'] : [])]) assert.ok(f in v, `${path}.${k}: ${f}`);
          check(v, `${path}.${k}`);
        }
      }
    };
    for (const [name, s] of Object.entries({ BATCH_SCHEMA, REQUEST_SCHEMA, TLS_SCHEMA, AUTH_SCHEMA })) check(s, name);
    for (const s of [COMPRESSION_SCHEMA, HEALTHCHECK_SCHEMA]) for (const f of ['description', 'default', 'examples']) assert.ok(f in s);
  });

  it('compiles with ajv strict, applies defaults and rejects typos', () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      properties: { batch: batchSchema({ max_bytes: 5_000_000 }), request: REQUEST_SCHEMA, tls: TLS_SCHEMA, auth: AUTH_SCHEMA, compression: COMPRESSION_SCHEMA },
    };
    const validate = ajv.compile(schema);
    const cfg: Record<string, unknown> = { batch: { max_events: 10 }, request: {} };
    assert.ok(validate(cfg), JSON.stringify(validate.errors));
    assert.deepEqual(cfg.batch, { max_events: 10, max_bytes: 5_000_000, timeout_ms: 1000 });
    assert.equal(validate({ batch: { max_event: 10 } }), false);
    assert.equal(validate({ auth: { strategy: 'basic', user: 'u', password: 'p' } }), true);
    assert.equal(validate({ auth: { strategy: 'bearer', token: 't', usr: 'u' } }), false);
    assert.equal(validate({ auth: { strategy: 'kerberos' } }), false);
    assert.equal(validate({ compression: 'zstd' }), false);
  });

  it('cross-field checks name the option', () => {
    assert.deepEqual(validateAuth({ strategy: 'basic', user: 'u' }), ['auth: strategy basic needs password or password_file']);
    assert.deepEqual(validateAuth({ strategy: 'basic', password: 'p' }), ['auth: strategy basic needs user']);
    assert.deepEqual(validateAuth({ strategy: 'bearer', token: 't', user: 'u' }), ['auth: user does not apply to strategy bearer']);
    assert.deepEqual(validateAuth({ strategy: 'api_key', api_key: 'k', api_key_file: '/x' }), ['auth: set api_key or api_key_file, not both']);
    assert.deepEqual(validateAuth({ strategy: 'bearer', token_file: '/x' }), []);
    assert.deepEqual(validateTls({ crt_file: '/a' }), ['tls: crt_file and key_file go together']);
  });

  it('resolveDelivery: options handed to the kit directly get the defaults its schema documents, frozen', () => {
    const documented = (block: JsonSchema, key: string): unknown => ((block.properties as Record<string, JsonSchema>)[key] as JsonSchema).default;
    const r = resolveDelivery({ batch: { max_events: 7 } });
    assert.deepEqual(r.batch, { max_events: 7, max_bytes: documented(BATCH_SCHEMA, 'max_bytes'), timeout_ms: documented(BATCH_SCHEMA, 'timeout_ms') });
    for (const k of ['concurrency', 'timeout_ms', 'retry_initial_ms', 'retry_max_ms', 'retry_max_duration_ms', 'headers']) assert.deepEqual((r.request as unknown as Record<string, unknown>)[k], documented(REQUEST_SCHEMA, k), `request.${k}`);
    assert.equal(r.compression, COMPRESSION_SCHEMA.default);
    assert.equal(r.healthcheck, HEALTHCHECK_SCHEMA.default);
    assert.deepEqual(r.buffer, { type: 'memory', max_events: 10_000, max_bytes: 8 * 1024 * 1024, when_full: 'block', sync: 'batch' });
    assert.equal(resolveDelivery({ buffer: { type: 'disk' } }).buffer.max_bytes, 256 * 1024 * 1024, 'a disk buffer holds 256 MiB unless told');
    assert.ok(Object.isFrozen(r) && Object.isFrozen(r.batch) && Object.isFrozen(r.request.headers) && Object.isFrozen(r.buffer));
    const given = { request: { concurrency: 2 } };
    resolveDelivery(given);
    assert.deepEqual(given, { request: { concurrency: 2 } }, 'the caller\'s object is not filled in');
  });

  it('resolveDelivery refuses what the schema refuses, naming the option', () => {
    assert.throws(
      () => resolveDelivery({ batch: { max_events: 0 }, request: { concurency: 2 } as never }),
      (e: unknown) => e instanceof TernError && e.code === 'TERN_ERR_CONFIG_SCHEMA' && /batch\.max_events must be >= 1/.test(e.message) && /request must NOT have additional properties/.test(e.message),
    );
  });
});

describe('secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tern-secret-'));
  writeFileSync(join(dir, 'pw'), 's3cret\n');
  writeFileSync(join(dir, 'key'), 'a2V5\r\n');

  it('reads *_file relative to the pipeline directory and trims the trailing newline', () => {
    assert.deepEqual(resolveAuth({ strategy: 'basic', user: 'u', password_file: 'pw' }, dir), { strategy: 'basic', user: 'u', password: 's3cret' });
    assert.deepEqual(resolveAuth({ strategy: 'api_key', api_key_file: join(dir, 'key') }), { strategy: 'api_key', apiKey: 'a2V5' });
    assert.equal(resolveAuth(undefined), undefined);
  });

  it('names the option when the file is missing', () => {
    assert.throws(
      () => resolveAuth({ strategy: 'bearer', token_file: 'nope' }, dir),
      (e: unknown) => isTernError(e) && e.code === 'TERN_ERR_SECRET_FILE' && e.message.startsWith('auth.token_file'),
    );
  });

  it('builds headers per strategy', () => {
    assert.deepEqual(authHeaders(resolveAuth({ strategy: 'basic', user: 'elastic', password_file: 'pw' }, dir)), {
      authorization: `Basic ${Buffer.from('elastic:s3cret').toString('base64')}`,
    });
    assert.deepEqual(authHeaders(resolveAuth({ strategy: 'bearer', token: 't0k' })), { authorization: 'Bearer t0k' });
    assert.deepEqual(authHeaders(resolveAuth({ strategy: 'api_key', api_key: 'abc' })), { authorization: 'ApiKey abc' });
    assert.deepEqual(authHeaders(resolveAuth({ strategy: 'api_key', api_key: 'abc' }), { apiKeyHeader: 'X-API-Key' }), { 'x-api-key': 'abc' });
    assert.throws(() => resolveAuth({ strategy: 'bearer' }), (e: unknown) => isTernError(e) && e.code === 'TERN_ERR_BUILD');
  });

  it('maps tls options to undici connect options', () => {
    writeFileSync(join(dir, 'ca.pem'), 'PEM');
    const o = tlsConnectOptions({ ca_file: 'ca.pem', server_name: 'es.internal', verify: false }, dir) as Record<string, unknown>;
    assert.equal(String(o.ca), 'PEM');
    assert.equal(o.servername, 'es.internal');
    assert.equal(o.rejectUnauthorized, false);
    assert.throws(() => tlsConnectOptions({ ca_file: 'missing.pem' }, dir), (e: unknown) => isTernError(e) && e.code === 'TERN_ERR_BUILD');
  });
});

describe('classifyHttpStatus', () => {
  const table: Array<[number, Record<string, string>, string, number | undefined]> = [
    [200, {}, 'ok', undefined],
    [204, {}, 'ok', undefined],
    [400, {}, 'permanent', undefined],
    [401, {}, 'auth', undefined],
    [403, {}, 'auth', undefined],
    [404, {}, 'permanent', undefined],
    [408, {}, 'retry', undefined],
    [413, {}, 'too_large', undefined],
    [429, { 'retry-after': '2' }, 'retry', 2000],
    [500, {}, 'retry', undefined],
    [501, {}, 'permanent', undefined],
    [502, {}, 'retry', undefined],
    [503, { 'retry-after': '1' }, 'retry', 1000],
    [504, {}, 'retry', undefined],
  ];
  for (const [status, headers, kind, afterMs] of table) {
    it(`${status} → ${kind}`, () => {
      const r = classifyHttpStatus(status, headers, 'body');
      assert.equal(r.kind, kind);
      assert.equal('afterMs' in r ? r.afterMs : undefined, afterMs);
    });
  }
});

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

describe('HttpClient', () => {
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }> = [];
  const replies: Array<[number, Record<string, string>, string]> = [];
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const [status, headers, text] = replies.shift() ?? [200, {}, '{}'];
      res.writeHead(status, headers).end(text);
    });
  });
  let url = '';
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('sends gzip payloads with credentials and headers to the endpoint path', async () => {
    url = await listen(server);
    const client = new HttpClient({ endpoint: `${url}/base/`, auth: { strategy: 'bearer', token: 'tok' }, headers: { 'X-Cluster': 'prod', Authorization: 'ignored' } });
    after(() => client.close());
    const body = '{"a":1}\n';
    const { gzipSync } = await import('node:zlib');
    const z = gzipSync(body);
    const r = await client.send('/api/v1/ingest', { body: z, encoding: 'gzip', rawBytes: body.length, wireBytes: z.length }, new AbortController().signal, { headers: { 'content-type': 'application/json' } });
    assert.deepEqual(r, { kind: 'ok' });
    const s = seen.at(-1);
    assert.ok(s);
    assert.equal(s.method, 'POST');
    assert.equal(s.url, '/base/api/v1/ingest');
    assert.equal(s.headers.authorization, 'Bearer tok');
    assert.equal(s.headers['x-cluster'], 'prod');
    assert.equal(s.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(s.body).toString(), body);
  });

  it('classifies answers, reading Retry-After and the error body', async () => {
    const client = new HttpClient({ endpoint: url });
    after(() => client.close());
    replies.push([429, { 'retry-after': '3' }, 'slow down'], [400, {}, 'bad\nrequest']);
    const p = { body: 'x', encoding: 'identity' as const, rawBytes: 1, wireBytes: 1 };
    assert.deepEqual(await client.send('/', p, new AbortController().signal), { kind: 'retry', reason: 'HTTP 429: slow down', afterMs: 3000 });
    assert.deepEqual(await client.send('/', p, new AbortController().signal), { kind: 'permanent', reason: 'HTTP 400: bad request', status: 400, answer: 'bad request' });
  });

  it('goes through a proxy when `proxy` is set', async () => {
    // A minimal CONNECT proxy: undici tunnels every request through it.
    const tunnels: string[] = [];
    const proxy = createServer();
    const sockets = new Set<Socket>();
    proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      sockets.add(client);
      const [host, port] = (req.url ?? '').split(':');
      const upstream = netConnect(Number(port), host, () => {
        sockets.add(upstream);
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    const proxyUrl = await listen(proxy);
    const client = new HttpClient({ endpoint: url, proxy: proxyUrl });
    after(async () => {
      await client.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
    });
    const r = await client.request({ method: 'GET', path: '/via-proxy' });
    assert.equal(r.status, 200);
    assert.deepEqual(tunnels, [new URL(url).host]);
    assert.equal(seen.at(-1)?.url, '/via-proxy');
  });

  it('aborts with the signal', async () => {
    const hang = createServer(() => {});
    const hangUrl = await listen(hang);
    after(() => new Promise<void>((r) => { hang.closeAllConnections(); hang.close(() => r()); }));
    const client = new HttpClient({ endpoint: hangUrl });
    after(() => client.close());
    const ac = new AbortController();
    const p = client.request({ path: '/', body: 'x', signal: ac.signal });
    ac.abort(new Error('request timed out after 5 ms'));
    await assert.rejects(p);
  });
});

describe('HttpClient TLS', () => {
  const server = createHttpsServer({ cert: TEST_TLS_CERT, key: TEST_TLS_KEY }, (req, res) => res.end(`tls ok ${req.headers.host}`));
  const files = writeTestTls();
  let url = '';
  after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

  it('trusts tls.ca_file and verifies the server name', async () => {
    url = await new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)));
    const client = new HttpClient({ endpoint: url, tls: { ca_file: 'cert.pem' }, baseDir: files.dir });
    after(() => client.close());
    const r = await client.request({ method: 'GET', path: '/' });
    assert.equal(r.status, 200);
    assert.match(r.body, /^tls ok/);
  });

  it('refuses an unknown CA unless verify is false', async () => {
    const strict = new HttpClient({ endpoint: url });
    after(() => strict.close());
    await assert.rejects(strict.request({ method: 'GET', path: '/' }), /self-signed|certificate/i);
    const lax = new HttpClient({ endpoint: url, tls: { verify: false } });
    after(() => lax.close());
    assert.equal((await lax.request({ method: 'GET', path: '/' })).status, 200);
  });

  it('checks the certificate against tls.server_name', async () => {
    const ok = new HttpClient({ endpoint: url, tls: { ca_file: files.cert, server_name: 'es.internal' } });
    after(() => ok.close());
    assert.equal((await ok.request({ method: 'GET', path: '/' })).status, 200);
    const wrong = new HttpClient({ endpoint: url, tls: { ca_file: files.cert, server_name: 'other.internal' } });
    after(() => wrong.close());
    await assert.rejects(wrong.request({ method: 'GET', path: '/' }), /altnames|Hostname/i);
  });
});

