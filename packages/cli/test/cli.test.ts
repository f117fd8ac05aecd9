/** The `tern` command: validate, version, help, and stdin → file end to end. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ternArgs } from '@tern/test-kit/e2e';
import { lines, logs, tern, tmp, write } from './helpers.ts';

describe('tern validate', () => {
  it('prints a one-line summary and exits 0 for a valid file', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', 'sources:\n  in: { type: stdin }\nsinks:\n  out: { type: file, inputs: [in], path: out.ndjson }\n  con: { type: console, inputs: [in] }\n');
    const r = tern(['validate', '-c', p]);
    assert.equal(await r.exit, 0);
    assert.equal(r.stdout(), `ok: 1 source, 0 transforms, 2 sinks, 2 edges (${p})\n`);
  });

  it('exits 1 and lists every error with file:line:col and its code', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', 'sources:\n  in: { type: stdn }\nsinks:\n  out: { type: file, inputs: [in], pth: out.ndjson }\n');
    const r = tern(['validate', '-c', p]);
    assert.equal(await r.exit, 1);
    assert.equal(
      r.stderr(),
      `${p}:2:15: error: in: unknown source type "stdn" (did you mean "stdin"?); known: file, http_server, stdin [TERN_ERR_CONFIG_TYPE]\n` +
        `${p}:4:8: error: out: missing required option "path" [TERN_ERR_CONFIG_SCHEMA]\n` +
        `${p}:4:36: error: out: unknown option "pth" (did you mean "path"?) [TERN_ERR_CONFIG_SCHEMA]\n`,
    );
  });

  it('reports a schema error and a graph error of the same file in one run, each with its line and code', async () => {
    const dir = tmp();
    // A misspelt option (schema), an input nobody defines (graph), and a component whose type is
    // unknown (its reader is not blamed for it): a user fixes all three after one run, not three.
    const p = write(dir, 'p.yaml', 'sources:\n  in: { type: stdin }\n  audit: { type: k8s_audit }\ntransforms:\n  f: { type: filter, inputs: [in, falco], condition: "true" }\nsinks:\n  out: { type: console, inputs: [f, audit], encodng: json }\n');
    const r = tern(['validate', '-c', p]);
    assert.equal(await r.exit, 1);
    assert.equal(
      r.stderr(),
      `${p}:3:18: error: audit: unknown source type "k8s_audit"; known: file, http_server, stdin [TERN_ERR_CONFIG_TYPE]\n` +
        `${p}:5:35: error: f: input "falco" does not exist [TERN_ERR_CONFIG_INPUT]\n` +
        `${p}:7:45: error: out: unknown option "encodng" (did you mean "encoding"?) [TERN_ERR_CONFIG_SCHEMA]\n`,
    );
  });

  it('a YAML syntax error says that it stopped the check', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', 'sources:\n  in: { type: stdin\nsinks:\n  out: { type: console, inputs: [nowhere] }\n');
    const r = tern(['validate', '-c', p]);
    assert.equal(await r.exit, 1);
    assert.match(r.stderr(), new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error: .*; tern could not read this file past here, so the rest of it, and the inputs and cycles of the pipeline, were not checked \\[TERN_ERR_CONFIG_PARSE\\]\n$`));
  });

  it('run with JSON logs (a DaemonSet): each configuration error is a log line with its code, file and line, then one that says tern did not start', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', 'sources:\n  in: { type: stdin }\nsinks:\n  out: { type: console, inputs: [in, nowhere], encodng: json }\n');
    const r = tern(['run', '-c', p, '--log-format', 'json']);
    assert.equal(await r.exit, 1);
    const out = r.stderr().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      out.slice(0, -1).map((l) => [l.level, l.code, l.file, l.line, l.component]),
      [
        [50, 'TERN_ERR_CONFIG_INPUT', p, 4, 'out'],
        [50, 'TERN_ERR_CONFIG_SCHEMA', p, 4, 'out'],
      ],
    );
    assert.match(String(out[0]?.msg), /input "nowhere" does not exist/);
    const last = out.at(-1) ?? {};
    assert.equal(last.level, 60);
    assert.deepEqual([last.code, last.codes, last.errors], ['TERN_ERR_CONFIG_INPUT', ['TERN_ERR_CONFIG_INPUT', 'TERN_ERR_CONFIG_SCHEMA'], 2]);
    assert.match(String(last.msg), /^not started: the configuration is not valid/);
  });

  it('prints the version and help', async () => {
    const v = tern(['--version']);
    assert.equal(await v.exit, 0);
    assert.match(v.stdout(), /^\d+\.\d+\.\d+\n$/);
    const h = tern(['run', '--help']);
    assert.equal(await h.exit, 0);
    assert.match(h.stdout(), /--once/);
  });

  it('a usage error exits 2: an unknown option, an unknown command, a missing argument, no command', async () => {
    for (const args of [['run', '--bogus'], ['frobnicate'], ['tap'], []]) {
      const r = tern(args);
      assert.equal(await r.exit, 2, `tern ${args.join(' ')}: ${r.stderr()}`);
      assert.match(r.stderr(), /error: |Usage: tern/, 'says what is wrong');
    }
  });

  it('`tern schema | head` ends quietly with exit 0 when the reader closes the pipe early', async () => {
    const child = spawn(process.execPath, ternArgs(['schema']), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // As `head -c 200` does: take the first chunk, then close the read end while tern still writes.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(err, '', 'no stack trace');
    assert.equal(code, 0);
  });
});

describe('stdin → file', () => {
  it('delivers every line of a 100,000-line input exactly once and in order, then exits 0', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', 'sources:\n  in: { type: stdin, decoding: json }\nsinks:\n  out: { type: file, inputs: [in], path: out.ndjson }\n');
    let input = '';
    for (let i = 0; i < 100_000; i++) input += `{"seq":${i},"msg":"event ${i}"}\n`;
    const r = tern(['run', '-c', p], { input });
    assert.equal(await r.exit, 0, r.stderr());
    const got = lines(join(dir, 'out.ndjson'));
    assert.equal(got.length, 100_000);
    for (let i = 0; i < got.length; i++) if (got[i] !== `{"seq":${i},"msg":"event ${i}"}`) assert.fail(`line ${i}: ${got[i]}`);
  });

  it('json (the default) forwards a line that only looks like JSON as it is; one that is not framed as an object is reported', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', 'sources:\n  in: { type: stdin }\nsinks:\n  out: { type: file, inputs: [in], path: out.ndjson }\n');
    const r = tern(['run', '-c', p, '--log-format', 'json'], { input: '{"a":1}\nnot json\n{"a":\n' });
    assert.equal(await r.exit, 0);
    assert.deepEqual(lines(join(dir, 'out.ndjson')), ['{"a":1}', '{"a":'], 'nothing read its fields: forwarded unparsed, nothing lost');
    assert.match(r.stderr(), /"decode_errors":1/);
  });

  it('json_strict: reports malformed lines with their byte offset, counts them, and delivers their neighbours', async () => {
    const dir = tmp();
    const p = write(dir, 'p.yaml', 'sources:\n  in: { type: stdin, decoding: json_strict }\nsinks:\n  out: { type: file, inputs: [in], path: out.ndjson }\n');
    const r = tern(['run', '-c', p, '--log-format', 'json'], { input: '{"a":1}\nnot json\n{"a":2}\n{"a":\n{"a":3}\n' });
    assert.equal(await r.exit, 0);
    assert.deepEqual(lines(join(dir, 'out.ndjson')), ['{"a":1}', '{"a":2}', '{"a":3}']);
    const warn = r.stderr().split('\n').find((l) => l.includes('malformed line'));
    assert.ok(warn, r.stderr());
    const w = JSON.parse(warn) as { path: string; offset: number; component: string };
    assert.equal(w.offset, 8);
    assert.equal(w.component, 'in');
    assert.match(r.stderr(), /"decode_errors":2/);
    // The second one fell inside the warning interval: said at the end, as a count, not hidden.
    assert.ok(logs(r).some((l) => l.suppressed === 1 && /malformed line.*\(1 more like this/.test(String(l.msg))), r.stderr());
  });
});
