// The disk buffer as a sink sees it: batches written durably release their sources' acks, the
// dispatcher reads them back in order, acknowledged segments are deleted, a restart replays what
// was not acknowledged, and damage (a flipped byte, a torn tail) is reported with its byte range and
// skipped without losing the records around it, and a disk that fills up holds the sources back
// without tearing a record, then takes what fits as space comes back; a segment that cannot be
// created (no inodes left) holds the batches back the same way, none lost, none acknowledged early.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import fsp, { open, type FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { DiskBuffer } from '../src/buffer/disk.ts';
import { AckGroup } from '../src/event/ack.ts';
import { Ticket, type Job, type Span } from '../src/sink-kit/job.ts';
import { backgroundClock } from '../src/time/clock.ts';
import { captureLogger, makeEvents, waitFor } from '../src/testing/helpers.ts';
import { ComponentTelemetry } from '../src/telemetry/telemetry.ts';

function buffer(dir: string, opts: Partial<{ maxBytes: number; segmentBytes: number; sync: 'batch' | 'none' }> = {}) {
  const { logger, records } = captureLogger();
  const telemetry = new ComponentTelemetry('disk');
  const b = new DiskBuffer({ dir, maxBytes: opts.maxBytes ?? 64 << 20, stagingBytes: 4 << 20, sync: opts.sync ?? 'batch', logger, telemetry, clock: backgroundClock, ...(opts.segmentBytes ? { segmentBytes: opts.segmentBytes } : {}) });
  return { b, records, telemetry };
}

/** Pushes `n` events as one closed batch under a real ticket; returns what its source would see. */
function push(b: DiskBuffer, start: number, n: number) {
  const events = makeEvents(n, start);
  const bytes = events.reduce((a, e) => a + e.size, 0);
  const seen = { settled: 0, outcomes: [] as string[] };
  const group = new AckGroup(n, bytes, (status) => {
    seen.settled = n;
    seen.outcomes.push(status);
  });
  const own = group.ref();
  const t = new Ticket(group.ref(), n, bytes, b);
  own.release();
  b.reserve(n, bytes);
  b.push({ partition: 'p', events, spans: [{ to: t, count: n }], bytes });
  return seen;
}

async function takeAll(b: DiskBuffer): Promise<Job[]> {
  const jobs: Job[] = [];
  for (;;) {
    const j = await b.take();
    if (j === undefined) return jobs;
    jobs.push(j);
  }
}

function seqs(jobs: Job[]): number[] {
  return jobs.flatMap((j) => j.events.map((e) => e.data.seq as number));
}

function ack(jobs: Job[]): void {
  for (const j of jobs) for (const s of j.spans as Span[]) s.to.settle(s.count, 'delivered');
}

const tmp = () => mkdtempSync(join(tmpdir(), 'tern-disk-'));

/** Opens with `flags` take 200 ms (a slow disk); returns the handles opened and not yet closed. */
function slowOpens(t: TestContext, flags: string): Set<FileHandle> {
  const open = new Set<FileHandle>();
  const real = fsp.open;
  t.mock.method(fsp, 'open', async (path: string, f: string, mode?: number) => {
    if (f === flags) await new Promise((r) => setTimeout(r, 200));
    const fh = await real(path, f, mode);
    open.add(fh);
    const close = fh.close.bind(fh);
    fh.close = () => (open.delete(fh), close());
    return fh;
  });
  syncBuiltinESMExports();
  t.after(() => {
    t.mock.restoreAll();
    syncBuiltinESMExports();
  });
  return open;
}

const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();

