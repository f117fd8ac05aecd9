/**
 * Files and data directories tern may not touch, through the real binary: a log file of another
 * user (0600) is reported once as "permission denied" with the fix, counted in `permission_errors`,
 * retried quietly and read once it becomes readable; a data_dir tern may not write makes every
 * checkpoint write fail, counted in `checkpoint_errors` and logged with its path and errno.
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

  it('a data_dir tern may not write: every checkpoint write fails, counted in checkpoint_errors and logged with path and errno', async () => {
    const dir = tmp();
    write(dir, 'logs/a.log', '{"seq":0}\n');
    const cps = join(dir, 'state/checkpoints');
    mkdirSync(cps, { recursive: true });
    lockUp(cps);
    if (!root) chmodSync(cps, 0o500);
    const p = write(dir, 'p.yaml', pipeline);
    const r = tern(['run', '-c', p, '--log-format', 'json'], { wrap });
    await until(() => lines(join(dir, 'out/events.ndjson')).length === 1, 10_000, 'the line');
    await until(() => logs(r).some((l) => l.errno === 'EACCES' && String(l.msg).startsWith('cannot write')), 10_000, 'a failed write');
    r.child.kill('SIGTERM');
    await r.exit;
    const failed = logs(r).filter((l) => l.errno === 'EACCES' && String(l.msg).startsWith('cannot write checkpoint'));
    assert.equal(failed[0]?.path, join(cps, 'app.json'));
    assert.match(String(failed[0]?.msg), /cannot write checkpoint \(EACCES\).*Fix: make data_dir readable and writable/);
    // Rate-limited: one line per errno and 10 s, plus the last write at shutdown.
    assert.ok(failed.length <= 3, `${failed.length} lines`);
    assert.ok((counters(r).checkpoint_errors ?? 0) >= 2, JSON.stringify(counters(r)));
  });
});
