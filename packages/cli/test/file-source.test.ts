/**
 * The file source end to end: tailing appended lines, picking up new files, resuming from the
 * checkpoint after a restart without re-sending, and draining on SIGTERM.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { finalCounters, lines, logs, tern, tetragonLines, tmp, until, write } from './helpers.ts';

const pipeline = (extra = '') =>
  `data_dir: ./state\nsources:\n  tetragon:\n    type: file\n    include: ["./logs/*.log"]\n    glob_interval_ms: 100\n    poll_interval_ms: 50\n    checkpoint_interval_ms: 100\n    read_buffer_bytes: 4096\n${extra}sinks:\n  out: { type: file, inputs: [tetragon], path: ./out/events.ndjson }\n`;

const seqs = (path: string) => lines(path).map((l) => (JSON.parse(l) as { seq: number }).seq);

describe('file source', () => {
  it('follows appended lines and a new file matching the glob, then drains on SIGTERM and exits 0', async () => {
    const dir = tmp();
    write(dir, 'logs/.keep', '');
    write(dir, 'logs/a.log', tetragonLines(100, 0));
    const p = write(dir, 'p.yaml', pipeline());
    const out = join(dir, 'out/events.ndjson');
    const r = tern(['run', '-c', p, '--log-format', 'json']);
    await until(() => lines(out).length === 100, 10_000, 'first 100 lines');
    appendFileSync(join(dir, 'logs/a.log'), tetragonLines(50, 100));
    await until(() => lines(out).length === 150, 10_000, 'appended lines');
    write(dir, 'logs/b.log', tetragonLines(25, 1000));
    await until(() => lines(out).length === 175, 10_000, 'lines of the new file');
    r.child.kill('SIGTERM');
    assert.equal(await r.exit, 0, r.stderr());
    const got = seqs(out);
    assert.deepEqual(got.filter((s) => s < 1000), Array.from({ length: 150 }, (_, i) => i));
    assert.deepEqual(got.filter((s) => s >= 1000), Array.from({ length: 25 }, (_, i) => 1000 + i));
    assert.ok(logs(r).some((l) => l.msg === 'stopped; everything read was delivered'));
  });

  it('resumes from its checkpoint after a restart without re-sending', async () => {
    const dir = tmp();
    write(dir, 'logs/a.log', tetragonLines(1000, 0));
    const p = write(dir, 'p.yaml', pipeline());
    const out = join(dir, 'out/events.ndjson');
    const first = tern(['run', '--once', '-c', p]);
    assert.equal(await first.exit, 0, first.stderr());
    assert.equal(lines(out).length, 1000);
    const cp = JSON.parse(readFileSync(join(dir, 'state/checkpoints/tetragon.json'), 'utf8')) as { files: Record<string, { offset: number }> };
    assert.equal(Object.values(cp.files)[0]?.offset, readFileSync(join(dir, 'logs/a.log')).length);

    appendFileSync(join(dir, 'logs/a.log'), tetragonLines(500, 1000));
    const second = tern(['run', '--once', '-c', p]);
    assert.equal(await second.exit, 0, second.stderr());
    assert.deepEqual(seqs(out), Array.from({ length: 1500 }, (_, i) => i));
  });

  it('keeps reading a file renamed by rotation and reads the new file from its start', async () => {
    const dir = tmp();
    write(dir, 'logs/tetragon.log', tetragonLines(200, 0));
    const p = write(dir, 'p.yaml', pipeline().replace('./logs/*.log', './logs/tetragon.log').replace('    checkpoint_interval_ms: 100\n', '    checkpoint_interval_ms: 100\n    rotate_wait_ms: 100\n'));
    const out = join(dir, 'out/events.ndjson');
    const r = tern(['run', '-c', p]);
    await until(() => lines(out).length === 200, 10_000, 'first lines');
    // The writer adds lines, then rotates by rename, then starts a new file at the old path.
    appendFileSync(join(dir, 'logs/tetragon.log'), tetragonLines(100, 200));
    renameSync(join(dir, 'logs/tetragon.log'), join(dir, 'logs/tetragon.log.1'));
    write(dir, 'logs/tetragon.log', tetragonLines(100, 300));
    await until(() => lines(out).length >= 400, 10_000, 'rotated and new lines');
    r.child.kill('SIGTERM');
    assert.equal(await r.exit, 0, r.stderr());
    assert.deepEqual(seqs(out).sort((a, b) => a - b), Array.from({ length: 400 }, (_, i) => i));
  });

  it('json_strict skips malformed and over-long lines with a warning naming file and offset, and delivers the rest', async () => {
    const dir = tmp();
    const good = tetragonLines(3, 0).split('\n');
    write(dir, 'logs/a.log', `${good[0]}\n{"broken": \n${'x'.repeat(5000)}\n${good[1]}\n${good[2]}\n`);
    const p = write(dir, 'p.yaml', pipeline().replace('    glob_interval_ms: 100\n', '    glob_interval_ms: 100\n    max_line_bytes: 4096\n    decoding: json_strict\n'));
    const r = tern(['run', '--once', '-c', p, '--log-format', 'json']);
    assert.equal(await r.exit, 0, r.stderr());
    assert.deepEqual(seqs(join(dir, 'out/events.ndjson')), [0, 1, 2]);
    const warns = logs(r).filter((l) => l.level === 40);
    assert.equal(warns[0]?.path, join(dir, 'logs/a.log'));
    assert.equal(warns[0]?.offset, (good[0] as string).length + 1);
    const counters = finalCounters(r, 'tetragon');
    assert.equal(counters?.decode_errors, 1);
    assert.equal(counters?.lines_too_long, 1);
  });

  it('seven malformed lines in a run shorter than the warning interval: the first is logged, and how many more followed', async () => {
    const dir = tmp();
    const good = tetragonLines(2, 0).split('\n');
    write(dir, 'logs/a.log', `${good[0]}\nbad 1\nbad 2\nbad 3\n${good[1]}\nbad 4\nbad 5\nbad 6\nbad 7\n`);
    const p = write(dir, 'p.yaml', pipeline('    decoding: json_strict\n'));
    const r = tern(['run', '--once', '-c', p, '--log-format', 'json']);
    assert.equal(await r.exit, 0, r.stderr());
    assert.deepEqual(seqs(join(dir, 'out/events.ndjson')), [0, 1]);
    const warns = logs(r).filter((l) => String(l.msg).startsWith('malformed line'));
    assert.equal(warns[0]?.offset, (good[0] as string).length + 1, 'the first one, where it is');
    const summary = warns.find((l) => l.suppressed !== undefined);
    assert.ok(summary, `a summary of the folded warnings: ${JSON.stringify(warns)}`);
    assert.equal(summary.suppressed, 6);
    assert.match(String(summary.msg), /6 more like this in the last \d+ s/);
  });
});
