/**
 * The HTTP API on its own: routes and answers without a pipeline (not loaded yet, then loaded), the
 * loopback rule of /api/*, the address parser.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ApiServer, isLoopback, Metrics, parseAddress, Telemetry, type ApiTarget } from '../src/index.ts';
import { silent } from './helpers.ts';

const servers: ApiServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

describe('API server', () => {
  it('answers /healthz always, /readyz and /api/* 503 until a pipeline is there, then with its state', async () => {
    let target: ApiTarget | undefined;
    const telemetry = new Telemetry();
    const api = new ApiServer({ logger: silent, metrics: new Metrics(telemetry, { ready: () => target !== undefined }, { processMetrics: false }), target: () => target });
    servers.push(api);
    const { url } = await api.listen('127.0.0.1:0');
    const get = async (path: string) => {
      const r = await fetch(`${url}${path}`);
      return { status: r.status, body: await r.text() };
    };
    assert.equal((await get('/healthz')).status, 200);
    assert.deepEqual(await get('/readyz'), { status: 503, body: '{"ready":false,"reasons":["configuration not loaded yet"]}' });
    assert.equal((await get('/api/components')).status, 503);
    assert.match((await get('/metrics')).body, /^tern_ready 0$/m);
    let reasons = ['sink es: healthcheck not passed yet'];
    target = {
      components: () => [{ id: 'es', kind: 'sink', type: 'elasticsearch', counters: { events_in: 3 } }],
      readiness: () => reasons,
      tapKeys: (id) => (id === 'es' ? ['in'] : undefined),
      tap: () => () => undefined,
      budget: { events: 1, bytes: 2, maxEvents: 3, maxBytes: 4 },
    };
    assert.deepEqual(await get('/readyz'), { status: 503, body: '{"ready":false,"reasons":["sink es: healthcheck not passed yet"]}' });
    reasons = [];
    assert.deepEqual(await get('/readyz'), { status: 200, body: '{"ready":true}' });
    const comps = JSON.parse((await get('/api/components')).body) as { components: unknown[]; in_flight: unknown };
    assert.deepEqual(comps.in_flight, { events: 1, bytes: 2, max_events: 3, max_bytes: 4 });
    assert.equal(comps.components.length, 1);
    assert.equal((await get('/api/tap?component=nope')).status, 404);
    assert.equal((await get('/api/tap?component=es&rate=0')).status, 400);
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await fetch(`${url}/healthz`, { method: 'POST' })).status, 405);
  });

  it('/api/* is for loopback only; the address parser', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.1', 'fe80::1', undefined]) assert.equal(isLoopback(a), false, String(a));
    assert.deepEqual(parseAddress('0.0.0.0:8686'), { host: '0.0.0.0', port: 8686 });
    assert.deepEqual(parseAddress(':9000'), { host: '127.0.0.1', port: 9000 });
    assert.deepEqual(parseAddress('[::1]:8686'), { host: '::1', port: 8686 });
    assert.throws(() => parseAddress('8686'), /api.address "8686" is not host:port/);
  });
});