describe('disk buffer', () => {
  it('a written batch releases its source acks; it is read back in order; acknowledged segments are deleted', async () => {
    const dir = tmp();
    const { b, telemetry } = buffer(dir, { segmentBytes: 4096 });
    await b.open();
    const tickets = [];
    for (const start of [0, 10, 20]) {
      const t = push(b, start, 10);
      tickets.push(t);
      await waitFor(() => t.settled === 10, 5000, 'durable write');
    }
    assert.deepEqual(tickets.map((t) => t.outcomes), [['delivered'], ['delivered'], ['delivered']]);
    assert.equal(b.durableEvents, 30);
    assert.equal(b.stagedEvents, 0);
    assert.ok(segments(dir).length >= 2, 'rotated into several segments');
    const jobs = await takeAll(b);
    assert.deepEqual(seqs(jobs), Array.from({ length: 30 }, (_, i) => i));
    assert.equal(jobs[0]?.events[0]?.toJson(), makeEvents(1, 0)[0]?.toJson(), 'the original line comes back byte for byte');
    ack(jobs);
    assert.equal(b.durableEvents, 0);
    await waitFor(() => segments(dir).length === 1, 5000, 'delivered segments deleted (only the active one stays)');
    assert.equal(telemetry.snapshot().buffer_events_written, 30);
    await b.close(AbortSignal.timeout(1000));
  });

  it('after a restart (or SIGKILL) it replays exactly the records not acknowledged, from the ledger', async () => {
    const dir = tmp();
    const first = buffer(dir).b;
    await first.open();
    push(first, 0, 5);
    push(first, 5, 5);
    const t3 = push(first, 10, 5);
    await waitFor(() => t3.settled === 5, 5000, 'written');
    const jobs = await takeAll(first);
    ack(jobs.slice(0, 1)); // only the first record was delivered
    await first.close(AbortSignal.timeout(1000));

    const again = buffer(dir);
    await again.b.open();
    assert.equal(again.b.durableEvents, 10);
    assert.equal(again.telemetry.snapshot().buffer_events_replayed, 10);
    const replay = await takeAll(again.b);
    assert.deepEqual(seqs(replay), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    await again.b.close(AbortSignal.timeout(1000));
  });

  it('a corrupt record in the middle is reported with its byte range and skipped; the records around it are delivered', async () => {
    const dir = tmp();
    const w = buffer(dir).b;
    await w.open();
    push(w, 0, 3);
    push(w, 3, 3);
    const t = push(w, 6, 3);
    await waitFor(() => t.settled === 3, 5000, 'written');
    await w.close(AbortSignal.timeout(1000));
    // Flip one byte inside the second record's payload.
    const seg = join(dir, segments(dir)[0] as string);
    const bytes = readFileSync(seg);
    const second = bytes.indexOf('TERN', 1, 'latin1');
    bytes[second + 40] = (bytes[second + 40] as number) ^ 0xff;
    writeFileSync(seg, bytes);

    const r = buffer(dir);
    await r.b.open();
    const jobs = await takeAll(r.b);
    assert.deepEqual(seqs(jobs), [0, 1, 2, 6, 7, 8]);
    const err = r.records.find((x) => x.code === 'TERN_ERR_BUFFER');
    assert.ok(err, 'reported');
    assert.match(err.msg, new RegExp(`corrupt record \\(checksum mismatch\\).* at bytes ${second}-\\d+`));
    assert.equal(r.telemetry.snapshot().buffer_corrupt_regions, 1);
    await r.b.close(AbortSignal.timeout(1000));
  });

  it('a torn tail (a write cut by SIGKILL) is reported with its byte range and ignored; the whole records are delivered', async () => {
    const dir = tmp();
    const w = buffer(dir).b;
    await w.open();
    push(w, 0, 4);
    const t = push(w, 4, 4);
    await waitFor(() => t.settled === 4, 5000, 'written');
    await w.close(AbortSignal.timeout(1000));
    const seg = join(dir, segments(dir)[0] as string);
    const size = statSync(seg).size;
    truncateSync(seg, size - 25);

    const r = buffer(dir);
    await r.b.open();
    assert.equal(r.b.durableEvents, 4);
    const torn = r.records.find((x) => /torn tail/.test(x.msg));
    assert.ok(torn, 'reported');
    assert.match(torn.msg, /at bytes \d+-\d+/);
    assert.deepEqual(seqs(await takeAll(r.b)), [0, 1, 2, 3]);
    await r.b.close(AbortSignal.timeout(1000));
  });

  it('max_bytes bounds what it admits; delivered segments give the room back', async () => {
    const dir = tmp();
    const { b } = buffer(dir, { maxBytes: 64 * 1024, segmentBytes: 8 * 1024 });
    await b.open();
    let n = 0;
    while (b.hasRoom(10, 2000)) {
      const t = push(b, n, 10);
      n += 10;
      await waitFor(() => t.settled === 10, 5000, 'written');
    }
    assert.ok(b.bytes >= 60 * 1024 && b.bytes <= 80 * 1024, `about max_bytes on disk: ${b.bytes}`);
    ack(await takeAll(b));
    await waitFor(() => b.hasRoom(10, 2000), 5000, 'room again');
    await b.close(AbortSignal.timeout(1000));
  });
  it('a full disk (ENOSPC): nothing torn, no spin; freed space takes the records that fit, one by one, before the rest', async (t) => {
    const dir = tmp();
    // A file system of `capacity` bytes for the segments: a write past it stores what fits, then fails
    // with ENOSPC, as a full disk does (the buffer must cut the partial record back).
    let capacity = 0;
    const used = () => segments(dir).reduce((a, n) => a + statSync(join(dir, n)).size, 0);
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const real = proto.writev;
    let attempts = 0;
    t.mock.method(proto, 'writev', async function (this: FileHandle, bufs: Buffer[], pos: number) {
      attempts++;
      const all = Buffer.concat(bufs);
      const free = Math.max(0, capacity - used());
      if (all.length <= free) return real.call(this, bufs, pos);
      if (free > 0) {
        await real.call(this, [all.subarray(0, free)], pos);
        return { bytesWritten: free, buffers: bufs };
      }
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    });
    const { b, records, telemetry } = buffer(dir);
    await b.open();
    capacity = Infinity;
    const first = push(b, 0, 10);
    await waitFor(() => first.settled === 10, 5000, 'the first record written');
    const record = used();
    capacity = record; // full
    const waiting = [10, 20, 30, 40, 50].map((start) => push(b, start, 10));
    await waitFor(() => records.some((r) => r.code === 'TERN_ERR_BUFFER'), 5000, 'the write error reported');
    const err = records.find((r) => r.code === 'TERN_ERR_BUFFER');
    assert.match(String(err?.msg), /disk buffer: cannot write .*\(ENOSPC\); the events wait in memory/);
    const a0 = attempts;
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(attempts - a0 <= 6, `no spin: ${attempts - a0} write attempts in 1 s while full`);
    assert.deepEqual(waiting.map((w) => w.settled), [0, 0, 0, 0, 0], 'nothing acknowledged to the sources while full');
    assert.equal(used(), record, 'the partial writes were cut back');

    // Room for three more records (a little less than everything waiting): those three go in, in order.
    capacity = record * 4 + 100;
    await waitFor(() => waiting[2]?.settled === 10, 10_000, 'the records that fit written once space is freed');
    assert.deepEqual(waiting.map((w) => w.settled), [10, 10, 10, 0, 0]);
    capacity = Infinity;
    await waitFor(() => waiting.every((w) => w.settled === 10), 10_000, 'the rest written once the disk has room');
    assert.ok((telemetry.snapshot().buffer_write_errors ?? 0) >= 1, 'the failed writes counted');
    await b.close(AbortSignal.timeout(1000));

    // Nothing torn on disk: a restart replays the 60 events in order and finds no damage.
    const r = buffer(dir);
    await r.b.open();
    assert.deepEqual(seqs(await takeAll(r.b)), Array.from({ length: 60 }, (_, i) => i));
    assert.ok(!r.records.some((x) => x.code === 'TERN_ERR_BUFFER'), 'no torn or corrupt record');
    await r.b.close(AbortSignal.timeout(1000));
  });
  it('a disk full at start with all its data in one segment: replaying it and its acknowledgement delete the segment, which makes room for new events', async (t) => {
    const dir = tmp();
    // Segments may use `capacity` bytes, as on a small volume something else filled.
    let capacity = Infinity;
    const used = () => segments(dir).reduce((a, n) => a + statSync(join(dir, n)).size, 0);
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const real = proto.writev;
    t.mock.method(proto, 'writev', async function (this: FileHandle, bufs: Buffer[], pos: number) {
      if (Buffer.concat(bufs).length <= capacity - used()) return real.call(this, bufs, pos);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    });
    const first = buffer(dir);
    await first.b.open();
    const held = push(first.b, 0, 10);
    await waitFor(() => held.settled === 10, 5000, 'written');
    await first.b.close(AbortSignal.timeout(1000)); // the destination was down: nothing delivered
    capacity = used() + 200; // and the volume is full now: less room than a record

    const { b } = buffer(dir);
    await b.open();
    const fresh = push(b, 10, 10);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(fresh.settled, 0, 'no room for new events yet');
    const jobs = await takeAll(b);
    assert.deepEqual(seqs(jobs), Array.from({ length: 10 }, (_, i) => i), 'the held events replayed');
    ack(jobs);
    // Before, the segment they were in stayed on disk (the reader passed a segment only on its way to
    // a next record, which could not be written): the new events waited for good.
    await waitFor(() => fresh.settled === 10, 10_000, 'the new events written in the room the delivered segment left').catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: segments ${segments(dir).join(',')}, used ${used()} of ${capacity}`);
    });
    assert.deepEqual(seqs(await takeAll(b)), Array.from({ length: 10 }, (_, i) => 10 + i));
    await b.close(AbortSignal.timeout(1000));
  });

  it('segment numbers only go up: after every segment was delivered and deleted while none could be created, new ones are not taken for delivered ones at the next start', async (t) => {
    // Found in review: numbering restarted at 1 below the ledger's segment, and the next start
    // deleted the new segment "as delivered" (its events already acknowledged to their sources).
    const dir = tmp();
    const one = buffer(dir, { segmentBytes: 1024 }).b;
    await one.open();
    const a = push(one, 0, 10);
    await waitFor(() => a.settled === 10, 5000, 'a');
    const b = push(one, 10, 10);
    await waitFor(() => b.settled === 10, 5000, 'b');
    ack((await takeAll(one)).slice(0, 1));
    await one.close(AbortSignal.timeout(1000)); // ledger: segment 2, offset 0
    // Next run: no file can be created while segment 2 exists (no inodes left).
    const real = fsp.open;
    t.mock.method(fsp, 'open', (path: string, flags: string, mode?: number) => {
      if (flags === 'wx' && String(path).startsWith(dir) && existsSync(join(dir, '000000000002.seg'))) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC', path }));
      return real(path, flags, mode);
    });
    syncBuiltinESMExports();
    t.after(() => {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    });
    const two = buffer(dir, { segmentBytes: 1024 }).b;
    await two.open();
    const fresh = push(two, 100, 10);
    ack(await takeAll(two)); // segment 2 delivered and deleted: now a segment can be created
    await waitFor(() => fresh.settled === 10, 5000, 'the new events written (their sources acknowledged)');
    const crash = mkdtempSync(join(tmpdir(), 'tern-disk-crash-'));
    cpSync(dir, crash, { recursive: true }); // SIGKILL now
    await two.close(AbortSignal.timeout(1000));
    for (const d of [crash, dir]) {
      const three = buffer(d, { segmentBytes: 1024 }).b;
      await three.open();
      assert.deepEqual(seqs(await takeAll(three)), Array.from({ length: 10 }, (_, i) => 100 + i), `the new events replayed from ${d === crash ? 'a crash' : 'a stop'}`);
      await three.close(AbortSignal.timeout(1000));
    }
  });

  it('running, all its data in the segment being written, and no new file can be created: that segment is still delivered and deleted, which makes room', async (t) => {
    const dir = tmp();
    const seg1 = join(dir, '000000000001.seg');
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const realWritev = proto.writev;
    const realOpen = fsp.open;
    let full = false;
    const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC', errno: -28 });
    t.mock.method(proto, 'writev', function (this: FileHandle, bufs: Buffer[], pos: number) {
      if (full && existsSync(seg1)) return Promise.reject(enospc());
      return realWritev.call(this, bufs, pos);
    });
    t.mock.method(fsp, 'open', (path: string, flags: string, mode?: number) => {
      if (full && flags === 'wx' && existsSync(seg1)) return Promise.reject(enospc());
      return realOpen(path, flags, mode);
    });
    syncBuiltinESMExports();
    t.after(() => {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    });
    const { b } = buffer(dir);
    await b.open();
    const first = push(b, 0, 10);
    await waitFor(() => first.settled === 10, 5000, 'the first record written');
    full = true; // the disk fills up: segment 1 is what holds it
    const fresh = push(b, 10, 10);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(fresh.settled, 0, 'no room yet');
    ack(await takeAll(b));
    await waitFor(() => !existsSync(seg1), 5000, 'the delivered segment deleted');
    await waitFor(() => fresh.settled === 10, 10_000, 'the new events written in the room it left');
    assert.deepEqual(seqs(await takeAll(b)), Array.from({ length: 10 }, (_, i) => 10 + i));
    await b.close(AbortSignal.timeout(1000));
  });

  it('nothing is read while it recovers at open: a take then would read records the ledger says were acknowledged, and send them twice', async () => {
    // Found by a flaky fault row (EFBIG on the disk buffer): 200 events sent twice after a restart,
    // settled twice, a negative backlog, and `--once` stalled until its deadline.
    const dir = tmp();
    const one = buffer(dir).b;
    await one.open();
    const pushed = [0, 10, 20, 30].map((start) => push(one, start, 10));
    await waitFor(() => pushed.every((p) => p.settled === 10), 5000, 'written');
    const jobs = await takeAll(one);
    ack(jobs.slice(0, 3)); // the first three records delivered: the ledger points at the fourth
    await new Promise((r) => setTimeout(r, 1100)); // the ledger is written every second
    await one.close(AbortSignal.timeout(1000));
    // A second run writes a record into a segment of its own, so recovery has more than one to scan.
    const mid = buffer(dir).b;
    await mid.open();
    const more = push(mid, 40, 10);
    await waitFor(() => more.settled === 10, 5000, 'written');
    await mid.close(AbortSignal.timeout(1000));
    const two = buffer(dir).b;
    const early: number[] = [];
    let opened = false;
    const opening = two.open().then(() => (opened = true));
    // The dispatcher asks as soon as it is told there is something, possibly during recovery.
    while (!opened) {
      const j = await two.take();
      if (j !== undefined) early.push(...seqs([j]));
      await new Promise((r) => setImmediate(r));
    }
    await opening;
    const all = [...early, ...seqs(await takeAll(two))];
    assert.deepEqual(all, Array.from({ length: 20 }, (_, i) => 30 + i), 'only the records not acknowledged, once each');
    await two.close(AbortSignal.timeout(1000));
  });

  it('a stray file with the next segment\'s name: moved aside (never read, never deleted), nothing waits', async () => {
    const dir = tmp();
    const { b, records } = buffer(dir, { segmentBytes: 1024 });
    await b.open();
    const first = push(b, 0, 10);
    await waitFor(() => first.settled === 10, 5000, 'the first record written');
    // Something else put a file where the next segment goes (a restored backup, an operator's copy).
    const next = join(dir, '000000000002.seg');
    writeFileSync(next, 'not a segment');
    const later = [push(b, 10, 10), push(b, 20, 10)];
    // Before, the buffer retried the same name with backoff until the file was removed: never here.
    await waitFor(() => later.every((w) => w.settled === 10), 5000, 'the next batches written under other names');
    const aside = readdirSync(dir).filter((n) => /^000000000002\.seg\.\d+\.stray$/.test(n));
    assert.equal(aside.length, 1, `moved aside: ${readdirSync(dir).join(', ')}`);
    assert.equal(readFileSync(join(dir, aside[0] as string), 'utf8'), 'not a segment', 'its content kept');
    const warned = records.filter((r) => /exists but is not one of its segments; moved aside/.test(String(r.msg)));
    assert.equal(warned.length, 1, 'said once');
    const jobs = await takeAll(b);
    assert.deepEqual(seqs(jobs), Array.from({ length: 30 }, (_, i) => i), 'every event read back, in order');
    ack(jobs);
    await b.close(AbortSignal.timeout(1000));
    // A restart neither reads it nor deletes it.
    const r = buffer(dir, { segmentBytes: 1024 });
    await r.b.open();
    assert.deepEqual(seqs(await takeAll(r.b)), [], 'nothing replayed');
    assert.ok(readdirSync(dir).includes(aside[0] as string), 'still there');
    await r.b.close(AbortSignal.timeout(1000));
  });

  it('closed while a segment is being created (the deadline passed): the new file is closed too, no handle leaks, the batch stays unacknowledged', async (t) => {
    const dir = tmp();
    // Creating a segment takes 200 ms (a slow disk); every handle the buffer opens is tracked.
    const open = slowOpens(t, 'wx');
    const { b, records } = buffer(dir, { segmentBytes: 1024 });
    await b.open();
    const first = push(b, 0, 10);
    await waitFor(() => first.settled === 10, 5000, 'the first record written');
    const second = push(b, 10, 10); // needs a new segment: its creation is under way
    await new Promise((r) => setTimeout(r, 50));
    await b.close(AbortSignal.abort());
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(open.size, 0, 'every handle the buffer opened is closed');
    assert.equal(second.settled, 0, 'not acknowledged: it is read again after a restart');
    assert.deepEqual(records.filter((r) => r.level >= 50), [], 'no error logged for a close');
  });

  it('closed while a segment is being opened for reading: that handle is closed too, and the take ends with nothing', async (t) => {
    const dir = tmp();
    const first = buffer(dir);
    await first.b.open();
    const held = push(first.b, 0, 10);
    await waitFor(() => held.settled === 10, 5000, 'written');
    await first.b.close(AbortSignal.timeout(1000));
    // Opening a segment for reading takes 200 ms (a slow disk); every handle opened is tracked.
    const open = slowOpens(t, 'r');
    const { b } = buffer(dir);
    await b.open();
    const taking = b.take();
    await new Promise((r) => setTimeout(r, 50));
    await b.close(AbortSignal.abort());
    assert.equal(await taking, undefined, 'nothing handed out after close');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(open.size, 0, 'every handle the buffer opened is closed');
  });

  it('a segment that cannot be created (no inodes left): the batches wait, no spin, one error per interval, then all arrive in order', async (t) => {
    const dir = tmp();
    // File creation fails with ENOSPC (a file system out of inodes) while `full`: the buffer's `open`
    // is fs/promises' own, so the mock reaches it once the builtin's ESM exports are synced.
    let full = false;
    let creates = 0;
    const real = fsp.open;
    t.mock.method(fsp, 'open', (path: string, flags: string, mode?: number) => {
      if (flags === 'wx') creates++;
      if (full && flags === 'wx') return Promise.reject(Object.assign(new Error(`ENOSPC: no space left on device, open '${path}'`), { code: 'ENOSPC', errno: -28, syscall: 'open', path }));
      return real(path, flags, mode);
    });
    syncBuiltinESMExports();
    t.after(() => {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    });
    // Small segments: every record after the first needs a new one.
    const { b, records, telemetry } = buffer(dir, { segmentBytes: 1024 });
    await b.open();
    const first = push(b, 0, 10);
    await waitFor(() => first.settled === 10, 5000, 'the first record written');
    full = true;
    const waiting = [push(b, 10, 10), push(b, 20, 10)];
    await waitFor(() => records.some((r) => r.code === 'TERN_ERR_BUFFER'), 5000, 'the error reported');
    const c0 = creates;
    waiting.push(push(b, 30, 10), push(b, 40, 10)); // more arrive while it fails
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(creates - c0 <= 6, `no spin: ${creates - c0} segment creations tried in 1 s`);
    const errors = records.filter((r) => r.code === 'TERN_ERR_BUFFER');
    assert.equal(errors.length, 1, `one error line per interval: ${JSON.stringify(errors.map((r) => r.msg))}`);
    assert.match(String(errors[0]?.msg), /disk buffer: cannot create .*\.seg \(ENOSPC\); the events wait in memory/);
    assert.deepEqual(waiting.map((w) => w.settled), [0, 0, 0, 0], 'nothing acknowledged to the sources while no segment can be created');
    assert.equal(b.stagedEvents, 40, 'the 40 events still held');
    assert.ok((telemetry.snapshot().buffer_write_errors ?? 0) >= 1, 'the failures counted');

    full = false;
    await waitFor(() => waiting.every((w) => w.settled === 10), 10_000, 'every batch written once files can be created');
    assert.deepEqual(waiting.flatMap((w) => w.outcomes), ['delivered', 'delivered', 'delivered', 'delivered']);
    const jobs = await takeAll(b);
    assert.deepEqual(seqs(jobs), Array.from({ length: 50 }, (_, i) => i), 'every event read back, in order');
    ack(jobs);
    await b.close(AbortSignal.timeout(1000));
  });
});
