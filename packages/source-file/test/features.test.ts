/**
 * The file source's behaviours one at a time, in-process: rotation, deletion while open, identity
 * (renames keep checkpoints, reused inodes and short files), `.gz`, path fields and ECS metadata,
 * ignore_older, close_inactive, max_open_files fairness and the crash bound (max_unsaved_events).
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { CheckpointStore } from '../src/checkpoint.ts';
import { stopAll, seqOf, start, tmp, until } from './harness.ts';

after(stopAll);

const lines = (from: number, n: number, pad = 20): string => {
  let s = '';
  for (let i = from; i < from + n; i++) s += `{"seq":${i},"p":"${'z'.repeat(pad)}"}\n`;
  return s;
};
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

describe('rotation and deletion', () => {
  it('finishes a file renamed between two reads, then reads the new file from its start', async () => {
    const dir = tmp();
    const log = join(dir, 'app.log');
    writeFileSync(log, lines(0, 2000));
    const s = start({ include: ['app.log'], read_buffer_bytes: 4096 }, dir);
    await until(() => s.events.length > 0, 5000, 'first batch');
    renameSync(log, join(dir, 'app.log.1')); // mid-file: most of it is not read yet
    writeFileSync(log, lines(2000, 500));
    await until(() => s.events.length >= 2500, 5000, 'all lines');
    await until(() => s.records.some((r) => r.msg === 'file rotated away and read to its end; closed'), 5000, 'close of the rotated file');
    await s.stop();
    assert.deepEqual(sorted(s.events.map(seqOf)), range(0, 2500));
  });

  it('keeps reading a deleted file to its end, then releases it', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.log'), lines(0, 3000));
    const s = start({ include: ['*.log'], read_buffer_bytes: 4096 }, dir);
    await until(() => s.events.length > 0, 5000, 'first batch');
    unlinkSync(join(dir, 'a.log'));
    await until(() => s.records.some((r) => r.msg === 'file deleted and read to its end; closed'), 5000, 'close');
    await s.stop();
    assert.deepEqual(s.events.map(seqOf), range(0, 3000));
  });

  it('close_removed closes a deleted file as soon as a scan notices', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.log'), lines(0, 10));
    const s = start({ include: ['*.log'], close_removed: true, rotate_wait_ms: 60_000 }, dir);
    await until(() => s.events.length === 10, 5000, 'lines');
    unlinkSync(join(dir, 'a.log'));
    await until(() => s.records.some((r) => r.msg === 'file deleted; closed at once (close_removed)'), 5000, 'close');
    await s.stop();
  });
});

describe('identity and checkpoints', () => {
  it('a renamed file keeps its checkpoint across a restart; a new file at the old path starts at 0', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.log'), lines(0, 100));
    const s1 = start({ include: ['*.log*'] }, dir);
    await until(() => s1.events.length === 100, 5000, 'first run');
    await s1.stop();
    renameSync(join(dir, 'a.log'), join(dir, 'a.log.1'));
    appendFileSync(join(dir, 'a.log.1'), lines(100, 10));
    writeFileSync(join(dir, 'a.log'), lines(1000, 5));
    const s2 = start({ include: ['*.log*'] }, dir);
    await until(() => s2.events.length === 15, 5000, 'second run');
    await s2.stop();
    assert.deepEqual(sorted(s2.events.map(seqOf)), [...range(100, 10), ...range(1000, 5)]);
  });

  it('a checkpoint whose head does not match (inode reused by another file) is not applied', async () => {
    const dir = tmp();
    const f = join(dir, 'a.log');
    writeFileSync(f, lines(0, 50));
    const st = statSync(f);
    new CheckpointStore(join(dir, 'state'), 'src').save({ version: 1, files: { [`${st.dev}:${st.ino}`]: { path: f, offset: 500, head_hash: 'not-this-file', head_len: 64, updated: 0 } } });
    const s = start({ include: ['*.log'] }, dir);
    await until(() => s.events.length === 50, 5000, 'whole file');
    await s.stop();
    assert.deepEqual(s.events.map(seqOf), range(0, 50));
  });

  it('a checkpoint of a deleted file whose inode now holds a file outside the globs (a copy made later) does not make tern read that file', async () => {
    // Found by the model test: logrotate's copy of app.log took the inode of an app.log deleted
    // earlier, whose checkpoint entry a stop had saved; the next start took the copy for that file,
    // "rotated while stopped", and sent it from its start (lines already read from app.log).
    const dir = tmp();
    writeFileSync(join(dir, 'app.log'), lines(0, 20));
    const copy = join(dir, 'app.log.1');
    writeFileSync(copy, lines(500, 30));
    const st = statSync(copy);
    const id = `${st.dev}:${st.ino}`;
    new CheckpointStore(join(dir, 'state'), 'src').save({ version: 1, files: { [id]: { path: join(dir, 'app.log'), offset: 300, head_hash: 'the-deleted-file', head_len: 64, updated: 0 } } });
    const s = start({ include: ['app.log'] }, dir);
    await until(() => s.events.length >= 20, 5000, 'app.log');
    await new Promise((r) => setTimeout(r, 150));
    await s.stop();
    assert.deepEqual(s.events.map(seqOf), range(0, 20), 'only app.log is read');
    assert.equal(new CheckpointStore(join(dir, 'state'), 'src').load().files[id], undefined, 'the stale entry is dropped');
  });

  it('short files: the checkpoint covers no more than its head, and applies once the file grows', async () => {
    const dir = tmp();
    const f = join(dir, 'a.log');
    writeFileSync(f, '{"seq":0}\n'); // 10 bytes, fingerprint_bytes is 64
    const s1 = start({ include: ['*.log'] }, dir);
    await until(() => s1.events.length === 1, 5000, 'line');
    await s1.stop();
    const cp = Object.values(new CheckpointStore(join(dir, 'state'), 'src').load().files)[0];
    assert.equal(cp?.head_len, 10);
    assert.equal(cp?.offset, 10);
    appendFileSync(f, lines(1, 20));
    const s2 = start({ include: ['*.log'] }, dir);
    await until(() => s2.events.length === 20, 5000, 'appended lines');
    await s2.stop();
    assert.deepEqual(s2.events.map(seqOf), range(1, 20));
    const cp2 = Object.values(new CheckpointStore(join(dir, 'state'), 'src').load().files)[0];
    assert.equal(cp2?.head_len, 64, 'the head grew to fingerprint_bytes');
  });

  it('a file rotated while tern was stopped is finished from its checkpoint (found by inode next to its old path)', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'app.log'), lines(0, 100));
    const s1 = start({ include: ['app.log'] }, dir);
    await until(() => s1.events.length === 100, 5000, 'first run');
    await s1.stop();
    appendFileSync(join(dir, 'app.log'), lines(100, 30));
    renameSync(join(dir, 'app.log'), join(dir, 'app-2024-11-22.log'));
    writeFileSync(join(dir, 'app.log'), lines(500, 3));
    const s2 = start({ include: ['app.log'] }, dir);
    await until(() => s2.events.length === 33, 5000, 'rest of the rotated file and the new one');
    await s2.stop();
    assert.deepEqual(sorted(s2.events.map(seqOf)), [...range(100, 30), ...range(500, 3)]);
  });

  it('copytruncate, lines written, then a rename rotation, all while tern was stopped: the rest of the old content from the copy and the lines written after the truncation are read', async () => {
    // Found in review: following a checkpoint by inode only when the head is unchanged dropped this
    // file (its head changed with the truncation) and lost the lines written after it.
    const dir = tmp();
    const log = join(dir, 'app.log');
    writeFileSync(log, lines(0, 100));
    const s1 = start({ include: ['app.log'] }, dir);
    await until(() => s1.events.length === 100, 5000, 'first run');
    await s1.stop();
    appendFileSync(log, lines(100, 20));
    copyFileSync(log, join(dir, 'app.log.1'));
    truncateSync(log, 0);
    appendFileSync(log, lines(200, 10));
    renameSync(join(dir, 'app.log.1'), join(dir, 'app.log.2'));
    renameSync(log, join(dir, 'app.log.1'));
    writeFileSync(log, lines(300, 5));
    const s2 = start({ include: ['app.log'] }, dir);
    await until(() => s2.events.length >= 35, 5000, 'the old content\'s rest, the truncated file and the new app.log');
    await new Promise((r) => setTimeout(r, 200));
    await s2.stop();
    assert.deepEqual(sorted(s2.events.map(seqOf)), [...range(100, 20), ...range(200, 10), ...range(300, 5)]);
  });

  it('a deleted file read to its end leaves no checkpoint at a stop, even while it waits out rotate_wait_ms: a file that takes its inode later is read from its start', async () => {
    // Found by the model test: a deleted app.log that had been truncated (its checkpoint head 0
    // bytes, which any file matches) was saved at the stop; logrotate's copy of the next app.log took
    // its inode, and the next start resumed the "rotated" file at offset 0: the copy sent again.
    const dir = tmp();
    writeFileSync(join(dir, 'a.log'), lines(0, 5));
    writeFileSync(join(dir, 'b.log'), lines(5, 5));
    const s = start({ include: ['*.log'], rotate_wait_ms: 60_000 }, dir);
    await until(() => s.events.length === 10, 5000, 'lines');
    const st = statSync(join(dir, 'a.log'));
    unlinkSync(join(dir, 'a.log'));
    await until(() => [...s.source.readers.values()].some((r) => r.gone === 'deleted'), 5000, 'the deletion noticed');
    await s.stop();
    const files = new CheckpointStore(join(dir, 'state'), 'src').load().files;
    assert.equal(files[`${st.dev}:${st.ino}`], undefined, 'no entry for the deleted file');
    assert.deepEqual(Object.values(files).map((f) => f.path), [join(dir, 'b.log')]);
  });

  it('prunes checkpoints of files that are gone', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.log'), lines(0, 5));
    writeFileSync(join(dir, 'b.log'), lines(5, 5));
    const s = start({ include: ['*.log'], rotate_wait_ms: 0 }, dir);
    await until(() => s.events.length === 10, 5000, 'lines');
    unlinkSync(join(dir, 'a.log'));
    await until(() => s.records.some((r) => r.msg === 'file deleted and read to its end; closed'), 5000, 'close');
    await new Promise((r) => setTimeout(r, 100));
    await s.stop();
    const files = Object.values(new CheckpointStore(join(dir, 'state'), 'src').load().files);
    assert.deepEqual(files.map((f) => f.path), [join(dir, 'b.log')]);
  });
});

describe('notifications', () => {
  it('sees writes at once, without polling, also through a symlink (Kubernetes /var/log/containers)', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'pods/ns_pod_uid/c'), { recursive: true });
    mkdirSync(join(dir, 'containers'));
    const target = join(dir, 'pods/ns_pod_uid/c/0.log');
    writeFileSync(target, lines(0, 1));
    symlinkSync(target, join(dir, 'containers/pod_ns_c.log'));
    writeFileSync(join(dir, 'plain.log'), lines(100, 1));
    // A poll so long that only a notification can explain a quick delivery.
    const s = start({ include: ['containers/*.log', 'plain.log'], poll_interval_ms: 60_000, glob_interval_ms: 60_000 }, dir);
    try {
      await until(() => s.events.length === 2, 5000, 'first lines');
      await new Promise((r) => setTimeout(r, 50));
      appendFileSync(target, lines(1, 1));
      appendFileSync(join(dir, 'plain.log'), lines(101, 1));
      await until(() => s.events.length === 4, 3000, 'appended lines, via notifications');
    } finally {
      await s.stop();
    }
    assert.deepEqual(sorted(s.events.map(seqOf)), [0, 1, 100, 101]);
    assert.equal(s.events.find((e) => seqOf(e) === 1)?.origin.path, join(dir, 'containers/pod_ns_c.log'));
  });
});

describe('.gz files', () => {
  it('reads a .gz once, whole, and marks it done; a restart does not read it again', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'old.log.gz'), gzipSync(lines(0, 5000)));
    const s1 = start({ include: ['*.gz'] }, dir);
    await until(() => s1.events.length === 5000, 5000, 'lines');
    await until(() => s1.records.some((r) => r.msg === 'compressed file read to its end; done'), 5000, 'done');
    await s1.stop();
    assert.deepEqual(s1.events.map(seqOf), range(0, 5000));
    assert.equal(Object.values(new CheckpointStore(join(dir, 'state'), 'src').load().files)[0]?.done, true);
    const s2 = start({ include: ['*.gz'] }, dir);
    await new Promise((r) => setTimeout(r, 150));
    await s2.stop();
    assert.equal(s2.events.length, 0);
  });

  it('waits for a .gz that is still being written', async () => {
    const dir = tmp();
    const gz = gzipSync(lines(0, 3000));
    const half = Math.floor(gz.length / 2);
    writeFileSync(join(dir, 'b.log.gz'), gz.subarray(0, half));
    const s = start({ include: ['*.gz'], rotate_wait_ms: 5000 }, dir);
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(join(dir, 'b.log.gz'), gz.subarray(half));
    await until(() => s.events.length >= 3000, 5000, 'lines');
    await s.stop();
    assert.deepEqual(s.events.map(seqOf), range(0, 3000));
  });
});

describe('metadata', () => {
  it('path_fields and add_metadata: ecs write log.file.path, log.offset, host.name and the path fields', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'zeek/sensor-7/2024-11-22'), { recursive: true });
    const f = join(dir, 'zeek/sensor-7/2024-11-22/conn.log');
    writeFileSync(f, '{"seq":0}\n{"seq":1,"host":{"name":"kept"}}\n{"seq":2,"host":"www.example.com"}\n');
    const s = start({ include: ['zeek/**/*.log'], path_fields: 'zeek/{observer.name}/{labels.date}/{event.dataset}.log', add_metadata: 'ecs' }, dir);
    await until(() => s.events.length === 3, 5000, 'lines');
    await s.stop();
    const [a, b, c] = s.events;
    assert.deepEqual(a?.origin.fields, { 'observer.name': 'sensor-7', 'labels.date': '2024-11-22', 'event.dataset': 'conn' });
    assert.deepEqual(JSON.parse(a?.toJson() ?? ''), {
      seq: 0,
      log: { file: { path: f }, offset: 0 },
      host: { name: 'test-node' },
      observer: { name: 'sensor-7' },
      labels: { date: '2024-11-22' },
      event: { dataset: 'conn' },
    });
    assert.equal((b?.data.host as { name: string }).name, 'kept');
    assert.equal((b?.data.log as { offset: number }).offset, 10);
    assert.equal(c?.data.host, 'www.example.com', 'a host string of its own (Zeek http) is the event\'s data: not replaced');
  });

  it('without add_metadata events are forwarded as read', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.log'), '{"seq":0}\n');
    const s = start({ include: ['*.log'], path_fields: '{name}.log' }, dir);
    await until(() => s.events.length === 1, 5000, 'line');
    await s.stop();
    assert.equal(s.events[0]?.toJson(), '{"seq":0}');
    assert.equal(s.events[0]?.modified, false);
    assert.deepEqual(s.events[0]?.origin.fields, { name: 'a' });
  });
});

