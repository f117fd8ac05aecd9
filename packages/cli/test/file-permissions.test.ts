/**
 * Files and data directories tern may not touch, through the real binary: a log file of another
 * user (0600) is reported once as "permission denied" with the fix, counted in `permission_errors`,
 * retried quietly and read once it becomes readable; a `checkpoints/` directory or disk buffer
 * directory tern may not write, or a checkpoint it may not read, stops the start (exit 1,
 * TERN_ERR_DATA_DIR naming the path and errno) before anything is read or sent; a checkpoints/ that
 * becomes unwritable while tern runs makes every checkpoint write fail, counted in
 * `checkpoint_errors`, logged with its path and errno, and the run fails.
 *
 * Tests usually run as root, which reads anything (CAP_DAC_OVERRIDE). tern then runs under
 * `setpriv` without the two capabilities that bypass file permissions, so the kernel answers
 * EACCES as it would to an unprivileged DaemonSet; as another user, a file of mode 000 does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { finalCounters, lines, logs, tern, tmp, until, write, type Run } from './helpers.ts';

const root = process.getuid?.() === 0;
const setpriv = root && spawnSync('setpriv', ['--version']).status === 0;
const wrap = setpriv ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--inh-caps=-dac_override,-dac_read_search', '--'] : undefined;
const skip = root && !setpriv ? 'running as root without setpriv: permissions cannot be denied' : false;
/** Another user's file (root), or a file nobody may read (not root). */
const lockUp = (path: string): void => (root ? (chownSync(path, 65534, 65534), chmodSync(path, 0o600)) : chmodSync(path, 0o000));
const unlock = (path: string): void => (root ? chownSync(path, 0, 0) : chmodSync(path, 0o644));

const pipeline = `data_dir: ./state
sources:
  app:
    type: file
    include: ["./logs/*.log"]
    glob_interval_ms: 50
    poll_interval_ms: 50
    checkpoint_interval_ms: 50
sinks:
  out: { type: file, inputs: [app], path: ./out/events.ndjson }
`;

const counters = (r: Run): Record<string, number> => finalCounters(r, 'app') ?? {};

