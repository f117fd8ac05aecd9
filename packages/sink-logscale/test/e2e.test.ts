// End to end through the CLI (`tern run --once`, the real binary from source) against the LogScale
// emulator: a 100,000-line Tetragon log arrives complete with its tags and timestamps while the
// first requests meet 503 (ingest backlog); and a refused token at --log-level debug pauses the
// sink loudly without the token ever reaching the logs.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { startLogScale } from '@tern/test-kit';
import { finalCounters, tern, until, workdir, writeTetragonLog } from '@tern/test-kit/e2e';

const LINES = 100_000;
const STRUCTURED = '/api/v1/ingest/humio-structured';

it(`file → logscale: ${LINES} Tetragon lines arrive with tags and timestamps through 503 backlog answers`, { timeout: 180_000 }, async () => {
  const dir = workdir('tern-ls-e2e-');
  const log = join(dir, 'tetragon.log');
  await writeTetragonLog(log, LINES);

  let armed = false;
  const emu = await startLogScale({
    recordBodies: false,
    tokens: { 'e2e-token': { repository: 'tetragon' } },
    // Once the healthcheck (an empty ingest) passed, the next three ingests meet the ingest-backlog
    // answer (MAX_INGEST_DELAY_SECONDS exceeded), which the sink retries with backoff.
    onRequest: (e) => {
      if (!armed && e.path === STRUCTURED && e.status === 200) {
        armed = true;
        emu.fault({ match: { path: STRUCTURED }, times: 3, action: { status: 503 } });
      }
    },
  });
  after(() => emu.close());
  writeFileSync(
    join(dir, 'pipeline.yaml'),
    `data_dir: ./state
sources:
  tetragon: { type: file, include: ["./tetragon.log"] }
sinks:
  logscale:
    type: logscale
    inputs: [tetragon]
    endpoint: "${emu.url}"
    token: \${LOGSCALE_TOKEN}
    tags: { source: "{{@source}}", cluster: e2e, node: "{{@host}}" }
`,
  );
  const t0 = Date.now();
  const r = tern(['run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json'], { cwd: dir, env: { LOGSCALE_TOKEN: 'e2e-token', NODE_NAME: 'node-e2e' } });
  assert.equal(await r.exit, 0, r.stderr());
  const ms = Date.now() - t0;

  assert.equal(emu.count('tetragon'), LINES, 'every line stored once');
  const stats = emu.stats();
  assert.equal(stats.byStatus[503], 3, 'the backlog answers were met');
  const events = emu.events('tetragon');
  let i = 0;
  for (const e of events) {
    assert.equal(e['#source'], 'tetragon');
    assert.equal(e['#cluster'], 'e2e');
    assert.equal(e['#node'], 'node-e2e');
    const time = e.attributes.time;
    assert.equal(typeof time, 'string');
    assert.equal(e['@timestamp'], Date.parse(time as string), `event ${i}: @timestamp from its time field`);
    i++;
  }
  const seen = new Set(events.map((e) => JSON.stringify(e.attributes)));
  assert.ok(seen.size > LINES * 0.99, 'events are the distinct lines, not one line repeated');

  const c = finalCounters(r, 'logscale');
  assert.ok(c, 'final counters logged');
  assert.equal(c.events_delivered, LINES);
  assert.equal(c.events_rejected ?? 0, 0);
  assert.ok((c.retries ?? 0) >= 3);
  process.stderr.write(`# e2e: ${LINES} events in ${ms} ms, ${c.requests} requests, ${c.bytes_sent} bytes on the wire\n`);
});

it('a refused token at --log-level debug: TERN_ERR_SINK_AUTH logged, the token never', { timeout: 60_000 }, async () => {
  const dir = workdir('tern-ls-e2e-');
  const secret = 'tok-9f2c-very-secret-value';
  writeFileSync(join(dir, 'token'), `${secret}\n`);
  writeFileSync(join(dir, 'in.log'), '{"a":1,"time":"2026-08-21T10:00:00Z"}\n{"a":2,"time":"2026-08-21T10:00:01Z"}\n');
  const emu = await startLogScale({ recordBodies: false });
  after(() => emu.close());
  writeFileSync(
    join(dir, 'pipeline.yaml'),
    `data_dir: ./state
shutdown_timeout_ms: 500
sources:
  in: { type: file, include: ["./in.log"] }
sinks:
  logscale: { type: logscale, inputs: [in], endpoint: "${emu.url}", token_file: ./token, request: { retry_max_ms: 200 } }
`,
  );
  const r = tern(['run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json', '--log-level', 'debug'], { cwd: dir });
  // Wait for the loud line, then stop: the sink keeps the events while paused, so --once would wait forever.
  await until(() => r.stderr().includes('TERN_ERR_SINK_AUTH'), 30_000, 'the auth error in the logs', () => r.stderr());
  r.child.kill('SIGTERM');
  await r.exit;
  const stderr = r.stderr();
  assert.ok(!stderr.includes(secret), 'token absent from every log line');
  assert.equal(emu.count(), 0);
  assert.ok((emu.stats().byStatus[401] ?? 0) >= 1);
});