describe('options', () => {
  it('ignore_older_ms skips old files, then reads only what is added to them', async () => {
    const dir = tmp();
    const f = join(dir, 'old.log');
    writeFileSync(f, lines(0, 10));
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(f, past, past);
    writeFileSync(join(dir, 'new.log'), lines(100, 1));
    const s = start({ include: ['*.log'], ignore_older_ms: 60_000 }, dir);
    await until(() => s.events.length === 1, 5000, 'new file');
    appendFileSync(f, lines(10, 3));
    await until(() => s.events.length === 4, 5000, 'appended lines');
    await s.stop();
    assert.deepEqual(sorted(s.events.map(seqOf)), [10, 11, 12, 100]);
  });

  it('close_inactive_ms releases idle handles and reopens a file that grows, without re-sending', async () => {
    const dir = tmp();
    const f = join(dir, 'a.log');
    writeFileSync(f, lines(0, 10));
    const s = start({ include: ['*.log'], close_inactive_ms: 30 }, dir);
    await until(() => s.events.length === 10, 5000, 'lines');
    const open = (): number => s.source.handles.openCount;
    await until(() => open() === 0, 5000, 'handle closed');
    appendFileSync(f, lines(10, 5));
    await until(() => s.events.length === 15, 5000, 'appended lines');
    await s.stop();
    assert.deepEqual(s.events.map(seqOf), range(0, 15));
  });

  it('max_open_files: more busy files than handles all progress in turns, every line once', async () => {
    const dir = tmp();
    for (let k = 0; k < 6; k++) writeFileSync(join(dir, `f${k}.log`), lines(k * 10_000, 3000));
    const s = start({ include: ['*.log'], max_open_files: 2, read_buffer_bytes: 4096 }, dir);
    await until(() => s.events.length === 18_000, 10_000, 'all lines');
    await s.stop();
    assert.deepEqual(sorted(s.events.map(seqOf)), [0, 1, 2, 3, 4, 5].flatMap((k) => range(k * 10_000, 3000)));
    // Fair turns: every file got a turn before any file was finished.
    const firstFinish = Math.min(...[0, 1, 2, 3, 4, 5].map((k) => s.events.findIndex((e) => seqOf(e) === k * 10_000 + 2999)));
    const started = new Set(s.events.slice(0, firstFinish).map((e) => e.origin.path));
    assert.equal(started.size, 6, `files started before the first finished: ${started.size}`);
  });

  it('max_unsaved_events bounds what is read beyond the last written checkpoint', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.log'), lines(0, 5000));
    const s = start({ include: ['*.log'], max_unsaved_events: 200, read_buffer_bytes: 4096 }, dir, { ack: 'never' });
    await until(() => s.events.length >= 200, 5000, 'reading up to the bound');
    await new Promise((r) => setTimeout(r, 100));
    const perRead = Math.ceil(4096 / lines(0, 1).length);
    assert.ok(s.events.length < 200 + perRead, `${s.events.length} events read without acknowledgement`);
    await s.crash();
  });

  it('a last line without newline is delivered once the file is rotated away and rotate_wait_ms passed', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'app.log'), `${lines(0, 2)}{"seq":2}`);
    const s = start({ include: ['app.log'] }, dir);
    await until(() => s.events.length === 2, 5000, 'complete lines');
    renameSync(join(dir, 'app.log'), join(dir, 'app.log.1'));
    await until(() => s.events.length === 3, 5000, 'last line');
    await s.stop();
    assert.deepEqual(s.events.map(seqOf), [0, 1, 2]);
    assert.ok(readFileSync(join(dir, 'app.log.1'), 'utf8').endsWith('{"seq":2}'));
  });
});
