/**
 * Container logs and multiline, in-process: `decoding: cri` over a /var/log/pods-style tree with the
 * kubelet's rotation (rename to `0.log.<time>`, a new `0.log`, older ones gzipped), partial lines
 * joined across reads and across a restart; `multiline` stack traces; and a checkpoint write that
 * fails on a full disk (a real ENOSPC from /dev/full), counted in `checkpoint_errors`.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stopAll, start, tmp, until } from './harness.ts';

after(stopAll);

/** A CRI line as containerd writes it. */
const cri = (n: number, stream: 'stdout' | 'stderr', tag: 'P' | 'F', text: string): string => `2024-11-22T10:20:${String(n % 60).padStart(2, '0')}.${String(n).padStart(9, '0')}Z ${stream} ${tag} ${text}\n`;
/** A Falco alert as Falco prints it on stdout with json_output. */
const alert = (seq: number, pad = 0): string => JSON.stringify({ seq, rule: 'Terminal shell in container', priority: 'Notice', output: `shell ${'x'.repeat(pad)}`, output_fields: { 'k8s.pod.name': 'web-1' } });

describe('decoding: cri', () => {
  it('reads /var/log/pods through the kubelet\'s rotation: partial lines joined, stream and time kept, every line once', async () => {
    const dir = tmp();
    const cdir = join(dir, 'var/log/pods/falco_falco-x7k2p_3f6c1a9e/falco');
    mkdirSync(cdir, { recursive: true });
    const live = join(cdir, '0.log');
    // seq 1 is a 10 KB alert in three fragments, so it also spans reads (read_buffer_bytes 4096).
    const big = alert(1, 10_000);
    writeFileSync(live, cri(0, 'stdout', 'F', alert(0)) + cri(1, 'stdout', 'P', big.slice(0, 4000)) + cri(2, 'stderr', 'F', 'falco: loading rules') + cri(3, 'stdout', 'P', big.slice(4000, 8000)) + cri(4, 'stdout', 'F', big.slice(8000)));
    const s = start(
      {
        include: ['var/log/pods/*/*/*.log'],
        decoding: 'cri',
        read_buffer_bytes: 4096,
        path_fields: 'var/log/pods/{kubernetes.namespace}_{kubernetes.pod.name}_{kubernetes.pod.uid}/{container.name}/*.log',
      },
      dir,
    );
    await until(() => s.events.length === 3, 5000, 'the first file');
    // The kubelet rotates: rename, new 0.log; lines still written to the old one are read too.
    appendFileSync(live, cri(5, 'stdout', 'F', alert(2)));
    renameSync(live, join(cdir, '0.log.20241122-102010'));
    writeFileSync(live, cri(6, 'stdout', 'F', alert(3)));
    await until(() => s.events.length === 5, 5000, 'both files');
    // An older rotated file compressed by the kubelet matches no glob: nothing read twice.
    writeFileSync(join(cdir, '0.log.20241122-100000.gz'), 'not read');
    appendFileSync(live, cri(7, 'stdout', 'F', alert(4)));
    await until(() => s.events.length === 6, 5000, 'appended line');
    await s.stop();
    const alerts = s.events.filter((e) => e.data.stream === 'stdout');
    assert.deepEqual(
      alerts.map((e) => e.data.seq),
      [0, 1, 2, 3, 4],
    );
    const joined = alerts[1];
    assert.equal(joined?.data.output, JSON.parse(big).output, 'the three fragments joined');
    assert.equal(joined?.data['@timestamp'], '2024-11-22T10:20:01.000000001Z', 'the runtime time of the first fragment');
    assert.deepEqual(joined?.origin.fields, { 'kubernetes.namespace': 'falco', 'kubernetes.pod.name': 'falco-x7k2p', 'kubernetes.pod.uid': '3f6c1a9e', 'container.name': 'falco' });
    const stderr = s.events.find((e) => e.data.stream === 'stderr');
    assert.equal(stderr?.data.message, 'falco: loading rules');
    assert.equal(s.counters().decode_errors ?? 0, 0);
  });

  it('reads /var/log/containers, whose files are the kubelet\'s symlinks into /var/log/pods, through a rotation of the target: every line once', async () => {
    const dir = tmp();
    const cdir = join(dir, 'var/log/pods/falco_falco-x7k2p_3f6c1a9e/falco');
    mkdirSync(cdir, { recursive: true });
    mkdirSync(join(dir, 'var/log/containers'), { recursive: true });
    const live = join(cdir, '0.log');
    writeFileSync(live, cri(0, 'stdout', 'F', alert(0)) + cri(1, 'stdout', 'P', '{"seq":1,') + cri(2, 'stdout', 'F', '"rule":"r"}'));
    // What the kubelet links: <pod>_<namespace>_<container>-<container id>.log → the pod's current 0.log.
    symlinkSync(live, join(dir, 'var/log/containers/falco-x7k2p_falco_falco-612176b07673.log'));
    const s = start({ include: ['var/log/containers/*.log'], decoding: 'cri' }, dir);
    await until(() => s.events.length === 2, 5000, 'the first lines');
    // Rotation happens behind the link: the old file is renamed (lines still written to it are read), a new 0.log takes its name.
    appendFileSync(live, cri(3, 'stdout', 'F', alert(2)));
    renameSync(live, join(cdir, '0.log.20241122-102010'));
    writeFileSync(live, cri(4, 'stdout', 'F', alert(3)));
    await until(() => s.events.length === 4, 5000, 'the rotated and the new file');
    appendFileSync(live, cri(5, 'stdout', 'F', alert(4)));
    await until(() => s.events.length === 5, 5000, 'a line appended to the new file');
    await s.stop();
    assert.deepEqual(
      s.events.map((e) => e.data.seq),
      [0, 1, 2, 3, 4],
    );
    assert.ok(s.events.every((e) => e.data.stream === 'stdout' && typeof e.data['@timestamp'] === 'string'));
    assert.equal(s.counters().decode_errors ?? 0, 0);
  });

  it('a partial line held at a graceful stop is read again whole after the restart, not cut in two', async () => {
    const dir = tmp();
    const f = join(dir, '0.log');
    writeFileSync(f, cri(0, 'stdout', 'F', alert(0)) + cri(1, 'stdout', 'P', '{"seq":1,"rule":"r",'));
    const s1 = start({ include: ['*.log'], decoding: 'cri' }, dir);
    await until(() => s1.events.length === 1, 5000, 'the complete line');
    await s1.stop();
    appendFileSync(f, cri(2, 'stdout', 'F', '"output":"joined"}'));
    const s2 = start({ include: ['*.log'], decoding: 'cri' }, dir);
    await until(() => s2.events.length === 1, 5000, 'the joined line');
    await s2.stop();
    assert.deepEqual(
      s2.events.map((e) => [e.data.seq, e.data.output]),
      [[1, 'joined']],
    );
  });
});