describe('file permissions', { skip }, () => {
  it('a file tern may not read: "permission denied" once, with the fix; read as soon as it is readable; nothing called lost', async () => {
    const dir = tmp();
    write(dir, 'logs/open.log', '{"seq":0}\n{"seq":1}\n');
    const secret = write(dir, 'logs/secret.log', '{"seq":10}\n{"seq":11}\n{"seq":12}\n');
    lockUp(secret);
    const p = write(dir, 'p.yaml', pipeline);
    const out = join(dir, 'out/events.ndjson');
    const r = tern(['run', '-c', p, '--log-format', 'json'], { wrap });
    await until(() => lines(out).length === 2, 10_000, 'the readable file');
    await until(() => logs(r).some((l) => String(l.msg).startsWith('permission denied')), 10_000, 'the warning');
    // Several scans (50 ms apart) retry the file meanwhile; none of them logs again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    unlock(secret);
    await until(() => lines(out).length === 5, 10_000, 'the file, once readable');
    r.child.kill('SIGTERM');
    assert.equal(await r.exit, 0, r.stderr());
    const denied = logs(r).filter((l) => String(l.msg).startsWith('permission denied'));
    assert.equal(denied.length, 1, JSON.stringify(denied));
    assert.equal(denied[0]?.path, secret);
    assert.equal(denied[0]?.errno, 'EACCES');
    assert.match(String(denied[0]?.msg), /run tern as the file's owner.*grant read access.*CAP_DAC_READ_SEARCH/);
    assert.ok(logs(r).some((l) => l.msg === 'file readable now; reading it' && l.path === secret));
    assert.ok(!logs(r).some((l) => /lost|removed/.test(String(l.msg))), 'an unreadable file is not reported as removed or lost');
    assert.equal(counters(r).permission_errors, 1);
    assert.deepEqual(
      lines(out)
        .map((l) => (JSON.parse(l) as { seq: number }).seq)
        .sort((a, b) => a - b),
      [0, 1, 10, 11, 12],
    );
  });

  it('a checkpoints/ directory tern may not write: exit 1 at start naming it and the errno; nothing read, nothing sent', async () => {
    const dir = tmp();
    write(dir, 'logs/a.log', '{"seq":0}\n');
    const cps = join(dir, 'state/checkpoints');
    mkdirSync(cps, { recursive: true });
    lockUp(cps);
    if (!root) chmodSync(cps, 0o500);
    const p = write(dir, 'p.yaml', pipeline);
    const r = tern(['run', '--once', '-c', p, '--log-format', 'json'], { wrap });
    assert.equal(await r.exit, 1, r.stderr());
    const fatal = logs(r).find((l) => l.code === 'TERN_ERR_DATA_DIR');
    assert.ok(fatal, r.stderr());
    assert.match(String(fatal.msg), new RegExp(`checkpoint directory ${cps} is not writable \\(EACCES\\).*give tern's user write access`));
    assert.ok(!logs(r).some((l) => l.msg === 'reading file'), 'nothing was read');
    assert.equal(lines(join(dir, 'out/events.ndjson')).length, 0, 'nothing was sent (no replay of what an unsaved checkpoint would forget)');
  });

  it('a checkpoint file tern may not read: exit 1 at start, instead of reading every file again from its start', async () => {
    const dir = tmp();
    write(dir, 'logs/a.log', '{"seq":0}\n');
    const cp = write(dir, 'state/checkpoints/app.json', '{"version":1,"files":{}}');
    lockUp(cp);
    const p = write(dir, 'p.yaml', pipeline);
    const r = tern(['run', '--once', '-c', p, '--log-format', 'json'], { wrap });
    assert.equal(await r.exit, 1, r.stderr());
    const fatal = logs(r).find((l) => l.code === 'TERN_ERR_DATA_DIR');
    assert.match(String(fatal?.msg), new RegExp(`cannot read checkpoint ${cp} \\(EACCES\\)`));
    assert.equal(lines(join(dir, 'out/events.ndjson')).length, 0);
  });

  it('a disk buffer directory tern may not write: exit 1 at start naming it', async () => {
    const dir = tmp();
    write(dir, 'logs/a.log', '{"seq":0}\n');
    const buf = join(dir, 'state/buffers/out');
    mkdirSync(buf, { recursive: true });
    lockUp(buf);
    if (!root) chmodSync(buf, 0o500);
    const p = write(dir, 'p.yaml', pipeline.replace('path: ./out/events.ndjson }', 'path: ./out/events.ndjson, buffer: { type: disk } }'));
    const r = tern(['run', '--once', '-c', p, '--log-format', 'json'], { wrap });
    assert.equal(await r.exit, 1, r.stderr());
    const fatal = logs(r).find((l) => l.code === 'TERN_ERR_DATA_DIR');
    assert.match(String(fatal?.msg), new RegExp(`disk buffer directory ${buf} is not writable \\(EACCES\\)`));
    assert.equal(lines(join(dir, 'out/events.ndjson')).length, 0);
  });

  it('a checkpoints/ directory that becomes unwritable while tern runs: every checkpoint write fails, counted and logged with path and errno, and the run fails', async () => {
    const dir = tmp();
    write(dir, 'logs/a.log', '{"seq":0}\n');
    const cps = join(dir, 'state/checkpoints');
    const p = write(dir, 'p.yaml', pipeline);
    const r = tern(['run', '-c', p, '--log-format', 'json'], { wrap });
    await until(() => lines(join(dir, 'out/events.ndjson')).length === 1, 10_000, 'the line');
    lockUp(cps);
    if (!root) chmodSync(cps, 0o500);
    write(dir, 'logs/a.log', '{"seq":0}\n{"seq":1}\n');
    await until(() => logs(r).some((l) => l.errno === 'EACCES' && String(l.msg).startsWith('cannot write')), 10_000, 'a failed write');
    r.child.kill('SIGTERM');
    assert.equal(await r.exit, 1, 'a run whose checkpoints could not be saved does not claim success');
    const failed = logs(r).filter((l) => l.errno === 'EACCES' && String(l.msg).startsWith('cannot write checkpoint'));
    assert.equal(failed[0]?.path, join(cps, 'app.json'));
    assert.match(String(failed[0]?.msg), /cannot write checkpoint \(EACCES\).*Fix: make data_dir readable and writable/);
    // Rate-limited: one line per errno and 10 s, plus the last write at shutdown.
    assert.ok(failed.length <= 3, `${failed.length} lines`);
    assert.ok((counters(r).checkpoint_errors ?? 0) >= 2, JSON.stringify(counters(r)));
  });
});
