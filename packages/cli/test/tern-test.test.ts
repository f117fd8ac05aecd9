/**
 * `tern test`: every example carries its tests (examples/<name>/pipeline.tests.yaml) and they pass;
 * a broken assertion fails with a message that says which condition, on which event, and where the
 * test is; tests can also sit in the pipeline file; a pipeline without tests fails instead of passing
 * silently; a malformed test is a validation error with its file:line.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tern, tmp, write } from './helpers.ts';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

describe('tern test on the examples', () => {
  for (const name of readdirSync(examples).sort()) {
    it(`examples/${name}: its tests pass`, async () => {
      assert.ok(existsSync(join(examples, name, 'pipeline.tests.yaml')), `examples/${name}/pipeline.tests.yaml: every example carries its tests`);
      const r = tern(['test', '-c', join(examples, name, 'pipeline.yaml')], { env: { TERN_LOG_LEVEL: 'error' } });
      assert.equal(await r.exit, 0, r.stdout() + r.stderr());
      assert.match(r.stdout(), /^\d+ tests?, (\d+) passed, 0 failed$/m);
      assert.doesNotMatch(r.stdout(), /✘/);
    });
  }
});

const PIPELINE = `sources:
  in: { type: stdin, decoding: json }
transforms:
  shells:
    type: filter
    inputs: [in]
    condition: event.process.name in ["sh", "bash"]
sinks:
  alerts: { type: console, inputs: [shells] }
  all: { type: console, inputs: [in] }
`;

describe('tern test reports', () => {
  it('passes tests written in the pipeline file itself', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', `${PIPELINE}tests:\n  - name: a shell is an alert\n    inputs: [{ insert_at: in, events: [{ process: { name: bash } }] }]\n    outputs: [{ extract_from: alerts, count: 1, conditions: ['event.process.name == "bash"'] }]\n`);
    const r = tern(['test', '-c', p]);
    assert.equal(await r.exit, 0, r.stdout() + r.stderr());
    assert.equal(r.stdout(), `running 1 test (${p})\n  ✔ a shell is an alert\n1 test, 1 passed, 0 failed\n`);
  });

  it('fails a broken assertion with the condition, the event and the test\'s file:line', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', PIPELINE);
    const side = write(
      dir,
      'p.tests.yaml',
      [
        'tests:',
        '  - name: curl is not a shell',
        '    inputs: [{ insert_at: shells, events: [{ process: { name: curl } }] }]',
        '    no_outputs_from: [alerts]',
        '  - name: a shell is an alert (wrong on purpose)',
        '    inputs:',
        '      - insert_at: in',
        '        lines: [\'{"process":{"name":"sh","pid":7}}\']',
        '    outputs:',
        '      - extract_from: alerts',
        '        conditions: [\'event.process.name == "bash"\']',
        '      - extract_from: all',
        '        count: 2',
        '    no_outputs_from: [shells]',
        '',
      ].join('\n'),
    );
    const r = tern(['test', '-c', p]);
    assert.equal(await r.exit, 1);
    assert.equal(
      r.stdout(),
      `running 2 tests (${p}, ${side})\n` +
        '  ✔ curl is not a shell\n' +
        `  ✘ a shell is an alert (wrong on purpose) (${side}:5)\n` +
        '      outputs[0] (alerts): condition "event.process.name == \\"bash\\"" is false for event 1 of 1: {"process":{"name":"sh","pid":7}}\n' +
        '      outputs[1] (all): expected 2 events, got 1\n' +
        '      no_outputs_from shells: expected nothing, got 1 event, the first: {"process":{"name":"sh","pid":7}}\n' +
        '2 tests, 1 passed, 1 failed\n',
    );
  });

  it('says when a condition reads a missing field or does not compile', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', `${PIPELINE}tests:\n  - name: t\n    inputs: [{ insert_at: in, events: [{ process: { name: sh } }] }]\n    outputs: [{ extract_from: alerts, conditions: ['event.user.name == "root"', 'event.process.name ==='] }]\n`);
    const r = tern(['test', '-c', p]);
    assert.equal(await r.exit, 1);
    assert.match(r.stdout(), /outputs\[0\] \(alerts\): condition "event.user.name == \\"root\\"" is an error \(a field it reads is missing\?\) for event 1 of 1/);
    assert.match(r.stdout(), /outputs\[0\] \(alerts\): condition "event.process.name ===" does not compile: /);
  });

  it('a pipeline with no test fails, and a malformed test is a validation error with file:line', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', PIPELINE);
    const none = tern(['test', '-c', p]);
    assert.equal(await none.exit, 1);
    assert.match(none.stderr(), /^no tests in .*p\.yaml: add tests: to the pipeline, or a side file .*p\.tests\.yaml$/m);
    const q = write(dir, 'q.yaml', `${PIPELINE}tests:\n  - name: t\n    inputs: [{ insert_at: in, event: [] }]\n`);
    const bad = tern(['test', '-c', q]);
    assert.equal(await bad.exit, 1);
    assert.match(bad.stderr(), new RegExp(`${q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:13:\\d+: error: tests.0.inputs.0: unknown option "event"`));
    // `tern run` ignores tests.
    const run = tern(['run', '-c', q.replace('q.yaml', 'p.yaml'), '--log-level', 'error'], { input: '{"process":{"name":"sh"}}\n' });
    assert.equal(await run.exit, 0, run.stderr());
  });
});

describe('tern test inputs', () => {
  it('path: the events come from that file (the zeek ECS profile takes the log kind from its name)', async () => {
    const dir = tmp();
    const conn = '{"ts":1730798062.324118,"uid":"CwZ3kV2xq7Bf0t1Ya9","id.orig_h":"10.52.1.23","id.orig_p":43918,"id.resp_h":"169.254.169.254","id.resp_p":80,"proto":"tcp","service":"http","conn_state":"SF"}';
    const p = write(
      dir,
      'p.yaml',
      'sources:\n  in: { type: stdin }\ntransforms:\n  zeek_ecs: { type: ecs, inputs: [in], profile: zeek }\nsinks:\n  out: { type: console, inputs: [zeek_ecs] }\n' +
        `tests:\n  - name: a conn.log line is a network connection\n    inputs: [{ insert_at: zeek_ecs, path: /var/log/zeek/checkout-api/conn.log, lines: ['${conn}'] }]\n    outputs: [{ extract_from: zeek_ecs, count: 1, conditions: ['event.event.dataset == "zeek.connection"', 'event.source.ip == "10.52.1.23"'] }]\n`,
    );
    const r = tern(['test', '-c', p]);
    assert.equal(await r.exit, 0, r.stdout() + r.stderr());
  });
});