describe('multiline', () => {
  it('joins a Java stack trace into one event; the last event goes out after timeout_ms', async () => {
    const dir = tmp();
    const f = join(dir, 'app.log');
    writeFileSync(
      f,
      [
        '2024-11-22 10:00:00 INFO started',
        '2024-11-22 10:00:01 ERROR request failed',
        'java.lang.IllegalStateException: boom',
        '\tat com.example.Handler.handle(Handler.java:42)',
        '\tat com.example.Server.run(Server.java:7)',
        '2024-11-22 10:00:02 INFO recovered',
        '',
      ].join('\n'),
    );
    const s = start({ include: ['*.log'], decoding: 'text', multiline: { start_pattern: '^\\d{4}-\\d{2}-\\d{2} ', timeout_ms: 50, max_lines: 500 } }, dir);
    await until(() => s.events.length === 3, 5000, 'three events, the last after its timeout');
    await s.stop();
    assert.deepEqual(
      s.events.map((e) => e.data.message),
      [
        '2024-11-22 10:00:00 INFO started',
        '2024-11-22 10:00:01 ERROR request failed\njava.lang.IllegalStateException: boom\n\tat com.example.Handler.handle(Handler.java:42)\n\tat com.example.Server.run(Server.java:7)',
        '2024-11-22 10:00:02 INFO recovered',
      ],
    );
    assert.deepEqual(
      s.events.map((e) => e.offset),
      [0, 33, readFileSync(f, 'utf8').indexOf('2024-11-22 10:00:02')],
    );
  });
});

describe('checkpoint failures', () => {
  it('a checkpoint write on a full disk (ENOSPC) is counted in checkpoint_errors and logged with path and errno; writes resume when space returns', async () => {
    if (!existsSync('/dev/full')) return;
    const dir = tmp();
    const cpDir = join(dir, 'state/checkpoints');
    mkdirSync(cpDir, { recursive: true });
    // Every write of the temporary file lands on /dev/full, which answers ENOSPC.
    symlinkSync('/dev/full', join(cpDir, 'src.json.tmp'));
    writeFileSync(join(dir, 'a.log'), '{"seq":0}\n{"seq":1}\n');
    const s = start({ include: ['*.log'] }, dir);
    await until(() => s.events.length === 2, 5000, 'lines');
    await until(() => (s.counters().checkpoint_errors ?? 0) >= 1, 5000, 'a failed checkpoint write');
    const rec = s.records.find((r) => r.errno === 'ENOSPC');
    assert.ok(rec, 'an error naming the errno');
    assert.equal(rec.path, join(cpDir, 'src.json'));
    assert.match(String(rec.msg), /cannot write checkpoint \(ENOSPC\).*Fix: free space/);
    const logged = s.records.filter((r) => r.errno === 'ENOSPC').length;
    // Space returns: the next write succeeds and records the acknowledged offset.
    rmSync(join(cpDir, 'src.json.tmp'));
    await until(() => existsSync(join(cpDir, 'src.json')), 5000, 'a checkpoint written');
    await s.stop();
    const cp = JSON.parse(readFileSync(join(cpDir, 'src.json'), 'utf8')) as { files: Record<string, { offset: number }> };
    assert.deepEqual(Object.values(cp.files).map((f) => f.offset), [20]);
    assert.ok(logged <= 2, `rate-limited: ${logged} lines for ${s.counters().checkpoint_errors} failures`);
  });
});
