// End to end through the CLI (`tern run --once`, the real binary from source) against the Parseable
// emulator (arrays exploded as v2.9 does): a 100,000-line Tetragon log arrives as exactly one row
// per event while ten requests are refused with 413 and split; and a wrong password at
// --log-level debug pauses the sink loudly without the password ever reaching the logs.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { startParseable } from '@tern/test-kit';
import { finalCounters, tern, until, workdir, writeTetragonLog } from '@tern/test-kit/e2e';

const LINES = 100_000;

it(`file → parseable: ${LINES} Tetragon lines arrive as one row each, through 413 splits`, { timeout: 180_000 }, async () => {
  const dir = workdir('tern-pb-e2e-');
  const log = join(dir, 'tetragon.log');
  await writeTetragonLog(log, LINES);

  const emu = await startParseable({ recordBodies: false, username: 'tern', password: 'e2e-password' });
  after(() => emu.close());
  // Ten requests refused as too large (the actix limit text): each is split in halves and resent.
  // (The real limit, on Content-Length and on the decoded body, is exercised in parseable.test.ts.)
  emu.fault({ match: { path: '/api/v1/ingest' }, times: 10, action: { status: 413 } });
  writeFileSync(
    join(dir, 'pipeline.yaml'),
    `data_dir: ./state
sources:
  tetragon: { type: file, include: ["./tetragon.log"] }
sinks:
  parseable:
    type: parseable
    inputs: [tetragon]
    endpoint: "${emu.url}"
    stream: "{{@source}}"
    username: tern
    password: \${PARSEABLE_PASSWORD}
    custom_fields: { cluster: e2e }
    batch: { max_bytes: 1000000 }
`,
  );
  const t0 = Date.now();
  const r = tern(['run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json'], { cwd: dir, env: { PARSEABLE_PASSWORD: 'e2e-password' } });
  assert.equal(await r.exit, 0, r.stderr());
  const ms = Date.now() - t0;

  assert.deepEqual(emu.streams(), ['tetragon']);
  const rows = emu.rows('tetragon');
  assert.equal(rows.length, LINES, 'one row per event: no array was exploded');
  assert.equal(emu.stats().byStatus[413], 10, 'ten 413 answers, each split and resent');
  let kprobes = 0;
  for (const row of rows) {
    assert.equal(row.cluster, 'e2e');
    assert.equal(typeof row.time, 'string');
    if (row.process_kprobe_function_name !== undefined) {
      kprobes++;
      if (row.process_kprobe_args !== undefined) assert.equal(typeof row.process_kprobe_args, 'string', 'arrays arrive as JSON strings');
    }
  }
  assert.ok(kprobes > 0, 'the log has kprobe events with args arrays');
  assert.ok(Object.values(emu.schema('tetragon')).every((t) => t !== 'List'), 'no list columns');
  assert.equal(new Set(rows.map((x) => `${String(x.process_exec_process_exec_id ?? x.process_exit_process_exec_id ?? x.process_kprobe_process_exec_id)}|${String(x.time)}`)).size, LINES, 'distinct events, none twice');

  const c = finalCounters(r, 'parseable');
  assert.ok(c, 'final counters logged');
  assert.equal(c.events_delivered, LINES);
  assert.equal(c.events_rejected ?? 0, 0);
  process.stderr.write(`# e2e: ${LINES} events in ${ms} ms, ${c.requests} requests (${emu.stats().byStatus[413]} answered 413), ${c.bytes_sent} bytes on the wire\n`);
});

it('a wrong password at --log-level debug: TERN_ERR_SINK_AUTH logged, the password never', { timeout: 60_000 }, async () => {
  const dir = workdir('tern-pb-e2e-');
  const secret = 'pw-7d1e-very-secret-value';
  writeFileSync(join(dir, 'password'), `${secret}\n`);
  writeFileSync(join(dir, 'in.log'), '{"a":1}\n{"a":2}\n');
  const emu = await startParseable({ recordBodies: false });
  after(() => emu.close());
  writeFileSync(
    join(dir, 'pipeline.yaml'),
    `data_dir: ./state
shutdown_timeout_ms: 500
sources:
  in: { type: file, include: ["./in.log"] }
sinks:
  parseable: { type: parseable, inputs: [in], endpoint: "${emu.url}", stream: tern, username: admin, password_file: ./password, create_stream: true, request: { retry_max_ms: 200 } }
`,
  );
  const r = tern(['run', '--once', '-c', 'pipeline.yaml', '--log-format', 'json', '--log-level', 'debug'], { cwd: dir });
  await until(() => r.stderr().includes('TERN_ERR_SINK_AUTH'), 30_000, 'the auth error in the logs', () => r.stderr());
  r.child.kill('SIGTERM');
  await r.exit;
  assert.ok(!r.stderr().includes(secret), 'password absent from every log line');
  assert.ok(!r.stderr().includes(Buffer.from(`admin:${secret}`).toString('base64')), 'nor its Basic encoding');
  assert.equal(emu.streams().length, 0);
  assert.ok((emu.stats().byStatus[403] ?? 0) >= 1);
});
